"""`meshframes topology` from captures alone, against tshark's reading of
the same frames: the hops each mesh data flow took, and the pairs that
exchanged Open and Confirm both ways; and the layouts our hwsim recipes
set up (pcaps/README.md)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import networkx as nx
import pytest
from click.testing import CliRunner

# tests/ is on the path (no __init__ there): the tshark reading of peering
# that the analysis' sessions are tested against.
from frames import test_analysis_vs_tshark as vs_tshark

from meshframes.analysis.topology import TopologyReader
from meshframes.cli import cli
from meshframes.cli.topology import graph_of, read_topology
from meshframes.hosts import tshark

PCAPS = Path(__file__).resolve().parents[2] / "pcaps"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "pcaps"
N = [f"02:00:00:00:0{i}:00" for i in range(9)]
# Captures of Linux mesh data (QoS data, subtype 0x0028, mesh control in
# the body) whose mesh SA and DA tshark shows as wlan.sa and wlan.da.
KERNEL_DATA = ["linux-kernel-chain-perr.pcap", "linux-kernel-root.pcap", "meshframes-node-payment-kernel.pcap",
               "linux-kernel-trouble.pcap"]


def _is(value: list[str], *codes: str) -> bool:
    return bool(value) and value[0] in codes


@pytest.mark.tshark
@pytest.mark.parametrize("name", KERNEL_DATA)
def test_flow_hops_equal_tsharks(name: str) -> None:
    path = PCAPS / name
    rows = tshark.fields(path, ["wlan.fc.type_subtype", "wlan.ta", "wlan.ra", "wlan.sa", "wlan.da"])
    expected: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for row in rows:
        if _is(row["wlan.fc.type_subtype"], "0x0028", "40") and not int(row["wlan.ra"][0][:2], 16) & 1:
            expected[(row["wlan.sa"][0], row["wlan.da"][0])].add((row["wlan.ta"][0], row["wlan.ra"][0]))
    assert expected, name
    topology, _ = read_topology([path])
    ours = {(f.source, f.destination): {(tx, rx) for tx, rx, _ in f.hops} for f in topology.flows}
    assert ours == dict(expected)


@pytest.mark.tshark
@pytest.mark.parametrize("name", ["linux-kernel-trouble.pcap", "meshframes-node-payment.pcap",
                                  "linux-kernel-sae.pcap"])
def test_established_pairs_equal_tsharks(name: str) -> None:
    """ESTAB needs each side's Open and Confirm, the Confirms answering
    each other's link ID: pairs where tshark's reading of the peering
    frames (tests/frames/test_analysis_vs_tshark.py) shows a session that
    reached it."""
    path = PCAPS / name
    sessions = vs_tshark.peering_sessions(vs_tshark.tshark_frames(path))
    expected = {tuple(s["link"]) for s in sessions if s["established"] is not None}
    topology, _ = read_topology([path])
    assert {(link.a, link.b) for link in topology.links if link.established} == expected


def test_node_payment_layout_is_what_the_recipe_built() -> None:
    """c0 (04) - r0 (06) - r1 (07) - {a0..a3 (00-03), c1 (05)}: c0's
    orders reach each authority over r0 then r1, and the answers come back
    the same way."""
    topology, _ = read_topology([PCAPS / "meshframes-node-payment.pcap"])
    paths = {(f.source, f.destination): f.path for f in topology.flows}
    for authority in N[:4]:
        assert paths[(N[4], authority)] == (N[4], N[6], N[7], authority)
        assert paths[(authority, N[4])] == (authority, N[7], N[6], N[4])
    established = {(link.a, link.b) for link in topology.links if link.established}
    assert (N[4], N[6]) in established and (N[6], N[7]) in established
    assert not [pair for pair in established if N[4] in pair and N[6] not in pair]


@pytest.mark.parametrize("path", sorted(PCAPS.glob("*.pcap")) + sorted(SHARED.rglob("*.pcap")),
                         ids=lambda p: p.name)
def test_every_capture_we_have(path: Path) -> None:
    """Every flow's path, when it chains, starts at its source and ends at
    its destination through hops it holds; the graph holds every station."""
    topology, _ = read_topology([path])
    graph = graph_of(topology)
    assert set(graph.nodes) == set(topology.stations)
    for flow in topology.flows:
        if flow.path is not None:
            assert flow.path[0] == flow.source and flow.path[-1] == flow.destination
            hops = {(tx, rx) for tx, rx, _ in flow.hops}
            assert all((a, b) in hops for a, b in zip(flow.path, flow.path[1:], strict=False))


def test_outputs(tmp_path: Path) -> None:
    runner = CliRunner()
    capture = str(PCAPS / "linux-kernel-chain-perr.pcap")
    result = runner.invoke(cli, ["topology", capture, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert {(f["source"], f["destination"]): f["path"] for f in out["flows"]}[(N[0], N[2])] == [N[0], N[1], N[2]]
    graphml = tmp_path / "mesh.graphml"
    assert runner.invoke(cli, ["topology", capture, "-o", str(graphml)]).exit_code == 0
    graph = nx.read_graphml(graphml)
    assert set(graph.nodes) == {N[0], N[1], N[2]}
    assert {d["kind"] for _, _, d in graph.edges(data=True)} == {"hears", "estab", "flow"}
    dot = tmp_path / "mesh.dot"
    assert runner.invoke(cli, ["topology", capture, "-o", str(dot)]).exit_code == 0
    assert dot.read_text().startswith("digraph mesh {") and f'"{N[0]}" -> "{N[1]}"' in dot.read_text()
    png = tmp_path / "mesh.png"
    assert runner.invoke(cli, ["topology", capture, "-o", str(png)]).exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = runner.invoke(cli, ["topology", capture, "-o", str(tmp_path / "mesh.jpeg")])
    assert bad.exit_code == 2 and ".graphml" in bad.output
    assert runner.invoke(cli, ["topology", capture, "-o", str(tmp_path / "no" / "mesh.png")]).exit_code == 2
    cut = tmp_path / "cut.pcap"
    cut.write_bytes((PCAPS / "linux-kernel-chain-perr.pcap").read_bytes()[:3000])
    assert runner.invoke(cli, ["topology", str(cut)]).exit_code == 1


def test_flows_are_bounded() -> None:
    """Data from 20,000 made-up sources keeps at most MAX_FLOWS flows."""
    from meshframes.analysis import topology as module

    reader = TopologyReader()
    for n in range(20_000):
        sa = bytes([2, 0]) + n.to_bytes(4, "big")
        # QoS data, To DS and From DS (four addresses), mesh control present.
        header = bytes([0x88, 0x03, 0, 0]) + bytes.fromhex("020000000001" "020000000002" "020000000003") \
            + b"\x00\x00" + sa + bytes([0x00, 0x01])
        reader.add(n + 1, header + bytes([0, 31]) + n.to_bytes(4, "little") + b"\xaa\xaa\x03\x00\x00\x00\x08\x00",
                   n * 0.001)
    result = reader.topology()
    assert len(result.flows) == module.MAX_FLOWS

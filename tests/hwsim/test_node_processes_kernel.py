"""FastPay between `meshframes node` processes on the mesh transport,
through Linux: four authorities (f = 1) and two clients run
`meshframes node --transport mesh` on their radio's kernel mesh point,
and two plain kernel mesh points k0 and k1 (no meshframes process) relay
between the payer c0 and everyone else (c0 - k0 - k1 - {a0..a3, c1},
shaped by hwsim groups). The kernel peers, finds the paths and forwards;
we carry FastPay over it. The payments of node_payment, asserted from the
nodes' own control sockets; the recording is read back by our analyzer
and by tshark."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from meshframes.analysis.verdict import MESSAGE_KINDS
from meshframes.codec.fastpay import MessageType
from meshframes.hosts import tshark
from meshframes.hwsim.scenarios import NODE_BALANCE, Recording, node_payment_kernel
from meshframes.layers.dissect import analyze

from . import FLOW_KINDS, balances_by_name, node_names, recorded

pytestmark = pytest.mark.hwsim
AUTHORITIES = ("a0", "a1", "a2", "a3")
CLIENTS = ("c0", "c1")
K0, K1 = "02:00:00:00:06:00", "02:00:00:00:07:00"


run = recorded(node_payment_kernel)


@pytest.fixture(scope="module")
def states(run: tuple[Recording, Path]) -> dict[str, dict[str, Any]]:
    return run[0].states


def test_payer_reaches_every_authority_through_two_kernel_relays(states: dict[str, dict[str, Any]]) -> None:
    """c0's peers and paths are the kernel's (`iw` station and mpath dumps
    through its control socket): its one established peer is k0, and after
    the first payment every authority and c1 are three hops away via k0,
    which holds paths through k1."""
    macs = states["layout"]["macs"]
    assert {row["mac"] for row in states["layout"]["peers"]["c0"] if row["state"] == "ESTAB"} == {K0}
    paths = {p["destination"]: p for p in states["all-live"]["c0-paths"]}
    for name in (*AUTHORITIES, "c1"):
        path = paths[macs[name]]
        assert (path["next_hop"], path["hops"]) == (K0, 3), (name, path)
    assert states["kernel"]["k0"]["mpaths"][macs["a0"]] == 2


@pytest.mark.parametrize(("phase", "live", "paid"), [
    ("all-live", AUTHORITIES, 10), ("a3-killed", ("a0", "a1", "a2"), 30), ("a0-killed", ("a1", "a2", "a3"), 35),
])
def test_payment_certified_by_three_of_four_and_executed_everywhere_alive(
        states: dict[str, dict[str, Any]], phase: str, live: tuple[str, ...], paid: int) -> None:
    """The certificate carries the votes of 3 of the 4 authorities, all
    live ones; every live authority executed the confirmation, they all
    hold the same balances, the payer and the recipient hold them too, and
    no money was made or lost."""
    names = node_names(states)
    result = states[phase]
    signers = {names[s] for s in result["certified"]["signers"]}
    assert len(signers) == 3 and signers <= set(live)
    assert result["certified"]["weight"] == 3
    expected = {"c0": NODE_BALANCE - paid, "c1": NODE_BALANCE + paid}
    for authority in live:
        assert balances_by_name(result["authorities"][authority], states) == expected, authority
        handled = {(row["outcome"], row["sequence_number"]) for row in result["histories"][authority]
                   if row["event"] == "Handled"}
        assert ("confirmation", {"all-live": 0, "a3-killed": 1, "a0-killed": 2}[phase]) in handled, authority
    assert balances_by_name(result["c0"], states) == {"c0": expected["c0"]}
    assert balances_by_name(result["c1"], states) == {"c1": expected["c1"]}
    assert sum(expected.values()) == 2 * NODE_BALANCE


def test_restarted_authority_catches_up_from_its_store_and_votes(states: dict[str, dict[str, Any]]) -> None:
    """a3, killed and restarted on its store, holds the first payment,
    executes the certificate it missed and votes for the third."""
    assert states["a3-restarted"]["killed"] == -9
    assert balances_by_name(states["a3-restarted"]["balances"], states) == {"c0": NODE_BALANCE - 10,
                                                                    "c1": NODE_BALANCE + 10}
    names = node_names(states)
    assert "a3" in {names[s] for s in states["a0-killed"]["certified"]["signers"]}


def test_nodes_stop_cleanly_on_sigterm(states: dict[str, dict[str, Any]]) -> None:
    """Every live node exits 0 on SIGTERM; only a0 (killed) leaves its
    control socket behind."""
    stopped = dict(states["stopped"])
    files = stopped.pop("files")
    assert stopped == dict.fromkeys(("a1", "a2", "a3", *CLIENTS), 0)
    assert [f for f in files if f.endswith(".sock")] == ["a0.sock"]


def test_recording_decodes_with_every_fastpay_kind_in_mesh_data(run: tuple[Recording, Path]) -> None:
    """Our analyzer decodes every frame, the FastPay messages of every
    kind the payments send inside the kernel's mesh data; tshark reads the
    same frames, none malformed, and counts them by kind as we do."""
    pcap = run[1]
    result, _ = analyze(pcap)
    assert result.undecoded == [] and result.malformed == []
    assert FLOW_KINDS <= set(result.fastpay_in_msdus) <= {MESSAGE_KINDS[t] for t in MessageType}, \
        result.fastpay_in_msdus
    assert dict(Counter(result.by_kind)) == tshark.counts_by_kind(pcap)
    assert tshark.malformed_frames(pcap) == []


def test_restarted_client_resumes_from_its_store(states: dict[str, dict[str, Any]]) -> None:
    """c0, stopped with SIGTERM after the second payment and started again,
    exits 0 and resumes with the balance its store kept."""
    restarted = states["c0-restarted"]
    assert restarted["stopped"] == 0
    assert balances_by_name(restarted["balances"], states) == {"c0": NODE_BALANCE - 30}

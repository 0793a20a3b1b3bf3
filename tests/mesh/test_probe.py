"""Probing a neighbour heard before its beacon (MeshConfig.probe_unknown_neighbours):
a mesh frame from a station whose beacon we never heard draws one Probe
Request per beacon interval; a mesh STA answers a Probe Request for its
mesh with a Probe Response (as mac80211's ieee80211_mesh_rx_probe_req), and
the Probe Response does what the beacon would: SAE in an SAE mesh, an Open
in an open one. tshark reads both frames as what they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.codec import Beacon, ManagementFrame, decode, encode
from meshframes.codec.elements import EID_SSID, MeshId
from meshframes.codec.header import BROADCAST, SUBTYPE_AUTHENTICATION, SUBTYPE_PROBE_REQ, SUBTYPE_PROBE_RESP
from meshframes.codec.ie import RawElement, decode_elements, encode_elements, find
from meshframes.codec.pathsel import Preq, PreqTarget
from meshframes.codec.peering import SP_MESH_PEERING_OPEN
from meshframes.hosts import tshark
from meshframes.hosts.pcap import LINKTYPE_IEEE802_11, PcapWriter
from meshframes.mesh.constants import MeshConfig
from meshframes.mesh.events import Refused
from meshframes.mesh.mbss import Mbss, path_selection
from meshframes.mesh.node import MeshNode

from .helpers import RX, A, B, E, refusals, sent

SAE_MESH = MeshConfig(passphrase="correct horse battery", sae=True)


def flood_from(ta: bytes) -> object:
    """A PREQ flooded by `ta`: what a new neighbour is first heard sending."""
    return path_selection(BROADCAST, ta, Preq(0, 0, 31, 1, ta, 1, 4882, 0, (PreqTarget(0, A, 0),)))


def probes(actions: list) -> list[ManagementFrame]:
    return [f for f in sent(actions) if isinstance(f, ManagementFrame) and f.header.subtype == SUBTYPE_PROBE_REQ]


def test_a_frame_from_an_unknown_station_draws_one_probe_per_beacon_interval() -> None:
    """E floods a PREQ before we ever heard its beacon: a Probe Request
    goes to E alone, naming our mesh. E's next frames within a beacon
    interval draw none; after it, one more. A station whose beacon we know
    is never probed, nor is anyone with the knob off."""
    b = MeshNode(B, MeshConfig())
    [probe] = probes(b.receive(flood_from(E), RX, 0.0))
    assert (probe.header.addr1, probe.header.addr2) == (E, B)
    assert find(decode_elements(probe.body, 0)[0], MeshId) == MeshId(b"meshframes")
    assert probes(b.receive(flood_from(E), RX, 0.5)) == []
    assert len(probes(b.receive(flood_from(E), RX, 0.0 + b.config.beacon_interval))) == 1

    known = MeshNode(B, MeshConfig())
    known.receive(Mbss(E, MeshConfig()).beacon(0.0, 0), RX, 0.0)
    assert probes(known.receive(flood_from(E), RX, 0.1)) == []
    linux = MeshNode(B, MeshConfig(probe_unknown_neighbours=False))
    assert probes(linux.receive(flood_from(E), RX, 0.0)) == []


def test_probe_sends_what_an_unheard_neighbour_gets_under_the_same_limit() -> None:
    """`probe` (what the hwsim scenario kernel-probe asks of our node at
    start) sends the same Probe Request a flood from E would draw, and
    shares its once-per-beacon-interval limit."""
    drawn = probes(MeshNode(B, MeshConfig()).receive(flood_from(E), RX, 0.0))
    b = MeshNode(B, MeshConfig())
    [probe] = probes(b.probe(E, 0.0))
    assert [encode(probe)] == [encode(f) for f in drawn]
    assert probes(b.receive(flood_from(E), RX, 0.5)) == []
    assert probes(b.probe(E, 0.5)) == []


def test_a_probe_request_for_our_mesh_gets_our_beacon_as_probe_response() -> None:
    """A Probe Request naming our Mesh ID (or the wildcard) is answered to
    the asker with our beacon's elements; one for another mesh, or naming
    an SSID, is refused and counted."""
    e = MeshNode(E, MeshConfig())
    request = Mbss(B, MeshConfig()).probe_request(E)
    [response] = sent(e.receive(request, RX, 1.0))
    assert isinstance(response, Beacon) and response.header.subtype == SUBTYPE_PROBE_RESP
    assert (response.header.addr1, response.header.addr2) == (B, E)
    beacon = e.mbss.beacon(1.0, 0)
    assert response.elements == beacon.elements and response.mesh_config is not None
    other = Mbss(B, MeshConfig(mesh_id=b"elsewhere")).probe_request(E)
    assert refusals(e.receive(other, RX, 1.1)) == ["probe-for-another-mesh"]
    # An SSID other than the wildcard asks for an AP, not a mesh STA.
    named = ManagementFrame(request.header, encode_elements((RawElement(EID_SSID, b"cafe"), MeshId(b"meshframes"))))
    assert refusals(e.receive(named, RX, 1.2)) == ["probe-for-another-mesh"]
    assert e.counters["probe-for-another-mesh"] == 2


@pytest.mark.parametrize("config", [MeshConfig(), SAE_MESH], ids=["open", "sae"])
def test_the_probe_response_starts_what_a_beacon_starts(config: MeshConfig) -> None:
    """B hears E's flood, probes it, and E's Probe Response makes B open the
    peering (open mesh) or start SAE (SAE mesh), as E's beacon would."""
    b, e = MeshNode(B, config, seed=1), MeshNode(E, config, seed=2)
    [probe] = probes(b.receive(flood_from(E), RX, 0.0))
    [response] = sent(e.receive(decode(encode(probe)), RX, 0.001))
    started = sent(b.receive(decode(encode(response)), RX, 0.002))
    if config.sae:
        assert [(f.header.subtype, f.header.addr1) for f in started] == [(SUBTYPE_AUTHENTICATION, E)]
    else:
        assert [(f.action, f.header.addr1) for f in started] == [(SP_MESH_PEERING_OPEN, E)]


def test_a_group_frame_we_cannot_open_from_an_unknown_station_draws_a_probe() -> None:
    """In a secure mesh a new neighbour's floods are sealed under an MGTK we
    were never given: the host hands the refused MPDU to the node, which
    counts the refusal and probes the transmitter."""
    b = MeshNode(B, SAE_MESH)
    mpdu = encode(flood_from(E))
    actions = b.unopened(mpdu, Refused("unknown-key", "no group key for transmitter"), 0.0)
    assert refusals(actions) == ["unknown-key"] and b.counters["unknown-key"] == 1
    assert [p.header.addr1 for p in probes(actions)] == [E]


@pytest.mark.tshark
def test_tshark_reads_our_probe_request_and_response(tmp_path: Path) -> None:
    """Wireshark reads the Probe Request as subtype 4 with the wildcard SSID
    and our Mesh ID, the Probe Response as subtype 5 to the asker with our
    Mesh ID and Mesh Configuration, neither malformed."""
    request = Mbss(B, MeshConfig()).probe_request(E)
    response = MeshNode(E, MeshConfig()).mbss.beacon(0.0, 0, probed_by=B)
    path = tmp_path / "probe.pcap"
    with PcapWriter(path, LINKTYPE_IEEE802_11) as writer:
        writer.write(0.0, encode(request))
        writer.write(0.001, encode(response))
    rows = tshark.fields(path, ["wlan.fc.type_subtype", "wlan.da", "wlan.mesh.id", "wlan.ssid",
                                "wlan.mesh.config.ps_protocol", "_ws.malformed"])
    assert [r["wlan.fc.type_subtype"] for r in rows] == [["0x0004"], ["0x0005"]]
    assert [r["wlan.da"] for r in rows] == [["02:00:00:00:00:05"], ["02:00:00:00:00:02"]]
    assert [r["wlan.mesh.id"] for r in rows] == [["meshframes"], ["meshframes"]]
    assert rows[1]["wlan.mesh.config.ps_protocol"] == ["0x01"]  # HWMP
    assert all(not r["_ws.malformed"] for r in rows)

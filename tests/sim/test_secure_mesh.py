"""A secure mesh on the simulated medium: AMPE peering, CCMP on every hop
of HWMP and application traffic, a station with the wrong passphrase, an
attacker radio, key rotation on re-peering, and the capture of a secure
run read back by our dissector.

Assertions are relations (peered or not, delivered exactly once, refused
by a named counter), never timings measured from our own runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshframes.codec import MeshControl, SelfProtected, VendorAction, decode, encode
from meshframes.codec.elements import Mic
from meshframes.codec.fastpay import FastPayFragment
from meshframes.codec.frames import CATEGORY_VENDOR, CATEGORY_VENDOR_PROTECTED
from meshframes.codec.header import BROADCAST
from meshframes.codec.meshctl import AE_A5_A6
from meshframes.codec.pathsel import Prep, Preq, PreqTarget
from meshframes.codec.peering import PROTOCOL_AMPE
from meshframes.codec.reason import ReasonCode
from meshframes.hosts.pcap import mpdus
from meshframes.layers import MIC, AMPEEncrypted, MeshPeeringManagement
from meshframes.layers.dissect import analyze
from meshframes.mesh.constants import MeshConfig
from meshframes.mesh.events import PeerChanged, Transmit
from meshframes.mesh.mbss import action_header, path_selection
from meshframes.mesh.peers import PlinkState
from meshframes.seal import ccmp
from meshframes.seal.errors import SealReason
from meshframes.seal.hop import HopSealer
from meshframes.sim.network import SimNetwork, chain, sim_mac

from .test_scenarios import AIR, Log

PASSPHRASE = "meshframes secure test mesh"
SECURE = MeshConfig(passphrase=PASSPHRASE)
ATTACKER = bytes.fromhex("02000000eeee")
SECURITY_REASONS = {r.value for r in SealReason if not r.value.startswith("e2e-")}


def payloads(net: SimNetwork, node: int) -> list[bytes]:
    return [d.message.payload.data for d in net.deliveries if d.node == node]  # type: ignore[union-attr]


def security_refusals(net: SimNetwork) -> dict[str, int]:
    counters = net.counters()
    return {k: v for k, v in counters.items() if k in SECURITY_REASONS or k.startswith("tx-")}


def on_air(pcap: Path) -> list[bytes]:
    return [mpdu for _, mpdu, _ in mpdus(pcap)]


def is_peering(mpdu: bytes) -> bool:
    return mpdu[0] == ccmp.FC0_MGMT_ACTION and not mpdu[1] & ccmp.FC1_PROTECTED and mpdu[24] == 15


def traffic(net: SimNetwork, start: float) -> list[bytes]:
    """Orders from one end, votes back from the other, over every hop."""
    last = len(net.nodes) - 1
    sent = []
    for k in range(4):
        net.send_payload(0, last, b"order %d" % k, at=start + 0.1 * k)
        net.send_payload(last, 0, b"vote %d" % k, at=start + 0.05 + 0.1 * k)
        sent += [b"order %d" % k, b"vote %d" % k]
    return sent


def assert_delivered_once(net: SimNetwork, sent: list[bytes]) -> None:
    """Every order of `traffic` reached the last node and every vote the first, once."""
    assert sorted(payloads(net, len(net.nodes) - 1)) == sorted(p for p in sent if p.startswith(b"order"))
    assert sorted(payloads(net, 0)) == sorted(p for p in sent if p.startswith(b"vote"))


def test_secure_chain_peers_discovers_and_delivers(tmp_path: Path) -> None:
    """Four stations in a line (three hops) peer with AMPE, find their
    paths with PREQ/PREP and deliver every order and vote exactly once.
    On the air every data, HWMP and FastPay frame is CCMP-protected (the
    PREQ floods group-addressed, under the sender's MGTK) and no payload
    octets appear; beacons and peering frames are in the clear."""
    log = Log()
    net = chain(4, 20.0, mesh=SECURE, observer=log, pcap=tmp_path / "secure.pcap")
    sent = traffic(net, 3.0)
    net.run(4.5)
    net.close()
    assert net.established_links() == 6
    assert_delivered_once(net, sent)
    # Relays forwarded the PREQ and the PREP: they read both after decryption.
    assert [p for _, i, p, _ in log.hwmp(Preq, 1) if p.originator_addr == sim_mac(0) and p.hop_count == 1]
    assert [p for _, i, p, _ in log.hwmp(Prep, 2) if p.target_addr == sim_mac(0) or p.originator_addr == sim_mac(0)]
    assert security_refusals(net) == {}
    frames = on_air(tmp_path / "secure.pcap")
    data_or_action = [f for f in frames if f[0] & ccmp.FC0_TYPE_MASK == ccmp.FC0_TYPE_DATA
                      or (f[0] == ccmp.FC0_MGMT_ACTION and not is_peering(f))]
    assert data_or_action and all(f[1] & ccmp.FC1_PROTECTED for f in data_or_action)
    group_protected = [f for f in data_or_action if f[4:10] == BROADCAST and f[0] == ccmp.FC0_MGMT_ACTION]
    assert group_protected, "no group-addressed protected HWMP frame on the air"
    assert not any(p in f for f in frames for p in sent)
    assert any(is_peering(f) for f in frames) and any(f[0] == 0x80 and not f[1] & 0x40 for f in frames)


def secure_capture(path: Path) -> Path:
    net = chain(3, 20.0, mesh=SECURE, pcap=path)
    net.send_payload(0, 2, b"order", at=3.0)
    net.send_data(0, BROADCAST, bytes.fromhex("aaaa03000000" "88b5") + b"flood", at=3.2)
    net.run(4.0)
    net.close()
    return path


def test_the_capture_reads_back_clear_where_it_must_be(tmp_path: Path) -> None:
    """Our dissector, on the pcap of a secure run: beacons and peering
    frames are read in the clear, every data and HWMP frame is counted as
    encrypted, and nothing else is; our codec reads AMPE (protocol 1, a MIC
    element, ciphertext after it) in every peering frame."""
    pcap = secure_capture(tmp_path / "secure.pcap")
    analysis, decodes = analyze(pcap)
    assert {d.kind for d in decodes if not d.encrypted} == {"beacon", "peering-open", "peering-confirm"}
    assert {d.kind for d in decodes if d.encrypted} == {"other"}
    assert analysis.encrypted == sum(1 for f in on_air(pcap) if f[1] & ccmp.FC1_PROTECTED) > 0
    peering = [decode(f) for f in on_air(pcap) if is_peering(f)]
    assert peering and all(isinstance(f, SelfProtected) and f.peering is not None
                           and f.peering.protocol_id == PROTOCOL_AMPE and isinstance(f.elements[-1], Mic)
                           and f.sealed for f in peering)


def test_dissector_reads_ampe_peering_frames(tmp_path: Path) -> None:
    """Scapy layers: a secure peering frame is well formed, its Mesh
    Peering Management element says AMPE."""
    _, decodes = analyze(secure_capture(tmp_path / "secure.pcap"))
    peering = [d for d in decodes if d.kind.startswith("peering")]
    assert peering and not [d.malformed for d in peering if d.malformed]
    assert all(d.packet is not None and d.packet[MeshPeeringManagement].mesh_peering_protocol == 1
               for d in peering)
    assert all(d.packet.haslayer(AMPEEncrypted) and d.packet[MIC].underlayer is not None for d in peering)


def test_open_mesh_is_unchanged() -> None:
    """The same chain without a passphrase peers with plain MPM, delivers
    the same traffic, and puts nothing protected on the air."""
    log = Log()
    net = chain(4, 20.0, observer=log)
    sent = traffic(net, 3.0)
    net.run(4.5)
    assert net.established_links() == 6
    assert sorted(payloads(net, 3) + payloads(net, 0)) == sorted(sent)
    transmitted = [a.frame for _, _, a in log.events if isinstance(a, Transmit)]
    assert all(f.peering.protocol_id == 0 for f in transmitted if isinstance(f, SelfProtected))
    assert all(f.category == CATEGORY_VENDOR for f in transmitted if isinstance(f, VendorAction))
    assert all(n.node.rsn is None for n in net.nodes)


def test_station_with_the_wrong_passphrase_never_peers() -> None:
    """Station 3 has another passphrase. Its neighbour keeps trying (the
    beacons look right) but never reaches ESTAB: both sides count
    ampe-pmk-mismatch, the opener gives up with MESH-MAX-RETRIES, and
    traffic for station 3 is never delivered. The rest of the mesh is
    unaffected."""
    log = Log()
    net = SimNetwork(7, observer=log)
    for i in range(3):
        net.add_node((20.0 * i, 0.0), config=SECURE)
    net.add_node((60.0, 0.0), config=MeshConfig(passphrase="not the mesh passphrase"))
    net.send_payload(0, 2, b"to a member", at=3.0)
    net.send_payload(0, 3, b"to the outsider", at=3.0)
    net.run(6.0)
    estab = {(i, a.peer) for _, i, a in log.events if isinstance(a, PeerChanged) and a.new == "ESTAB"}
    assert (2, sim_mac(3)) not in estab and (3, sim_mac(2)) not in estab
    assert net.nodes[3].node.peers.established_count == 0
    assert net.nodes[2].node.counters["ampe-pmk-mismatch"] > 0
    assert net.nodes[3].node.counters["ampe-pmk-mismatch"] > 0
    closes = [a.frame for _, i, a in log.events if i == 2 and isinstance(a, Transmit)
              and isinstance(a.frame, SelfProtected) and a.frame.action == 3 and a.frame.header.addr1 == sim_mac(3)]
    assert closes and all(c.peering.reason == ReasonCode.MESH_MAX_RETRIES for c in closes)
    assert payloads(net, 2) == [b"to a member"] and payloads(net, 3) == []
    assert net.peer_state(0, 1) is PlinkState.ESTAB and net.peer_state(1, 2) is PlinkState.ESTAB


def with_pn(frame: bytes, pn: int) -> bytes:
    header_len, _, _, key_id, _ = ccmp.parse_protected(frame)
    return frame[:header_len] + ccmp.ccmp_header(pn, key_id) + frame[header_len + ccmp.CCMP_HEADER_LEN:]


def fastpay(ra: bytes, ta: bytes, payload: bytes, category: int) -> bytes:
    """A FastPay frame from `ta` to `ra`, ending there, as a relay would send it."""
    mc = MeshControl(AE_A5_A6, 31, 77, (ra, ta))
    return encode(VendorAction(action_header(ra, ta), category, mc, FastPayFragment(1, 0, 9, 0, 1, payload)))


def test_attacker_radio_is_refused_by_reason(tmp_path: Path) -> None:
    """An attacker in range of a secure 3-station chain replays frames it
    recorded, forges PNs, seals with a key nobody gave it and sends in the
    clear what must be protected. Each frame is refused by its receiver
    under its own counter; nothing the attacker sends is delivered or
    relayed, and genuine traffic goes on."""
    net = chain(3, 20.0, mesh=SECURE, pcap=tmp_path / "before.pcap")
    attacker = net.add_radio((20.0, 10.0), ATTACKER)
    net.send_payload(0, 2, b"genuine 1", at=3.0)
    net.run(4.0)
    net.close()
    a, b, c = (sim_mac(i) for i in range(3))
    recorded = on_air(tmp_path / "before.pcap")
    unicast = next(f for f in recorded if f[4:10] == b and f[10:16] == a and f[1] & ccmp.FC1_PROTECTED)
    group = next(f for f in recorded if f[4:10] == BROADCAST and f[10:16] == a and f[1] & ccmp.FC1_PROTECTED)
    _, _, _, _, pn = ccmp.parse_protected(unicast)
    own_keys = HopSealer(ATTACKER)
    own_keys.keys.install_pairwise(b, bytes(range(16)))
    preq = Preq(0, 0, 31, 99, a, 1000, 4882, 0, (PreqTarget(0, c, 0),))
    injections = [
        ("replayed unicast", unicast, {1: SealReason.REPLAY}),
        ("PN moved ahead", with_pn(unicast, pn + 1000), {1: SealReason.MIC_FAILURE}),
        ("replayed PREQ flood", group, {1: SealReason.REPLAY, 2: SealReason.UNKNOWN_KEY}),
        ("sealed with its own key", own_keys.seal(fastpay(b, ATTACKER, b"evil", CATEGORY_VENDOR_PROTECTED)),
         {1: SealReason.UNKNOWN_KEY}),
        ("FastPay in the clear", fastpay(b, a, b"evil", CATEGORY_VENDOR), {1: SealReason.NOT_PROTECTED}),
        ("PREQ in the clear", encode(path_selection(BROADCAST, a, preq)),
         {1: SealReason.NOT_PROTECTED, 2: SealReason.NOT_PROTECTED}),
    ]
    t = 4.0
    for name, frame, expected in injections:
        before = [dict(n.node.counters) for n in net.nodes]
        net.at(t, lambda frame=frame: attacker.transmit(frame))
        t += 0.1
        net.run(t)
        for node, reason in expected.items():
            got = net.nodes[node].node.counters[reason.value] - before[node].get(reason.value, 0)
            assert got == 1, f"{name}: station {node} counted {got} x {reason.value}"
    net.send_payload(0, 2, b"genuine 2", at=t)
    net.run(t + 0.5)
    assert [d.message.payload.data for d in net.deliveries] == [b"genuine 1", b"genuine 2"]  # type: ignore[union-attr]
    assert [d.node for d in net.deliveries] == [2, 2]
    assert all(n.node.peers.get(ATTACKER) is None for n in net.nodes)
    assert net.peer_state(0, 1) is PlinkState.ESTAB and net.peer_state(1, 2) is PlinkState.ESTAB


def test_repeering_rotates_keys_and_traffic_continues() -> None:
    """Station 0 closes its link to station 1; when they peer again the
    link has a new MTK whose PNs restart at 1, the old key is gone at both
    ends, and traffic across the link is delivered as before."""
    net = chain(3, 20.0, mesh=SECURE)
    net.send_payload(0, 2, b"before", at=2.5)
    net.run(3.0)
    rsn0, rsn1 = net.nodes[0].node.rsn, net.nodes[1].node.rsn
    assert rsn0 is not None and rsn1 is not None
    old = rsn0.link_key(sim_mac(1))
    assert old is not None and rsn0.hop.keys.tx_key(sim_mac(1)).next_pn > 1
    net.at(3.0, lambda: net.nodes[0].host.close_peer(sim_mac(1)))
    net.run(3.0 + AIR)
    assert rsn0.link_key(sim_mac(1)) is None and rsn1.link_key(sim_mac(0)) is None
    net.run(3.0 + SECURE.dot11MeshHoldingTimeout + SECURE.beacon_interval + 0.5)
    assert net.peer_state(0, 1) is PlinkState.ESTAB and net.peer_state(1, 0) is PlinkState.ESTAB
    new = rsn0.link_key(sim_mac(1))
    assert new is not None and new != old and rsn1.link_key(sim_mac(0)) == new
    assert rsn0.hop.keys.tx_key(sim_mac(1)).next_pn == 1
    net.send_payload(0, 2, b"after", at=net.now)
    net.run(net.now + 0.5)
    assert payloads(net, 2) == [b"before", b"after"]
    assert rsn0.hop.keys.tx_key(sim_mac(1)).next_pn > 1
    assert security_refusals(net) == {}


def test_secure_run_replays_bit_for_bit() -> None:
    """The simulator seeds the secrets of secure stations: the same seed
    gives the same air, keys included; another seed other keys."""
    def run(seed: int) -> tuple[str, bytes | None]:
        net = chain(3, 20.0, seed=seed, mesh=SECURE)
        net.send_payload(0, 2, b"order", at=2.5)
        net.run(3.0)
        rsn = net.nodes[0].node.rsn
        assert rsn is not None
        return net.trace_digest(), rsn.link_key(sim_mac(1))

    first = run(3)
    assert run(3) == first and first[1] is not None
    other = run(4)
    assert other[0] != first[0] and other[1] != first[1]


class RecordedMesh:
    """A secure chain that has peered and carried traffic, what went over
    its air, and an attacker radio in range of every station."""

    def __init__(self, path: Path) -> None:
        self.net = chain(3, 20.0, mesh=SECURE, pcap=path)
        self.attacker = self.net.add_radio((20.0, 10.0), ATTACKER)
        self.net.send_payload(0, 2, b"genuine", at=3.0)
        self.net.send_data(2, BROADCAST, bytes.fromhex("aaaa03000000" "88b5") + b"flood", at=3.2)
        self.net.run(4.0)
        self.net.close()
        self.frames = on_air(path)
        self.delivered = len(self.net.deliveries)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> RecordedMesh:
    return RecordedMesh(tmp_path_factory.mktemp("fuzz") / "recorded.pcap")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_secure_frames_never_crash_or_deliver(recorded: RecordedMesh, data: st.DataObject) -> None:
    """Recorded frames of the secure mesh (beacons, AMPE peering, sealed
    HWMP and payloads) with octets changed, injected by the attacker:
    every station handles or refuses each one, none is delivered, and the
    links stay up."""
    frame = bytearray(data.draw(st.sampled_from(recorded.frames)))
    for _ in range(data.draw(st.integers(1, 3))):
        frame[data.draw(st.integers(0, len(frame) - 1))] ^= data.draw(st.integers(1, 255))
    net = recorded.net
    net.at(net.now, lambda: recorded.attacker.transmit(bytes(frame)))
    net.run(net.now + 0.02)
    assert len(net.deliveries) == recorded.delivered
    assert net.peer_state(0, 1) is PlinkState.ESTAB and net.peer_state(1, 2) is PlinkState.ESTAB

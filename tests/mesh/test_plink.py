"""Mesh peering (MPM): the FSM table, a pair of engines peering, timers,
and malformed or unexpected peering frames (hostap's mesh_mpm_init_proto,
peering_proto, holding and cls_acpt cases)."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

from meshframes.codec import Beacon, SelfProtected, decode, encode
from meshframes.codec.elements import EID_RSN, MeshConfiguration, MeshId
from meshframes.codec.ie import RawElement
from meshframes.codec.peering import MeshPeeringManagement
from meshframes.codec.reason import ReasonCode
from meshframes.hosts.pcap import mpdus
from meshframes.mesh.constants import MeshConfig
from meshframes.mesh.events import CancelTimer, PeerChanged
from meshframes.mesh.mbss import Mbss
from meshframes.mesh.peers import PeerTable, PlinkState
from meshframes.mesh.plink import TRANSITIONS, Peering, PlinkEvent

from .helpers import RX, A, B, C, peer_frame, refusals, sent, timers

S, E = PlinkState, PlinkEvent
SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def engine(mac: bytes = A, seed: int = 1, **config: object) -> Peering:
    cfg = MeshConfig(**config)  # type: ignore[arg-type]
    return Peering(Mbss(mac, cfg), cfg, PeerTable(cfg.default_rate_100kbps, cfg.link_fail_threshold),
                   random.Random(seed))


def beacon_from(mbss: Mbss) -> Beacon:
    return mbss.beacon(0.0, 0)


def exchange(a: Peering, b: Peering, first: list, now: float = 0.0) -> list[SelfProtected]:
    """Carry frames between two engines until neither sends anything;
    return every frame carried."""
    queue = [(b, f) for f in sent(first)]
    carried = []
    while queue:
        target, frame = queue.pop(0)
        frame = decode(encode(frame))  # every frame crosses the codec, as on the air
        carried.append(frame)
        reply = target.on_frame(frame, now)
        other = a if target is b else b
        queue += [(other, f) for f in sent(reply)]
    return carried


def test_two_engines_peer_from_a_beacon() -> None:
    """A hears B's beacon, opens; both reach ESTAB with crossed link ids."""
    a, b = engine(A), engine(B, seed=2)
    exchange(a, b, a.on_beacon(beacon_from(b.mbss), RX, 0.0))
    pa, pb = a.peers.get(B), b.peers.get(A)
    assert pa is not None and pb is not None
    assert (pa.state, pb.state) == (S.ESTAB, S.ESTAB)
    assert (pa.llid, pa.plid) == (pb.plid, pb.llid) and pa.llid and pb.llid
    assert a.peers.established_count == b.peers.established_count == 1
    assert pa.peer_aid == pb.aid and pb.peer_aid == pa.aid


def test_simultaneous_open_converges() -> None:
    """Both hear each other's beacon and open at once (OPN_SNT both ways)."""
    a, b = engine(A), engine(B, seed=2)
    first_a = a.on_beacon(beacon_from(b.mbss), RX, 0.0)
    first_b = b.on_beacon(beacon_from(a.mbss), RX, 0.0)
    exchange(a, b, first_a)
    exchange(b, a, first_b)
    assert a.peers.get(B).state is S.ESTAB and b.peers.get(A).state is S.ESTAB  # type: ignore[union-attr]


def drive(peering: Peering, state: PlinkState) -> None:
    """Put the FSM for peer B into `state` by real frames and timers."""
    if state is S.IDLE:
        peering.peers.add(B)
        return
    if state in (S.OPN_SNT, S.CNF_RCVD, S.ESTAB, S.HOLDING):
        peering.on_beacon(beacon_from(Mbss(B, MeshConfig())), RX, 0.0)
        peer = peering.peers.get(B)
        assert peer is not None
        if state is S.OPN_SNT:
            return
        peering.on_frame(peer_frame(B, A, 2, MeshPeeringManagement(77, peer.llid)), 0.0)
        if state is S.CNF_RCVD:
            return
        peering.on_frame(peer_frame(B, A, 1, MeshPeeringManagement(77)), 0.0)
        if state is S.HOLDING:
            peering.cancel(B, 0.0)
        return
    peering.on_frame(peer_frame(B, A, 1, MeshPeeringManagement(77)), 0.0)  # OPN_RCVD


def event_frame(peering: Peering, event: PlinkEvent) -> list:
    peer = peering.peers.get(B)
    assert peer is not None
    llid = peer.llid
    if event is E.OPN_ACPT:
        return peering.on_frame(peer_frame(B, A, 1, MeshPeeringManagement(peer.plid or 77)), 1.0)
    if event is E.OPN_RJCT:
        return peering.on_frame(peer_frame(B, A, 1, MeshPeeringManagement(77), mesh_id=b"other"), 1.0)
    if event is E.CNF_ACPT:
        return peering.on_frame(peer_frame(B, A, 2, MeshPeeringManagement(peer.plid or 77, llid)), 1.0)
    if event is E.CNF_RJCT:
        return peering.on_frame(peer_frame(B, A, 2, MeshPeeringManagement(77, llid), mesh_id=b"other"), 1.0)
    if event is E.CLS_ACPT:
        return peering.on_frame(peer_frame(B, A, 3, MeshPeeringManagement(peer.plid, llid, 55)), 1.0)
    if event is E.CNCL:
        return peering.cancel(B, 1.0)
    if event is E.ACTOPN:
        return peering.on_beacon(beacon_from(Mbss(B, MeshConfig())), RX, 1.0)
    peer.retries = 0 if event is E.TOR1 else 99
    return peering.on_timer(B, 1.0)


ROWS = [(state, event, row) for state, table in TRANSITIONS.items() for event, row in table.items()]


@pytest.mark.parametrize("state,event,row", ROWS, ids=[f"{s.value}-{e.value}" for s, e, _ in ROWS])
def test_transition_table(state: PlinkState, event: PlinkEvent, row: tuple) -> None:
    """Every table row, reached with real frames: the FSM ends in the row's
    state, having logged the transition, and sends what the row says."""
    peering = engine(A)
    drive(peering, state)
    assert peering.peers.get(B).state is state  # type: ignore[union-attr]
    actions = event_frame(peering, event)
    expected_state, todo = row
    assert peering.peers.get(B).state is expected_state, refusals(actions)  # type: ignore[union-attr]
    assert PeerChanged(B, state.value, event.value, expected_state.value) in actions
    kinds = [f.action for f in sent(actions)]
    wanted = [{"sndOPN": 1, "sndCNF": 2, "sndCLS": 3}[d.value] for d in todo if d.value.startswith("snd")]
    assert kinds == wanted


def ignored_frame(peering: Peering, kind: str) -> SelfProtected:
    """A frame that names the wrong link ids for peer B's current peering."""
    peer = peering.peers.get(B)
    assert peer is not None
    if kind == "confirm for another local link id":
        return peer_frame(B, A, 2, MeshPeeringManagement(peer.plid or 77, peer.llid % 0xFFFF + 1))
    if kind == "open from another peer link id":
        return peer_frame(B, A, 1, MeshPeeringManagement(78))
    return peer_frame(B, A, 3, MeshPeeringManagement(78, peer.llid, 55))


IGNORED_ROWS = [
    (S.OPN_SNT, "confirm for another local link id", E.CNF_IGNR),
    (S.OPN_RCVD, "confirm for another local link id", E.CNF_IGNR),
    (S.ESTAB, "confirm for another local link id", E.CNF_IGNR),
    (S.OPN_RCVD, "open from another peer link id", E.OPN_IGNR),
    (S.CNF_RCVD, "open from another peer link id", E.OPN_IGNR),
    (S.ESTAB, "open from another peer link id", E.OPN_IGNR),
    (S.OPN_SNT, "close from another peer link id", E.CLS_IGNR),
    (S.OPN_RCVD, "close from another peer link id", E.CLS_IGNR),
    (S.CNF_RCVD, "close from another peer link id", E.CLS_IGNR),
    (S.HOLDING, "close from another peer link id", E.CLS_IGNR),
]


@pytest.mark.parametrize("state,kind,event", IGNORED_ROWS, ids=[f"{s.value}-{e.value}" for s, _, e in IGNORED_ROWS])
def test_frames_for_another_peering_are_ignored(state: PlinkState, kind: str, event: PlinkEvent) -> None:
    """The IGNR rows (mesh_plink_get_event): link ids that do not belong
    to this peering classify as OPN_IGNR, CNF_IGNR or CLS_IGNR, which no
    state acts on: nothing sent, no state change, counted."""
    peering = engine(A)
    drive(peering, state)
    actions = peering.on_frame(ignored_frame(peering, kind), 1.0)
    assert peering.peers.get(B).state is state  # type: ignore[union-attr]
    assert sent(actions) == [] and refusals(actions) == ["plink-event-ignored"]
    assert f"in state {state.value} got event {event.value}" in actions[0].detail


def test_retry_timeouts_grow_then_give_up() -> None:
    """An unanswered Open: dot11MeshRetryTimeout, then timeout + rand % timeout
    per retry, dot11MeshMaxRetries retries, then Close (MESH-MAX-RETRIES),
    HOLDING for dot11MeshHoldingTimeout, then IDLE."""
    peering = engine(A)
    first = peering.on_beacon(beacon_from(Mbss(B, MeshConfig())), RX, 0.0)
    deadline = timers(first)[("plink", B)]
    assert deadline == pytest.approx(0.100)
    opens = 1
    previous = 0.100
    while True:
        actions = peering.on_timer(B, deadline)
        frames = sent(actions)
        if frames[0].action != 1:
            break
        opens += 1
        timeout = timers(actions)[("plink", B)] - deadline
        assert previous <= timeout < 2 * previous
        previous, deadline = timeout, timers(actions)[("plink", B)]
    assert opens == 1 + MeshConfig().dot11MeshMaxRetries
    assert frames[0].action == 3 and frames[0].peering.reason == ReasonCode.MESH_MAX_RETRIES
    assert peering.peers.get(B).state is S.HOLDING  # type: ignore[union-attr]
    hold = timers(actions)[("plink", B)]
    assert hold == pytest.approx(deadline + MeshConfig().dot11MeshHoldingTimeout)
    peering.on_timer(B, hold)
    peer = peering.peers.get(B)
    assert peer is not None and peer.state is S.IDLE and peer.llid == peer.plid == 0


def test_confirm_timeout_closes() -> None:
    """CNF_RCVD with no Open from the peer: TOC sends MESH-CONFIRM-TIMEOUT."""
    peering = engine(A)
    drive(peering, S.CNF_RCVD)
    actions = peering.on_timer(B, 0.2)
    assert [f.peering.reason for f in sent(actions)] == [ReasonCode.MESH_CONFIRM_TIMEOUT]


def test_close_from_established_peer_skips_link_id_check() -> None:
    """Linux's livelock rule: a Close from an ESTAB peer is accepted even
    with link ids that do not match."""
    peering = engine(A)
    drive(peering, S.ESTAB)
    actions = peering.on_frame(peer_frame(B, A, 3, MeshPeeringManagement(999, 998, 55)), 1.0)
    assert peering.peers.get(B).state is S.HOLDING  # type: ignore[union-attr]
    assert [f.peering.reason for f in sent(actions)] == [ReasonCode.MESH_CLOSE_RCVD]


def hostap_open(shared: Path) -> SelfProtected:
    fields = {}
    for line in (shared / "vectors/hostap-mesh-frames.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.split()
            fields[name] = bytes.fromhex(value)
    wire = b"".join(fields[k] for k in ("hdr", "fixed_open", "supp_rates", "ext_supp_rates", "mesh_id",
                                        "mesh_conf", "mpm_open", "ht_capab", "ht_oper"))
    frame = decode(wire)
    assert isinstance(frame, SelfProtected)
    return frame


def without(frame: SelfProtected, element_id: int) -> SelfProtected:
    return replace(frame, elements=tuple(e for e in frame.elements if e.element_id != element_id))


def test_hostap_open_is_accepted() -> None:
    """hostap's own Open (mesh "wpas-mesh-open") opens a link with us."""
    frame = hostap_open(SHARED)
    peering = engine(frame.header.addr1, mesh_id=b"wpas-mesh-open")
    actions = peering.on_frame(frame, 0.0)
    assert [f.action for f in sent(actions)] == [1, 2]
    assert peering.peers.get(frame.header.addr2).state is S.OPN_RCVD  # type: ignore[union-attr]


BAD = [
    ("no Mesh Peering Management element", lambda f: without(f, 117), "missing-peering-element"),
    ("no Mesh ID", lambda f: without(f, 114), "missing-mesh-id-or-configuration"),
    ("no Mesh Configuration", lambda f: without(f, 113), "missing-mesh-id-or-configuration"),
    ("no supported rates", lambda f: without(f, 1), "missing-supported-rates"),
    ("33-byte supported rates", lambda f: replace(f, elements=tuple(
        RawElement(1, bytes(33)) if e.element_id == 1 else e for e in f.elements)), "supported-rates-length"),
    ("RSN element in an open mesh", lambda f: replace(f, elements=f.elements + (RawElement(EID_RSN, b"\x01\x00"),)),
     "secure-peer-in-open-mesh"),
    ("AMPE protocol id", lambda f: replace(f, elements=tuple(
        MeshPeeringManagement(0x9D07, protocol_id=1) if e.element_id == 117 else e for e in f.elements)),
     "peering-protocol-unsupported"),
    ("group-addressed Open", lambda f: replace(f, header=replace(f.header, addr1=b"\xff" * 6)),
     "peering-frame-group-addressed"),
    ("ns-3 subtype that is not the action", lambda f: replace(f, elements=tuple(
        MeshPeeringManagement(5, protocol_id=None, ns3_subtype=2) if e.element_id == 117 else e
        for e in f.elements)), "peering-subtype-mismatch"),
    ("Confirm from an unknown peer", lambda f: replace(f, action=2, aid=1, elements=tuple(
        MeshPeeringManagement(5, 6) if e.element_id == 117 else e for e in f.elements)),
     "confirm-or-close-from-unknown-peer"),
]


@pytest.mark.parametrize("name,mutate,reason", BAD, ids=[b[0] for b in BAD])
def test_bad_peering_frames_are_refused(name: str, mutate, reason: str) -> None:  # noqa: ANN001
    """Each malformed or unexpected frame is refused with its reason and
    leaves no peer state behind."""
    frame = mutate(hostap_open(SHARED))
    frame = decode(encode(frame))
    peering = engine(frame.header.addr1, mesh_id=b"wpas-mesh-open")
    actions = peering.on_frame(frame, 0.0)
    assert refusals(actions) == [reason]
    assert sent(actions) == [] and len(peering.peers) == 0


def test_mismatched_mesh_id_gets_a_close_without_state() -> None:
    """hostap peering_proto test 3: another Mesh ID is rejected (OPN_RJCT)
    with a Close, MESH-CONFIGURATION-POLICY-VIOLATION, and nothing kept."""
    frame = hostap_open(SHARED)
    peering = engine(frame.header.addr1, mesh_id=b"test-test-test")
    actions = peering.on_frame(frame, 0.0)
    (close,) = sent(actions)
    assert close.action == 3 and close.header.addr1 == frame.header.addr2
    assert close.peering == MeshPeeringManagement(0, 0x9D07, ReasonCode.MESH_CONFIGURATION_POLICY_VIOLATION)
    assert len(peering.peers) == 0


@pytest.mark.parametrize("action,answered", [(1, True), (2, True), (3, False)], ids=["Open", "Confirm", "Close"])
def test_unknown_station_with_another_profile_is_answered_as_linux_does(action: int, answered: bool) -> None:
    """Linux's mesh_plink_get_event rejects (OPN_RJCT) an Open or Confirm
    from a station it does not know whose Mesh ID differs and answers it
    with a Close (reason 54), keeping no state; a Close from such a station
    matches every profile and is ignored. Each is counted."""
    peering = engine(A)
    frame = peer_frame(B, A, action, MeshPeeringManagement(77, 5 if action != 1 else None, 55 if action == 3 else None),
                       mesh_id=b"other")
    actions = peering.on_frame(frame, 1.0)
    closes = sent(actions)
    if answered:
        assert [(f.action, f.peering.reason) for f in closes] == [(3, ReasonCode.MESH_CONFIGURATION_POLICY_VIOLATION)]
        assert refusals(actions) == ["peering-profile-mismatch"]
    else:
        assert closes == [] and refusals(actions) == ["confirm-or-close-from-unknown-peer"]
    assert len(peering.peers) == 0


def test_max_peer_links() -> None:
    """With dot11MeshMaxPeerLinks reached we stop accepting: a new Open is
    refused and our Mesh Configuration stops advertising acceptance."""
    a = engine(A, dot11MeshMaxPeerLinks=1)
    exchange(a, engine(B, seed=2), a.on_beacon(beacon_from(Mbss(B, MeshConfig())), RX, 0.0))
    assert a.peers.established_count == 1
    actions = a.on_frame(peer_frame(C, A, 1, MeshPeeringManagement(5)), 1.0)
    assert refusals(actions) == ["no-free-peer-links"]
    assert not a.mbss.mesh_configuration(a.peers.established_count).accepting_peerings


def test_close_in_holding_and_cnf_rcvd() -> None:
    """hostap test_mesh_holding and test_mesh_cnf_rcvd_event_cls_acpt: an Open
    in HOLDING is answered with a Close; a Close in CNF_RCVD goes to HOLDING."""
    p = engine(A)
    drive(p, S.HOLDING)
    assert [f.action for f in sent(event_frame(p, E.OPN_ACPT))] == [3]
    q = engine(A)
    drive(q, S.CNF_RCVD)
    event_frame(q, E.CLS_ACPT)
    assert q.peers.get(B).state is S.HOLDING  # type: ignore[union-attr]


def test_established_link_clears_its_timer() -> None:
    peering = engine(A)
    drive(peering, S.CNF_RCVD)
    actions = event_frame(peering, E.OPN_ACPT)
    assert CancelTimer(("plink", B)) in actions


def test_our_peering_frames_have_linux_layout() -> None:
    """Our Open, Confirm and Close carry the mesh elements Linux 6.1 puts in
    its own (capture linux-open-2node), in the same order and lengths."""
    linux = [decode(m) for _, m, _ in mpdus(SHARED / "pcaps/linux/linux-open-2node.pcap")]
    theirs = {f.action: f for f in linux if isinstance(f, SelfProtected)}

    def layout(frame: SelfProtected) -> list[tuple[int, int]]:
        return [(e.element_id, len(e.body())) for e in frame.elements if e.element_id in (113, 114, 117)]

    a, b = engine(A, mesh_id=b"meshframes-open"), engine(B, seed=2, mesh_id=b"meshframes-open")
    carried = exchange(a, b, a.on_beacon(beacon_from(b.mbss), RX, 0.0))
    carried += exchange(a, b, a.cancel(B, 1.0))
    ours = {f.action: f for f in carried}
    for action in (1, 2, 3):
        assert layout(ours[action]) == layout(theirs[action]), action
        assert (ours[action].capability is None) == (theirs[action].capability is None)
        assert (ours[action].aid is None) == (theirs[action].aid is None)


def test_our_rates_are_those_of_a_linux_mesh_on_2ghz() -> None:
    """Interop finding on hwsim: Linux 6.1 answered our Open with a Close,
    reason 54 (configuration policy violation), and ignored our beacons,
    because mesh_matches_local requires a peer's basic rate set to equal
    its own: 1 Mb/s alone on 2.4 GHz. Our beacons, Opens and Confirms now
    carry exactly the Supported and Extended Supported Rates of Linux's
    own frames (capture linux-open-2node)."""
    linux = [decode(m) for _, m, _ in mpdus(SHARED / "pcaps/linux/linux-open-2node.pcap")]

    def rates(frame: Beacon | SelfProtected) -> list[tuple[int, bytes]]:
        return [(e.element_id, e.body()) for e in frame.elements if e.element_id in (1, 50)]

    theirs = {"beacon": rates(next(f for f in linux if isinstance(f, Beacon)))}
    theirs.update({f.action: rates(f) for f in linux if isinstance(f, SelfProtected) and f.action in (1, 2)})
    a, b = engine(A, mesh_id=b"meshframes-open"), engine(B, seed=2, mesh_id=b"meshframes-open")
    ours = {"beacon": rates(a.mbss.beacon(0.0, 0))}
    ours.update({f.action: rates(f) for f in exchange(a, b, a.on_beacon(beacon_from(b.mbss), RX, 0.0))
                 if f.action in (1, 2)})
    assert ours == theirs
    basic = {rate & 0x7F for _, body in ours["beacon"] for rate in body if rate & 0x80}
    assert basic == {2}  # 1 Mb/s in 500 kb/s units


def test_mesh_configuration_mismatch_is_not_a_candidate() -> None:
    """A beacon with another path selection metric does not start peering."""
    peering = engine(A)
    other = Mbss(B, MeshConfig())
    beacon = other.beacon(0.0, 0)
    beacon = replace(beacon, elements=tuple(
        MeshConfiguration(path_selection_metric=2) if isinstance(e, MeshConfiguration) else e
        for e in beacon.elements))
    assert refusals(peering.on_beacon(beacon, RX, 0.0)) == ["beacon-profile-mismatch"]
    assert not [e for e in beacon.elements if isinstance(e, MeshId) and e.mesh_id != b"meshframes"]


def fake_beacons(peering: Peering, count: int, now: float) -> list[bytes]:
    """Beacons from `count` made-up stations of our MBSS, 1 ms apart."""
    macs = [bytes([2, 0xFA, 0, 0, i >> 8, i & 0xFF]) for i in range(count)]
    for i, mac in enumerate(macs):
        peering.on_beacon(beacon_from(Mbss(mac, MeshConfig())), RX, now + i * 0.001)
    return macs


def test_a_full_table_makes_room_by_evicting_the_idle_entry_heard_longest_ago() -> None:
    """Made-up stations fill the table (256 entries); a real neighbour's
    beacon then evicts the IDLE entry heard from longest ago, counted,
    instead of being locked out."""
    p = engine(A, auto_open_plinks=False)
    fakes = fake_beacons(p, p.peers.max_entries, 1.0)
    assert len(p.peers) == p.peers.max_entries
    actions = p.on_beacon(beacon_from(Mbss(B, MeshConfig())), RX, 5.0)
    assert refusals(actions) == ["peer-evicted-idle"]
    assert p.peers.get(B) is not None and p.peers.get(fakes[0]) is None
    assert len(p.peers) == p.peers.max_entries


def test_entries_mid_handshake_are_not_evicted_until_they_time_out() -> None:
    """Made-up stations we opened to (OPN_SNT) are not evicted: a real
    neighbour is refused while they retry, and admitted once their
    unanswered Opens have taken them back to IDLE."""
    p = engine(A)
    fakes = fake_beacons(p, p.peers.max_entries, 1.0)
    assert {p.peers.get(m).state for m in fakes} == {S.OPN_SNT}  # type: ignore[union-attr]
    assert refusals(p.on_beacon(beacon_from(Mbss(B, MeshConfig())), RX, 1.5)) == ["peer-table-full"]
    now = 1.5
    while any(p.peers.get(m).state is not S.IDLE for m in fakes):  # type: ignore[union-attr]
        now += 0.5
        for mac in fakes:
            p.on_timer(mac, now)
    actions = p.on_beacon(beacon_from(Mbss(B, MeshConfig())), RX, now)
    assert refusals(actions) == ["peer-evicted-idle"] and p.peers.get(B).state is S.OPN_SNT  # type: ignore[union-attr]

"""HWMP path selection: route updates (freshness, 10% hysteresis, wrap-safe
SNs), replies, forwarding, PERR, discovery retries and rate limits,
refresh, proactive mode; and Linux's own PREQ/PREP bytes as vectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.codec import MeshAction, decode, encode
from meshframes.codec.header import BROADCAST
from meshframes.codec.pathsel import (
    PREQ_FLAG_PROACTIVE_PREP,
    TARGET_FLAG_TO,
    TARGET_FLAG_USN,
    Perr,
    PerrDestination,
    Prep,
    Preq,
    PreqTarget,
    Rann,
)
from meshframes.codec.reason import ReasonCode
from meshframes.hosts.pcap import mpdus
from meshframes.mesh.constants import MeshConfig, RootMode
from meshframes.mesh.events import CancelTimer, PathFailed
from meshframes.mesh.hwmp import MAX_SANE_SN_DELTA, Hwmp, is_metric_better
from meshframes.mesh.mbss import path_selection
from meshframes.mesh.metric import MAX_METRIC, airtime_metric
from meshframes.mesh.pathtable import PathFlags, PathTable
from meshframes.mesh.peers import PeerTable
from meshframes.mesh.seqnum import sn_gt, sn_lt

from .helpers import A, B, C, D, E, refusals, sent, take_as_established, timers

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
LIFETIME = 4882  # MSEC_TO_TU(5000), what Linux puts in its PREQs


def hwmp(mac: bytes = A, peers: tuple[bytes, ...] = (B, C), **config: object) -> Hwmp:
    cfg = MeshConfig(**config)  # type: ignore[arg-type]
    table = PeerTable(cfg.default_rate_100kbps, cfg.link_fail_threshold)
    for addr in peers:
        take_as_established(table, addr)
    return Hwmp(mac, cfg, table, PathTable())


def preq(ta: bytes, orig: bytes, sn: int, target: bytes, *, metric: int = 0, hop: int = 0, ttl: int = 31,
         flags: int = 0, target_flags: int = 0, target_sn: int = 0, da: bytes = BROADCAST) -> MeshAction:
    element = Preq(0, hop, ttl, 1, orig, sn, LIFETIME, metric, (PreqTarget(target_flags, target, target_sn),))
    if flags:
        element = Preq(flags, hop, ttl, 1, orig, sn, LIFETIME, metric, element.targets)
    return path_selection(da, ta, element)


def elements(actions: list, kind: type) -> list:
    return [e for f in sent(actions) for e in f.elements if isinstance(e, kind)]


def test_sequence_numbers_compare_wrap_safe() -> None:
    """SN_GT / SN_LT as serial number arithmetic."""
    assert sn_gt(5, 3) and not sn_gt(3, 5) and not sn_gt(7, 7)
    assert sn_gt(0, 0xFFFFFFFF) and sn_lt(0xFFFFFFF0, 2)


def test_metric_follows_rate_and_failures() -> None:
    """Faster links cost less, failures cost more, beyond 95% a link is unusable."""
    assert airtime_metric(540, 0) < airtime_metric(60, 0) < airtime_metric(10, 0)
    assert airtime_metric(540, 0) < airtime_metric(540, 50) < airtime_metric(540, 95)
    assert airtime_metric(540, 96) == MAX_METRIC
    assert is_metric_better(89, 100) and not is_metric_better(95, 100)


@pytest.mark.parametrize("kept", [True, False])
def test_a_path_refresh_keeps_the_links_failures_unless_linux(kept: bool) -> None:
    """B's frames failed half their retries: its metric carries the error
    rate. A PREQ that B forwards then refreshes the paths through B: with
    keep_fail_avg_on_refresh (ours) B's metric still carries its failures,
    and a path through B costs more than one through C; as Linux does
    (hwmp_route_info_get), B's failure average restarts low and B looks
    as clean as C."""
    h = hwmp(keep_fail_avg_on_refresh=kept)
    clean = h.peers.metric(C)
    peer = h.peers.get(B)
    assert peer is not None
    for acked in (False, True, False, True, False):
        h.peers.record_tx(peer, acked, None)
    failing = h.peers.metric(B)
    assert failing > clean
    h.on_frame(preq(B, D, 10, E, hop=2), 0.0)
    assert h.paths.lookup(B) is not None and h.paths.lookup(D) is not None
    assert h.peers.metric(B) == (failing if kept else clean)


def test_preq_is_learned_and_forwarded() -> None:
    """A PREQ from C's originator D through B: paths to D and to B, and the
    PREQ goes on with hop count + 1, TTL - 1 and the link metric added."""
    h = hwmp()
    link = h.peers.metric(B)
    actions = h.on_frame(preq(B, D, 10, C, metric=100, hop=2), 0.0)
    path = h.paths.lookup(D)
    assert path is not None and path.next_hop == B and path.sn == 10
    assert path.metric == 100 + link and path.hop_count == 3
    assert h.paths.next_hop(B, 0.0) == B
    (fwd,) = elements(actions, Preq)
    assert (fwd.hop_count, fwd.ttl, fwd.metric) == (3, 30, 100 + link)
    assert sent(actions)[0].header.addr1 == BROADCAST


def test_duplicate_and_stale_preqs_are_not_forwarded() -> None:
    """Same SN and metric again: not better; older SN: stale. Both counted
    by reason, neither forwarded."""
    h = hwmp()
    h.on_frame(preq(B, D, 10, C), 0.0)
    again = h.on_frame(preq(B, D, 10, C), 0.001)
    assert refusals(again) == ["hwmp-no-better-metric"] and not sent(again)
    old = h.on_frame(preq(B, D, 9, C), 0.002)
    assert refusals(old) == ["hwmp-stale-sn"] and not sent(old)


def test_ten_percent_hysteresis_on_another_next_hop() -> None:
    """Same SN through another peer: taken only if at least 10% better."""
    h = hwmp()
    h.on_frame(preq(B, D, 10, C, metric=1000), 0.0)
    base = h.paths.lookup(D).metric  # type: ignore[union-attr]
    slightly = base - base // 20 - h.peers.metric(C)
    assert not sent(h.on_frame(preq(C, D, 10, B, metric=slightly), 0.001))
    assert h.paths.next_hop(D, 0.001) == B
    clearly = base // 2 - h.peers.metric(C)
    assert sent(h.on_frame(preq(C, D, 10, B, metric=clearly), 0.002))
    assert h.paths.next_hop(D, 0.002) == C


def test_sequence_number_wraps_around() -> None:
    """A PREQ with SN 0 after SN 0xffffffff is fresher, not stale."""
    h = hwmp()
    h.on_frame(preq(B, D, 0xFFFFFFFF, C), 0.0)
    assert sent(h.on_frame(preq(B, D, 0, C), 0.01))
    assert h.paths.lookup(D).sn == 0  # type: ignore[union-attr]


def test_an_originator_that_restarted_is_believed_once_its_path_is_inactive() -> None:
    """Linux's MAX_SANE_SN_DELTA: on an inactive path an older SN is stale
    if it is within 32 of ours, but a jump further back means the
    originator restarted its counter, and its fresh PREQ is taken."""
    h = hwmp()
    h.on_frame(preq(B, D, 1000, C), 0.0)
    later = 10.0  # past the PREQ's 5 s lifetime: the path went inactive
    near = h.on_frame(preq(B, D, 1000 - MAX_SANE_SN_DELTA, C), later)
    assert refusals(near) == ["hwmp-stale-sn"] and not sent(near)
    path = h.paths.lookup(D)
    assert path is not None and path.sn == 1000 and not path.flags & PathFlags.ACTIVE
    restarted = h.on_frame(preq(B, D, 1000 - MAX_SANE_SN_DELTA - 1, C), later)
    assert sent(restarted) and not refusals(restarted)
    assert path.sn == 1000 - MAX_SANE_SN_DELTA - 1 and path.flags & PathFlags.ACTIVE
    active = h.on_frame(preq(B, D, 5, C), later)
    assert refusals(active) == ["hwmp-stale-sn"], "an active path never takes an older SN"


def test_preq_for_us_is_answered_like_linux(shared: Path = SHARED) -> None:
    """Linux's PREQ (capture frame 19) given to an engine standing for the
    target: our PREP element is byte for byte Linux's own PREP (frame 20)."""
    linux = [decode(m) for _, m, _ in mpdus(shared / "pcaps/linux/linux-open-2node.pcap")]
    their_preq, their_prep = linux[18], linux[19]
    target, asker = their_prep.header.addr2, their_preq.header.addr2
    h = hwmp(target, peers=(asker,))
    actions = h.on_frame(their_preq, 0.0)
    (reply,) = sent(actions)
    assert reply.header.addr1 == asker
    assert encode(reply)[24:] == encode(their_prep)[24:]


def test_our_discovery_preq_matches_linux(shared: Path = SHARED) -> None:
    """The first PREQ of a discovery has Linux's exact element (frame 19):
    SN 1, PREQ id 0, TTL 31, lifetime 4882 TU, one target, flags 0."""
    linux = [decode(m) for _, m, _ in mpdus(shared / "pcaps/linux/linux-open-2node.pcap")]
    their_preq = linux[18]
    me = their_preq.header.addr2
    target = their_preq.elements[0].targets[0].addr
    h = hwmp(me, peers=(target,))
    actions = h.resolve(target, 5.0)
    (ours,) = sent(actions)
    assert encode(ours)[24:] == encode(their_preq)[24:]
    assert timers(actions)[("path", target)] == pytest.approx(5.0 + 0.100)


def test_intermediate_reply_sets_target_only() -> None:
    """With an active path to the target, a PREQ without TO is answered by
    us (PREP with our metric to the target) and forwarded with TO set."""
    h = hwmp()
    h.on_frame(preq(C, C, 50, D), 0.0)  # learn a path to C via C
    actions = h.on_frame(preq(B, D, 10, C, target_sn=40), 0.01)
    (prep,) = elements(actions, Prep)
    assert prep.target_addr == C and prep.originator_addr == D and prep.target_sn == 50
    assert prep.metric == h.paths.lookup(C).metric  # type: ignore[union-attr]
    (fwd,) = elements(actions, Preq)
    assert fwd.targets[0].flags & TARGET_FLAG_TO


def test_prep_travels_back_and_resolves() -> None:
    """A PREP for us resolves the path; one for another node is forwarded
    toward the PREQ originator."""
    h = hwmp()
    h.resolve(D, 0.0)
    h.on_frame(path_selection(A, B, Prep(0, 1, 30, D, 7, LIFETIME, 300, A, 1)), 0.01)
    assert h.paths.next_hop(D, 0.01) == B
    assert h.paths.lookup(D).flags & PathFlags.RESOLVED  # type: ignore[union-attr]
    relay = hwmp()
    relay.on_frame(preq(B, B, 3, D), 0.0)
    actions = relay.on_frame(path_selection(A, C, Prep(0, 1, 30, D, 7, LIFETIME, 300, B, 3)), 0.01)
    (fwd,) = sent(actions)
    assert fwd.header.addr1 == B and fwd.elements[0].hop_count == 2 and fwd.elements[0].ttl == 29


def test_prep_in_ns3_draft_order_is_recognised() -> None:
    """ns-3 writes the PREQ originator's address first but keeps the
    replier's SN in the Target HWMP SN field; the relay that forwarded
    that PREQ, knowing the transmitter writes the draft layouts, reads the
    PREP the right way round and forwards it."""
    relay = hwmp()
    relay.peers.get(C).speaks_draft = True  # type: ignore[union-attr]
    relay.on_frame(preq(B, B, 3, D), 0.0)
    draft = Prep(0, 1, 30, B, 7, LIFETIME, 300, D, 3)  # asker's address first, as ns-3 does
    actions = relay.on_frame(path_selection(A, C, draft), 0.01)
    assert "prep-draft-address-order" in refusals(actions)
    assert relay.paths.next_hop(D, 0.01) == C
    assert relay.paths.lookup(D).sn == 7  # type: ignore[union-attr]


def test_prep_from_a_standard_peer_is_never_read_as_draft() -> None:
    """Where the draft reading would fit as well (we hold a path to the
    replier through another peer, and saw the replier's own PREQ for the
    asker but not the asker's), a peer not known to write the draft layouts
    gets the standard reading."""
    relay = hwmp(peers=(B, C, E))
    relay.on_frame(preq(B, B, 3, E), 0.0)  # a path to B via B (B's PREQ for E, not for D)
    relay.on_frame(preq(E, D, 5, B, hop=1), 0.001)  # D's own PREQ for B: path to D via E
    standard = Prep(0, 1, 30, D, 9, LIFETIME, 300, B, 3)  # replier D, asker B
    actions = relay.on_frame(path_selection(A, C, standard), 0.01)
    assert "prep-draft-address-order" not in refusals(actions)
    assert relay.paths.lookup(D).sn == 9  # type: ignore[union-attr]
    assert [f.header.addr1 for f in sent(actions)] == [B]
    assert [f.header.addr1 for f in sent(actions)] == [B]


def test_perr_deactivates_and_propagates_to_precursors() -> None:
    """A PERR from the next hop with a newer SN deactivates the path and goes
    on, TTL - 1, to the path's precursor; one from another peer is not
    applicable."""
    h = hwmp()
    h.on_frame(preq(B, D, 10, C), 0.0)
    h.paths.add_precursor(D, C)  # as the forwarder does when relaying C's frames to D
    other = h.on_frame(path_selection(BROADCAST, C, Perr(31, (PerrDestination(0, D, 11, 63),))), 0.01)
    assert refusals(other) == ["perr-not-applicable"]
    actions = h.on_frame(path_selection(BROADCAST, B, Perr(31, (PerrDestination(0, D, 11, 63),))), 0.02)
    assert h.paths.next_hop(D, 0.02) is None and h.paths.lookup(D).sn == 11  # type: ignore[union-attr]
    (fwd,) = elements(actions, Perr)
    assert fwd.ttl == 30 and fwd.destinations[0].addr == D
    assert sent(actions)[0].header.addr1 == C


def test_perr_without_precursors_is_not_sent() -> None:
    """Nobody sends us frames for the broken destination: nobody to tell."""
    h = hwmp()
    h.on_frame(preq(B, D, 10, C), 0.0)
    actions = h.link_broken(B, 1.0)
    assert not elements(actions, Perr) and refusals(actions) == ["perr-no-precursor"]
    assert h.paths.next_hop(D, 1.0) is None


def test_perr_with_ttl_zero_still_invalidates() -> None:
    """ns-3 sends PERRs with TTL 0: the path goes, nothing is propagated."""
    h = hwmp()
    h.on_frame(preq(B, D, 10, C), 0.0)
    actions = h.on_frame(path_selection(A, B, Perr(0, (PerrDestination(0, D, 12, 0),))), 0.01)
    assert h.paths.next_hop(D, 0.01) is None and not sent(actions)
    assert refusals(actions) == ["hwmp-ttl-expired"]


def test_discovery_retries_double_then_give_up() -> None:
    """min_discovery_timeout 100 ms doubling, dot11MeshHWMPmaxPREQretries 4:
    PREQs at 0, 0.1, 0.3, 0.7, 1.5 s and failure at 3.1 s."""
    h = hwmp()
    actions = h.resolve(D, 0.0)
    times, deadline = [0.0], timers(actions)[("path", D)]
    while True:
        actions = h.on_timer(("path", D), deadline)
        if any(isinstance(a, PathFailed) for a in actions):
            break
        assert elements(actions, Preq)
        times.append(deadline)
        deadline = timers(actions)[("path", D)]
    assert times == pytest.approx([0.0, 0.1, 0.3, 0.7, 1.5])
    assert deadline == pytest.approx(3.1)
    assert len({p for p in times}) == 1 + MeshConfig().dot11MeshHWMPmaxPREQretries


def test_preq_rate_limit() -> None:
    """Two discoveries at once: the second PREQ waits dot11MeshHWMPpreqMinInterval."""
    h = hwmp()
    first = h.resolve(C, 1.0)
    second = h.resolve(D, 1.0)
    assert elements(first, Preq) and not elements(second, Preq)
    due = timers(second)[("preq-queue",)]
    assert due == pytest.approx(1.0 + MeshConfig().dot11MeshHWMPpreqMinInterval)
    assert elements(h.on_timer(("preq-queue",), due), Preq)[0].targets[0].addr == D


def test_link_loss_perrs_respect_the_rate_limit() -> None:
    """Three paths through a lost peer with two precursors: group-addressed
    PERRs, one now (Linux accepts one destination each), the others at
    dot11MeshHWMPperrMinInterval steps."""
    far = bytes.fromhex("020000000009")
    h = hwmp(peers=(B, C, D))
    for dst, sn in ((far, 1), (bytes.fromhex("02000000000a"), 2)):
        h.on_frame(preq(B, dst, sn, A), 0.0)
        h.paths.add_precursor(dst, C)
        h.paths.add_precursor(dst, D)
    actions = h.link_broken(B, 1.0)
    first = elements(actions, Perr)
    assert sent(actions)[0].header.addr1 == BROADCAST
    assert len(first) == 1 and first[0].destinations[0].reason == ReasonCode.MESH_PATH_ERROR_DESTINATION_UNREACHABLE
    named = {first[0].destinations[0].addr}
    deadline = timers(actions)[("perr",)]
    while deadline is not None:
        assert deadline >= 1.0 + MeshConfig().dot11MeshHWMPperrMinInterval - 1e-9
        actions = h.on_timer(("perr",), deadline)
        named |= {d.addr for p in elements(actions, Perr) for d in p.destinations}
        deadline = timers(actions).get(("perr",))
    assert named == {B, far, bytes.fromhex("02000000000a")}


def test_hwmp_from_a_non_peer_is_refused() -> None:
    h = hwmp(peers=(B,))
    actions = h.on_frame(preq(C, D, 1, B), 0.0)
    assert refusals(actions) == ["hwmp-from-non-peer"] and h.paths.lookup(D) is None


def test_path_refresh_before_expiry() -> None:
    """Traffic we originate on a path due to expire within path_refresh_time
    triggers a PREQ with Target Only set."""
    h = hwmp()
    h.on_frame(preq(B, D, 10, C), 0.0)
    expires = h.paths.lookup(D).exp_time  # type: ignore[union-attr]
    assert h.refresh(D, expires - 2.0) == []
    (fresh,) = elements(h.refresh(D, expires - 0.5), Preq)
    assert fresh.targets[0].flags & TARGET_FLAG_TO


def test_proactive_rann_root() -> None:
    """A RANN root announces periodically; a mesh STA hearing it forwards it
    and asks the root for a path with an individually addressed PREQ."""
    root = hwmp(dot11MeshHWMPRootMode=RootMode.PROACTIVE_RANN)
    actions = root.on_timer(("root",), 0.0)
    (rann,) = elements(actions, Rann)
    assert timers(actions)[("root",)] == pytest.approx(MeshConfig().dot11MeshHWMPRannInterval)
    node = hwmp(B, peers=(A,))
    heard = node.on_frame(path_selection(BROADCAST, A, rann), 0.1)
    frames = sent(heard)
    kinds = {type(f.elements[0]): f.header.addr1 for f in frames}
    assert kinds[Rann] == BROADCAST and kinds[Preq] == A


def test_root_mode_set_on_a_running_node_announces_at_once_and_can_stop() -> None:
    """Root mode taken after start (Linux's mesh_hwmp_rootmode on a running
    mesh): the root timer is due now and its frame is a proactive PREQ
    with PREP; no root mode again cancels the timer."""
    node = hwmp()
    assert node.start(0.0) == []
    actions = node.set_root_mode(RootMode.PROACTIVE_PREQ_WITH_PREP, 3.0)
    assert timers(actions) == {("root",): 3.0}
    (announce,) = elements(node.on_timer(("root",), 3.0), Preq)
    assert announce.flags & PREQ_FLAG_PROACTIVE_PREP and announce.originator_addr == A
    assert node.set_root_mode(RootMode.NO_ROOT, 4.0) == [CancelTimer(("root",))]


def test_proactive_preq_with_prep() -> None:
    """A root's proactive PREQ (broadcast target, TO|USN) is answered with a
    PREP by a mesh STA that has a path back to the root."""
    root = hwmp(dot11MeshHWMPRootMode=RootMode.PROACTIVE_PREQ_WITH_PREP)
    (announce,) = elements(root.on_timer(("root",), 0.0), Preq)
    assert announce.targets[0].flags == TARGET_FLAG_TO | TARGET_FLAG_USN
    node = hwmp(B, peers=(A,))
    actions = node.on_frame(path_selection(BROADCAST, A, announce), 0.1)
    (prep,) = elements(actions, Prep)
    assert prep.target_addr == B and prep.originator_addr == A

"""A peer link that forms is given the last proactive PREQ of every root
we hold a live path to (MeshConfig.root_preq_to_new_peer): the station
behind it learns its path to the root, and answers with the PREP that
teaches the root its way back, without waiting for the root's next PREQ."""

from __future__ import annotations

from meshframes.codec.header import BROADCAST
from meshframes.codec.pathsel import PREQ_FLAG_PROACTIVE_PREP, TARGET_FLAG_TO, TARGET_FLAG_USN, Prep, Preq, PreqTarget
from meshframes.mesh.constants import RootMode
from meshframes.mesh.events import PathChanged
from meshframes.mesh.mbss import path_selection

from .helpers import RX, A, B, C, D, E, sent
from .test_forward import LIFETIME, node

ROOT = D


def root_preq(sn: int = 5, ttl: int = 31) -> Preq:
    """A root's proactive PREQ (PREP wanted), as the root sends it."""
    return Preq(PREQ_FLAG_PROACTIVE_PREP, 0, ttl, 1, ROOT, sn, LIFETIME, 0,
                (PreqTarget(TARGET_FLAG_TO | TARGET_FLAG_USN, BROADCAST, 0),))


def preqs_to(actions: list, peer: bytes) -> list[Preq]:
    return [f.elements[0] for f in sent(actions)
            if f.header.addr1 == peer and isinstance(f.elements[0], Preq)]


def test_a_new_peer_gets_the_roots_last_preq_and_learns_the_root() -> None:
    """B forwarded the root's PREQ heard from A; a link with E that reaches
    ESTAB sends E that PREQ, individually addressed, with B's metric and
    one more hop. E learns its path to the root through B and answers with
    a PREP for the root."""
    b = node()
    forwarded = preqs_to(b.receive(path_selection(BROADCAST, A, root_preq()), RX, 0.0), BROADCAST)
    assert [p.originator_addr for p in forwarded] == [ROOT]
    given = preqs_to(b.follow_link(E, True, 0.2), E)
    assert given == forwarded
    assert (given[0].hop_count, given[0].originator_sn) == (1, 5)

    e = node(E, peers=(B,))
    actions = e.receive(path_selection(E, B, given[0]), RX, 0.21)
    assert e.next_hop(ROOT, 0.21) == B
    assert any(isinstance(a, PathChanged) and a.destination == ROOT and a.next_hop == B for a in actions)
    preps = [f.elements[0] for f in sent(actions) if isinstance(f.elements[0], Prep)]
    assert [(f.originator_addr, f.target_addr) for f in preps] == [(ROOT, E)]


def test_no_root_preq_without_a_live_path_or_through_the_new_peer_or_with_the_knob_off() -> None:
    """Nothing is given when the path to the root has ended, when the new
    peer is the path's own next hop, or with root_preq_to_new_peer off (as
    Linux, which waits for the root's next PREQ)."""
    lost = node()
    lost.receive(path_selection(BROADCAST, A, root_preq()), RX, 0.0)
    lost.on_tx_status(A, False, 540, 0.1)
    assert lost.next_hop(ROOT, 0.1) is None
    assert preqs_to(lost.follow_link(E, True, 0.2), E) == []

    via = node(peers=(C,))
    via.receive(path_selection(BROADCAST, A, root_preq()), RX, 0.0)  # A is not a peer: nothing learned
    assert via.next_hop(ROOT, 0.0) is None
    via.follow_link(A, True, 0.1)
    via.receive(path_selection(BROADCAST, A, root_preq(sn=6)), RX, 0.2)
    assert via.next_hop(ROOT, 0.2) == A
    via.follow_link(A, False, 0.3)
    assert preqs_to(via.follow_link(A, True, 0.4), A) == []

    linux = node(root_preq_to_new_peer=False)
    linux.receive(path_selection(BROADCAST, A, root_preq()), RX, 0.0)
    assert linux.next_hop(ROOT, 0.0) == A
    assert preqs_to(linux.follow_link(E, True, 0.2), E) == []


def test_a_root_gives_its_own_last_preq_to_a_new_peer() -> None:
    """A root hands a peer that forms the PREQ it last sent as root."""
    root = node(ROOT, peers=(A,), dot11MeshHWMPRootMode=RootMode.PROACTIVE_PREQ_WITH_PREP)
    root.start(0.0)
    own = preqs_to(root.on_timer(("root",), 0.0), BROADCAST)
    assert [p.originator_addr for p in own] == [ROOT]
    assert preqs_to(root.follow_link(E, True, 0.3), E) == own

"""What the node does with a transmit report that says an MPDU failed all
the MAC's retries: the paths through that next hop end (PERR to their
precursors), the peer offers no route for a while, and what is sent next
waits for a new path and leaves the moment it resolves."""

from __future__ import annotations

from meshframes.codec.pathsel import Prep, Preq
from meshframes.mesh.events import PathChanged
from meshframes.mesh.mbss import path_selection

from .helpers import RX, A, C, D, E, refusals, sent
from .test_forward import LIFETIME, learn, node, one_fragment


def test_failed_mpdu_ends_the_paths_through_its_next_hop() -> None:
    """A path to D via C; one MPDU to C fails: D's path ends, a PREQ relayed
    by C teaches nothing until C acknowledges again."""
    n = node()
    learn(n, C, D)
    assert n.next_hop(D, 0.0) == C
    assert n.on_tx_status(C, True, 540, 0.1) == []
    actions = n.on_tx_status(C, False, 540, 0.2)
    assert "paths-lost-tx-failed" in refusals(actions)
    assert [a.destination for a in actions if isinstance(a, PathChanged) and a.next_hop is None] == [D, C]
    assert n.next_hop(D, 0.2) is None
    learn(n, C, D, sn=6, now=0.3)
    assert n.next_hop(D, 0.3) is None and n.counters["hwmp-via-failed-link"] == 1
    n.on_tx_status(C, True, 540, 0.4)
    learn(n, C, D, sn=7, now=0.5)
    assert n.next_hop(D, 0.5) == C


def test_a_successful_report_changes_no_path() -> None:
    """Acknowledged MPDUs leave paths alone (a test that the failure branch
    is what ends them)."""
    n = node()
    learn(n, C, D)
    for t in (0.1, 0.2, 0.3):
        assert n.on_tx_status(C, True, 540, t) == []
    assert n.next_hop(D, 0.3) == C


def test_queued_frame_leaves_as_its_new_path_resolves() -> None:
    """After the loss, a frame for D queues behind a PREQ; the PREP over A
    releases it in the same step that learns the path, to A."""
    n = node()
    learn(n, C, D)
    n.on_tx_status(C, False, 540, 0.1)
    actions = n.send_payload(D, one_fragment(b"order"), 0.2)
    assert [type(f.elements[0]) for f in sent(actions)] == [Preq] and n.forwarder.pending(D) == 1
    prep = Prep(0, 1, 30, D, 9, LIFETIME, 100, n.mac, n.hwmp.sn)
    released = sent(n.receive(path_selection(n.mac, A, prep), RX, 0.25))
    assert [(f.header.addr1, f.payload.data) for f in released] == [(A, b"order")]
    assert n.forwarder.pending(D) == 0


def test_a_new_peer_sends_the_next_preq_of_a_waiting_discovery_at_once() -> None:
    """A frame for D waits behind a discovery on its retry timer; a peering
    with E that reaches ESTAB sends the next PREQ for D in the same step,
    and the PREP through E releases the frame. Without frames waiting, or
    with preq_on_new_peer off, a new peer sends no PREQ."""
    n = node()
    actions = n.send_payload(D, one_fragment(b"order"), 0.0)
    assert [type(f.elements[0]) for f in sent(actions)] == [Preq]
    n.on_timer(("path", D), 0.1)  # first retry; the next waits 0.2 s
    peered = n.follow_link(E, True, 0.15)
    assert [(type(f.elements[0]), f.elements[0].targets[0].addr) for f in sent(peered)] == [(Preq, D)]
    prep = Prep(0, 1, 30, D, 9, LIFETIME, 100, n.mac, n.hwmp.sn)
    released = sent(n.receive(path_selection(n.mac, E, prep), RX, 0.16))
    assert [(f.header.addr1, f.payload.data) for f in released] == [(E, b"order")]
    idle = node()
    assert sent(idle.follow_link(E, True, 0.0)) == []
    linux = node(preq_on_new_peer=False)
    linux.send_payload(D, one_fragment(b"order"), 0.0)
    assert sent(linux.follow_link(E, True, 0.05)) == []

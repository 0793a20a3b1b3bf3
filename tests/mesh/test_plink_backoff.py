"""Peering back-off: a neighbour that never answers our Opens is not
re-opened at every beacon, as Linux does, but after a hold that doubles per
unanswered attempt; a peering that forms clears it."""

from __future__ import annotations

import pytest

from meshframes.mesh.constants import MeshConfig
from meshframes.mesh.events import MeshRefusal
from meshframes.mesh.mbss import Mbss
from meshframes.mesh.peers import PlinkState
from meshframes.mesh.plink import Peering

from .helpers import RX, A, B, refusals, sent, timers
from .test_plink import beacon_from, engine, exchange

CFG = MeshConfig()


def unanswered_attempt(peering: Peering, now: float) -> float:
    """Open on B's beacon at `now`, let every retry time out, then the
    holding timer; returns when the link is back in IDLE."""
    actions = peering.on_beacon(beacon_from(Mbss(B, CFG)), RX, now)
    assert [f.action for f in sent(actions)] == [1]
    deadline = timers(actions)[("plink", B)]
    while peering.peers.get(B).state is not PlinkState.HOLDING:  # type: ignore[union-attr]
        actions = peering.on_timer(B, deadline)
        deadline = timers(actions)[("plink", B)]
    peering.on_timer(B, deadline)
    assert peering.peers.get(B).state is PlinkState.IDLE  # type: ignore[union-attr]
    return deadline


def test_closed_link_is_not_reopened_before_the_back_off() -> None:
    """After an attempt whose Opens all went unanswered, B's beacons start no
    new one for a beacon interval, then for two after the next failure."""
    peering = engine(A)
    idle_at = unanswered_attempt(peering, 0.0)
    peer = peering.peers.get(B)
    assert peer is not None and peer.failed_attempts == 1
    early = peering.on_beacon(beacon_from(Mbss(B, CFG)), RX, idle_at + 0.01)
    assert sent(early) == [] and refusals(early) == [MeshRefusal.PEERING_BACKING_OFF]
    assert peer.reopen_after == pytest.approx(idle_at + CFG.plink_backoff_min, abs=0.001)
    idle_at = unanswered_attempt(peering, peer.reopen_after)
    assert peer.failed_attempts == 2
    assert peer.reopen_after == pytest.approx(idle_at + 2 * CFG.plink_backoff_min, abs=0.001)
    assert sent(peering.on_beacon(beacon_from(Mbss(B, CFG)), RX, peer.reopen_after - 0.001)) == []
    assert [f.action for f in sent(peering.on_beacon(beacon_from(Mbss(B, CFG)), RX, peer.reopen_after))] == [1]


def test_back_off_is_capped_and_cleared_by_a_peering() -> None:
    """The hold stops growing at plink_backoff_max; reaching ESTAB clears it,
    and the peer's own Open is answered during a hold."""
    a, b = engine(A), engine(B, seed=2)
    now = 0.0
    for _ in range(8):
        now = unanswered_attempt(a, now)
        now = a.peers.get(B).reopen_after  # type: ignore[union-attr]
    peer = a.peers.get(B)
    assert peer is not None and peer.failed_attempts == 8
    idle_at = unanswered_attempt(a, now)
    assert peer.reopen_after == pytest.approx(idle_at + CFG.plink_backoff_max, abs=0.001)
    exchange(b, a, b.on_beacon(beacon_from(a.mbss), RX, idle_at + 0.01), idle_at + 0.01)
    assert peer.state is PlinkState.ESTAB
    assert peer.failed_attempts == 0 and peer.reopen_after == float("-inf")

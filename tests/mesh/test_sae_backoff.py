"""SAE attempts paced as wpa_supplicant's mesh paces them (mesh/rsn.py): a
station that hears a neighbour's beacons but gets no SAE through retries
at the first beacon after MESH_AUTH_TIMEOUT plus jitter, MESH_AUTH_RETRY
times, then blocks the neighbour for MESH_AUTH_BLOCK_DURATION; beacons in
between restart nothing; the neighbour's own Commit is still answered and
lifts the block; the table of attempts stays bounded."""

from __future__ import annotations

import math
import random
from collections import Counter

from meshframes.codec import Beacon, ManagementFrame, SelfProtected, decode, encode
from meshframes.codec.sae import SaeCommitBody, parse_sae
from meshframes.mesh.constants import MeshConfig
from meshframes.mesh.events import Action, Authenticated, MeshRefusal, Refused, SetTimer, TimerKey, Transmit
from meshframes.mesh.mbss import Mbss
from meshframes.mesh.peers import PeerTable
from meshframes.mesh.plink import Peering
from meshframes.mesh.rsn import (
    MESH_AUTH_BLOCK_DURATION,
    MESH_AUTH_RETRY,
    MESH_AUTH_TIMEOUT,
    TIMER_MESH_AUTH,
    TIMER_SAE,
    MeshRsn,
)
from meshframes.seal.sae import DOT11_RSNA_SAE_RETRANS_PERIOD, DOT11_RSNA_SAE_SYNC

from .helpers import RX, A, B

SAE_MESH = MeshConfig(passphrase="meshframes-sae-passphrase", sae=True)


def station(mac: bytes, seed: int) -> Peering:
    rsn = MeshRsn(mac, SAE_MESH, random.Random(seed).randbytes)
    return Peering(Mbss(mac, SAE_MESH), SAE_MESH, PeerTable(SAE_MESH.default_rate_100kbps,
                                                            SAE_MESH.link_fail_threshold), random.Random(seed), rsn)


def beacon_of(mac: bytes) -> Beacon:
    return decode(encode(Mbss(mac, SAE_MESH).beacon(0.0, 0)))  # type: ignore[return-value]


def is_commit(action: Action) -> bool:
    return (isinstance(action, Transmit) and isinstance(action.frame, ManagementFrame)
            and isinstance(parse_sae(action.frame.body), SaeCommitBody))


class Deaf:
    """Station A hears B's beacons, but none of A's SAE frames reach B: A's
    timers fire in time order and every action is logged with its time."""

    def __init__(self) -> None:
        self.a = station(A, 1)
        self.timers: dict[TimerKey, float] = {}
        self.log: list[tuple[float, Action]] = []

    @property
    def rsn(self) -> MeshRsn:
        assert self.a.rsn is not None
        return self.a.rsn

    def take(self, actions: list[Action], now: float) -> None:
        for action in actions:
            self.log.append((now, action))
            if isinstance(action, SetTimer):
                self.timers[action.key] = action.deadline

    def beacon(self, now: float) -> None:
        self.advance(now)
        self.take(self.a.on_beacon(beacon_of(B), RX, now), now)

    def advance(self, until: float) -> None:
        while due := [(at, key) for key, at in self.timers.items() if at <= until]:
            at, key = min(due)
            del self.timers[key]
            assert key[0] in (TIMER_SAE, TIMER_MESH_AUTH) and isinstance(key[1], bytes)
            on_timer = self.rsn.on_sae_timer if key[0] == TIMER_SAE else self.rsn.on_mesh_auth_timer
            self.take(on_timer(key[1], at), at)

    def commits(self) -> list[float]:
        return [t for t, action in self.log if is_commit(action)]

    def refusals(self) -> Counter[object]:
        return Counter(action.reason for _, action in self.log if isinstance(action, Refused))

    def refused_at(self, reason: MeshRefusal) -> list[float]:
        return [t for t, action in self.log if isinstance(action, Refused) and action.reason == reason]


def attempt_starts(commits: list[float]) -> list[float]:
    """A Commit more than a second after the one before starts an attempt;
    the others are dot11RSNASAERetransPeriod retransmissions."""
    return [t for i, t in enumerate(commits) if i == 0 or t - commits[i - 1] > 1.0]


def beaconing(seconds: int) -> Deaf:
    deaf = Deaf()
    for second in range(seconds):
        deaf.beacon(float(second))
    return deaf


def test_a_failed_attempt_is_retried_on_the_mesh_auth_schedule_then_the_peer_is_blocked() -> None:
    """One beacon a second for 120 s: four attempts (the first and
    MESH_AUTH_RETRY retries), each at the first beacon 10 to 20 s after the
    one before, each its Commit and dot11RSNASAESync retransmissions, then
    a block; every beacon in between is counted, none restarts SAE."""
    deaf = beaconing(120)
    starts = attempt_starts(deaf.commits())
    assert starts[0] == 0.0 and len(starts) == 1 + MESH_AUTH_RETRY
    failed = deaf.refused_at(MeshRefusal.SAE_ATTEMPT_FAILED)
    waits = [timer - start for start, timer in zip(starts, failed, strict=True)]
    assert all(MESH_AUTH_TIMEOUT <= wait < 2 * MESH_AUTH_TIMEOUT for wait in waits), waits
    assert len(set(waits)) == len(waits)  # the jitter is drawn per attempt
    assert starts[1:] == [math.ceil(timer) for timer in failed[:-1]]  # each retry at the next beacon
    assert len(deaf.commits()) == (1 + MESH_AUTH_RETRY) * (1 + DOT11_RSNA_SAE_SYNC)
    refusals = deaf.refusals()
    assert refusals[MeshRefusal.SAE_ATTEMPT_FAILED] == 1 + MESH_AUTH_RETRY
    assert refusals[MeshRefusal.SAE_PEER_BLOCKED] == 1
    [blocked] = deaf.refused_at(MeshRefusal.SAE_PEER_BLOCKED)
    assert starts[-1] + MESH_AUTH_TIMEOUT <= blocked < starts[-1] + 2 * MESH_AUTH_TIMEOUT
    running = (1 + DOT11_RSNA_SAE_SYNC) * DOT11_RSNA_SAE_RETRANS_PERIOD
    backing_off = [s for s in range(120) if s < blocked and not any(t <= s < t + running for t in starts)]
    assert refusals[MeshRefusal.SAE_BACKING_OFF] == len(backing_off)
    assert refusals[MeshRefusal.SAE_BLOCKED] == sum(1 for second in range(120) if second > blocked)


def test_a_retry_waits_for_the_neighbours_next_beacon() -> None:
    """A beacon while the instance is still retransmitting is ignored
    uncounted; a neighbour not heard again after the retry timer is sent
    nothing, and is retried at its next beacon."""
    deaf = Deaf()
    deaf.beacon(0.0)
    deaf.beacon(0.1)
    assert attempt_starts(deaf.commits()) == [0.0] and not deaf.refusals()
    deaf.advance(100.0)
    assert attempt_starts(deaf.commits()) == [0.0]
    assert deaf.refusals()[MeshRefusal.SAE_ATTEMPT_FAILED] == 1
    deaf.beacon(100.0)
    assert attempt_starts(deaf.commits()) == [0.0, 100.0]


def test_the_block_ends_after_its_duration() -> None:
    """Beacons from a blocked neighbour are counted and ignored; once the
    block is over the next beacon starts afresh."""
    deaf = beaconing(120)
    [blocked] = deaf.refused_at(MeshRefusal.SAE_PEER_BLOCKED)
    sent = len(deaf.commits())
    blocked_beacons = deaf.refusals()[MeshRefusal.SAE_BLOCKED]
    deaf.beacon(blocked + MESH_AUTH_BLOCK_DURATION - 0.5)
    assert len(deaf.commits()) == sent and deaf.refusals()[MeshRefusal.SAE_BLOCKED] == blocked_beacons + 1
    deaf.beacon(blocked + MESH_AUTH_BLOCK_DURATION)
    assert deaf.commits()[-1] == blocked + MESH_AUTH_BLOCK_DURATION
    assert deaf.rsn.sae_attempts[B].retries == 0 and deaf.rsn.sae_attempts[B].blocked_until is None


def carry(a: Peering, b: Peering, first: list[Action], now: float) -> list[Action]:
    """Carry SAE frames between the two until quiet; A's actions."""
    assert a.rsn is not None and b.rsn is not None
    rsn = {A: a.rsn, B: b.rsn}
    queue = [(B, action) for action in first]
    taken: list[Action] = []
    while queue:
        source, action = queue.pop(0)
        if source == A:
            taken.append(action)
        if isinstance(action, Transmit) and isinstance(action.frame, ManagementFrame):
            target = action.frame.header.addr1
            frame = decode(encode(action.frame))
            assert isinstance(frame, ManagementFrame)
            queue += [(target, reply) for reply in rsn[target].on_authentication(frame, now)]
    return taken


def test_a_blocked_peers_own_commit_is_answered_and_lifts_the_block() -> None:
    """As in wpa_supplicant, a block stops our attempts, not the peer's:
    B starts SAE, A answers, both complete and A's next beacon from B
    opens the peering."""
    deaf = beaconing(120)
    assert deaf.refused_at(MeshRefusal.SAE_PEER_BLOCKED)
    b = station(B, 2)
    assert b.rsn is not None
    taken = carry(deaf.a, b, b.rsn.start_sae(A, 201.0), 201.0)
    assert Authenticated(B, deaf.rsn.sae_pmks[B][1]) in taken
    assert B not in deaf.rsn.sae_attempts
    opened = deaf.a.on_beacon(beacon_of(B), RX, 202.0)
    assert any(isinstance(action, Transmit) and isinstance(action.frame, SelfProtected) for action in opened)


def test_the_table_of_attempts_is_bounded_oldest_dropped() -> None:
    """Beacons from more stations than the SAE engine takes instances: the
    attempts kept never exceed that bound and the oldest go first."""
    rsn = MeshRsn(A, SAE_MESH, random.Random(1).randbytes)
    assert rsn.sae is not None
    bound = rsn.sae.config.max_instances
    peers = [bytes.fromhex(f"0200000100{i:02x}") for i in range(bound + 10)]
    for peer in peers:
        rsn.start_sae(peer, 0.0)
    assert list(rsn.sae_attempts) == peers[-bound:]

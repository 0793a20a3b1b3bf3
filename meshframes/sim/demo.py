"""The scenario `meshframes demo` runs, as data: FastPay over a mobile
802.11s mesh in simulation, and what happened to each transfer.

Every node walks (random waypoint, the brief's seed demo: 150 x 120 m,
1-3 m/s, radio ranges 25-30 m), clients pay each other at random times,
and authorities fail mid-run. The mesh is secure unless the spec has no
passphrase: each pair of neighbours authenticates with SAE (group 19), AMPE
keyed by its PMK gives the link's MTK, and CCMP protects every hop, with
end-to-end sealing beside it. Presentation (tables, progress, pictures)
belongs to the CLI; this module only builds, runs and measures.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from meshframes.app.events import (
    CertificateDeferred,
    CertificateReceived,
    Handled,
    TransferCertified,
    TransferConfirmed,
    TransferNotStarted,
    TransferStarted,
)
from meshframes.app.party import AppConfig
from meshframes.codec.fastpay import MessageType
from meshframes.fastpay.authority import Outcome
from meshframes.mesh.constants import MeshConfig
from meshframes.sim.medium import AirRecord, MediumConfig
from meshframes.sim.mobility import Point
from meshframes.sim.scenario import FastPayMesh, Timeline

E = TypeVar("E")

# The demo's mesh passphrase unless one is chosen: the demo prints it, it
# protects nothing but a simulation.
DEMO_PASSPHRASE = "meshframes demo passphrase"


def _events(timeline: Timeline, kind: type[E], node: int | None = None) -> list[E]:
    """The events of one kind, typed as that kind (Timeline.of is not
    generic, and the isinstance check is what tells the type checker)."""
    return [e for _, e in timeline.of(kind, node) if isinstance(e, kind)]


@dataclass(frozen=True, slots=True)
class DemoSpec:
    seed: int = 21
    authorities: int = 4
    clients: int = 6
    relays: int = 12
    duration: float = 90.0
    transfers_per_client: int = 3
    failing: int = 1
    fail_at: float = 30.0
    balance: int = 1000
    area: tuple[float, float] = (150.0, 120.0)
    speed: tuple[float, float] = (1.0, 3.0)
    radio_range: tuple[float, float] = (25.0, 30.0)
    seal: bool = True
    # None: an open mesh, no link security (end-to-end sealing is `seal`).
    passphrase: str | None = field(default=DEMO_PASSPHRASE, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.failing <= (self.authorities - 1) // 3:
            raise ValueError(f"failing: got {self.failing}, FastPay tolerates at most f ="
                             f" {(self.authorities - 1) // 3} of {self.authorities} authorities")
        if self.clients < 2:
            raise ValueError(f"clients: got {self.clients}, a payment needs at least 2")
        if self.failing and not 0 <= self.fail_at < self.duration:
            raise ValueError(f"fail_at: got {self.fail_at} s, expected within the run (0 to {self.duration} s)")
        if self.passphrase is not None and not 8 <= len(self.passphrase) <= 63:
            raise ValueError(f"passphrase: got {len(self.passphrase)} characters, expected 8 to 63")

    @property
    def secure(self) -> bool:
        return self.passphrase is not None

    def mesh_config(self) -> MeshConfig:
        """SAE-authenticated AMPE and CCMP on every hop, or an open mesh."""
        if self.passphrase is None:
            return MeshConfig()
        return MeshConfig(passphrase=self.passphrase, sae=True)


@dataclass(frozen=True, slots=True)
class TransferRecord:
    """One planned payment and what became of it (virtual times, None for
    what did not happen within the run)."""

    payer: int
    recipient: int
    amount: int
    requested: float
    sequence_number: int | None
    started: float | None
    certified: float | None
    confirmed: float | None
    credited: float | None
    signers: tuple[int, ...]
    refused: str | None = None  # why the client would not sign the order


@dataclass(frozen=True, slots=True)
class Shortfall:
    """A transfer that did not complete: the stage it did not reach
    ("started", "certified", "confirmed" or "credited") and the last thing
    that happened to it, in words."""

    record: TransferRecord
    missing: str
    why: str


@dataclass(frozen=True, slots=True)
class Link:
    """Two live nodes within each other's radio range at one instant."""

    a: int
    b: int
    length: float
    peered: bool  # each side's peering with the other in ESTAB then


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The mesh at one instant, as the topology picture draws it: where
    every node was, which were alive, the links between live nodes then,
    and each node's walk over the whole run."""

    at: float
    positions: dict[int, Point]
    alive: frozenset[int]
    links: tuple[Link, ...]
    walks: dict[int, list[Point]]


class Demo:
    def __init__(self, workdir: str | Path, spec: DemoSpec, *, pcap: str | Path | None = None) -> None:
        self.spec = spec
        rng = random.Random(spec.seed)
        self.mesh = mesh = FastPayMesh(workdir, seed=spec.seed, authorities=spec.authorities,
                                       balances=[spec.balance] * spec.clients, app=AppConfig(seal=spec.seal),
                                       mesh=spec.mesh_config(), pcap=pcap,
                                       # The capture is the run's record of its air.
                                       medium=MediumConfig(trace=False))
        # The air as the run sent it, by kind and time: what the demo counts
        # and draws, without reading its capture back.
        self.air = mesh.net.medium.air = AirRecord(per_second=Counter())
        adders = [mesh.add_authority] * spec.authorities + [mesh.add_client] * spec.clients
        for add in adders + [mesh.add_relay] * spec.relays:
            add(mesh.random_waypoint(spec.area, spec.speed), radio_range=rng.uniform(*spec.radio_range))
        self.plan: list[tuple[int, int, int, float]] = []
        last_start = max(4.0, 0.6 * spec.duration)
        for payer in range(spec.clients):
            times = sorted(rng.uniform(4.0, last_start) for _ in range(spec.transfers_per_client))
            for at in times:
                recipient = rng.choice([j for j in range(spec.clients) if j != payer])
                self.plan.append((payer, recipient, rng.randint(1, 20), at))
        for payer, recipient, amount, at in self.plan:
            mesh.transfer(payer, recipient, amount, at)
        self.failed = sorted(rng.sample(range(spec.authorities), spec.failing))
        # When the run stopped: the duration, or later after a settle.
        self.ended = spec.duration
        for i in self.failed:
            mesh.fail(mesh.authorities[i], spec.fail_at)

    @property
    def sae_frames(self) -> int:
        """SAE's Authentication frames sent (Commit, Confirm and refusals),
        each station counting its own."""
        return sum(n.node.rsn.sae_frames_sent for n in self.mesh.net.nodes if n.node.rsn is not None)

    @property
    def sae_completed(self) -> int:
        """SAE runs that ended with a PMK, counted by each of the two stations."""
        return sum(n.node.rsn.sae_completed for n in self.mesh.net.nodes if n.node.rsn is not None)

    def run(self, progress: Callable[[float], None] | None = None, step: float = 0.5, settle: float = 0.0) -> None:
        """Run the spec's duration, then, for up to `settle` more virtual
        seconds with no new transfer asked for, until `settled()`: the
        mesh goes on walking and the protocol on retrying, so an authority
        cut off from every holder when the transfers end is caught up once
        the walks bring them together again (nothing is handed over by the
        simulator)."""
        self.mesh.run(self.spec.duration, step=step, progress=progress)
        limit = self.spec.duration + settle
        while self.mesh.net.now < limit and not self.settled():
            self.mesh.run(min(limit, self.mesh.net.now + step), step=step, progress=progress)
        self.ended = self.mesh.net.now
        self.mesh.close()

    def settled(self) -> bool:
        """Whether every live authority has executed every certificate a
        client holds for its own transfers (then their books are equal)."""
        mesh = self.mesh
        books = [mesh.authority(i).engine.accounts() for i in mesh.honest_authorities()]
        for j, identity in enumerate(mesh.account_ids[:self.spec.clients]):
            held = len(mesh.client(j).engine.store.sent_certificates(0))
            for book in books:
                account = book.get(identity.public_key)
                if held and (account is None or account.next_sequence_number < held):
                    return False
        return True

    # -- results -------------------------------------------------------------

    def snapshot(self, at: float) -> Snapshot:
        """The mesh at virtual time `at`, from the mobility models (which
        answer for past times), the failures and the peering transitions."""
        mesh = self.mesh
        radios = [n.radio for n in mesh.net.nodes]
        here = {r.index: r.mobility.position(at) for r in radios}
        alive = frozenset(r.index for r in radios if not (r.index in mesh.failed and at >= mesh.failed[r.index]))
        peered = mesh.established_at(at)
        links = []
        for a in radios:
            for b in radios:
                length = math.dist(here[a.index], here[b.index])
                # Within both ranges: each hears the other (the medium's disc
                # is the transmitter's range).
                if a.index < b.index and {a.index, b.index} <= alive and length <= min(a.radio_range,
                                                                                       b.radio_range):
                    links.append(Link(a.index, b.index, length, (a.index, b.index) in peered))
        walks = {r.index: r.mobility.path(0.0, self.ended) for r in radios}
        return Snapshot(at, here, alive, tuple(links), walks)

    def transfers(self) -> list[TransferRecord]:
        mesh = self.mesh
        names = {a.name: i for i, a in enumerate(mesh.committee.authorities)}
        credited = {(e.sender, e.sequence_number): e.time for e in _events(mesh.timeline, CertificateReceived)}
        records = []
        for payer in range(self.spec.clients):
            node = mesh.clients[payer]
            # The client takes requests in order, each ending in one of
            # these two: the k-th of them answers the k-th request.
            outcomes = [e for n, e in mesh.timeline.events
                        if n == node and isinstance(e, TransferStarted | TransferNotStarted)]
            certified = {e.sequence_number: e for e in _events(mesh.timeline, TransferCertified, node)}
            confirmed = {e.sequence_number: e.time for e in _events(mesh.timeline, TransferConfirmed, node)}
            mine = [p for p in self.plan if p[0] == payer]
            for k, (_, recipient, amount, at) in enumerate(mine):
                outcome = outcomes[k] if k < len(outcomes) else None
                begun = outcome if isinstance(outcome, TransferStarted) else None
                seq = begun.sequence_number if begun is not None else None
                cert = certified.get(seq) if seq is not None else None
                records.append(TransferRecord(
                    payer, recipient, amount, at, seq,
                    started=begun.time if begun is not None else None,
                    certified=cert.time if cert is not None else None,
                    confirmed=confirmed.get(seq) if seq is not None else None,
                    credited=credited.get((mesh.account_ids[payer].public_key, seq)) if seq is not None else None,
                    signers=tuple(sorted(names[s] for s in cert.signers)) if cert is not None else (),
                    refused=outcome.reason if isinstance(outcome, TransferNotStarted) else None))
        return records

    def shortfalls(self) -> list[Shortfall]:
        """Every transfer that was not credited to its recipient by the end
        of the run, with where it stopped and why."""
        records = self.transfers()
        return [Shortfall(r, *self._stopped(r, records)) for r in records if r.credited is None]

    def _stopped(self, r: TransferRecord, records: list[TransferRecord]) -> tuple[str, str]:
        mesh, end = self.mesh, f"the run ended at {self.ended:g} s"
        payer = mesh.account_ids[r.payer].public_key
        if r.started is None:
            if r.refused is not None:
                return "started", f"requested at {r.requested:.2f} s; the client would not sign it: {r.refused}"
            ahead = [o for o in records if o.payer == r.payer and o.started is not None and o.confirmed is None]
            if ahead:
                return "started", (f"requested at {r.requested:.2f} s; still waiting behind C{r.payer}'s transfer"
                                   f" #{ahead[0].sequence_number}, unconfirmed when {end}")
            return "started", f"requested at {r.requested:.2f} s; not taken up before {end}"
        assert r.sequence_number is not None
        failed = "".join(f"; A{i} failed at {self.spec.fail_at:g} s" for i in self.failed)
        if r.certified is None:
            voted = {i for i, n in enumerate(mesh.authorities) for e in _events(mesh.timeline, Handled, n)
                     if e.sender == payer and e.sequence_number == r.sequence_number
                     and e.outcome in (Outcome.ORDER, Outcome.REPEATED_ORDER)}
            return "certified", (f"started at {r.started:.2f} s; votes signed by"
                                 f" {self._weigh(sorted(voted))}{failed}")
        if r.confirmed is None:
            executed = mesh.executed_by(payer, r.sequence_number)
            return "confirmed", (f"certified at {r.certified:.2f} s; executed by"
                                 f" {self._weigh(executed)}{failed}")
        deferred = [e.time for e in _events(mesh.timeline, CertificateDeferred, mesh.clients[r.payer])
                    if e.sequence_number == r.sequence_number]
        fate = (f"its timed resends gave up at {deferred[0]:.2f} s, waiting for C{r.recipient}'s announcement"
                if deferred else "it was still being resent")
        return "credited", (f"confirmed at {r.confirmed:.2f} s; the certificate never reached C{r.recipient}:"
                            f" {fate} when {end}")

    def _weigh(self, authorities: list[int]) -> str:
        """"A0, A2 (weight 2 of the 3 a quorum needs)", or "no authority"."""
        committee = self.mesh.committee
        if not authorities:
            return f"no authority (a quorum needs weight {committee.quorum_threshold})"
        weight = sum(committee.authorities[i].weight for i in authorities)
        return (f"{', '.join(f'A{i}' for i in authorities)} (weight {weight} of the"
                f" {committee.quorum_threshold} a quorum needs)")

    def hops_by_kind(self) -> dict[str, Counter[int]]:
        """Hop counts of the unicast FastPay frames that reached their mesh
        DA, by message kind."""
        out: dict[str, Counter[int]] = {}
        for traced in self.mesh.traced.values():
            if traced.arrived:
                kind = MessageType(traced.msg_type).name.removeprefix("FASTPAY_").lower().replace("_", "-")
                out.setdefault(kind, Counter())[len(traced.hops)] += 1
        return dict(sorted(out.items()))

    def money(self) -> dict[int, int]:
        """Total balance each authority holds, by authority number."""
        return {i: self.mesh.authority(i).engine.total_balance() for i in range(self.spec.authorities)}


def latency_summary(values: list[float]) -> dict[str, float] | None:
    """min / median / max of a list of virtual durations, None if empty."""
    if not values:
        return None
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}

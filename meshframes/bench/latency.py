"""Latency of FastPay transfers over the simulated mesh, measured against
the geometry: for each transfer, when the order left (start), when a
quorum of live authorities was first in reach of its client over links in
range both ways (the oracle, meshframes.sim.reach), and when it was
certified and confirmed, all in virtual time.

A run is the demo's scenario (meshframes.sim.demo) for one seed, with no
pcap, going on after its duration (no new transfer asked for) until every
live authority has executed every certificate, or SETTLE_S more. Every
frame on the air is counted by kind as the medium sends it (MAC retries
included); in a secure mesh the CCMP-protected frames are
counted by the kind they are once opened with the run's link keys.
Results are data; the CLI presents them, and progress goes through a
callback.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from meshframes.codec import Beacon, ManagementFrame, MeshAction, SelfProtected, VendorAction, decode
from meshframes.codec.errors import CodecError
from meshframes.codec.fastpay import MessageType
from meshframes.codec.header import FC_RETRY, SUBTYPE_AUTHENTICATION, SUBTYPE_PROBE_REQ, SUBTYPE_PROBE_RESP
from meshframes.codec.mpdu import is_protected, read_frame_control
from meshframes.codec.pathsel import Gann, Perr, Prep, Preq, Rann
from meshframes.codec.peering import SP_MESH_PEERING_CLOSE, SP_MESH_PEERING_CONFIRM, SP_MESH_PEERING_OPEN
from meshframes.seal.capture import CaptureOpener
from meshframes.sim.demo import Demo, DemoSpec
from meshframes.sim.reach import ReachOracle, mesh_oracle

# A transfer left incomplete is only the protocol's fault if a quorum was
# in reach of its client for at least this long before the run ended.
IN_REACH_AT_END_S = 10.0
# How long a run may go on after its duration, with no new transfer, for
# every live authority to execute every certificate (Demo.run's settle):
# an authority the walks cut off from every holder when the transfers end
# can only be caught up once they meet again. Only a run still unsettled
# pays for a longer bound: large seed 14 settles at 183 s, 123 s after its
# 60 s.
SETTLE_S = 300.0
# What Linux's peering timers allow one station towards one neighbour that
# never answers (net/mac80211/mesh_plink.c with the MIB defaults of
# net/wireless/mesh.c, meshframes.mesh.constants): an attempt is an Open
# and dot11MeshMaxRetries (3) more on the retry timer (dot11MeshRetryTimeout,
# 100 ms, growing by up to itself per retry), then a Close and
# dot11MeshHoldingTimeout (100 ms); the next attempt starts at the first
# beacon heard after that (mesh_neighbour_update). An attempt lasts at least
# 4 x 100 + 100 ms, under one beacon interval (1000 TU), so every beacon can
# start one: 4 Opens per 1.024 s, 234 per minute.
LINUX_OPENS_PER_NEIGHBOUR_PER_MINUTE = round(4 * 60 / 1.024)
PERCENTILES = (50, 90, 95)

# The demo's own field and population (`meshframes demo`'s defaults): the
# density every scenario keeps.
DEMO_AREA = (150.0, 120.0)
DEMO_NODES = 4 + 6 + 14


def _same_density(nodes: int) -> tuple[float, float]:
    """The demo's field scaled so that `nodes` have the demo's density."""
    scale = math.sqrt(nodes / DEMO_NODES)
    return (round(DEMO_AREA[0] * scale, 1), round(DEMO_AREA[1] * scale, 1))


@dataclass(frozen=True, slots=True)
class Scenario:
    """A scenario by name: how to build its DemoSpec for a seed, the seeds
    it runs by default, and a sentence on why it is built so."""

    name: str
    default_seeds: tuple[int, int]
    about: str
    build: Callable[[int], DemoSpec]


def _default(seed: int) -> DemoSpec:
    # `meshframes demo`'s defaults: 24 nodes, 120 s, one authority failing at a quarter.
    return DemoSpec(seed=seed, authorities=4, clients=6, relays=14, duration=120.0, transfers_per_client=3,
                    failing=1, fail_at=30.0, area=DEMO_AREA)


# The seed brief's mesh: 5 authorities and 3 mobile clients. On their own 8
# nodes in the demo's field are mostly out of each other's range; 16 relays
# bring the mesh to the demo's 24 nodes in its field, the density at which
# the demo is connected most of the time.
SEED_RELAYS = DEMO_NODES - 5 - 3


def _seed(seed: int) -> DemoSpec:
    return DemoSpec(seed=seed, authorities=5, clients=3, relays=SEED_RELAYS, duration=120.0,
                    transfers_per_client=3, failing=1, fail_at=30.0, area=DEMO_AREA)


# 10 authorities, 20 clients, 80 relays (issue 12's large mesh): 110 nodes
# in a field scaled to the demo's density, 2 authorities failing. One
# transfer per client and 60 s, as a 110-node run costs minutes of wall time.
LARGE = (10, 20, 80)


def _large(seed: int) -> DemoSpec:
    authorities, clients, relays = LARGE
    return DemoSpec(seed=seed, authorities=authorities, clients=clients, relays=relays, duration=60.0,
                    transfers_per_client=1, failing=2, fail_at=15.0,
                    area=_same_density(authorities + clients + relays))


SCENARIOS: dict[str, Scenario] = {
    "default": Scenario("default", (1, 5), "the demo's default mesh (`meshframes demo`)", _default),
    "seed": Scenario("seed", (42, 42), f"the seed's mesh, with {SEED_RELAYS} relays to bring it to the demo's"
                     " 24 nodes in its field, the density at which the demo's mesh is connected", _seed),
    "large": Scenario("large", (1, 1), "a large mesh at the demo's density (issue 12's 110 nodes)", _large),
}


def describe(spec: DemoSpec) -> str:
    """The mesh a spec builds, in one line."""
    failing = (f"{spec.failing} authorit{'y' if spec.failing == 1 else 'ies'} failing at {spec.fail_at:g} s"
               if spec.failing else "no authority failing")
    return (f"{spec.authorities} authorities, {spec.clients} clients, {spec.relays} relays"
            f" ({spec.authorities + spec.clients + spec.relays} nodes) walking in {spec.area[0]:g} x"
            f" {spec.area[1]:g} m at {spec.speed[0]:g}-{spec.speed[1]:g} m/s, radio ranges"
            f" {spec.radio_range[0]:g}-{spec.radio_range[1]:g} m, {spec.transfers_per_client} transfer(s) per"
            f" client, {failing}, {spec.duration:g} s, "
            + ("secure mesh (SAE, AMPE, CCMP per hop)" if spec.secure else "open mesh"))


# -- frames by kind ----------------------------------------------------------

_PEERING = {SP_MESH_PEERING_OPEN: "peering-open", SP_MESH_PEERING_CONFIRM: "peering-confirm",
            SP_MESH_PEERING_CLOSE: "peering-close"}
_PATH_SELECTION: tuple[tuple[type, str], ...] = ((Preq, "preq"), (Prep, "prep"), (Perr, "perr"), (Rann, "rann"),
                                                  (Gann, "gate-ann"))


def air_kind(mpdu: bytes) -> str:
    """The kind of a frame on the air, named as `meshframes analyze` names
    it (layers.dissect.classify), from the codec alone; "ccmp-protected"
    for a frame still protected, and "sae" for SAE's Authentication frames
    (analyze's "other")."""
    if is_protected(mpdu):
        return "ccmp-protected"
    try:
        frame = decode(mpdu)
    except CodecError:
        return "undecodable"
    if isinstance(frame, Beacon):
        return "probe-resp" if frame.header.subtype == SUBTYPE_PROBE_RESP else "beacon"
    if isinstance(frame, SelfProtected):
        return _PEERING.get(frame.action, "self-protected")
    if isinstance(frame, MeshAction):
        for element in frame.elements:
            for cls, name in _PATH_SELECTION:
                if isinstance(element, cls):
                    return name
        return "mesh-action"
    if isinstance(frame, VendorAction):
        try:
            kind = MessageType(frame.payload.msg_type)
        except ValueError:
            return "fastpay-unknown"
        return "fastpay-" + kind.name.removeprefix("FASTPAY_").lower().replace("_", "-")
    if isinstance(frame, ManagementFrame) and frame.header.subtype == SUBTYPE_AUTHENTICATION:
        return "sae"
    if isinstance(frame, ManagementFrame) and frame.header.subtype == SUBTYPE_PROBE_REQ:
        return "probe-req"
    return type(frame).__name__.lower()


# -- one run -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransferLatency:
    """One planned transfer against the geometry (virtual seconds).

    `reach` is the first instant at or after `started` (or `requested`, for
    a transfer that never started) when its client had a quorum in reach;
    `hops` the fewest hops that reached a quorum then."""

    payer: int
    recipient: int
    requested: float
    started: float | None
    certified: float | None
    confirmed: float | None
    reach: float | None
    hops: int | None
    in_reach_at_end: bool  # a quorum in reach for the last IN_REACH_AT_END_S of the run
    # How long the quorum stayed in reach from `reach` without a break: a
    # reach of a few tens of milliseconds is a link no frame exchange fits.
    reach_held: float | None = None

    def since_start(self, what: str) -> float | None:
        t = getattr(self, what)
        return None if t is None or self.started is None else t - self.started

    def since_reach(self, what: str) -> float | None:
        t = getattr(self, what)
        return None if t is None or self.reach is None else t - self.reach

    @property
    def incomplete(self) -> bool:
        return self.confirmed is None


@dataclass(frozen=True, slots=True)
class Lagging:
    """A certificate a live authority had not executed when the run ended,
    against the geometry: the longest stretch after it was certified
    through which its payer or its recipient (each holds it) had a path to
    that authority."""

    authority: int
    payer: int
    sequence_number: int
    recipient: int
    certified: float
    holder_path_s: float

    @property
    def in_reach(self) -> bool:
        """A holder had a path there for IN_REACH_AT_END_S at a stretch:
        time to bring it up to date."""
        return self.holder_path_s >= IN_REACH_AT_END_S


@dataclass(frozen=True, slots=True)
class SeedRun:
    scenario: str
    seed: int
    duration: float
    ended: float  # the duration, or later when the run went on to settle
    authorities: int
    clients: int
    relays: int
    failed: tuple[int, ...]
    transfers: tuple[TransferLatency, ...]
    air: dict[str, int]
    # Peering Opens sent (first transmissions; `air` counts MAC retries too).
    opens_sent: int
    genesis: int
    totals: dict[int, int]  # total balance held by each authority
    # Accounts whose balance differs between live authorities at the end:
    # account ("C0", or the address in hex) -> balance by authority number.
    disagreements: dict[str, dict[int, int]]
    # What the disagreements come from: each certificate a live authority
    # lacks, with how long a holder had a way to it.
    lagging: tuple[Lagging, ...]
    # Every live authority had executed every certificate when it ended
    # (Demo.settled, the test that stopped it).
    settled: bool
    wall_s: float

    @property
    def money_conserved(self) -> bool:
        return all(v == self.genesis for v in self.totals.values())


def scenario_spec(scenario: str, seed: int, duration: float | None = None) -> DemoSpec:
    """A scenario's spec for a seed; `duration` shortens or lengthens it,
    the failure kept at a quarter of the run as `meshframes demo` does."""
    spec = SCENARIOS[scenario].build(seed)
    if duration is not None:
        spec = replace(spec, duration=duration, fail_at=duration / 4)
    return spec


def run_seed(scenario: str, seed: int, progress: Callable[[float], None] | None = None,
             duration: float | None = None, settle: float = SETTLE_S) -> SeedRun:
    """Run one seed of a scenario, going on for up to `settle` virtual
    seconds after its duration until every live authority has executed
    every certificate, and measure every transfer against the oracle up
    to where the run ended."""
    spec = scenario_spec(scenario, seed, duration)
    air: Counter[str] = Counter()
    opens: Counter[str] = Counter()

    protected: list[bytes] = []

    def on_air(start: float, index: int, mpdu: bytes) -> None:
        if is_protected(mpdu):
            # Opened after the run, when every link's key is known.
            protected.append(mpdu)
            return
        kind = air_kind(mpdu)
        air[kind] += 1
        if kind == "peering-open" and not read_frame_control(mpdu) & FC_RETRY:
            opens[kind] += 1

    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="meshframes-latency-") as workdir:
        demo = Demo(workdir, spec)
        demo.mesh.net.medium.on_air = on_air
        demo.run(progress, settle=settle)
        end = demo.ended
        opener = CaptureOpener(demo.mesh.capture_keys())
        air.update(air_kind(opener(mpdu, n)) for n, mpdu in enumerate(protected))
        oracle = mesh_oracle(demo.mesh, end)
        transfers = []
        for r in demo.transfers():
            client = demo.mesh.clients[r.payer]
            since = r.started if r.started is not None else r.requested
            reach = oracle.first_reach(client, since)
            transfers.append(TransferLatency(
                r.payer, r.recipient, r.requested, r.started, r.certified, r.confirmed, reach,
                hops=oracle.quorum_hops(client, reach) if reach is not None else None,
                in_reach_at_end=oracle.throughout(client, end - IN_REACH_AT_END_S, end),
                reach_held=oracle.held_from(client, reach) if reach is not None else None))
        live = demo.mesh.honest_authorities()
        books = {i: demo.mesh.authority(i).engine.accounts() for i in live}
        disagreements: dict[str, dict[int, int]] = {}
        names = {identity.public_key: f"C{j}" for j, identity in enumerate(demo.mesh.account_ids)}
        for address in sorted({a for book in books.values() for a in book}):
            held = {i: book[address].balance if address in book else 0 for i, book in books.items()}
            if len(set(held.values())) > 1:
                disagreements[names.get(address, address.hex())] = held
        totals = demo.money()
        genesis = demo.mesh.genesis_total()
        lagging = _lagging(demo, oracle, live)
        settled = demo.settled()
    return SeedRun(scenario, seed, spec.duration, end, spec.authorities, spec.clients, spec.relays,
                   tuple(demo.failed), tuple(transfers), dict(sorted(air.items())), opens["peering-open"], genesis, totals,
                   disagreements, lagging, settled, time.perf_counter() - began)


def _lagging(demo: Demo, oracle: ReachOracle, live: list[int]) -> tuple[Lagging, ...]:
    """Every certified transfer some live authority has not executed, with
    the longest path from its payer or recipient to that authority."""
    mesh = demo.mesh
    account = {identity.public_key: j for j, identity in enumerate(mesh.account_ids)}
    certified = {(r.payer, r.sequence_number): r.certified for r in demo.transfers()
                 if r.certified is not None and r.sequence_number is not None}
    out = []
    for (payer, seq), at in sorted(certified.items()):
        certificate = mesh.client(payer).engine.store.sent_certificates(seq)[0]
        recipient = account[certificate.value.transfer.recipient.key]
        holders = (mesh.clients[payer], mesh.clients[recipient])
        for i in live:
            if mesh.authority(i).engine.store.confirmed_certificate(mesh.account_ids[payer].public_key, seq) is None:
                together = oracle.longest_together(mesh.authorities[i], holders, at, demo.ended)
                out.append(Lagging(i, payer, seq, recipient, round(at, 6), round(max(together.values()), 6)))
    return tuple(out)


# -- summaries ---------------------------------------------------------------


def percentiles(values: Sequence[float]) -> dict[str, float] | None:
    """p50/p90/p95 (nearest rank) and max of a list, None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    out = {f"p{p}": ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] for p in PERCENTILES}
    out["max"] = ordered[-1]
    return out


@dataclass(slots=True)
class Summary:
    """Everything `meshframes bench latency` reports for a set of runs."""

    runs: list[SeedRun] = field(default_factory=list)

    @property
    def transfers(self) -> list[tuple[SeedRun, TransferLatency]]:
        return [(run, t) for run in self.runs for t in run.transfers]

    def latencies(self, what: str, origin: str, hops: int | None = None) -> list[float]:
        """Latencies to `what` ("certified", "confirmed") from `origin`
        ("start" or "reach"), of the transfers (at `hops`, if given) that
        got there."""
        out = []
        for _, t in self.transfers:
            if hops is not None and t.hops != hops:
                continue
            value = t.since_start(what) if origin == "start" else t.since_reach(what)
            if value is not None:
                out.append(value)
        return out

    def hop_counts(self) -> list[int]:
        return sorted({t.hops for _, t in self.transfers if t.hops is not None})

    def never_in_reach(self) -> list[tuple[SeedRun, TransferLatency]]:
        return [(run, t) for run, t in self.transfers if t.reach is None]

    def stuck_in_reach(self) -> list[tuple[SeedRun, TransferLatency]]:
        """Transfers not confirmed by the end although a quorum was in
        reach of their client for the last IN_REACH_AT_END_S of the run."""
        return [(run, t) for run, t in self.transfers if t.incomplete and t.in_reach_at_end]

    def before_reach(self) -> list[tuple[SeedRun, TransferLatency]]:
        """Transfers certified before a quorum was ever in reach at one
        instant: their votes came in one by one over links that did not
        all exist at once."""
        return [(run, t) for run, t in self.transfers if t.certified is not None
                and (t.reach is None or t.certified < t.reach)]

    def slow_from_reach(self) -> dict[str, int]:
        """Transfers certified more than 1 s after reach, and how many of
        them had a reach that held less than 1 s."""
        slow = [t for _, t in self.transfers if (t.since_reach("certified") or 0.0) > 1.0]
        return {"transfers": len(slow),
                "reach_held_under_1s": sum(1 for t in slow if t.reach_held is not None and t.reach_held < 1.0)}

    def air(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for run in self.runs:
            total.update(run.air)
        return dict(sorted(total.items()))

    def opens_per_node_per_minute(self) -> float | None:
        """Peering Opens sent (MAC retries not counted) per node per minute."""
        node_minutes = sum((r.authorities + r.clients + r.relays) * r.ended / 60 for r in self.runs)
        return round(sum(r.opens_sent for r in self.runs) / node_minutes, 1) if node_minutes else None

    def as_dict(self) -> dict[str, Any]:
        planned = len(self.transfers)
        air = self.air()
        latency = {f"{what}_from_{origin}": percentiles(self.latencies(what, origin))
                   for what in ("certified", "confirmed") for origin in ("start", "reach")}
        return {
            "seeds": [run.seed for run in self.runs],
            "transfers": {
                "planned": planned,
                "started": sum(t.started is not None for _, t in self.transfers),
                "certified": sum(t.certified is not None for _, t in self.transfers),
                "confirmed": sum(t.confirmed is not None for _, t in self.transfers),
                "certified_within_1s_of_reach": sum(1 for v in self.latencies("certified", "reach") if v <= 1.0),
            },
            "latency_s": latency,
            "certified_over_1s_from_reach": self.slow_from_reach(),
            "latency_by_hops_s": {
                str(h): {f"{what}_from_{origin}": percentiles(self.latencies(what, origin, h))
                         for what in ("certified", "confirmed") for origin in ("start", "reach")}
                | {"transfers": sum(1 for _, t in self.transfers if t.hops == h)}
                for h in self.hop_counts()},
            "never_in_reach": [_row(run, t) for run, t in self.never_in_reach()],
            "incomplete_with_quorum_in_reach": [_row(run, t) for run, t in self.stuck_in_reach()],
            "certified_before_reach": [_row(run, t) for run, t in self.before_reach()],
            "air": {"frames": sum(air.values()), "per_transfer": round(sum(air.values()) / planned, 1) if planned else None,
                    "by_kind": air,
                    "by_kind_per_transfer": {k: round(v / planned, 1) for k, v in air.items()} if planned else {}},
            "peering": {"opens_per_node_per_minute": self.opens_per_node_per_minute(),
                        "linux_bound_per_silent_neighbour_per_minute": LINUX_OPENS_PER_NEIGHBOUR_PER_MINUTE},
            "runs": [{"seed": run.seed, "scenario": run.scenario, "duration_s": run.duration,
                      "ended_s": run.ended, "settled": run.settled,
                      "authorities": run.authorities, "clients": run.clients, "relays": run.relays,
                      "failed_authorities": list(run.failed), "transfers": len(run.transfers),
                      "money_conserved": run.money_conserved, "genesis": run.genesis,
                      "total_by_authority": run.totals,
                      "balances_equal_at_live_authorities": not run.disagreements,
                      "balance_disagreements": run.disagreements,
                      "balances_equal_where_a_holder_reached": not any(g.in_reach for g in run.lagging),
                      "lagging": [asdict(g) | {"in_reach": g.in_reach} for g in run.lagging],
                      "wall_s": round(run.wall_s, 2),
                      "frames": sum(run.air.values()), "opens_sent": run.opens_sent}
                     for run in self.runs],
            "list": [_row(run, t) for run, t in self.transfers],
        }


def _row(run: SeedRun, t: TransferLatency) -> dict[str, Any]:
    return {"seed": run.seed} | asdict(t) | {
        f"{what}_from_{origin}": t.since_start(what) if origin == "start" else t.since_reach(what)
        for what in ("certified", "confirmed") for origin in ("start", "reach")}


def run(scenario: str, seeds: Sequence[int], *, jobs: int = 1, duration: float | None = None,
        settle: float = SETTLE_S, progress: Callable[[int, float], None] | None = None,
        finished: Callable[[SeedRun], None] | None = None) -> Summary:
    """Run the seeds of a scenario, one after the other or in `jobs`
    processes; `progress(seed, virtual time)` as each advances (in-process
    runs only), `finished(run)` as each ends."""
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario: got {scenario!r}, expected one of {', '.join(SCENARIOS)}")
    summary = Summary()
    if jobs <= 1:
        for seed in seeds:
            report = None if progress is None else (lambda t, seed=seed: progress(seed, t))
            done = run_seed(scenario, seed, report, duration, settle)
            summary.runs.append(done)
            if finished is not None:
                finished(done)
        return summary
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_seed, scenario, seed, None, duration, settle) for seed in seeds]
        for future in as_completed(futures):
            done = future.result()
            summary.runs.append(done)
            if finished is not None:
                finished(done)
    summary.runs.sort(key=lambda r: r.seed)
    return summary

"""The mesh benchmark's figures for one scenario and seed, in virtual time:
routing convergence, healing after a relay fails, and the sustained rate
of certified transfers under a saturating load. (Latency per hop count is
meshframes.bench.latency's for the demo and the scale run's for a static
field; scalability is meshframes.bench.scale's.)

A scenario is a FastPayMesh built by a function of (workdir, seed,
clients): the demo's walking mesh (`demo_mesh`) or a static field of N
nodes at the scale run's density (`field_mesh`). Everything here is a
function of the seed: no wall-clock value enters a figure.

What "physically connected" means is the reachability oracle's rule: two
live nodes are linked while each is within the other's radio range.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from meshframes.app.events import TransferCertified
from meshframes.app.party import AppConfig
from meshframes.bench.scale import FIELD_ROOT_INTERVAL
from meshframes.codec.mpdu import receiver_is_group
from meshframes.mesh.constants import MeshConfig
from meshframes.mesh.events import Action, MeshRefusal, PeerChanged, Refused
from meshframes.mesh.peers import PlinkState
from meshframes.sim import airtime
from meshframes.sim.medium import MediumConfig
from meshframes.sim.scenario import FastPayMesh

# progress(phase, done, total)
Progress = Callable[[str, int, int], None]
Builder = Callable[[str | Path, int, int], FastPayMesh]
STEP_S = 0.05


# -- scenarios -----------------------------------------------------------------


def demo_mesh(workdir: str | Path, seed: int, clients: int) -> FastPayMesh:
    """The demo's mesh (`meshframes demo`'s defaults) with `clients`
    clients, no planned transfers and no failing authority: the benchmark
    schedules its own."""
    from meshframes.bench.latency import scenario_spec
    from meshframes.sim.demo import Demo

    spec = replace(scenario_spec("default", seed), clients=clients, transfers_per_client=0, failing=0)
    return Demo(workdir, spec).mesh


def field_layout(nodes: int, seed: int, radio_range: float = 30.0,
                 mean_degree: float = 12.0) -> tuple[float, list[tuple[float, float]]]:
    """A square sized for `mean_degree` neighbours per node, four
    authority spots 10 m apart at its centre, the rest uniform."""
    rng = random.Random(seed)
    side = math.sqrt(nodes * math.pi * radio_range ** 2 / mean_degree)
    centre = side / 2
    spots = [(centre + dx, centre + dy) for dx, dy in ((-5.0, -5.0), (5.0, -5.0), (-5.0, 5.0), (5.0, 5.0))]
    spots += [(rng.uniform(0, side), rng.uniform(0, side)) for _ in range(nodes - len(spots))]
    return side, spots


def field_mesh(nodes: int, *, radio_range: float = 30.0, ttl: int = 31, announce_interval: float = 3.0) -> Builder:
    """A static field of `nodes` (meshframes.bench.scale's layout): four
    authorities at the centre announcing at Linux's root interval
    (meshframes.bench.scale.FIELD_ROOT_INTERVAL), the clients drawn from
    the seed among the others, every other node a relay."""

    def build(workdir: str | Path, seed: int, clients: int) -> FastPayMesh:
        _, spots = field_layout(nodes, seed, radio_range)
        payers = set(random.Random(seed + 1).sample(range(4, nodes), clients))
        mesh = FastPayMesh(workdir, seed=seed, authorities=4, balances=[10 ** 6] * clients,
                           mesh=MeshConfig(dot11MeshTTL=ttl, element_ttl=ttl),
                           medium=MediumConfig(radio_range=radio_range),
                           app=AppConfig(announce_interval=announce_interval), root_interval=FIELD_ROOT_INTERVAL)
        for spot in spots[:4]:
            mesh.add_authority(spot)
        for k in sorted(payers):
            mesh.add_client(spots[k])
        for k in range(4, nodes):
            if k not in payers:
                mesh.add_relay(spots[k])
        return mesh

    return build


# -- the physical graph and the HWMP paths over it -------------------------------


def linked(mesh: FastPayMesh, t: float, dead: Iterable[int] = ()) -> dict[int, set[int]]:
    """Live node -> the live nodes it is linked to at t (each in the
    other's range)."""
    medium = mesh.net.medium
    down = set(dead) | {n for n, at in mesh.failed.items() if at <= t}
    hears = {i: set(medium.neighbours(i, t)) - down for i in range(len(mesh.net.nodes)) if i not in down}
    return {i: {j for j in out if i in hears.get(j, ())} for i, out in hears.items()}


def reachable_from(graph: dict[int, set[int]], start: int) -> dict[int, int]:
    """Hop counts from `start` over the graph."""
    hops = {start: 0}
    queue = deque([start])
    while queue:
        i = queue.popleft()
        for j in graph.get(i, ()):
            if j not in hops:
                hops[j] = hops[i] + 1
                queue.append(j)
    return hops


def paths_missing(mesh: FastPayMesh, t: float, dead: Iterable[int] = ()) -> int:
    """How many (node, authority) pairs lack a usable HWMP path although
    the node is physically connected to the authority: a path is usable if
    following next hops from the node reaches the authority over live
    nodes, each hop a physical link."""
    down = set(dead)
    graph = linked(mesh, t, down)
    nodes = mesh.net.nodes
    by_mac = {n.mac: n.index for n in nodes}
    missing = 0
    for authority in mesh.authorities:
        if authority not in graph:
            continue
        target = nodes[authority].mac
        good: dict[int, bool] = {authority: True}
        for start in reachable_from(graph, authority):
            chain: list[int] = []
            i = start
            while i not in good:
                chain.append(i)
                nh = nodes[i].node.next_hop(target, t)
                j = by_mac.get(nh) if nh is not None else None
                if j is None or j not in graph.get(i, ()) or j in chain:
                    good[i] = False
                    break
                i = j
            verdict = good[i]
            for k in chain:
                good[k] = verdict
            missing += not verdict
    return missing


def _run_until(mesh: FastPayMesh, done: Callable[[], bool], limit: float, step: float = STEP_S) -> float | None:
    """Advance in steps until `done()`; the virtual time it first held, or
    None if it did not by `limit`."""
    net = mesh.net
    while True:
        if done():
            return round(net.now, 6)
        if net.now >= limit:
            return None
        net.run(min(limit, net.now + step))


# -- convergence -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Convergence:
    """Power-on until every node with a physical path to each authority
    has a usable HWMP path to it (authorities are HWMP roots announcing
    every dot11MeshHWMProotInterval)."""

    power_on_s: float | None
    missing_at_limit: int  # pairs still without a path when the limit was reached (0 if converged)
    root_interval_s: float


def converge(mesh: FastPayMesh, limit: float = 20.0) -> Convergence:
    at = _run_until(mesh, lambda: paths_missing(mesh, mesh.net.now) == 0, limit, step=0.25)
    missing = 0 if at is not None else paths_missing(mesh, mesh.net.now)
    return Convergence(at, missing, mesh.authority_mesh_config.dot11MeshHWMProotInterval)


# -- healing ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinuxBound:
    """The time Linux's defaults allow for healing, term by term (seconds):
    the neighbours notice the silent relay (our beacon-loss limit, 2
    beacon intervals; Linux itself waits for transmit failures), the
    authorities' next proactive PREQ rebuilds every path to them
    (dot11MeshHWMProotInterval), and the client's engine resends
    (retry_interval)."""

    detection_s: float
    rediscovery_s: float
    resend_s: float

    @property
    def total_s(self) -> float:
        return self.detection_s + self.rediscovery_s + self.resend_s

    def as_dict(self) -> dict[str, Any]:
        return {"detection: beacon_loss_limit x beacon_interval": round(self.detection_s, 4),
                "rediscovery: dot11MeshHWMProotInterval": round(self.rediscovery_s, 4),
                "first delivery: client retry_interval": round(self.resend_s, 4),
                "total": round(self.total_s, 4)}


@dataclass(frozen=True, slots=True)
class Healing:
    """A relay carrying client-authority paths fails at `failed_at`: when
    a neighbour first noticed (a link broken by transmit failures or by
    beacon loss), when every affected flow had a usable path again, and
    when every affected flow delivered a frame again; each relative to
    the failure. `converged_s`: when every node physically connected to
    each authority had a usable path again (convergence after a topology
    change)."""

    relay: int | None
    failed_at: float | None
    flows: int  # (client, authority) paths through the relay when it failed
    detection_s: float | None
    rediscovery_s: float | None
    first_delivery_s: float | None
    converged_s: float | None
    per_flow_delivery_s: list[float | None]
    bound: LinuxBound

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"bound": self.bound.as_dict(),
                               "within_bound": None if self.first_delivery_s is None
                               else self.first_delivery_s <= self.bound.total_s}


def _busiest_relay(mesh: FastPayMesh) -> tuple[int | None, list[tuple[int, int]]]:
    """The relay (no FastPay role) on the most client-authority paths now,
    and those (client, authority) pairs, both directions counted once."""
    through: dict[int, set[tuple[int, int]]] = {}
    for client in mesh.clients:
        for authority in mesh.authorities:
            for a, b in ((client, authority), (authority, client)):
                route = mesh.net.path_of(a, b) or []
                for hop in route[1:-1]:
                    if hop not in mesh.parties:
                        through.setdefault(hop, set()).add((client, authority))
    if not through:
        return None, []
    relay = min(through, key=lambda r: (-len(through[r]), r))
    return relay, sorted(through[relay])


def heal(mesh: FastPayMesh, *, limit: float = 15.0, pay_every: float = 0.5) -> Healing:
    """Run a converged mesh with every client paying every `pay_every`
    seconds, fail the relay on the most client-authority paths and
    measure the repair."""
    config = mesh.net.mesh_config
    bound = LinuxBound(config.beacon_loss_limit * config.beacon_interval,
                       mesh.authority_mesh_config.dot11MeshHWMProotInterval, mesh.app_config.retry_interval)
    net = mesh.net
    start = net.now
    horizon = start + 1.0 + limit
    for j in range(len(mesh.clients)):
        t = start
        while t < horizon:
            mesh.transfer(j, (j + 1) % len(mesh.clients), 1, t)
            t += pay_every
    net.run(start + 1.0)  # traffic flowing, paths in use
    relay, flows = _busiest_relay(mesh)
    if relay is None:
        return Healing(None, None, 0, None, None, None, None, [], bound)
    failed_at = net.now
    relay_mac = net.nodes[relay].mac
    noticed: list[float] = []

    def watch(node: int, t: float, action: Action) -> None:
        if isinstance(action, Refused) and action.reason == MeshRefusal.LINK_BROKEN_TX_FAILURES \
                and action.detail == relay_mac.hex(":"):
            noticed.append(t)
        if isinstance(action, PeerChanged) and action.peer == relay_mac and action.old == PlinkState.ESTAB.value \
                and action.new != PlinkState.ESTAB.value:
            noticed.append(t)

    mesh.watch(watch)
    mesh.fail(relay, failed_at)
    net.run(failed_at)

    def flows_repaired() -> bool:
        now = net.now
        graph = linked(mesh, now, {relay})
        for client, authority in flows:
            for a, b in ((client, authority), (authority, client)):
                route = net.path_of(a, b)
                if route is None or relay in route or any(y not in graph.get(x, ()) for x, y in zip(route, route[1:], strict=False)):
                    return False
        return True

    rediscovered = _run_until(mesh, flows_repaired, failed_at + limit)
    converged = _run_until(mesh, lambda: paths_missing(mesh, net.now, {relay}) == 0, failed_at + limit, step=0.25)
    net.run(failed_at + limit)
    macs = {n.index: n.mac for n in net.nodes}
    deliveries: dict[tuple[int, int], float] = {}
    for traced in mesh.traced.values():
        if not traced.arrived or traced.hops[0].time <= failed_at:
            continue
        for client, authority in flows:
            pair = (traced.source, traced.destination)
            if pair in ((macs[client], macs[authority]), (macs[authority], macs[client])):
                key = (client, authority)
                deliveries[key] = min(deliveries.get(key, math.inf), traced.hops[-1].time)
    per_flow = [round(deliveries[f] - failed_at, 6) if f in deliveries else None for f in flows]
    return Healing(
        relay=relay, failed_at=round(failed_at, 6), flows=len(flows),
        detection_s=round(min(noticed) - failed_at, 6) if noticed else None,
        rediscovery_s=None if rediscovered is None else round(rediscovered - failed_at, 6),
        first_delivery_s=None if None in per_flow or not per_flow else max(v for v in per_flow if v is not None),
        converged_s=None if converged is None else round(converged - failed_at, 6),
        per_flow_delivery_s=per_flow, bound=bound)


# -- throughput ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadPoint:
    """`clients` clients each with transfers always waiting: certified
    transfers per virtual second over the window, and how busy the
    busiest authority's radio was (its airtime over the window)."""

    clients: int
    certified: int
    window_s: float
    per_s: float
    authority_radio_busy: float  # 0..1


@dataclass(frozen=True, slots=True)
class Throughput:
    points: list[LoadPoint]
    saturated_at_clients: int | None  # the first load whose doubling gained under 10 %
    peak_per_s: float
    limited_by: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# A transfer takes at least a round trip over one hop, over a millisecond:
# a client given this many per second of window never runs dry.
BACKLOG_PER_S = 1000


def throughput(mesh: FastPayMesh, loads: Iterable[int], *, window: float = 2.0,
               progress: Progress | None = None) -> Throughput:
    """Certified transfers per second on a converged mesh as more clients
    pay: for each load in turn, that many clients (the first ones) get more
    transfers queued than they can make in `window` seconds, and the
    certificates of that window are counted. A FastPay client sends one
    transfer at a time: the next waits for the previous certificate."""
    backlog = math.ceil(BACKLOG_PER_S * window)
    report = progress or (lambda phase, done, total: None)
    net = mesh.net
    config = net.medium.config
    wanted = [n for n in loads if n <= len(mesh.clients)]
    airtime_of = dict.fromkeys(mesh.authorities, 0.0)

    def busy(start: float, index: int, mpdu: bytes) -> None:
        if index in airtime_of:
            rate = config.basic_rate_100kbps if receiver_is_group(mpdu) else config.data_rate_100kbps
            airtime_of[index] += airtime.ppdu_duration(len(mpdu), rate)

    before = net.medium.on_air
    net.medium.on_air = busy
    points: list[LoadPoint] = []
    for k, clients in enumerate(wanted):
        begin = net.now
        for j in range(clients):
            for _ in range(backlog):
                mesh.transfer(j, (j + 1) % len(mesh.clients), 1, begin)
        for a in airtime_of:
            airtime_of[a] = 0.0
        net.run(begin + window)
        certified = sum(1 for _, e in mesh.timeline.of(TransferCertified)
                        if isinstance(e, TransferCertified) and begin < e.time <= begin + window)
        points.append(LoadPoint(clients, certified, window, round(certified / window, 3),
                                round(max(airtime_of.values()) / window, 4)))
        report("throughput", k + 1, len(wanted))
    net.medium.on_air = before
    saturated = next((a.clients for a, b in zip(points, points[1:], strict=False) if b.per_s < 1.1 * a.per_s), None)
    peak = max(points, key=lambda p: p.per_s)
    if peak.authority_radio_busy >= 0.8:
        limited = f"airtime: the busiest authority's radio was busy {peak.authority_radio_busy:.0%} of the window"
    elif saturated is None:
        limited = "not saturated: each step of clients still raised the rate by 10 % or more"
    else:
        limited = (f"not airtime at the authorities (their radios busy at most {peak.authority_radio_busy:.0%}"
                   " of the window); the simulator gives processing no time, so an authority's CPU is"
                   " `bench authority`'s figure")
    return Throughput(points, saturated, peak.per_s, limited)


# -- latency by hops (a static field) -----------------------------------------------


def latency_by_hops(mesh: FastPayMesh, transfers: int, *, spacing: float = 0.01,
                    limit: float = 20.0, step: float = 0.25) -> dict[str, Any]:
    """The clients make `transfers` transfers in turn, `spacing` apart
    (0: all asked for at once, each client paying them one after another),
    checked for every `step` of virtual time;
    latency from start to certified of each, grouped by the physical hops
    from its client to a quorum (all authorities weigh 1: the hops to the
    quorum-th nearest). A static field has its quorum in reach from
    power-on: latency from reach (the oracle's) is latency from start."""
    from meshframes.app.events import TransferStarted
    from meshframes.bench.scale import quantiles_ms

    net = mesh.net
    begin = net.now
    clients = len(mesh.clients)
    for k in range(transfers):
        mesh.transfer(k % clients, (k % clients + 1) % clients, 1, begin + spacing * k)

    def certified() -> dict[tuple[int, int], float]:
        return {(n, e.sequence_number): e.time for n, e in mesh.timeline.of(TransferCertified)
                if isinstance(e, TransferCertified) and e.time >= begin}

    _run_until(mesh, lambda: len(certified()) >= transfers, begin + limit, step=step)
    done = certified()
    started = {(n, e.sequence_number): e.time for n, e in mesh.timeline.of(TransferStarted)
               if isinstance(e, TransferStarted) and e.time >= begin}
    graph = linked(mesh, net.now)
    to_authority = [reachable_from(graph, a) for a in mesh.authorities]
    quorum = mesh.committee.quorum_threshold
    by_hops: dict[int, list[float]] = {}
    for (node, seq), t in done.items():
        if (node, seq) in started:
            h = sorted(d.get(node, 10 ** 6) for d in to_authority)[quorum - 1]
            by_hops.setdefault(h, []).append(t - started[(node, seq)])
    values = sorted(round(v, 6) for vs in by_hops.values() for v in vs)
    return {"overall_ms": quantiles_ms(values),
            "by_hops_ms": {str(h): (quantiles_ms(by_hops[h]) or {}) | {"transfers": len(by_hops[h])}
                           for h in sorted(by_hops)},
            "from_reach": "equal to from start: a static field has its quorum in reach from power-on",
            "certified": len(done), "transfers": transfers, "certified_from_start_s": values}

"""The scale run: N nodes placed at random complete peering, then paths are
discovered and a FastPay-sized message delivered between random pairs.
Used by `meshframes bench mesh` and by the tests; it reports what happened
and how long it took, and asserts nothing about speed."""

from __future__ import annotations

import math
import random
import resource
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from meshframes.hosts.collector import fewer_collections
from meshframes.mesh.constants import MeshConfig, RootMode
from meshframes.mesh.events import Deliver
from meshframes.mesh.peers import PlinkState
from meshframes.sim.medium import MediumConfig
from meshframes.sim.network import SimNetwork

# progress(phase, done, total)
Progress = Callable[[str, int, int], None]
PAYLOAD = bytes(449)  # a FastPay certificate with 4 authorities (fastpay-facts)


@dataclass(frozen=True, slots=True)
class ScaleResult:
    nodes: int
    seed: int
    side_m: float
    mean_degree: float
    component: int
    neighbour_pairs: int
    peered_pairs: int
    peering_done_s: float | None
    pairs: int
    delivered: int
    mean_latency_ms: float | None
    max_latency_ms: float | None
    mean_hops: float | None
    transmissions: int
    receptions: int
    events: int
    peering_wall_s: float
    discovery_wall_s: float
    wall_s: float
    peak_rss_mib: float
    digest: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _largest_component(net: SimNetwork) -> list[int]:
    seen: set[int] = set()
    best: list[int] = []
    for start in range(len(net.nodes)):
        if start in seen:
            continue
        part, queue = [start], deque([start])
        seen.add(start)
        while queue:
            for j in net.medium.neighbours(queue.popleft(), 0.0):
                if j not in seen:
                    seen.add(j)
                    part.append(j)
                    queue.append(j)
        if len(part) > len(best):
            best = part
    return sorted(best)


def _peered_pairs(net: SimNetwork) -> int:
    count = 0
    for sim_node in net.nodes:
        for j in net.medium.neighbours(sim_node.index, 0.0):
            if j > sim_node.index and net.peer_state(sim_node.index, j) is PlinkState.ESTAB \
                    and net.peer_state(j, sim_node.index) is PlinkState.ESTAB:
                count += 1
    return count


def peer_fully(net: SimNetwork, neighbour_pairs: int, limit: float, report: Progress) -> float | None:
    """Run in quarter seconds until every neighbour pair has peered; when
    it first had, or None if not by `limit`."""
    while net.now < limit:
        net.run(net.now + 0.25)
        peered = _peered_pairs(net)
        report("peering", peered, neighbour_pairs)
        if peered == neighbour_pairs:
            return net.now
    return None


def run_scale(nodes: int = 1000, pairs: int = 100, seed: int = 7, radio_range: float = 30.0,
              mean_degree: float = 12.0, peering_limit: float = 10.0, delivery_limit: float = 20.0,
              progress: Progress | None = None) -> ScaleResult:
    """Place `nodes` uniformly in a square sized for `mean_degree`, run until
    every neighbour pair has peered (or `peering_limit` virtual seconds),
    then send one message per random pair of the largest component and run
    until all arrive (or `delivery_limit` more virtual seconds)."""
    report = progress or (lambda phase, done, total: None)
    wall0 = time.perf_counter()
    rng = random.Random(seed)
    side = math.sqrt(nodes * math.pi * radio_range ** 2 / mean_degree)
    net = SimNetwork(seed, medium=MediumConfig(radio_range=radio_range))
    for _ in range(nodes):
        net.add_node((rng.uniform(0, side), rng.uniform(0, side)))
    degree = sum(len(net.medium.neighbours(i, 0.0)) for i in range(nodes)) / nodes
    neighbour_pairs = round(degree * nodes / 2)
    component = _largest_component(net)

    step = 0.25
    peering_done = peer_fully(net, neighbour_pairs, peering_limit, report)
    peered = _peered_pairs(net)
    wall1 = time.perf_counter()

    start = net.now
    chosen = [tuple(rng.sample(component, 2)) for _ in range(pairs)]
    sent_at = {}
    message_of: dict[bytes, int] = {}
    for k, (src, dst) in enumerate(chosen):
        when = start + 0.01 * k
        sent_at[k] = when
        message = PAYLOAD[:-4] + k.to_bytes(4, "big")
        message_of[message] = k
        net.send_payload(src, dst, message, at=when)
    latencies: dict[int, float] = {}
    hops: list[int] = []
    while net.now < start + delivery_limit and len(latencies) < pairs:
        net.run(net.now + step)
        for d in net.deliveries:
            if not isinstance(d.message, Deliver) or d.time < start:
                continue
            k = message_of.get(d.message.payload.data, -1)
            if k in sent_at and k not in latencies and chosen[k][1] == d.node:
                latencies[k] = d.time - sent_at[k]
                route = net.path_of(chosen[k][0], chosen[k][1])
                if route is not None:
                    hops.append(len(route) - 1)
        report("discovery", len(latencies), pairs)
    wall2 = time.perf_counter()
    lat = list(latencies.values())
    return ScaleResult(
        nodes=nodes, seed=seed, side_m=round(side, 1), mean_degree=round(degree, 2),
        component=len(component), neighbour_pairs=neighbour_pairs, peered_pairs=peered,
        peering_done_s=peering_done, pairs=pairs, delivered=len(latencies),
        mean_latency_ms=round(1000 * sum(lat) / len(lat), 2) if lat else None,
        max_latency_ms=round(1000 * max(lat), 2) if lat else None,
        mean_hops=round(sum(hops) / len(hops), 2) if hops else None,
        transmissions=net.medium.transmissions, receptions=net.medium.receptions,
        events=net.scheduler.events_run, peering_wall_s=round(wall1 - wall0, 2),
        discovery_wall_s=round(wall2 - wall1, 2), wall_s=round(wall2 - wall0, 2),
        peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        digest=net.trace_digest())


# -- FastPay at scale ----------------------------------------------------------

# Announcements flood the whole mesh, once per party per interval: at ten
# thousand nodes each flood is ten thousand transmissions. The scale run
# lets every party, authorities included, announce once before the
# transfers and not again within the run: first at 1.5 s, spread by
# identity over SCALE_FIRST_ANNOUNCE_SPREAD_S. Nor does an authority
# announce itself again to each station whose path appears: once root
# mode is on, that is every station of the field, each a unicast across
# it from each authority, after the flood already reached them all.
SCALE_ANNOUNCE_INTERVAL_S = 12.0
SCALE_FIRST_ANNOUNCE_SPREAD_S = 0.5
# The transfers begin this long after the last first announcement left,
# time for it to cross the field (47 hops at ten thousand nodes take
# well under 0.1 s).
ANNOUNCE_CROSSING_S = 0.5
# Linux's default Mesh TTL and element TTL (31) do not cross a field of ten
# thousand nodes at this density; Linux allows up to 255 (mesh_ttl,
# mesh_element_ttl). The run raises both to what its layout needs.
LINUX_DEFAULT_TTL = 31
# Authorities on a static field announce themselves as roots at Linux's
# default dot11MeshHWMProotInterval (5000 TU), not at the walking demo's
# 500 TU (meshframes.sim.scenario.AUTHORITY_ROOT_INTERVAL): nothing moves,
# so no path goes stale between announcements.
FIELD_ROOT_INTERVAL = MeshConfig().dot11MeshHWMProotInterval
# In the scale run the authorities take root mode once the field has
# peered, as an operator sets mesh_hwmp_rootmode on a running Linux mesh
# (the first root PREQ leaves at once). Root mode from power-on sends the
# first one before any peering exists, where it reaches nobody, and the
# paths wait a whole interval for the second. The mode is FastPayMesh's,
# as in the demo and every other FastPay run (AUTHORITY_ROOT_MODE: the
# clients alone answer with a PREP). With PREP every station answers each
# root PREQ with a PREP crossing the field to the authority: on ten
# thousand nodes that flood (as nodes^1.5) is most of the air, and no vote
# ever takes those paths.
# What the run does, in the words its output and the README use.
SCALE_SCENARIO = ("the authorities take root mode (proactive PREQ without PREP, the clients answering with a"
                  " PREP) once every neighbour pair has peered; each party announces once (not again to each new"
                  " path); the transfers are asked for all at once, the clients paying at the same time, each its"
                  " own transfers one after another")
SCALE_SIZES = (100, 250, 500, 1000, 2000, 5000, 10000)


@dataclass(frozen=True, slots=True)
class FastPayScale:
    """One size of the FastPay scale run. `results` are virtual-time
    figures, a function of the seed; `costs` what the run cost this
    machine (wall and CPU seconds by phase, peak RSS)."""

    results: dict[str, Any]
    costs: dict[str, Any]


def quantiles_ms(values: list[float]) -> dict[str, float] | None:
    """p50/p90/p99 (nearest rank) and max, in milliseconds."""
    if not values:
        return None
    ordered = sorted(values)
    pick = {f"p{p}": ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] for p in (50, 90, 99)}
    return {k: round(1000 * v, 3) for k, v in (pick | {"max": ordered[-1]}).items()}


def _authority_hops(spots: list[tuple[float, float]], radio_range: float) -> dict[int, int]:
    """The physical graph before any engine exists: hops from the first
    authority's spot to every spot connected to it."""
    from meshframes.bench.mesh import reachable_from
    from meshframes.sim.medium import Medium
    from meshframes.sim.mobility import Static
    from meshframes.sim.scheduler import Scheduler

    field = Medium(Scheduler(), MediumConfig(radio_range=radio_range))
    for k, spot in enumerate(spots):
        field.add_radio(k.to_bytes(6, "big"), Static(spot))
    return reachable_from({i: set(field.neighbours(i, 0.0)) for i in range(len(spots))}, 0)


def field_ttl(nodes: int, seed: int, radio_range: float = 30.0) -> int:
    """The Mesh TTL and element TTL a field needs: Linux's 31, or twice
    the farthest node's hops from the authorities (HWMP paths are longer
    than the fewest hops), at most 255."""
    from meshframes.bench.mesh import field_layout

    _, spots = field_layout(nodes, seed, radio_range)
    return max(LINUX_DEFAULT_TTL, min(255, 2 * max(_authority_hops(spots, radio_range).values()) + 2))


def run_fastpay_scale(nodes: int = 1000, transfers: int = 100, seed: int = 7, *, clients: int = 10,
                      radio_range: float = 30.0, phase_limit: float = 20.0, workdir: str | None = None,
                      progress: Progress | None = None) -> FastPayScale:
    """`nodes` static mesh STAs (meshframes.bench.mesh.field_layout): four
    authorities at the centre, `clients` clients at random among the
    nodes connected to them, relays elsewhere. Run until every neighbour
    pair has peered; then the authorities take FastPay's root mode
    (AUTHORITY_ROOT_MODE) and the run goes on until every node with a
    physical path to each authority has a usable HWMP path to it; once
    every party's announcement has crossed the field, the `transfers` are
    asked for all at once, the clients paying at the same time (each its
    own one after another), until all are certified (each phase at most
    `phase_limit` virtual seconds)."""
    import tempfile

    from meshframes.app.party import AppConfig
    from meshframes.bench.latency import air_kind
    from meshframes.bench.mesh import field_layout, latency_by_hops, paths_missing
    from meshframes.sim.scenario import AUTHORITY_ROOT_MODE, FastPayMesh

    report = progress or (lambda phase, done, total: None)
    wall, cpu = [time.perf_counter()], [time.process_time()]
    phases: list[str] = []

    def lap(name: str) -> None:
        phases.append(name)
        wall.append(time.perf_counter())
        cpu.append(time.process_time())

    side, spots = field_layout(nodes, seed, radio_range)
    hops = _authority_hops(spots, radio_range)
    eccentricity = max(hops.values())
    ttl = field_ttl(nodes, seed, radio_range)
    candidates = [i for i in sorted(hops) if i >= 4]
    if len(candidates) < clients:
        raise ValueError(f"clients: got {clients}, but only {len(candidates)} nodes are connected to the authorities")
    payers = sorted(random.Random(seed + 1).sample(candidates, clients))
    lap("layout")

    with fewer_collections(), tempfile.TemporaryDirectory(prefix="meshframes-scale-", dir=workdir) as tmp:
        mesh = FastPayMesh(tmp, seed=seed, authorities=4, balances=[10 ** 6] * clients,
                           mesh=MeshConfig(dot11MeshTTL=ttl, element_ttl=ttl),
                           medium=MediumConfig(radio_range=radio_range),
                           app=AppConfig(announce_interval=SCALE_ANNOUNCE_INTERVAL_S,
                                         authority_announce_interval=SCALE_ANNOUNCE_INTERVAL_S,
                                         first_announce_spread=SCALE_FIRST_ANNOUNCE_SPREAD_S,
                                         announce_on_new_path=False),
                           authority_root_mode=RootMode.NO_ROOT, root_interval=FIELD_ROOT_INTERVAL)
        chosen = set(payers)
        for k in range(4):
            mesh.add_authority(spots[k])
        for k in payers:
            mesh.add_client(spots[k])
        for k in range(4, nodes):
            if k not in chosen:
                mesh.add_relay(spots[k])
        net = mesh.net
        degree = sum(len(net.medium.neighbours(i, 0.0)) for i in range(nodes)) / nodes
        neighbour_pairs = round(degree * nodes / 2)
        lap("build")

        peering_done = peer_fully(net, neighbour_pairs, phase_limit, report)
        peered = _peered_pairs(net)
        lap("peering")

        roots_at = net.now
        for authority in mesh.authorities:
            net.set_root_mode(authority, AUTHORITY_ROOT_MODE, roots_at)
        pairs = len(hops) * 4
        converged = None
        while net.now < phase_limit * 2:
            missing = paths_missing(mesh, net.now)
            report("paths to authorities", pairs - missing, pairs)
            if missing == 0:
                converged = net.now
                break
            net.run(net.now + 0.25)
        lap("paths")

        announced = AppConfig().first_announce + SCALE_FIRST_ANNOUNCE_SPREAD_S
        begin = max(net.now, announced + ANNOUNCE_CROSSING_S)
        net.run(begin)
        air_before = net.medium.transmissions
        fastpay_air = [0]

        def count(start: float, index: int, mpdu: bytes) -> None:
            if air_kind(mpdu).startswith("fastpay-"):
                fastpay_air[0] += 1

        net.medium.on_air = count
        lat = latency_by_hops(mesh, transfers, spacing=0.0, limit=phase_limit, step=0.05)
        certified = lat["certified"]
        window = net.medium.transmissions - air_before
        lap("transfers")
        results = {
            "scenario": SCALE_SCENARIO, "nodes": nodes, "seed": seed, "authorities": 4, "clients": clients, "transfers": transfers,
            "side_m": round(side, 1), "mean_degree": round(degree, 2), "ttl": ttl,
            "authority_eccentricity_hops": eccentricity, "neighbour_pairs": neighbour_pairs,
            "peered_pairs": peered, "peering_done_s": peering_done, "root_mode_s": round(roots_at, 3),
            "converged_s": converged,
            "transfers_start_s": round(begin, 3), "certified": certified,
            "latency_ms": lat["overall_ms"], "latencies_s": lat["certified_from_start_s"],
            "latency_by_hops_ms": lat["by_hops_ms"],
            "frames": net.medium.transmissions, "frames_in_transfer_window": window,
            "fastpay_frames_per_transfer": round(fastpay_air[0] / certified, 1) if certified else None,
            "air_frames_per_transfer": round(window / certified, 1) if certified else None,
            "events": net.scheduler.events_run, "digest": net.trace_digest()}
        mesh.close()
    costs = {"wall_s": {name: round(wall[k + 1] - wall[k], 2) for k, name in enumerate(phases)}
             | {"total": round(wall[-1] - wall[0], 2)},
             "cpu_s": {name: round(cpu[k + 1] - cpu[k], 2) for k, name in enumerate(phases)}
             | {"total": round(cpu[-1] - cpu[0], 2)},
             "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    return FastPayScale(results, costs)


def growth_exponent(sizes: list[int], values: list[float]) -> float | None:
    """The least-squares slope of log(value) against log(size): the k of
    value ~ size^k."""
    points = [(math.log(n), math.log(v)) for n, v in zip(sizes, values, strict=True) if v > 0]
    if len(points) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    var = sum((x - mx) ** 2 for x, _ in points)
    return round(sum((x - mx) * (y - my) for x, y in points) / var, 3) if var else None

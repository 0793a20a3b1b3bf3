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

    peering_done = None
    step = 0.25
    while net.now < peering_limit:
        net.run(net.now + step)
        peered = _peered_pairs(net)
        report("peering", peered, neighbour_pairs)
        if peered == neighbour_pairs:
            peering_done = net.now
            break
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

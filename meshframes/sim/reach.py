"""Where a quorum was in reach, from the simulator's own geometry: the
oracle that latency is measured against, knowing nothing of the protocol.

Two live nodes are linked while each is within the other's radio range.
The medium delivers a frame to every live node within the transmitter's
range (`Medium.neighbours`), so a link usable both ways needs the distance
within the smaller of the two ranges; the graph of such links is then
undirected, and a client that reaches a quorum reaches it back too.

Links are computed exactly, not sampled. Every mobility model is a
sequence of straight stretches at constant velocity (`Mobility.segments`),
so over any stretch common to two nodes their squared distance is a
quadratic in time, and the times it is within range form one closed
interval found by solving that quadratic. The medium has no sampling
granularity of its own to copy: it asks for positions at each frame's
start, whenever that falls, so any fixed step would miss short contacts
and blur when they begin; exact intervals are what the medium would see
at every instant.

The graph changes only at a link's ends and when a node fails or
recovers. Between two such events it is fixed, so every question below is
answered by sweeping those events once (`ReachOracle.__init__`). A link is
up on the closed interval its ends bound; a node is down from the instant
it fails and up from the instant it recovers.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from meshframes.sim.mobility import Mobility, Point, Segment

if TYPE_CHECKING:
    from meshframes.sim.scenario import FastPayMesh

Interval = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Station:
    """A node as the oracle sees it: where it goes and how far it hears."""

    mobility: Mobility
    radio_range: float


def _at(segment: Segment, t: float) -> Point:
    """The position on a stretch at time t (extrapolated along it)."""
    t0, t1, p0, p1 = segment
    frac = 0.0 if t1 <= t0 else (t - t0) / (t1 - t0)
    return (p0[0] + (p1[0] - p0[0]) * frac, p0[1] + (p1[1] - p0[1]) * frac)


def _covering(segments: list[Segment], t: float) -> Segment:
    """The stretch that holds t strictly inside it, or the first one at t."""
    k = bisect_right([s[1] for s in segments], t)
    return segments[min(k, len(segments) - 1)]


def _within(d0: Point, v: Point, reach: float, span: float) -> Interval | None:
    """The offsets s in [0, span] where |d0 + v s| <= reach, if any."""
    a = v[0] * v[0] + v[1] * v[1]
    b = 2 * (d0[0] * v[0] + d0[1] * v[1])
    c = d0[0] * d0[0] + d0[1] * d0[1] - reach * reach
    if a == 0.0:
        return (0.0, span) if c <= 0 else None
    disc = b * b - 4 * a * c
    if disc < 0:
        return None
    root = math.sqrt(disc)
    lo, hi = (-b - root) / (2 * a), (-b + root) / (2 * a)
    lo, hi = max(lo, 0.0), min(hi, span)
    return (lo, hi) if lo <= hi else None


def link_intervals(a: Station, b: Station, start: float, stop: float) -> list[Interval]:
    """The closed intervals within [start, stop] when a and b are within
    each other's range, in order, touching ones merged."""
    reach = min(a.radio_range, b.radio_range)
    sa, sb = a.mobility.segments(start, stop), b.mobility.segments(start, stop)
    cuts = sorted({start, stop, *(s[0] for s in sa), *(s[1] for s in sa), *(s[0] for s in sb),
                   *(s[1] for s in sb)})
    cuts = [c for c in cuts if start <= c <= stop]
    out: list[Interval] = []
    for t0, t1 in zip(cuts, cuts[1:], strict=False):
        mid = (t0 + t1) / 2
        ga, gb = _covering(sa, mid), _covering(sb, mid)
        pa0, pa1, pb0, pb1 = _at(ga, t0), _at(ga, t1), _at(gb, t0), _at(gb, t1)
        span = t1 - t0
        d0 = (pb0[0] - pa0[0], pb0[1] - pa0[1])
        v = ((pb1[0] - pa1[0] - d0[0]) / span, (pb1[1] - pa1[1] - d0[1]) / span) if span > 0 else (0.0, 0.0)
        found = _within(d0, v, reach, span)
        if found is None:
            continue
        lo, hi = t0 + found[0], t0 + found[1]
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    if len(cuts) == 1:  # start == stop: one instant
        p, q = a.mobility.position(start), b.mobility.position(start)
        if math.dist(p, q) <= reach:
            out.append((start, start))
    return out


class ReachOracle:
    """When each client could reach a quorum of live authorities (by
    committee weight) over links within range both ways, between `start`
    and `stop`.

    `stations` are the mesh's nodes by index (every one relays);
    `authorities` maps an authority's node to its weight; `alive_changes`
    lists (time, node, alive) in time order, every node alive at `start`.
    """

    def __init__(self, stations: Sequence[Station], authorities: Mapping[int, int], threshold: int,
                 alive_changes: Iterable[tuple[float, int, bool]] = (), *, start: float = 0.0,
                 stop: float) -> None:
        if stop < start:
            raise ValueError(f"reach oracle: got stop {stop} before start {start}")
        self.stations = list(stations)
        self.authorities = dict(authorities)
        self.threshold = threshold
        self.start, self.stop = start, stop
        self.alive_changes = sorted(alive_changes, key=lambda c: c[0])
        n = len(self.stations)
        self.links: dict[tuple[int, int], list[Interval]] = {}
        for i in range(n):
            for j in range(i + 1, n):
                found = link_intervals(self.stations[i], self.stations[j], start, stop)
                if found:
                    self.links[(i, j)] = found
        self._sweep()

    # -- the sweep -------------------------------------------------------------

    def _events(self) -> tuple[dict[float, list[tuple[int, int]]], dict[float, list[tuple[int, int]]],
                               dict[float, list[tuple[int, bool]]]]:
        """The links beginning and ending at each instant, and the nodes
        failing or recovering."""
        ups: dict[float, list[tuple[int, int]]] = {}
        downs: dict[float, list[tuple[int, int]]] = {}
        for pair, intervals in self.links.items():
            for lo, hi in intervals:
                ups.setdefault(lo, []).append(pair)
                downs.setdefault(hi, []).append(pair)
        changes: dict[float, list[tuple[int, bool]]] = {}
        for t, node, up in self.alive_changes:
            changes.setdefault(max(t, self.start), []).append((node, up))
        return ups, downs, changes

    def _sweep(self) -> None:
        """At every event time t: which nodes reach a quorum at t (links
        ending at t still up), and just after t (those links gone)."""
        ups, downs, changes = self._events()
        self.times = sorted({self.start, self.stop, *ups, *downs, *(t for t in changes if t <= self.stop)})
        self._at: list[frozenset[int]] = []
        self._after: list[frozenset[int]] = []
        adjacency: dict[int, set[int]] = {i: set() for i in range(len(self.stations))}
        alive = set(range(len(self.stations)))
        for t in self.times:
            for a, b in ups.get(t, ()):
                adjacency[a].add(b)
                adjacency[b].add(a)
            for node, up in changes.get(t, ()):
                (alive.add if up else alive.discard)(node)
            now = self._reaching(adjacency, alive)
            self._at.append(now)
            ending = downs.get(t, ())
            for a, b in ending:
                adjacency[a].discard(b)
                adjacency[b].discard(a)
            self._after.append(self._reaching(adjacency, alive) if ending else now)

    def _reaching(self, adjacency: Mapping[int, set[int]], alive: set[int]) -> frozenset[int]:
        """The live nodes whose connected component weighs a quorum."""
        seen: set[int] = set()
        out: set[int] = set()
        for root in alive:
            if root in seen:
                continue
            component = self._component(root, adjacency, alive)
            seen |= component
            if sum(self.authorities.get(node, 0) for node in component) >= self.threshold:
                out |= component
        return frozenset(out)

    def _holds(self, node: int, t: float) -> bool:
        """Whether `node` reaches a quorum at instant t."""
        k = bisect_right(self.times, t) - 1
        if k < 0:
            return False
        return node in (self._at[k] if self.times[k] == t else self._after[k])

    # -- questions -------------------------------------------------------------

    def first_reach(self, node: int, since: float) -> float | None:
        """The first instant at or after `since` (and by `stop`) when
        `node` reaches a quorum of live authorities, or None."""
        if since > self.stop:
            return None
        since = max(since, self.start)
        if self._holds(node, since):
            return since
        for k in range(bisect_right(self.times, since), len(self.times)):
            if node in self._at[k]:
                return self.times[k]
        return None

    def throughout(self, node: int, begin: float, end: float) -> bool:
        """Whether `node` reaches a quorum at every instant of [begin, end]."""
        begin, end = max(begin, self.start), min(end, self.stop)
        if not self._holds(node, begin):
            return False
        first = bisect_right(self.times, begin)
        for k in range(bisect_left(self.times, begin), len(self.times)):
            t = self.times[k]
            if t > end:
                break
            if k >= first and node not in self._at[k]:
                return False
            if t < end and node not in self._after[k]:
                return False
        return True

    def held_from(self, node: int, t: float) -> float:
        """How long `node`, reaching a quorum at instant t, goes on reaching
        one without a break (up to `stop`); 0.0 if it does not at t."""
        t = max(t, self.start)
        if t > self.stop or not self._holds(node, t):
            return 0.0
        first = bisect_right(self.times, t)
        for k in range(bisect_left(self.times, t), len(self.times)):
            if (k >= first and node not in self._at[k]) or node not in self._after[k]:
                return self.times[k] - t
        return self.stop - t

    def longest_together(self, node: int, others: Iterable[int], begin: float, end: float) -> dict[int, float]:
        """For each of `others`, the longest stretch of [begin, end] through
        which it and `node` were both alive and joined by a path of links
        (0.0 if never)."""
        wanted = set(others)
        begin, end = max(begin, self.start), min(end, self.stop)
        best = dict.fromkeys(wanted, 0.0)
        if end < begin:
            return best
        adjacency: dict[int, set[int]] = {i: set() for i in range(len(self.stations))}
        alive = set(range(len(self.stations)))
        events, downs, changes = self._events()
        since: dict[int, float] = {}

        def observe(t: float) -> None:
            joined = self._component(node, adjacency, alive) & wanted
            for other in wanted:
                if other in joined:
                    since.setdefault(other, t)
                elif other in since:
                    best[other] = max(best[other], t - since.pop(other))

        for t in sorted({begin, end, *events, *downs, *changes}):
            if t > end:
                break
            for a, b in events.get(t, ()):
                adjacency[a].add(b)
                adjacency[b].add(a)
            for who, up in changes.get(t, ()):
                (alive.add if up else alive.discard)(who)
            if t >= begin:
                observe(t)
            ending = downs.get(t, ())
            for a, b in ending:
                adjacency[a].discard(b)
                adjacency[b].discard(a)
            if ending and begin <= t < end:
                observe(t)
        for other, t in since.items():
            best[other] = max(best[other], end - t)
        return best

    @staticmethod
    def _component(node: int, adjacency: Mapping[int, set[int]], alive: set[int]) -> set[int]:
        if node not in alive:
            return set()
        component = {node}
        queue = deque([node])
        while queue:
            here = queue.popleft()
            for other in adjacency[here]:
                if other in alive and other not in component:
                    component.add(other)
                    queue.append(other)
        return component

    def neighbours(self, node: int, t: float) -> set[int]:
        """The live nodes linked to `node` at instant t."""
        if not self._alive(node, t):
            return set()
        out = set()
        for (a, b), intervals in self.links.items():
            if node in (a, b) and any(lo <= t <= hi for lo, hi in intervals):
                other = b if a == node else a
                if self._alive(other, t):
                    out.add(other)
        return out

    def quorum_hops(self, node: int, t: float) -> int | None:
        """The fewest hops h such that the live authorities within h hops
        of `node` at instant t weigh a quorum, or None if none do."""
        if not self._alive(node, t):
            return None
        adjacency: dict[int, list[int]] = {}
        for (a, b), intervals in self.links.items():
            if any(lo <= t <= hi for lo, hi in intervals) and self._alive(a, t) and self._alive(b, t):
                adjacency.setdefault(a, []).append(b)
                adjacency.setdefault(b, []).append(a)
        hops = {node: 0}
        queue = deque([node])
        weight = self.authorities.get(node, 0)
        if weight >= self.threshold:
            return 0
        while queue:
            here = queue.popleft()
            for other in adjacency.get(here, ()):
                if other not in hops:
                    hops[other] = hops[here] + 1
                    weight += self.authorities.get(other, 0)
                    if weight >= self.threshold:
                        return hops[other]
                    queue.append(other)
        return None

    def _alive(self, node: int, t: float) -> bool:
        alive = True
        for when, who, up in self.alive_changes:
            if when > t:
                break
            if who == node:
                alive = up
        return alive


def mesh_oracle(mesh: FastPayMesh, stop: float) -> ReachOracle:
    """The oracle for a FastPayMesh run up to `stop`: its nodes as the
    medium places them, its committee's weights and quorum, its failures
    and recoveries as scheduled."""
    radios = [node.radio for node in mesh.net.nodes]
    committee = mesh.committee
    weights = {node: committee.authorities[i].weight for i, node in enumerate(mesh.authorities)}
    return ReachOracle([Station(r.mobility, r.radio_range) for r in radios], weights,
                       committee.quorum_threshold, mesh.alive_changes, stop=stop)

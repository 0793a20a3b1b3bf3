"""Node positions: fixed, or random waypoint (pick a point in the area and
a speed, walk there in a straight line, pause, repeat), seeded.

A model answers for any time, past ones included: the pictures draw where
nodes were and how they walked after the run is over."""

from __future__ import annotations

import math
import random
from bisect import bisect_left, bisect_right
from typing import Protocol

Point = tuple[float, float]
# A straight stretch of a walk: from p0 at t0 to p1 at t1, at constant
# velocity (p0 == p1 for a stay).
Segment = tuple[float, float, Point, Point]


class Mobility(Protocol):
    @property
    def max_speed(self) -> float | None:
        """The fastest it ever moves, m/s; None if it can jump (the medium's
        spatial index must then look at it for every transmission)."""
        ...

    def position(self, t: float) -> Point: ...

    def path(self, start: float, stop: float) -> list[Point]:
        """The walk from `start` to `stop` as a polyline: the position at
        `start`, every point it turned at in between, the position at `stop`."""
        ...

    def segments(self, start: float, stop: float) -> list[Segment]:
        """The walk from `start` to `stop` as timed straight stretches
        covering [start, stop] in order, each at constant velocity: what
        `path` draws, with the times it turned at."""
        ...


class Static:
    max_speed = 0.0

    def __init__(self, point: Point) -> None:
        self.point = point

    def position(self, t: float) -> Point:
        return self.point

    def path(self, start: float, stop: float) -> list[Point]:
        return [self.point, self.point]

    def segments(self, start: float, stop: float) -> list[Segment]:
        return [(start, stop, self.point, self.point)]


class _Legs:
    """A walk as straight legs (t0, t1, p0, p1), each starting where and
    when the one before ended; before the first leg the walker is at
    `origin`, after the last at its end. Every leg is kept (a walk of a
    few minutes has a few legs per node), and found by bisection on the
    legs' end times, or at once when it is the leg asked about last (the
    simulator asks about times in order, a million times a run)."""

    def __init__(self, origin: Point) -> None:
        self._origin = origin
        self._legs: list[tuple[float, float, Point, Point]] = []
        self._ends: list[float] = []  # each leg's t1, for bisection
        # Per leg: the times it answers for, (the previous leg's t1, its
        # t1], and what the interpolation needs, computed once: t0, p0,
        # p1 - p0 and t1 - t0 (the same floats position's formula makes).
        self._spans: list[tuple[float, float, float, float, float, float, float, float]] = []
        self._last = 0

    def _add(self, t0: float, t1: float, p0: Point, p1: Point) -> None:
        after = self._ends[-1] if self._ends else -math.inf
        self._legs.append((t0, t1, p0, p1))
        self._ends.append(t1)
        self._spans.append((after, t1, t0, p0[0], p0[1], p1[0] - p0[0], p1[1] - p0[1], t1 - t0))

    def _cover(self, t: float) -> None:
        """Make sure the legs reach time t (a lazy walk draws them here)."""

    def position(self, t: float) -> Point:
        ends = self._ends
        if not ends or t > ends[-1]:
            self._cover(t)
            if not ends:
                return self._origin
            if t > ends[-1]:
                return self._legs[-1][3]
        k = self._last
        after, t1, t0, x0, y0, dx, dy, span = self._spans[k]
        if not after < t <= t1:
            k = self._last = bisect_left(ends, t)  # the first leg still under way at t
            after, t1, t0, x0, y0, dx, dy, span = self._spans[k]
        frac = 1.0 if t1 <= t0 else max(0.0, (t - t0) / span)
        return (x0 + dx * frac, y0 + dy * frac)

    def path(self, start: float, stop: float) -> list[Point]:
        self._cover(stop)
        turns = [self._legs[k][3] for k in range(bisect_right(self._ends, start), bisect_left(self._ends, stop))]
        return [self.position(start), *turns, self.position(stop)]

    def segments(self, start: float, stop: float) -> list[Segment]:
        self._cover(stop)
        # Cut at every leg's start and end in between (a walk that starts
        # late stays at its origin until its first leg begins).
        turns = {t for leg in self._legs[bisect_right(self._ends, start):] for t in leg[:2] if start < t < stop}
        cuts = [start, *sorted(turns), stop]
        return [(a, b, self.position(a), self.position(b)) for a, b in zip(cuts, cuts[1:], strict=False)]


class RandomWaypoint(_Legs):
    """Legs are drawn lazily in time order from the model's own RNG, so the
    trajectory depends only on the seed, whatever times it is asked about."""

    def __init__(self, start: Point, area: tuple[float, float], speed: tuple[float, float],
                 seed: int, pause: float = 0.0) -> None:
        # A walk that can never get anywhere would draw legs forever.
        if min(area) <= 0 or min(speed) <= 0:
            raise ValueError(f"random waypoint: got area {area} and speed {speed}, expected both positive")
        super().__init__(start)
        self.area = area
        self.speed = speed
        self.max_speed = speed[1]
        self.pause = pause
        self._rng = random.Random(seed)
        self._extend_from(0.0, start)

    def _extend_from(self, t0: float, p0: Point) -> None:
        target = (self._rng.uniform(0, self.area[0]), self._rng.uniform(0, self.area[1]))
        speed = self._rng.uniform(*self.speed)
        t1 = t0 + math.dist(p0, target) / speed
        self._add(t0, t1, p0, target)
        if self.pause > 0:
            self._add(t1, t1 + self.pause, target, target)

    def _cover(self, t: float) -> None:
        while self._ends[-1] < t:
            self._extend_from(self._ends[-1], self._legs[-1][3])


class Waypoints(_Legs):
    """Walk through given points at a fixed speed from time t0, then stay."""

    def __init__(self, points: list[Point], speed: float, t0: float = 0.0) -> None:
        super().__init__(points[0])
        self.max_speed = speed
        t = t0
        for p0, p1 in zip(points, points[1:], strict=False):
            t1 = t + math.dist(p0, p1) / speed
            self._add(t, t1, p0, p1)
            t = t1


class Relocated:
    """A node carried to `point` at time `at` (the shell's `move`): where
    `before` put it until then, so that earlier instants stay true, and at
    `point` from then on."""

    max_speed = None

    def __init__(self, before: Mobility, at: float, point: Point) -> None:
        self.before = before
        self.at = at
        self.point = point

    def position(self, t: float) -> Point:
        return self.point if t >= self.at else self.before.position(t)

    def path(self, start: float, stop: float) -> list[Point]:
        if stop <= self.at:
            return self.before.path(start, stop)
        if start >= self.at:
            return [self.point, self.point]
        # Carried, not walked: the walk up to the move, then the new place.
        return [*self.before.path(start, self.at), self.point]

    def segments(self, start: float, stop: float) -> list[Segment]:
        if stop <= self.at:
            return self.before.segments(start, stop)
        if start >= self.at:
            return [(start, stop, self.point, self.point)]
        # The jump at `at` is between two stretches: the later one starts there.
        return [*self.before.segments(start, self.at), (self.at, stop, self.point, self.point)]

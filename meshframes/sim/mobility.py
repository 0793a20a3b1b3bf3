"""Node positions: fixed, or random waypoint (pick a point in the area and
a speed, walk there in a straight line, pause, repeat), seeded."""

from __future__ import annotations

import math
import random
from typing import Protocol

Point = tuple[float, float]


class Mobility(Protocol):
    def position(self, t: float) -> Point: ...


class Static:
    def __init__(self, point: Point) -> None:
        self.point = point

    def position(self, t: float) -> Point:
        return self.point


class RandomWaypoint:
    """Legs are drawn lazily in time order from the model's own RNG, so the
    trajectory depends only on the seed, whatever times it is asked about."""

    def __init__(self, start: Point, area: tuple[float, float], speed: tuple[float, float],
                 seed: int, pause: float = 0.0) -> None:
        self.area = area
        self.speed = speed
        self.pause = pause
        self._rng = random.Random(seed)
        self._legs: list[tuple[float, float, Point, Point]] = []  # (t0, t1, p0, p1)
        self._extend_from(0.0, start)

    def _extend_from(self, t0: float, p0: Point) -> None:
        target = (self._rng.uniform(0, self.area[0]), self._rng.uniform(0, self.area[1]))
        speed = self._rng.uniform(*self.speed)
        t1 = t0 + math.dist(p0, target) / speed
        self._legs.append((t0, t1, p0, target))
        if self.pause > 0:
            self._legs.append((t1, t1 + self.pause, target, target))

    def position(self, t: float) -> Point:
        while self._legs[-1][1] < t:
            self._extend_from(self._legs[-1][1], self._legs[-1][3])
        while len(self._legs) > 2 and self._legs[1][1] < t:
            self._legs.pop(0)
        for t0, t1, p0, p1 in self._legs:
            if t <= t1:
                frac = 0.0 if t1 == t0 else max(0.0, (t - t0) / (t1 - t0))
                return (p0[0] + (p1[0] - p0[0]) * frac, p0[1] + (p1[1] - p0[1]) * frac)
        return self._legs[-1][3]


class Waypoints:
    """Walk through given points at a fixed speed from time t0, then stay."""

    def __init__(self, points: list[Point], speed: float, t0: float = 0.0) -> None:
        self._legs: list[tuple[float, float, Point, Point]] = []
        t = t0
        for p0, p1 in zip(points, points[1:], strict=False):
            t1 = t + math.dist(p0, p1) / speed
            self._legs.append((t, t1, p0, p1))
            t = t1
        self._start = points[0]
        self._end = points[-1]

    def position(self, t: float) -> Point:
        if not self._legs or t <= self._legs[0][0]:
            return self._start
        for t0, t1, p0, p1 in self._legs:
            if t <= t1:
                frac = (t - t0) / (t1 - t0) if t1 > t0 else 1.0
                return (p0[0] + (p1[0] - p0[0]) * frac, p0[1] + (p1[1] - p0[1]) * frac)
        return self._end


class Relocated:
    """A node carried to `point` at time `at` (the shell's `move`): where
    `before` put it until then, so that earlier instants stay true, and at
    `point` from then on."""

    def __init__(self, before: Mobility, at: float, point: Point) -> None:
        self.before = before
        self.at = at
        self.point = point

    def position(self, t: float) -> Point:
        return self.point if t >= self.at else self.before.position(t)

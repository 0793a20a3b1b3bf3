"""Which radios a transmission can reach, found through a grid of cells one
radio range wide instead of a scan of every radio.

The grid holds where each radio was at one instant, its epoch. A radio
whose model bounds its speed (`Mobility.max_speed`) has since moved at
most that speed times the time elapsed, so at an instant t every radio
within distance r of a point lies in the cells that cover r plus that
slack around the point. The grid is built again once the slack would pass
half a cell, so a query reads at most five cells by five; a field where
nothing moves keeps one grid for ever. A radio whose model cannot bound
its speed (a node carried somewhere at once) is never put in a cell and
is checked at every query.

The index only narrows the candidates: whether a radio is within range is
decided on its exact position at t by the same comparison a scan of every
radio makes, and the answer is in index order, so the medium draws its
random numbers and writes its trace exactly as a scan would have it. Only
a candidate whose place in the grid leaves the answer open has its exact
position worked out: one that was, at the epoch, nearer than the reach
less the slack is within reach now, and one farther than the reach plus
the slack is not, whatever way it walked since.

Where every radio bounds its speed, an answer is also kept per radio
with the time it holds for: two radios that were d apart at t are at
most twice the top speed times the time elapsed nearer or farther, so no
radio crosses the reach before the one nearest to crossing could have.
Asked again within that time, the index gives the same answer at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

from meshframes.sim.mobility import Mobility, Point

Cell = tuple[int, int]
# Floating-point room for the interpolated positions; far below any range.
_MARGIN_M = 1e-6
# How far beyond the reach a kept answer looks: radios farther than this
# past it cannot come into reach before the answer expires.
_SETTLED_M = 3.0


class Placed(Protocol):
    index: int
    mobility: Mobility


class CellIndex:
    def __init__(self, cell: float) -> None:
        if cell <= 0:
            raise ValueError(f"cell size: got {cell}, expected a positive distance")
        self.cell = cell
        self.rebuilds = 0
        self._radios: Sequence[Placed] = ()
        self._cells: dict[Cell, list[int]] = {}
        # Where each radio was at the epoch; None for one never put in a cell.
        self._placed: list[Point | None] = []
        self._unbounded: list[int] = []
        self._max_speed = 0.0
        self._epoch: float | None = None
        # How long a grid stays usable: until the fastest radio may have
        # gone half a cell from where the grid put it.
        self._horizon = math.inf
        # Radio index -> (time, reach, how long after or before that time
        # the answer stays true, the answer).
        self._kept: dict[int, tuple[float, float, float, list[int]]] = {}

    def reset(self, radios: Sequence[Placed]) -> None:
        """Index these radios afresh (one was added or given a new model)."""
        self._radios = radios
        self._epoch = None
        speeds = [r.mobility.max_speed for r in radios]
        self._unbounded = [r.index for r, v in zip(radios, speeds, strict=True) if v is None]
        self._max_speed = max((v for v in speeds if v is not None), default=0.0)
        self._horizon = math.inf if self._max_speed == 0 else 0.5 * self.cell / self._max_speed
        self._kept = {}

    def within(self, index: int, reach: float, t: float) -> list[int]:
        """The radios other than `index` whose position at t is within
        `reach` of `index`'s position at t, in index order."""
        if self._epoch is None or abs(t - self._epoch) > self._horizon:
            self._build(t)
        epoch = self._epoch
        assert epoch is not None
        kept = self._kept.get(index)
        if kept is not None and kept[1] == reach and abs(t - kept[0]) < kept[2]:
            return list(kept[3])
        radios = self._radios
        here = radios[index].mobility.position(t)
        slack = self._max_speed * abs(t - epoch) + _MARGIN_M
        keep = not self._unbounded
        bound = reach + slack + (_SETTLED_M if keep else 0.0)
        size = self.cell
        x0, x1 = math.floor((here[0] - bound) / size), math.floor((here[0] + bound) / size)
        y0, y1 = math.floor((here[1] - bound) / size), math.floor((here[1] + bound) / size)
        cells = self._cells
        candidates = list(self._unbounded)
        for cx in range(x0, x1 + 1):
            for cy in range(y0, y1 + 1):
                members = cells.get((cx, cy))
                if members is not None:
                    candidates.extend(members)
        candidates.sort()
        dist = math.dist
        found = []
        if keep:
            # Every radio outside these cells is more than _SETTLED_M past the reach.
            nearest = _SETTLED_M
            for j in candidates:
                if j == index:
                    continue
                apart = dist(here, radios[j].mobility.position(t))
                if apart <= reach:
                    found.append(j)
                nearest = min(nearest, abs(apart - reach))
            closing = 2 * self._max_speed
            self._kept[index] = (t, reach, (nearest - _MARGIN_M) / closing if closing else math.inf, found)
            return list(found)
        placed = self._placed
        surely = reach - slack
        for j in candidates:
            if j == index:
                continue
            then = placed[j]
            if then is not None:
                apart = dist(here, then)
                if apart > bound:
                    continue
                if apart <= surely:
                    found.append(j)
                    continue
            if dist(here, radios[j].mobility.position(t)) <= reach:
                found.append(j)
        return found

    def _build(self, t: float) -> None:
        self.rebuilds += 1
        self._epoch = t
        size = self.cell
        cells: dict[Cell, list[int]] = {}
        placed: list[Point | None] = [None] * len(self._radios)
        for radio in self._radios:
            if radio.mobility.max_speed is None:
                continue
            x, y = placed[radio.index] = radio.mobility.position(t)
            cells.setdefault((math.floor(x / size), math.floor(y / size)), []).append(radio.index)
        self._cells = cells
        self._placed = placed

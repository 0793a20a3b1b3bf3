"""Click parameter types the simulation commands share (`demo`, `shell --sim`,
`bench latency`)."""

from __future__ import annotations

import math
from typing import Any

import click

# A virtual day: longer runs are a typo, not an experiment (the run's cost
# grows linearly with virtual time).
MAX_DURATION = 86_400.0
# A field side below 10 m makes the random walk turn thousands of times a
# second (each leg is drawn and kept); above 10 km nobody hears anybody.
AREA_SIDE = (10.0, 10_000.0)


class Finite(click.FloatRange):
    """A FloatRange that refuses nan, which passes its bounds (every
    comparison with nan is false), and inf when unbounded."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        number: float = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"got {value!r}, expected a finite number", param, ctx)
        return number


class Area(click.ParamType[tuple[float, float]]):
    """WIDTHxHEIGHT in metres, each side within AREA_SIDE."""

    name = "area"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[float, float]:
        if isinstance(value, tuple):  # already converted: click asks that convert accept its own output
            return value
        try:
            width, height = (float(v) for v in str(value).lower().split("x"))
        except ValueError:
            width = height = math.nan  # refused below, with the same message
        low, high = AREA_SIDE
        if not (low <= width <= high and low <= height <= high):
            self.fail(f"got {value!r}, expected WIDTHxHEIGHT in metres, each side from {low:g} to {high:g},"
                      f" e.g. 150x120", param, ctx)
        return width, height


# More seeds than a day of runs: a typo, not an experiment.
MAX_SEEDS = 1000


class SeedRange(click.ParamType[tuple[int, int]]):
    """A, or A-B with A <= B: the seeds A to B inclusive (non-negative)."""

    name = "seeds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, int]:
        if isinstance(value, tuple):  # already converted
            return value
        text = str(value).strip()
        first, _, last = text.partition("-")
        try:
            low, high = int(first), int(last if last else first)
        except ValueError:
            self.fail(f"got {value!r}, expected A or A-B, e.g. 1-20", param, ctx)
        if low < 0 or high < low:
            self.fail(f"got {value!r}, expected A-B with 0 <= A <= B, e.g. 1-20", param, ctx)
        if high - low + 1 > MAX_SEEDS:
            self.fail(f"got {value!r}: {high - low + 1} seeds, expected at most {MAX_SEEDS}", param, ctx)
        return low, high

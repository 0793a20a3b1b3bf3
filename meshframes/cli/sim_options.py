"""Click parameter types the simulation commands share (`demo`, `shell --sim`)."""

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

"""The medium's spatial index gives every transmission the receivers a scan
of every radio gives, on random layouts, walks and carried nodes."""

from __future__ import annotations

import math
import random

import pytest

from meshframes.sim.medium import Medium, MediumConfig
from meshframes.sim.mobility import Mobility, RandomWaypoint, Relocated, Static, Waypoints
from meshframes.sim.scheduler import Scheduler
from meshframes.sim.spatial import CellIndex


def scan(medium: Medium, index: int, t: float) -> list[int]:
    """Every radio, one by one: the rule the index must reproduce."""
    me = medium.radios[index]
    here = me.mobility.position(t)
    return [r.index for r in medium.radios
            if r.index != index and math.dist(here, r.mobility.position(t)) <= me.radio_range]


def layout(seed: int, count: int, moving: float, carried: float) -> Medium:
    """`count` radios on an area sized for about eight neighbours each,
    ranges 20-30 m; a share of them walks, a share is carried elsewhere."""
    rng = random.Random(seed)
    side = math.sqrt(count * math.pi * 25.0 ** 2 / 8)
    medium = Medium(Scheduler(), MediumConfig(radio_range=25.0), seed)
    for i in range(count):
        start = (rng.uniform(0, side), rng.uniform(0, side))
        mobility: Mobility
        roll = rng.random()
        if roll < moving / 2:
            mobility = RandomWaypoint(start, (side, side), (0.5, rng.uniform(1.0, 40.0)), rng.getrandbits(32),
                                      pause=rng.choice((0.0, 2.0)))
        elif roll < moving:
            mobility = Waypoints([start, (rng.uniform(0, side), rng.uniform(0, side))], rng.uniform(1.0, 10.0),
                                 t0=rng.uniform(0, 20))
        else:
            mobility = Static(start)
        if rng.random() < carried:
            mobility = Relocated(mobility, rng.uniform(0, 30), (rng.uniform(0, side), rng.uniform(0, side)))
        medium.add_radio(bytes([2, 0, 0, 0, i >> 8, i & 0xFF]), mobility, rng.uniform(20.0, 30.0))
    return medium


@pytest.mark.parametrize(("seed", "moving", "carried"), [(1, 0.0, 0.0), (2, 1.0, 0.0), (3, 0.5, 0.1),
                                                          (4, 0.8, 0.3)])
def test_index_finds_what_a_scan_finds(seed: int, moving: float, carried: float) -> None:
    """At random instants, forwards and a little back in time as frame
    starts are, every radio's receivers through the index equal a scan's."""
    medium = layout(seed, 200, moving, carried)
    rng = random.Random(seed)
    t, heard = 0.0, 0
    for _ in range(50):
        t = max(0.0, t + rng.choice((rng.uniform(0, 0.3), rng.uniform(0, 8.0), -rng.uniform(0, 0.01))))
        for index in range(len(medium.radios)):
            expected = scan(medium, index, t)
            assert medium.neighbours(index, t) == expected, (index, t)
            heard += len(expected)
    assert heard > 50 * 200  # connected enough to test something


def test_index_agrees_on_every_radio_of_a_still_field_and_after_a_move() -> None:
    """A field where nothing moves keeps one neighbour list per radio; a
    node carried elsewhere (the shell's move) changes it at once."""
    medium = layout(5, 200, 0.0, 0.0)
    assert all(medium.neighbours(i, 0.0) == scan(medium, i, 0.0) for i in range(200))
    first = next(i for i in range(200) if medium.neighbours(i, 0.0))
    medium.scheduler.now = 10.0
    medium.set_mobility(first, Relocated(medium.radios[first].mobility, 10.0, (-500.0, -500.0)))
    assert medium.neighbours(first, 10.0) == [] == scan(medium, first, 10.0)
    assert all(medium.neighbours(i, 10.0) == scan(medium, i, 10.0) for i in range(200))
    assert all(medium.neighbours(i, 5.0) == scan(medium, i, 5.0) for i in range(200))


def test_the_grid_is_rebuilt_only_when_walkers_may_have_left_their_cells() -> None:
    """Walkers at most 2 m/s in 30 m cells: a new grid every 7.5 s of
    virtual time, however many transmissions ask in between."""
    medium = Medium(Scheduler(), MediumConfig(radio_range=30.0), 1)
    for i in range(50):
        medium.add_radio(bytes([2, 0, 0, 0, 0, i]), RandomWaypoint((i * 10.0, 0.0), (500.0, 500.0), (1.0, 2.0), i))
    for k in range(1000):
        medium.neighbours(k % 50, k * 0.03)  # 30 s
    assert medium._index.rebuilds == 4


def test_cell_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="got 0"):
        CellIndex(0.0)

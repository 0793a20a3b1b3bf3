"""The reachability oracle on geometries whose answer is known by hand."""

from __future__ import annotations

import math

import pytest

from meshframes.sim.mobility import Relocated, Static, Waypoints
from meshframes.sim.reach import ReachOracle, Station, link_intervals, mesh_oracle
from meshframes.sim.scenario import FastPayMesh


def _line(n: int, spacing: float, radio_range: float = 30.0) -> list[Station]:
    return [Station(Static((i * spacing, 0.0)), radio_range) for i in range(n)]


def test_static_line_reaches_the_quorum_at_once() -> None:
    """A client at the end of a line of four authorities 20 m apart reaches all of them at t=0."""
    stations = _line(5, 20.0)  # node 0 the client, 1..4 the authorities
    oracle = ReachOracle(stations, {1: 1, 2: 1, 3: 1, 4: 1}, threshold=3, stop=60.0)
    assert oracle.first_reach(0, 0.0) == 0.0
    assert oracle.first_reach(0, 12.5) == 12.5
    assert oracle.throughout(0, 0.0, 60.0)
    assert oracle.quorum_hops(0, 0.0) == 3


def test_out_of_range_line_never_reaches() -> None:
    """Authorities 40 m apart with 30 m radios are islands: no quorum, ever."""
    oracle = ReachOracle(_line(5, 40.0), {1: 1, 2: 1, 3: 1, 4: 1}, threshold=3, stop=60.0)
    assert oracle.first_reach(0, 0.0) is None
    assert oracle.quorum_hops(0, 0.0) is None


def test_the_smaller_range_decides_a_link() -> None:
    """25 m apart, ranges 30 and 20: one hears the other, not back, so no link."""
    near = link_intervals(Station(Static((0.0, 0.0)), 30.0), Station(Static((25.0, 0.0)), 20.0), 0.0, 10.0)
    both = link_intervals(Station(Static((0.0, 0.0)), 30.0), Station(Static((25.0, 0.0)), 25.0), 0.0, 10.0)
    assert near == []
    assert both == [(0.0, 10.0)]


def test_walking_client_reaches_when_it_enters_range() -> None:
    """A client walking at 2 m/s from x=-100 towards authorities at x=0..10 reaches them at t=35."""
    # The nearest authority is at x=0 and the range is 30 m: the client
    # enters range at x=-30, 70 m into its walk, at 70 / 2 = 35 s.
    client = Station(Waypoints([(-100.0, 0.0), (100.0, 0.0)], speed=2.0), 30.0)
    authorities = [Station(Static((x, 0.0)), 30.0) for x in (0.0, 5.0, 10.0, 15.0)]
    oracle = ReachOracle([client, *authorities], {1: 1, 2: 1, 3: 1, 4: 1}, threshold=3, stop=200.0)
    assert oracle.first_reach(0, 0.0) == pytest.approx(35.0)
    assert oracle.first_reach(0, 40.0) == 40.0
    # The authorities, 5 m apart, relay for each other: the quorum stays in
    # reach until the client leaves the last of them (x=15+30=45, t=72.5).
    assert oracle.throughout(0, 35.0, 72.5)
    assert not oracle.throughout(0, 35.0, 72.6)
    assert oracle.held_from(0, 35.0) == pytest.approx(37.5)
    assert oracle.held_from(0, 50.0) == pytest.approx(22.5)
    assert oracle.held_from(0, 30.0) == 0.0 and oracle.held_from(0, 80.0) == 0.0
    assert oracle.first_reach(0, 72.6) is None
    assert oracle.quorum_hops(0, 35.0) == 2  # x=0, then x=5 and x=10 one hop further


def test_walk_that_starts_late_stays_at_its_origin() -> None:
    """Waypoints from t0=10: the walker is still at its origin until then."""
    walker = Station(Waypoints([(-60.0, 0.0), (0.0, 0.0)], speed=3.0, t0=10.0), 30.0)
    post = Station(Static((0.0, 0.0)), 30.0)
    # 30 m left to go from x=-60 at 3 m/s after t=10: in range at t=20.
    [(lo, hi)] = link_intervals(walker, post, 0.0, 100.0)
    assert lo == pytest.approx(20.0)
    assert hi == 100.0


def test_relocated_node_links_from_the_move() -> None:
    """A node carried next to another at t=5 is linked from t=5 on, not before."""
    carried = Station(Relocated(Static((500.0, 0.0)), 5.0, (10.0, 0.0)), 30.0)
    [(lo, hi)] = link_intervals(carried, Station(Static((0.0, 0.0)), 30.0), 0.0, 20.0)
    assert (lo, hi) == (5.0, 20.0)


def test_authority_failing_leaves_no_quorum() -> None:
    """Four authorities in range, one fails at 10 s and another at 20 s: reach holds until 20 s."""
    oracle = ReachOracle(_line(5, 5.0), {1: 1, 2: 1, 3: 1, 4: 1}, threshold=3,
                         alive_changes=[(10.0, 4, False), (20.0, 3, False)], stop=60.0)
    assert oracle.first_reach(0, 15.0) == 15.0
    assert oracle.throughout(0, 0.0, 19.9)
    assert oracle.first_reach(0, 20.0) is None
    assert not oracle.throughout(0, 0.0, 20.0)
    # Lost at the instant of the second failure, held up to it.
    assert oracle.held_from(0, 0.0) == pytest.approx(20.0)
    assert oracle.held_from(0, 15.0) == pytest.approx(5.0)


def test_failed_relay_cuts_the_path() -> None:
    """The only relay between a client and three authorities fails at 10 s; it recovers at 30 s."""
    stations = [Station(Static((0.0, 0.0)), 30.0), Station(Static((25.0, 0.0)), 30.0),
                *(Station(Static((50.0, float(y))), 30.0) for y in (0, 1, 2))]
    oracle = ReachOracle(stations, {2: 1, 3: 1, 4: 1}, threshold=3,
                         alive_changes=[(10.0, 1, False), (30.0, 1, True)], stop=60.0)
    assert oracle.first_reach(0, 0.0) == 0.0
    assert oracle.first_reach(0, 10.0) == 30.0
    assert oracle.quorum_hops(0, 0.0) == 2
    assert oracle.neighbours(0, 20.0) == set()


def test_longest_stretch_together_over_a_relay_that_fails_and_recovers() -> None:
    """A relay joins a client to an authority except from 10 s to 30 s:
    the longest stretch together from 5 s to 60 s is the last 30 s; a
    station never in range has none."""
    stations = [Station(Static((0.0, 0.0)), 30.0), Station(Static((25.0, 0.0)), 30.0),
                Station(Static((50.0, 0.0)), 30.0), Station(Static((500.0, 0.0)), 30.0)]
    oracle = ReachOracle(stations, {2: 1}, threshold=1,
                         alive_changes=[(10.0, 1, False), (30.0, 1, True)], stop=60.0)
    assert oracle.longest_together(2, [0, 3], 5.0, 60.0) == {0: 30.0, 3: 0.0}
    assert oracle.longest_together(2, [0], 0.0, 25.0) == {0: 10.0}


def test_crossing_walkers_meet_for_the_computed_interval() -> None:
    """Two walkers on parallel lines 10 m apart, passing at 1 m/s each: linked while |dx| <= sqrt(30^2-10^2)."""
    a = Station(Waypoints([(-100.0, 0.0), (100.0, 0.0)], speed=1.0), 30.0)
    b = Station(Waypoints([(100.0, 10.0), (-100.0, 10.0)], speed=1.0), 30.0)
    half = math.sqrt(30.0**2 - 10.0**2) / 2  # the gap closes at 2 m/s
    [(lo, hi)] = link_intervals(a, b, 0.0, 200.0)
    assert lo == pytest.approx(100.0 - half)
    assert hi == pytest.approx(100.0 + half)


def test_mesh_oracle_takes_the_scenario_failures(tmp_path) -> None:
    """The oracle of a FastPayMesh sees its nodes, its committee and its scheduled failure."""
    mesh = FastPayMesh(tmp_path, seed=3, authorities=4, balances=[10, 10])
    for x in (0.0, 10.0, 20.0, 30.0):
        mesh.add_authority((x, 0.0))
    client = mesh.add_client((15.0, 10.0))
    mesh.add_client((15.0, -10.0))
    mesh.fail(mesh.authorities[0], 5.0)
    mesh.fail(mesh.authorities[1], 8.0)
    oracle = mesh_oracle(mesh, stop=20.0)
    assert oracle.first_reach(client, 0.0) == 0.0
    assert oracle.throughout(client, 0.0, 7.9)
    assert oracle.first_reach(client, 8.0) is None


def test_links_agree_with_the_medium_on_the_demo_walks(tmp_path) -> None:
    """On the demo's walks, at 300 instants: linked exactly when each is in the other's range by the medium's own rule."""
    import random

    from meshframes.sim.demo import Demo, DemoSpec

    demo = Demo(tmp_path, DemoSpec(seed=5, duration=60.0, fail_at=20.0))
    oracle = mesh_oracle(demo.mesh, stop=60.0)
    medium = demo.mesh.net.medium
    failed = set(demo.mesh.failed)
    rng = random.Random(1)
    for _ in range(300):
        t = rng.uniform(0.0, 60.0)
        down = {n for n in failed if t >= demo.mesh.failed[n]}
        for i in range(len(medium.radios)):
            expected = set() if i in down else {
                j for j in medium.neighbours(i, t) if i in medium.neighbours(j, t) and j not in down}
            assert oracle.neighbours(i, t) == expected, (i, t)

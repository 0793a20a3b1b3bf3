"""The simulated medium: airtime, range, loss, retries, failures, mobility
and the scheduler under it."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from meshframes.codec import DataFrame, decode
from meshframes.codec.header import BROADCAST
from meshframes.hosts.pcap import mpdus
from meshframes.sim import airtime
from meshframes.sim.medium import Medium, MediumConfig
from meshframes.sim.mobility import RandomWaypoint, Static, Waypoints
from meshframes.sim.scheduler import Scheduler

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def test_ack_duration_matches_ns3_duration_fields() -> None:
    """ns-3's unicast data frames carry Duration = SIFS + ACK, the ACK sent
    at the basic rate 6, 12 or 24 Mb/s: 60, 48 and 44 us, which is what our
    airtime gives (bytes someone else produced)."""
    frames = [decode(m) for _, m, _ in mpdus(SHARED / "pcaps/ns3/hwmp-simplest-regression-test-0-1.pcap")]
    unicast = {f.header.duration for f in frames if isinstance(f, DataFrame) and f.header.addr1 != BROADCAST}
    assert unicast == {round(airtime.ack_duration(rate) * 1e6) for rate in (60, 120, 240)} == {60, 48, 44}


def test_ppdu_duration() -> None:
    """OFDM TXTIME: 20 us of preamble and SIGNAL, 4 us per symbol."""
    assert airtime.ppdu_duration(10, 60) == pytest.approx(44e-6)  # an ACK
    assert airtime.ppdu_duration(1500, 540) == pytest.approx(20e-6 + 4e-6 * math.ceil((16 + 8 * 1504 + 6) / 216))
    assert airtime.ppdu_duration(100, 60) > airtime.ppdu_duration(100, 540)
    with pytest.raises(ValueError):
        airtime.ppdu_duration(100, 55)


def test_scheduler_runs_in_time_then_insertion_order() -> None:
    s = Scheduler()
    seen: list[str] = []
    s.at(2.0, seen.append, "late")
    s.at(1.0, seen.append, "first")
    s.at(1.0, seen.append, "second")
    s.run(1.5)
    assert seen == ["first", "second"] and s.now == 1.5
    s.run(3.0)
    assert seen[-1] == "late"


def medium(n_positions: list[tuple[float, float]], **config: object) -> tuple[Scheduler, Medium, list]:
    s = Scheduler()
    m = Medium(s, MediumConfig(**config), seed=3)  # type: ignore[arg-type]
    radios = [m.add_radio(bytes([2, 0, 0, 0, 0, i + 1]), Static(p)) for i, p in enumerate(n_positions)]
    return s, m, radios


def beacon_like(src: bytes, dst: bytes = BROADCAST) -> bytes:
    return bytes.fromhex("d000") + bytes(2) + dst + src + src + bytes(2) + bytes([13, 1])


def test_range_and_addressing() -> None:
    """Group frames reach everyone in range; individually addressed frames
    only their addressee; nothing reaches beyond the range."""
    s, m, (a, b, c) = medium([(0, 0), (20, 0), (45, 0)], radio_range=30.0)
    a.transmit(beacon_like(a.mac))
    b.transmit(beacon_like(b.mac, a.mac))
    s.run(1.0)
    assert [len(r.receive()) for r in (a, b, c)] == [1, 1, 0]


def test_retries_then_failure_report() -> None:
    """An unanswered individually addressed frame is sent retry_limit times,
    the later ones with Retry set, then reported unacknowledged."""
    s, m, (a, b) = medium([(0, 0), (100, 0)], retry_limit=4)
    a.transmit(beacon_like(a.mac, b.mac))
    s.run(1.0)
    assert a.sent == 4
    (report,) = a.tx_reports()
    assert report.ra == b.mac and not report.acked


def test_loss_probability_and_seed() -> None:
    """Per-link loss drops about that share of frames; the same seed drops
    the same ones."""
    def received(seed: int) -> list[int]:
        s = Scheduler()
        m = Medium(s, MediumConfig(loss=0.3), seed=seed)
        a = m.add_radio(b"\x02\x00\x00\x00\x00\x01", Static((0, 0)))
        b = m.add_radio(b"\x02\x00\x00\x00\x00\x02", Static((10, 0)))
        for i in range(400):
            s.at(i * 0.01, a.transmit, beacon_like(a.mac) + bytes([i % 256]))
        s.run(10.0)
        return [rx.data[-1] for rx in b.receive()]
    first = received(5)
    assert 400 * 0.6 < len(first) < 400 * 0.8
    assert received(5) == first and received(6) != first


def test_failed_radio_neither_sends_nor_hears() -> None:
    s, m, (a, b) = medium([(0, 0), (10, 0)])
    m.set_alive(1, False)
    a.transmit(beacon_like(a.mac))
    b.transmit(beacon_like(b.mac))
    s.run(1.0)
    assert b.receive() == [] and a.receive() == [] and b.sent == 0


def test_random_waypoint_stays_in_area_and_speed() -> None:
    """The seed demo's model: 150 x 120 m, 1-3 m/s; deterministic per seed."""
    walk = RandomWaypoint((10.0, 10.0), (150.0, 120.0), (1.0, 3.0), seed=9)
    points = [walk.position(t) for t in range(0, 600)]
    assert all(0 <= x <= 150 and 0 <= y <= 120 for x, y in points)
    steps = [math.dist(p, q) for p, q in zip(points, points[1:], strict=False)]
    assert max(steps) <= 3.0 + 1e-9 and sum(steps) > 600
    again = RandomWaypoint((10.0, 10.0), (150.0, 120.0), (1.0, 3.0), seed=9)
    assert [again.position(t) for t in range(0, 600)] == points


def test_random_waypoint_remembers_where_it_was() -> None:
    """Asked about the past after the run (as the demo's pictures are), a
    walk answers what it answered then, and its path is the walk itself:
    every point on it lies on the polyline through its turns."""
    live = RandomWaypoint((10.0, 10.0), (150.0, 120.0), (1.0, 3.0), seed=9)
    then = {t: live.position(t) for t in range(0, 300)}
    assert {t: live.position(t) for t in range(0, 300)} == then
    path = live.path(0.0, 299.0)
    assert path[0] == then[0] and path[-1] == then[299] and len(path) > 3
    for t in range(0, 300):
        assert min(_to_segment(then[t], p, q) for p, q in zip(path, path[1:], strict=False)) < 1e-6
    assert live.path(50.0, 60.0)[0] == then[50] and live.path(50.0, 60.0)[-1] == then[60]


def test_random_waypoint_refuses_a_walk_that_cannot_move() -> None:
    with pytest.raises(ValueError, match="expected both positive"):
        RandomWaypoint((0.0, 0.0), (0.0, 0.0), (1.0, 3.0), seed=9)


def _to_segment(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    k = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2))
    return math.dist(p, (a[0] + k * dx, a[1] + k * dy))


def test_waypoints() -> None:
    walk = Waypoints([(0.0, 0.0), (10.0, 0.0), (10.0, 10.0)], speed=2.0, t0=1.0)
    assert walk.position(0.0) == (0.0, 0.0)
    assert walk.position(3.5) == pytest.approx((5.0, 0.0))
    assert walk.position(100.0) == (10.0, 10.0)


def test_remembered_signals_are_the_signals_of_the_moment() -> None:
    """A pair's reported signal is remembered while neither radio can have
    moved far enough to change it: over walks at up to 3 m/s, asked at
    times in and out of order, every answer is what the log-distance model
    gives at that moment, and many answers come from memory."""
    config = MediumConfig(radio_range=500.0)
    m = Medium(Scheduler(), config, seed=3)
    walks = [RandomWaypoint((5.0 + 9 * i, 3.0 + 7 * i), (60.0, 40.0), (1.0, 3.0), seed=i) for i in range(5)]
    radios = [m.add_radio(bytes([2, 0, 0, 0, 0, i + 1]), walk) for i, walk in enumerate(walks)]
    worked_out = 0
    work_out = m._signal

    def counted(*args: object) -> int:
        nonlocal worked_out
        worked_out += 1
        return work_out(*args)  # type: ignore[arg-type]

    m._signal = counted  # type: ignore[method-assign]
    rng = random.Random(5)
    times = sorted(rng.uniform(0.0, 60.0) for _ in range(4000))
    asked = 0
    for k, t in enumerate(times):
        t = t - 0.05 if k % 7 == 0 else t  # now and then a moment already passed
        tx = rng.randrange(5)
        receivers = [j for j in range(5) if j != tx]
        here = walks[tx].position(t)
        expected = [round(config.tx_power_dbm - 40 - 10 * config.path_loss_exponent
                          * math.log10(max(1.0, math.dist(here, walks[j].position(t))))) for j in receivers]
        assert m._signals_at(radios[tx], receivers, t) == expected, t
        asked += len(receivers)
    assert 0 < worked_out < 0.75 * asked

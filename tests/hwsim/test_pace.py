"""The harness's time budgets follow the measured pace of the guest, and
stay bounded. No guest is started here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from meshframes.hwsim import WaitTimeout, wait_for
from meshframes.hwsim.wait import REFERENCE_BOOT, REFERENCE_ROUND_TRIP, Pace, pace, record, scaled, set_pace


@pytest.fixture(autouse=True)
def own_pace() -> Iterator[None]:
    before = pace()
    yield
    set_pace(before)


def test_unmeasured_pace_is_the_headroom_alone() -> None:
    set_pace(Pace(headroom=2.0, cap=8.0))
    assert pace().factor == 1.0
    assert scaled(10.0) == 20.0


def test_slowest_measurement_sets_the_pace() -> None:
    """The boot time and the round trip are each divided by their idle
    value; the larger ratio is the pace, and every budget grows with it."""
    set_pace(Pace(headroom=2.0, cap=8.0))
    record(boot=REFERENCE_BOOT * 3)
    assert pace().factor == pytest.approx(3.0)
    record(round_trip=REFERENCE_ROUND_TRIP * 5)
    assert pace().boot == REFERENCE_BOOT * 3
    assert pace().factor == pytest.approx(5.0)
    assert scaled(10.0) == pytest.approx(100.0)
    record(round_trip=REFERENCE_ROUND_TRIP / 2)
    assert pace().factor == pytest.approx(3.0)


def test_faster_than_idle_never_shortens_a_budget() -> None:
    set_pace(Pace(headroom=2.0, cap=8.0, boot=REFERENCE_BOOT / 2, round_trip=REFERENCE_ROUND_TRIP / 3))
    assert pace().factor == 1.0


def test_pace_is_capped_and_says_so() -> None:
    """A guest that stopped answering must still be reported in bounded
    time: the pace stops at its cap, and the description names both the
    measured and the capped value."""
    set_pace(Pace(headroom=2.0, cap=8.0, round_trip=REFERENCE_ROUND_TRIP * 40))
    assert pace().factor == 8.0
    assert scaled(10.0) == 160.0
    text = pace().describe()
    assert "pace x8.0" in text and "measured x40.0 capped" in text and "round trip 4000 ms" in text


def test_wait_timeout_names_the_pace() -> None:
    set_pace(Pace(headroom=1.0, cap=8.0, round_trip=REFERENCE_ROUND_TRIP * 2))
    with pytest.raises(WaitTimeout, match=r"never: did not happen within 0\.1 s \(harness pace x2\.0 "
                                          r"\(round trip 200 ms vs 100 ms idle"):
        wait_for(lambda: None, "never", timeout=0.05, interval=0.01)


def test_headroom_and_cap_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESHFRAMES_HWSIM_TIMEOUT_SCALE", "3")
    monkeypatch.setenv("MESHFRAMES_HWSIM_PACE_CAP", "4")
    fresh = Pace(round_trip=REFERENCE_ROUND_TRIP * 10)
    assert (fresh.headroom, fresh.cap, fresh.factor) == (3.0, 4.0, 4.0)

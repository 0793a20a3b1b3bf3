"""Receive windows: each number accepted once, old ones refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshframes.seal.replay import ReplayWindow, Verdict


def test_strict_window_of_one_is_the_standards_rule():
    """Size 1: only numbers above the highest accepted one are fresh."""
    window = ReplayWindow(1)
    window.accept(5)
    assert window.check(6) is Verdict.FRESH
    assert window.check(5) is Verdict.REPLAY
    assert window.check(4) is Verdict.TOO_OLD


def test_late_unseen_numbers_inside_the_window_are_accepted_once():
    """A number skipped over can still arrive late, exactly once."""
    window = ReplayWindow(8)
    for number in (1, 2, 5):
        window.accept(number)
    assert window.check(3) is Verdict.FRESH
    window.accept(3)
    assert window.check(3) is Verdict.REPLAY
    assert window.check(5) is Verdict.REPLAY
    window.accept(20)
    assert window.check(12) is Verdict.TOO_OLD
    assert window.check(13) is Verdict.FRESH


def test_window_size_must_be_positive():
    """A zero-sized window could accept nothing; it is refused."""
    with pytest.raises(ValueError):
        ReplayWindow(0)


@settings(max_examples=200)
@given(st.lists(st.integers(min_value=0, max_value=300), max_size=80), st.integers(min_value=1, max_value=70))
def test_window_never_accepts_a_number_twice(numbers, size):
    """Whatever the arrival order, no number is FRESH twice, and a FRESH
    verdict is never given to a number older than the window."""
    window = ReplayWindow(size)
    accepted: set[int] = set()
    for number in numbers:
        verdict = window.check(number)
        if verdict is Verdict.FRESH:
            assert number not in accepted
            assert number > window.highest - size
            window.accept(number)
            accepted.add(number)
        elif verdict is Verdict.REPLAY:
            assert number in accepted

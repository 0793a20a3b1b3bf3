"""The airtime link metric (802.11-2020 14.9) as Linux computes it
(airtime_link_metric_get in mesh_hwmp.c), and the moving averages that
feed it."""

from __future__ import annotations

from functools import lru_cache

MAX_METRIC = 0xFFFFFFFF
_ARITH_SHIFT = 8
_TEST_FRAME_LEN = 8192  # bits, the standard's test frame (14.9.2)


class Ewma:
    """Linux's DECLARE_EWMA: new = old + (sample - old) / weight; the first
    sample is taken as is. Read as an integer, like ewma_*_read."""

    __slots__ = ("_value", "_weight")

    def __init__(self, weight: int) -> None:
        self._weight = weight
        self._value: float | None = None

    def add(self, sample: float) -> None:
        self._value = sample if self._value is None else self._value + (sample - self._value) / self._weight

    def reset(self) -> None:
        self._value = None

    def read(self) -> int:
        return 0 if self._value is None else int(self._value)


# A pure function of three small integers, asked once per HWMP element heard.
@lru_cache(maxsize=4096)
def airtime_metric(rate_100kbps: int, fail_avg: int, fail_threshold: int = 95) -> int:
    """Metric of one link: (O + Bt/r) / (1 - ef) in units of 10.24 us, the
    device constant O taken as 1 unit as Linux does."""
    if rate_100kbps <= 0 or fail_avg > fail_threshold:
        return MAX_METRIC
    err = (fail_avg << _ARITH_SHIFT) // 100
    tx_time = (1 << _ARITH_SHIFT) + 10 * (_TEST_FRAME_LEN << _ARITH_SHIFT) // rate_100kbps
    estimated_retx = (1 << (2 * _ARITH_SHIFT)) // ((1 << _ARITH_SHIFT) - err)
    return min((tx_time * estimated_retx) >> (2 * _ARITH_SHIFT), MAX_METRIC)


def add_metric(path_metric: int, link_metric: int) -> int:
    """Cumulative metric, saturating like Linux (new < old means overflow)."""
    return min(path_metric + link_metric, MAX_METRIC)

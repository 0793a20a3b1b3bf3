"""Time budgets measured against the machine, and polling waits that say
what failed to happen.

A hwsim test waits for the kernel (a peering to reach ESTAB, a path to
appear); a bare sleep is either too short on a loaded machine or wasted time
on an idle one, so every wait polls a condition and, on timeout, names the
condition and the last thing it saw.

How long a wait may take depends on how fast the guest runs, and that
changes: TCG runs the guest many times slower than the host, and slower
still when the host is busy (a CI runner, a second guest, a test suite
beside us). So every budget the harness applies, on the host and in the
guest, is a base time measured on an idle machine multiplied by `scaled`:

    budget = base x headroom x pace

`pace` is measured, not configured: the guest's boot time and the round
trip of a trivial command, each divided by its value on an idle machine
(REFERENCE_BOOT, REFERENCE_ROUND_TRIP); the larger ratio wins. The harness
measures it at boot and again at every radio reset, and hands it to the
guest agent and its workers, which scale their own budgets with it. It is
capped (PACE_CAP), so a guest that hangs is still reported in bounded
time, and every timeout message names the pace it was given.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

T = TypeVar("T")

# On an idle 2-core machine (hwsim.md): qemu launch to the agent's hello
# 6-8 s, a shell round trip through the agent ~0.1 s.
REFERENCE_BOOT = 7.0
REFERENCE_ROUND_TRIP = 0.1


class WaitTimeout(AssertionError):
    """A condition did not come true in time (an AssertionError, so pytest
    shows it as the test's failure rather than as an error in the harness)."""


def _env(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


@dataclass(frozen=True, slots=True)
class Pace:
    """How much slower than an idle machine the guest runs, measured.

    `headroom` multiplies every budget on top of the pace (a budget only
    bounds a hang, so a generous one costs nothing while things work);
    `cap` bounds the pace, so no budget grows beyond cap x headroom x base.
    Both come from the host's environment and travel with the pace into
    the guest (whose processes get a clean environment)."""

    headroom: float = field(default_factory=lambda: _env("MESHFRAMES_HWSIM_TIMEOUT_SCALE", 2.0))
    cap: float = field(default_factory=lambda: _env("MESHFRAMES_HWSIM_PACE_CAP", 8.0))
    boot: float | None = None
    round_trip: float | None = None

    @property
    def measured(self) -> float:
        """The larger of the measured ratios to an idle machine (1 before any measurement)."""
        ratios = [seconds / reference for seconds, reference in
                  ((self.boot, REFERENCE_BOOT), (self.round_trip, REFERENCE_ROUND_TRIP))
                  if seconds is not None]
        return max(ratios, default=1.0)

    @property
    def factor(self) -> float:
        return min(max(1.0, self.measured), self.cap)

    def describe(self) -> str:
        parts = []
        if self.boot is not None:
            parts.append(f"boot {self.boot:.1f} s vs {REFERENCE_BOOT:g} s idle")
        if self.round_trip is not None:
            parts.append(f"round trip {self.round_trip * 1000:.0f} ms vs {REFERENCE_ROUND_TRIP * 1000:.0f} ms idle")
        capped = f", measured x{self.measured:.1f} capped" if self.measured > self.cap else ""
        basis = "; ".join(parts) or "not measured"
        return (f"harness pace x{self.factor:.1f} ({basis}{capped}; budgets are base x {self.headroom:g} "
                f"headroom x pace, pace capped at x{self.cap:g})")


_pace = Pace()


def pace() -> Pace:
    """The pace in force in this process."""
    return _pace


def set_pace(new: Pace) -> None:
    global _pace
    _pace = new


def record(*, boot: float | None = None, round_trip: float | None = None) -> Pace:
    """Record a measurement (keeping the other one) and return the new pace."""
    changes = {name: value for name, value in (("boot", boot), ("round_trip", round_trip)) if value is not None}
    set_pace(replace(_pace, **changes))
    return _pace


def load_factor() -> float:
    """Before the guest has been measured: the host's one-minute load per
    core, within the pace's bounds (the budget for booting the guest)."""
    per_core = os.getloadavg()[0] / (os.cpu_count() or 1)
    return min(max(1.0, per_core), _pace.cap)


def scaled(seconds: float) -> float:
    """A budget of `seconds` on an idle machine, for this machine now."""
    return seconds * _pace.headroom * _pace.factor


def wait_for(
    probe: Callable[[], T | None],
    what: str,
    *,
    timeout: float,
    interval: float = 0.1,
    describe: Callable[[T | None], str] = repr,
) -> T:
    """Call `probe` until it returns something truthy and return that; after
    `timeout` seconds (scaled) raise WaitTimeout naming `what`, the last
    value seen and the pace."""
    budget = scaled(timeout)
    deadline = time.monotonic() + budget
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(
                f"{what}: did not happen within {budget:.1f} s ({_pace.describe()}); "
                f"last seen: {describe(value)}"
            )
        time.sleep(interval)

"""Polling waits that say what failed to happen.

A hwsim test waits for the kernel (a peering to reach ESTAB, a path to
appear); a bare sleep is either too short on a loaded machine or wasted time
on an idle one, so every wait polls a condition and, on timeout, names the
condition and the last thing it saw.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A condition did not come true in time (an AssertionError, so pytest
    shows it as the test's failure rather than as an error in the harness)."""


# Under TCG the guest runs many times slower than the host, and slower still
# when the machine is busy (a CI runner, a second guest): every timeout the
# harness applies is multiplied by this. A timeout only bounds a hang, so a
# generous one costs nothing while things work.
TIMEOUT_SCALE = float(os.environ.get("MESHFRAMES_HWSIM_TIMEOUT_SCALE", "2"))


def scaled(seconds: float) -> float:
    return seconds * TIMEOUT_SCALE


def wait_for(
    probe: Callable[[], T | None],
    what: str,
    *,
    timeout: float,
    interval: float = 0.1,
    describe: Callable[[T | None], str] = repr,
) -> T:
    """Call `probe` until it returns something truthy and return that; after
    `timeout` seconds raise WaitTimeout naming `what` and the last value seen."""
    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(
                f"{what}: did not happen within {timeout:.1f} s; last seen: {describe(value)}"
            )
        time.sleep(interval)

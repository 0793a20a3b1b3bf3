"""Fixtures shared across test directories.

hwsim: ONE qemu guest with real mac80211_hwsim radios for the whole session
(meshframes/hwsim). A guest that cannot start fails every test that needs it,
with the reason; run without the tier only by deselecting it explicitly:
`pytest -m "not hwsim"`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from meshframes.hwsim import Guest

_HWSIM_BOOT = pytest.StashKey[float]()
_HWSIM_PACE = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def hwsim_guest(pytestconfig: pytest.Config) -> Iterator[Guest]:
    from meshframes.hwsim import Guest, HwsimUnavailable

    try:
        guest = Guest.start()
    except HwsimUnavailable as error:
        pytest.fail(f"the hwsim tier cannot start: {error}", pytrace=False)
    pytestconfig.stash[_HWSIM_BOOT] = guest.boot_seconds
    yield guest
    from meshframes.hwsim.wait import pace

    pytestconfig.stash[_HWSIM_PACE] = pace().describe()
    guest.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    if _HWSIM_BOOT in config.stash:
        terminalreporter.write_line(
            f"hwsim: one guest booted in {config.stash[_HWSIM_BOOT]:.1f} s for this session")
    if _HWSIM_PACE in config.stash:
        terminalreporter.write_line(f"hwsim: at the end, {config.stash[_HWSIM_PACE]}")

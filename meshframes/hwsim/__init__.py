"""Real mac80211_hwsim radios for meshframes: Debian's kernel in one qemu
guest per test session, driven from the host (see docs in guest.py and
/work/shared/notes/hwsim.md for the measurements behind the design).

    with Guest.start() as guest:
        a, b = guest.reset_radios(2)
        guest.run("iw dev", netns=a.netns)

Names are imported lazily: the guest-side agent imports this package too and
must not pay for the host-side modules under TCG.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Guest": "meshframes.hwsim.guest",
    "GuestError": "meshframes.hwsim.guest",
    "CommandFailed": "meshframes.hwsim.guest",
    "Background": "meshframes.hwsim.guest",
    "HwsimUnavailable": "meshframes.hwsim.host",
    "WaitTimeout": "meshframes.hwsim.wait",
    "wait_for": "meshframes.hwsim.wait",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'meshframes.hwsim' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

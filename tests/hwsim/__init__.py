"""The hwsim tier: tests on real mac80211_hwsim radios in a qemu guest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from meshframes.hwsim import Guest
from meshframes.hwsim.scenarios import Recording, kept


def recorded(scenario: Callable[[Guest], Recording]) -> Callable[..., tuple[Recording, Path]]:
    """A module fixture that runs `scenario` once in the session's guest and
    keeps its capture (meshframes.hwsim.scenarios.kept)."""

    @pytest.fixture(scope="module")
    def fixture(hwsim_guest: Guest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Recording, Path]:
        return kept(scenario(hwsim_guest), tmp_path_factory.mktemp(scenario.__name__))

    return fixture


def node_names(states: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Identity (hex) -> node name, from a node-payment scenario's layout."""
    return {identity: name for name, identity in states["layout"]["identities"].items() if identity}


def balances_by_name(held: dict[str, Any], states: dict[str, dict[str, Any]]) -> dict[str, int]:
    """A control socket's `balances` answer keyed by node name."""
    names = node_names(states)
    return {names[key]: row["balance"] for key, row in held.items()}

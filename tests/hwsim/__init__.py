"""The hwsim tier: tests on real mac80211_hwsim radios in a qemu guest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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

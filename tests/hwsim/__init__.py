"""The hwsim tier: tests on real mac80211_hwsim radios in a qemu guest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from meshframes.analysis.verdict import MESSAGE_KINDS
from meshframes.codec.fastpay import MessageType
from meshframes.hwsim import Guest
from meshframes.hwsim.scenarios import Recording, kept

# What the three payments of the node-payment scenarios send. The recipient c1 brings the restarted a3
# the certificate it missed (it pushes what it was credited when it hears
# a3 again), before c0 would: no error and no info request need be on the
# air; meshframes-node-payment.pcap, recorded before the push, has them.
FLOW_KINDS = {MESSAGE_KINDS[t] for t in MessageType} - {MESSAGE_KINDS[MessageType.FASTPAY_ERROR],
                                                       MESSAGE_KINDS[MessageType.FASTPAY_INFO_REQUEST]}


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

"""Marks shared by the hwsim tests."""

from __future__ import annotations

import pytest

# Until the lead's branch (Scapy layers, meshframes.dissect) is merged here,
# the decode checks cannot import it; any other failure is a real failure,
# and after the merge they run for real (drop the mark then).
LAYERS_PENDING = pytest.mark.xfail(
    raises=ModuleNotFoundError, strict=False,
    reason="meshframes.dissect arrives with the layers branch; drop this mark after the merge")

from __future__ import annotations

from pathlib import Path

import pytest

# ../shared beside the checkout (CI puts it there too); a missing capture
# is a failure, not a skip.
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CAPTURES = sorted((SHARED / "pcaps").glob("*/*.pcap"))


@pytest.fixture(scope="session")
def shared() -> Path:
    assert SHARED.is_dir(), f"{SHARED} is missing: the shared test data must sit beside the checkout"
    return SHARED

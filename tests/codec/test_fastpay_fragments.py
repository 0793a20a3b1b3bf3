"""Fragmentation and reassembly of FastPay messages (docs/wire-format.md)."""

from __future__ import annotations

import pytest

from meshframes.codec import EncodeError
from meshframes.codec.fastpay import (
    MAX_FRAGMENT_PAYLOAD,
    MAX_MGMT_BODY,
    Reassembled,
    Reassembler,
    ReassemblyError,
    fragment,
)

SA = bytes.fromhex("020000000001")


def test_fragment_payload_fills_a_management_body_exactly() -> None:
    """Category, OUI, A5/A6 Mesh Control and our header plus the largest
    fragment make exactly the 2304-byte management body limit."""
    assert 1 + 3 + 18 + 7 + MAX_FRAGMENT_PAYLOAD == MAX_MGMT_BODY


def test_thirty_three_authority_certificate_needs_two_fragments() -> None:
    """A certificate of 161 + 96*33 bytes (fastpay-facts) does not fit one frame."""
    cert = bytes(range(256)) * 13
    cert = cert[:161 + 96 * 33]
    parts = fragment(cert)
    assert len(parts) == 2 and b"".join(parts) == cert


def test_reassembly_in_any_order_and_rejections() -> None:
    """Out-of-order fragments reassemble; duplicates, count, type and flags
    mismatches (a cleartext fragment in a sealed set) are refused with their
    reason; stale sets expire."""
    message = bytes(range(200)) * 10
    parts = fragment(message, max_payload=600)
    r = Reassembler(timeout=1.0)
    order = [3, 0, 2]
    for i in order:
        assert r.add(SA, 7, 3, 0, i, len(parts), parts[i], now=0.0) is None
    assert r.add(SA, 7, 3, 0, 0, len(parts), parts[0], now=0.1) is ReassemblyError.DUPLICATE
    assert r.add(SA, 7, 3, 0, 1, len(parts) + 1, parts[1], now=0.1) is ReassemblyError.COUNT_MISMATCH
    assert r.add(SA, 7, 4, 0, 1, len(parts), parts[1], now=0.1) is ReassemblyError.TYPE_MISMATCH
    assert r.add(SA, 7, 3, 1, 1, len(parts), parts[1], now=0.1) is ReassemblyError.FLAGS_MISMATCH
    done = r.add(SA, 7, 3, 0, 1, len(parts), parts[1], now=0.2)
    assert done == Reassembled(SA, 7, 3, 0, message)
    assert r.add(SA, 8, 3, 0, 0, 2, b"x", now=0.0) is None
    assert r.next_deadline() == 1.0
    assert r.expire(0.5) == [] and r.expire(1.0) == [(SA, 8)]


def test_oversize_message_is_refused() -> None:
    with pytest.raises(EncodeError):
        fragment(bytes(256 * 10), max_payload=10)

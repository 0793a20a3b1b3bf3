"""Sliding receive windows over 48-bit PNs and 64-bit sequence numbers.

802.11-2020 12.5.3.4.4 asks for a strictly increasing PN per transmitter
and traffic class: a window of size 1. A wider window (an IPsec-style
bitmap, RFC 4303 3.4.3) also accepts a frame that arrives late but was never
seen, which a userspace node that drains several queues can produce; it still
accepts every number at most once. The check and the update are separate so
that a frame moves the window only after its MIC has verified: a forged
frame with a huge PN must not push the window past genuine traffic.
"""

from __future__ import annotations

from enum import IntEnum


class Verdict(IntEnum):
    FRESH = 0
    REPLAY = 1
    TOO_OLD = 2


class ReplayWindow:
    """Numbers accepted so far, as the highest one plus a bitmap of the
    `size` numbers at and below it (bit i = highest - i)."""

    __slots__ = ("size", "highest", "_bitmap", "_mask")

    def __init__(self, size: int = 64, floor: int = -1) -> None:
        """`floor`: numbers up to and including it count as already seen
        (a Key RSC announced with a group key: older frames sealed under
        that key must not be accepted by a receiver that joins late)."""
        if size < 1:
            raise ValueError(f"window size must be >= 1, got {size}")
        self.size = size
        self._mask = (1 << size) - 1
        self.highest = floor
        self._bitmap = self._mask if floor >= 0 else 0

    def check(self, number: int) -> Verdict:
        """Whether `number` may be accepted; changes nothing."""
        offset = self.highest - number
        if offset < 0:
            return Verdict.FRESH
        if offset >= self.size:
            return Verdict.TOO_OLD
        return Verdict.REPLAY if (self._bitmap >> offset) & 1 else Verdict.FRESH

    def accept(self, number: int) -> None:
        """Record `number` as seen; call only after `check` said FRESH and
        the frame authenticated."""
        offset = self.highest - number
        if offset < 0:
            self._bitmap = ((self._bitmap << -offset) | 1) & self._mask
            self.highest = number
        else:
            self._bitmap |= 1 << offset

"""Wrap-safe comparison of 32-bit HWMP sequence numbers (802.11-2020
14.10.8.2, serial number arithmetic as Linux's SN_GT/SN_LT)."""

from __future__ import annotations

_MASK = 0xFFFFFFFF
_HALF = 0x80000000


def sn_gt(x: int, y: int) -> bool:
    """x is newer than y."""
    diff = (y - x) & _MASK
    return diff != 0 and diff >= _HALF


def sn_lt(x: int, y: int) -> bool:
    """x is older than y."""
    return sn_gt(y, x)


def sn_delta(x: int, y: int) -> int:
    return x - y if x >= y else y - x


def sn_next(x: int) -> int:
    return (x + 1) & _MASK

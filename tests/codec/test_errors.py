"""Malformed input: each refusal names what was read, where, what was found
and what was expected."""

from __future__ import annotations

import pytest

from meshframes.codec import DecodeError, EncodeError, MacHeader, decode, encode
from meshframes.codec.frames import MeshAction, SelfProtected
from meshframes.codec.pathsel import Perr, PerrDestination, Preq, PreqTarget
from meshframes.codec.peering import MeshPeeringManagement

HDR = bytes.fromhex("d0000000ffffffffffff020000000001020000000001" "0000")
A = bytes.fromhex("020000000001")


def preq_body(count: int, targets: int) -> bytes:
    fixed = bytes([0, 0, 31]) + bytes(4) + A + bytes(4) + bytes(8) + bytes([count])
    return fixed + (bytes([0]) + A + bytes(4)) * targets


BAD = [
    ("protocol version 1", bytes.fromhex("d100") + HDR[2:], ("protocol version", 0, 1, 0)),
    ("truncated header", HDR[:20], ("MAC header", 0, "20 bytes", "24 bytes")),
    ("PREQ target count 0", HDR + bytes([13, 1, 130, 26]) + preq_body(0, 0),
     ("PREQ target count", 53, 0, "1..20")),
    ("PREQ count says 2, one target", HDR + bytes([13, 1, 130, 37]) + preq_body(2, 1),
     ("PREQ length", 27, 37, 48)),
    ("PERR with 20 destinations", HDR + bytes([13, 1, 132, 2, 31, 20]),
     ("PERR destination count", 29, 20, "1..19")),
    ("PREP of 30 bytes", HDR + bytes([13, 1, 131, 30]) + bytes(30),
     ("PREP length", 27, 30, 31)),
    ("Mesh Configuration of 4 bytes (hostap 'Too short mesh config')",
     HDR + bytes.fromhex("0f010000") + bytes.fromhex("710401010001"),
     ("Mesh Configuration length", 29, 4, 7)),
    ("peering element of length 0 (hostap peering_proto test 6)",
     HDR + bytes.fromhex("0f010000") + bytes.fromhex("7500"),
     ("Mesh Peering Management length", 29, 0, [4, 20])),
    ("Confirm element with Open's length", HDR + bytes.fromhex("0f0200000100") + bytes.fromhex("75040000079d"),
     ("Mesh Peering Management length", 31, 4, [6, 22])),
    ("element overruns the frame (hostap peering_proto test 5)",
     HDR + bytes.fromhex("0f010000") + bytes.fromhex("720e7770"),
     ("element 114 body", 30, "2 bytes", "14 bytes")),
    ("Open without capability (hostap peering_proto test 4)", HDR + bytes.fromhex("0f01"),
     ("Capability Information", 26, "0 bytes", "2 bytes")),
    ("mesh address extension mode 3",
     bytes.fromhex("88030000") + A + A + A + bytes(2) + A + bytes.fromhex("0001") + bytes([3, 31]) + bytes(4),
     ("mesh address extension mode", 32, 3, "0, 1 or 2")),
    ("FastPay fragment 3 of 3", HDR + bytes([127]) + bytes.fromhex("0a4d46") + bytes([0, 31]) + bytes(4)
     + bytes([1, 1, 0, 0, 0, 3, 3]), ("FastPay fragment number", 39, "3 of 3", "number < count, count >= 1")),
    ("FastPay version 2", HDR + bytes([127]) + bytes.fromhex("0a4d46") + bytes([0, 31]) + bytes(4)
     + bytes([2, 1, 0, 0, 0, 0, 1]), ("FastPay header version", 34, 2, 1)),
]


@pytest.mark.parametrize("name,wire,expected", BAD, ids=[b[0] for b in BAD])
def test_refusal_is_precise(name: str, wire: bytes, expected: tuple[object, ...]) -> None:
    """The DecodeError carries (what, offset, got, expected)."""
    with pytest.raises(DecodeError) as info:
        decode(wire)
    err = info.value
    assert (err.what, err.offset, err.got, err.expected) == expected


def test_encode_refuses_inconsistent_events() -> None:
    """An event that cannot be put on the air raises EncodeError."""
    header = MacHeader(0x00D0, 0, b"\xff" * 6, A, A, 0)
    no_targets = MeshAction(header, 1, (Preq(0, 0, 31, 0, A, 0, 0, 0, ()),))
    ae_without_address = MeshAction(header, 1, (Preq(0x40, 0, 31, 0, A, 0, 0, 0, (PreqTarget(0, A, 0),)),))
    too_many = MeshAction(header, 1, (Perr(31, tuple(PerrDestination(0, A, 0, 0) for _ in range(20))),))
    confirm_without_aid = SelfProtected(header, 2, 0, None, (MeshPeeringManagement(1, 2),))
    for event in (no_targets, ae_without_address, too_many, confirm_without_aid):
        with pytest.raises(EncodeError):
            encode(event)


def test_bytearray_and_memoryview_decode_like_bytes() -> None:
    """A receive buffer (bytearray, memoryview) decodes to the same event as
    its bytes, with bytes fields: a view must neither break the cache nor
    end up inside a cached event that later decodes of the bytes return."""
    wire = HDR + bytes([13, 1, 130, 37]) + preq_body(1, 1)
    buffer = bytearray(wire)
    from_view = decode(memoryview(buffer))
    assert decode(buffer) == from_view == decode(wire)
    assert type(from_view.header.addr2) is bytes  # type: ignore[union-attr]
    buffer[10:16] = b"\xee" * 6
    assert decode(wire).header.addr2 == A  # type: ignore[union-attr]

"""What MeshifRadio lets through to the kernel's mesh: FastPay action frames
in every Mesh Control mode, and nothing else, each refusal with its reason.
No guest needed: this is the adapter's frame handling alone."""

from __future__ import annotations

import pytest

from meshframes.codec.meshctl import AE_A5_A6
from meshframes.hosts.meshif import fastpay_destination
from meshframes.hwsim.framesets import SHARED_PCAPS, capture_frames, fastpay_frame, kind_of

A, B, C = (bytes.fromhex(f"0200000000{n:02x}") for n in (0xA0, 0xB0, 0xC0))
BODY = b"order bytes"
HEADER = bytes([1, 1, 0, 7, 0, 0, 1])  # version, type, flags, message id 7, fragment 0 of 1


def test_single_hop_frame_goes_to_its_receiver() -> None:
    frame = fastpay_frame(a1=B, a2=A, message_type=1, payload=BODY, message_id=7)
    assert fastpay_destination(frame) == (B, HEADER + BODY)


def test_multi_hop_frame_goes_to_its_mesh_destination() -> None:
    """With address extension A5/A6 the kernel must route to A5, not to the
    next hop in A1."""
    frame = fastpay_frame(a1=B, a2=A, message_type=1, payload=BODY, message_id=7,
                          mode=AE_A5_A6, mesh_da=C, mesh_sa=A)
    assert fastpay_destination(frame) == (C, HEADER + BODY)


def _linux(kind: str) -> bytes:
    frames = capture_frames(SHARED_PCAPS / "linux" / "linux-open-2node.pcap")
    return next(frame for frame in frames if kind_of(frame) == kind)


def _with(frame: bytes, offset: int, value: bytes) -> bytes:
    return frame[:offset] + value + frame[offset + len(value):]


FASTPAY = fastpay_frame(a1=B, a2=A, message_type=1, payload=BODY)


@pytest.mark.parametrize(("frame", "reason"), [
    (FASTPAY[:30], "too short"),
    (_linux("beacon"), "not an action frame"),
    (_linux("qos-data"), "not an action frame"),
    (_linux("peering-open"), "action category 15, not vendor-specific 127"),
    (_with(FASTPAY, 1, b"\x40"), "protected frame"),
    (_with(FASTPAY, 25, b"\x00\x10\x18"), "vendor OUI 00:10:18 is not ours"),
    (_with(FASTPAY, 28, b"\x03"), "reserved address extension mode 3"),
    (_with(FASTPAY, 28, b"\x02")[:40], "mesh control runs past the frame"),
], ids=["short", "beacon", "data", "peering", "protected", "oui", "mode", "truncated"])
def test_other_frames_are_refused_with_the_reason(frame: bytes, reason: str) -> None:
    refusal = fastpay_destination(frame)
    assert isinstance(refusal, str) and reason in refusal

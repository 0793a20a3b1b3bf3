"""Frames to push through real radios (the hwsim injection test and
`meshframes hwsim record monitor-injection`): one of each kind found in
the shared third-party captures, plus FastPay action frames written out by
hand from docs/wire-format.md. Add kinds by extending inject_cases().

Guest-side code imports this module too (kind_of), so Scapy and the
captures are loaded only when a function needs them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# CI and developers keep ../shared beside the checkout.
SHARED_PCAPS = REPO.parent / "shared" / "pcaps"

# 802.11-2020 table 9-51 (categories) and 9.6.13.1 / 9.6.16.1 (actions).
_CATEGORY_MESH, _CATEGORY_SELF_PROTECTED, _CATEGORY_VENDOR = 13, 15, 127
_PEERING = {1: "peering-open", 2: "peering-confirm", 3: "peering-close"}
_HWMP = {126: "hwmp-rann", 130: "hwmp-preq", 131: "hwmp-prep", 132: "hwmp-perr"}
_MGMT = {0: "assoc-req", 4: "probe-req", 5: "probe-resp", 8: "beacon"}
_CONTROL = {11: "rts", 12: "cts", 13: "ack", 14: "cf-end"}
_DATA = {0: "data", 4: "null", 8: "qos-data", 12: "qos-null"}


@dataclass(frozen=True, slots=True)
class InjectCase:
    name: str
    frame: bytes  # an MPDU: from Frame Control, no FCS, no radiotap


def kind_of(frame: bytes) -> str:
    """A coarse name for a frame, from its header and first body octets:
    enough to pick one frame of each kind out of a capture."""
    frame_type, subtype = (frame[0] >> 2) & 0x3, frame[0] >> 4
    if frame_type == 0 and subtype == 13 and len(frame) > 25:
        category, action = frame[24], frame[25]
        if category == _CATEGORY_SELF_PROTECTED and action in _PEERING:
            return _PEERING[action]
        if category == _CATEGORY_MESH and action == 1 and len(frame) > 26:
            return _HWMP.get(frame[26], f"hwmp-element-{frame[26]}")
        return f"action-{category}-{action}"
    if frame_type == 0:
        return _MGMT.get(subtype, f"mgmt-{subtype}")
    if frame_type == 1:
        return _CONTROL.get(subtype, f"control-{subtype}")
    if frame_type == 2:
        return _DATA.get(subtype, f"data-{subtype}")
    return f"type-{frame_type}-{subtype}"


def capture_frames(path: Path) -> list[bytes]:
    """The MPDUs of a capture, radiotap and FCS stripped."""
    from meshframes.hosts.pcap import mpdus

    return [mpdu for _, mpdu, _ in mpdus(path)]


def capture_cases(root: Path = SHARED_PCAPS) -> list[InjectCase]:
    """The first frame of each kind in each family of shared captures."""
    paths = sorted(root.glob("*/*.pcap"))
    if not paths:
        raise FileNotFoundError(f"no captures under {root}: the shared test data must sit "
                                "beside the checkout")
    cases: dict[str, InjectCase] = {}
    for path in paths:
        for frame in capture_frames(path):
            name = f"{path.parent.name}-{kind_of(frame)}"
            cases.setdefault(name, InjectCase(name, frame))
    return sorted(cases.values(), key=lambda case: case.name)


# -- FastPay action frames by hand (docs/wire-format.md) ----------------------

OUI_MESHFRAMES = bytes.fromhex("0a4d46")
MODE_NONE, MODE_A5_A6 = 0, 2


def fastpay_frame(*, a1: bytes, a2: bytes, message_type: int, payload: bytes,
                  mode: int = MODE_NONE, mesh_da: bytes = b"", mesh_sa: bytes = b"",
                  ttl: int = 31, mesh_sequence: int = 1, message_id: int = 1,
                  fragment: int = 0, fragments: int = 1, sequence_control: int = 0) -> bytes:
    """A category-127 FastPay action frame, field by field as the wire
    format page lays it out (A3 = A2, the mesh BSSID convention of Linux)."""
    mesh_control = struct.pack("<BBI", mode, ttl, mesh_sequence)
    if mode == MODE_A5_A6:
        mesh_control += mesh_da + mesh_sa
    header = struct.pack("<BBBHBB", 1, message_type, 0, message_id, fragment, fragments)
    return (b"\xd0\x00" + b"\x00\x00" + a1 + a2 + a2 + struct.pack("<H", sequence_control)
            + bytes([_CATEGORY_VENDOR]) + OUI_MESHFRAMES + mesh_control + header + payload)


def _announcement() -> bytes:
    # AuthorityAnnouncement: name (32), weight (u64), e2e_key (32), committee_id (8).
    return bytes(range(32)) + struct.pack("<Q", 1) + bytes(range(32, 64)) + b"\x01" * 8


def _transfer_order() -> bytes:
    # SerializedMessage::Order (u32 tag 0): Transfer { sender, recipient
    # (u32 tag 1 = FastPay, key), amount, sequence_number, user_data None },
    # then the 64-byte signature.
    transfer = (b"\xa1" * 32 + struct.pack("<I", 1) + b"\xb2" * 32
                + struct.pack("<QQ", 250, 7) + b"\x00")
    return struct.pack("<I", 0) + transfer + b"\x5a" * 64


def fastpay_cases() -> list[InjectCase]:
    node_a, node_b, node_c = (bytes.fromhex(f"0200000000{n:02x}") for n in (0xA0, 0xB0, 0xC0))
    broadcast = b"\xff" * 6
    return [
        InjectCase("fastpay-announce-broadcast", fastpay_frame(
            a1=broadcast, a2=node_a, message_type=8, payload=_announcement(), ttl=1)),
        InjectCase("fastpay-order-multihop", fastpay_frame(
            a1=node_b, a2=node_a, message_type=1, payload=_transfer_order(),
            mode=MODE_A5_A6, mesh_da=node_c, mesh_sa=node_a, mesh_sequence=42,
            message_id=0x0102, sequence_control=0x0150)),
        InjectCase("fastpay-certificate-fragment", fastpay_frame(
            a1=node_c, a2=node_b, message_type=3, payload=bytes(range(256)) * 8,
            mode=MODE_A5_A6, mesh_da=node_c, mesh_sa=node_a, ttl=30, mesh_sequence=43,
            message_id=0x0103, fragment=1, fragments=3)),
    ]


def built_cases() -> list[InjectCase]:
    """Every kind meshframes.layers.build makes, plain and with address extension
    and maximal element counts (20 PREQ targets, 19 PERR destinations)."""
    from meshframes.layers.build import BUILDERS, FrameOptions, build

    cases = [InjectCase(f"built-{kind}", bytes(build(kind, FrameOptions()))) for kind in BUILDERS]
    cases += [InjectCase(f"built-{kind}-ae", bytes(build(kind, FrameOptions(ae=True, count=2))))
              for kind in BUILDERS]
    cases += [InjectCase("built-preq-20-targets", bytes(build("preq", FrameOptions(ae=True, count=20)))),
              InjectCase("built-perr-19-destinations", bytes(build("perr", FrameOptions(count=19))))]
    return cases


@cache
def inject_cases() -> tuple[InjectCase, ...]:
    return (*capture_cases(), *fastpay_cases(), *built_cases())

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

from meshframes.codec import mpdu
from meshframes.codec.action import (
    CATEGORY_MESH,
    CATEGORY_SELF_PROTECTED,
    CATEGORY_VENDOR,
    MESH_ACTION_HWMP_PATH_SELECTION,
)
from meshframes.codec.elements import EID_PERR, EID_PREP, EID_PREQ, EID_RANN, MESHFRAMES_OUI
from meshframes.codec.header import SUBTYPE_ACTION, TYPE_CTRL, TYPE_DATA, TYPE_MGMT
from meshframes.codec.ie import first_element_id
from meshframes.codec.meshctl import AE_A5_A6, AE_NONE
from meshframes.codec.peering import SP_MESH_PEERING_CLOSE, SP_MESH_PEERING_CONFIRM, SP_MESH_PEERING_OPEN

REPO = Path(__file__).resolve().parents[2]
# CI and developers keep ../shared beside the checkout.
SHARED_PCAPS = REPO.parent / "shared" / "pcaps"

_PEERING = {SP_MESH_PEERING_OPEN: "peering-open", SP_MESH_PEERING_CONFIRM: "peering-confirm",
            SP_MESH_PEERING_CLOSE: "peering-close"}
_HWMP = {EID_RANN: "hwmp-rann", EID_PREQ: "hwmp-preq", EID_PREP: "hwmp-prep", EID_PERR: "hwmp-perr"}
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
    frame_type, subtype = mpdu.frame_type(frame), mpdu.frame_subtype(frame)
    fields = mpdu.action_fields(frame) if frame_type == TYPE_MGMT and subtype == SUBTYPE_ACTION else None
    if fields is not None:
        category, action, rest = fields
        if category == CATEGORY_SELF_PROTECTED and action in _PEERING:
            return _PEERING[action]
        element_id = first_element_id(rest)
        if category == CATEGORY_MESH and action == MESH_ACTION_HWMP_PATH_SELECTION and element_id is not None:
            return _HWMP.get(element_id, f"hwmp-element-{element_id}")
        return f"action-{category}-{action}"
    if frame_type == TYPE_MGMT:
        return _MGMT.get(subtype, f"mgmt-{subtype}")
    if frame_type == TYPE_CTRL:
        return _CONTROL.get(subtype, f"control-{subtype}")
    if frame_type == TYPE_DATA:
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


def fastpay_frame(*, a1: bytes, a2: bytes, message_type: int, payload: bytes,
                  mode: int = AE_NONE, mesh_da: bytes = b"", mesh_sa: bytes = b"",
                  ttl: int = 31, mesh_sequence: int = 1, message_id: int = 1,
                  fragment: int = 0, fragments: int = 1, sequence_control: int = 0) -> bytes:
    """A category-127 FastPay action frame, field by field as the wire
    format page lays it out (A3 = A2, the mesh BSSID convention of Linux)."""
    mesh_control = struct.pack("<BBI", mode, ttl, mesh_sequence)
    if mode == AE_A5_A6:
        mesh_control += mesh_da + mesh_sa
    header = struct.pack("<BBBHBB", 1, message_type, 0, message_id, fragment, fragments)
    return (b"\xd0\x00" + b"\x00\x00" + a1 + a2 + a2 + struct.pack("<H", sequence_control)
            + bytes([CATEGORY_VENDOR]) + MESHFRAMES_OUI + mesh_control + header + payload)


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
            mode=AE_A5_A6, mesh_da=node_c, mesh_sa=node_a, mesh_sequence=42,
            message_id=0x0102, sequence_control=0x0150)),
        InjectCase("fastpay-certificate-fragment", fastpay_frame(
            a1=node_c, a2=node_b, message_type=3, payload=bytes(range(256)) * 8,
            mode=AE_A5_A6, mesh_da=node_c, mesh_sa=node_a, ttl=30, mesh_sequence=43,
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

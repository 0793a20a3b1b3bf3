"""802.11 MPDUs <-> frozen frame events.

`decode` takes an MPDU from Frame Control to the end of the body (no FCS,
no radiotap) and returns one of the frame classes below; `encode` gives the
exact bytes back. Everything a class does not interpret is kept as bytes,
so `encode(decode(b)) == b` for every frame `decode` accepts. Decoding
raises DecodeError and nothing else.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from functools import lru_cache

from meshframes.codec import elements as el
from meshframes.codec import pathsel as _pathsel  # noqa: F401  (registers HWMP elements)
from meshframes.codec import proxy as _proxy  # noqa: F401  (registers PXU and PXUC)
from meshframes.codec.action import (
    CATEGORY_BLOCK_ACK,
    CATEGORY_MESH,
    CATEGORY_MULTIHOP,
    CATEGORY_SELF_PROTECTED,
    CATEGORY_VENDOR,
    CATEGORY_VENDOR_PROTECTED,
    MESH_ACTIONS_WITH_ELEMENTS,
    MULTIHOP_ACTIONS_WITH_ELEMENTS,
)
from meshframes.codec.blockack import BlockAckBody, decode_block_ack, encode_block_ack
from meshframes.codec.errors import DecodeError, EncodeError, need
from meshframes.codec.fastpay import FastPayFragment, decode_fragment, encode_fragment
from meshframes.codec.frozen import quick_init
from meshframes.codec.header import (
    AUTH_ALGORITHMS_WITH_ELEMENTS,
    CONTROL_FIXED_LENGTH,
    DATA_SUBTYPE_RESERVED_QOS,
    FC_PROTECTED,
    MGMT_FIXED_FIELDS,
    QOS_AMSDU_PRESENT,
    QOS_MESH_CONTROL_PRESENT,
    SECURITY_HEADER_LEN,
    SUBTYPE_ACTION,
    SUBTYPE_AUTHENTICATION,
    SUBTYPE_BEACON,
    SUBTYPE_PROBE_RESP,
    TYPE_CTRL,
    TYPE_DATA,
    TYPE_EXT,
    MacHeader,
    check_version,
    decode_header,
    short_header_length,
)
from meshframes.codec.ie import Element, decode_elements, element_parts, find
from meshframes.codec.meshctl import (
    AE_A5_A6,
    AE_NONE,
    LLC_HEADER_LEN,
    LLC_SNAP,
    SNAP_HEADER_LEN,
    MeshControl,
    ae_mode_problem,
    decode_mesh_control,
    mesh_control_rule,
)
from meshframes.codec.peering import (
    SP_MESH_GROUP_KEY_ACK,
    SP_MESH_PEERING_CONFIRM,
    SP_MESH_PEERING_OPEN,
    MeshPeeringManagement,
)
from meshframes.codec.sae import AUTH_ALGORITHM_SAE
from meshframes.codec.sae import check_body as check_sae_body

_BEACON_FIXED = struct.Struct("<QHH")
_AUTH_FIXED = struct.Struct("<HHH")  # 9.3.3.12: algorithm, transaction sequence, status
# 9.3.3.5-9.3.3.9: (re)association requests and responses and probe requests
# are fixed fields and elements.
_ELEMENT_BODIES = frozenset({0, 1, 2, 3, 4})
_U16 = struct.Struct("<H")
_CATEGORY_ACTION = struct.Struct("BB")
# Category and our OUI, what every FastPay frame body starts with.
_VENDOR_PREFIX = {category: bytes((category,)) + el.MESHFRAMES_OUI
                  for category in (CATEGORY_VENDOR, CATEGORY_VENDOR_PROTECTED)}


class _MeshProfile:
    """Access to the Mesh ID and Mesh Configuration of beacons and peering frames."""

    __slots__ = ()
    elements: tuple[Element, ...]

    @property
    def mesh_id(self) -> el.MeshId | None:
        return find(self.elements, el.MeshId)

    @property
    def mesh_config(self) -> el.MeshConfiguration | None:
        return find(self.elements, el.MeshConfiguration)


@quick_init
@dataclass(frozen=True, slots=True)
class Beacon(_MeshProfile):
    """Beacon or Probe Response (9.3.3.2, 9.3.3.10): same body layout."""

    header: MacHeader
    timestamp: int
    beacon_interval: int
    capability: int
    elements: tuple[Element, ...]


@quick_init
@dataclass(frozen=True, slots=True)
class SelfProtected(_MeshProfile):
    """Self-protected action frames, category 15 (9.6.15): Mesh Peering
    Open (capability + elements), Confirm (capability + AID + elements),
    Close (elements), Mesh Group Key Inform/Ack (elements)."""

    header: MacHeader
    action: int
    capability: int | None
    aid: int | None
    elements: tuple[Element, ...]
    # Behind a MIC element AMPE frames carry ciphertext, not elements.
    sealed: bytes = b""

    @property
    def peering(self) -> MeshPeeringManagement | None:
        return find(self.elements, MeshPeeringManagement)


@quick_init
@dataclass(frozen=True, slots=True)
class MeshAction:
    """Mesh action frames, category 13 (9.6.16), e.g. HWMP path selection."""

    header: MacHeader
    action: int
    elements: tuple[Element, ...]


@quick_init
@dataclass(frozen=True, slots=True)
class MultihopAction:
    """Multihop action frames, category 14 (9.6.17): Proxy Update and its
    Confirmation, each Mesh Control then its element (PXU or PXUC)."""

    header: MacHeader
    action: int
    mesh_control: MeshControl
    elements: tuple[Element, ...]


@quick_init
@dataclass(frozen=True, slots=True)
class VendorAction:
    """Our FastPay frame: category 127 (126 once unsealed), our OUI, Mesh
    Control, then the payload the mesh carries for the application: the
    FastPay header and one fragment (docs/wire-format.md)."""

    header: MacHeader
    category: int
    mesh_control: MeshControl
    payload: FastPayFragment


@dataclass(frozen=True, slots=True)
class BlockAckAction:
    """Block Ack action frames, category 3 (9.6.4): ADDBA Request and
    Response, DELBA (meshframes.codec.blockack)."""

    header: MacHeader
    body: BlockAckBody


@quick_init
@dataclass(frozen=True, slots=True)
class ActionFrame:
    """Any other action frame (other categories, other vendors, Linux's
    category|0x80 echoes of frames nobody registered for)."""

    header: MacHeader
    category: int
    body: bytes


@quick_init
@dataclass(frozen=True, slots=True)
class ManagementFrame:
    """Other management subtypes, and any protected management frame
    (its body is CCMP ciphertext)."""

    header: MacHeader
    body: bytes


class MeshControlRule(enum.Enum):
    """Why a data frame was read as carrying a Mesh Control field."""

    # QoS Control bit 8 set (9.2.4.5.12): the standard way.
    QOS_BIT = "qos-bit"
    # Bit clear but a 4-address (or mesh group-addressed) QoS data frame whose
    # body is a valid Mesh Control field: how Linux relays mesh data.
    INFERRED = "inferred"


@quick_init
@dataclass(frozen=True, slots=True)
class DataFrame:
    header: MacHeader
    mesh_control: MeshControl | None
    body: bytes

    @property
    def mesh_control_rule(self) -> MeshControlRule | None:
        if self.mesh_control is None:
            return None
        if (self.header.qos_control or 0) & QOS_MESH_CONTROL_PRESENT:
            return MeshControlRule.QOS_BIT
        return MeshControlRule.INFERRED


@quick_init
@dataclass(frozen=True, slots=True)
class ControlFrame:
    """Control frames (ACK, RTS, CTS, CF-End, BlockAck...): Frame Control,
    Duration and Address 1 decoded, the rest kept."""

    frame_control: int
    duration: int
    addr1: bytes
    rest: bytes

    @property
    def subtype(self) -> int:
        return (self.frame_control >> 4) & 0xF


@dataclass(frozen=True, slots=True)
class ExtensionFrame:
    """Type 3 (extension) frames, kept whole."""

    data: bytes


Frame = (
    Beacon | SelfProtected | MeshAction | MultihopAction | VendorAction | BlockAckAction | ActionFrame |
    ManagementFrame | DataFrame | ControlFrame | ExtensionFrame
)
_WITH_HEADER = (Beacon, SelfProtected, MeshAction, MultihopAction, VendorAction, BlockAckAction, ActionFrame,
                ManagementFrame, DataFrame)


def mesh_addresses(frame: DataFrame | VendorAction) -> tuple[bytes, bytes] | None:
    """(mesh DA, mesh SA) of a multihop frame, None if it carries none."""
    mc = frame.mesh_control
    if mc is None:
        return None
    hdr = frame.header
    if isinstance(frame, VendorAction):
        if mc.ae_mode == AE_A5_A6:
            return mc.addr_ext[0], mc.addr_ext[1]
        if mc.ae_mode == AE_NONE:
            return hdr.addr1, hdr.addr2
        return None
    if hdr.addr4 is not None:
        return hdr.addr3, hdr.addr4
    return hdr.addr1, hdr.addr3


def _decode_self_protected(header: MacHeader, data: bytes, off: int, action: int) -> SelfProtected:
    capability = aid = None
    if action in (SP_MESH_PEERING_OPEN, SP_MESH_PEERING_CONFIRM):
        need(data, off, 2, "Capability Information")
        capability = _U16.unpack_from(data, off)[0]
        off += 2
    if action == SP_MESH_PEERING_CONFIRM:
        need(data, off, 2, "AID")
        aid = _U16.unpack_from(data, off)[0]
        off += 2
    elems, end = decode_elements(data, off, peering_action=action, stop_at=el.EID_MIC)
    return SelfProtected(header, action, capability, aid, elems, data[end:])


def _decode_vendor(header: MacHeader, data: bytes, off: int, category: int) -> VendorAction | ActionFrame:
    if data[off + 1:off + 4] != el.MESHFRAMES_OUI:
        return ActionFrame(header, category, data[off + 1:])
    pos = off + 4
    mesh_control = decode_mesh_control(data, pos)
    _check_ae_mode(header.frame_control, mesh_control, pos)
    pos += mesh_control.length
    return VendorAction(header, category, mesh_control, decode_fragment(data, pos))


def _decode_multihop(header: MacHeader, data: bytes, off: int) -> MultihopAction | None:
    """Every multihop action carries Mesh Control after its Action field
    (9.2.4.7.3, 9.6.17.1), then a body; the body of a reserved action is
    not ours to read (None: the caller keeps it as bytes)."""
    if len(data) - (off + 1) < 1:
        need(data, off + 1, 1, "Multihop Action")
    action = data[off + 1]
    pos = off + 2
    mesh_control = decode_mesh_control(data, pos)
    _check_ae_mode(header.frame_control, mesh_control, pos)
    pos += mesh_control.length
    if len(data) - pos < 1:
        need(data, pos, 1, "Multihop Action body")
    if action not in MULTIHOP_ACTIONS_WITH_ELEMENTS:
        return None
    return MultihopAction(header, action, mesh_control, decode_elements(data, pos)[0])


def _decode_action(header: MacHeader, data: bytes, off: int) -> Frame:
    if len(data) - off < 1:
        need(data, off, 1, "Category")
    category = data[off]
    if category == CATEGORY_SELF_PROTECTED:
        if len(data) - (off + 1) < 1:
            need(data, off + 1, 1, "Self Protected Action")
        action = data[off + 1]
        if action not in (SP_MESH_PEERING_OPEN, SP_MESH_PEERING_CONFIRM):
            # Every self-protected action has fields or elements after its
            # Action field (9.6.15); Open and Confirm start with Capability.
            need(data, off + 2, 1, "Self Protected Action body")
        if SP_MESH_PEERING_OPEN <= action <= SP_MESH_GROUP_KEY_ACK:
            return _decode_self_protected(header, data, off + 2, action)
    elif category == CATEGORY_MESH:
        if len(data) - (off + 1) < 1:
            need(data, off + 1, 1, "Mesh Action")
        action = data[off + 1]
        # Every mesh action has fields or elements after its Action field
        # (9.6.16): one that ends there is cut short.
        if len(data) - (off + 2) < 1:
            need(data, off + 2, 1, "Mesh Action body")
        if action in MESH_ACTIONS_WITH_ELEMENTS:
            return MeshAction(header, action, decode_elements(data, off + 2)[0])
    elif category == CATEGORY_MULTIHOP:
        multihop = _decode_multihop(header, data, off)
        if multihop is not None:
            return multihop
    elif category in (CATEGORY_VENDOR, CATEGORY_VENDOR_PROTECTED):
        if len(data) - (off + 1) < 3:
            need(data, off + 1, 3, "vendor OUI")
        return _decode_vendor(header, data, off, category)
    elif category == CATEGORY_BLOCK_ACK:
        block_ack = decode_block_ack(data, off + 1)
        if block_ack is not None:
            return BlockAckAction(header, block_ack)
    return ActionFrame(header, category, data[off + 1:])


def _check_ae_mode(frame_control: int, mc: MeshControl, offset: int) -> None:
    expected = ae_mode_problem(frame_control, mc.ae_mode)
    if expected is not None:
        raise DecodeError("mesh address extension mode", offset, mc.ae_mode, expected)


def _encodable_ae_mode(frame_control: int, mc: MeshControl) -> bytes:
    expected = ae_mode_problem(frame_control, mc.ae_mode)
    if expected is not None:
        raise EncodeError("mesh address extension mode", mc.ae_mode, expected)
    return mc.encode()


def _carries_one_msdu(header: MacHeader) -> bool:
    """Whether a data frame's body, past any Mesh Control, is one MSDU
    (LLC first): not when protected, nor in a reserved subtype (no layout),
    nor in an A-MSDU (9.3.2.2: subframes, each with its own header)."""
    return not (header.protected or header.subtype == DATA_SUBTYPE_RESERVED_QOS
                or (header.qos_control or 0) & QOS_AMSDU_PRESENT)


def _decode_data(header: MacHeader, data: bytes, off: int) -> DataFrame:
    if header.protected:
        need(data, off, SECURITY_HEADER_LEN, "security header")
        return DataFrame(header, None, data[off:])
    mc = None
    if off < len(data) and mesh_control_rule(header.frame_control, header.qos_control, header.addr1,
                                             header.seq_ctrl, data[off:]) is not None:
        mc = decode_mesh_control(data, off)
        _check_ae_mode(header.frame_control, mc, off)
        off += mc.length
    if not _carries_one_msdu(header):
        return DataFrame(header, mc, data[off:])
    if 0 < len(data) - off < LLC_HEADER_LEN:
        raise DecodeError("LLC header", off, f"{len(data) - off} bytes", f"{LLC_HEADER_LEN} bytes, or no MSDU")
    if data[off:off + LLC_HEADER_LEN] == LLC_SNAP and len(data) - off < LLC_HEADER_LEN + SNAP_HEADER_LEN:
        raise DecodeError("SNAP header", off + LLC_HEADER_LEN, f"{len(data) - off - LLC_HEADER_LEN} bytes",
                          f"{SNAP_HEADER_LEN} bytes (OUI and protocol ID, RFC 1042)")
    return DataFrame(header, mc, data[off:])


def decode(data: bytes | bytearray | memoryview) -> Frame:
    """Decode one MPDU. Cached: frames are immutable and a broadcast is
    decoded once however many nodes hear it."""
    # The cache needs a hashable key, and events must hold bytes, never a
    # view into a buffer the caller may reuse; bytes(b) of bytes is b itself.
    return _decode_cached(bytes(data))


def _decode(data: bytes) -> Frame:
    check_version(data)
    fc = data[0] | (data[1] << 8)
    ftype = (fc >> 2) & 0x3
    if ftype in (TYPE_CTRL, TYPE_EXT):
        length = short_header_length(fc)
        need(data, 0, length, "control frame header" if ftype == TYPE_CTRL else "extension frame header")
        if ftype == TYPE_EXT:
            return ExtensionFrame(data)
        if (fc >> 4) & 0xF in CONTROL_FIXED_LENGTH and len(data) != length:
            raise DecodeError("control frame length", length, len(data), length)
        return ControlFrame(fc, _U16.unpack_from(data, 2)[0], data[4:10], data[10:])
    header, off = decode_header(data)
    if ftype == TYPE_DATA:
        return _decode_data(header, data, off)
    subtype = header.subtype
    name, fixed = MGMT_FIXED_FIELDS.get(subtype, ("", 0))
    if len(data) - off < fixed:
        need(data, off, fixed, f"{name} fixed fields")
    if fc & FC_PROTECTED:
        need(data, off, SECURITY_HEADER_LEN, "security header")
        return ManagementFrame(header, data[off:])
    if subtype in (SUBTYPE_BEACON, SUBTYPE_PROBE_RESP):
        ts, interval, cap = _BEACON_FIXED.unpack_from(data, off)
        return Beacon(header, ts, interval, cap, decode_elements(data, off + _BEACON_FIXED.size)[0])
    if subtype == SUBTYPE_ACTION:
        return _decode_action(header, data, off)
    elements = subtype in _ELEMENT_BODIES
    if subtype == SUBTYPE_AUTHENTICATION:
        algorithm, seq, status = read_authentication_fields(data, off)
        if algorithm == AUTH_ALGORITHM_SAE:
            check_sae_body(seq, status, data[off + fixed:], off + fixed)
        elements = algorithm in AUTH_ALGORITHMS_WITH_ELEMENTS
    if elements:
        # Kept as bytes, but read as the elements they are: a frame whose
        # elements do not parse is refused like any other.
        decode_elements(data, off + fixed)
    return ManagementFrame(header, data[off:])


def read_authentication_fields(data: bytes, offset: int) -> tuple[int, int, int]:
    """An Authentication frame's Authentication Algorithm Number,
    Transaction Sequence Number and Status Code (9.3.3.12), read at the
    body `offset`; the caller has checked the six octets are there."""
    return _AUTH_FIXED.unpack_from(data, offset)


_decode_cached = lru_cache(maxsize=8192)(_decode)
# The uncached decoder under the name lru_cache gives it: `meshframes bench
# mesh` measures it as the floor every reception pays.
decode.__wrapped__ = _decode  # type: ignore[attr-defined]


def encode(frame: Frame) -> bytes:
    """The exact bytes of a frame event."""
    if not isinstance(frame, _WITH_HEADER):
        if isinstance(frame, ExtensionFrame):
            return frame.data
        if isinstance(frame, ControlFrame):
            if len(frame.addr1) != 6:
                raise EncodeError("Address 1", len(frame.addr1), 6)
            return struct.pack("<HH", frame.frame_control, frame.duration) + frame.addr1 + frame.rest
        raise EncodeError("frame type", type(frame).__name__, "a meshframes.codec frame")
    head = frame.header.encode()
    # The classes are tested most frequent on a mesh's air first; element
    # frames are put together as a list of parts joined once.
    if isinstance(frame, SelfProtected):
        return _encode_self_protected(head, frame)
    if isinstance(frame, VendorAction):
        return _encode_vendor(head, frame)
    if isinstance(frame, MeshAction):
        if not frame.elements:
            raise EncodeError("Mesh Action elements", "none", "at least one")
        parts = [head, _CATEGORY_ACTION.pack(CATEGORY_MESH, frame.action)]
        element_parts(frame.elements, parts)
        return b"".join(parts)
    if isinstance(frame, MultihopAction):
        if not frame.elements:
            raise EncodeError("Multihop Action elements", "none", "at least one")
        parts = [head, _CATEGORY_ACTION.pack(CATEGORY_MULTIHOP, frame.action),
                 _encodable_ae_mode(frame.header.frame_control, frame.mesh_control)]
        element_parts(frame.elements, parts)
        return b"".join(parts)
    if isinstance(frame, DataFrame):
        mc = _encodable_ae_mode(frame.header.frame_control, frame.mesh_control) if frame.mesh_control else b""
        if _carries_one_msdu(frame.header) and (0 < len(frame.body) < LLC_HEADER_LEN or (
                frame.body[:LLC_HEADER_LEN] == LLC_SNAP and len(frame.body) < LLC_HEADER_LEN + SNAP_HEADER_LEN)):
            raise EncodeError("LLC/SNAP header", f"{len(frame.body)} bytes", "3 bytes (8 with SNAP), or no MSDU")
        return b"".join((head, mc, frame.body))
    if isinstance(frame, Beacon):
        parts = [head, _BEACON_FIXED.pack(frame.timestamp, frame.beacon_interval, frame.capability)]
        element_parts(frame.elements, parts)
        return b"".join(parts)
    if isinstance(frame, BlockAckAction):
        return b"".join((head, bytes((CATEGORY_BLOCK_ACK,)), encode_block_ack(frame.body)))
    if isinstance(frame, ActionFrame):
        return b"".join((head, bytes((frame.category,)), frame.body))
    return head + frame.body


def _encode_self_protected(head: bytes, f: SelfProtected) -> bytes:
    wants_cap = f.action in (SP_MESH_PEERING_OPEN, SP_MESH_PEERING_CONFIRM)
    if (f.capability is not None) != wants_cap:
        raise EncodeError("Capability Information", f.capability, "present in Open and Confirm only")
    if (f.aid is not None) != (f.action == SP_MESH_PEERING_CONFIRM):
        raise EncodeError("AID", f.aid, "present in Confirm only")
    if f.capability is None and not f.elements:
        raise EncodeError("Self Protected elements", "none", "at least one")
    if f.sealed and not (f.elements and f.elements[-1].element_id == el.EID_MIC):
        raise EncodeError("sealed AMPE bytes", "without a preceding MIC element", "MIC element last")
    parts = [head, _CATEGORY_ACTION.pack(CATEGORY_SELF_PROTECTED, f.action)]
    if f.capability is not None:
        parts.append(_U16.pack(f.capability))
    if f.aid is not None:
        parts.append(_U16.pack(f.aid))
    element_parts(f.elements, parts)
    parts.append(f.sealed)
    return b"".join(parts)


def _encode_vendor(head: bytes, f: VendorAction) -> bytes:
    if f.category not in (CATEGORY_VENDOR, CATEGORY_VENDOR_PROTECTED):
        raise EncodeError("vendor action category", f.category, "127 or 126")
    payload = encode_fragment(f.payload)
    mc = _encodable_ae_mode(f.header.frame_control, f.mesh_control)
    return b"".join((head, _VENDOR_PREFIX[f.category], mc, payload))



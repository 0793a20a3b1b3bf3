"""Where the fields of an MPDU are, for code that works on its bytes:
per-hop sealing, radios, the simulated medium, capture tools.

`meshframes.codec.frames` decodes whole frames into events; the accessors
here read or patch one field of the bytes without decoding the rest, which
is what a hot path (CCMP on every frame, the medium on every transmission)
can afford. Positions follow 802.11-2020 9.2.3 (Figure 9-1, the general
frame format), 9.2.4 (its fields), 9.3.3.2 (the management header) and
12.5.3.2 (the CCMP header). Nothing outside the codec indexes an MPDU by
offset (tests/test_one_owner_offsets.py holds the package to it).

Frames are MPDUs as bytes from Frame Control on, without FCS or radiotap.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from meshframes.codec.action import ACTION_LEN, CATEGORY_LEN
from meshframes.codec.header import (
    DATA_SUBTYPE_QOS,
    FC_FROM_DS,
    FC_ORDER,
    FC_PROTECTED,
    FC_TO_DS,
    SUBTYPE_ACTION,
    SUBTYPE_ACTION_NO_ACK,
    TYPE_DATA,
    TYPE_MGMT,
    short_header_length,
)

# Figure 9-1: the octets every management and data MPDU starts with.
FRAME_CONTROL_LEN = 2
FRAME_CONTROL = slice(0, FRAME_CONTROL_LEN)
ADDR1 = slice(4, 10)
ADDR2 = slice(10, 16)
ADDR3 = slice(16, 22)
# A1, A2 and A3 back to back, as CCMP's AAD takes them (12.5.3.3.3).
ADDR1_TO_ADDR3 = slice(4, 22)
SEQUENCE_CONTROL = slice(22, 24)
# 9.2.4.4: the fragment number is the low nibble of Sequence Control's
# first octet, so a hot path reads it with one index and a mask.
FRAGMENT_NUMBER_OCTET = 22
FRAGMENT_NUMBER_MASK = 0x0F
ADDR_LEN = 6
# 9.3.3.2, 9.3.2.1: Frame Control to Sequence Control; Address 4, QoS
# Control and HT Control follow when Frame Control says so.
THREE_ADDRESS_HEADER_LEN = 24
QOS_CONTROL_LEN = 2
HT_CONTROL_LEN = 4
# 9.2.4.5.1: the TID is QoS Control's low nibble.
QOS_TID_MASK = 0x0F
# 9.2.4.1.1: Frame Control's flags are its second octet (the u16's high byte).
_FC_FLAGS_SHIFT = 8
_PROTECTED_OCTET = FC_PROTECTED >> _FC_FLAGS_SHIFT

# 12.5.3.2: PN0 PN1 reserved (Ext IV | Key ID << 6) PN2 PN3 PN4 PN5, so a
# header is the PN's little-endian octets split around the key octets.
CCMP_HEADER_LEN = 8
CCMP_EXT_IV = 0x20
CCMP_KEY_ID_SHIFT = 6
CCMP_PN_LEN = 6
CCMP_PN_LOW = slice(0, 2)
CCMP_PN_HIGH = slice(2, CCMP_PN_LEN)
# Octets 2-3 of the header by key id: reserved, then Ext IV and the key id.
CCMP_KEY_OCTETS = tuple(bytes((0, CCMP_EXT_IV | key_id << CCMP_KEY_ID_SHIFT)) for key_id in range(4))

_U16 = struct.Struct("<H")


@dataclass(frozen=True, slots=True)
class Layout:
    """What Frame Control alone fixes about where a frame's fields are."""

    frame_control: int
    ftype: int
    subtype: int
    # Octets of MAC header: where the frame body starts.
    header_len: int
    # End of Address 4 when present, else of Sequence Control (24): the
    # header fields before QoS Control.
    addr4_end: int
    # Offset of QoS Control, 0 when absent.
    qos_offset: int


def _layout(fc: int) -> Layout:
    ftype, subtype = (fc >> 2) & 0x3, (fc >> 4) & 0xF
    if ftype == TYPE_MGMT:
        header_len = THREE_ADDRESS_HEADER_LEN + (HT_CONTROL_LEN if fc & FC_ORDER else 0)
        return Layout(fc, ftype, subtype, header_len, THREE_ADDRESS_HEADER_LEN, 0)
    if ftype == TYPE_DATA:
        four = fc & (FC_TO_DS | FC_FROM_DS) == FC_TO_DS | FC_FROM_DS
        addr4_end = THREE_ADDRESS_HEADER_LEN + (ADDR_LEN if four else 0)
        if not subtype & DATA_SUBTYPE_QOS:
            return Layout(fc, ftype, subtype, addr4_end, addr4_end, 0)
        # 9.2.4.7: +HTC follows QoS Control in QoS data frames with Order set.
        header_len = addr4_end + QOS_CONTROL_LEN + (HT_CONTROL_LEN if fc & FC_ORDER else 0)
        return Layout(fc, ftype, subtype, header_len, addr4_end, addr4_end)
    header_len = short_header_length(fc)
    return Layout(fc, ftype, subtype, header_len, header_len, 0)


# Frame Control -> layout; at most 2^16 entries, filled as values are seen.
_LAYOUTS: dict[int, Layout] = {}


def layout_of(frame_control: int) -> Layout:
    """The layout a Frame Control value gives its frame (cached)."""
    found = _LAYOUTS.get(frame_control)
    if found is None:
        found = _LAYOUTS[frame_control] = _layout(frame_control)
    return found


def layout(mpdu: bytes) -> Layout:
    """The layout of `mpdu`, which must hold at least Frame Control."""
    return layout_of(mpdu[0] | mpdu[1] << _FC_FLAGS_SHIFT)


def read_frame_control(mpdu: bytes) -> int:
    """Frame Control as the little-endian u16 it is on the air."""
    return mpdu[0] | mpdu[1] << _FC_FLAGS_SHIFT


def protocol_version(mpdu: bytes) -> int:
    return mpdu[0] & 0x3


def frame_type(mpdu: bytes) -> int:
    """TYPE_MGMT, TYPE_CTRL, TYPE_DATA or TYPE_EXT."""
    return (mpdu[0] >> 2) & 0x3


def frame_subtype(mpdu: bytes) -> int:
    return mpdu[0] >> 4


def category_at(mpdu: bytes, header_len: int) -> int | None:
    """The Category after a MAC header of `header_len` octets that the
    caller has from `layout`, None when the frame ends there."""
    return mpdu[header_len] if len(mpdu) > header_len else None


def is_protected(mpdu: bytes) -> bool:
    """The Protected Frame bit (9.2.4.1.9); False when there is no Frame Control."""
    return len(mpdu) >= 2 and bool(mpdu[1] & _PROTECTED_OCTET)


def is_action(mpdu: bytes) -> bool:
    """A version 0 management Action or Action No Ack frame (9.3.3.13, 9.3.3.14)."""
    return mpdu[0] & 0x0F == TYPE_MGMT << 2 and mpdu[0] >> 4 in (SUBTYPE_ACTION, SUBTYPE_ACTION_NO_ACK)


def addr1(mpdu: bytes) -> bytes:
    """The receiver address; shorter than 6 octets when the frame is cut short."""
    return mpdu[ADDR1]


def addr2(mpdu: bytes) -> bytes:
    """The transmitter address (absent from ACK and CTS)."""
    return mpdu[ADDR2]


def addr3(mpdu: bytes) -> bytes:
    return mpdu[ADDR3]


def receiver_is_group(mpdu: bytes) -> bool:
    """Address 1 is a group address (I/G bit); False when it is cut short."""
    return len(mpdu) > ADDR1.start and bool(mpdu[ADDR1.start] & 0x01)


def addressed_elsewhere(mpdu: bytes, own: bytes) -> bool:
    """Address 1 is a whole individual address other than `own`: a frame
    a station that hears the whole channel must leave alone."""
    receiver = mpdu[ADDR1]
    return len(receiver) == ADDR_LEN and not receiver[0] & 0x01 and receiver != own


def sequence_control(mpdu: bytes) -> int:
    return _U16.unpack_from(mpdu, SEQUENCE_CONTROL.start)[0]


def with_sequence_number(mpdu: bytes, sequence_number: int, fragment_number: int = 0) -> bytes:
    """`mpdu` with its Sequence Control set (9.2.4.4): 12-bit sequence
    number, 4-bit fragment number."""
    seq_ctrl = (sequence_number & 0xFFF) << 4 | fragment_number & 0xF
    return mpdu[:SEQUENCE_CONTROL.start] + _U16.pack(seq_ctrl) + mpdu[SEQUENCE_CONTROL.stop:]


def with_flags(mpdu: bytes, flags: int) -> bytes:
    """`mpdu` with Frame Control flags (FC_RETRY, FC_PROTECTED...) set."""
    return mpdu[:1] + bytes((mpdu[1] | flags >> _FC_FLAGS_SHIFT,)) + mpdu[2:]


def without_flags(mpdu: bytes, flags: int) -> bytes:
    """`mpdu` with Frame Control flags cleared."""
    return mpdu[:1] + bytes((mpdu[1] & ~(flags >> _FC_FLAGS_SHIFT) & 0xFF,)) + mpdu[2:]


def header_length(mpdu: bytes) -> int:
    """Octets of MAC header Frame Control promises (9.3): where the body starts."""
    return layout(mpdu).header_len


def frame_body(mpdu: bytes) -> bytes:
    """What follows the MAC header."""
    return mpdu[layout(mpdu).header_len:]


def category_offset(mpdu: bytes) -> int | None:
    """Where the Category of an Action frame is (9.4.1.11), None for any
    other frame and for an Action frame cut before its Category. In a
    protected frame the octet there is ciphertext."""
    if len(mpdu) < THREE_ADDRESS_HEADER_LEN or not is_action(mpdu):
        return None
    offset = layout(mpdu).header_len
    return offset if len(mpdu) >= offset + CATEGORY_LEN else None


def category(mpdu: bytes) -> int | None:
    """The Category of an Action frame, None for any other frame."""
    offset = category_offset(mpdu)
    return None if offset is None else mpdu[offset]


def action_fields(mpdu: bytes) -> tuple[int, int, bytes] | None:
    """(Category, Action, what follows) of an Action frame, for the
    categories whose frames start with an Action field (all but the
    vendor-specific ones, 9.6); None for any other frame and for an
    Action frame cut before its Action field."""
    offset = category_offset(mpdu)
    if offset is None or len(mpdu) < offset + CATEGORY_LEN + ACTION_LEN:
        return None
    after = offset + CATEGORY_LEN
    return mpdu[offset], mpdu[after], mpdu[after + ACTION_LEN:]


def action_body(mpdu: bytes, offset: int) -> bytes:
    """What follows the Category at `offset` (from `category_offset`)."""
    return mpdu[offset + CATEGORY_LEN:]


def with_category(mpdu: bytes, offset: int, value: int) -> bytes:
    """`mpdu` with the Category at `offset` (from `category_offset`) replaced."""
    return mpdu[:offset] + bytes((value,)) + mpdu[offset + CATEGORY_LEN:]


def ccmp_header(pn: int, key_id: int) -> bytes:
    """The 8-octet CCMP header (12.5.3.2) of packet number `pn`."""
    pn_le = pn.to_bytes(CCMP_PN_LEN, "little")
    return pn_le[CCMP_PN_LOW] + CCMP_KEY_OCTETS[key_id] + pn_le[CCMP_PN_HIGH]


def read_ccmp_header(mpdu: bytes, header_len: int) -> tuple[int, int]:
    """(key id octet, PN) of the CCMP header after a MAC header of
    `header_len` octets; the caller checks the Ext IV bit of the first."""
    value = int.from_bytes(mpdu[header_len:header_len + CCMP_HEADER_LEN], "little")
    return value >> 24 & 0xFF, (value & 0xFFFF) | (value >> 32) << 16

"""The 802.11 MAC header (802.11-2020 9.2.3, 9.3): Frame Control, Duration,
addresses, Sequence Control, QoS Control and HT Control.

Frame Control is kept as the 16-bit little-endian integer it is on the air,
so flags the codec has no opinion about (power management, more data) are
carried through unchanged.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from meshframes.codec.errors import DecodeError, EncodeError, need
from meshframes.codec.frozen import quick_init

# Frame Control, 9.2.4.1: type and subtype of the first octet.
TYPE_MGMT = 0
TYPE_CTRL = 1
TYPE_DATA = 2
TYPE_EXT = 3

SUBTYPE_PROBE_REQ = 4
SUBTYPE_PROBE_RESP = 5
SUBTYPE_BEACON = 8
SUBTYPE_DISASSOCIATION = 10
SUBTYPE_DEAUTHENTICATION = 12
SUBTYPE_ACTION = 13
SUBTYPE_ACTION_NO_ACK = 14
# Control subtypes, Table 9-1: CTS and ACK.
SUBTYPE_CTS = 12
SUBTYPE_ACK = 13
SUBTYPE_QOS_DATA = 8
SUBTYPE_QOS_NULL = 12

# Frame Control flags, 9.2.4.1.1 (second octet, shifted into the u16).
FC_TO_DS = 0x0100
FC_FROM_DS = 0x0200
FC_MORE_FRAGMENTS = 0x0400
FC_RETRY = 0x0800
FC_POWER_MANAGEMENT = 0x1000
FC_MORE_DATA = 0x2000
FC_PROTECTED = 0x4000
FC_ORDER = 0x8000

# Data subtypes, 9.2.4.1.3 Table 9-1: bit 3 (0x8) marks QoS data, bit 2
# (0x4) the subtypes without a frame body (Null, QoS Null, CF-Ack/Poll).
DATA_SUBTYPE_QOS = 0x8
DATA_SUBTYPE_NO_DATA = 0x4
# Table 9-1: the one reserved subtype with the QoS bit set. We read its QoS
# Control by the bit; Scapy reads none.
DATA_SUBTYPE_RESERVED_QOS = 13

# QoS Control bits the Mesh Control rule reads, 9.2.4.5.1.
QOS_AMSDU_PRESENT = 0x0080
QOS_MESH_CONTROL_PRESENT = 0x0100

BROADCAST = b"\xff\xff\xff\xff\xff\xff"

# 12.5.2.2, 12.5.3.2: a protected body starts with an 8-octet WEP IV + ICV
# or TKIP/CCMP/GCMP header.
SECURITY_HEADER_LEN = 8

# 9.3.3: the fixed fields before the elements of a management frame body,
# by subtype: (frame name, octets). Probe requests, ATIMs and the reserved
# subtypes have none.
MGMT_FIXED_FIELDS: dict[int, tuple[str, int]] = {
    0: ("Association Request", 4), 1: ("Association Response", 6), 2: ("Reassociation Request", 10),
    3: ("Reassociation Response", 6), 5: ("Probe Response", 12), 8: ("Beacon", 12),
    10: ("Disassociation", 2), 11: ("Authentication", 6), 12: ("Deauthentication", 2),
    13: ("Action", 1), 14: ("Action No Ack", 1),
}
SUBTYPE_AUTHENTICATION = 11
# 9.3.3.12: Authentication bodies are fixed fields then elements with the Open
# System and Shared Key algorithms (9.4.1.1); SAE, FT and FILS put their own
# fields first.
AUTH_ALGORITHMS_WITH_ELEMENTS = frozenset({0, 1})
# 9.3.1.3, 9.3.1.4: CTS and ACK are Frame Control, Duration and RA, nothing
# more; every other control frame has a TA (or, in a Control Wrapper, the
# Carried Frame Control and HT Control) after the RA.
CONTROL_FIXED_LENGTH = {SUBTYPE_CTS: 10, SUBTYPE_ACK: 10}
CONTROL_MIN_LENGTH = 16
# Extension frames (type 3): the subtypes that, like control frames, carry a
# second address after Address 1.
_EXTENSION_WITH_TA = frozenset({4, 5, 6, 8, 9, 10, 11, 14, 15})

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_FC_DUR = struct.Struct("<HH")
# 9.3.1.1: Frame Control, Duration, Addresses 1-3, Sequence Control.
_THREE_ADDRESS = struct.Struct("<HH6s6s6sH")
# Frame Control bits that can add fields after Sequence Control: the data
# type's bit (Address 4, QoS Control) and Order (+HTC).
_DATA_OR_ORDER = (TYPE_DATA << 2) | FC_ORDER


def frame_control(ftype: int, subtype: int, flags: int = 0) -> int:
    """The Frame Control value for a type, subtype and FC_* flags."""
    return (ftype << 2) | (subtype << 4) | flags


def is_group(addr: bytes) -> bool:
    """Group (multicast or broadcast) address: I/G bit of the first octet."""
    return bool(addr[0] & 0x01)


@quick_init
@dataclass(frozen=True, slots=True)
class MacHeader:
    """A management or data MAC header. Control frames use ControlFrame."""

    frame_control: int
    duration: int
    addr1: bytes
    addr2: bytes
    addr3: bytes
    seq_ctrl: int
    addr4: bytes | None = None
    qos_control: int | None = None
    ht_control: int | None = None

    @property
    def ftype(self) -> int:
        return (self.frame_control >> 2) & 0x3

    @property
    def subtype(self) -> int:
        return (self.frame_control >> 4) & 0xF

    @property
    def protected(self) -> bool:
        return bool(self.frame_control & FC_PROTECTED)

    @property
    def retry(self) -> bool:
        return bool(self.frame_control & FC_RETRY)

    @property
    def sequence_number(self) -> int:
        return self.seq_ctrl >> 4

    @property
    def fragment_number(self) -> int:
        return self.seq_ctrl & 0xF

    def encode(self) -> bytes:
        fc = self.frame_control
        if not fc & _DATA_OR_ORDER and self.addr4 is None and self.qos_control is None and \
                self.ht_control is None and len(self.addr1) == len(self.addr2) == len(self.addr3) == 6:
            # A management frame without HT Control, most of a mesh's air:
            # three addresses, nothing after Sequence Control.
            return _THREE_ADDRESS.pack(fc, self.duration, self.addr1, self.addr2, self.addr3, self.seq_ctrl)
        is_data = (fc >> 2) & 0x3 == TYPE_DATA
        qos = is_data and bool((fc >> 4) & DATA_SUBTYPE_QOS)
        four = is_data and fc & (FC_TO_DS | FC_FROM_DS) == FC_TO_DS | FC_FROM_DS
        # 9.2.4.7: +HTC is present in QoS data and in management frames with Order set.
        htc = bool(fc & FC_ORDER) and (qos or not is_data)
        if (self.addr4 is not None) != four or (self.qos_control is not None) != qos or \
                (self.ht_control is not None) != htc:
            _check_present("Address 4", self.addr4, four)
            _check_present("QoS Control", self.qos_control, qos)
            _check_present("HT Control", self.ht_control, htc)
        if not len(self.addr1) == len(self.addr2) == len(self.addr3) == 6 or \
                (self.addr4 is not None and len(self.addr4) != 6):
            for name, addr in (("Address 1", self.addr1), ("Address 2", self.addr2),
                               ("Address 3", self.addr3), ("Address 4", self.addr4)):
                if addr is not None and len(addr) != 6:
                    raise EncodeError(name, f"{len(addr)} bytes", "6 bytes")
        # The lengths are checked above: the 6s fields neither pad nor cut.
        head = _THREE_ADDRESS.pack(fc, self.duration, self.addr1, self.addr2, self.addr3, self.seq_ctrl)
        if not (four or qos or htc):
            return head
        parts = [head]
        if four and self.addr4 is not None:
            parts.append(self.addr4)
        if qos:
            parts.append(_U16.pack(self.qos_control))
        if htc:
            parts.append(_U32.pack(self.ht_control))
        return b"".join(parts)


def _check_present(what: str, value: object, wanted: bool) -> None:
    if (value is not None) != wanted:
        raise EncodeError(what, "present" if value is not None else "absent",
                          "present" if wanted else "absent (Frame Control says so)")


def decode_header(data: bytes) -> tuple[MacHeader, int]:
    """Decode the management/data MAC header; return it and the body offset."""
    if len(data) < 24:
        need(data, 0, 24, "MAC header")
    fc, duration = _FC_DUR.unpack_from(data, 0)
    ftype = (fc >> 2) & 0x3
    is_data = ftype == TYPE_DATA
    qos = is_data and bool((fc >> 4) & DATA_SUBTYPE_QOS)
    off = 24
    addr4 = None
    if is_data and fc & (FC_TO_DS | FC_FROM_DS) == FC_TO_DS | FC_FROM_DS:
        need(data, off, 6, "Address 4")
        addr4 = data[off:off + 6]
        off += 6
    qos_control = None
    if qos:
        need(data, off, 2, "QoS Control")
        qos_control = _U16.unpack_from(data, off)[0]
        off += 2
    ht_control = None
    if fc & FC_ORDER and (qos or not is_data):
        need(data, off, 4, "HT Control")
        ht_control = _U32.unpack_from(data, off)[0]
        off += 4
    header = MacHeader(fc, duration, data[4:10], data[10:16], data[16:22],
                       _U16.unpack_from(data, 22)[0], addr4, qos_control, ht_control)
    return header, off


def short_header_length(frame_control: int) -> int:
    """Octets of header a control (type 1) or extension (type 3) frame needs."""
    subtype = (frame_control >> 4) & 0xF
    if (frame_control >> 2) & 0x3 == TYPE_CTRL:
        return CONTROL_FIXED_LENGTH.get(subtype, CONTROL_MIN_LENGTH)
    return CONTROL_MIN_LENGTH if subtype in _EXTENSION_WITH_TA else 10


def check_version(data: bytes) -> None:
    if len(data) < 2:
        need(data, 0, 2, "Frame Control")
    if data[0] & 0x3:
        raise DecodeError("protocol version", 0, data[0] & 0x3, 0)

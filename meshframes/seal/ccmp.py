"""CCMP-128 encapsulation and decapsulation of one MPDU (802.11-2020 12.5.3).

Stateless: the caller supplies the key (an `AESCCM` with an 8-octet tag) and
the PN, and keeps the replay state (see `meshframes.seal.hop`). Frames are
MPDUs as bytes from Frame Control on, without FCS or radiotap.

A protected MPDU is

    MAC header (Protected Frame bit set) | CCMP header (8) | data (encrypted) | MIC (8)

with the CCMP header `PN0 PN1 reserved (ExtIV | KeyID << 6) PN2 PN3 PN4 PN5`
(12.5.3.2). CCM runs with M = 8, L = 2 over

* AAD (12.5.3.3.3): FC with the Retry, Power Management and More Data bits
  cleared and Protected set; in data frames also the subtype bits 4-6, and in
  QoS data frames the Order (+HTC) bit; A1, A2, A3; Sequence Control with
  the sequence number cleared (fragment number kept); A4 when present; for
  QoS data the QoS Control field reduced to its TID. The HT Control field,
  duration and the rest of QoS Control are not authenticated: a relay or a
  retransmission may change them.
* nonce (12.5.3.3.4): flags (priority = TID for QoS data, else 0; bit 4 set
  for management frames) | A2 | PN, most significant octet first.

Management frames are protected only when robust (12.2.8): action frames
whose category is not in the non-robust set below; FastPay rides in
category 126 (vendor-specific protected), never in 127.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from meshframes.codec import mpdu
from meshframes.codec.action import NON_ROBUST_CATEGORIES
from meshframes.codec.header import (
    DATA_SUBTYPE_NO_DATA,
    FC_FROM_DS,
    FC_MORE_FRAGMENTS,
    FC_ORDER,
    FC_PROTECTED,
    FC_TO_DS,
    SUBTYPE_ACTION,
    SUBTYPE_ACTION_NO_ACK,
    SUBTYPE_DEAUTHENTICATION,
    SUBTYPE_DISASSOCIATION,
    TYPE_DATA,
    TYPE_MGMT,
    frame_control,
)
from meshframes.codec.mpdu import (
    ADDR1_TO_ADDR3,
    ADDR2,
    CCMP_EXT_IV,
    CCMP_HEADER_LEN,
    CCMP_KEY_ID_SHIFT,
    CCMP_KEY_OCTETS,
    CCMP_PN_HIGH,
    CCMP_PN_LEN,
    CCMP_PN_LOW,
    FRAGMENT_NUMBER_MASK,
    FRAGMENT_NUMBER_OCTET,
    FRAME_CONTROL,
    FRAME_CONTROL_LEN,
    QOS_TID_MASK,
    THREE_ADDRESS_HEADER_LEN,
    read_ccmp_header,
)
from meshframes.seal.errors import FrameTooShort, MicFailure, NoExtIV, NotProtectable, NotProtected

CCMP_MIC_LEN = 8  # CCMP-128: M = 8 (12.5.3.3.1)
CCMP_OVERHEAD = CCMP_HEADER_LEN + CCMP_MIC_LEN
PN_MAX = (1 << 48) - 1
TK_LEN = 16
NONCE_FLAG_MGMT = 0x10  # 12.5.3.3.4

# The codec's Frame Control values one octet at a time, for callers that
# test a single octet of the bytes (seal/e2e.py and the tests).
FC1_PROTECTED = FC_PROTECTED >> 8
FC1_ORDER = FC_ORDER >> 8
FC0_TYPE_MASK = 0x0C
FC0_TYPE_DATA = frame_control(TYPE_DATA, 0)
FC0_MGMT_ACTION = frame_control(TYPE_MGMT, SUBTYPE_ACTION)
FC0_MGMT_ACTION_NO_ACK = frame_control(TYPE_MGMT, SUBTYPE_ACTION_NO_ACK)
MAC_HEADER_MIN = THREE_ADDRESS_HEADER_LEN
HT_CONTROL_LEN = mpdu.HT_CONTROL_LEN

# 12.5.3.3.3: the AAD's Frame Control keeps ToDS, FromDS, More Fragments
# and Order (cleared as well in QoS data), clears Retry, Power Management
# and More Data, and sets Protected; in data frames it also clears subtype
# bits 4-6, keeping the QoS bit.
_AAD_FLAGS = FC_TO_DS | FC_FROM_DS | FC_MORE_FRAGMENTS | FC_ORDER
_AAD_FLAGS_QOS_DATA = _AAD_FLAGS & ~FC_ORDER
_AAD_MGMT_FIRST_OCTET = 0x00FF
_AAD_DATA_FIRST_OCTET = 0x008F

# What CCMP does with a management frame of a given subtype (12.2.8).
_ROBUST_NEVER, _ROBUST_ALWAYS, _ROBUST_BY_CATEGORY = 0, 1, 2
_ROBUST_SUBTYPES = {
    SUBTYPE_DISASSOCIATION: _ROBUST_ALWAYS, SUBTYPE_DEAUTHENTICATION: _ROBUST_ALWAYS,
    SUBTYPE_ACTION: _ROBUST_BY_CATEGORY, SUBTYPE_ACTION_NO_ACK: _ROBUST_BY_CATEGORY,
}
_FC = struct.Struct("<H")


@dataclass(frozen=True, slots=True)
class _FcLayout:
    """What the Frame Control field alone fixes about a frame's CCMP layout."""

    header_len: int
    fc_aad: bytes  # the masked FC, first two octets of the AAD
    fc_protected: bytes  # the FC with Protected set, as the sealed frame carries it
    fc_clear: bytes  # the FC with Protected clear, as the opened frame carries it
    aad_tail_end: int  # A4, when present, is frame[24:aad_tail_end]
    qos_at: int  # offset of QoS Control, 0 when absent
    flags: int  # nonce flags when not QoS data
    robust: int  # for management frames: _ROBUST_*
    subtype: int
    protected: bool


def _fc_layout(fc_octets: bytes) -> _FcLayout:
    fc = _FC.unpack(fc_octets)[0]
    if fc & 0x03:
        raise NotProtectable(f"protocol version {fc & 0x03}, CCMP here covers version 0")
    layout = mpdu.layout_of(fc)
    protected = _FC.pack(fc | FC_PROTECTED)
    clear = _FC.pack(fc & ~FC_PROTECTED)
    if layout.ftype == TYPE_DATA:
        if layout.subtype & DATA_SUBTYPE_NO_DATA:
            raise NotProtectable(f"data subtype {layout.subtype} carries no data")
        keep = _AAD_DATA_FIRST_OCTET | (_AAD_FLAGS_QOS_DATA if layout.qos_offset else _AAD_FLAGS)
        return _FcLayout(layout.header_len, _FC.pack(fc & keep | FC_PROTECTED), protected, clear,
                         layout.addr4_end, layout.qos_offset, 0, _ROBUST_ALWAYS, layout.subtype,
                         bool(fc & FC_PROTECTED))
    if layout.ftype == TYPE_MGMT:
        fc_aad = _FC.pack(fc & (_AAD_MGMT_FIRST_OCTET | _AAD_FLAGS) | FC_PROTECTED)
        return _FcLayout(layout.header_len, fc_aad, protected, clear, THREE_ADDRESS_HEADER_LEN, 0,
                         NONCE_FLAG_MGMT, _ROBUST_SUBTYPES.get(layout.subtype, _ROBUST_NEVER), layout.subtype,
                         bool(fc & FC_PROTECTED))
    raise NotProtectable("control and extension frames are never protected")


# Frame Control -> layout; at most 2^16 entries, filled as values are seen.
_FC_LAYOUTS: dict[bytes, _FcLayout] = {}
# The two-octet AAD fields built from one 4-bit value (fragment number, TID).
_LOW_NIBBLE = tuple(bytes((value, 0)) for value in range(16))
_OCTETS = tuple(bytes((value,)) for value in range(256))


def _layout(frame: bytes) -> _FcLayout:
    if len(frame) < THREE_ADDRESS_HEADER_LEN:
        raise FrameTooShort(f"{len(frame)} octets, a MAC header needs {THREE_ADDRESS_HEADER_LEN}")
    fc = frame[FRAME_CONTROL]
    layout = _FC_LAYOUTS.get(fc)
    if layout is None:
        layout = _FC_LAYOUTS[fc] = _fc_layout(fc)
    if len(frame) < layout.header_len:
        raise FrameTooShort(f"{len(frame)} octets, the MAC header is {layout.header_len}")
    return layout


def frame_layout(frame: bytes) -> tuple[int, bytes, int]:
    """The MAC header length, the CCM AAD and the nonce flags of `frame`.

    The nonce flags double as the replay traffic class: the TID for QoS data
    (0 for non-QoS data, which shares TID 0's counter) and 0x10 for
    management frames, which get their own counter (12.5.3.4.4).
    """
    return _aad(frame, _layout(frame))


def _aad(frame: bytes, layout: _FcLayout) -> tuple[int, bytes, int]:
    aad = (layout.fc_aad + frame[ADDR1_TO_ADDR3] + _LOW_NIBBLE[frame[FRAGMENT_NUMBER_OCTET] & FRAGMENT_NUMBER_MASK]
           + frame[THREE_ADDRESS_HEADER_LEN:layout.aad_tail_end])
    if layout.qos_at:
        tid = frame[layout.qos_at] & QOS_TID_MASK
        return layout.header_len, aad + _LOW_NIBBLE[tid], tid
    return layout.header_len, aad, layout.flags


def check_protectable(frame: bytes, header_len: int) -> None:
    """Refuse management frames that are not robust (12.2.8): CCMP protects
    only robust action frames, disassociation and deauthentication."""
    layout = _FC_LAYOUTS.get(frame[FRAME_CONTROL]) or _layout(frame)
    if _robust(frame, layout, header_len):
        return
    if layout.robust == _ROBUST_NEVER:
        raise NotProtectable(f"management subtype {layout.subtype} is not a robust frame")
    category = mpdu.category_at(frame, header_len)
    if category is None:
        raise FrameTooShort("action frame without a category")
    raise NotProtectable(f"action category {category} is not robust (use 126 for vendor frames)")


def _robust(frame: bytes, layout: _FcLayout, header_len: int) -> bool:
    """Whether CCMP protects the frame (12.2.8): data, disassociation,
    deauthentication, and action frames whose category is robust."""
    if layout.robust != _ROBUST_BY_CATEGORY:
        return layout.robust == _ROBUST_ALWAYS
    category = mpdu.category_at(frame, header_len)
    return category is not None and category not in NON_ROBUST_CATEGORIES


def needs_protection(frame: bytes) -> bool:
    """Whether a secure mesh must carry `frame` protected: data frames that
    carry data, and robust management frames. Beacons, peering (category 15),
    category 127, control and null frames go in the clear."""
    return protection_layout(frame) is not None


def protection_layout(frame: bytes) -> tuple[int, bytes, int] | None:
    """`frame_layout` of a frame that `needs_protection`, None for one that
    goes in the clear; the sealer takes it as it is, so a frame is read once.
    The rule is `check_protectable`'s, on the one layout lookup and with
    no refusal raised for the frames that go clear: every frame a station
    sends passes here."""
    try:
        layout = _layout(frame)
    except (NotProtectable, FrameTooShort):
        return None
    if layout.robust != _ROBUST_ALWAYS and not _robust(frame, layout, layout.header_len):
        return None
    return _aad(frame, layout)


def ccmp_nonce(flags: int, frame: bytes, pn: int) -> bytes:
    return _OCTETS[flags] + frame[ADDR2] + pn.to_bytes(CCMP_PN_LEN, "big")


def ccmp_aad_nonce(frame: bytes, pn: int) -> tuple[bytes, bytes]:
    """The AAD and the CCM nonce CCMP uses for `frame` under `pn`."""
    _, aad, flags = frame_layout(frame)
    return aad, ccmp_nonce(flags, frame, pn)


def ccmp_header(pn: int, key_id: int) -> bytes:
    """The 8-octet CCMP header (12.5.3.2)."""
    return mpdu.ccmp_header(pn, key_id)


def encapsulate(cipher: AESCCM, frame: bytes, pn: int, key_id: int) -> bytes:
    """Protect one MPDU: set Protected, insert the CCMP header, encrypt the
    frame body and append the MIC (12.5.3.3.1)."""
    header_len, aad, flags = frame_layout(frame)
    check_protectable(frame, header_len)
    return encapsulate_parsed(cipher, frame, header_len, aad, flags, pn, key_id)


def encapsulate_parsed(
    cipher: AESCCM, frame: bytes, header_len: int, aad: bytes, flags: int, pn: int, key_id: int
) -> bytes:
    """`encapsulate` for a frame whose `frame_layout` the caller already has."""
    pn_le = pn.to_bytes(CCMP_PN_LEN, "little")
    return b"".join((
        _FC_LAYOUTS[frame[FRAME_CONTROL]].fc_protected,
        frame[FRAME_CONTROL_LEN:header_len],
        pn_le[CCMP_PN_LOW],
        CCMP_KEY_OCTETS[key_id],
        pn_le[CCMP_PN_HIGH],
        cipher.encrypt(_OCTETS[flags] + frame[ADDR2] + pn_le[::-1], frame[header_len:], aad),
    ))


def parse_protected(frame: bytes) -> tuple[int, bytes, int, int, int]:
    """Read a protected MPDU's layout and CCMP header without decrypting:
    (MAC header length, AAD, nonce flags, key id, PN)."""
    layout = _layout(frame)
    header_len, aad, flags = _aad(frame, layout)
    if not layout.protected:
        raise NotProtected("Protected Frame bit is clear")
    if len(frame) < header_len + CCMP_OVERHEAD:
        raise FrameTooShort(
            f"{len(frame)} octets, CCMP needs at least {header_len + CCMP_OVERHEAD} (header, CCMP header, MIC)"
        )
    key_octet, pn = read_ccmp_header(frame, header_len)
    if not key_octet & CCMP_EXT_IV:
        raise NoExtIV(f"key id octet {key_octet:#04x} has Ext IV clear")
    return header_len, aad, flags, key_octet >> CCMP_KEY_ID_SHIFT, pn


def decapsulate(cipher: AESCCM, frame: bytes, header_len: int, aad: bytes, flags: int, pn: int) -> bytes:
    """Verify and decrypt a protected MPDU parsed by `parse_protected`; returns
    the plaintext MPDU with the Protected bit clear, as it was before
    `encapsulate`."""
    try:
        body = cipher.decrypt(
            _OCTETS[flags] + frame[ADDR2] + pn.to_bytes(CCMP_PN_LEN, "big"), frame[header_len + CCMP_HEADER_LEN:], aad
        )
    except InvalidTag:
        raise MicFailure(f"MIC does not verify (PN {pn}, A2 {frame[ADDR2].hex(':')})") from None
    return b"".join((_FC_LAYOUTS[frame[FRAME_CONTROL]].fc_clear, frame[FRAME_CONTROL_LEN:header_len], body))


def new_cipher(tk: bytes) -> AESCCM:
    if len(tk) != TK_LEN:
        raise ValueError(f"CCMP-128 temporal key is {TK_LEN} octets, got {len(tk)}")
    return AESCCM(tk, tag_length=CCMP_MIC_LEN)

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

from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from meshframes.seal.errors import FrameTooShort, MicFailure, NoExtIV, NotProtectable, NotProtected

CCMP_HEADER_LEN = 8  # 12.5.3.2
CCMP_MIC_LEN = 8  # CCMP-128: M = 8 (12.5.3.3.1)
CCMP_OVERHEAD = CCMP_HEADER_LEN + CCMP_MIC_LEN
PN_MAX = (1 << 48) - 1
TK_LEN = 16

# Frame Control, second octet (9.2.4.1.1)
FC1_TO_DS = 0x01
FC1_FROM_DS = 0x02
FC1_PROTECTED = 0x40
FC1_ORDER = 0x80
# Keep ToDS, FromDS, More Fragments and Order; clear Retry, Power
# Management, More Data; the caller ORs in Protected.
_FC1_AAD_KEEP = 0x87
_FC1_AAD_KEEP_QOS = 0x07  # QoS data: Order (+HTC) cleared as well
_FC0_DATA_AAD_KEEP = 0x8F  # data: subtype bits 4-6 cleared, QoS bit kept

# Frame Control, first octet: type and the subtype bits we test.
FC0_TYPE_MASK = 0x0C
FC0_TYPE_MGMT = 0x00
FC0_TYPE_DATA = 0x08
FC0_DATA_QOS = 0x80
FC0_DATA_NULL = 0x40  # "no data" subtypes (Null, QoS Null, CF-*)
FC0_MGMT_ACTION = 0xD0
FC0_MGMT_ACTION_NO_ACK = 0xE0
FC0_MGMT_DISASSOC = 0xA0
FC0_MGMT_DEAUTH = 0xC0

NONCE_FLAG_MGMT = 0x10  # 12.5.3.3.4
EXT_IV = 0x20

# Action categories that are not robust (Table 9-51; the same set mac80211
# refuses to protect): Public, HT, Unprotected WNM, Self-protected,
# Unprotected DMG, VHT, Unprotected S1G, Vendor-specific.
NON_ROBUST_CATEGORIES = frozenset({4, 7, 11, 15, 20, 21, 22, 127})

MAC_HEADER_MIN = 24
QOS_CONTROL_LEN = 2
HT_CONTROL_LEN = 4


@dataclass(frozen=True, slots=True)
class _FcLayout:
    """What the Frame Control field alone fixes about a frame's CCMP layout."""

    header_len: int
    fc_aad: bytes  # the masked FC, first two octets of the AAD
    aad_tail_end: int  # A4, when present, is frame[24:aad_tail_end]
    qos_at: int  # offset of QoS Control, 0 when absent
    flags: int  # nonce flags when not QoS data


def _fc_layout(fc0: int, fc1: int) -> _FcLayout:
    if fc0 & 0x03:
        raise NotProtectable(f"protocol version {fc0 & 0x03}, CCMP here covers version 0")
    ftype = fc0 & FC0_TYPE_MASK
    if ftype == FC0_TYPE_DATA:
        if fc0 & FC0_DATA_NULL:
            raise NotProtectable(f"data subtype {fc0 >> 4} carries no data")
        four_address = fc1 & (FC1_TO_DS | FC1_FROM_DS) == FC1_TO_DS | FC1_FROM_DS
        a4_end = MAC_HEADER_MIN + 6 if four_address else MAC_HEADER_MIN
        fc1_keep = _FC1_AAD_KEEP_QOS if fc0 & FC0_DATA_QOS else _FC1_AAD_KEEP
        fc_aad = bytes((fc0 & _FC0_DATA_AAD_KEEP, (fc1 & fc1_keep) | FC1_PROTECTED))
        if fc0 & FC0_DATA_QOS:
            header_len = a4_end + QOS_CONTROL_LEN + (HT_CONTROL_LEN if fc1 & FC1_ORDER else 0)
            return _FcLayout(header_len, fc_aad, a4_end, a4_end, 0)
        return _FcLayout(a4_end, fc_aad, a4_end, 0, 0)
    if ftype == FC0_TYPE_MGMT:
        header_len = MAC_HEADER_MIN + (HT_CONTROL_LEN if fc1 & FC1_ORDER else 0)
        fc_aad = bytes((fc0, (fc1 & _FC1_AAD_KEEP) | FC1_PROTECTED))
        return _FcLayout(header_len, fc_aad, MAC_HEADER_MIN, 0, NONCE_FLAG_MGMT)
    raise NotProtectable("control and extension frames are never protected")


# Frame Control -> layout; at most 2^16 entries, filled as values are seen.
_FC_LAYOUTS: dict[bytes, _FcLayout] = {}
# The two-octet AAD fields built from one 4-bit value (fragment number, TID).
_LOW_NIBBLE = tuple(bytes((value, 0)) for value in range(16))
_OCTETS = tuple(bytes((value,)) for value in range(256))
# CCMP header octets 2-3: reserved, then Ext IV and the key id.
_KEY_ID_OCTETS = tuple(bytes((0, EXT_IV | key_id << 6)) for key_id in range(4))


def frame_layout(frame: bytes) -> tuple[int, bytes, int]:
    """The MAC header length, the CCM AAD and the nonce flags of `frame`.

    The nonce flags double as the replay traffic class: the TID for QoS data
    (0 for non-QoS data, which shares TID 0's counter) and 0x10 for
    management frames, which get their own counter (12.5.3.4.4).
    """
    if len(frame) < MAC_HEADER_MIN:
        raise FrameTooShort(f"{len(frame)} octets, a MAC header needs {MAC_HEADER_MIN}")
    fc = frame[:2]
    layout = _FC_LAYOUTS.get(fc)
    if layout is None:
        layout = _FC_LAYOUTS[fc] = _fc_layout(frame[0], frame[1])
    if len(frame) < layout.header_len:
        raise FrameTooShort(f"{len(frame)} octets, the MAC header is {layout.header_len}")
    aad = layout.fc_aad + frame[4:22] + _LOW_NIBBLE[frame[22] & 0x0F] + frame[MAC_HEADER_MIN : layout.aad_tail_end]
    if layout.qos_at:
        tid = frame[layout.qos_at] & 0x0F
        return layout.header_len, aad + _LOW_NIBBLE[tid], tid
    return layout.header_len, aad, layout.flags


def check_protectable(frame: bytes, header_len: int) -> None:
    """Refuse management frames that are not robust (12.2.8): CCMP protects
    only robust action frames, disassociation and deauthentication."""
    fc0 = frame[0]
    if fc0 & FC0_TYPE_MASK != FC0_TYPE_MGMT:
        return
    subtype = fc0 & 0xF0
    if subtype in (FC0_MGMT_DISASSOC, FC0_MGMT_DEAUTH):
        return
    if subtype not in (FC0_MGMT_ACTION, FC0_MGMT_ACTION_NO_ACK):
        raise NotProtectable(f"management subtype {subtype >> 4} is not a robust frame")
    if len(frame) <= header_len:
        raise FrameTooShort("action frame without a category")
    category = frame[header_len]
    if category in NON_ROBUST_CATEGORIES:
        raise NotProtectable(f"action category {category} is not robust (use 126 for vendor frames)")


def needs_protection(frame: bytes) -> bool:
    """Whether a secure mesh must carry `frame` protected: data frames that
    carry data, and robust management frames. Beacons, peering (category 15),
    category 127, control and null frames go in the clear."""
    try:
        header_len, _, _ = frame_layout(frame)
        check_protectable(frame, header_len)
    except (NotProtectable, FrameTooShort):
        return False
    return True


def ccmp_nonce(flags: int, frame: bytes, pn: int) -> bytes:
    return _OCTETS[flags] + frame[10:16] + pn.to_bytes(6, "big")


def ccmp_aad_nonce(frame: bytes, pn: int) -> tuple[bytes, bytes]:
    """The AAD and the CCM nonce CCMP uses for `frame` under `pn`."""
    _, aad, flags = frame_layout(frame)
    return aad, ccmp_nonce(flags, frame, pn)


def ccmp_header(pn: int, key_id: int) -> bytes:
    """The 8-octet CCMP header (12.5.3.2)."""
    pn_le = pn.to_bytes(6, "little")
    return pn_le[:2] + bytes((0, EXT_IV | key_id << 6)) + pn_le[2:]


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
    pn_le = pn.to_bytes(6, "little")
    return b"".join((
        bytes((frame[0], frame[1] | FC1_PROTECTED)),
        frame[2:header_len],
        pn_le[:2],
        _KEY_ID_OCTETS[key_id],
        pn_le[2:],
        cipher.encrypt(_OCTETS[flags] + frame[10:16] + pn_le[::-1], frame[header_len:], aad),
    ))


def parse_protected(frame: bytes) -> tuple[int, bytes, int, int, int]:
    """Read a protected MPDU's layout and CCMP header without decrypting:
    (MAC header length, AAD, nonce flags, key id, PN)."""
    header_len, aad, flags = frame_layout(frame)
    if not frame[1] & FC1_PROTECTED:
        raise NotProtected("Protected Frame bit is clear")
    if len(frame) < header_len + CCMP_OVERHEAD:
        raise FrameTooShort(
            f"{len(frame)} octets, CCMP needs at least {header_len + CCMP_OVERHEAD} (header, CCMP header, MIC)"
        )
    ccmp_hdr = int.from_bytes(frame[header_len : header_len + CCMP_HEADER_LEN], "little")
    key_octet = ccmp_hdr >> 24 & 0xFF
    if not key_octet & EXT_IV:
        raise NoExtIV(f"key id octet {key_octet:#04x} has Ext IV clear")
    return header_len, aad, flags, key_octet >> 6, (ccmp_hdr & 0xFFFF) | (ccmp_hdr >> 32) << 16


def decapsulate(cipher: AESCCM, frame: bytes, header_len: int, aad: bytes, flags: int, pn: int) -> bytes:
    """Verify and decrypt a protected MPDU parsed by `parse_protected`; returns
    the plaintext MPDU with the Protected bit clear, as it was before
    `encapsulate`."""
    try:
        body = cipher.decrypt(
            _OCTETS[flags] + frame[10:16] + pn.to_bytes(6, "big"), frame[header_len + CCMP_HEADER_LEN :], aad
        )
    except InvalidTag:
        raise MicFailure(f"MIC does not verify (PN {pn}, A2 {frame[10:16].hex(':')})") from None
    return b"".join((bytes((frame[0], frame[1] & ~FC1_PROTECTED)), frame[2:header_len], body))


def new_cipher(tk: bytes) -> AESCCM:
    if len(tk) != TK_LEN:
        raise ValueError(f"CCMP-128 temporal key is {TK_LEN} octets, got {len(tk)}")
    return AESCCM(tk, tag_length=CCMP_MIC_LEN)

"""HWMP path selection elements (802.11-2020 9.4.2.110-9.4.2.114): GANN,
RANN, PREQ, PREP and PERR, with the address extension (AE, flag bit 6)
wherever the standard allows it.

Lengths follow the standard; Linux accepts only the AE-less one-target
PREQ (37), PREP (31) and one-destination PERR (15). Those limits belong to
the HWMP engine (it says so when it refuses), not to the decoder, so that
ns-3's two-destination PERRs still decode.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from meshframes.codec.elements import EID_GANN, EID_PERR, EID_PREP, EID_PREQ, EID_RANN
from meshframes.codec.errors import DecodeError, EncodeError
from meshframes.codec.frozen import quick_init
from meshframes.codec.ie import exact_length, register

# Flags common to PREQ, PREP and PERR destinations: Address Extension.
HWMP_FLAG_AE = 0x40
# PREQ Flags, 9.4.2.112.
PREQ_FLAG_GATE_ANNOUNCEMENT = 0x01
PREQ_FLAG_PROACTIVE_PREP = 0x04
# Per Target Flags: Target Only, Unknown Target HWMP SN.
TARGET_FLAG_TO = 0x01
TARGET_FLAG_USN = 0x04
# RANN/GANN Flags bit 0: the root is a mesh gate.
RANN_FLAG_GATE = 0x01

PREQ_MAX_TARGETS = 20  # 9.4.2.112: Target Count 1-20
PERR_MAX_DESTINATIONS = 19  # 9.4.2.114: Number of Destinations 1-19

_PREQ_HEAD = struct.Struct("<BBBI6sI")  # flags hop ttl id orig orig_sn
_LIFE_METRIC = struct.Struct("<II")
_TARGET = struct.Struct("<B6sI")
_PREP_HEAD = struct.Struct("<BBB6sI")
_PREP_TAIL = struct.Struct("<6sI")
_RANN = struct.Struct("<BBB6sIII")
_GANN = struct.Struct("<BBB6sIH")
_REASON = struct.Struct("<H")
# The same fields in one go where no address extension sits between them:
# PREQ up to its Target Count, the whole PREP.
_PREQ_FIXED = struct.Struct("<BBBI6sIIIB")
_PREP = struct.Struct("<BBB6sIII6sI")

# Element body lengths without the address extension, which adds 6 octets
# wherever the AE flag is set.
EXTERNAL_ADDRESS_LEN = 6
TARGET_COUNT_LEN = 1
PREQ_FIXED_LEN = _PREQ_HEAD.size + _LIFE_METRIC.size + TARGET_COUNT_LEN  # up to Target Count
PREQ_TARGET_LEN = _TARGET.size
PREP_LEN = _PREP_HEAD.size + _LIFE_METRIC.size + _PREP_TAIL.size
PERR_FIXED_LEN = 2  # Element TTL, Number of Destinations
# Octets the element lengths depend on: PREQ's and PREP's Flags come first
# (9.4.2.112, 9.4.2.113); PERR's Number of Destinations follows its TTL.
FLAGS_OFFSET = 0
PERR_COUNT_OFFSET = 1
PERR_DESTINATION_LEN = 1 + 6 + 4 + _REASON.size  # flags, address, HWMP SN, reason
RANN_LEN = _RANN.size
GANN_LEN = _GANN.size


def _ae(flags: int, ext: bytes | None, what: str) -> bytes:
    if bool(flags & HWMP_FLAG_AE) != (ext is not None):
        raise EncodeError(f"{what} address extension", "present" if ext is not None else "absent",
                          "present exactly when flag bit 6 (AE) is set")
    if ext is not None and len(ext) != 6:
        raise EncodeError(f"{what} external address", len(ext), 6)
    return ext or b""


def _pack(st: struct.Struct, what: str, *values: object) -> bytes:
    try:
        return st.pack(*values)
    except struct.error as exc:
        raise EncodeError(f"{what} fields", str(exc), "fields within their widths") from None


@quick_init
@dataclass(frozen=True, slots=True)
class PreqTarget:
    flags: int
    addr: bytes
    sn: int


@quick_init
@dataclass(frozen=True, slots=True)
class Preq:
    """9.4.2.112 Path Request."""

    element_id: ClassVar[int] = EID_PREQ
    flags: int
    hop_count: int
    ttl: int
    path_discovery_id: int
    originator_addr: bytes
    originator_sn: int
    lifetime: int
    metric: int
    targets: tuple[PreqTarget, ...]
    originator_external_addr: bytes | None = None

    def body(self) -> bytes:
        if not 1 <= len(self.targets) <= PREQ_MAX_TARGETS:
            raise EncodeError("PREQ target count", len(self.targets), f"1..{PREQ_MAX_TARGETS}")
        if self.flags & HWMP_FLAG_AE or self.originator_external_addr is not None:
            parts = [_pack(_PREQ_HEAD, "PREQ", self.flags, self.hop_count, self.ttl,
                           self.path_discovery_id, self.originator_addr, self.originator_sn),
                     _ae(self.flags, self.originator_external_addr, "PREQ originator"),
                     _pack(_LIFE_METRIC, "PREQ", self.lifetime, self.metric),
                     bytes((len(self.targets),))]
        else:
            parts = [_pack(_PREQ_FIXED, "PREQ", self.flags, self.hop_count, self.ttl, self.path_discovery_id,
                           self.originator_addr, self.originator_sn, self.lifetime, self.metric,
                           len(self.targets))]
        parts += [_pack(_TARGET, "PREQ target", t.flags, t.addr, t.sn) for t in self.targets]
        return b"".join(parts)


@register(EID_PREQ)
def _preq(body: bytes, offset: int, _action: int | None) -> Preq:
    if len(body) < 26:
        raise DecodeError("PREQ length", offset - 1, len(body), ">= 26")
    flags, hop, ttl, pdid, orig, orig_sn = _PREQ_HEAD.unpack_from(body)
    pos = _PREQ_HEAD.size
    ext = None
    if flags & HWMP_FLAG_AE:
        ext = body[pos:pos + 6]
        pos += 6
    if len(body) < pos + 9:
        raise DecodeError("PREQ length", offset - 1, len(body), f">= {pos + 9} (AE set)")
    lifetime, metric = _LIFE_METRIC.unpack_from(body, pos)
    count = body[pos + 8]
    pos += 9
    if not 1 <= count <= PREQ_MAX_TARGETS:
        raise DecodeError("PREQ target count", offset + pos - 1, count, f"1..{PREQ_MAX_TARGETS}")
    if len(body) != pos + 11 * count:
        raise DecodeError("PREQ length", offset - 1, len(body), pos + 11 * count)
    targets = tuple(PreqTarget(*_TARGET.unpack_from(body, pos + 11 * i)) for i in range(count))
    return Preq(flags, hop, ttl, pdid, orig, orig_sn, lifetime, metric, targets, ext)


@quick_init
@dataclass(frozen=True, slots=True)
class Prep:
    """9.4.2.113 Path Reply.

    Field names are the standard's: `target` is the mesh STA the path leads
    to (the one that replied), `originator` the STA that asked and to which
    the PREP travels. ns-3 fills the two the other way round (its draft
    "destination" is the asker); the HWMP engine tells the two apart.
    """

    element_id: ClassVar[int] = EID_PREP
    flags: int
    hop_count: int
    ttl: int
    target_addr: bytes
    target_sn: int
    lifetime: int
    metric: int
    originator_addr: bytes
    originator_sn: int
    target_external_addr: bytes | None = None

    def body(self) -> bytes:
        if not self.flags & HWMP_FLAG_AE and self.target_external_addr is None:
            return _pack(_PREP, "PREP", self.flags, self.hop_count, self.ttl, self.target_addr, self.target_sn,
                         self.lifetime, self.metric, self.originator_addr, self.originator_sn)
        return b"".join((
            _pack(_PREP_HEAD, "PREP", self.flags, self.hop_count, self.ttl,
                  self.target_addr, self.target_sn),
            _ae(self.flags, self.target_external_addr, "PREP target"),
            _pack(_LIFE_METRIC, "PREP", self.lifetime, self.metric),
            _pack(_PREP_TAIL, "PREP", self.originator_addr, self.originator_sn)))


@register(EID_PREP)
def _prep(body: bytes, offset: int, _action: int | None) -> Prep:
    if not body:
        raise DecodeError("PREP length", offset - 1, 0, "31 or 37")
    ae = bool(body[0] & HWMP_FLAG_AE)
    exact_length(body, offset, "PREP", 37 if ae else 31)
    flags, hop, ttl, target, target_sn = _PREP_HEAD.unpack_from(body)
    pos = _PREP_HEAD.size
    ext = None
    if ae:
        ext = body[pos:pos + 6]
        pos += 6
    lifetime, metric = _LIFE_METRIC.unpack_from(body, pos)
    orig, orig_sn = _PREP_TAIL.unpack_from(body, pos + 8)
    return Prep(flags, hop, ttl, target, target_sn, lifetime, metric, orig, orig_sn, ext)


@quick_init
@dataclass(frozen=True, slots=True)
class PerrDestination:
    flags: int
    addr: bytes
    sn: int
    reason: int
    external_addr: bytes | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class Perr:
    """9.4.2.114 Path Error."""

    element_id: ClassVar[int] = EID_PERR
    ttl: int
    destinations: tuple[PerrDestination, ...]

    def body(self) -> bytes:
        if not 1 <= len(self.destinations) <= PERR_MAX_DESTINATIONS:
            raise EncodeError("PERR destination count", len(self.destinations),
                              f"1..{PERR_MAX_DESTINATIONS}")
        if not 0 <= self.ttl <= 0xFF:
            raise EncodeError("PERR TTL", self.ttl, "0..255")
        parts = [bytes((self.ttl, len(self.destinations)))]
        for d in self.destinations:
            parts.append(_pack(_TARGET, "PERR destination", d.flags, d.addr, d.sn))
            parts.append(_ae(d.flags, d.external_addr, "PERR destination"))
            parts.append(_pack(_REASON, "PERR reason", d.reason))
        return b"".join(parts)


@register(EID_PERR)
def _perr(body: bytes, offset: int, _action: int | None) -> Perr:
    if len(body) < 2:
        raise DecodeError("PERR length", offset - 1, len(body), ">= 2")
    ttl, count = body[0], body[1]
    if not 1 <= count <= PERR_MAX_DESTINATIONS:
        raise DecodeError("PERR destination count", offset + 1, count, f"1..{PERR_MAX_DESTINATIONS}")
    pos = 2
    dests = []
    for _ in range(count):
        if len(body) < pos + 13:
            raise DecodeError("PERR length", offset - 1, len(body), f">= {pos + 13}")
        flags, addr, sn = _TARGET.unpack_from(body, pos)
        pos += 11
        ext = None
        if flags & HWMP_FLAG_AE:
            if len(body) < pos + 8:
                raise DecodeError("PERR length", offset - 1, len(body), f">= {pos + 8} (AE set)")
            ext = body[pos:pos + 6]
            pos += 6
        reason = _REASON.unpack_from(body, pos)[0]
        pos += 2
        dests.append(PerrDestination(flags, addr, sn, reason, ext))
    if pos != len(body):
        raise DecodeError("PERR length", offset - 1, len(body), pos)
    return Perr(ttl, tuple(dests))


@quick_init
@dataclass(frozen=True, slots=True)
class Rann:
    """9.4.2.111 Root Announcement."""

    element_id: ClassVar[int] = EID_RANN
    flags: int
    hop_count: int
    ttl: int
    root_addr: bytes
    root_sn: int
    interval: int
    metric: int

    def body(self) -> bytes:
        return _pack(_RANN, "RANN", self.flags, self.hop_count, self.ttl, self.root_addr,
                     self.root_sn, self.interval, self.metric)


@register(EID_RANN)
def _rann(body: bytes, offset: int, _action: int | None) -> Rann:
    exact_length(body, offset, "RANN", _RANN.size)
    return Rann(*_RANN.unpack(body))


@dataclass(frozen=True, slots=True)
class Gann:
    """9.4.2.110 Gate Announcement."""

    element_id: ClassVar[int] = EID_GANN
    flags: int
    hop_count: int
    ttl: int
    gate_addr: bytes
    gann_sn: int
    interval: int

    def body(self) -> bytes:
        return _pack(_GANN, "GANN", self.flags, self.hop_count, self.ttl, self.gate_addr,
                     self.gann_sn, self.interval)


@register(EID_GANN)
def _gann(body: bytes, offset: int, _action: int | None) -> Gann:
    exact_length(body, offset, "GANN", _GANN.size)
    return Gann(*_GANN.unpack(body))

"""pcap files of 802.11 frames: reading (raw link type 105 with or without
FCS, radiotap link type 127) and writing, with just enough radiotap to
strip it and to stamp rate and signal. Pure struct, no Scapy, so the
simulator can record traces on its hot path.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from meshframes.codec.errors import DecodeError

LINKTYPE_IEEE802_11 = 105
LINKTYPE_IEEE802_11_RADIOTAP = 127

_MAGIC_US = 0xA1B2C3D4
_MAGIC_NS = 0xA1B23C4D
_GLOBAL = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")

# Radiotap fields we walk past to reach Flags/Rate/dBm signal:
# bit -> (alignment, size). radiotap.org "Defined fields".
_RT_FIELDS = {0: (8, 8), 1: (1, 1), 2: (1, 1), 3: (2, 4), 4: (1, 2), 5: (1, 1)}
RT_FLAG_FCS = 0x10  # Flags field: frame includes FCS


@dataclass(frozen=True, slots=True)
class PcapRecord:
    timestamp: float
    data: bytes


@dataclass(frozen=True, slots=True)
class Radiotap:
    length: int
    flags: int | None
    rate_500kbps: int | None
    signal_dbm: int | None


def read_pcap(path: str | Path) -> tuple[int, list[PcapRecord]]:
    """Link type and records of a classic pcap file (either byte order)."""
    raw = Path(path).read_bytes()
    if len(raw) < _GLOBAL.size:
        raise DecodeError("pcap global header", 0, f"{len(raw)} bytes", f"{_GLOBAL.size} bytes")
    magic = struct.unpack_from("<I", raw)[0]
    if magic in (_MAGIC_US, _MAGIC_NS):
        endian = "<"
    elif struct.unpack_from(">I", raw)[0] in (_MAGIC_US, _MAGIC_NS):
        endian = ">"
        magic = struct.unpack_from(">I", raw)[0]
    else:
        raise DecodeError("pcap magic", 0, hex(magic), "a1b2c3d4 or a1b23c4d")
    scale = 1e-9 if magic == _MAGIC_NS else 1e-6
    linktype = struct.unpack_from(endian + "I", raw, 20)[0]
    record = struct.Struct(endian + "IIII")
    out = []
    off = _GLOBAL.size
    while off < len(raw):
        if len(raw) - off < record.size:
            raise DecodeError("pcap record header", off, f"{len(raw) - off} bytes", "16 bytes")
        sec, frac, incl, _orig = record.unpack_from(raw, off)
        off += record.size
        if len(raw) - off < incl:
            raise DecodeError("pcap record", off, f"{len(raw) - off} bytes", f"{incl} bytes")
        out.append(PcapRecord(sec + frac * scale, raw[off:off + incl]))
        off += incl
    return linktype, out


def parse_radiotap(data: bytes) -> Radiotap:
    if len(data) < 8:
        raise DecodeError("radiotap header", 0, f"{len(data)} bytes", ">= 8 bytes")
    length = struct.unpack_from("<H", data, 2)[0]
    if length > len(data) or length < 8:
        raise DecodeError("radiotap length", 2, length, f"8..{len(data)}")
    presents = []
    pos = 4
    while True:
        word = struct.unpack_from("<I", data, pos)[0]
        presents.append(word)
        pos += 4
        if not word & 0x80000000:
            break
        if pos + 4 > length:
            raise DecodeError("radiotap present words", pos, "truncated", "a word")
    found: dict[int, int] = {}
    present = presents[0]
    for bit in range(6):
        if not present & (1 << bit):
            continue
        align, size = _RT_FIELDS[bit]
        pos = (pos + align - 1) & ~(align - 1)
        if pos + size > length:
            break
        if bit in (1, 2):
            found[bit] = data[pos]
        elif bit == 5:
            found[bit] = struct.unpack_from("<b", data, pos)[0]
        pos += size
    return Radiotap(length, found.get(1), found.get(2), found.get(5))


def mpdus(path: str | Path) -> Iterator[tuple[float, bytes, Radiotap | None]]:
    """The MPDUs of a capture with radiotap and any FCS removed.

    Link type 105 frames are taken to end with a 4-byte FCS when
    `has_fcs(path)` says so (ns-3's captures do: their FCS is zero).
    """
    linktype, records = read_pcap(path)
    if linktype == LINKTYPE_IEEE802_11_RADIOTAP:
        for rec in records:
            rt = parse_radiotap(rec.data)
            body = rec.data[rt.length:]
            if rt.flags is not None and rt.flags & RT_FLAG_FCS:
                body = body[:-4]
            yield rec.timestamp, body, rt
    elif linktype == LINKTYPE_IEEE802_11:
        strip = 4 if has_fcs(records) else 0
        for rec in records:
            yield rec.timestamp, rec.data[:len(rec.data) - strip], None
    else:
        raise DecodeError("pcap link type", 20, linktype,
                          f"{LINKTYPE_IEEE802_11} or {LINKTYPE_IEEE802_11_RADIOTAP}")


def has_fcs(records: list[PcapRecord]) -> bool:
    """Whether link-type-105 records end with an FCS.

    A raw 802.11 capture does not say; we check the FCS itself: either it
    is the CRC-32 of the frame, or (ns-3) every frame ends in four zero
    bytes, which no real FCS does for all frames.
    """
    if not records:
        return False
    crc_ok = all(len(r.data) > 4 and zlib.crc32(r.data[:-4]).to_bytes(4, "little") == r.data[-4:]
                 for r in records)
    zeros = all(len(r.data) > 4 and r.data[-4:] == b"\0\0\0\0" for r in records)
    return crc_ok or zeros


def radiotap_header(rate_500kbps: int | None, signal_dbm: int | None) -> bytes:
    """A minimal radiotap header: Flags (no FCS), Rate, dBm antenna signal."""
    present = 0x02
    fields = b"\x00"
    if rate_500kbps is not None:
        present |= 0x04
        fields += bytes((rate_500kbps & 0xFF,))
    if signal_dbm is not None:
        present |= 0x20
        fields += struct.pack("<b", max(-128, min(127, signal_dbm)))
    return struct.pack("<BBHI", 0, 0, 8 + len(fields), present) + fields


class PcapWriter:
    """Writes records as they come (microsecond timestamps)."""

    def __init__(self, path: str | Path, linktype: int = LINKTYPE_IEEE802_11_RADIOTAP) -> None:
        self.linktype = linktype
        self._fh = open(path, "wb")  # noqa: SIM115 - closed by close()/context
        self._fh.write(_GLOBAL.pack(_MAGIC_US, 2, 4, 0, 0, 65535, linktype))

    def write(self, timestamp: float, mpdu: bytes, rate_500kbps: int | None = None,
              signal_dbm: int | None = None) -> None:
        data = mpdu
        if self.linktype == LINKTYPE_IEEE802_11_RADIOTAP:
            data = radiotap_header(rate_500kbps, signal_dbm) + mpdu
        usec_total = round(timestamp * 1_000_000)
        self._fh.write(_RECORD.pack(usec_total // 1_000_000, usec_total % 1_000_000,
                                    len(data), len(data)))
        self._fh.write(data)

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_pcap(path: str | Path, frames: Iterable[tuple[float, bytes]],
               linktype: int = LINKTYPE_IEEE802_11) -> None:
    with PcapWriter(path, linktype) as writer:
        for ts, mpdu in frames:
            writer.write(ts, mpdu)

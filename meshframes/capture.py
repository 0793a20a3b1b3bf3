"""Reading and writing captures: pcap and pcapng, raw 802.11 (link type 105)
and radiotap (127), with no Scapy on the path.

A damaged file never costs the frames before the damage: `read_capture`
yields every complete frame and then raises `CaptureError` naming the index
of the frame it could not read and why.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from meshframes.radio import radiotap
# The transports' radiotap parser serves captures too, under the names this
# module has always exported.
from meshframes.radio.radiotap import Radiotap
from meshframes.radio.radiotap import parse as parse_radiotap

LINKTYPE_IEEE802_11 = 105
LINKTYPE_IEEE802_11_RADIOTAP = 127
SUPPORTED_LINKTYPES = {
    LINKTYPE_IEEE802_11: "IEEE 802.11",
    LINKTYPE_IEEE802_11_RADIOTAP: "IEEE 802.11 + radiotap",
}

# A record longer than this is a corrupt length, not a frame (libpcap's
# own ceiling for 802.11 link types).
MAX_RECORD = 262144

_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_PCAPNG_SHB = 0x0A0D0D0A
_PCAPNG_BYTE_ORDER = 0x1A2B3C4D
_PCAPNG_IDB = 1
_PCAPNG_SPB = 3
_PCAPNG_EPB = 6

class CaptureError(ValueError):
    """The capture cannot be read past frame `index` (0-based)."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"frame {index}: {reason}")
        self.index = index
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CapturedFrame:
    index: int
    timestamp: float
    linktype: int
    data: bytes
    original_length: int


def read_capture(path: str | Path) -> Iterator[CapturedFrame]:
    """Yield every frame of a pcap or pcapng file, then raise CaptureError
    if the file is damaged after them."""
    with open(path, "rb") as f:
        head = f.read(4)
        if head in _PCAP_MAGIC:
            yield from _read_pcap(f, head)
        elif len(head) == 4 and struct.unpack("<I", head)[0] == _PCAPNG_SHB:
            yield from _read_pcapng(f, head)
        elif len(head) < 4:
            raise CaptureError(0, f"file is {len(head)} octets long, too short for a capture header")
        else:
            raise CaptureError(0, f"not a pcap or pcapng file (magic {head.hex()})")


def _read_pcap(f: BinaryIO, magic: bytes) -> Iterator[CapturedFrame]:
    order, resolution = _PCAP_MAGIC[magic]
    rest = f.read(20)
    if len(rest) < 20:
        raise CaptureError(0, f"pcap file header truncated: got {4 + len(rest)} of 24 octets")
    _major, _minor, _zone, _sigfigs, _snaplen, linktype = struct.unpack(order + "HHiIII", rest)
    linktype &= 0x0FFFFFFF
    _check_linktype(0, linktype)
    index = 0
    while True:
        header = f.read(16)
        if not header:
            return
        if len(header) < 16:
            raise CaptureError(index, f"record header truncated: got {len(header)} of 16 octets")
        sec, frac, incl, orig = struct.unpack(order + "IIII", header)
        if incl > MAX_RECORD:
            raise CaptureError(index, f"record length {incl} exceeds {MAX_RECORD}: corrupt length")
        data = f.read(incl)
        if len(data) < incl:
            raise CaptureError(index, f"record says {incl} octets, file ends after {len(data)}")
        yield CapturedFrame(index, sec + frac * resolution, linktype, data, orig)
        index += 1


def _read_pcapng(f: BinaryIO, first: bytes) -> Iterator[CapturedFrame]:
    interfaces: list[tuple[int, float]] = []
    order = "<"
    index = 0
    block_type_raw = first
    while True:
        if not block_type_raw:
            return
        if len(block_type_raw) < 4:
            raise CaptureError(index, "pcapng block header truncated")
        length_raw = f.read(4)
        if len(length_raw) < 4:
            raise CaptureError(index, "pcapng block header truncated")
        if struct.unpack("<I", block_type_raw)[0] == _PCAPNG_SHB:
            bom = f.read(4)
            if len(bom) < 4:
                raise CaptureError(index, "pcapng section header truncated")
            order = "<" if struct.unpack("<I", bom)[0] == _PCAPNG_BYTE_ORDER else ">"
            if struct.unpack(order + "I", bom)[0] != _PCAPNG_BYTE_ORDER:
                raise CaptureError(index, f"pcapng byte-order magic {bom.hex()} is wrong")
            interfaces = []
            body_prefix = bom
        else:
            body_prefix = b""
        block_type = struct.unpack(order + "I", block_type_raw)[0]
        total = struct.unpack(order + "I", length_raw)[0]
        if total < 12 or total % 4 or total > MAX_RECORD + 64:
            raise CaptureError(index, f"pcapng block length {total} is invalid")
        body = body_prefix + f.read(total - 12 - len(body_prefix))
        trailer = f.read(4)
        if len(body) < total - 12 or len(trailer) < 4:
            raise CaptureError(index, f"pcapng block of {total} octets truncated by end of file")
        if struct.unpack(order + "I", trailer)[0] != total:
            raise CaptureError(index, "pcapng block trailer length does not match its header")
        if block_type == _PCAPNG_IDB:
            linktype = struct.unpack(order + "H", body[:2])[0]
            interfaces.append((linktype, _pcapng_resolution(body[8:], order)))
        elif block_type == _PCAPNG_EPB:
            iface, high, low, incl, orig = struct.unpack(order + "IIIII", body[:20])
            if iface >= len(interfaces):
                raise CaptureError(index, f"packet names interface {iface}, only {len(interfaces)} defined")
            if 20 + incl > len(body):
                raise CaptureError(index, f"packet says {incl} octets, its block holds {len(body) - 20}")
            linktype, resolution = interfaces[iface]
            _check_linktype(index, linktype)
            yield CapturedFrame(index, ((high << 32) | low) * resolution, linktype, body[20 : 20 + incl], orig)
            index += 1
        elif block_type == _PCAPNG_SPB:
            if not interfaces:
                raise CaptureError(index, "simple packet block before any interface")
            orig = struct.unpack(order + "I", body[:4])[0]
            linktype, _ = interfaces[0]
            _check_linktype(index, linktype)
            yield CapturedFrame(index, 0.0, linktype, body[4 : 4 + orig], orig)
            index += 1
        block_type_raw = f.read(4)


def _pcapng_resolution(options: bytes, order: str) -> float:
    """if_tsresol (option 9) of an interface description block."""
    pos = 0
    while pos + 4 <= len(options):
        code, length = struct.unpack(order + "HH", options[pos : pos + 4])
        if code == 0:
            break
        if code == 9 and length >= 1:
            value = options[pos + 4]
            return 2.0 ** -(value & 0x7F) if value & 0x80 else 10.0 ** -value
        pos += 4 + ((length + 3) & ~3)
    return 1e-6


def _check_linktype(index: int, linktype: int) -> None:
    if linktype not in SUPPORTED_LINKTYPES:
        raise CaptureError(
            index,
            f"link type {linktype} is not supported (expected 105 raw 802.11 or 127 radiotap)",
        )


def radiotap_header(*, rate_500kbps: int | None = 2, frequency: int | None = 2412,
                    signal_dbm: int | None = None) -> bytes:
    """A minimal radiotap header (meshframes.radio.radiotap.header)."""
    return radiotap.header(rate_500kbps=rate_500kbps, freq_mhz=frequency, signal_dbm=signal_dbm)


def fcs(frame: bytes) -> bytes:
    """The 802.11 FCS (CRC-32, 9.2.4.8) of an MPDU without FCS."""
    return struct.pack("<I", zlib.crc32(frame) & 0xFFFFFFFF)


def has_valid_fcs(frame: bytes) -> bool:
    return len(frame) > 4 and fcs(frame[:-4]) == frame[-4:]


def frames_carry_fcs(frames: Iterable[bytes]) -> bool:
    """Whether raw 802.11 frames (link type 105, which cannot say) end in an
    FCS: yes when every frame ends in a valid CRC-32 or in four zero octets
    (writers such as ns-3 append a zero FCS they never compute)."""
    seen = False
    for frame in frames:
        seen = True
        if not (has_valid_fcs(frame) or (len(frame) >= 14 and frame[-4:] == b"\x00\x00\x00\x00")):
            return False
    return seen


class PcapWriter:
    """Writes a classic pcap as frames come (microsecond timestamps); with
    link type 127 each MPDU gets a radiotap header."""

    def __init__(self, path: str | Path, linktype: int = LINKTYPE_IEEE802_11_RADIOTAP) -> None:
        _check_linktype(0, linktype)
        self.linktype = linktype
        self._fh = open(path, "wb")  # noqa: SIM115 - closed by close() or the context
        self._fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, MAX_RECORD, linktype))
        self.count = 0

    def write(self, timestamp: float, mpdu: bytes, rate_500kbps: int | None = None,
              signal_dbm: int | None = None) -> None:
        """Write one record; with link type 127, `mpdu` is a bare MPDU and a
        radiotap header is added, otherwise it is written as given."""
        data = mpdu
        if self.linktype == LINKTYPE_IEEE802_11_RADIOTAP:
            data = radiotap_header(rate_500kbps=rate_500kbps, frequency=None, signal_dbm=signal_dbm) + mpdu
        usec = round(timestamp * 1_000_000)
        self._fh.write(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(data), len(data)))
        self._fh.write(data)
        self.count += 1

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "PcapWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_pcap(path: str | Path, frames: Iterable[tuple[float, bytes]], linktype: int) -> int:
    """Write (timestamp, record bytes) pairs as they are; returns the count."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, MAX_RECORD, linktype))
        count = 0
        for timestamp, data in frames:
            usec = round(timestamp * 1_000_000)
            f.write(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(data), len(data)))
            f.write(data)
            count += 1
    return count


def mpdus(path: str | Path, fcs: str = "auto") -> Iterator[tuple[float, bytes, Radiotap | None]]:
    """(timestamp, MPDU, radiotap) for every frame of a capture, radiotap and
    FCS removed; `fcs` ("auto", "yes", "no") says whether raw 802.11 frames
    end in an FCS (auto: `frames_carry_fcs`). Raises CaptureError where the
    file is damaged, after the frames before it."""
    frames: list[CapturedFrame] = []
    error: CaptureError | None = None
    try:
        frames.extend(read_capture(path))
    except CaptureError as exc:
        error = exc
    raw = [f.data for f in frames if f.linktype == LINKTYPE_IEEE802_11]
    strip = fcs == "yes" or (fcs == "auto" and frames_carry_fcs(raw))
    for frame in frames:
        if frame.linktype == LINKTYPE_IEEE802_11_RADIOTAP:
            try:
                rt = parse_radiotap(frame.data)
            except radiotap.RadiotapError as exc:
                raise CaptureError(frame.index, str(exc)) from exc
            body = frame.data[rt.length :]
            yield frame.timestamp, body[:-4] if rt.has_fcs and fcs != "no" else body, rt
        else:
            yield frame.timestamp, frame.data[:-4] if strip else frame.data, None
    if error is not None:
        raise error

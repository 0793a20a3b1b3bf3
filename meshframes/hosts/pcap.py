"""Reading and writing captures: pcap and pcapng, raw 802.11 (link type 105)
and radiotap (127), with no Scapy on the path.

A damaged file never costs the frames before the damage: `read_capture`
yields every complete frame and then raises `CaptureError` naming the index
of the frame it could not read and why.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from meshframes.codec import radiotap
from meshframes.codec.errors import DecodeError
from meshframes.codec.frozen import quick_init
from meshframes.codec.header import decode_header

# The transports' radiotap parser serves captures too, under the names this
# module has always exported.
from meshframes.codec.radiotap import Radiotap

# What `sniff` records on a mesh point interface: the MSDUs the kernel
# delivers, as Ethernet frames. Written only; replay and analyze read 802.11.
LINKTYPE_ETHERNET = 1
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
_PCAP_RECORD_HEADER_LEN = 16
# Octets read from a capture at a time.
_READ_SIZE = 1 << 18
_PCAPNG_SHB = 0x0A0D0D0A
_PCAPNG_BYTE_ORDER = 0x1A2B3C4D
_PCAPNG_IDB = 1
_PCAPNG_SPB = 3
_PCAPNG_EPB = 6
# Fixed fields before a block's variable part: IDB link type, reserved,
# snap length; EPB interface, timestamp, lengths; SPB original length.
_PCAPNG_BODY_MIN = {_PCAPNG_IDB: 8, _PCAPNG_EPB: 20, _PCAPNG_SPB: 4}

class CaptureError(ValueError):
    """The capture cannot be read past frame `index` (0-based)."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"frame {index}: {reason}")
        self.index = index
        self.reason = reason


@quick_init
@dataclass(frozen=True, slots=True)
class CapturedFrame:
    index: int
    timestamp: float
    linktype: int
    data: bytes
    original_length: int
    # Octets of FCS the file says each frame ends with (pcap's link-type FCS
    # bits, pcapng's if_fcslen); None when the file does not say.
    fcs_length: int | None = None


def read_capture(path: str | Path) -> Iterator[CapturedFrame]:
    """Yield every frame of a pcap or pcapng file, then raise CaptureError
    if the file is damaged after them. A classic pcap of another link type
    is refused whole; in a pcapng, frames of interfaces with other link
    types are yielded as they are, for the caller to skip and count."""
    with open(path, "rb") as f:
        yield from read_capture_file(f)


def read_capture_file(f: BinaryIO) -> Iterator[CapturedFrame]:
    """`read_capture` on an open file (its position tells how far it got)."""
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
    record, resolution, linktype, fcs_length = _pcap_header(f, magic)
    for index, (timestamp, data, orig) in enumerate(_pcap_records(f, record, resolution)):
        yield CapturedFrame(index, timestamp, linktype, data, orig, fcs_length)


def _pcap_header(f: BinaryIO, magic: bytes) -> tuple[struct.Struct, float, int, int | None]:
    """The rest of a classic pcap's file header: its record header layout,
    timestamp resolution, link type (refused unless supported) and FCS
    length (None when the file does not say)."""
    order, resolution = _PCAP_MAGIC[magic]
    rest = f.read(20)
    if len(rest) < 20:
        raise CaptureError(0, f"pcap file header truncated: got {4 + len(rest)} of 24 octets")
    _major, _minor, _zone, _sigfigs, _snaplen, network = struct.unpack(order + "HHiIII", rest)
    linktype = network & 0x03FFFFFF
    # pcap's LINKTYPE_FCS: bit 26 says bits 28-31 give the FCS length in
    # 16-bit words.
    fcs_length = ((network >> 28) & 0xF) * 2 if network & (1 << 26) else None
    _check_linktype(0, linktype)
    return struct.Struct(order + "IIII"), resolution, linktype, fcs_length


def _pcap_records(f: BinaryIO, record: struct.Struct, resolution: float) -> Iterator[tuple[float, bytes, int]]:
    """(timestamp, captured octets, original length) of each record after
    a classic pcap's file header."""
    # Records are cut from large reads: one read per record pair costs
    # more than the rest of reading them.
    buf, pos, index = b"", 0, 0
    while True:
        if len(buf) - pos < _PCAP_RECORD_HEADER_LEN:
            buf, pos = buf[pos:] + f.read(_READ_SIZE), 0
            if not buf:
                return
            if len(buf) < _PCAP_RECORD_HEADER_LEN:
                raise CaptureError(index, f"record header truncated: got {len(buf)} of 16 octets")
        sec, frac, incl, orig = record.unpack_from(buf, pos)
        if incl > MAX_RECORD:
            raise CaptureError(index, f"record length {incl} exceeds {MAX_RECORD}: corrupt length")
        start = pos + _PCAP_RECORD_HEADER_LEN
        pos = start + incl
        if pos > len(buf):
            buf, start = buf[start:] + f.read(max(_READ_SIZE, pos - len(buf))), 0
            pos = incl
            if len(buf) < incl:
                raise CaptureError(index, f"record says {incl} octets, file ends after {len(buf)}")
        yield sec + frac * resolution, buf[start:pos], orig
        index += 1


def _read_pcapng(f: BinaryIO, first: bytes) -> Iterator[CapturedFrame]:
    interfaces: list[tuple[int, float, int | None]] = []
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
        need = _PCAPNG_BODY_MIN.get(block_type, 0)
        if len(body) < need:
            raise CaptureError(index, f"pcapng block type {block_type} of {len(body)} octets, needs {need}")
        if block_type == _PCAPNG_IDB:
            linktype = struct.unpack(order + "H", body[:2])[0]
            interfaces.append((linktype, *_pcapng_options(body[8:], order)))
        elif block_type == _PCAPNG_EPB:
            iface, high, low, incl, orig = struct.unpack(order + "IIIII", body[:20])
            if iface >= len(interfaces):
                raise CaptureError(index, f"packet names interface {iface}, only {len(interfaces)} defined")
            if 20 + incl > len(body):
                raise CaptureError(index, f"packet says {incl} octets, its block holds {len(body) - 20}")
            linktype, resolution, fcs_length = interfaces[iface]
            yield CapturedFrame(index, ((high << 32) | low) * resolution, linktype, body[20 : 20 + incl], orig,
                                fcs_length)
            index += 1
        elif block_type == _PCAPNG_SPB:
            if not interfaces:
                raise CaptureError(index, "simple packet block before any interface")
            orig = struct.unpack(order + "I", body[:4])[0]
            linktype, _, fcs_length = interfaces[0]
            yield CapturedFrame(index, 0.0, linktype, body[4 : 4 + orig], orig, fcs_length)
            index += 1
        block_type_raw = f.read(4)


def _pcapng_options(options: bytes, order: str) -> tuple[float, int | None]:
    """if_tsresol (option 9, default microseconds) and if_fcslen (option
    13, None when absent) of an interface description block."""
    resolution, fcs_length = 1e-6, None
    pos = 0
    while pos + 4 <= len(options):
        code, length = struct.unpack(order + "HH", options[pos : pos + 4])
        if code == 0 or pos + 4 + length > len(options):
            break
        if code == 9 and length >= 1:
            value = options[pos + 4]
            resolution = 2.0 ** -(value & 0x7F) if value & 0x80 else 10.0 ** -value
        elif code == 13 and length >= 1:
            fcs_length = options[pos + 4]
        pos += 4 + ((length + 3) & ~3)
    return resolution, fcs_length


def _check_linktype(index: int, linktype: int) -> None:
    if linktype not in SUPPORTED_LINKTYPES:
        raise CaptureError(
            index,
            f"link type {linktype} is not supported (expected 105 raw 802.11 or 127 radiotap)",
        )


def radiotap_header(*, rate_500kbps: int | None = 2, frequency: int | None = 2412,
                    signal_dbm: int | None = None) -> bytes:
    """A minimal radiotap header (meshframes.codec.radiotap.header)."""
    return radiotap.header(rate_500kbps=rate_500kbps, freq_mhz=frequency, signal_dbm=signal_dbm)


def fcs(frame: bytes) -> bytes:
    """The 802.11 FCS (CRC-32, 9.2.4.8) of an MPDU without FCS."""
    return struct.pack("<I", zlib.crc32(frame) & 0xFFFFFFFF)


def has_valid_fcs(frame: bytes) -> bool:
    return len(frame) > 4 and fcs(frame[:-4]) == frame[-4:]


def frames_carry_fcs(frames: Iterable[bytes]) -> bool:
    """Whether raw 802.11 frames (link type 105, which cannot say) end in an
    FCS: yes when most end in a valid CRC-32 or in four zero octets (writers
    such as ns-3 append a zero FCS they never compute). A majority, so one
    damaged frame does not turn the whole file around: it is reported as a
    bad FCS instead."""
    total = carrying = 0
    for frame in frames:
        total += 1
        if has_valid_fcs(frame) or (len(frame) >= 14 and frame[-4:] == b"\x00\x00\x00\x00"):
            carrying += 1
    return total > 0 and carrying * 2 > total


@quick_init
@dataclass(frozen=True, slots=True)
class Mpdu:
    """One captured frame with its link framing removed."""

    index: int
    timestamp: float
    data: bytes  # from Frame Control, no FCS, no radiotap, no padding
    radiotap: Radiotap | None
    # Why the frame cannot be trusted as captured (cut by the snap length,
    # bad FCS, broken radiotap); None when it can.
    problem: str | None = None


def strip_link(frames: list[CapturedFrame], fcs: str = "auto") -> tuple[list[Mpdu], str, int]:
    """The MPDUs of captured frames, how the FCS of raw 802.11 frames was
    decided ("file", "present", "none", or "radiotap" when radiotap said),
    and how many frames had another link type (skipped).

    `fcs`: "yes"/"no" say whether raw 802.11 frames end in an FCS; "auto"
    takes the file's word when it gives one, else `frames_carry_fcs`.
    Radiotap frames always follow their own Flags field.
    """
    ours = [f for f in frames if f.linktype in SUPPORTED_LINKTYPES]
    strip, decided = _raw_fcs(fcs, [f for f in ours if f.linktype == LINKTYPE_IEEE802_11])
    out: list[Mpdu] = []
    for f in ours:
        mpdu, radiotap_fcs = _strip_one(f.index, f.timestamp, f.linktype, f.data, f.original_length, strip)
        decided = "radiotap" if radiotap_fcs else decided
        out.append(mpdu)
    return out, decided, len(frames) - len(ours)


def _raw_fcs(fcs: str, raw: Iterable[CapturedFrame]) -> tuple[int, str]:
    """Octets of FCS to strip from raw 802.11 frames, and how that was decided."""
    if fcs == "yes":
        return 4, "present"
    if fcs == "no":
        return 0, "none"
    stated: set[int] = set()
    total = carrying = 0
    for f in raw:
        if f.fcs_length is not None:
            stated.add(f.fcs_length)
        total += 1
        carrying += frames_carry_fcs([f.data])
    if stated:
        return max(stated), "file"
    return (4, "present") if total > 0 and carrying * 2 > total else (0, "none")


def _strip_one(index: int, timestamp: float, linktype: int, data: bytes, original_length: int,
               strip: int) -> tuple[Mpdu, bool]:
    """One frame's MPDU, and whether its radiotap header said an FCS follows."""
    rt, problem = None, None
    if len(data) < original_length:
        problem = f"captured {len(data)} of {original_length} octets (snap length)"
    if linktype == LINKTYPE_IEEE802_11_RADIOTAP:
        try:
            rt = radiotap.parse_captured(data)
        except radiotap.RadiotapError as exc:
            return Mpdu(index, timestamp, b"", None, f"radiotap: {exc}"), False
        data = data[rt.length :]
        flags = rt.flags
        # Radiotap says for itself whether an FCS follows; --fcs is for
        # raw 802.11 (link type 105), which cannot.
        has_fcs = bool(flags & radiotap.FLAG_FCS_AT_END)
        if has_fcs:
            data, problem = _check_fcs(data, 4, problem)
        if flags & radiotap.FLAG_BAD_FCS:
            problem = problem or "radiotap says the frame failed its FCS check"
        if flags & radiotap.FLAG_DATAPAD:
            data = _remove_data_pad(data)
        return Mpdu(index, timestamp, data, rt, problem), has_fcs
    if strip:
        data, problem = _check_fcs(data, strip, problem)
    return Mpdu(index, timestamp, data, rt, problem), False


# Frames between two readings of the file position (for progress bars).
_POSITION_EVERY = 256


class CaptureStream:
    """The MPDUs of one capture as the file is read, never all in memory:
    what `strip_link` gives for the whole file, frame by frame. With --fcs
    auto and raw 802.11 frames whose file does not state the FCS, the file
    is read twice, first to decide it. After iteration: `fcs`,
    `skipped_other_linktypes`, `linktypes` and `error` (the CaptureError
    that ended the file early, or None); `position` and `size` (octets)
    show how far it has got."""

    def __init__(self, path: str | Path, fcs: str = "auto") -> None:
        self.path = Path(path)
        self._fcs = fcs
        self.size = self.path.stat().st_size
        self.position = 0
        self.fcs = "none"
        self.skipped_other_linktypes = 0
        self.linktypes: dict[int, int] = {}
        self.error: CaptureError | None = None

    def __iter__(self) -> Iterator[Mpdu]:
        strip, self.fcs = _raw_fcs(self._fcs, self._raw_frames() if self._fcs == "auto" else ())
        with open(self.path, "rb") as f:
            magic = f.read(4)
            try:
                if magic in _PCAP_MAGIC:
                    yield from self._pcap(f, magic, strip)
                else:
                    f.seek(0)
                    yield from self._any(f, strip)
            except CaptureError as exc:
                self.error = exc
            self.position = self.size

    def _pcap(self, f: BinaryIO, magic: bytes, strip: int) -> Iterator[Mpdu]:
        # A classic pcap has one link type, supported or refused whole: its
        # records go to the MPDUs without a CapturedFrame between, and are
        # counted once at the end.
        record, resolution, linktype, _ = _pcap_header(f, magic)
        index = -1
        try:
            for index, (timestamp, data, original_length) in enumerate(_pcap_records(f, record, resolution)):
                if not index % _POSITION_EVERY:
                    self.position = f.tell()
                mpdu, radiotap_fcs = _strip_one(index, timestamp, linktype, data, original_length, strip)
                if radiotap_fcs:
                    self.fcs = "radiotap"
                yield mpdu
        finally:
            if index >= 0:
                self.linktypes[linktype] = self.linktypes.get(linktype, 0) + index + 1

    def _any(self, f: BinaryIO, strip: int) -> Iterator[Mpdu]:
        for frame in read_capture_file(f):
            if not frame.index % _POSITION_EVERY:
                self.position = f.tell()
            self.linktypes[frame.linktype] = self.linktypes.get(frame.linktype, 0) + 1
            if frame.linktype not in SUPPORTED_LINKTYPES:
                self.skipped_other_linktypes += 1
                continue
            mpdu, radiotap_fcs = _strip_one(frame.index, frame.timestamp, frame.linktype, frame.data,
                                            frame.original_length, strip)
            if radiotap_fcs:
                self.fcs = "radiotap"
            yield mpdu

    def _raw_frames(self) -> Iterator[CapturedFrame]:
        with open(self.path, "rb") as f:
            magic = f.read(4)
            if magic in _PCAP_MAGIC and _pcap_linktype(f, magic) != LINKTYPE_IEEE802_11:
                return
            f.seek(0)
            try:
                yield from (frame for frame in read_capture_file(f) if frame.linktype == LINKTYPE_IEEE802_11)
            except CaptureError:
                return


def _pcap_linktype(f: BinaryIO, magic: bytes) -> int | None:
    rest = f.read(20)
    if len(rest) < 20:
        return None
    return int(struct.unpack(_PCAP_MAGIC[magic][0] + "HHiIII", rest)[5]) & 0x03FFFFFF


def _check_fcs(data: bytes, length: int, problem: str | None) -> tuple[bytes, str | None]:
    if len(data) < length + 10:
        return data[: max(0, len(data) - length)], problem or f"frame of {len(data)} octets cannot hold an FCS"
    body, tail = data[:-length], data[-length:]
    # ns-3 appends an FCS of four zero octets it never computes, with raw
    # 802.11 and with radiotap that sets "FCS at end" alike.
    if length == 4 and fcs(body) != tail and tail != b"\x00" * 4:
        return body, problem or f"bad FCS: got {tail.hex()}, computed {fcs(body).hex()}"
    return body, problem


def _remove_data_pad(data: bytes) -> bytes:
    """Radiotap's DATAPAD flag: the capturing driver put padding after the
    MAC header to a 32-bit boundary; take it out again."""
    try:
        _, end = decode_header(data)
    except DecodeError:
        return data
    return data[:end] + data[(end + 3) & ~3 :]


# A classic pcap record header: seconds, microseconds, captured and original length.
_RECORD = struct.Struct("<IIII")


class PcapWriter:
    """Writes a classic pcap as frames come (microsecond timestamps); with
    link type 127 each MPDU gets a radiotap header. Link types 105, 127 and
    1 (Ethernet)."""

    def __init__(self, path: str | Path, linktype: int = LINKTYPE_IEEE802_11_RADIOTAP,
                 buffering: int = io.DEFAULT_BUFFER_SIZE) -> None:
        """`buffering`: octets held before they go to the file; a writer
        whose file nobody reads until it is closed (a simulated run's air)
        holds more and makes fewer system calls."""
        if linktype != LINKTYPE_ETHERNET:
            _check_linktype(0, linktype)
        self.linktype = linktype
        self._fh = open(path, "wb", buffering=buffering)  # noqa: SIM115 - closed by close() or the context
        self._fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, MAX_RECORD, linktype))
        self.count = 0
        # Radiotap headers by (rate, signal): a run uses a handful of each.
        self._radiotap: dict[tuple[int | None, int | None], bytes] = {}

    def write(self, timestamp: float, mpdu: bytes, rate_500kbps: int | None = None,
              signal_dbm: int | None = None) -> None:
        """Write one record; with link type 127, `mpdu` is a bare MPDU and a
        radiotap header is added, otherwise it is written as given."""
        prefix = b""
        if self.linktype == LINKTYPE_IEEE802_11_RADIOTAP:
            prefix = self._radiotap.get((rate_500kbps, signal_dbm), b"")
            if not prefix:
                prefix = self._radiotap[(rate_500kbps, signal_dbm)] = radiotap_header(
                    rate_500kbps=rate_500kbps, frequency=None, signal_dbm=signal_dbm)
        usec = round(timestamp * 1_000_000)
        length = len(prefix) + len(mpdu)
        self._fh.write(b"".join((_RECORD.pack(usec // 1_000_000, usec % 1_000_000, length, length), prefix, mpdu)))
        self.count += 1

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> PcapWriter:
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
    """(timestamp, MPDU, radiotap) for every frame of a capture that can be
    trusted as captured (see `strip_link`; others are left out). Raises
    CaptureError where the file is damaged, after the frames before it."""
    frames: list[CapturedFrame] = []
    error: CaptureError | None = None
    try:
        frames.extend(read_capture(path))
    except CaptureError as exc:
        error = exc
    for mpdu in strip_link(frames, fcs)[0]:
        if mpdu.problem is None:
            yield mpdu.timestamp, mpdu.data, mpdu.radiotap
    if error is not None:
        raise error

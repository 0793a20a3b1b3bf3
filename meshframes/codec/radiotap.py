"""Radiotap headers (radiotap.org), the one parser and builder of the
package: the monitor transport reads every received frame's header and
prepends TX_HEADER to injected ones; meshframes.hosts.pcap reads the headers
of radiotap pcaps and writes them with `header()`.

Field alignments and sizes follow the radiotap definition (radiotap.org,
"defined fields"; Linux's rtap_namespace_sizes agrees); namespaces are
walked the way Linux's radiotap iterator does. Parsing stops at the first
field this table does not know, because its size cannot be known; the
presence bits of a report are still read. Where a field repeats in later
radiotap namespaces (mac80211 reports each antenna's signal that way), the
first one, the combined value, is kept: what tshark shows first.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache

# bit -> (alignment, size) for the radiotap namespace, bits 0-27.
_FIELDS: dict[int, tuple[int, int]] = {
    0: (8, 8),    # TSFT
    1: (1, 1),    # Flags
    2: (1, 1),    # Rate, 500 kb/s units
    3: (2, 4),    # Channel: frequency (MHz), flags
    4: (2, 2),    # FHSS: hop set, hop pattern (u8 each), 2-aligned
    5: (1, 1),    # dBm antenna signal
    6: (1, 1),    # dBm antenna noise
    7: (2, 2),    # lock quality
    8: (2, 2),    # TX attenuation
    9: (2, 2),    # dB TX attenuation
    10: (1, 1),   # dBm TX power
    11: (1, 1),   # antenna
    12: (1, 1),   # dB antenna signal
    13: (1, 1),   # dB antenna noise
    14: (2, 2),   # RX flags
    15: (2, 2),   # TX flags
    16: (1, 1),   # RTS retries
    17: (1, 1),   # data retries
    18: (4, 8),   # XChannel
    19: (1, 3),   # MCS
    20: (4, 8),   # A-MPDU status
    21: (2, 12),  # VHT
    22: (8, 12),  # timestamp
    23: (2, 12),  # HE
    24: (2, 12),  # HE-MU
    25: (2, 6),   # HE-MU-other-user
    26: (1, 1),   # 0-length PSDU
    27: (2, 4),   # L-SIG
}
_FLAGS, _RATE, _CHANNEL, _ANTSIGNAL, _TX_FLAGS, _MCS = 1, 2, 3, 5, 15, 19
_RADIOTAP_NS, _VENDOR_NS, _EXT = 29, 30, 31

# Flags field bits.
FLAG_FCS_AT_END = 0x10
FLAG_DATAPAD = 0x20
FLAG_BAD_FCS = 0x40
# TX flags field bits: the frame was not acknowledged; no ACK was expected.
TX_FLAG_FAIL = 0x0001
TX_FLAG_NOACK = 0x0008

# MCS field (radiotap.org "MCS"): which of its parts are known, and flags.
MCS_KNOWN_BANDWIDTH, MCS_KNOWN_INDEX, MCS_KNOWN_GI = 0x01, 0x02, 0x04
MCS_BANDWIDTH_40 = 1
MCS_FLAG_SHORT_GI = 0x04
# IEEE 802.11-2020 19.5 (HT MCS tables): coded bits per subcarrier and
# coding rate of MCS 0-7 (per spatial stream; MCS 8-31 repeat them for 2-4
# streams), data subcarriers at 20 and 40 MHz, symbol time with the long
# (4 us) and short (3.6 us) guard interval.
_HT_MODULATION = ((1, 1, 2), (2, 1, 2), (2, 3, 4), (4, 1, 2), (4, 3, 4), (6, 2, 3), (6, 3, 4), (6, 5, 6))
_HT_DATA_SUBCARRIERS = {False: 52, True: 108}
_HT_SYMBOL_TENTHS_US = {False: 40, True: 36}

# What we put in front of every injected frame: version 0, no fields, so
# mac80211 picks rate and retries as for its own frames.
TX_HEADER = struct.pack("<BBHI", 0, 0, 8, 0)


class RadiotapError(ValueError):
    """The bytes are not a usable radiotap header."""


@dataclass(frozen=True, slots=True)
class Radiotap:
    length: int
    flags: int = 0
    rate_500kbps: int | None = None
    freq_mhz: int | None = None
    signal_dbm: int | None = None
    # mac80211 reports its own transmissions (their TX status) to monitor
    # interfaces of the same radio with a TX flags field; received frames
    # never carry one. The flags may be unknown (None) when a field the
    # parser cannot size comes before them.
    tx_report: bool = False
    tx_flags: int | None = None
    # An HT frame has no legacy Rate field; its rate follows from the MCS.
    ht_rate_100kbps: int | None = None

    @property
    def rate_100kbps(self) -> int | None:
        return self.ht_rate_100kbps if self.rate_500kbps is None else self.rate_500kbps * 5

    @property
    def has_fcs(self) -> bool:
        """The frame after the header ends in its 4-octet FCS."""
        return bool(self.flags & FLAG_FCS_AT_END)


_MIN_LEN = 8
_LENGTH_OFFSET = 2


def parse_captured(packet: bytes) -> Radiotap:
    """`parse`, remembering the headers it has seen: a capture repeats a
    few headers (one per rate and signal) over and over."""
    if len(packet) < _MIN_LEN:
        return parse(packet)
    # it_len, little-endian, read without a struct call.
    length = packet[_LENGTH_OFFSET] | packet[_LENGTH_OFFSET + 1] << 8
    if length < _MIN_LEN:
        return parse(packet)
    return _parse_header(bytes(packet[:length]))


def parse(packet: bytes | memoryview) -> Radiotap:
    """Parse the radiotap header at the start of `packet`."""
    if len(packet) < 8:
        raise RadiotapError(f"radiotap header needs 8 bytes, got {len(packet)}")
    version, _, length, first = struct.unpack_from("<BBHI", packet)
    if version != 0:
        raise RadiotapError(f"radiotap version {version}, expected 0")
    if length < 8 or length > len(packet):
        raise RadiotapError(f"radiotap length {length} outside 8..{len(packet)}")
    words = [first]
    while words[-1] & (1 << _EXT):
        offset = 4 + 4 * len(words)
        if offset + 4 > length:
            raise RadiotapError("radiotap presence bitmaps run past the header")
        words.append(struct.unpack_from("<I", packet, offset)[0])

    values: dict[int, bytes] = {}
    position = 4 + 4 * len(words)
    in_radiotap_ns = True
    # A word that extends its namespace without naming the next one carries
    # that namespace's fields 32-60, 64-92 and so on.
    base = 0
    for word in words:
        if in_radiotap_ns:
            for bit in range(_RADIOTAP_NS):
                if not word & (1 << bit):
                    continue
                field = base + bit
                if field not in _FIELDS:
                    # Unknown size: nothing after this field can be located.
                    return _build(length, values, words)
                align, size = _FIELDS[field]
                position += -position % align
                if position + size > length:
                    raise RadiotapError(f"radiotap field {field} runs past the header")
                values.setdefault(field, bytes(packet[position:position + size]))
                position += size
        base = 0 if word & (1 << _VENDOR_NS | 1 << _RADIOTAP_NS) else base + 32
        if word & (1 << _VENDOR_NS):
            # Vendor namespace: OUI, sub-namespace, skip length (le16), then
            # that many bytes of vendor data we skip without reading.
            position += -position % 2
            if position + 6 > length:
                raise RadiotapError("radiotap vendor namespace header runs past the header")
            skip = struct.unpack_from("<H", packet, position + 4)[0]
            position += 6 + skip
            in_radiotap_ns = False
        elif word & (1 << _RADIOTAP_NS):
            in_radiotap_ns = True
    return _build(length, values, words)


def _build(length: int, values: dict[int, bytes], words: list[int]) -> Radiotap:
    return Radiotap(
        length=length,
        flags=values[_FLAGS][0] if _FLAGS in values else 0,
        rate_500kbps=values[_RATE][0] if _RATE in values else None,
        freq_mhz=struct.unpack("<H", values[_CHANNEL][:2])[0] if _CHANNEL in values else None,
        signal_dbm=struct.unpack("<b", values[_ANTSIGNAL])[0] if _ANTSIGNAL in values else None,
        tx_report=bool(words[0] & (1 << _TX_FLAGS)),
        tx_flags=struct.unpack("<H", values[_TX_FLAGS])[0] if _TX_FLAGS in values else None,
        ht_rate_100kbps=ht_rate_100kbps(values[_MCS]) if _MCS in values else None,
    )


def ht_rate_100kbps(mcs_field: bytes) -> int | None:
    """The data rate of an HT MCS field (known, flags, index) in units of
    100 kb/s, rounded; None when the index, bandwidth or guard interval is
    unknown, or the index is outside the equal-modulation MCS 0-31 (as
    tshark)."""
    known, flags, index = mcs_field[0], mcs_field[1], mcs_field[2]
    needed = MCS_KNOWN_INDEX | MCS_KNOWN_BANDWIDTH | MCS_KNOWN_GI
    if known & needed != needed or index > 31:
        return None
    wide = flags & 0x03 == MCS_BANDWIDTH_40
    short_gi = bool(flags & MCS_FLAG_SHORT_GI)
    bits, num, den = _HT_MODULATION[index % 8]
    streams = index // 8 + 1
    # Mb/s = subcarriers * bits * rate * streams / symbol time (us); x10.
    tenths = _HT_DATA_SUBCARRIERS[wide] * bits * num * streams * 100 / (den * _HT_SYMBOL_TENTHS_US[short_gi])
    return round(tenths)


def header(*, rate_500kbps: int | None = 2, freq_mhz: int | None = 2412,
           signal_dbm: int | None = None) -> bytes:
    """A minimal radiotap header for a capture: Flags (no FCS), and Rate,
    Channel and dBm antenna signal when given."""
    present = 1 << _FLAGS
    fields = b"\x00"
    if rate_500kbps is not None:
        present |= 1 << _RATE
        fields += bytes((rate_500kbps & 0xFF,))
    if freq_mhz is not None:
        present |= 1 << _CHANNEL
        # Channel is 2-aligned: pad after Flags and Rate if needed; flags
        # 0x00A0 say 2.4 GHz CCK/OFDM.
        fields += b"\x00" * (len(fields) % 2) + struct.pack("<HH", freq_mhz, 0x00A0)
    if signal_dbm is not None:
        present |= 1 << _ANTSIGNAL
        fields += struct.pack("<b", max(-128, min(127, signal_dbm)))
    return struct.pack("<BBHI", 0, 0, 8 + len(fields), present) + fields


_parse_header = lru_cache(maxsize=1024)(parse)

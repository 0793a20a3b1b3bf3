"""Radiotap headers crafted field by field, read by our parser and by
tshark: alignment (FHSS is 2-aligned), repeated namespaces (per-antenna
signals after the combined one), and extended presence words that carry
fields 32 and up rather than a second copy of fields 0-28."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from meshframes.codec.radiotap import parse
from meshframes.hosts import tshark
from meshframes.hosts.pcap import LINKTYPE_IEEE802_11_RADIOTAP, write_pcap
from meshframes.layers.build import build

FLAGS, FHSS, ANTSIGNAL, CHANNEL, ANTENNA = 1, 4, 5, 3, 11
RADIOTAP_NS, EXT = 29, 31
BEACON = bytes(build("beacon"))


def header(words: list[int], fields: bytes) -> bytes:
    return (struct.pack("<BBH", 0, 0, 4 + 4 * len(words) + len(fields))
            + b"".join(struct.pack("<I", w) for w in words) + fields)


# Flags at 8, a pad octet, FHSS (hop set 3, pattern 7) at 10, signal at 12:
# read 1-aligned, FHSS would take the pad and the signal would be 7 dBm.
FHSS_HEADER = header([1 << FLAGS | 1 << FHSS | 1 << ANTSIGNAL],
                     bytes([0x00, 0x00, 3, 7]) + struct.pack("<b", -42))
# mac80211 on two antennas: the combined signal, then one radiotap namespace
# per antenna with that antenna's signal and index.
ANTENNAS_HEADER = header(
    [1 << FLAGS | 1 << ANTSIGNAL | 1 << RADIOTAP_NS | 1 << EXT,
     1 << ANTSIGNAL | 1 << ANTENNA | 1 << RADIOTAP_NS | 1 << EXT,
     1 << ANTSIGNAL | 1 << ANTENNA],
    bytes([0x00]) + struct.pack("<b", -40) + struct.pack("<bB", -70, 0) + struct.pack("<bB", -45, 1))
# The second word extends the radiotap namespace without naming one: its
# bit 3 is field 35 (undefined), not Channel; nothing can be read past it.
EXTENDED_HEADER = header([1 << FLAGS | 1 << EXT, 1 << CHANNEL],
                         bytes([0x00, 0x00]) + struct.pack("<HH", 2412, 0x00A0))
HEADERS = [FHSS_HEADER, ANTENNAS_HEADER, EXTENDED_HEADER]


def test_fhss_is_two_aligned() -> None:
    assert parse(FHSS_HEADER + BEACON).signal_dbm == -42


def test_the_combined_signal_is_kept_over_the_antennas() -> None:
    assert parse(ANTENNAS_HEADER + BEACON).signal_dbm == -40


def test_an_extended_word_is_not_read_as_fields_0_to_28_again() -> None:
    rt = parse(EXTENDED_HEADER + BEACON)
    assert (rt.length, rt.freq_mhz, rt.flags) == (len(EXTENDED_HEADER), None, 0)


@pytest.mark.tshark
def test_tshark_reads_the_same_values(tmp_path: Path) -> None:
    path = tmp_path / "radiotap.pcap"
    write_pcap(path, ((i * 0.1, h + BEACON) for i, h in enumerate(HEADERS)), LINKTYPE_IEEE802_11_RADIOTAP)
    theirs = tshark.fields(path, ["radiotap.dbm_antsignal", "radiotap.channel.freq", "wlan.fc.type_subtype"])
    assert [int(f["wlan.fc.type_subtype"][0], 0) for f in theirs] == [8, 8, 8]
    for fields, raw in zip(theirs, HEADERS, strict=False):
        ours = parse(raw + BEACON)
        signals = [int(v) for v in fields["radiotap.dbm_antsignal"]]
        assert ours.signal_dbm == (signals[0] if signals else None)
        assert ours.freq_mhz == (int(fields["radiotap.channel.freq"][0]) if fields["radiotap.channel.freq"] else None)

"""The monitor transport's radiotap parser against tshark, on headers the
Linux kernel wrote (hwsim captures) and on crafted ones exercising
alignment, extended bitmaps and vendor namespaces. No guest needed."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from scapy.utils import RawPcapReader

from meshframes.codec import radiotap
from meshframes.hosts.pcap import LINKTYPE_IEEE802_11_RADIOTAP
from meshframes.hwsim import tshark
from meshframes.hwsim.framesets import REPO, SHARED_PCAPS, fastpay_frame

pytestmark = pytest.mark.tshark
RADIOTAP_FIELDS = ("frame.number", "radiotap.length", "radiotap.flags.fcs",
                   "radiotap.datarate", "radiotap.channel.freq", "radiotap.dbm_antsignal")
KERNEL_CAPTURES = [SHARED_PCAPS / "linux" / "linux-open-2node.pcap",
                   *sorted((REPO / "pcaps").glob("*.pcap"))]
PAYLOAD = fastpay_frame(a1=b"\xff" * 6, a2=bytes.fromhex("020000000a00"), message_type=8,
                        payload=b"radiotap")


def _header(words: list[int], fields: bytes) -> bytes:
    return struct.pack("<BBH", 0, 0, 4 + 4 * len(words) + len(fields)) + b"".join(
        struct.pack("<I", word) for word in words) + fields


EXT, VENDOR_NS, RADIOTAP_NS = 1 << 31, 1 << 30, 1 << 29
FLAGS, RATE, CHANNEL, SIGNAL, TX_FLAGS, MCS = 1 << 1, 1 << 2, 1 << 3, 1 << 5, 1 << 15, 1 << 19
# HT frames carry an MCS field instead of a Rate: (known, flags, index) with
# 20 or 40 MHz, long or short guard interval, one to four streams.
MCS_CASES = {"mcs0-20-lgi": (0x07, 0x00, 0), "mcs0-20-sgi": (0x07, 0x04, 0), "mcs7-40-sgi": (0x07, 0x05, 7),
             "mcs15-20-lgi": (0x07, 0x00, 15), "mcs21-40-lgi": (0x07, 0x01, 21),
             "mcs31-20-sgi": (0x07, 0x04, 31), "mcs4-gi-unknown": (0x03, 0x05, 4),
             "mcs4-bw-unknown": (0x06, 0x05, 4)}
CRAFTED = {
    # TSFT (8-aligned after two bitmap words: 4 padding octets), flags,
    # rate 11 Mb/s, channel 2437 MHz, signal -61 dBm.
    "extended-bitmap-tsft": _header(
        [1 | FLAGS | RATE | CHANNEL | SIGNAL | EXT, 0],
        b"\0" * 4 + struct.pack("<QBBHHb", 123456789, 0, 22, 2437, 0x00A0, -61)),
    # Flags, rate 1 Mb/s, signal -40, then a vendor namespace with 4 octets
    # of data to skip, then back to radiotap for channel 2462 MHz.
    "vendor-namespace": _header(
        [FLAGS | RATE | SIGNAL | VENDOR_NS | EXT, 1 | RADIOTAP_NS | EXT, CHANNEL],
        struct.pack("<BBb", 0, 2, -40) + b"\0" + bytes.fromhex("001122") + b"\x00"
        + struct.pack("<H", 4) + b"\xaa" * 4 + struct.pack("<HH", 2462, 0x00A0)),
    # Flags, channel 2412 MHz, signal -30, MCS (as Linux reports HT frames).
    **{name: _header([FLAGS | CHANNEL | SIGNAL | MCS],
                     struct.pack("<BBHHbBBB", 0, 0, 2412, 0x00A0, -30, *mcs))
       for name, mcs in MCS_CASES.items()},
}


def _write_pcap(path: Path, packets: list[bytes]) -> None:
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535,
                              LINKTYPE_IEEE802_11_RADIOTAP))
        for packet in packets:
            out.write(struct.pack("<IIII", 0, 0, len(packet), len(packet)) + packet)


def _packets(path: Path) -> list[bytes]:
    reader = RawPcapReader(str(path))
    try:
        return [packet for packet, _ in reader]
    finally:
        reader.close()


def _agree(path: Path) -> int:
    packets = _packets(path)
    rows = tshark.rows(path, RADIOTAP_FIELDS)
    assert len(rows) == len(packets)
    for packet, row in zip(packets, rows, strict=False):
        parsed = radiotap.parse(packet)
        where = f"{path.name} frame {row['frame.number']}"
        assert parsed.length == int(row["radiotap.length"]), where
        assert bool(parsed.flags & radiotap.FLAG_FCS_AT_END) == (row["radiotap.flags.fcs"] in ("1", "True")), where
        expected_rate = row["radiotap.datarate"]
        assert parsed.rate_100kbps == (round(float(expected_rate) * 10) if expected_rate else None), where
        expected_freq = row["radiotap.channel.freq"]
        assert parsed.freq_mhz == (int(expected_freq) if expected_freq else None), where
        expected_signal = row["radiotap.dbm_antsignal"].split(",")[0]
        assert parsed.signal_dbm == (int(expected_signal) if expected_signal else None), where
    return len(packets)


@pytest.mark.parametrize("path", KERNEL_CAPTURES, ids=lambda path: path.name)
def test_parser_agrees_with_tshark_on_kernel_headers(path: Path) -> None:
    """Every radiotap header Linux wrote for a hwsim monitor reads the same
    to our parser as to tshark."""
    assert _agree(path) > 0


@pytest.mark.parametrize("path", sorted((REPO / "pcaps" / "ns3").glob("line-break-*.pcap")),
                         ids=lambda path: path.name)
def test_parser_agrees_with_tshark_on_ns3_headers(path: Path) -> None:
    """ns-3's radiotap (TSFT, Flags with FCS at end, Rate, Channel, antenna
    signal and noise) reads the same to our parser as to tshark."""
    assert _agree(path) > 0


def test_parser_agrees_with_tshark_on_crafted_headers(tmp_path: Path) -> None:
    """Alignment padding, extended bitmaps, a vendor namespace to skip and
    HT MCS fields (rate from index, bandwidth, guard interval) read the
    same to our parser as to tshark."""
    path = tmp_path / "crafted.pcap"
    _write_pcap(path, [header + PAYLOAD for header in CRAFTED.values()])
    assert _agree(path) == len(CRAFTED)
    vendor = radiotap.parse(CRAFTED["vendor-namespace"] + PAYLOAD)
    assert (vendor.signal_dbm, vendor.rate_100kbps, vendor.freq_mhz) == (-40, 10, 2462)
    # 19.5's tables: 6.5, 7.2, 150, 130, 324 and 288.9 Mb/s; no rate
    # without the guard interval or the bandwidth.
    assert [radiotap.parse(CRAFTED[name] + PAYLOAD).rate_100kbps for name in MCS_CASES] == [
        65, 72, 1500, 1300, 3240, 2889, None, None]


def test_tx_flags_mark_a_transmit_report() -> None:
    """mac80211 reports a radio's own transmissions with a TX flags field."""
    report = radiotap.parse(_header([RATE | TX_FLAGS],
                                    struct.pack("<BBH", 2, 0, radiotap.TX_FLAG_FAIL)))
    assert report.tx_report and report.rate_100kbps == 10
    assert report.tx_flags == radiotap.TX_FLAG_FAIL
    assert not radiotap.parse(radiotap.TX_HEADER).tx_report


@pytest.mark.parametrize(("packet", "reason"), [
    (b"\x00\x00\x08", "needs 8 bytes, got 3"),
    (b"\x01\x00\x08\x00\x00\x00\x00\x00", "version 1, expected 0"),
    (b"\x00\x00\x20\x00\x00\x00\x00\x00", "length 32 outside 8..8"),
    (_header([EXT], b"")[:8], "presence bitmaps run past the header"),
    (_header([SIGNAL | CHANNEL], b"\x00\x00"), "field 3 runs past the header"),
    (_header([VENDOR_NS], b"\x00\x11"), "vendor namespace header runs past the header"),
], ids=["short", "version", "length", "bitmaps", "field", "vendor"])
def test_malformed_header_is_rejected_with_the_reason(packet: bytes, reason: str) -> None:
    with pytest.raises(radiotap.RadiotapError, match=reason):
        radiotap.parse(packet)

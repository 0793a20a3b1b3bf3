"""Third-party captures decode completely, and our counts are tshark's."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.dot11 import Dot11

from meshframes.hosts import tshark
from meshframes.hosts.pcap import LINKTYPE_IEEE802_11_RADIOTAP, read_capture
from meshframes.layers.dissect import analyze

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "pcaps"
# Captures ns-3 3.37's mesh stack made here (tools/ns3, pcaps/ns3/README.md):
# proactive mode, DO flags, a relay that leaves, radiotap, FLAME.
RECORDED = Path(__file__).resolve().parents[2] / "pcaps"

# Frame counts per kind read off tshark 4.0.17 (meshframes/hosts/tshark.py kind_of,
# `-o wlan.check_fcs:TRUE -o wlan.check_checksum:FALSE` for ns-3), not off
# our decoder. "other" is ns-3's ACK and CF-End and Linux's QoS Null frames;
# Linux's mesh data include the one it relayed with the mesh-control-present
# bit clear (tshark decodes its Mesh Control field all the same).
TSHARK_COUNTS = {
    "ns3/hwmp-reactive-regression-test-0-1.pcap": {"beacon": 40, "peering-open": 16, "peering-confirm": 7, "preq": 2, "prep": 1, "perr": 2, "mesh-data": 25, "other": 39},
    "ns3/hwmp-reactive-regression-test-1-1.pcap": {"beacon": 60, "peering-open": 6, "peering-confirm": 6, "peering-close": 7, "preq": 3, "prep": 2, "perr": 3, "mesh-data": 42, "other": 63},
    "ns3/hwmp-reactive-regression-test-2-1.pcap": {"beacon": 50, "peering-open": 17, "peering-confirm": 13, "peering-close": 7, "preq": 3, "prep": 3, "perr": 3, "mesh-data": 49, "other": 72},
    "ns3/hwmp-reactive-regression-test-3-1.pcap": {"beacon": 40, "peering-open": 16, "peering-confirm": 13, "peering-close": 14, "preq": 3, "prep": 3, "perr": 7, "mesh-data": 48, "other": 71},
    "ns3/hwmp-reactive-regression-test-4-1.pcap": {"beacon": 50, "peering-open": 5, "peering-confirm": 5, "peering-close": 7, "preq": 16, "prep": 3, "perr": 1, "mesh-data": 57, "other": 60},
    "ns3/hwmp-reactive-regression-test-5-1.pcap": {"beacon": 40, "peering-open": 3, "peering-confirm": 3, "peering-close": 7, "preq": 15, "prep": 2, "perr": 1, "mesh-data": 42, "other": 37},
    "ns3/hwmp-simplest-regression-test-0-1.pcap": {"beacon": 50, "peering-open": 2, "peering-confirm": 2, "peering-close": 7, "preq": 2, "prep": 2, "mesh-data": 326, "other": 333},
    "ns3/hwmp-simplest-regression-test-1-1.pcap": {"beacon": 50, "peering-open": 2, "peering-confirm": 2, "peering-close": 7, "preq": 10, "prep": 2, "mesh-data": 340, "other": 333},
    "ns3/pmp-regression-test-0-1.pcap": {"beacon": 4, "peering-open": 2, "peering-confirm": 2, "other": 7},
    "ns3/pmp-regression-test-1-1.pcap": {"beacon": 4, "peering-open": 2, "peering-confirm": 2, "other": 7},
    "linux/linux-open-2node.pcap": {"beacon": 26, "peering-open": 2, "peering-confirm": 2, "peering-close": 2, "preq": 4, "prep": 3, "mesh-data": 17, "other": 2},
}
# Read off tshark 4.0.17 the same way; FLAME is ns-3's own non-802.11s
# routing over plain data frames: all "other".
RECORDED_COUNTS = {
    "ns3/do-flag-line-0-1.pcap": {"beacon": 20, "peering-open": 3, "peering-confirm": 3, "preq": 3, "prep": 3, "mesh-data": 44, "other": 48},
    "ns3/do-flag-line-1-1.pcap": {"beacon": 30, "peering-open": 5, "peering-confirm": 5, "preq": 4, "prep": 5, "mesh-data": 62, "other": 70},
    "ns3/do-flag-line-2-1.pcap": {"beacon": 30, "peering-open": 7, "peering-confirm": 5, "preq": 4, "prep": 4, "mesh-data": 53, "other": 60},
    "ns3/do-flag-line-3-1.pcap": {"beacon": 20, "peering-open": 5, "peering-confirm": 3, "preq": 2, "prep": 2, "mesh-data": 28, "other": 31},
    "ns3/flame-0-1.pcap": {"other": 60},
    "ns3/flame-1-1.pcap": {"other": 81},
    "ns3/flame-2-1.pcap": {"other": 60},
    "ns3/line-break-0-1.pcap": {"beacon": 40, "peering-open": 4, "peering-confirm": 4, "peering-close": 8, "preq": 19, "prep": 4, "perr": 2, "mesh-data": 60, "other": 69},
    "ns3/line-break-1-1.pcap": {"beacon": 50, "peering-open": 7, "peering-confirm": 7, "peering-close": 9, "preq": 21, "prep": 7, "perr": 3, "mesh-data": 87, "other": 111},
    "ns3/line-break-2-1.pcap": {"beacon": 38, "peering-open": 10, "peering-confirm": 8, "peering-close": 16, "preq": 6, "prep": 8, "perr": 8, "mesh-data": 83, "other": 125},
    "ns3/line-break-3-1.pcap": {"beacon": 50, "peering-open": 8, "peering-confirm": 6, "peering-close": 8, "preq": 5, "prep": 6, "perr": 4, "mesh-data": 71, "other": 105},
    "ns3/line-break-4-1.pcap": {"beacon": 40, "peering-open": 3, "peering-confirm": 3, "peering-close": 7, "preq": 3, "prep": 3, "perr": 3, "mesh-data": 43, "other": 62},
    "ns3/proactive-line-0-1.pcap": {"beacon": 20, "peering-open": 3, "peering-confirm": 3, "preq": 6, "prep": 15, "mesh-data": 22, "other": 40},
    "ns3/proactive-line-1-1.pcap": {"beacon": 30, "peering-open": 5, "peering-confirm": 5, "preq": 9, "prep": 15, "mesh-data": 36, "other": 69},
    "ns3/proactive-line-2-1.pcap": {"beacon": 30, "peering-open": 8, "peering-confirm": 6, "preq": 7, "prep": 12, "mesh-data": 42, "other": 83},
    "ns3/proactive-line-3-1.pcap": {"beacon": 30, "peering-open": 7, "peering-confirm": 5, "preq": 8, "prep": 12, "mesh-data": 36, "other": 66},
    "ns3/proactive-line-4-1.pcap": {"beacon": 20, "peering-open": 3, "peering-confirm": 3, "preq": 5, "prep": 12, "mesh-data": 22, "other": 38},
    "ns3/three-flows-line-0-1.pcap": {"beacon": 20, "peering-open": 3, "peering-confirm": 3, "preq": 5, "prep": 3, "mesh-data": 44, "other": 50},
    "ns3/three-flows-line-1-1.pcap": {"beacon": 30, "peering-open": 5, "peering-confirm": 5, "preq": 7, "prep": 6, "mesh-data": 62, "other": 73},
    "ns3/three-flows-line-2-1.pcap": {"beacon": 30, "peering-open": 7, "peering-confirm": 5, "preq": 6, "prep": 7, "mesh-data": 53, "other": 63},
    "ns3/three-flows-line-3-1.pcap": {"beacon": 20, "peering-open": 5, "peering-confirm": 3, "preq": 3, "prep": 4, "mesh-data": 28, "other": 33},
}
CAPTURES = {**{SHARED / n: c for n, c in TSHARK_COUNTS.items()},
            **{RECORDED / n: c for n, c in RECORDED_COUNTS.items()}}
IDS = [str(p.relative_to(p.parents[1])) for p in CAPTURES]


def test_every_third_party_capture_is_in_the_table():
    """A capture added to ../shared or pcaps/ns3 must get its tshark counts here."""
    assert {str(p.relative_to(SHARED)) for p in SHARED.glob("*/*.pcap")} == set(TSHARK_COUNTS)
    assert {str(p.relative_to(RECORDED)) for p in RECORDED.glob("ns3/*.pcap")} == set(RECORDED_COUNTS)


@pytest.mark.parametrize("path", CAPTURES, ids=IDS)
def test_capture_decodes_completely_with_tshark_counts(path):
    """Zero undecoded, zero malformed, and per-kind counts equal tshark's."""
    result, _ = analyze(path)
    assert result.capture_error is None
    assert result.malformed == []
    assert result.undecoded == []
    assert dict(result.by_kind) == CAPTURES[path]


def _options(path: Path) -> tuple[str, ...]:
    return tshark.NS3_OPTIONS if path.parent.name == "ns3" else ()


@pytest.mark.tshark
@pytest.mark.parametrize("path", CAPTURES, ids=IDS)
def test_counts_match_a_live_tshark_run(path):
    """The tables above still agree with tshark as installed."""
    assert tshark.counts_by_kind(path, _options(path)) == CAPTURES[path]


@pytest.mark.tshark
@pytest.mark.parametrize("path", CAPTURES, ids=IDS)
def test_hwmp_fields_match_tshark(path):
    """Every PREQ/PREP/PERR element's fields equal tshark's, frame by frame."""
    result, _ = analyze(path)
    names = ["wlan.tag.number", "wlan.hwmp.orig_sta", "wlan.hwmp.orig_sn", "wlan.hwmp.targ_sta",
             "wlan.hwmp.targ_sn", "wlan.hwmp.metric", "wlan.hwmp.hopcount", "wlan.hwmp.ttl"]
    theirs = tshark.fields(path, names, _options(path))
    checked = 0
    for record in result.hwmp:
        frame = theirs[record["frame"]]
        if record["element"] == "PREQ":
            assert frame["wlan.hwmp.orig_sta"] == [record["originator_address"]]
            assert [int(x) for x in frame["wlan.hwmp.orig_sn"]] == [record["originator_hwmp_sn"]]
            assert frame["wlan.hwmp.targ_sta"] == [t["target_address"] for t in record["targets"]]
            assert [int(x) for x in frame["wlan.hwmp.metric"]] == [record["metric"]]
            assert [int(x) for x in frame["wlan.hwmp.hopcount"]] == [record["hop_count"]]
        elif record["element"] == "PREP":
            assert frame["wlan.hwmp.targ_sta"] == [record["target_address"]]
            assert frame["wlan.hwmp.orig_sta"] == [record["originator_address"]]
            assert [int(x) for x in frame["wlan.hwmp.targ_sn"]] == [record["target_hwmp_sn"]]
            assert [int(x) for x in frame["wlan.hwmp.metric"]] == [record["metric"]]
        elif record["element"] == "PERR":
            assert frame["wlan.hwmp.targ_sta"] == [d["destination_address"] for d in record["destinations"]]
            assert [int(x) for x in frame["wlan.hwmp.targ_sn"]] == [d["hwmp_sn"] for d in record["destinations"]]
            assert [int(x) for x in frame["wlan.hwmp.ttl"]] == [record["element_ttl"]]
        checked += 1
    assert checked == sum(CAPTURES[path].get(k, 0) for k in ("preq", "prep", "perr"))


@pytest.mark.parametrize("path", CAPTURES, ids=IDS)
def test_plain_scapy_dissects_without_our_calls(path):
    """`import meshframes` then plain Scapy: no frame keeps a Raw layer in
    its 802.11 part (mesh data bodies end in LLC, as they should)."""
    from scapy.layers.l2 import LLC
    from scapy.packet import Raw

    for frame in read_capture(path):
        data = frame.data
        if frame.linktype == LINKTYPE_IEEE802_11_RADIOTAP:
            data = data[data[2] | data[3] << 8 :]
        if path.parent.name == "ns3":
            data = data[:-4]  # ns-3's FCS of zeros
        layer = Dot11(data)
        while layer:
            if isinstance(layer, LLC):
                break
            assert not isinstance(layer, Raw), f"frame {frame.index}: {Dot11(data).summary()}"
            layer = layer.payload

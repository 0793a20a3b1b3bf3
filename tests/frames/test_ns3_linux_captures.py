"""Third-party captures decode completely, and our counts are tshark's."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.dot11 import Dot11

from meshframes.capture import read_capture
from meshframes.dissect import analyze
from tools import tshark

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "pcaps"

# Frame counts per kind read off tshark 4.0.17 (tools/tshark.py kind_of,
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


def test_every_shared_capture_is_in_the_table():
    """A capture added to ../shared must get its tshark counts here."""
    found = {str(p.relative_to(SHARED)) for p in SHARED.glob("*/*.pcap")}
    assert found == set(TSHARK_COUNTS)


@pytest.mark.parametrize("name", sorted(TSHARK_COUNTS))
def test_capture_decodes_completely_with_tshark_counts(name):
    """Zero undecoded, zero malformed, and per-kind counts equal tshark's."""
    result, _ = analyze(SHARED / name)
    assert result.capture_error is None
    assert result.malformed == []
    assert result.undecoded == []
    assert dict(result.by_kind) == TSHARK_COUNTS[name]


@pytest.mark.tshark
@pytest.mark.parametrize("name", sorted(TSHARK_COUNTS))
def test_counts_match_a_live_tshark_run(name):
    """The table above still agrees with tshark as installed."""
    options = tshark.NS3_OPTIONS if name.startswith("ns3/") else ()
    assert tshark.counts_by_kind(SHARED / name, options) == TSHARK_COUNTS[name]


@pytest.mark.tshark
@pytest.mark.parametrize("name", sorted(TSHARK_COUNTS))
def test_hwmp_fields_match_tshark(name):
    """Every PREQ/PREP/PERR element's fields equal tshark's, frame by frame."""
    options = tshark.NS3_OPTIONS if name.startswith("ns3/") else ()
    result, _ = analyze(SHARED / name)
    names = ["wlan.tag.number", "wlan.hwmp.orig_sta", "wlan.hwmp.orig_sn", "wlan.hwmp.targ_sta",
             "wlan.hwmp.targ_sn", "wlan.hwmp.metric", "wlan.hwmp.hopcount", "wlan.hwmp.ttl"]
    theirs = tshark.fields(SHARED / name, names, options)
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
    assert checked == sum(TSHARK_COUNTS[name].get(k, 0) for k in ("preq", "prep", "perr"))


@pytest.mark.parametrize("name", sorted(TSHARK_COUNTS))
def test_plain_scapy_dissects_without_our_calls(name):
    """`import meshframes` then plain Scapy: no frame keeps a Raw layer in
    its 802.11 part (mesh data bodies end in LLC, as they should)."""
    from scapy.packet import Raw
    from scapy.layers.l2 import LLC

    frames = list(read_capture(SHARED / name))
    for frame in frames:
        data = frame.data
        if name.startswith("ns3/"):
            data = data[:-4]
        else:
            data = data[data[2] | data[3] << 8 :]
        layer = Dot11(data)
        while layer:
            if isinstance(layer, LLC):
                break
            assert not isinstance(layer, Raw), f"frame {frame.index}: {Dot11(data).summary()}"
            layer = layer.payload

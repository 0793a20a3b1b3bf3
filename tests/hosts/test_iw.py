"""The kernel's mesh as `iw` prints it (meshframes.hosts.iw)."""

from __future__ import annotations

from meshframes.hosts.iw import MPATH_ACTIVE, parse_mpath_dump, parse_station_dump

# Verbatim `iw` 5.19 output from hwsim mesh points in the guest.
STATION_DUMP = """\
Station 02:00:00:00:01:00 (on wlan0)
\tinactive time:\t728 ms
\ttx failed:\t0
\tsignal:  \t-30 dBm
\tmesh llid:\t47767
\tmesh plid:\t39809
\tmesh plink:\tESTAB
\tmesh airtime link metric: 8193
Station 02:00:00:00:02:00 (on wlan0)
\ttx failed:\t25
\tmesh plink:\tBLOCKED
"""
MPATH_DUMP = """\
DEST ADDR         NEXT HOP          IFACE\tSN\tMETRIC\tQLEN\tEXPTIME\tDTIM\tDRET\tFLAGS\tHOP_COUNT\tPATH_CHANGE
02:00:00:00:01:00 02:00:00:00:01:00 wlan0\t0\t8193\t0\t0\t0\t0\t0x11\t1\t1
02:00:00:00:02:00 02:00:00:00:01:00 wlan0\t2\t16450\t0\t4344\t0\t0\t0x6\t2\t1
"""


def test_station_dump_is_read_per_peer() -> None:
    stations = parse_station_dump(STATION_DUMP)
    assert {mac: s.plink for mac, s in stations.items()} == {
        "02:00:00:00:01:00": "ESTAB", "02:00:00:00:02:00": "BLOCKED"}
    assert stations["02:00:00:00:02:00"].fields["tx failed"] == "25"
    assert parse_station_dump("") == {}


def test_mpath_dump_is_read_per_destination() -> None:
    paths = parse_mpath_dump(MPATH_DUMP)
    far = paths["02:00:00:00:02:00"]
    assert (far.next_hop, far.sn, far.metric, far.hop_count) == ("02:00:00:00:01:00", 2, 16450, 2)
    assert not far.active and paths["02:00:00:00:01:00"].flags & MPATH_ACTIVE
    assert parse_mpath_dump(MPATH_DUMP.splitlines()[0]) == {}


def test_station_fields_read_as_numbers() -> None:
    station = parse_station_dump(STATION_DUMP)["02:00:00:00:01:00"]
    assert (station.number("signal"), station.number("inactive time")) == (-30, 728)
    assert station.number("mesh airtime link metric") == 8193
    assert station.number("no such field") is None


def test_mpath_expiry_is_read_in_milliseconds() -> None:
    paths = parse_mpath_dump(MPATH_DUMP)
    assert [paths[d].expires_ms for d in sorted(paths)] == [0, 4344]

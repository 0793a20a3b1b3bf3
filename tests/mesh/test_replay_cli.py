"""`meshframes replay`: the ns-3 oracle from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from meshframes.cli import cli

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def test_replay_json_agrees_with_ns3_on_a_relay():
    """Node 2 of the 6-node chain relays discovery both ways and reports the
    failure of node 3: every comparison agrees."""
    pcap = SHARED / "pcaps/ns3/hwmp-reactive-regression-test-2-1.pcap"
    result = CliRunner().invoke(cli, ["replay", str(pcap), "--node", "00:00:00:00:00:03", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["data_frames_checked"] > 0 and data["next_hop_mismatches"] == []
    for name, sides in data["comparisons"].items():
        assert sides["captured"] == sides["ours"], name
    assert data["comparisons"]["PERR destinations"]["ours"]


def test_replay_without_node_lists_the_transmitters():
    pcap = SHARED / "pcaps/ns3/hwmp-simplest-regression-test-0-1.pcap"
    result = CliRunner().invoke(cli, ["replay", str(pcap)])
    assert result.exit_code == 2
    assert "00:00:00:00:00:01" in result.stderr and "00:00:00:00:00:02" in result.stderr


def test_undecodable_frames_are_skipped_counted_and_named(tmp_path):
    """A frame the codec refuses (here: protocol version 1) no longer ends
    the replay: it is left out, counted and named, in the table and in the
    JSON, and the rest of the capture is compared as before."""
    import struct

    source = SHARED / "pcaps/ns3/hwmp-reactive-regression-test-2-1.pcap"
    data = bytearray(source.read_bytes())
    pos, index, damaged = 24, 0, []
    while pos < len(data):
        length = struct.unpack_from("<I", data, pos + 8)[0]
        if data[pos + 16] == 0x80 and len(damaged) < 2 and index > 20:  # two beacons
            data[pos + 16] |= 0x01
            damaged.append(index)
        pos += 16 + length
        index += 1
    pcap = tmp_path / "two-bad-frames.pcap"
    pcap.write_bytes(bytes(data))
    result = CliRunner().invoke(cli, ["replay", str(pcap), "--node", "00:00:00:00:00:03", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["skipped"] == 2
    assert [s["frame"] for s in out["skipped_frames"]] == damaged
    assert all(s["reason"].startswith("protocol version at offset 0: got 1") for s in out["skipped_frames"])
    assert out["data_frames_checked"] > 0 and out["next_hop_mismatches"] == []
    table = CliRunner().invoke(cli, ["replay", str(pcap), "--node", "00:00:00:00:00:03"])
    assert table.exit_code == 0 and "2 frames skipped" in table.stdout
    assert "frames skipped (2)" in table.stdout and "protocol version" in table.stdout

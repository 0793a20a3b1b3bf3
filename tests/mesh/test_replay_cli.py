"""`meshframes replay`: the ns-3 oracle from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
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


# An S1G Beacon (802.11-2020 9.3.4.3): type 3 (extension), subtype 1. Frame
# Control, Duration, Source Address, Timestamp, Change Sequence: no MAC
# header with addr1/addr2, and nothing a mesh node acts on.
S1G_BEACON = bytes([0x1C, 0x00, 0x00, 0x00]) + bytes.fromhex("020000000001") + bytes(12)


def test_a_capture_of_one_extension_frame_is_refused_with_a_message(tmp_path):
    """A capture holding only an extension frame used to end the replay
    with AttributeError ('ExtensionFrame' has no header); now the frame is
    left out with its reason and the replay says there is nothing to play."""
    from meshframes.codec import ExtensionFrame, decode
    from meshframes.hosts.pcap import LINKTYPE_IEEE802_11, write_pcap
    from meshframes.sim.replay import NothingToReplay, decoded_frames, replay, transmitters

    assert isinstance(decode(S1G_BEACON), ExtensionFrame)
    pcap = tmp_path / "s1g-beacon.pcap"
    write_pcap(pcap, [(1.0, S1G_BEACON)], LINKTYPE_IEEE802_11)

    frames, skipped = decoded_frames(pcap)
    assert frames == [] and [s.frame for s in skipped] == [0]
    assert skipped[0].reason.startswith("extension frame (type 3)")
    assert transmitters(pcap) == {}
    with pytest.raises(NothingToReplay, match=r"no frames to replay \(1 left out: frame 0: extension frame"):
        replay(pcap, bytes.fromhex("020000000001"))

    result = CliRunner().invoke(cli, ["replay", str(pcap), "--node", "02:00:00:00:00:01", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "no frames to replay" in result.stderr and "extension frame (type 3)" in result.stderr
    assert result.stdout == "" and "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["replay", str(pcap)], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert "no frame in the capture names its transmitter" in result.stderr


def test_an_extension_frame_in_a_capture_is_skipped_and_named(tmp_path):
    """An extension frame among the ns-3 frames is left out, counted and
    named; the rest of the capture is compared as before."""
    import struct

    source = SHARED / "pcaps/ns3/hwmp-reactive-regression-test-2-1.pcap"
    data = bytearray(source.read_bytes())
    pos, index, last = 24, 0, b""
    while pos < len(data):
        last = bytes(data[pos : pos + 8])  # the last frame's time
        pos += 16 + struct.unpack_from("<I", data, pos + 8)[0]
        index += 1
    frame = S1G_BEACON + bytes(4)  # ns-3 ends every frame with four zero octets for the FCS
    data += last + struct.pack("<II", len(frame), len(frame)) + frame
    pcap = tmp_path / "with-s1g-beacon.pcap"
    pcap.write_bytes(bytes(data))
    result = CliRunner().invoke(cli, ["replay", str(pcap), "--node", "00:00:00:00:00:03", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["skipped_frames"] == [{"frame": index, "reason": "extension frame (type 3): no MAC header, "
                                      "not a mesh frame"}]
    assert out["data_frames_checked"] > 0 and out["next_hop_mismatches"] == []
    for name, sides in out["comparisons"].items():
        assert sides["captured"] == sides["ours"], name


def _with_record_seconds(source: Path, index: int, seconds: int) -> bytes:
    """The classic pcap `source` with the seconds field of record `index`
    set to `seconds`."""
    import struct

    data = bytearray(source.read_bytes())
    pos = 24
    for _ in range(index):
        pos += 16 + struct.unpack_from("<I", data, pos + 8)[0]
    struct.pack_into("<I", data, pos, seconds)
    return bytes(data)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("seconds", [86_400, 0xFFFFFFF0], ids=["a-day-ahead", "0xfffffff0"])
def test_a_jump_in_the_capture_clock_is_skipped_in_bounded_work_and_reported(tmp_path, seconds):
    """One record stamped a day ahead (or at 0xFFFFFFF0) used to make the
    replay step every beacon across the gap and keep each one sent: 9 s
    and 142 MB for a day, never ending for 0xFFFFFFF0. Now the gap is
    played as the node's idle limit, the record after it (back in time)
    at the node's own time, and both jumps are named in the JSON."""
    import time

    from meshframes.mesh.constants import MeshConfig
    from meshframes.sim.replay import JumpKind, idle_limit, replay

    source = SHARED / "pcaps/ns3/hwmp-reactive-regression-test-2-1.pcap"
    pcap = tmp_path / "jump.pcap"
    pcap.write_bytes(_with_record_seconds(source, 50, seconds))
    started = time.monotonic()
    result = replay(pcap, bytes.fromhex("000000000003"))
    assert time.monotonic() - started < 5
    forward, backward = result.clock_jumps
    assert (forward.frame, forward.kind, int(forward.after)) == (50, JumpKind.FORWARD, seconds)
    assert forward.played == idle_limit(MeshConfig())
    assert (backward.frame, backward.kind, backward.before, backward.played) == (51, JumpKind.BACKWARD,
                                                                                 forward.after, 0.0)

    out = CliRunner().invoke(cli, ["replay", str(pcap), "--node", "00:00:00:00:00:03", "--json"],
                             catch_exceptions=False)
    assert out.exit_code == 0, out.output
    jumps = json.loads(out.stdout)["clock_jumps"]
    assert [(j["frame"], j["kind"]) for j in jumps] == [(50, "forward"), (51, "backward")]
    table = CliRunner().invoke(cli, ["replay", str(pcap), "--node", "00:00:00:00:00:03"])
    assert table.exit_code == 0 and "the capture's clock jumps forward at frame 50" in table.stdout


def test_a_capture_without_jumps_reports_none():
    """The ns-3 captures' clocks run evenly: no jump is reported."""
    from meshframes.sim.replay import replay

    result = replay(SHARED / "pcaps/ns3/hwmp-reactive-regression-test-2-1.pcap", bytes.fromhex("000000000003"))
    assert result.clock_jumps == []

"""`meshframes analyze` and `meshframes inject` from the command line."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshframes.cli import cli
from meshframes.hosts.pcap import CaptureError, read_capture

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "pcaps"
NS3 = SHARED / "ns3" / "hwmp-reactive-regression-test-2-1.pcap"
LINUX = SHARED / "linux" / "linux-open-2node.pcap"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_json_has_the_keys_scripts_rely_on():
    code, out, _ = run("analyze", "--json", str(NS3))
    assert code == 0
    data = json.loads(out)
    assert {"frames", "by_kind", "undecoded", "malformed", "hwmp"} <= set(data)
    assert data["frames"] == 217 and data["undecoded"] == 0 and data["malformed"] == []
    assert data["by_kind"]["perr"] == 3
    perr = [h for h in data["hwmp"] if h["element"] == "PERR"]
    assert perr[0]["destinations"][0]["destination_address"] == "00:00:00:00:00:04"


def test_table_output_names_kinds_and_hwmp():
    code, out, _ = run("analyze", str(LINUX))
    assert code == 0
    assert "peering-open" in out and "PREQ" in out and "58 frames" in out


def _record_offsets(path: Path) -> list[int]:
    data = path.read_bytes()
    offsets, pos = [], 24
    while pos < len(data):
        offsets.append(pos)
        pos += 16 + struct.unpack_from("<I", data, pos + 8)[0]
    return offsets


@pytest.mark.parametrize("where", ["record-header", "record-body"])
def test_truncated_pcap_reports_everything_before_the_damage(tmp_path, where):
    offsets = _record_offsets(NS3)
    cut = offsets[100] + (7 if where == "record-header" else 20)
    damaged = tmp_path / "truncated.pcap"
    damaged.write_bytes(NS3.read_bytes()[:cut])
    code, out, err = run("analyze", "--json", str(damaged))
    assert code == 1
    data = json.loads(out)
    assert data["frames"] == 100
    assert data["capture_error"].startswith("frame 100: ")
    assert "frame 100" in err and str(damaged) in err
    assert data["malformed"] == [] and data["undecoded"] == 0


def test_corrupt_record_length_is_named(tmp_path):
    data = bytearray(NS3.read_bytes())
    offset = _record_offsets(NS3)[5]
    struct.pack_into("<I", data, offset + 8, 0xFFFFFFF0)
    damaged = tmp_path / "corrupt.pcap"
    damaged.write_bytes(bytes(data))
    code, out, err = run("analyze", str(damaged))
    assert code == 1
    assert "frame 5: record length 4294967280 exceeds 262144" in err
    assert "5 frames" in out


def test_frame_cut_by_snaplen_is_malformed_with_reason(tmp_path):
    data = bytearray(NS3.read_bytes())
    offset = _record_offsets(NS3)[0]
    incl = struct.unpack_from("<I", data, offset + 8)[0]
    struct.pack_into("<I", data, offset + 12, incl + 50)
    damaged = tmp_path / "snapped.pcap"
    damaged.write_bytes(bytes(data))
    code, out, _ = run("analyze", "--json", str(damaged))
    assert code == 0
    malformed = json.loads(out)["malformed"]
    assert malformed[0]["frame"] == 0 and "snap length" in malformed[0]["reason"]


def test_not_a_capture(tmp_path):
    bogus = tmp_path / "bogus.pcap"
    bogus.write_bytes(b"hello world, not a capture")
    code, _, err = run("analyze", str(bogus))
    assert code == 1 and "not a pcap or pcapng file" in err


def test_unsupported_linktype(tmp_path):
    data = bytearray(NS3.read_bytes())
    struct.pack_into("<I", data, 20, 1)  # Ethernet
    other = tmp_path / "ether.pcap"
    other.write_bytes(bytes(data))
    with pytest.raises(CaptureError, match="link type 1 is not supported"):
        list(read_capture(other))


@pytest.mark.tshark
def test_pcapng_written_by_editcap_reads_the_same(tmp_path):
    editcap = shutil.which("editcap")
    assert editcap, "editcap (Debian wireshark-common, a tshark dependency) is missing: run tools/bootstrap"
    converted = tmp_path / "linux.pcapng"
    subprocess.run([editcap, "-F", "pcapng", str(LINUX), str(converted)], check=True)
    classic = [(f.linktype, f.data) for f in read_capture(LINUX)]
    ng = [(f.linktype, f.data) for f in read_capture(converted)]
    assert ng == classic
    stamps = [round(f.timestamp, 6) for f in read_capture(LINUX)]
    assert [round(f.timestamp, 6) for f in read_capture(converted)] == stamps
    code, out, _ = run("analyze", "--json", str(converted))
    assert code == 0 and json.loads(out)["by_kind"]["beacon"] == 26


def test_truncated_pcapng_keeps_earlier_frames(tmp_path):
    editcap = shutil.which("editcap")
    assert editcap, "editcap is missing: run tools/bootstrap"
    converted = tmp_path / "linux.pcapng"
    subprocess.run([editcap, "-F", "pcapng", str(LINUX), str(converted)], check=True)
    damaged = tmp_path / "cut.pcapng"
    damaged.write_bytes(converted.read_bytes()[:-30])
    code, out, err = run("analyze", "--json", str(damaged))
    assert code == 1
    assert json.loads(out)["frames"] == 57 and "frame 57" in err


def test_inject_writes_radiotap_frames_that_decode(tmp_path):
    out = tmp_path / "perr.pcap"
    code, _, err = run("inject", "perr", "--ae", "--count", "3", "--reason", "62", "--repeat", "4",
                       "--pcap", str(out))
    assert code == 0, err
    code, text, _ = run("analyze", "--json", str(out))
    data = json.loads(text)
    assert data["by_kind"] == {"perr": 4}
    assert [d["reason_code"] for d in data["hwmp"][0]["destinations"]] == [62, 62, 62]
    assert [h["destinations"][0]["hwmp_sn"] for h in data["hwmp"]] == [1, 2, 3, 4]


def test_inject_set_reaches_any_field(tmp_path):
    out = tmp_path / "preq.pcap"
    code, _, err = run("inject", "preq", "--set", "hop_count=7", "--set", "path_discovery_id=0x99",
                       "--pcap", str(out))
    assert code == 0, err
    hwmp = json.loads(run("analyze", "--json", str(out))[1])["hwmp"][0]
    assert (hwmp["hop_count"], hwmp["path_discovery_id"]) == (7, 0x99)


def test_inject_needs_exactly_one_destination():
    code, _, err = run("inject", "beacon")
    assert code == 2 and "exactly one of --iface" in err
    code, _, err = run("inject", "beacon", "--set", "nonsense=1", "--pcap", "/dev/null")
    assert code == 2 and "no layer of a beacon frame has a field 'nonsense'" in err


def _block(block_type: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    total = 12 + len(body)
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


def _pcapng(*blocks: bytes) -> bytes:
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    return shb + b"".join(blocks)


def _idb(linktype: int) -> bytes:
    return _block(1, struct.pack("<HHI", linktype, 0, 65535))


def _epb(interface: int, data: bytes) -> bytes:
    return _block(6, struct.pack("<IIIII", interface, 0, 0, len(data), len(data)) + data)


def _linux_mpdus() -> list[bytes]:
    from meshframes.hosts.pcap import mpdus

    return [m for _, m, _ in mpdus(LINUX)]


@pytest.mark.parametrize("block_type, body, needs", [(1, b"\x69\x00", 8), (6, b"\x00" * 16, 20), (3, b"", 4)])
def test_short_pcapng_blocks_are_named_and_earlier_frames_kept(tmp_path, block_type, body, needs):
    """A pcapng block too short for its fixed fields ends the capture with
    its index and sizes named; the frames before it are still reported."""
    frames = _linux_mpdus()[:2]
    damaged = tmp_path / "short.pcapng"
    damaged.write_bytes(_pcapng(_idb(105), *(_epb(0, f) for f in frames), _block(block_type, body)))
    code, out, err = run("analyze", "--json", str(damaged))
    data = json.loads(out)
    assert code == 1 and data["frames"] == 2 and data["malformed"] == []
    assert f"needs {needs}" in data["capture_error"] and "frame 2" in err


def test_pcapng_frames_of_other_link_types_are_skipped_and_counted(tmp_path):
    """An Ethernet interface beside an 802.11 one: its packets are counted
    as skipped, the 802.11 frames decode."""
    frames = _linux_mpdus()[:3]
    mixed = tmp_path / "mixed.pcapng"
    mixed.write_bytes(_pcapng(_idb(1), _idb(105), _epb(0, b"\xff" * 6 + b"\x02" * 6 + b"\x08\x00" + b"x" * 46),
                              *(_epb(1, f) for f in frames)))
    code, out, _ = run("analyze", "--json", str(mixed))
    data = json.loads(out)
    assert code == 0 and data["frames"] == 3 and data["skipped_other_linktypes"] == 1
    assert data["by_kind"] == {"beacon": 3} and data["malformed"] == []


def test_one_bad_fcs_is_reported_without_turning_the_file_around(tmp_path):
    """ns-3's zero FCS on every frame but one: the file still carries an
    FCS, and the one frame whose FCS is neither zero nor right is named."""
    data = bytearray(NS3.read_bytes())
    offsets = _record_offsets(NS3)
    record = offsets[10]
    length = struct.unpack_from("<I", data, record + 8)[0]
    data[record + 16 + length - 1] ^= 0x5A
    damaged = tmp_path / "one-bad-fcs.pcap"
    damaged.write_bytes(bytes(data))
    code, out, _ = run("analyze", "--json", str(damaged))
    result = json.loads(out)
    assert code == 0 and result["fcs"] == "present"
    assert [(m["frame"], m["reason"].split(":")[0]) for m in result["malformed"]] == [(10, "bad FCS")]


def test_pcap_link_type_fcs_bits_are_honoured(tmp_path):
    """pcap's LINKTYPE_FCS bits (26: present, 28-31: length in 16-bit
    words) say a real FCS follows each frame: it is checked, not guessed."""
    from meshframes.hosts.pcap import fcs

    frames = _linux_mpdus()[:4]
    body = b"".join(struct.pack("<IIII", 0, 0, len(f) + 4, len(f) + 4) + f + fcs(f) for f in frames)
    network = 105 | (1 << 26) | (2 << 28)
    path = tmp_path / "fcs-bits.pcap"
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, network) + body)
    code, out, _ = run("analyze", "--json", str(path))
    result = json.loads(out)
    assert code == 0 and result["fcs"] == "file" and result["malformed"] == [] and result["frames"] == 4


def test_radiotap_datapad_and_bad_fcs_flags(tmp_path):
    """Radiotap's DATAPAD flag: the padding after a 26-octet MAC header is
    taken out before decoding, so the Mesh Control behind it reads right.
    Its bad-FCS flag: the frame is reported malformed."""
    from meshframes.hosts.pcap import LINKTYPE_IEEE802_11_RADIOTAP, write_pcap
    from meshframes.layers import MeshControl
    from meshframes.layers.build import FrameOptions, build
    from meshframes.layers.dissect import analyze

    def radiotap_with(flags: int) -> bytes:
        return struct.pack("<BBHIB", 0, 0, 9, 0x02, flags)

    # Group-addressed mesh data as the standard has it (9.3.5): From DS
    # only, three addresses, QoS Control: a 26-octet header.
    group = (struct.pack("<BBH", 0x88, 0x02, 0) + b"\xff" * 6 + b"\x02\x00\x00\x00\x01\x00" * 2
             + struct.pack("<HH", 0x10, 0x0100) + struct.pack("<BBI", 0, 17, 99)
             + bytes.fromhex("aaaa0300000088b5") + b"hello")
    frames = [
        radiotap_with(0x20) + group[:26] + b"\x00\x00" + group[26:],
        radiotap_with(0x40) + bytes(build("beacon", FrameOptions())),
    ]
    path = tmp_path / "flags.pcap"
    write_pcap(path, ((i * 0.1, f) for i, f in enumerate(frames)), LINKTYPE_IEEE802_11_RADIOTAP)
    result, decodes = analyze(path)
    assert decodes[0].kind == "mesh-data" and decodes[0].malformed is None
    control = decodes[0].packet[MeshControl]
    assert (control.mesh_ttl, control.mesh_sequence_number) == (17, 99)
    assert [(m["frame"], m["reason"]) for m in result.malformed] == [
        (1, "radiotap says the frame failed its FCS check")]


def test_empty_mpdus_are_malformed_with_the_capture_s_reason(tmp_path):
    """An MPDU left empty (radiotap promises an FCS the frame cannot hold;
    a zero-length raw record) is malformed, and the reason says why."""
    from meshframes.hosts.pcap import LINKTYPE_IEEE802_11, LINKTYPE_IEEE802_11_RADIOTAP, write_pcap

    fcs_flag = struct.pack("<BBHIB", 0, 0, 9, 0x02, 0x10)
    radiotap = tmp_path / "short.pcap"
    write_pcap(radiotap, [(0.0, fcs_flag + b"\x80\x00\x00"), (0.1, fcs_flag)], LINKTYPE_IEEE802_11_RADIOTAP)
    code, out, _ = run("analyze", "--json", str(radiotap))
    reasons = [m["reason"] for m in json.loads(out)["malformed"]]
    assert code == 0 and len(reasons) == 2
    assert reasons[0].startswith("frame of 3 octets cannot hold an FCS")
    assert reasons[1].startswith("frame of 0 octets cannot hold an FCS")
    raw = tmp_path / "empty.pcap"
    write_pcap(raw, [(0.0, b"")], LINKTYPE_IEEE802_11)
    data = json.loads(run("analyze", "--json", "--fcs", "no", str(raw))[1])
    assert data["by_kind"] == {"other": 1} and data["malformed"][0]["reason"].endswith("has no Frame Control")


def test_fcs_option_is_for_raw_802_11_only(tmp_path):
    """--fcs no leaves radiotap's own FCS flag in force: the FCS is still
    checked and taken off (before, its 4 octets were read as an element)."""
    from meshframes.hosts.pcap import LINKTYPE_IEEE802_11_RADIOTAP, fcs, write_pcap
    from meshframes.layers.build import build

    beacon = bytes(build("beacon"))
    path = tmp_path / "fcs.pcap"
    write_pcap(path, [(0.0, struct.pack("<BBHIB", 0, 0, 9, 0x02, 0x10) + beacon + fcs(beacon))],
               LINKTYPE_IEEE802_11_RADIOTAP)
    for option in ("no", "yes", "auto"):
        data = json.loads(run("analyze", "--json", "--fcs", option, str(path))[1])
        assert (data["by_kind"], data["malformed"], data["fcs"]) == ({"beacon": 1}, [], "radiotap"), option


@pytest.mark.parametrize("args, says", [
    (["preq", "--src", "zz"], "'zz' is not a MAC address"),
    (["preq", "--dst", "02:00:00:00:00"], "'02:00:00:00:00' is not a MAC address"),
    (["preq", "--originator", "02-00-00-00-00-01"], "is not a MAC address"),
    (["mesh-data", "--target", "02:00:00:00:00:0g"], "is not a MAC address"),
    (["preq", "--set", "hop_count=hex:zz"], "'hex:zz': hex: takes pairs of hex digits"),
    (["preq", "--count", "0"], "0 is not in the range x>=1"),
    (["preq", "--count", "21"], "a PREQ names 1 to 20 targets"),
    (["perr", "--count", "20"], "a PERR names 1 to 19 destinations"),
    (["perr", "--ae", "--count", "14"], "a PERR with external addresses names 1 to 13 destinations"),
    (["beacon", "--mesh-id", "m" * 33], "33 octets; a Mesh ID has at most 32"),
])
def test_inject_refuses_bad_options_as_usage_errors(tmp_path, args, says):
    """Bad options end in a usage error (exit 2) that names the limit, never
    in a traceback, and write nothing."""
    out = tmp_path / "never.pcap"
    result = CliRunner().invoke(cli, ["inject", *args, "--pcap", str(out)])
    assert result.exit_code == 2, result.output
    assert says in result.stderr and "Traceback" not in result.output
    assert not out.exists()


def test_inject_takes_the_limits_themselves(tmp_path):
    for args in (["preq", "--count", "20"], ["perr", "--count", "19"], ["perr", "--ae", "--count", "13"],
                 ["beacon", "--mesh-id", "m" * 32]):
        out = tmp_path / "ok.pcap"
        code, _, err = run("inject", *args, "--pcap", str(out))
        assert code == 0, (args, err)
        assert json.loads(run("analyze", "--json", str(out))[1])["malformed"] == []


def test_radiotap_fcs_of_zeros_is_not_computed_not_bad(tmp_path):
    """ns-3 with radiotap sets "FCS at end" and writes four zero octets it
    never computed (as it does with raw 802.11): not a bad FCS. Any other
    wrong FCS still is."""
    from meshframes.hosts.pcap import LINKTYPE_IEEE802_11_RADIOTAP, fcs, write_pcap
    from meshframes.layers.build import build

    beacon = bytes(build("beacon"))
    header = struct.pack("<BBHIB", 0, 0, 9, 0x02, 0x10)
    wrong = bytes(b ^ 0xFF for b in fcs(beacon))
    path = tmp_path / "zero-fcs.pcap"
    write_pcap(path, [(0.0, header + beacon + bytes(4)), (0.1, header + beacon + wrong)],
               LINKTYPE_IEEE802_11_RADIOTAP)
    data = json.loads(run("analyze", "--json", str(path))[1])
    assert data["by_kind"] == {"beacon": 2}
    assert [(m["frame"], m["reason"].split(":")[0]) for m in data["malformed"]] == [(1, "bad FCS")]

"""`meshframes doctor` on captures made for it (pcaps/linux-kernel-trouble.pcap,
pcaps/linux-kernel-sae-mismatch.pcap: their recipes are in pcaps/README.md)
and on the other captures we have. Each link's cause is what its recipe set
up; the frames each finding quotes are checked against tshark's reading of
the same capture, not against our decoder."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from meshframes.analysis.doctor import Cause, Doctor, LinkFinding
from meshframes.cli import cli
from meshframes.cli.doctor import diagnose
from meshframes.hosts import tshark
from meshframes.hosts.analyze import analyze_captures
from meshframes.hosts.captures import merged_mpdus
from meshframes.layers.dissect import decode_mpdu

PCAPS = Path(__file__).resolve().parents[2] / "pcaps"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "pcaps"
TROUBLE = PCAPS / "linux-kernel-trouble.pcap"
SAE_MISMATCH = PCAPS / "linux-kernel-sae-mismatch.pcap"
CHAIN_PERR = PCAPS / "linux-kernel-chain-perr.pcap"
N = [f"02:00:00:00:0{i}:00" for i in range(6)]


def findings(path: Path) -> dict[tuple[str, str], LinkFinding]:
    diagnosis, _, damage = diagnose([path])
    assert damage == []
    return {(f.a, f.b): f for f in diagnosis.links}


def tshark_frames(path: Path) -> dict[int, dict[str, list[str]]]:
    names = ["frame.number", "wlan.ta", "wlan.ra", "wlan.fc.type_subtype", "wlan.fixed.category_code",
             "wlan.fixed.selfprot_action", "wlan.fixed.reason_code", "wlan.mesh.id", "wlan.fixed.auth.alg",
             "wlan.fixed.auth_seq"]
    return {int(f["frame.number"][0]): f for f in tshark.fields(path, names)}


def _mesh_id(frame: dict[str, list[str]]) -> str:
    # tshark gives the Mesh ID as text or as hex octets, depending on version.
    value = frame["wlan.mesh.id"][0]
    try:
        return bytes.fromhex(value.replace(":", "")).decode()
    except ValueError:
        return value


@pytest.mark.tshark
def test_trouble_recording_names_each_links_cause() -> None:
    """The recipe: n0 - n1 peer and carry data; n2 is in another MBSS; n0
    and n1 block n3, whose Opens go unanswered; n1 and n4 block each other;
    n4 peers with n0 and n3, carries no data, then leaves (Close)."""
    found = findings(TROUBLE)
    causes = {pair: f.cause for pair, f in found.items()}
    assert causes == {
        (N[0], N[1]): Cause.OK,
        (N[0], N[2]): Cause.MESH_ID_MISMATCH, (N[1], N[2]): Cause.MESH_ID_MISMATCH,
        (N[2], N[3]): Cause.MESH_ID_MISMATCH, (N[2], N[4]): Cause.MESH_ID_MISMATCH,
        (N[0], N[3]): Cause.OPENS_IGNORED, (N[1], N[3]): Cause.OPENS_IGNORED,
        (N[1], N[4]): Cause.NEITHER_OPENED,
        (N[0], N[4]): Cause.PEER_LEFT, (N[3], N[4]): Cause.PEER_LEFT,
    }
    assert "no data while established" in found[(N[0], N[4])].detail


@pytest.mark.tshark
def test_trouble_findings_quote_the_frames_tshark_shows() -> None:
    frames = tshark_frames(TROUBLE)
    found = findings(TROUBLE)
    for pair in ((N[0], N[3]), (N[1], N[3])):
        quoted = found[pair].frames
        assert quoted
        for number in quoted:
            frame = frames[number]
            # Opens from n3 to the station that blocks it, or n3's Close after its retries.
            assert frame["wlan.ta"] == [N[3]] and frame["wlan.ra"] == [pair[0]]
            assert frame["wlan.fixed.selfprot_action"][0] in ("0x01", "0x03", "1", "3")
        opens = [n for n, f in frames.items() if f["wlan.ta"] == [N[3]] and f["wlan.ra"] == [pair[0]]
                 and f["wlan.fixed.selfprot_action"][:1] in (["0x01"], ["1"])]
        answers = [n for n, f in frames.items() if f["wlan.ta"] == [pair[0]] and f["wlan.ra"] == [N[3]]
                   and f["wlan.fixed.selfprot_action"]]
        assert answers == []
        assert f"sent {len(opens)} Opens" in found[pair].detail
    for pair in ((N[0], N[2]), (N[1], N[2])):
        ids = {_mesh_id(frames[n]) for n in found[pair].frames}
        assert ids == {"meshframes", "othermesh"}
    left = found[(N[0], N[4])].frames[-1]
    assert frames[left]["wlan.ta"] == [N[4]] and frames[left]["wlan.ra"] == [N[0]]
    assert int(frames[left]["wlan.fixed.reason_code"][0], 0) == 52


@pytest.mark.tshark
def test_wrong_sae_password_is_named() -> None:
    """n0 and n1 share the password and peer; n2 has another: its SAE
    exchanges with both end without a peering frame, which tshark shows
    too."""
    found = findings(SAE_MISMATCH)
    assert found[(N[0], N[2])].cause is Cause.SAE_CONFIRM_FAILED
    assert found[(N[1], N[2])].cause is Cause.SAE_CONFIRM_FAILED
    assert found[(N[0], N[1])].established
    frames = tshark_frames(SAE_MISMATCH)
    for pair in ((N[0], N[2]), (N[1], N[2])):
        between = [f for f in frames.values() if {*f["wlan.ta"], *f["wlan.ra"]} == set(pair)]
        assert any(f["wlan.fixed.auth_seq"][:1] in (["0x0002"], ["2"]) for f in between)
        assert not [f for f in between if f["wlan.fixed.selfprot_action"]]
        for number in found[pair].frames:
            assert frames[number]["wlan.fixed.auth.alg"][0] in ("3", "0x0003")


@pytest.mark.tshark
def test_a_vanished_peer_and_an_unanswered_discovery() -> None:
    """pcaps/linux-kernel-chain-perr.pcap: n2 leaves the medium silently
    while n1 keeps forwarding to it, and n0's rediscovery PREQs for n2 at
    the end are never answered (the PREQs are counted by tshark)."""
    diagnosis, _, _ = diagnose([CHAIN_PERR])
    found = {(f.a, f.b): f for f in diagnosis.links}
    assert found[(N[1], N[2])].cause is Cause.PEER_SILENT
    assert found[(N[0], N[1])].cause is Cause.OK
    assert [(p.originator, p.target) for p in diagnosis.paths] == [(N[0], N[2])]
    rows = tshark.fields(CHAIN_PERR, ["frame.number", "wlan.tag.number", "wlan.hwmp.targ_sta", "wlan.hwmp.orig_sta"])
    # Element 130 is the PREQ; n0's for n2:
    preqs = [int(r["frame.number"][0]) for r in rows if "130" in r["wlan.tag.number"]
             and r["wlan.hwmp.targ_sta"] == [N[2]] and r["wlan.hwmp.orig_sta"] == [N[0]]]
    assert set(diagnosis.paths[0].preqs) <= set(preqs)
    assert max(diagnosis.paths[0].preqs) == max(preqs)


@pytest.mark.parametrize("path", sorted(PCAPS.glob("*.pcap")) + sorted(SHARED.rglob("*.pcap")),
                         ids=lambda p: p.name)
def test_every_capture_we_have_gets_a_diagnosis(path: Path) -> None:
    """No capture we have crashes the doctor; every finding quotes frames
    that exist, and each ESTAB reading is one the capture holds."""
    diagnosis, where, _ = diagnose([path])
    assert diagnosis.undecodable == 0
    for finding in diagnosis.links:
        assert finding.frames and all(0 < n <= len(where) for n in finding.frames)
        assert finding.established == (finding.cause in (Cause.OK, Cause.ESTAB_NO_DATA, Cause.PEER_LEFT,
                                                          Cause.PEER_SILENT))


def test_ns3_peering_regression_is_healthy() -> None:
    """ns-3's two-node peering test: Open and Confirm each way, a link."""
    path = SHARED / "ns3" / "pmp-regression-test-0-1.pcap"
    diagnosis, _, _ = diagnose([path])
    assert [f.established for f in diagnosis.links] == [True]


def test_cli_json_and_damaged_files(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["doctor", "--json", str(SAE_MISMATCH)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert {link["cause"] for link in out["links"]} >= {"sae-confirm-failed"}
    assert out["frames"] == 230
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(TROUBLE.read_bytes()[:20_000])
    result = runner.invoke(cli, ["doctor", str(cut)])
    assert result.exit_code == 1
    assert "cut.pcap" in result.output
    notpcap = tmp_path / "notes.txt"
    notpcap.write_text("hello, mesh\n")
    result = runner.invoke(cli, ["doctor", str(notpcap)])
    assert result.exit_code == 1 and "not a pcap" in result.output
    assert runner.invoke(cli, ["doctor", str(tmp_path / "missing.pcap")]).exit_code == 2
    assert runner.invoke(cli, ["doctor"]).exit_code == 2


def test_the_same_frames_in_two_captures_count_once() -> None:
    once, _, _ = diagnose([TROUBLE])
    twice, where, _ = diagnose([TROUBLE, TROUBLE])
    assert twice.links == once.links
    assert {capture for capture, _ in where} == {0}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=40))
def test_any_bytes_are_counted_never_raised(mpdus: list[bytes]) -> None:
    doctor = Doctor()
    for number, mpdu in enumerate(mpdus, 1):
        doctor.add(number, mpdu, number * 0.01)
    diagnosis = doctor.diagnosis()
    assert diagnosis.frames == len(mpdus)


def test_state_grows_with_stations_not_frames() -> None:
    """A flood of Opens between the same two stations keeps one link."""
    frames = [bytes(a) for a in _opens(5000)]
    doctor = Doctor()
    for number, mpdu in enumerate(frames, 1):
        doctor.add(number, mpdu, number * 0.01)
    diagnosis = doctor.diagnosis()
    assert len(diagnosis.links) == 1
    assert diagnosis.links[0].cause is Cause.OPENS_IGNORED
    assert len(diagnosis.links[0].frames) <= 6


def _peering(src: int, dst: int, action: int, local: int = 1, peer: int = 1) -> bytes:
    """A Mesh Peering Open (1), Confirm (2) or Close (3, reason 52) from
    02:..:src to 02:..:dst with Local and Peer Link IDs `local` and `peer`,
    laid out as 9.6.15.2-4 give them."""
    a1, a2 = bytes([2, 0, 0, 0, 0, dst]), bytes([2, 0, 0, 0, 0, src])
    header = struct.pack("<HH", 0x00D0, 0) + a1 + a2 + a2 + b"\x00\x00"
    profile = bytes([114, 4]) + b"mesh" + bytes([113, 7, 1, 1, 0, 1, 0, 0, 1])
    ids = struct.pack("<HH", local, peer)
    if action == 1:
        body = b"\x00\x00" + profile + bytes([117, 4, 0, 0]) + ids[:2]
    elif action == 2:
        body = b"\x00\x00" + b"\x01\x00" + profile + bytes([117, 6, 0, 0]) + ids
    else:
        body = bytes([114, 4]) + b"mesh" + bytes([117, 8, 0, 0]) + ids + bytes([52, 0])
    return header + bytes([15, action]) + body


def _diagnose(frames: list[bytes]) -> Doctor:
    doctor = Doctor()
    for number, mpdu in enumerate(frames, 1):
        doctor.add(number, mpdu, number * 0.01)
    return doctor


def test_a_link_closed_and_peered_again_is_judged_on_its_last_session() -> None:
    frames = [_peering(1, 2, 1), _peering(2, 1, 1), _peering(1, 2, 2), _peering(2, 1, 2),
              _peering(2, 1, 3),
              _peering(1, 2, 1), _peering(2, 1, 1), _peering(1, 2, 2), _peering(2, 1, 2)]
    (finding,) = _diagnose(frames).diagnosis().links
    assert finding.cause is Cause.ESTAB_NO_DATA and finding.established
    assert "again, after 1 session closed since frame 4" in finding.detail
    assert finding.frames == (9,)
    (finding,) = _diagnose(frames[:5]).diagnosis().links
    assert finding.cause is Cause.PEER_LEFT and "reason 52" in finding.detail
    assert finding.frames == (4, 5)
    # Closed again, by the other side: the finding is the last session's
    # ESTAB and Close, not the first's.
    (finding,) = _diagnose([*frames, _peering(1, 2, 3)]).diagnosis().links
    assert finding.cause is Cause.PEER_LEFT and finding.frames == (9, 10)
    assert finding.detail.startswith("established at frame 9 (again, after 1 session closed since frame 4), "
                                     "then 02:00:00:00:00:01 closed")


def test_a_confirm_for_a_replaced_link_id_establishes_nothing() -> None:
    """Station 1 opens with link ID 16 and, answered by 2's Confirm for 16,
    opens again with 17 (a restart): 2's Confirm no longer answers the
    link ID 1 uses, so 1 ignores it (14.3.6.2; mac80211's CNF_IGNR) and
    the link is not ESTAB though each side sent an Open and a Confirm.
    ESTAB comes with 2's Confirm for 17."""
    frames = [_peering(1, 2, 1, local=16), _peering(2, 1, 1, local=32), _peering(2, 1, 2, local=32, peer=16),
              _peering(1, 2, 1, local=17), _peering(1, 2, 2, local=17, peer=32)]
    doctor = _diagnose(frames)
    (session,) = doctor.peering.sessions(("02:00:00:00:00:01", "02:00:00:00:00:02"))
    assert session.confirms == {"02:00:00:00:00:01", "02:00:00:00:00:02"} and session.established is None
    (finding,) = doctor.diagnosis().links
    assert finding.cause is Cause.NOT_CONFIRMED and not finding.established
    assert "02:00:00:00:00:02's Confirm answered link ID 16, 02:00:00:00:00:01 uses 17" in finding.detail
    assert finding.frames == (1, 3, 5)
    doctor = _diagnose([*frames, _peering(2, 1, 2, local=32, peer=17)])
    (session,) = doctor.peering.sessions(("02:00:00:00:00:01", "02:00:00:00:00:02"))
    assert session.established_frame == 6 and session.established == 0.06
    (finding,) = doctor.diagnosis().links
    assert finding.established and finding.frames == (6,)


@pytest.mark.parametrize("path", sorted(PCAPS.glob("*.pcap")) + sorted(SHARED.rglob("*.pcap")),
                         ids=lambda p: p.name)
def test_the_doctor_and_analyze_read_one_peering_record(path: Path) -> None:
    """The links the doctor calls established are those analyze's peering
    sections show an ESTAB on, at the same instants: one record of it."""
    diagnosis, _, _ = diagnose([path])
    sections = analyze_captures([path], decode_mpdu).sections()["peering_sessions"]
    assert {(f.a, f.b) for f in diagnosis.links if f.established} == {
        tuple(link["link"]) for link in sections["links"] if link["established"]}
    frames, _ = merged_mpdus([path])
    for finding in diagnosis.links:
        if finding.established:
            instants = [s["established"] for s in sections["sessions"]
                        if tuple(s["link"]) == (finding.a, finding.b) and s["established"] is not None]
            said = re.match(r"established at frame (\d+)", finding.detail)
            assert said is not None and frames[int(said[1]) - 1][2] == instants[-1]


def _opens(count: int) -> list[bytes]:
    """Mesh Peering Opens from 02:..:0a to 02:..:0b (9.6.15.2): category
    15, action 1, capability, Mesh ID and Mesh Configuration elements,
    a peering element (MPM, local link id)."""
    header = struct.pack("<HH", 0x00D0, 0) + bytes.fromhex("02000000000b" "02000000000a" "02000000000a")
    body = bytes([15, 1]) + b"\x00\x00" + bytes([114, 4]) + b"mesh" + bytes([113, 7, 1, 1, 0, 1, 0, 0, 1]) \
        + bytes([117, 4, 0, 0, 1, 0])
    return [header + struct.pack("<H", (n % 4096) << 4) + body for n in range(count)]

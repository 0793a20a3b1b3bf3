"""Linux's secure mesh decrypted: pcaps/linux-kernel-sae.pcap with the keys
its three wpa_supplicant mesh points logged (-d -K; the key lines are kept
beside it as linux-kernel-sae.wpa-n*.log, imported into
linux-kernel-sae.keys.json).

`analyze --keys` must give the plaintext tshark gives with the same keys,
frame by frame, leave nothing encrypted or undecoded (ADDBA and Block Ack
action frames included, field by field as tshark reads them), and count
what wrong or missing keys cannot open, by reason."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshframes.cli import cli
from meshframes.codec import BlockAckAction, DataFrame, decode
from meshframes.codec.blockack import (
    BA_PARAM_AMSDU,
    BA_PARAM_POLICY,
    SSC_FRAGMENT_MASK,
    AddbaRequest,
    AddbaResponse,
    ba_buffer_size,
)
from meshframes.codec.mpdu import is_protected
from meshframes.hosts import tshark
from meshframes.hosts.pcap import mpdus
from meshframes.layers import ADDBARequest, ADDBAResponse
from meshframes.layers.dissect import analyze
from meshframes.seal import ccmp
from meshframes.seal.capture import CaptureOpener
from meshframes.seal.errors import SealReason
from meshframes.seal.keyfile import CaptureKeys, LinkKey, TransmitterKey, loads
from meshframes.seal.wpalog import import_wpa_log

PCAPS = Path(__file__).resolve().parents[2] / "pcaps"
CAPTURE = PCAPS / "linux-kernel-sae.pcap"
KEY_FILE = PCAPS / "linux-kernel-sae.keys.json"
LOGS = sorted(PCAPS.glob("linux-kernel-sae.wpa-n*.log"))


def keys() -> CaptureKeys:
    return loads(KEY_FILE.read_text())


def frames() -> list[bytes]:
    return [mpdu for _, mpdu, _ in mpdus(CAPTURE)]


def test_the_key_file_is_what_the_wpa_supplicant_logs_give() -> None:
    """The committed key file is exactly the import of the three logs."""
    assert len(LOGS) == 3
    imported = CaptureKeys()
    for log in LOGS:
        imported = imported.merged(import_wpa_log(log.read_text()))
    assert imported == keys()
    assert KEY_FILE.read_text() == imported.dumps()


def test_every_protected_frame_decrypts_and_decodes() -> None:
    """With the keys, nothing stays encrypted, undecoded or malformed, and
    every protected frame (data, HWMP, Block Ack) counts as decrypted."""
    opener = CaptureOpener(keys())
    result, _ = analyze(CAPTURE, unseal=opener)
    protected = sum(1 for f in frames() if is_protected(f))
    assert protected > 20
    assert (opener.decrypted, dict(opener.undecryptable)) == (protected, {})
    assert (result.encrypted, result.undecoded, result.malformed) == (0, [], [])
    plain, _ = analyze(CAPTURE)
    assert plain.encrypted == protected


@pytest.mark.tshark
def test_plaintext_equals_tshark_s_frame_by_frame() -> None:
    """tshark given the same keys (Wireshark's key table, as the key file
    writes it) decrypts the same frames to the same bytes."""
    opener = CaptureOpener(keys())
    theirs = tshark.decrypted_bodies(CAPTURE, tshark.key_options(keys().wireshark_entries()))
    ours: list[bytes | None] = []
    for frame in frames():
        if not is_protected(frame):
            ours.append(None)
            continue
        plain = opener.open(frame)
        header_len, _, _ = ccmp.frame_layout(plain)
        ours.append(plain[header_len:])
    assert len(theirs) == len(ours)
    assert sum(body is not None for body in theirs) == sum(body is not None for body in ours) > 20
    for index, (mine, wireshark) in enumerate(zip(ours, theirs, strict=True), 1):
        assert mine == wireshark, f"frame {index}"


@pytest.mark.tshark
def test_decrypted_kinds_are_tshark_s() -> None:
    """Frame kinds after decryption, Block Ack actions among them, are
    what tshark counts with the same keys, but for mesh data: tshark 4.0
    does not look for Mesh Control in a frame it decrypted (it reads those
    six octets as LLC), so it counts the 12 as other. Their plaintext is
    the same bytes (the test above), and the codec reads the Mesh Control
    in each."""
    result, _ = analyze(CAPTURE, unseal=CaptureOpener(keys()))
    options = tshark.key_options(keys().wireshark_entries())
    ours = dict(result.by_kind)
    ours["other"] += ours.pop("mesh-data")
    assert ours == tshark.counts_by_kind(CAPTURE, options)
    opener = CaptureOpener(keys())
    data = [decode(opener.open(f)) for f in frames() if is_protected(f) and f[0] & 0x0C == 0x08]
    assert len(data) == 12 and all(isinstance(d, DataFrame) and d.mesh_control is not None for d in data)
    assert (result.by_kind["addba-request"], result.by_kind["addba-response"]) == (4, 4)
    assert (result.by_kind["preq"], result.by_kind["prep"], result.by_kind["mesh-data"]) == (4, 4, 12)


BLOCK_ACK_FIELDS = ["wlan.fixed.category_code", "wlan.fixed.action_code", "wlan.fixed.dialog_token",
                    "wlan.fixed.status_code", "wlan.fixed.baparams", "wlan.fixed.baparams.tid",
                    "wlan.fixed.baparams.buffersize", "wlan.fixed.baparams.policy", "wlan.fixed.baparams.amsdu",
                    "wlan.fixed.batimeout", "wlan.fixed.ssc.sequence", "wlan.fixed.ssc.fragment"]


def _block_ack_fields(frame: BlockAckAction) -> dict[str, list[int]]:
    """Our decode's values under tshark's field names."""
    body = frame.body
    assert isinstance(body, (AddbaRequest, AddbaResponse))
    got = {
        "wlan.fixed.category_code": [3],
        "wlan.fixed.action_code": [0 if isinstance(body, AddbaRequest) else 1],
        "wlan.fixed.dialog_token": [body.dialog_token],
        "wlan.fixed.baparams": [body.parameters],
        "wlan.fixed.baparams.tid": [body.tid],
        "wlan.fixed.baparams.buffersize": [ba_buffer_size(body.parameters)],
        "wlan.fixed.baparams.policy": [int(bool(body.parameters & BA_PARAM_POLICY))],
        "wlan.fixed.baparams.amsdu": [int(bool(body.parameters & BA_PARAM_AMSDU))],
        "wlan.fixed.batimeout": [body.timeout],
        "wlan.fixed.status_code": [], "wlan.fixed.ssc.sequence": [], "wlan.fixed.ssc.fragment": [],
    }
    if isinstance(body, AddbaRequest):
        got["wlan.fixed.ssc.sequence"] = [body.starting_sequence_number]
        got["wlan.fixed.ssc.fragment"] = [body.starting_sequence_control & SSC_FRAGMENT_MASK]
    else:
        got["wlan.fixed.status_code"] = [body.status]
    return got


@pytest.mark.tshark
def test_block_ack_frames_read_as_tshark_reads_them() -> None:
    """Linux sets up a Block Ack agreement per link before its data: the
    decrypted ADDBA Requests and Responses decode in the codec and in the
    Scapy layers to tshark's values, field by field."""
    opener = CaptureOpener(keys())
    theirs = tshark.fields(CAPTURE, BLOCK_ACK_FIELDS, tshark.key_options(keys().wireshark_entries()))
    seen = {AddbaRequest: 0, AddbaResponse: 0}
    for frame, fields in zip(frames(), theirs, strict=True):
        if not is_protected(frame):
            continue
        plain = opener.open(frame)
        decoded = decode(plain)
        if not isinstance(decoded, BlockAckAction):
            assert fields["wlan.fixed.action_code"] == []
            continue
        seen[type(decoded.body)] += 1
        assert _block_ack_fields(decoded) == {name: [int(v, 0) for v in fields[name]] for name in BLOCK_ACK_FIELDS}
        from scapy.layers.dot11 import Dot11

        layer = Dot11(plain).getlayer(ADDBARequest if isinstance(decoded.body, AddbaRequest) else ADDBAResponse)
        assert layer is not None and layer.dialog_token == decoded.body.dialog_token
        assert layer.block_ack_parameter_set == decoded.body.parameters
        assert layer.block_ack_timeout_value == decoded.body.timeout
    assert seen[AddbaRequest] >= 2 and seen[AddbaResponse] >= 2, seen


def test_wrong_keys_count_every_frame_as_a_mic_failure() -> None:
    """Each key replaced by another of the same link or transmitter: every
    protected frame is refused as mic-failure, counted, and stays encrypted."""
    right = keys()
    wrong = CaptureKeys(tuple(LinkKey(k.stations, bytes(16), k.key_id) for k in right.pairwise),
                        tuple(TransmitterKey(k.transmitter, k.key_id, bytes(16)) for k in right.group))
    opener = CaptureOpener(wrong)
    result, _ = analyze(CAPTURE, unseal=opener)
    protected = sum(1 for f in frames() if is_protected(f))
    assert dict(opener.undecryptable) == {SealReason.MIC_FAILURE: protected}
    assert opener.decrypted == 0 and result.encrypted == protected
    assert [f.index for f in opener.failures] == [i for i, f in enumerate(frames()) if is_protected(f)]


def test_missing_keys_are_named_by_what_is_missing() -> None:
    """Without group keys group-addressed frames are unknown-key; a group
    key under another key id is unknown-key-id; the rest still decrypts."""
    right = keys()
    opener = CaptureOpener(CaptureKeys(pairwise=right.pairwise))
    analyze(CAPTURE, unseal=opener)
    group = sum(1 for f in frames() if is_protected(f) and f[4] & 1)
    assert group > 0 and dict(opener.undecryptable) == {SealReason.UNKNOWN_KEY: group}
    other_id = CaptureKeys(right.pairwise, tuple(TransmitterKey(k.transmitter, 2, k.tk) for k in right.group))
    opener = CaptureOpener(other_id)
    analyze(CAPTURE, unseal=opener)
    assert dict(opener.undecryptable) == {SealReason.UNKNOWN_KEY_ID: group}


def test_analyze_cli_reports_the_decryption(tmp_path: Path) -> None:
    """`meshframes analyze --keys --json` adds the decryption's counts; a
    key file it cannot read ends it with status 1 and the problem."""
    runner = CliRunner()
    result = runner.invoke(cli, ["analyze", str(CAPTURE), "--keys", str(KEY_FILE), "--json"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["encrypted"] == 0 and document["undecoded"] == 0
    assert document["decryption"]["undecryptable"] == 0 and document["decryption"]["decrypted"] > 20
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "meshframes-keys", "version": 1, "group": [{"transmitter": "x"}]}')
    refused = runner.invoke(cli, ["analyze", str(CAPTURE), "--keys", str(bad)], catch_exceptions=False)
    assert refused.exit_code == 1
    assert "unknown-field" not in refused.stderr and "missing-field" in refused.stderr


def test_import_wpa_cli_writes_the_key_file_and_wiresharks_table(tmp_path: Path) -> None:
    out, table = tmp_path / "keys.json", tmp_path / "80211_keys"
    result = CliRunner().invoke(cli, ["keys", "import-wpa", *map(str, LOGS), "-o", str(out),
                                       "--wireshark", str(table)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert out.read_text() == KEY_FILE.read_text()
    assert table.read_text().splitlines() == keys().wireshark_entries()
    assert out.stat().st_mode & 0o077 == 0


@pytest.mark.tshark
def test_wireshark_reads_the_key_table_from_its_profile(tmp_path: Path) -> None:
    """The --wireshark file is a working `80211_keys` table: in a
    configuration directory, tshark decrypts every protected frame with it."""
    table = tmp_path / "wireshark" / "80211_keys"
    table.parent.mkdir()
    result = CliRunner().invoke(cli, ["keys", "import-wpa", *map(str, LOGS), "-o", str(tmp_path / "keys.json"),
                                      "--wireshark", str(table)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path)}
    out = subprocess.run([tshark.binary(), "-r", str(CAPTURE), "-o", "wlan.enable_decryption:TRUE", "-x"],
                         capture_output=True, text=True, check=True, env=env, timeout=120).stdout
    assert out.count("Decrypted CCMP data") == sum(1 for f in frames() if is_protected(f)) > 20

"""`meshframes demo` end to end on a small mesh: it runs, conserves money,
writes a capture that decodes back frame for frame, and draws its two
pictures. By default the mesh is secure (SAE, AMPE, CCMP on every hop) and
the run's keys, written beside the capture, open all of it; `--open` gives
the open mesh's clear air."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshframes.cli import cli
from meshframes.codec import ManagementFrame, SelfProtected, VendorAction, decode
from meshframes.codec.elements import AUTH_SAE
from meshframes.codec.fastpay import FLAG_E2E_SEALED
from meshframes.codec.header import SUBTYPE_AUTHENTICATION
from meshframes.codec.mpdu import is_protected
from meshframes.codec.peering import PROTOCOL_AMPE
from meshframes.codec.sae import SaeCommitBody, SaeConfirmBody, parse_sae
from meshframes.hosts.pcap import mpdus

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


SMALL = ["--seed", "3", "--duration", "25", "--clients", "3", "--relays", "2", "--transfers", "1", "--area", "60x50"]


def test_demo_open_runs_reports_and_draws(tmp_path: Path) -> None:
    """--open: today's open mesh, every frame in the clear, no key file;
    --verify-air reads the capture back and finds the frames, by kind, that
    the run's record counted."""
    out = tmp_path / "demo"
    args = ["demo", *SMALL, "--open", "--verify-air", "--out", str(out), "--json"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["security"] == {"mesh": "open"} and not (out / "air.keys.json").exists()
    assert summary["spec"]["failed_authorities"] and summary["spec"]["sealed"]
    transfers = summary["transfers"]
    # A small field (60 x 50 m, ranges 25-30 m): the mesh stays connected.
    assert transfers["planned"] == transfers["confirmed"] == transfers["credited"] == 3
    assert all(len(t["signers"]) >= 3 and summary["spec"]["failed_authorities"][0] not in t["signers"]
               for t in transfers["list"] if t["started"] > summary["spec"]["fail_at_s"])
    money = summary["money"]
    assert set(money["by_authority"].values()) == {money["genesis"]} == {3 * 1000}
    air_mpdus = [mpdu for _, mpdu, _ in mpdus(out / "air.pcap")]
    assert not any(is_protected(mpdu) for mpdu in air_mpdus)
    frames = [decode(mpdu) for mpdu in air_mpdus]
    assert not any(isinstance(f, ManagementFrame) and f.header.subtype == SUBTYPE_AUTHENTICATION for f in frames)
    air = summary["air"]
    assert len(frames) == air["frames"] == air["sent_by_simulator"] == air["read_back"]["frames"]
    assert air["read_back"]["by_kind"] == air["by_kind"] and not air["read_back"]["malformed"]
    fastpay = [f for f in frames if isinstance(f, VendorAction)]
    ours = sum(v for k, v in air["by_kind"].items() if k.startswith("fastpay"))
    assert ours == len(fastpay) > 0
    assert any(f.payload.flags & FLAG_E2E_SEALED for f in fastpay)
    for name in ("topology", "timeline"):
        png = Path(summary["pictures"][name])
        assert png.parent == out and png.read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in (out / "stores").iterdir() if p.suffix == ".db") == sorted(
        [f"authority-{i}.db" for i in range(4)] + [f"client-{j}.db" for j in range(3)])


def test_demo_is_a_secure_mesh_by_default(tmp_path: Path) -> None:
    """No option: every pair runs SAE (Commit and Confirm on the air),
    peers with AMPE, and every frame after peering is CCMP-protected; the
    key file beside the capture opens every protected frame with no MIC
    failure, `analyze --keys` then reads the same FastPay frames the demo
    counted, every transfer is certified and credited and money is
    conserved."""
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", *SMALL, "--no-pictures", "--out", str(out), "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    security, transfers, money = summary["security"], summary["transfers"], summary["money"]
    assert transfers["planned"] == transfers["certified"] == transfers["credited"] == 3
    assert set(money["by_authority"].values()) == {money["genesis"]}
    keys = out / "air.keys.json"
    assert security["mesh"] == "secure" and security["passphrase"] == "meshframes demo passphrase"
    assert security["keys"] == str(keys) and keys.stat().st_mode & 0o077 == 0
    assert security["analyze"] == f"meshframes analyze {out / 'air.pcap'} --keys {keys}"
    assert security["sae"]["completed"] >= 2 and security["ampe"]["peerings"] >= 1
    ccmp = security["ccmp"]
    assert ccmp["frames_protected"] > 0 and (ccmp["mic_failures"], ccmp["replays"]) == (0, 0)
    assert "read_back" not in summary["air"]  # counted from the run's record, not read back
    air_mpdus = [mpdu for _, mpdu, _ in mpdus(out / "air.pcap")]
    protected = [mpdu for mpdu in air_mpdus if is_protected(mpdu)]
    assert len(protected) == ccmp["frames_protected"]
    clear = [decode(mpdu) for mpdu in air_mpdus if not is_protected(mpdu)]
    sae = [parse_sae(f.body) for f in clear if isinstance(f, ManagementFrame)
           and f.header.subtype == SUBTYPE_AUTHENTICATION]
    assert {SaeCommitBody, SaeConfirmBody} <= {type(m) for m in sae}
    peering = [f for f in clear if isinstance(f, SelfProtected) and f.peering is not None]
    assert peering and all(f.peering.protocol_id == PROTOCOL_AMPE for f in peering)  # type: ignore[union-attr]
    assert all(f.mesh_config.authentication_protocol == AUTH_SAE for f in peering if f.mesh_config is not None)
    # No FastPay frame travels in the clear: each is inside a CCMP frame.
    assert not any(isinstance(f, VendorAction) for f in clear)
    analyzed = CliRunner().invoke(cli, ["analyze", "--json", str(out / "air.pcap"), "--keys", str(keys)],
                                  catch_exceptions=False)
    assert analyzed.exit_code == 0, analyzed.output
    report = json.loads(analyzed.stdout)
    assert (report["encrypted"], report["undecoded"], report["malformed"]) == (0, 0, [])
    assert report["decryption"]["decrypted"] == len(protected)
    assert report["frames"] == len(air_mpdus) == summary["air"]["frames"]
    assert report["by_kind"] == summary["air"]["by_kind"]
    assert any(k.startswith("fastpay") for k in report["by_kind"])


def test_demo_verify_air_opens_every_protected_frame(tmp_path: Path) -> None:
    """--verify-air on the secure mesh: the capture read back with the key
    file the run wrote opens every protected frame the run sent, and its
    frames by kind are the run's record."""
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", *SMALL, "--no-pictures", "--verify-air", "--out", str(out), "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    air, ccmp = summary["air"], summary["security"]["ccmp"]
    read = air["read_back"]
    assert (read["frames"], read["by_kind"], read["malformed"], read["undecoded"]) == (
        air["sent_by_simulator"], air["by_kind"], [], 0)
    assert read["protected_opened"] == ccmp["frames_protected"] > 0 and read["undecryptable_with_keys"] == 0


def test_demo_verify_air_says_where_the_record_and_the_air_differ(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A record that misnames frames (every one labelled a beacon) is
    caught by the read-back: exit 1, and the kinds that differ named."""
    import meshframes.sim.network

    monkeypatch.setattr(meshframes.sim.network, "kind_of", lambda frame: "beacon")
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", *SMALL, "--open", "--no-pictures", "--verify-air", "--out", str(out),
                                      "--json"], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    air = json.loads(result.stdout)["air"]
    assert list(air["by_kind"]) == ["beacon"] and air["read_back"]["by_kind"]["beacon"] < air["frames"]
    assert "the air read back differs from the run's record of it: beacon " in result.stderr
    assert f"preq {air['read_back']['by_kind']['preq']} read, 0 sent" in result.stderr


@pytest.mark.parametrize(("args", "says"), [
    (["--open", "--passphrase", "a demo passphrase"], "--open and a passphrase"),
    (["--passphrase", "short"], "passphrase: got 5 characters, expected 8 to 63"),
])
def test_demo_refuses_a_passphrase_it_cannot_use(tmp_path: Path, args: list[str], says: str) -> None:
    result = CliRunner().invoke(cli, ["demo", *args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and says in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


def test_demo_refuses_more_failures_than_fastpay_tolerates(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--failing", "2", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "at most f = 1 of 4" in result.output


def test_demo_fails_and_says_which_transfers_did_not_complete(tmp_path: Path) -> None:
    """Two clients in a square kilometre with no relays reach no authority:
    the demo exits 1, and for each transfer says on stderr, in one line,
    where it stopped and why; --json carries the same."""
    args = ["demo", "--seed", "3", "--duration", "10", "--clients", "2", "--relays", "0", "--transfers", "2",
            "--area", "1000x1000", "--no-pictures", "--out", str(tmp_path), "--json"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 1, result.output
    incomplete = json.loads(result.stdout)["transfers"]["incomplete"]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == len(incomplete) == 4
    assert {(s["payer"], s["missing"], s["sequence_number"]) for s in incomplete} == {
        (0, "certified", 0), (0, "started", None), (1, "certified", 0), (1, "started", None)}
    for s, line in zip(incomplete, lines, strict=True):
        assert line.startswith(f"error: transfer C{s['payer']} -> C{s['recipient']} of {s['amount']} ")
        assert line.endswith(f" not {s['missing']}: {s['why']}")
        if s["missing"] == "certified":
            assert "(sequence number 0)" in line
            assert "votes signed by no authority (a quorum needs weight 3)" in s["why"]
        else:
            assert "(no sequence number)" in line
            assert f"still waiting behind C{s['payer']}'s transfer #0, unconfirmed when the run ended at 10 s" in s["why"]


@pytest.mark.parametrize(("args", "says"), [
    (["--area", "0x0"], "'0x0', expected WIDTHxHEIGHT in metres, each side from 10 to 10000"),
    (["--area", "-5x10"], "'-5x10', expected WIDTHxHEIGHT in metres, each side from 10 to 10000"),
    (["--area", "1e-9x1e-9"], "each side from 10 to 10000"),
    (["--area", "nanx100"], "each side from 10 to 10000"),
    (["--area", "infx100"], "each side from 10 to 10000"),
    (["--area", "150"], "'150', expected WIDTHxHEIGHT"),
    (["--area", "150x120x3"], "'150x120x3', expected WIDTHxHEIGHT"),
    (["--area", "wide"], "'wide', expected WIDTHxHEIGHT"),
    (["--duration", "nan"], "'nan', expected a finite number"),
    (["--duration", "inf"], "10.0<=x<=86400.0"),
    (["--duration", "1e9"], "10.0<=x<=86400.0"),
    (["--duration", "5"], "10.0<=x<=86400.0"),
    (["--fail-at", "inf"], "'inf', expected a finite number"),
    (["--relays", "-1"], "0<=x<=500"),
    (["--relays", "100000"], "0<=x<=500"),
    (["--clients", "100000"], "2<=x<=200"),
    (["--authorities", "0"], "1<=x<=64"),
])
def test_demo_refuses_sizes_it_cannot_simulate(tmp_path: Path, args: list[str], says: str) -> None:
    """Sizes that would hang the run, crash it or take hours are usage
    errors (exit 2), named with their limit in one line, before anything
    runs."""
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "out"), *args], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and says in errors[0], result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.tshark
def test_tshark_counts_the_demo_air_as_we_do(tmp_path: Path) -> None:
    """tshark, the independent oracle, finds as many frames of each 802.11s
    kind in the demo's (open) capture as our layers do; our FastPay frames
    are its "other" (it has no dissector for them), one for one."""
    args = ["demo", "--seed", "5", "--duration", "15", "--clients", "2", "--relays", "2", "--transfers", "1",
            "--area", "60x50", "--no-pictures", "--tshark", "--open", "--out", str(tmp_path), "--json"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    air = json.loads(result.output)["air"]
    ours, theirs = air["by_kind"], air["tshark_by_kind"]
    fastpay = sum(v for k, v in ours.items() if k.startswith("fastpay"))
    assert fastpay > 0 and theirs.pop("other") == fastpay + ours.get("other", 0)
    assert theirs == {k: v for k, v in ours.items() if not k.startswith("fastpay") and k != "other"}

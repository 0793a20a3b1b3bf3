"""`meshframes demo` end to end on a small mesh: it runs, conserves money,
writes a capture that decodes back frame for frame, and draws its two
pictures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshframes.cli import cli
from meshframes.codec import VendorAction, decode
from meshframes.codec.fastpay import FLAG_E2E_SEALED
from meshframes.hosts.pcap import mpdus

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_demo_runs_reports_and_draws(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    args = ["demo", "--seed", "3", "--duration", "25", "--clients", "3", "--relays", "2", "--transfers", "1",
            "--area", "60x50",
            "--out", str(out), "--json"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["spec"]["failed_authorities"] and summary["spec"]["sealed"]
    transfers = summary["transfers"]
    # A small field (60 x 50 m, ranges 25-30 m): the mesh stays connected.
    assert transfers["planned"] == transfers["confirmed"] == transfers["credited"] == 3
    assert all(len(t["signers"]) >= 3 and summary["spec"]["failed_authorities"][0] not in t["signers"]
               for t in transfers["list"] if t["started"] > summary["spec"]["fail_at_s"])
    money = summary["money"]
    assert set(money["by_authority"].values()) == {money["genesis"]} == {3 * 1000}
    frames = [decode(mpdu) for _, mpdu, _ in mpdus(out / "air.pcap")]
    air = summary["air"]
    assert len(frames) == air["frames"] == air["sent_by_simulator"] and not air["malformed"]
    fastpay = [f for f in frames if isinstance(f, VendorAction)]
    ours = sum(v for k, v in air["by_kind"].items() if k.startswith("fastpay"))
    assert ours == len(fastpay) > 0
    assert any(f.payload.flags & FLAG_E2E_SEALED for f in fastpay)
    for name in ("topology", "timeline"):
        png = Path(summary["pictures"][name])
        assert png.parent == out and png.read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in (out / "stores").iterdir() if p.suffix == ".db") == sorted(
        [f"authority-{i}.db" for i in range(4)] + [f"client-{j}.db" for j in range(3)])


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
    kind in the demo's capture as our layers do; our FastPay frames are
    its "other" (it has no dissector for them), one for one."""
    args = ["demo", "--seed", "5", "--duration", "15", "--clients", "2", "--relays", "2", "--transfers", "1",
            "--area", "60x50", "--no-pictures", "--tshark", "--out", str(tmp_path), "--json"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    air = json.loads(result.output)["air"]
    ours, theirs = air["by_kind"], air["tshark_by_kind"]
    fastpay = sum(v for k, v in ours.items() if k.startswith("fastpay"))
    assert fastpay > 0 and theirs.pop("other") == fastpay + ours.get("other", 0)
    assert theirs == {k: v for k, v in ours.items() if not k.startswith("fastpay") and k != "other"}

"""`meshframes bench latency` on one short seed, and the arguments it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshframes.bench.latency import SETTLE_S, air_kind, percentiles
from meshframes.cli import cli
from meshframes.codec import MacHeader, MeshControl, VendorAction, encode
from meshframes.codec.action import CATEGORY_VENDOR_PROTECTED
from meshframes.codec.fastpay import FastPayFragment, MessageType
from meshframes.codec.header import SUBTYPE_ACTION, TYPE_MGMT, frame_control
from meshframes.codec.meshctl import AE_A5_A6

A, B = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["bench", "latency", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_one_short_seed_reports_every_measure_as_json(tmp_path: Path) -> None:
    """One 10 s seed of the default scenario: exit 0 and every key of the report."""
    code, stdout, stderr = _invoke("--seeds", "3", "--duration", "10", "--json")
    assert code == 0, stderr
    data = json.loads(stdout)
    assert data["seeds"] == [3] and data["scenario"] == "default" and data["relays"] == 14
    for what in ("certified", "confirmed"):
        for origin in ("start", "reach"):
            assert f"{what}_from_{origin}" in data["latency_s"]
    for key in ("latency_by_hops_s", "never_in_reach", "incomplete_with_quorum_in_reach",
                "certified_before_reach", "air", "runs", "list", "transfers"):
        assert key in data
    assert data["air"]["frames"] == sum(data["air"]["by_kind"].values()) > 0
    # The default scenario is the demo's secure mesh: SAE on the air, and
    # every CCMP frame opened with the run's keys and counted by its kind.
    assert "secure mesh (SAE, AMPE, CCMP per hop)" in data["about"]
    kinds = data["air"]["by_kind"]
    assert kinds["sae"] > 0 and "ccmp-protected" not in kinds and kinds["fastpay-order"] > 0
    [run] = data["runs"]
    assert run["money_conserved"] and run["total_by_authority"] == {str(i): run["genesis"] for i in range(4)}
    # Balances differ only where a live authority lacks a certificate; the
    # run went on until none did, or to the settle limit (SETTLE_S past its
    # duration), and each certificate still lacking names its holders' path.
    assert run["balances_equal_at_live_authorities"] or run["lagging"]
    assert run["settled"] == (not run["lagging"])
    assert run["duration_s"] == 10.0 and (run["settled"] or run["ended_s"] == 10.0 + SETTLE_S)
    assert data["settle_up_to_s"] == SETTLE_S
    assert all(g["in_reach"] == (g["holder_path_s"] >= 10.0) for g in run["lagging"])
    assert len(data["list"]) == data["transfers"]["planned"] == 18
    for row in data["list"]:
        if row["reach"] is not None and row["started"] is not None:
            assert row["reach"] >= row["started"]
        if row["certified_from_reach"] is not None:
            assert row["certified_from_reach"] == pytest.approx(row["certified"] - row["reach"], abs=1e-5)
        # How long the reach held: from the reach instant, within the run.
        assert (row["reach"] is None) == (row["reach_held"] is None)
        if row["reach"] is not None:
            assert 0.0 <= row["reach_held"] <= run["ended_s"] - row["reach"] + 1e-6
    slow = [row for row in data["list"] if (row["certified_from_reach"] or 0.0) > 1.0]
    assert data["certified_over_1s_from_reach"] == {
        "transfers": len(slow), "reach_held_under_1s": sum(1 for row in slow if row["reach_held"] < 1.0)}


def test_seeds_in_parallel_match_seeds_in_turn() -> None:
    """--jobs 2 reports the same runs as one process (a run is a function of its seed)."""
    _, alone, _ = _invoke("--seeds", "3-4", "--duration", "10", "--json")
    code, together, stderr = _invoke("--seeds", "3-4", "--duration", "10", "--json", "--jobs", "2")
    assert code == 0, stderr
    first, second = json.loads(alone), json.loads(together)
    assert first["list"] == second["list"] and first["air"] == second["air"]


def test_table_and_picture(tmp_path: Path) -> None:
    """Without --json: the tables on stdout, and the CDF written where --plot says."""
    pytest.importorskip("matplotlib")
    picture = tmp_path / "cdf.png"
    code, stdout, stderr = _invoke("--seeds", "3", "--duration", "10", "--plot", str(picture))
    assert code == 0, stderr
    assert "certified from reach" in stdout and "frames on the air" in stdout
    assert picture.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(("args", "message"), [
    (["--seeds", "5-1"], "'5-1', expected A-B with 0 <= A <= B"),
    (["--seeds", "one"], "'one', expected A or A-B"),
    (["--scenario", "huge"], "'huge' is not one of 'default', 'seed', 'large'"),
    (["--duration", "nan"], "expected a finite number"),
])
def test_bad_arguments_are_one_line_and_status_2(args: list[str], message: str) -> None:
    code, _, stderr = _invoke(*args)
    assert code == 2
    assert message in stderr and "Traceback" not in stderr
    # click's usage line and hint, then the one line.
    assert len([line for line in stderr.splitlines() if line]) <= 3


def test_percentiles_are_nearest_rank() -> None:
    """p50/p90/p95 of 1..20 by nearest rank, and the max."""
    assert percentiles([float(v) for v in range(20, 0, -1)]) == {"p50": 10.0, "p90": 18.0, "p95": 19.0, "max": 20.0}
    assert percentiles([]) is None


def test_air_kinds_from_the_codec() -> None:
    """Frames on the air are named as `meshframes analyze` names them."""
    header = MacHeader(frame_control(TYPE_MGMT, SUBTYPE_ACTION), 0, B, A, A, 0)
    order = VendorAction(header, CATEGORY_VENDOR_PROTECTED, MeshControl(AE_A5_A6, 31, 1, (B, A)),
                         FastPayFragment(MessageType.FASTPAY_ORDER, 0, 7, 0, 1, b"x" * 40))
    assert air_kind(encode(order)) == "fastpay-order"
    assert air_kind(b"\x00") == "undecodable"
    protected = bytearray(encode(order))
    protected[1] |= 0x40  # Protected Frame (802.11-2020 9.2.4.1.9)
    assert air_kind(bytes(protected)) == "ccmp-protected"


def test_help_states_the_settle_bound_the_runs_use() -> None:
    """The help's default for --settle is the bound a run takes without it."""
    code, stdout, _ = _invoke("--help")
    assert code == 0 and f"[default: {SETTLE_S:g}]" in " ".join(stdout.split())

"""`meshframes bench seal` runs end to end and reports every case; no timing
is asserted, only that each rate and its same-run baseline were measured."""

from __future__ import annotations

import json

from click.testing import CliRunner

from meshframes.bench import seal as benchmark
from meshframes.cli import cli

QUICK = ["--frames", "100", "--rounds", "1", "--handshakes", "1", "--sae-rounds", "1"]


def test_bench_seal_reports_every_case_as_json():
    """Each (workload, layer) gets a seal and an open row with both rates."""
    arguments = ["bench", "seal", *QUICK, "--json"]
    result = CliRunner().invoke(cli, arguments, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    rows = report["ccmp"]
    assert len(rows) == 2 * len(benchmark.cases())
    assert {(row["layer"], row["operation"]) for row in rows} == {
        ("hop", "seal"), ("hop", "open"), ("e2e", "seal"), ("e2e", "open")
    }
    for row in rows:
        assert row["frames_per_s"] > 0 and row["raw_aesccm_per_s"] > 0
        assert abs(row["ratio"] - row["frames_per_s"] / row["raw_aesccm_per_s"]) < 0.01
    sae = report["sae"]
    assert [(row["group"], row["case"]) for row in sae] == [
        (19, "hunting-and-pecking"), (19, "hash-to-element"), (20, "hunting-and-pecking"), (20, "hash-to-element")]
    for row in sae:
        assert row["handshakes_per_s"] > 0 and row["scalar_ops_per_s"] > 0
        assert abs(row["scalar_ops_per_handshake"] * row["handshakes_per_s"] - row["scalar_ops_per_s"]) \
            < 0.01 * row["scalar_ops_per_s"] + 1


def test_bench_seal_table_names_the_baseline():
    """The human table says what the ratio is against."""
    result = CliRunner().invoke(cli, ["bench", "seal", *QUICK], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "raw AESCCM" in result.stdout and "mesh data 1500" in result.stdout
    assert "scalar-op" in result.stdout and "hunting-and-pecking" in result.stdout

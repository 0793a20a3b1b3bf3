"""`meshframes bench authority` runs end to end and reports its ratios
(the figures themselves are measurements, never asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from meshframes.cli import cli


def test_bench_authority_reports_ratios(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["bench", "authority", "--orders", "40", "--batch", "16", "--repeat", "1", "--dir", str(tmp_path), "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["orders"] == 40 and figures["verifies_per_confirmation"] == 3
    assert figures["orders_vs_verify"] == figures["orders_per_s"] / figures["verify_per_s"]
    assert list(tmp_path.iterdir()) == []  # the benchmark's database is cleaned up

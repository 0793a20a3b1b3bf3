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
    for measure in ("verify_per_s", "verify_cpu_per_s", "orders_per_s", "orders_cpu_per_s", "confirmations_vs_verify",
                    "orders_vs_verify_cpu"):
        spread = figures[measure]
        assert 0 < spread["low"] <= spread["median"] <= spread["high"], measure
    assert list(tmp_path.iterdir()) == []  # the benchmark's database is cleaned up


def test_the_authority_measurement_is_plain_data(tmp_path: Path) -> None:
    """meshframes.bench.authority measures and returns data: it reports
    progress through a callback and imports neither click, rich nor the CLI."""
    import subprocess
    import sys

    from meshframes.bench.authority import MEASURING, SIGNING, measure_authority

    seen: list[tuple[str, int, int]] = []
    figures = measure_authority(orders=20, batch=8, repeat=2, directory=str(tmp_path),
                                progress=lambda phase, done, total: seen.append((phase, done, total)))
    assert figures.orders == 20 and figures.verifies_per_confirmation == 3
    assert list(figures.as_dict())[:2] == ["orders", "batch"]
    assert seen[-3:] == [(SIGNING, 20, 20), (MEASURING, 1, 2), (MEASURING, 2, 2)]
    # Two rounds: the median is their mean, inside their range.
    ratio = figures.orders_vs_verify
    assert ratio.low <= ratio.median == (ratio.low + ratio.high) / 2 <= ratio.high
    imported = subprocess.run(
        [sys.executable, "-c", "import sys, meshframes.bench.authority; print(sorted(m for m in sys.modules"
         " if m.split('.')[0] in ('click', 'rich') or m.startswith('meshframes.cli')))"],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2],
    )
    assert imported.stdout.strip() == "[]"

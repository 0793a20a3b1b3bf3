"""`meshframes bench demo`: the demo against an earlier revision's, run
end to end (the ratio is a measurement, never asserted)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshframes.bench import demo as bench_demo
from meshframes.cli import cli


def test_bench_demo_times_both_sides_interleaved() -> None:
    """Against this checkout's own HEAD (the same demo on both sides, 30
    virtual seconds so that every transfer confirms): each side ran every
    round, the ratio is the one of the medians, the commit is HEAD's."""
    result = CliRunner().invoke(cli, ["bench", "demo", "--against", "HEAD", "--rounds", "2", "--duration", "30",
                                      "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    head = subprocess.run(["git", "-C", str(Path(bench_demo.__file__).parent), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert figures["commit"] == head and figures["rounds"] == 2 and figures["duration"] == 30.0
    for side in ("baseline", "current"):
        walls = figures[side]["wall_s"]
        assert len(walls) == 2 and figures[side]["min_wall_s"] <= figures[side]["median_wall_s"] <= max(walls)
        assert figures[side]["median_cpu_s"] > 0
    assert figures["ratio"] == pytest.approx(figures["baseline"]["median_wall_s"]
                                             / figures["current"]["median_wall_s"], abs=0.002)
    assert len(figures["round_ratios"]) == 2
    # HEAD depends on gmpy2, so nothing stands in for it.
    assert figures["baseline_without"] == []


def test_bench_demo_refuses_what_it_cannot_run() -> None:
    """A revision not in the history, a run too short for its transfers
    to confirm (the demo exits 1), no git to read the history with: a
    clear error, exit 1."""
    missing = CliRunner().invoke(cli, ["bench", "demo", "--against", "no-such-revision", "--rounds", "1"])
    assert missing.exit_code == 1 and "'no-such-revision' is not in the history" in missing.output
    short = CliRunner().invoke(cli, ["bench", "demo", "--against", "HEAD", "--rounds", "1", "--duration", "10"])
    assert short.exit_code == 1 and "did not finish cleanly" in short.output
    no_git = CliRunner().invoke(cli, ["bench", "demo", "--rounds", "1"], env={"PATH": "/nonexistent"})
    assert no_git.exit_code == 1 and "git is not installed" in no_git.output

"""The scale run at a size that fits the test suite, and the `meshframes
bench mesh` command around it. Speed is reported by the benchmark, never
asserted here."""

from __future__ import annotations

import json

from click.testing import CliRunner

from meshframes.bench.scale import run_scale
from meshframes.cli import cli


def test_random_mesh_peers_fully_and_delivers_every_pair() -> None:
    """150 random nodes: every neighbour pair ends in ESTAB on both sides,
    every random pair of the connected mesh gets a path and its message."""
    result = run_scale(nodes=150, pairs=15, seed=3)
    assert result.peered_pairs == result.neighbour_pairs > 0
    assert result.peering_done_s is not None
    assert result.delivered == result.pairs
    assert result.mean_hops is not None and result.mean_hops > 1


def test_bench_mesh_command_reports_json() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["bench", "mesh", "--nodes", "40", "--pairs", "4", "--json"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["delivered"] == 4 and data["nodes"] == 40
    assert {"wall_s", "peak_rss_mib", "decode_baseline_per_s", "ratio_to_decode_baseline"} <= data.keys()

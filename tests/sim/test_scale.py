"""The scale runs at sizes that fit the test suite, and `meshframes bench
mesh` around them. Speed is reported by the benchmark, never asserted
here."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from meshframes.bench.scale import growth_exponent, run_fastpay_scale, run_scale
from meshframes.cli import cli


def test_random_mesh_peers_fully_and_delivers_every_pair() -> None:
    """150 random nodes: every neighbour pair ends in ESTAB on both sides,
    every random pair of the connected mesh gets a path and its message."""
    result = run_scale(nodes=150, pairs=15, seed=3)
    assert result.peered_pairs == result.neighbour_pairs > 0
    assert result.peering_done_s is not None
    assert result.delivered == result.pairs
    assert result.mean_hops is not None and result.mean_hops > 1


def test_fastpay_scale_run_peers_converges_and_certifies_every_transfer() -> None:
    """A 120-node field: full peering, a path from every connected node to
    every authority, then every transfer certified; the costs are kept
    apart from the results."""
    run = run_fastpay_scale(120, 12, seed=2, clients=4)
    r = run.results
    assert r["peered_pairs"] == r["neighbour_pairs"] > 0 and r["peering_done_s"] is not None
    assert r["converged_s"] is not None and r["converged_s"] >= r["peering_done_s"]
    assert r["certified"] == 12 and len(r["latencies_s"]) == 12
    assert sum(by["transfers"] for by in r["latency_by_hops_ms"].values()) == 12
    assert r["fastpay_frames_per_transfer"] > 0
    assert {"wall_s", "cpu_s", "peak_rss_mib"} == run.costs.keys()
    assert "wall_s" not in r and "cpu_s" not in r


def test_growth_exponent_is_the_log_log_slope() -> None:
    assert growth_exponent([10, 100, 1000], [3.0, 300.0, 30000.0]) == 2.0
    assert growth_exponent([10, 100], [5.0, 5.0]) == 0.0
    assert growth_exponent([10], [1.0]) is None


def test_bench_mesh_json_is_the_same_whatever_the_job_count(tmp_path: Path) -> None:
    """One field's figures and two scale sizes, with one job and with two:
    the results part of the JSON is byte for byte the same; every figure
    is there, and drawn."""
    args = ["bench", "mesh", "--no-demo", "--nodes", "30", "--scale", "30,40", "--transfers", "3",
            "--loads", "1,2", "--json"]
    runner = CliRunner()
    outputs = []
    for jobs, plot in (("1", ["--plot", str(tmp_path)]), ("2", [])):
        result = runner.invoke(cli, [*args, "--jobs", jobs, *plot], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        outputs.append(json.loads(result.output))
    assert json.dumps(outputs[0]["results"]) == json.dumps(outputs[1]["results"])
    figures = outputs[0]["results"]["figures"]["30"]["1"]
    assert {"latency", "convergence", "healing", "throughput"} == figures.keys()
    assert figures["convergence"]["power_on_s"] is not None
    assert figures["healing"]["bound"]["total"] > 0
    assert [p["clients"] for p in figures["throughput"]["points"]] == [1, 2]
    assert outputs[0]["results"]["scale"]["40"]["1"]["certified"] == 3
    assert {"wall", "cpu", "peak_rss", "frames"} == outputs[0]["costs"]["growth_exponent"].keys()
    pictures = sorted(p.name for p in tmp_path.iterdir())
    assert pictures == ["healing.png", "latency-cdf.png", "latency-hops.png", "scale.png"]
    assert all((tmp_path / name).read_bytes()[:4] == b"\x89PNG" for name in pictures)


def test_bench_mesh_refuses_bad_sizes_in_one_line() -> None:
    result = CliRunner().invoke(cli, ["bench", "mesh", "--scale", "10,abc"])
    assert result.exit_code == 2 and "expected node counts from 30 to 20000" in result.output

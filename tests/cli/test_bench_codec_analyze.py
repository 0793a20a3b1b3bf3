"""`meshframes bench codec` and `meshframes bench analyze` run end to end
and report their ratios (the figures are measurements, never asserted)."""

from __future__ import annotations

import json
import statistics

import pytest
from click.testing import CliRunner

from meshframes.bench import analyze as bench_analyze
from meshframes.bench import codec as bench_codec
from meshframes.cli import cli


def _run(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["bench", *args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_bench_codec_reports_decode_and_encode_ratios() -> None:
    """Both operations on the same byte-identical frames, the ratio the
    one of the medians, the headline ratio the lower of the two."""
    figures = _run("codec", "--rounds", "2", "--frames", "60")
    assert figures["frames"] + figures["not_byte_identical"] == 60 and figures["rounds"] == 2
    operations = {o["operation"]: o for o in figures["operations"]}
    assert set(operations) == {"decode", "encode"}
    for o in operations.values():
        medians = o["codec"]["median_per_s"] / o["scapy"]["median_per_s"]
        assert abs(o["ratio"] - medians) <= 0.02 * medians + 0.01
        assert o["codec"]["min_per_s"] <= o["codec"]["median_per_s"] <= o["codec"]["max_per_s"]
        assert o["codec"]["cpu_median_per_s"] > 0
    assert figures["ratio"] == min(o["ratio"] for o in operations.values())


def test_frames_that_do_not_round_trip_are_left_out() -> None:
    """A frame Scapy does not give back byte for byte is not timed."""
    header_cut = bytes.fromhex("80000000ffffffffffff020000000001020000000001")  # 22 of 24 header octets
    kept, left_out = bench_codec.identical([header_cut])
    assert (kept, left_out) == ([], 1)


def test_interleaved_rounds_alternate() -> None:
    """A B A B: each side runs once per round, in turn."""
    calls: list[str] = []
    a, b = bench_codec.interleaved(lambda: calls.append("a"), lambda: calls.append("b"), 1, 3, lambda: None)
    assert calls == ["a", "b"] * 3 and len(a.wall) == len(b.cpu) == 3
    assert statistics.median(a.wall) > 0


@pytest.mark.tshark
def test_bench_analyze_reports_its_ratio_with_equal_counts() -> None:
    """analyze and tshark on the same capture count the same frames by
    kind; the ratio is the one of the medians, memory is reported."""
    figures = _run("analyze", "--frames", "1500", "--rounds", "1")
    assert figures["frames"] == 1500 and sum(figures["by_kind"].values()) == 1500
    assert figures["ratio"] == round(figures["analyze"]["median_frames_per_s"]
                                     / figures["tshark"]["median_frames_per_s"], 3)
    assert figures["analyze"]["peak_mib"] > 0 and figures["tshark"]["peak_mib"] > 0


def test_counts_are_compared_as_tshark_can_tell_them() -> None:
    """Our FastPay kinds fold into tshark's "other"; tshark's field lines
    are read into kinds by tshark.kind_of."""
    assert bench_analyze.folded({"fastpay-order": 2, "other": 1, "beacon": 3}) == {"other": 3, "beacon": 3}
    beacon = "\t".join(["0", "0x0008", "", "", "", "", ""] + [""] * 11)
    assert bench_analyze.tshark_kinds(beacon + "\n" + beacon) == {"beacon": 2}

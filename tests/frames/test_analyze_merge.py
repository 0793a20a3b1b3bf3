"""Several captures of one run: merged by time, a frame two captures heard
counted once, frames one capture holds twice both counted."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from meshframes.cli import cli
from meshframes.hosts.analyze import analyze_captures
from meshframes.hosts.pcap import read_capture, write_pcap
from meshframes.layers.dissect import decode_mpdu

ROOT = Path(__file__).resolve().parents[2]
CHAIN = ROOT / "pcaps" / "linux-kernel-chain-perr.pcap"


def _records(path: Path) -> list[tuple[float, bytes]]:
    return [(f.timestamp, f.data) for f in read_capture(path)]


def test_a_frame_heard_by_two_captures_counts_once(tmp_path: Path) -> None:
    """Two radios heard the same run (one 0.2 ms later, one missing every
    third frame): merged, the totals and sections are the first capture's."""
    records = _records(CHAIN)
    first, second = tmp_path / "a.pcap", tmp_path / "b.pcap"
    write_pcap(first, records, 127)
    write_pcap(second, ((t + 0.0002, d) for i, (t, d) in enumerate(records) if i % 3), 127)
    alone = analyze_captures([first], decode_mpdu)
    merged = analyze_captures([first, second], decode_mpdu)
    assert merged.analysis.frames == alone.analysis.frames == len(records)
    assert merged.duplicates == len([i for i in range(len(records)) if i % 3])
    assert merged.analysis.by_kind == alone.analysis.by_kind
    assert merged.sections()["peering_sessions"] == alone.sections()["peering_sessions"]
    assert merged.sections()["hwmp_discoveries"]["discoveries"] == alone.sections()["hwmp_discoveries"]["discoveries"]


def test_captures_are_merged_in_time_order(tmp_path: Path) -> None:
    """The halves of one capture in two files come back as the whole, in
    order: the same HWMP element list, numbered in merged order."""
    records = _records(CHAIN)
    even, odd = tmp_path / "even.pcap", tmp_path / "odd.pcap"
    write_pcap(even, records[::2], 127)
    write_pcap(odd, records[1::2], 127)
    whole = analyze_captures([CHAIN], decode_mpdu)
    merged = analyze_captures([odd, even], decode_mpdu)
    assert merged.duplicates == 0 and merged.analysis.frames == whole.analysis.frames
    assert merged.analysis.hwmp == whole.analysis.hwmp


def test_repeats_within_one_capture_are_not_duplicates(tmp_path: Path) -> None:
    """The same octets twice in one capture are two transmissions (one
    capture never records one transmission twice)."""
    t, data = _records(CHAIN)[0]
    one, other = tmp_path / "one.pcap", tmp_path / "other.pcap"
    write_pcap(one, [(t, data), (t + 0.001, data)], 127)
    write_pcap(other, [(t + 0.5, _records(CHAIN)[1][1])], 127)
    merged = analyze_captures([one, other], decode_mpdu)
    assert (merged.analysis.frames, merged.duplicates) == (3, 0)


def test_the_command_takes_several_captures(tmp_path: Path) -> None:
    """`analyze A B --json`: the merged counts, both paths named."""
    records = _records(CHAIN)
    copy = tmp_path / "copy.pcap"
    write_pcap(copy, ((t + 0.0001, d) for t, d in records), 127)
    result = CliRunner().invoke(cli, ["analyze", "--json", str(CHAIN), str(copy)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["frames"] == len(records) and data["duplicates"] == len(records)
    assert data["path"] == f"{CHAIN} + {copy}"


def test_the_section_tables_follow_the_totals() -> None:
    """Text output: after the totals, the peering sessions, discoveries,
    PERRs and nodes of the capture, as tables."""
    result = CliRunner().invoke(cli, ["analyze", str(CHAIN)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    titles = ["frames by kind", "peering sessions (2)", "peering per link (2)", "HWMP discoveries (3)",
              "paths per destination (1)", "PERRs (2)", "nodes (3)"]
    where = [result.stdout.index(title) for title in titles]
    assert where == sorted(where)

"""A capture shared between two processes (meshframes.hosts.analyze): the
same report, to the octet, as one process gives, on every capture we have,
on a damaged one, and when the second process fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import meshframes.hosts.analyze as host
from meshframes.analysis.run import Analyzer, Share
from meshframes.codec.action import CATEGORY_MESH, CATEGORY_SELF_PROTECTED
from meshframes.hosts.analyze import analyze_captures
from meshframes.hosts.pcap import read_capture, write_pcap
from meshframes.layers.dissect import decode_mpdu

ROOT = Path(__file__).resolve().parents[2]
# A management frame's MAC header: its body (an action frame's Category) starts here.
MGMT_HEADER_LEN = 24
CAPTURES = sorted(p for p in [*ROOT.glob("pcaps/**/*.pcap*"), *(ROOT.parent / "shared").glob("pcaps/**/*.pcap*")]
                  if p.suffix in (".pcap", ".pcapng"))


def _report(analyzer: Analyzer) -> str:
    return json.dumps(analyzer.analysis.to_json() | analyzer.sections())


def test_there_are_captures_to_share() -> None:
    assert len(CAPTURES) >= 20


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_shared_report_is_the_single_processs(path: Path) -> None:
    """Both processes ran (no fallback) and the report is identical."""
    alone = analyze_captures([path], decode_mpdu, share=False)
    shared = analyze_captures([path], decode_mpdu, share=True)
    assert alone.share is Share.ALL
    assert shared.share is Share.MESH_ACTIONS and shared.strays == 0
    assert _report(shared) == _report(alone)


def test_a_damaged_capture_is_reported_alike(tmp_path: Path) -> None:
    """Cut in the middle of a record: both shares stop at the damage and
    name it; the frames before it are counted once."""
    source = ROOT / "pcaps" / "linux-kernel-chain-perr.pcap"
    data = source.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:len(data) * 2 // 3])
    alone = analyze_captures([cut], decode_mpdu, share=False)
    shared = analyze_captures([cut], decode_mpdu, share=True)
    assert alone.analysis.capture_error is not None
    assert shared.share is Share.MESH_ACTIONS
    assert _report(shared) == _report(alone)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damage=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 255)),
                       min_size=1, max_size=40))
def test_damaged_frames_are_reported_alike(tmp_path: Path, damage: list[tuple[int, int, int]]) -> None:
    """Frames of a real capture with octets overwritten and cut short (a
    Category turned into Mesh or out of it, elements broken): the shares
    still split the capture so that the report is the single process's."""
    source = ROOT / "pcaps" / "linux-kernel-chain-perr.pcap"
    frames = list(read_capture(source))
    records = [(f.timestamp, bytearray(f.data)) for f in frames]
    for which, where, value in damage:
        data = records[which % len(records)][1]
        if where % 7 == 0:
            del data[where % (len(data) + 1):]
        elif where % 7 in (1, 2) and len(data) > MGMT_HEADER_LEN:
            # The Category of an action frame: Mesh, or Self Protected.
            data[MGMT_HEADER_LEN] = (CATEGORY_MESH, CATEGORY_SELF_PROTECTED)[where % 7 - 1]
        elif data:
            data[where % len(data)] = value
    damaged = tmp_path / f"damaged-{abs(hash(tuple(damage)))}.pcap"
    write_pcap(damaged, ((t, bytes(d)) for t, d in records), frames[0].linktype)
    alone = analyze_captures([damaged], decode_mpdu, share=False)
    shared = analyze_captures([damaged], decode_mpdu, share=True)
    assert shared.share is Share.MESH_ACTIONS
    assert _report(shared) == _report(alone)


def test_a_failed_second_process_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The forked process dies before handing over: the capture is then
    analyzed by this process alone, with the same report."""
    source = ROOT / "pcaps" / "linux-kernel-chain-perr.pcap"
    analyze = host._analyze

    def failing(paths: Any, dissect: Any, fcs: str, progress: Any, unprotect: Any, each: Any,
                share: Share) -> Analyzer:
        if share is Share.THE_REST:
            raise RuntimeError("the second process fails")
        return analyze(paths, dissect, fcs, progress, unprotect, each, share)

    monkeypatch.setattr(host, "_analyze", failing)
    shared = analyze_captures([source], decode_mpdu, share=True)
    monkeypatch.setattr(host, "_analyze", analyze)
    assert shared.share is Share.ALL
    assert _report(shared) == _report(analyze_captures([source], decode_mpdu, share=False))


def test_sharing_is_chosen_for_one_large_capture_only(tmp_path: Path) -> None:
    """By default: one capture of SHARE_FROM_OCTETS or more is shared; a
    small one, several, or one to decrypt are not; asking to share what
    cannot be shared is refused."""
    source = ROOT / "pcaps" / "linux-kernel-chain-perr.pcap"
    frames = list(read_capture(source))
    records = [(f.timestamp, f.data) for f in frames]
    large = tmp_path / "large.pcap"
    span = records[-1][0] - records[0][0] + 1.0
    copies = host.SHARE_FROM_OCTETS // source.stat().st_size + 2
    write_pcap(large, ((t + k * span, d) for k in range(copies) for t, d in records), frames[0].linktype)
    assert large.stat().st_size >= host.SHARE_FROM_OCTETS
    assert analyze_captures([large], decode_mpdu).share is Share.MESH_ACTIONS
    assert analyze_captures([source], decode_mpdu).share is Share.ALL
    assert analyze_captures([large, source], decode_mpdu).share is Share.ALL
    assert analyze_captures([large], decode_mpdu, unprotect=lambda data, _: data).share is Share.ALL
    with pytest.raises(ValueError, match="only one capture"):
        analyze_captures([large, source], decode_mpdu, share=True)

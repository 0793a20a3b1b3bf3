"""Captures read from disk into one analysis (meshframes.analysis): each
file streamed frame by frame, several merged by time.

The verdict on frames the codec leaves alone comes from `dissect`, handed
in by the caller (the CLI passes the Scapy dissector, the definition).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from meshframes.analysis.frames import FrameDecode
from meshframes.analysis.run import Analyzer, merged
from meshframes.analysis.verdict import Dissector, Verdicts
from meshframes.hosts.pcap import CaptureStream


def analyze_captures(paths: Sequence[str | Path], dissect: Dissector, fcs: str = "auto",
                     progress: Callable[[int, int], None] | None = None,
                     unprotect: Callable[[bytes, int], bytes] | None = None,
                     each: Callable[[float, FrameDecode], None] | None = None) -> Analyzer:
    """Analyze one capture, or several of one run merged by time (frames
    then numbered in merged order, a frame heard twice counted once).
    `progress(done, total)` is called in octets of the files read, `each`
    with every counted frame's time and verdict."""
    streams = [CaptureStream(path, fcs) for path in paths]
    several = len(streams) > 1
    analyzer = Analyzer(" + ".join(str(p) for p in paths), Verdicts(dissect), unprotect)
    total = sum(s.size for s in streams)
    number = 0
    for n, (capture, item) in enumerate(merged(streams)):
        verdict = analyzer.add(item, index=number if several else None, capture=capture, dedup=several)
        if verdict is not None:
            number += 1
            if each is not None:
                each(item.timestamp, verdict)
        if progress is not None and n % 1024 == 0:
            progress(sum(s.position for s in streams), total)
    if progress is not None:
        progress(total, total)
    result = analyzer.analysis
    for stream in streams:
        for linktype, count in stream.linktypes.items():
            result.linktypes[linktype] += count
        result.skipped_other_linktypes += stream.skipped_other_linktypes
    result.fcs = "/".join(dict.fromkeys(s.fcs for s in streams))
    errors = [(s, s.error) for s in streams if s.error is not None]
    if errors:
        result.capture_error = "; ".join(str(e) if not several else f"{s.path}: {e}" for s, e in errors)
    return analyzer

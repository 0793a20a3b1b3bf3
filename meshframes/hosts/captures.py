"""Several captures of one run read as one: frames merged by time, the
same transmission heard by two recorders kept once (the rule of
meshframes.analysis.run)."""

from __future__ import annotations

from pathlib import Path

from meshframes.analysis.run import DuplicateFilter, merged
from meshframes.hosts.pcap import CapturedFrame, CaptureError, read_capture, strip_link


def merged_mpdus(paths: list[Path], fcs: str = "auto") -> tuple[list[tuple[int, int, float, bytes]], list[str]]:
    """Every trusted MPDU of the captures merged by time as (capture index,
    frame number in it from 1, time, MPDU), and the damage found in each file
    (the frames before it are kept). A frame another capture already gave
    within the duplicate window is left out. Raises OSError when a file
    cannot be read."""
    streams, damage = [], []
    for path in paths:
        frames: list[CapturedFrame] = []
        try:
            frames.extend(read_capture(path))
        except CaptureError as exc:
            damage.append(f"{path}: {exc}")
        streams.append([m for m in strip_link(frames, fcs)[0] if m.problem is None])
    out: list[tuple[int, int, float, bytes]] = []
    recent = DuplicateFilter()
    for capture, mpdu in merged(streams):
        if len(paths) > 1 and recent.heard_before(mpdu.data, mpdu.timestamp, capture):
            continue
        out.append((capture, mpdu.index + 1, mpdu.timestamp, mpdu.data))
    return out, damage

"""Several captures of one run read as one: frames merged by time, the
same transmission heard by two recorders kept once."""

from __future__ import annotations

import heapq
from pathlib import Path

from meshframes.hosts.pcap import CapturedFrame, CaptureError, read_capture, strip_link

# Two recorders hear one transmission within this time of each other.
SAME_TRANSMISSION_S = 1e-3
# Recent frames remembered for that check, whatever the capture's size.
RECENT_FRAMES = 4096


def merged_mpdus(paths: list[Path], fcs: str = "auto") -> tuple[list[tuple[int, int, bytes]], list[str]]:
    """Every trusted MPDU of the captures merged by time as (capture index,
    frame number in it from 1, MPDU), and the damage found in each file
    (the frames before it are kept). Identical bytes within
    SAME_TRANSMISSION_S are one frame (a retry sets the Retry bit, so it
    differs). Raises OSError when a file cannot be read."""
    streams, damage = [], []
    for position, path in enumerate(paths):
        frames: list[CapturedFrame] = []
        try:
            frames.extend(read_capture(path))
        except CaptureError as exc:
            damage.append(f"{path}: {exc}")
        mpdus = strip_link(frames, fcs)[0]
        streams.append([(m.timestamp, position, m.index + 1, m.data) for m in mpdus if m.problem is None])
    merged: list[tuple[int, int, bytes]] = []
    recent: dict[bytes, float] = {}
    for timestamp, capture, number, mpdu in heapq.merge(*streams):
        seen = recent.get(mpdu)
        if seen is not None and timestamp - seen < SAME_TRANSMISSION_S:
            continue
        recent[mpdu] = timestamp
        if len(recent) > RECENT_FRAMES:
            recent = {k: t for k, t in recent.items() if timestamp - t < SAME_TRANSMISSION_S}
        merged.append((capture, number, mpdu))
    return merged, damage

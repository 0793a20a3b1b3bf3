"""Captures read from disk into one analysis (meshframes.analysis): each
file streamed frame by frame, several merged by time.

The verdict on frames the codec leaves alone comes from `dissect`, handed
in by the caller (the CLI passes the Scapy dissector, the definition).

A large capture is shared between two processes when the machine has two
cores: both read the file, one judges the mesh action frames (most of a
mesh's air: HWMP) and finds the discoveries, the other judges every other
frame and follows the peering sessions and FastPay flows; the second
hands its totals and sections to the first (meshframes.analysis.run.Share).
Every frame is judged once, by one of them, and every section sees all
its frames in order, so the result is the one a single process gives.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
from collections.abc import Callable, Sequence
from pathlib import Path

from meshframes.analysis.frames import FrameDecode
from meshframes.analysis.run import Analyzer, Handover, Share, merged
from meshframes.analysis.verdict import Dissector, Verdicts, is_mesh_action
from meshframes.hosts.pcap import CaptureStream

# From this size on a capture is shared between two processes: below it
# the second process costs about what it saves.
SHARE_FROM_OCTETS = 4 << 20


def analyze_captures(paths: Sequence[str | Path], dissect: Dissector, fcs: str = "auto",
                     progress: Callable[[int, int], None] | None = None,
                     unprotect: Callable[[bytes, int], bytes] | None = None,
                     each: Callable[[float, FrameDecode], None] | None = None,
                     share: bool | None = None) -> Analyzer:
    """Analyze one capture, or several of one run merged by time (frames
    then numbered in merged order, a frame heard twice counted once).
    `progress(done, total)` is called in octets of the files read, `each`
    with every counted frame's time and verdict. `share`: analyze in two
    processes; by default when it pays (one capture of SHARE_FROM_OCTETS
    or more, nothing to decrypt, no `each`, two cores). The result is the
    same either way."""
    if share is None:
        share = len(paths) == 1 and unprotect is None and each is None and (os.cpu_count() or 1) >= 2
        with contextlib.suppress(OSError):
            share = share and Path(paths[0]).stat().st_size >= SHARE_FROM_OCTETS
    if share:
        if len(paths) != 1 or unprotect is not None or each is not None:
            raise ValueError("only one capture, with nothing to decrypt and no `each`, is shared")
        analyzer = _shared(paths[0], dissect, fcs, progress)
        if analyzer is not None:
            return analyzer
    return _analyze(paths, dissect, fcs, progress, unprotect, each, Share.ALL)


def _shared(path: str | Path, dissect: Dissector, fcs: str,
            progress: Callable[[int, int], None] | None) -> Analyzer | None:
    """The capture analyzed by this process (mesh actions) and a forked
    one (the rest); None when the other process failed or a frame went to
    the share whose sections do not read it: the caller then analyzes the
    capture alone."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(read)
            handover = _analyze([path], dissect, fcs, None, None, None, Share.THE_REST).handover()
            with os.fdopen(write, "wb") as out:
                pickle.dump(handover, out, protocol=pickle.HIGHEST_PROTOCOL)
            status = 0
        finally:
            # No interpreter teardown, no flushing of buffers the parent owns.
            os._exit(status)
    os.close(write)
    try:
        analyzer = _analyze([path], dissect, fcs, progress, None, None, Share.MESH_ACTIONS)
        with os.fdopen(read, "rb") as pipe:
            data = pipe.read()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return None
    other = pickle.loads(data)
    assert isinstance(other, Handover)
    analyzer.absorb(other)
    return None if analyzer.strays else analyzer


def _analyze(paths: Sequence[str | Path], dissect: Dissector, fcs: str,
             progress: Callable[[int, int], None] | None, unprotect: Callable[[bytes, int], bytes] | None,
             each: Callable[[float, FrameDecode], None] | None, share: Share) -> Analyzer:
    streams = [CaptureStream(path, fcs) for path in paths]
    several = len(streams) > 1
    analyzer = Analyzer(" + ".join(str(p) for p in paths), Verdicts(dissect), unprotect, share)
    # Which frames this share judges: is_mesh_action's answer it skips.
    skip = {Share.ALL: None, Share.MESH_ACTIONS: False, Share.THE_REST: True}[share]
    total = sum(s.size for s in streams)
    number = 0
    for n, (capture, item) in enumerate(merged(streams)):
        if progress is not None and n % 1024 == 0:
            progress(sum(s.position for s in streams), total)
        if skip is not None and is_mesh_action(item.data) is skip:
            continue
        verdict = analyzer.add(item, index=number if several else None, capture=capture, dedup=several)
        if verdict is not None:
            number += 1
            if each is not None:
                each(item.timestamp, verdict)
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

"""`meshframes analyze --json` against `tshark -T fields` extracting the
same fields, on one capture of our own frames (a short unsealed demo's
air, repeated shifted in time up to the frame count asked for). Each side
runs as its own process, rounds interleaved; the operating system reports
each process's CPU time and peak memory. `analyze` shares a capture this
large with a second process it forks (meshframes.hosts.analyze): the
kernel adds that process's CPU time to its parent's, and reports the
larger of the two peaks. Both must count the same frames of each kind
(our FastPay kinds are "other" to tshark, which has no dissector for
them)."""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshframes.hosts import tshark
from meshframes.hosts.pcap import read_capture, write_pcap

# The fields `analyze` reads for its tables: kinds, HWMP, peering.
TSHARK_FIELDS = (*tshark.KIND_FIELDS, "frame.time_epoch", "wlan.ta", "wlan.ra", "wlan.hwmp.pdid",
                 "wlan.hwmp.orig_sta", "wlan.hwmp.targ_sta", "wlan.hwmp.targ_sn", "wlan.hwmp.hopcount",
                 "wlan.hwmp.metric", "wlan.fixed.reason_code", "wlan.peering.local_id")
_KIB = 1024


@dataclass(frozen=True, slots=True)
class Process:
    wall: float
    cpu: float
    peak_mib: float
    output: str


def our_air(directory: Path, seed: int = 3) -> Path:
    """A short demo's air in the clear (an open mesh, end-to-end sealing
    off), so tshark reads what we read: beacons, peering, HWMP, FastPay."""
    from meshframes.sim.demo import Demo, DemoSpec

    pcap = directory / "air.pcap"
    Demo(directory / "stores", DemoSpec(seed=seed, clients=3, relays=4, duration=25.0, transfers_per_client=1,
                                        area=(80.0, 60.0), fail_at=8.0, seal=False, passphrase=None),
         pcap=pcap).run()
    return pcap


def repeated(source: Path, target: Path, frames: int) -> int:
    """`source`'s records again and again, each pass after the last in
    time, until `frames` are written; returns how many."""
    records = [(f.timestamp, f.data, f.linktype) for f in read_capture(source)]
    span = records[-1][0] - records[0][0] + 1.0

    def stream() -> Any:
        n = 0
        while n < frames:
            shift = (n // len(records)) * span
            timestamp, data, _ = records[n % len(records)]
            yield timestamp + shift, data
            n += 1

    return write_pcap(target, stream(), records[0][2])


def measure(argv: list[str], env: dict[str, str] | None = None) -> Process:
    """Run a process to its end (in `env`, else this one's environment):
    wall time, CPU time and peak memory (the kernel's own account of it,
    the children it waited for included), and what it printed."""
    with tempfile.TemporaryFile() as sink:
        wall = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, os.environ if env is None else env, file_actions=[
            (os.POSIX_SPAWN_DUP2, sink.fileno(), 1), (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)])
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - wall
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{argv[0]} exited {os.waitstatus_to_exitcode(status)}")
        sink.seek(0)
        output = sink.read().decode()
    return Process(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / _KIB, output)


def analyze_argv(pcap: Path) -> list[str]:
    return [sys.executable, "-c", "import sys; from meshframes.cli import main; sys.exit(main())",
            "analyze", "--json", str(pcap)]


def tshark_argv(pcap: Path) -> list[str]:
    return [tshark.binary(), "-r", str(pcap), "-T", "fields", *[a for f in TSHARK_FIELDS for a in ("-e", f)]]


def tshark_kinds(output: str) -> dict[str, int]:
    """Frames per kind from tshark's field lines (tshark.kind_of)."""
    counts: dict[str, int] = {}
    for line in output.splitlines():
        values = line.split("\t")
        frame = {name: [v for v in values[i].split(",") if v] for i, name in enumerate(tshark.KIND_FIELDS)}
        kind = tshark.kind_of(frame)
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def folded(by_kind: dict[str, int]) -> dict[str, int]:
    """Our kinds as tshark can tell them: it has no dissector for our
    FastPay header, so those frames are "other" to it."""
    out: dict[str, int] = {}
    for kind, count in by_kind.items():
        name = "other" if kind.startswith("fastpay-") else kind
        out[name] = out.get(name, 0) + count
    return out


def _rounds(samples: list[Process], frames: int) -> dict[str, Any]:
    rates = [frames / p.wall for p in samples]
    return {"median_frames_per_s": round(statistics.median(rates)), "min_frames_per_s": round(min(rates)),
            "max_frames_per_s": round(max(rates)),
            "cpu_median_frames_per_s": round(statistics.median(frames / p.cpu for p in samples)),
            "median_wall_s": round(statistics.median(p.wall for p in samples), 3),
            "median_cpu_s": round(statistics.median(p.cpu for p in samples), 3),
            "peak_mib": round(max(p.peak_mib for p in samples), 1)}


def run(pcap: Path, rounds: int = 3, tick: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """analyze and tshark on `pcap`, A B A B; the counts must agree."""
    ours: list[Process] = []
    theirs: list[Process] = []
    for _ in range(rounds):
        ours.append(measure(analyze_argv(pcap)))
        tick()
        theirs.append(measure(tshark_argv(pcap)))
        tick()
    result = json.loads(ours[-1].output)
    frames = result["frames"]
    their_kinds = tshark_kinds(theirs[-1].output)
    if sum(their_kinds.values()) != frames or their_kinds != folded(result["by_kind"]):
        raise RuntimeError(f"counts differ: analyze {result['by_kind']}, tshark {their_kinds}")
    analyze, other = _rounds(ours, frames), _rounds(theirs, frames)
    return {"frames": frames, "by_kind": result["by_kind"], "rounds": rounds, "analyze": analyze, "tshark": other,
            "ratio": round(analyze["median_frames_per_s"] / other["median_frames_per_s"], 3),
            "cpu_ratio": round(analyze["cpu_median_frames_per_s"] / other["cpu_median_frames_per_s"], 3)}




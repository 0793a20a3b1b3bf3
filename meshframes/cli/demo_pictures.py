"""What the demo's pictures show, taken from the finished run as plain
data (no matplotlib here), and the painter that draws them.

The painter's process starts with the run and loads matplotlib while the
simulation runs on the other core; once the run is over it forks, and the
two copies draw one picture each from its data (meshframes.cli.demo_plots,
run as a module), so the pictures cost the command about the time of the
slower one and matplotlib is loaded once."""

from __future__ import annotations

import importlib.util
import math
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from meshframes.codec.fastpay import MessageType
from meshframes.sim.demo import Demo, DemoSpec, Snapshot, TransferRecord

_KIND_GROUPS = {"beacon": "beacons", "peering-open": "peering", "peering-confirm": "peering",
                "peering-close": "peering", "preq": "HWMP", "prep": "HWMP", "perr": "HWMP", "rann": "HWMP",
                "fastpay-announce": "FastPay announce"}


@dataclass(frozen=True, slots=True)
class TopologyPicture:
    """The mesh at the instant the highlighted transfer started (the middle
    of the run if none is): its snapshot, each node's role ("authority",
    "client", None for a relay) and label ("A0", "C3"), the failed
    authorities, and the highlighted transfer with the (time, node) hops
    of the first order that reached each authority number."""

    spec: DemoSpec
    snapshot: Snapshot
    roles: dict[int, str | None]
    labels: dict[int, str]
    authorities: tuple[int, ...]
    record: TransferRecord | None
    order_paths: dict[int, list[tuple[float, int]]]


@dataclass(frozen=True, slots=True)
class TimelinePicture:
    """Every started transfer, the air's frames per virtual second by
    group of kinds, and the failed authority numbers."""

    spec: DemoSpec
    records: tuple[TransferRecord, ...]
    per_second: dict[str, list[int]]
    failed: tuple[int, ...]


def _highlight(demo: Demo) -> TransferRecord | None:
    """The transfer whose orders crossed the most hops, among those
    certified within a second (so the picture of one instant is true to
    every hop: nobody walks more than 3 m meanwhile)."""
    best, most = None, 0
    for record in demo.transfers():
        if record.certified is None or record.started is None or record.certified - record.started > 1.0:
            continue
        hops = max((len(h) for h in _order_paths(demo, record).values()), default=0)
        if hops > most:
            best, most = record, hops
    return best


def _order_paths(demo: Demo, record: TransferRecord) -> dict[int, list[tuple[float, int]]]:
    """Authority number -> (time, node) of each transmission of the first
    order of this transfer that reached it."""
    mesh = demo.mesh
    if record.started is None or record.certified is None:
        return {}
    payer = mesh.node(mesh.clients[record.payer]).mac
    where = {mesh.node(n).mac: i for i, n in enumerate(mesh.authorities)}
    paths: dict[int, list[tuple[float, int]]] = {}
    for traced in mesh.traced.values():
        if (traced.source != payer or traced.msg_type != MessageType.FASTPAY_ORDER or not traced.arrived
                or traced.destination not in where):
            continue
        sent = traced.hops[0].time
        if record.started <= sent <= record.certified:
            paths.setdefault(where[traced.destination], [(h.time, h.node) for h in traced.hops])
    return paths


def topology_picture(demo: Demo) -> TopologyPicture:
    mesh, spec = demo.mesh, demo.spec
    record = _highlight(demo)  # certified, so its start and certificate times are known
    at = record.started if record is not None and record.started is not None else spec.duration / 2
    return TopologyPicture(
        spec, demo.snapshot(at), {p.node: p.role for p in mesh.parties.values()},
        {p.node: f"{'A' if p.role == 'authority' else 'C'}{p.index}" for p in mesh.parties.values()},
        tuple(mesh.authorities), record, _order_paths(demo, record) if record is not None else {})


def timeline_picture(demo: Demo) -> TimelinePicture:
    spec = demo.spec
    bins = int(math.ceil(spec.duration))
    per_second: dict[str, list[int]] = {}
    # analyze names SAE's Authentication frames "other"; in a secure mesh
    # they are most of them.
    other = "other, SAE included" if spec.secure else "other"
    assert demo.air.per_second is not None
    for (second, kind), count in demo.air.per_second.items():
        kind = kind or other
        group = _KIND_GROUPS.get(kind, "FastPay messages" if kind.startswith("fastpay") else other)
        per_second.setdefault(group, [0] * bins)[min(bins - 1, second)] += count
    return TimelinePicture(spec, tuple(r for r in demo.transfers() if r.started is not None), per_second,
                           tuple(demo.failed))


class PictureError(RuntimeError):
    """The drawing process failed; the message ends with what it said."""


class Painter:
    """The drawing process (`python -m meshframes.cli.demo_plots`), started
    at once so that it loads matplotlib while the run goes on; `start`
    hands it the data of both pictures. `missing` says why there will be
    no pictures, when matplotlib is not installed."""

    def __init__(self) -> None:
        self.missing = None if importlib.util.find_spec("matplotlib") else "No module named 'matplotlib'"
        self._worker: subprocess.Popen[bytes] | None = None
        self._paths: dict[str, Path] = {}
        if self.missing is None:
            self._worker = subprocess.Popen([sys.executable, "-m", "meshframes.cli.demo_plots"],
                                            stdin=subprocess.PIPE, stderr=subprocess.PIPE)

    def start(self, demo: Demo, out: Path) -> None:
        """Hand the drawing process both pictures of the finished run,
        topology.png and timeline.png in `out`; it draws them in parallel
        while the caller goes on. `finish` waits for them."""
        self._paths = {"topology": out / "topology.png", "timeline": out / "timeline.png"}
        jobs = [(topology_picture(demo), self._paths["topology"]), (timeline_picture(demo), self._paths["timeline"])]
        worker = self._worker
        assert worker is not None and worker.stdin is not None
        with worker.stdin:
            pickle.dump(jobs, worker.stdin)

    def finish(self) -> dict[str, str]:
        """The pictures' paths once both are written; PictureError, with
        the last line it said, when a drawing failed."""
        worker = self._worker
        assert worker is not None and worker.stderr is not None
        with worker.stderr:
            said = worker.stderr.read()
        if worker.wait() != 0:
            lines = said.decode(errors="replace").strip().splitlines()
            raise PictureError(f"the drawing process failed (exit {worker.returncode})"
                               + (f": {lines[-1]}" if lines else ""))
        return {name: str(path) for name, path in self._paths.items()}

    def close(self) -> None:
        worker = self._worker
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()

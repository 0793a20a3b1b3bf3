"""What the demo's pictures show, taken from the finished run as plain
data (no matplotlib here), and the painter that draws them.

The painter's two processes start with the run and load matplotlib while
the simulation runs on the other core; once the run is over each draws
one picture from its data (meshframes.cli.demo_plots), so the pictures
cost the command about the time of the slower one."""

from __future__ import annotations

import importlib.util
import math
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
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
    assert demo.air.times is not None
    for t, kind in demo.air.times:
        kind = kind or other
        group = _KIND_GROUPS.get(kind, "FastPay messages" if kind.startswith("fastpay") else other)
        per_second.setdefault(group, [0] * bins)[min(bins - 1, int(t))] += 1
    return TimelinePicture(spec, tuple(r for r in demo.transfers() if r.started is not None), per_second,
                           tuple(demo.failed))


class Painter:
    """Two drawing processes, started (and loading matplotlib) at once.
    `missing` says why there will be no pictures, when matplotlib is not
    installed."""

    def __init__(self) -> None:
        self.missing = None if importlib.util.find_spec("matplotlib") else "No module named 'matplotlib'"
        self._pool: ProcessPoolExecutor | None = None
        self._started: list[Future[None]] = []
        if self.missing is None:
            # Spawned, not forked: the parent runs a progress thread. Two
            # tasks at once start both processes, each loading matplotlib.
            self._pool = ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_load)
            self._started = [self._pool.submit(_ready) for _ in range(2)]

    def draw(self, demo: Demo, out: Path) -> dict[str, str]:
        """topology.png and timeline.png in `out`, drawn in parallel."""
        assert self._pool is not None
        from meshframes.cli import demo_plots

        topology, timeline = out / "topology.png", out / "timeline.png"
        jobs = [self._pool.submit(demo_plots.draw_topology, topology_picture(demo), topology),
                self._pool.submit(demo_plots.draw_timeline, timeline_picture(demo), timeline)]
        for job in (*self._started, *jobs):
            job.result()
        return {"topology": str(topology), "timeline": str(timeline)}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


def _load() -> None:
    import meshframes.cli.demo_plots  # noqa: F401 - matplotlib loaded before the run ends


def _ready() -> None:
    """Nothing: a task whose only effect is a started process."""

"""`meshframes bench mesh` as work units: the figures of one scenario and
seed (latency per hop count, convergence, healing, throughput), and one
size of the FastPay scale run. Each unit runs in a process of its own
(concurrent.futures, one unit per process, so that a unit's peak memory
is its own), whatever the number of jobs; the results part of every unit
is a function of its seed, so the JSON is the same whatever the job
count. Costs (wall, CPU, memory) are this machine's and sit apart.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEMO = "demo"
# The stores' transactions are fsynced (synchronous=FULL); on a shared
# disk that is the wall time of a run, not its work. A memory filesystem
# where there is one.
MEMORY_FS = Path("/dev/shm")


def scratch() -> str | None:
    return str(MEMORY_FS) if MEMORY_FS.is_dir() and os.access(MEMORY_FS, os.W_OK) else None


@dataclass(frozen=True, slots=True)
class Unit:
    """One piece of work: the figures of `scenario` ("demo" or a node
    count) for `seed`, or (`scale`) one size of the scale run."""

    kind: str  # "figures" or "scale"
    scenario: str
    seed: int
    transfers: int = 100
    loads: tuple[int, ...] = (1, 2, 4, 8, 16)

    @property
    def label(self) -> str:
        what = "the demo's mesh" if self.scenario == DEMO else f"{self.scenario} nodes"
        return f"{'scale run' if self.kind == 'scale' else 'figures'}: {what}, seed {self.seed}"


def run_unit(unit: Unit) -> tuple[Unit, dict[str, Any], dict[str, Any]]:
    """Run one unit: (unit, results, costs)."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    if unit.kind == "scale":
        from meshframes.bench.scale import run_fastpay_scale

        done = run_fastpay_scale(int(unit.scenario), unit.transfers, unit.seed, workdir=scratch())
        return unit, done.results, done.costs
    results = _figures(unit)
    import resource

    costs = {"wall_s": round(time.perf_counter() - wall0, 2), "cpu_s": round(time.process_time() - cpu0, 2),
             "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    return unit, results, costs


def _figures(unit: Unit) -> dict[str, Any]:
    """Build the scenario once: converge (figure 2), latency by hops
    (figure 1; the demo's is its own run's, against the reach oracle), a
    relay fails (figure 3, and convergence after that change), then
    throughput as clients step up (figure 5)."""
    from meshframes.bench import latency
    from meshframes.bench.mesh import converge, demo_mesh, field_mesh, heal, latency_by_hops, throughput
    from meshframes.bench.scale import LINUX_DEFAULT_TTL, SCALE_ANNOUNCE_INTERVAL_S, field_ttl

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="meshframes-bench-mesh-", dir=scratch()) as tmp:
        if unit.scenario == DEMO:
            data = latency.Summary([latency.run_seed("default", unit.seed)]).as_dict()
            out["latency"] = {
                "overall_s": data["latency_s"], "by_hops_s": data["latency_by_hops_s"], "transfers": data["transfers"],
                "certified_from_start_s": sorted(r["certified_from_start"] for r in data["list"]
                                                 if r["certified_from_start"] is not None),
                "certified_from_reach_s": sorted(r["certified_from_reach"] for r in data["list"]
                                                 if r["certified_from_reach"] is not None)}
            mesh = demo_mesh(tmp, unit.seed, max(unit.loads))
            first_transfer = 0.0
        else:
            nodes = int(unit.scenario)
            ttl = max(LINUX_DEFAULT_TTL, field_ttl(nodes, unit.seed))
            mesh = field_mesh(nodes, ttl=ttl, announce_interval=SCALE_ANNOUNCE_INTERVAL_S)(tmp, unit.seed,
                                                                                          max(unit.loads))
            # Every party's first announcement is out by 1.5 s plus half the interval.
            first_transfer = 1.5 + SCALE_ANNOUNCE_INTERVAL_S / 2 + 1.0
        convergence = converge(mesh)
        mesh.net.run(max(mesh.net.now, first_transfer))
        if unit.scenario != DEMO:
            out["latency"] = latency_by_hops(mesh, unit.transfers)
        # Healing before throughput: the saturating load leaves every
        # client's queue full for the rest of the run.
        healing = heal(mesh)
        out["throughput"] = throughput(mesh, unit.loads).as_dict()
        mesh.close()
    out["convergence"] = {"power_on_s": convergence.power_on_s, "pairs_missing_at_limit": convergence.missing_at_limit,
                          "root_interval_s": round(convergence.root_interval_s, 4),
                          "after_relay_failure_s": healing.converged_s}
    out["healing"] = healing.as_dict()
    return out


def run_units(units: Sequence[Unit], jobs: int,
              finished: Callable[[Unit, dict[str, Any], dict[str, Any]], None]) -> None:
    """Run every unit, `jobs` at a time, each in a fresh process; report
    each as it finishes."""
    with ProcessPoolExecutor(max_workers=jobs, max_tasks_per_child=1) as pool:
        futures = [pool.submit(run_unit, unit) for unit in units]
        for future in as_completed(futures):
            finished(*future.result())

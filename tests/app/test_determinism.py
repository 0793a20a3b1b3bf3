"""Same seed, same run: the air (every frame, every reception set, every
delivery: the medium's digest) and every application event are identical
across runs and across processes with different hash seeds; another seed
gives another run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from meshframes.sim.scenario import FastPayMesh

from .ledger import Planned, check_ledger, schedule

PLAN = [Planned(0, 1, 10, 4.0), Planned(1, 2, 5, 4.0), Planned(2, 0, 7, 6.0), Planned(0, 2, 1, 8.0)]


def run(workdir: Path, seed: int) -> tuple[str, list[str], FastPayMesh]:
    """Moving nodes (random waypoint), one authority failing: every source
    of variation the demo has."""
    mesh = FastPayMesh(workdir, seed=seed, authorities=4, balances=[100, 100, 100])
    for add in [mesh.add_authority] * 4 + [mesh.add_client] * 3 + [mesh.add_relay] * 5:
        add(mesh.random_waypoint((90.0, 70.0), (1.0, 3.0)), radio_range=28.0)
    schedule(mesh, PLAN)
    mesh.fail(mesh.authorities[0], 10.0)
    mesh.run(40.0)
    mesh.close()
    return mesh.net.trace_digest(), [f"{n} {e!r}" for n, e in mesh.timeline.events], mesh


def test_same_seed_same_run_other_seed_other_run(tmp_path: Path) -> None:
    digest, events, mesh = run(tmp_path / "a", 4)
    check_ledger(mesh, PLAN)
    again, events_again, _ = run(tmp_path / "b", 4)
    assert (again, events_again) == (digest, events)
    assert run(tmp_path / "c", 5)[0] != digest


def test_same_digest_whatever_the_hash_seed(tmp_path: Path) -> None:
    """Set and dict orders of bytes keys change with PYTHONHASHSEED; the
    run must not."""
    here, _, _ = run(tmp_path / "here", 4)
    code = ("import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
            "from tests.app.test_determinism import run; print(run(Path(sys.argv[2]), 4)[0])")
    root = Path(__file__).resolve().parents[2]
    for hash_seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code, str(root), str(tmp_path / hash_seed)], check=True,
                             capture_output=True, text=True, env=os.environ | {"PYTHONHASHSEED": hash_seed})
        assert out.stdout.strip() == here

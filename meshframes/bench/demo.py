"""`meshframes demo` as this tree runs it against the same command at an
earlier revision of the project (by default 10e96a9, the code when the
demo's speed was taken up): the same seed, pictures on, each side its own
process, rounds interleaved, wall time and CPU time (the kernel's account,
the drawing processes included) of each.

Both trees are compiled to bytecode before the first round, so neither
pays the compiler on every run whatever PYTHONDONTWRITEBYTECODE says. The
earlier revision runs as it was installed then: when its pyproject.toml
does not depend on gmpy2, a module that refuses to import stands in for
it, since the `ecdsa` package would otherwise find it and do its
arithmetic faster than it did at that revision."""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import meshframes
from meshframes.bench.analyze import Process, measure

BASELINE_REVISION = "10e96a9"
_WITHOUT = 'raise ImportError("{name} was not a dependency of this revision")\n'


class BenchError(RuntimeError):
    """The comparison cannot run here; the message says why."""


def project_root(package: Path) -> Path:
    """The git checkout the package at `package` belongs to."""
    try:
        done = subprocess.run(["git", "-C", str(package), "rev-parse", "--show-toplevel"], capture_output=True,
                              text=True)
    except FileNotFoundError:
        raise BenchError("git is not installed: no earlier revision can be taken from the history") from None
    if done.returncode != 0:
        raise BenchError(f"the package at {package} is not in a git checkout of the project, so no earlier "
                         f"revision can be taken from its history: {done.stderr.strip() or 'git failed'}")
    return Path(done.stdout.strip())


def check_out(root: Path, revision: str, directory: Path) -> str:
    """The package and pyproject.toml of `revision` into `directory`;
    returns the revision's full commit id."""
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", f"{revision}^{{commit}}"],
                            capture_output=True, text=True)
    if commit.returncode != 0:
        raise BenchError(f"revision {revision!r} is not in the history of {root}")
    archive = subprocess.run(["git", "-C", str(root), "archive", "--format=tar", commit.stdout.strip(),
                              "meshframes", "pyproject.toml"], capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        # The archive is git's of our own history; the "data" filter, where
        # this Python has it, refuses anything but plain files anyway.
        if hasattr(tarfile, "data_filter"):
            tar.extractall(directory, filter="data")
        else:
            tar.extractall(directory)
    return commit.stdout.strip()


def compile_tree(package: Path) -> None:
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True,
                   env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""})


def demo_argv(out: Path, seed: int, duration: float | None) -> list[str]:
    # -P: the working directory (this checkout, perhaps) must not come
    # before the tree PYTHONPATH names.
    argv = [sys.executable, "-P", "-c", "import sys; from meshframes.cli import main; sys.exit(main())",
            "demo", "--seed", str(seed), "--out", str(out)]
    return argv + (["--duration", str(duration)] if duration is not None else [])


def _check_imports(env: dict[str, str], package: Path) -> None:
    """Each side must run the tree it names, not another one on the path."""
    found = subprocess.run([sys.executable, "-P", "-c", "import meshframes; print(meshframes.__file__)"],
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    if Path(found).resolve().parent != package.resolve():
        raise BenchError(f"meshframes imports from {found}, not from {package}")


def _timed(whose: str, argv: list[str], env: dict[str, str]) -> Process:
    """A run that fails (a transfer left unconfirmed exits 1) is no timing
    of the demo: the comparison stops and says whose run it was."""
    try:
        return measure(argv, env)
    except RuntimeError as error:
        raise BenchError(f"{whose} demo did not finish cleanly ({error}); a run too short for its "
                         "transfers to confirm exits 1") from None


def _side(samples: list[Process]) -> dict[str, Any]:
    walls = [p.wall for p in samples]
    return {"median_wall_s": round(statistics.median(walls), 3), "min_wall_s": round(min(walls), 3),
            "max_wall_s": round(max(walls), 3), "median_cpu_s": round(statistics.median(p.cpu for p in samples), 3),
            "wall_s": [round(w, 3) for w in walls]}


def run(rounds: int = 3, seed: int = 21, revision: str = BASELINE_REVISION, duration: float | None = None,
        tick: Callable[[str], None] = lambda what: None) -> dict[str, Any]:
    """`rounds` of the earlier revision's demo and this tree's, each
    earlier run followed by the current one; `tick` is told what ran."""
    current = Path(meshframes.__file__).resolve().parent
    root = project_root(current)
    with tempfile.TemporaryDirectory(prefix="meshframes-bench-demo-") as tmp:
        base = Path(tmp) / "baseline"
        commit = check_out(root, revision, base)
        path = [str(base)]
        without = []
        if "gmpy2" not in (base / "pyproject.toml").read_text():
            stand_in = Path(tmp) / "without"
            stand_in.mkdir()
            for name in ("gmpy2", "gmpy"):
                (stand_in / f"{name}.py").write_text(_WITHOUT.format(name=name))
            path.insert(0, str(stand_in))
            without.append("gmpy2")
        compile_tree(base / "meshframes")
        compile_tree(current)
        tick("compiled")
        earlier_env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
        current_env = {**os.environ, "PYTHONPATH": str(current.parent)}
        _check_imports(earlier_env, base / "meshframes")
        _check_imports(current_env, current)
        earlier: list[Process] = []
        now: list[Process] = []
        for k in range(rounds):
            earlier.append(_timed(f"{revision}'s", demo_argv(Path(tmp) / f"earlier-{k}", seed, duration),
                                  earlier_env))
            tick("earlier")
            now.append(_timed("this tree's", demo_argv(Path(tmp) / f"current-{k}", seed, duration), current_env))
            tick("current")
    before, after = _side(earlier), _side(now)
    return {"seed": seed, "duration": duration, "rounds": rounds, "revision": revision, "commit": commit,
            "baseline_without": without, "baseline": before, "current": after,
            "ratio": round(before["median_wall_s"] / after["median_wall_s"], 3),
            "cpu_ratio": round(before["median_cpu_s"] / after["median_cpu_s"], 3),
            "round_ratios": [round(e.wall / c.wall, 3) for e, c in zip(earlier, now, strict=True)]}

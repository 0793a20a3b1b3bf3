"""The walls between rooms (docs/architecture.md), checked on every module.

Engines (codec, mesh, fastpay, seal, app) own state and decide; they never
touch sockets, processes or presentation, and never reach into a host, the
simulator, the CLI or Scapy. Hosts, the simulator, the hwsim harness and
the benchmarks do I/O but draw nothing: click and rich belong to the CLI.

Two checks: every import statement of every module, found by walking the
packages with pkgutil (lazy imports inside functions included), and the
modules actually loaded by importing all of them in a fresh interpreter
(what they pull in transitively).
"""

from __future__ import annotations

import ast
import importlib.util
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import meshframes

# analysis reads captures the way an engine reads frames: from bytes it is
# handed, with nothing of its own to draw or to open.
ENGINES = ("codec", "mesh", "fastpay", "seal", "app", "analysis")
IO_ROOMS = ("hosts", "sim", "hwsim", "bench")
# What no engine may import: Scapy, presentation, and every I/O primitive
# that is a host's to own.
ENGINE_FORBIDDEN = ("scapy", "click", "rich", "socket", "select", "selectors", "subprocess", "asyncio",
                    "meshframes.layers", "meshframes.hosts", "meshframes.sim", "meshframes.hwsim",
                    "meshframes.bench", "meshframes.cli")
IO_FORBIDDEN = ("click", "rich", "meshframes.cli")
PACKAGE_ROOT = Path(meshframes.__file__).parent


def modules_of(room: str) -> list[str]:
    """Every module of meshframes.<room>, by walking the package."""
    package = importlib.import_module(f"meshframes.{room}")
    names = [package.__name__]
    names += [info.name for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
    return names


def imported_names(source: str, module: str, is_package: bool = False) -> list[str]:
    """Every module an import statement in `source` names, relative ones
    resolved against `module`."""
    package = module if is_package else module.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            names.append(stem)
            names += [f"{stem}.{alias.name}" for alias in node.names]
    return names


def violations(source: str, module: str, forbidden: tuple[str, ...], is_package: bool = False) -> list[str]:
    bad = []
    for name in imported_names(source, module, is_package):
        for root in forbidden:
            if name == root or name.startswith(root + "."):
                bad.append(f"{module} imports {name}")
    return sorted(set(bad))


def _source(module: str) -> tuple[str, bool]:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    return Path(spec.origin).read_text(), spec.submodule_search_locations is not None


def test_the_checker_catches_an_engine_importing_click() -> None:
    """A module that imports click, lazily or not, or reaches a host by a
    relative import, is reported: the contract can fail."""
    source = "import os\n\ndef draw():\n    import click\n    from ..hosts import base\n"
    assert violations(source, "meshframes.mesh.peers", ENGINE_FORBIDDEN) == [
        "meshframes.mesh.peers imports click", "meshframes.mesh.peers imports meshframes.hosts",
        "meshframes.mesh.peers imports meshframes.hosts.base"]
    assert violations("import clickhouse\n", "meshframes.mesh.peers", ENGINE_FORBIDDEN) == []


def room_violations(room: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for module in modules_of(room):
        source, is_package = _source(module)
        bad += violations(source, module, forbidden, is_package)
    return bad


@pytest.mark.parametrize("room", ENGINES)
def test_no_engine_module_imports_io_presentation_or_a_host(room: str) -> None:
    """Every module of the engine package (and of analysis), walked with pkgutil."""
    assert room_violations(room, ENGINE_FORBIDDEN) == []


@pytest.mark.parametrize("room", IO_ROOMS)
def test_hosts_simulator_and_benchmarks_leave_presentation_to_the_cli(room: str) -> None:
    assert room_violations(room, IO_FORBIDDEN) == []


def test_engines_load_nothing_forbidden_transitively() -> None:
    """Importing every engine module pulls in no Scapy, click, rich or
    socket, whatever they import in turn."""
    modules = [m for room in ENGINES for m in modules_of(room)]
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + "print(sorted(m for m in sys.modules if m.split('.')[0] in"
              " ('scapy', 'click', 'rich', '_socket', 'socket')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_module_belongs_to_a_room() -> None:
    """Nothing sits at the top of the package but its __init__: each
    module lives in the folder named for its concern."""
    loose = sorted(p.name for p in PACKAGE_ROOT.glob("*.py") if p.name != "__init__.py")
    assert loose == []
    rooms = sorted(p.name for p in PACKAGE_ROOT.iterdir() if (p / "__init__.py").exists())
    assert rooms == sorted(ENGINES + IO_ROOMS + ("layers", "cli"))


def test_engines_share_one_vocabulary() -> None:
    """No two engine modules define a class of the same name: one
    `SetTimer`, one `Refused`, one `TransferCertified`, each refusal enum
    under its own name."""
    defined: dict[str, list[str]] = {}
    for room in ENGINES:
        for module in modules_of(room):
            source, _ = _source(module)
            for node in ast.parse(source).body:
                if isinstance(node, ast.ClassDef):
                    defined.setdefault(node.name, []).append(module)
    assert {name: where for name, where in defined.items() if len(where) > 1} == {}

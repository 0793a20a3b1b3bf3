"""meshframes: FastPay payments over raw IEEE 802.11s mesh frames.

`import meshframes` is enough for plain Scapy to dissect 802.11s and our
FastPay frames, whatever is imported first: once any Scapy module has been
imported (`scapy.all`, or only `scapy.utils` for `rdpcap`, or
`scapy.sendrecv` for `sniff`), Scapy's 802.11 module is loaded, which binds
link types 105 and 127, and our layers register after it. Processes that
never load Scapy (engines on a radio, the simulator) never pay for it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

__version__ = "0.1.0"

_DOT11 = "scapy.layers.dot11"


def _is_scapy(name: str) -> bool:
    return name == "scapy" or name.startswith("scapy.")


class _ScapyWatcher(importlib.abc.MetaPathFinder):
    """Watches Scapy's modules load, and once the outermost of them has
    finished (every Scapy module it pulled in is then complete, so loading
    more cannot meet a half-initialised one), makes sure the 802.11 module
    is loaded and our layers are registered, then steps aside."""

    def __init__(self) -> None:
        self.depth = 0
        self.settling = False

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if not _is_scapy(fullname):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _CountingLoader(spec.loader, self)
                return spec
        return None

    def finished_one(self) -> None:
        if self.depth == 0 and not self.settling:
            self.settling = True
            try:
                _settle()
            finally:
                self.settling = False


class _CountingLoader(importlib.abc.Loader):
    """Runs a Scapy module's own loader, counting how deep Scapy's imports
    are nested, and puts the module's own loader back once it is done."""

    def __init__(self, wrapped: importlib.abc.Loader, watcher: _ScapyWatcher) -> None:
        self.wrapped = wrapped
        self.watcher = watcher

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.wrapped.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.watcher.depth += 1
        try:
            self.wrapped.exec_module(module)
        finally:
            self.watcher.depth -= 1
            module.__loader__ = self.wrapped
            if module.__spec__ is not None:
                module.__spec__.loader = self.wrapped
        self.watcher.finished_one()


_watcher = _ScapyWatcher()


def _settle() -> None:
    """Scapy is loaded: load its 802.11 module if nothing has yet, register
    our layers, and stop watching."""
    importlib.import_module(_DOT11)
    importlib.import_module("meshframes.layers")
    if _watcher in sys.meta_path:
        sys.meta_path.remove(_watcher)


if any(_is_scapy(name) for name in list(sys.modules)):
    _settle()
else:
    sys.meta_path.insert(0, _watcher)

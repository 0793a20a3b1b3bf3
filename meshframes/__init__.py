"""meshframes: FastPay payments over raw IEEE 802.11s mesh frames.

`import meshframes` is enough for plain Scapy to dissect 802.11s and our
FastPay frames: the layers register themselves with Scapy as soon as Scapy's
802.11 module is loaded, before or after this import. Processes that never
load Scapy (engines on a radio, the simulator) never pay for it.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

__version__ = "0.1.0"

_DOT11 = "scapy.layers.dot11"


def _register_layers() -> None:
    importlib.import_module("meshframes.layers")


class _RegisterAfterDot11(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds scapy.layers.dot11 through the normal path, then registers our
    layers right after it has executed."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname != _DOT11:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return None
        self._wrapped = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._wrapped.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._wrapped.exec_module(module)
        sys.modules[_DOT11] = module
        _register_layers()


if _DOT11 in sys.modules:
    _register_layers()
else:
    sys.meta_path.insert(0, _RegisterAfterDot11())

"""The cyclic garbage collector during bulk work in this process.

A simulation or a capture's analysis keeps many objects alive (path and
peer tables, per-node counters, the report being built) and allocates
millions of short-lived acyclic ones (frames, actions, verdicts). With
Python's thresholds (700, 10, 10) the collector walks the young
generations every 700 allocations and the whole heap every few seconds of
CPU, finding little: 10 % of the CPU time of a 2,000-node scale run, 4 %
of `analyze --json` on 100k frames. Cycles are still collected, only less
often, and what was built before the work starts is never walked again.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

BULK_GC_THRESHOLDS = (100_000, 50, 100)


@contextmanager
def fewer_collections(*, keep_frozen: bool = False) -> Iterator[None]:
    """Freeze what exists and run with BULK_GC_THRESHOLDS; then put the
    thresholds back and let the frozen objects be collected again. With
    `keep_frozen`, for a command that ends soon after the work, what
    exists then is frozen too: put back as it was, the next allocation
    would start a collection of the whole heap the work built (0.04 s
    after a demo, more later) for objects that live until the exit."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*BULK_GC_THRESHOLDS)
    try:
        yield
    finally:
        if keep_frozen:
            gc.freeze()
        else:
            gc.unfreeze()
        gc.set_threshold(*before)


def leave_heap_to_exit() -> None:
    """For a command whose work is done and whose files are closed: freeze
    the heap, so that the interpreter's last collection at exit does not
    walk the run's millions of objects (0.2 s after a demo) only for the
    operating system to free them at once."""
    gc.freeze()

"""The cyclic collector's settings around bulk work (meshframes.hosts.collector)."""

from __future__ import annotations

import gc

from meshframes.hosts.collector import BULK_GC_THRESHOLDS, fewer_collections


def _collectable() -> set[int]:
    """Objects the collector's generations hold (frozen ones are in none)."""
    return {id(o) for generation in range(3) for o in gc.get_objects(generation=generation)}


def test_the_work_runs_with_bulk_thresholds_and_they_are_put_back() -> None:
    before = gc.get_threshold()
    try:
        with fewer_collections():
            assert gc.get_threshold() == BULK_GC_THRESHOLDS
            assert gc.get_freeze_count() > 0
            built = [[i] for i in range(1000)]
        assert gc.get_threshold() == before and gc.get_freeze_count() == 0
        assert id(built[0]) in _collectable()
    finally:
        gc.unfreeze()


def test_keep_frozen_leaves_what_the_work_built_out_of_the_next_collections() -> None:
    """A command that ends soon after its work keeps the work's objects
    frozen: the first collection after it does not walk them."""
    before = gc.get_threshold()
    try:
        with fewer_collections(keep_frozen=True):
            built = [[i] for i in range(1000)]
        assert gc.get_threshold() == before
        assert not {id(b) for b in built} & _collectable()
    finally:
        gc.unfreeze()

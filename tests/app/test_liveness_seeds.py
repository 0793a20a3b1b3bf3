"""Liveness on sparse moving meshes: the demo's world (4 authorities, one
switched off at 30 s, 6 clients, 14 relays, random waypoint in 150 x 120 m,
ranges 25-30 m) under seeds whose partitions leave an authority behind on
confirmations. Given the time to meet again, every transfer completes and
no money is made or lost. Before lagging authorities were caught up when
they answered with a vote for an older order, and before lost catch-up help
was given again, some transfers stalled for good under these seeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.sim.demo import Demo, DemoSpec


@pytest.mark.parametrize("seed", [2, 3, 5])
def test_every_transfer_completes_given_time(tmp_path: Path, seed: int) -> None:
    # An open mesh: FastPay's liveness is what is measured, on the walks a
    # secure run has too, at half the cost of SAE and CCMP on every hop.
    demo = Demo(tmp_path, DemoSpec(seed=seed, duration=300.0, relays=14, fail_at=30.0, passphrase=None))
    demo.run()
    records = demo.transfers()
    assert len(records) == 18
    stalled = [r for r in records if r.confirmed is None or r.credited is None]
    assert stalled == []
    genesis = demo.spec.clients * demo.spec.balance
    assert set(demo.money().values()) == {genesis}

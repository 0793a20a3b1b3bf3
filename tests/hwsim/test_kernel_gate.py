"""Linux's gate announcements reach our node: a kernel root with
`mesh_gate_announcements` on sets the gate bit in its RANNs
(mesh_hwmp.c), a kernel relay forwards them, and our node lists the root
as a gate, two hops away, heard through the relay (meshframes.mesh.gates)."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.hosts import tshark
from meshframes.hwsim.scenarios import OUTSIDE_STATION, Recording, kernel_gate

from . import recorded

pytestmark = pytest.mark.hwsim
gate = recorded(kernel_gate)


def test_our_node_lists_the_kernel_gate(gate: tuple[Recording, Path]) -> None:
    recording, path = gate
    n0, n1, _, _ = recording.nodes
    known = recording.states["u2"]["gates"]
    assert set(known) == {n0.mac}
    assert known[n0.mac]["source"] == "rann"
    assert known[n0.mac]["hop_count"] == 2
    assert known[n0.mac]["heard_from"] == n1.mac
    # The kernel's own RANNs, read by tshark, carry the gate bit (flags bit 0).
    rows = tshark.fields(path, ["wlan.ta", "wlan.tag.number", "wlan.rann.flags", "wlan.rann.root_sta"])
    flags = [int(r["wlan.rann.flags"][0], 0) for r in rows if r["wlan.rann.root_sta"] == [n0.mac]]
    assert flags and all(f & 1 for f in flags)


def test_data_for_a_station_outside_the_mesh_reaches_the_kernel_gate(gate: tuple[Recording, Path]) -> None:
    """u2's frames for OUTSIDE_STATION, once its discovery gave up, go to the
    gate n0 with the end-to-end addresses in A5/A6; Linux's relay n1
    forwards them unchanged but for the hop addresses, and Linux's gate
    hands them up (its interface counts them) and learns u2 as the proxy of
    their source (`iw mpp dump`), which it does only after reading our
    Address Extension."""
    recording, path = gate
    n0, n1, u2, _ = recording.nodes
    rows = tshark.fields(path, ["wlan.ta", "wlan.ra", "wlan.da", "wlan.fixed.mesh_flags", "wlan.fixed.mesh_addr5",
                                "wlan.fixed.mesh_addr6"])
    hops = [(r["wlan.ta"][0], r["wlan.ra"][0]) for r in rows if r["wlan.fixed.mesh_addr5"] == [OUTSIDE_STATION]]
    assert hops.count((u2.mac, n1.mac)) >= 3 and hops.count((n1.mac, n0.mac)) >= 3, hops
    for r in rows:
        if r["wlan.fixed.mesh_addr5"] == [OUTSIDE_STATION]:
            assert r["wlan.da"] == [n0.mac] and r["wlan.fixed.mesh_addr6"] == [u2.mac]
            assert int(r["wlan.fixed.mesh_flags"][0], 0) & 0x03 == 2
    assert recording.states["n0"]["rx_packets"] >= 3
    assert u2.mac in recording.states["n0"]["mpp"]
    assert recording.states["u2"]["counters"].get("discovery-failed-frame-dropped", 0) == 0

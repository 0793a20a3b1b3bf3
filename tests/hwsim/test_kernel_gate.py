"""Linux's gate announcements reach our node: a kernel root with
`mesh_gate_announcements` on sets the gate bit in its RANNs
(mesh_hwmp.c), a kernel relay forwards them, and our node lists the root
as a gate, two hops away, heard through the relay (meshframes.mesh.gates)."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.hosts import tshark
from meshframes.hwsim.scenarios import Recording, kernel_gate

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

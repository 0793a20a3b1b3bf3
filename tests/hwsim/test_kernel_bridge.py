"""Linux mesh points bridging hosts that are not mesh stations, live: the
host behind n0 pings the host behind n2 across the mesh; the kernel uses
Mesh Control address extension and learns proxy paths; our decoder reads
every frame with tshark's counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.codec import decode
from meshframes.hosts import tshark
from meshframes.hosts.pcap import mpdus
from meshframes.hwsim.scenarios import BRIDGED_HOSTS, Recording, kernel_bridge
from meshframes.layers.dissect import analyze

from . import recorded

pytestmark = pytest.mark.hwsim
bridge = recorded(kernel_bridge)


def test_hosts_reach_each_other_through_proxy_paths(bridge: tuple[Recording, Path]) -> None:
    recording, _ = bridge
    n0, _, n2, _ = recording.nodes
    assert recording.delivered == {"pings": 3}
    assert f"{BRIDGED_HOSTS[2][1]} {n2.mac}" in recording.states["n0"]["mpp"]
    assert f"{BRIDGED_HOSTS[0][1]} {n0.mac}" in recording.states["n2"]["mpp"]


def test_address_extension_frames_decode_with_tshark_s_counts(bridge: tuple[Recording, Path]) -> None:
    result, _ = analyze(bridge[1])
    assert result.undecoded == [] and result.malformed == []
    assert dict(result.by_kind) == tshark.counts_by_kind(bridge[1])
    modes = {f.mesh_control.flags & 0x03 for f in (decode(m) for _, m, _ in mpdus(bridge[1]))
             if getattr(f, "mesh_control", None) is not None}
    assert modes >= {1, 2}

"""Interop groundwork: a Linux kernel mesh point peers with a radio whose
802.11 stack is ours (the kernel's interface removed, an active monitor
driven by meshframes.radio.monitor). Until the peering engine runs here, a
scripted peer answers with Linux-captured Open/Confirm bodies, addresses and
link IDs rewritten; the point is the path an engine will use: our frames
reach the kernel, are acknowledged, and the kernel's replies reach us."""

from __future__ import annotations

import pytest

from tools.hwsim import Guest
from tools.hwsim.framesets import SHARED_PCAPS, capture_frames, kind_of

pytestmark = pytest.mark.hwsim
PROBES = "tools.hwsim.probes"
MESH_ID = "meshframes-open"  # the mesh the captured frames were built for


def test_kernel_mesh_point_shows_our_radio_as_estab(hwsim_guest: Guest) -> None:
    frames = capture_frames(SHARED_PCAPS / "linux" / "linux-open-2node.pcap")
    open_frame = next(f for f in frames if kind_of(f) == "peering-open")
    confirm_frame = next(f for f in frames if kind_of(f) == "peering-confirm")
    kernel, ours = hwsim_guest.reset_radios(2)
    kernel.mesh_join(MESH_ID)
    monitor = ours.make_userspace()
    ours.call(f"{PROBES}:monitor_open", monitor)
    result = ours.call(f"{PROBES}:scripted_peering", monitor, kernel.mac_bytes,
                       open_frame, confirm_frame)
    assert result["seen"][:1] == ["peering-open"] and "peering-confirm" in result["seen"]
    assert [(r.ra, r.acked) for r in result["tx_reports"]] == [(kernel.mac_bytes, True)] * 2
    station = kernel.wait_plink(ours, "ESTAB", timeout=10.0)
    assert int(station.fields["mesh plid"]) == result["our_llid"]
    assert int(station.fields["mesh llid"]) == result["peer_llid"]
    assert station.fields["tx failed"] == "0"

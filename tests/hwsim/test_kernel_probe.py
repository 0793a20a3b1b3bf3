"""Our probe of an unheard neighbour against Linux: our node u1 starts
between two beacons of a kernel mesh point n0 (5000 TU apart) and sends
n0 the Probe Request it sends a station whose beacon it never heard. The
kernel answers it (ieee80211_mesh_rx_probe_req), and u1 peers on the
answer as it would on a beacon (mac80211 takes a mesh Probe Response like
a beacon too, mesh_rx_bcn_presp): what the simulator's
`probe_unknown_neighbours` relies on, here with the kernel on the other
side. Every fact is read from the recording by tshark."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.hwsim import tshark
from meshframes.hwsim.radios import DEFAULT_MESH_ID
from meshframes.hwsim.scenarios import Recording, kernel_probe

from . import recorded

pytestmark = pytest.mark.hwsim

FIELDS = (*tshark.FIELDS, "frame.time_relative", "wlan.mesh.id", "wlan.mesh.config.ps_protocol")

probe = recorded(kernel_probe)


@pytest.fixture(scope="module")
def frames(probe: tuple[Recording, Path]) -> list[dict[str, str]]:
    return tshark.rows(probe[1], FIELDS)


def _macs(recording: Recording) -> tuple[str, str]:
    n0, u1, _ = recording.nodes
    return n0.mac, u1.mac


def _first(frames: list[dict[str, str]], kind: str, ta: str, ra: str | None = None) -> int:
    """The place in `frames` of the first frame of `kind` from `ta` (to `ra`)."""
    return next(i for i, row in enumerate(frames) if tshark.kind(row) == kind and row["wlan.ta"] == ta
                and (ra is None or row["wlan.ra"] == ra))


def test_our_first_frame_is_a_probe_request_to_the_kernel(probe: tuple[Recording, Path],
                                                           frames: list[dict[str, str]]) -> None:
    """u1 speaks first with a Probe Request addressed to n0 alone, naming
    the mesh it looks for."""
    n0, u1 = _macs(probe[0])
    ours = [row for row in frames if row["wlan.ta"] == u1]
    assert tshark.kind(ours[0]) == "probe-req"
    assert ours[0]["wlan.ra"] == n0
    assert ours[0]["wlan.mesh.id"] == DEFAULT_MESH_ID


def test_the_kernel_answers_with_its_mesh_elements(probe: tuple[Recording, Path],
                                                    frames: list[dict[str, str]]) -> None:
    """n0 sends u1 a Probe Response with its Mesh ID and Mesh Configuration
    after our request."""
    n0, u1 = _macs(probe[0])
    asked = _first(frames, "probe-req", u1, n0)
    answered = _first(frames, "probe-resp", n0, u1)
    assert answered > asked
    row = frames[answered]
    assert row["wlan.mesh.id"] == DEFAULT_MESH_ID
    assert row["wlan.mesh.config.ps_protocol"] != ""


def test_we_peer_on_the_answer_before_any_beacon_of_the_kernel(probe: tuple[Recording, Path],
                                                                frames: list[dict[str, str]]) -> None:
    """u1's first Open to n0 follows n0's Probe Response and comes before
    any Open of n0's and before any beacon of n0's after u1 first spoke:
    the answer alone made u1 peer. Both sides end in ESTAB."""
    recording = probe[0]
    n0, u1 = _macs(recording)
    started = _first(frames, "probe-req", u1, n0)
    answered = _first(frames, "probe-resp", n0, u1)
    opened = _first(frames, "peering-open", u1, n0)
    assert answered < opened
    assert all(not (tshark.kind(row) == "peering-open" and row["wlan.ta"] == n0) for row in frames[:opened])
    assert all(not (tshark.kind(row) == "beacon" and row["wlan.ta"] == n0) for row in frames[started:opened])
    assert recording.states["u1"]["peers"][n0]["state"] == "ESTAB"
    assert recording.states["n0"]["stations"][u1].plink == "ESTAB"

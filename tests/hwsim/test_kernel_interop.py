"""Interop with Linux: our userspace node u2 (MeshNode over an active
monitor) at the end of a chain of kernel mesh points n0 - n1 - u2, shaped
by hwsim groups so that n0 and u2 never hear each other. The kernel must
take u2 for a mesh STA like itself: peer with it, find it with HWMP (our
PREP answering its PREQ), forward data to it, and carry u2's data on.

What the kernel refused on the way (docs and engine fix): our first Open
was answered with a Close, reason 54, because Linux's mesh_matches_local
requires the peer's basic rate set to be its own (1 Mb/s on 2.4 GHz) and
ours was the OFDM set; see tests/mesh/test_plink.py for the fix's test."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.hwsim import tshark
from meshframes.hwsim.scenarios import ENVELOPE, LLC_SNAP_FASTPAY, Recording, kernel_interop

from . import recorded

pytestmark = pytest.mark.hwsim
BROADCAST = "ff:ff:ff:ff:ff:ff"


interop = recorded(kernel_interop)


@pytest.fixture(scope="module")
def frames(interop: tuple[Recording, Path]) -> list[dict[str, str]]:
    return tshark.rows(interop[1])


def _macs(recording: Recording) -> tuple[str, str, str]:
    n0, n1, u2, _ = recording.nodes
    return n0.mac, n1.mac, u2.mac



def test_kernel_shows_our_node_as_an_established_peer(interop: tuple[Recording, Path]) -> None:
    """`iw dev wlan1 station dump` on n1 lists u2 with mesh plink ESTAB, the
    link ids crossed with ours, and no failed transmission to us (hwsim
    acknowledged every frame through our active monitor)."""
    recording = interop[0]
    n0, n1, u2 = _macs(recording)
    station = recording.states["n1"]["stations"][u2]
    ours = recording.states["u2"]["peers"]
    assert station.plink == "ESTAB" and ours[n1]["state"] == "ESTAB"
    assert (int(station.fields["mesh llid"]), int(station.fields["mesh plid"])) == (
        ours[n1]["plid"], ours[n1]["llid"])
    assert station.fields["tx failed"] == "0"
    assert n0 not in ours


def test_kernel_finds_us_with_hwmp(interop: tuple[Recording, Path],
                                   frames: list[dict[str, str]]) -> None:
    """n0's PREQ for u2 goes out from n0 and again from n1; our PREP goes
    to n1 and the kernel forwards it to n0, whose path table then holds
    u2 two hops away through n1 (`iw dev wlan0 mpath dump`)."""
    recording = interop[0]
    n0, n1, u2 = _macs(recording)
    for transmitter in (n0, n1):
        assert tshark.count(frames, "preq", ta=transmitter, ra=BROADCAST,
                            **{"hwmp.orig_sta": n0, "hwmp.targ_sta": u2}) >= 1
    assert tshark.count(frames, "prep", ta=u2, ra=n1) >= 1
    assert tshark.count(frames, "prep", ta=n1, ra=n0) >= 1
    path = recording.states["n0"]["mpaths"][u2]
    assert (path.next_hop, path.hop_count, path.active) == (n1, 2, True)
    assert recording.states["n1"]["mpaths"][u2].next_hop == u2


def test_kernel_forwards_data_to_us(interop: tuple[Recording, Path],
                                    frames: list[dict[str, str]]) -> None:
    """Every envelope n0's mesh interface sent reaches our node, relayed by
    n1 as four-address mesh data from n0 to u2, and our node delivers its
    LLC/SNAP body (ethertype 0x88B5) intact."""
    recording = interop[0]
    n0, n1, u2 = _macs(recording)
    assert recording.delivered["n0->u2"] == 3
    bodies = [d["body"] for d in recording.states["u2"]["deliveries"] if d["kind"] == "data"]
    assert bodies == [LLC_SNAP_FASTPAY + ENVELOPE + b" to u2 " + bytes([i]) for i in range(3)]
    assert tshark.count(frames, "mesh-data", ta=n1, ra=u2, sa=n0, da=u2) == 3


def test_kernel_forwards_our_data(interop: tuple[Recording, Path],
                                  frames: list[dict[str, str]]) -> None:
    """Mesh data our node originates towards n0 goes to n1, which forwards
    it; n0's kernel hands each payload to its mesh interface as coming from
    u2."""
    recording = interop[0]
    n0, n1, u2 = _macs(recording)
    assert recording.delivered["u2->n0"] == 3
    assert tshark.count(frames, "mesh-data", ta=u2, ra=n1, sa=u2, da=n0) == 3
    assert tshark.count(frames, "mesh-data", ta=n1, ra=n0, sa=u2, da=n0) == 3


def test_tshark_and_our_analyzer_read_every_frame(interop: tuple[Recording, Path],
                                                  frames: list[dict[str, str]]) -> None:
    """Nothing malformed to tshark or to our analyzer, and both count the
    peering, HWMP and data frames alike."""
    from meshframes.layers.dissect import analyze

    assert [row["frame.number"] for row in frames if row["_ws.malformed"]] == []
    analysis, _ = analyze(interop[1])
    assert analysis.malformed == [] and analysis.undecoded == []
    kinds = ("beacon", "peering-open", "peering-confirm", "preq", "prep", "perr", "mesh-data")
    theirs = tshark.kinds(interop[1])
    assert {kind: analysis.by_kind[kind] for kind in kinds} == {kind: theirs[kind] for kind in kinds}

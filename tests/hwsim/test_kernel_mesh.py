"""Linux kernel mesh points on hwsim radios, recorded by a fourth radio:
three open-mesh nodes in a chain (n0 - n1 - n2, the n0-n2 link blocked)
beacon, peer, discover a two-hop path, forward data both ways, and, once n2
vanishes silently, n1's PERR reaches n0. tshark counts every phase in the
recording; our own decoder must agree once the layers are merged."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from meshframes.hwsim import tshark
from meshframes.hwsim.scenarios import Recording, kernel_chain_perr

from . import recorded

pytestmark = pytest.mark.hwsim
BROADCAST = "ff:ff:ff:ff:ff:ff"
KINDS_COUNTED = ("beacon", "peering-open", "peering-confirm", "preq", "prep", "perr", "mesh-data")


chain = recorded(kernel_chain_perr)


@pytest.fixture(scope="module")
def frames(chain: tuple[Recording, Path]) -> list[dict[str, str]]:
    return tshark.rows(chain[1])


def _macs(chain: tuple[Recording, Path]) -> tuple[str, str, str]:
    n0, n1, n2, _ = chain[0].nodes
    return n0.mac, n1.mac, n2.mac



def test_messages_cross_two_kernel_routed_hops(chain: tuple[Recording, Path]) -> None:
    """Every FastPay payload sent between the chain's ends arrives."""
    assert chain[0].delivered == {"n0->n2": 3, "n2->n0": 3}


def test_every_node_beacons_and_only_neighbours_peer(chain: tuple[Recording, Path],
                                                     frames: list[dict[str, str]]) -> None:
    """Beacons from all three mesh points; peering Open and Confirm in both
    directions of each chain link, and none across the blocked link."""
    n0, n1, n2 = _macs(chain)
    assert {row["wlan.ta"] for row in frames if tshark.kind(row) == "beacon"} >= {n0, n1, n2}
    for a, b in ((n0, n1), (n1, n0), (n1, n2), (n2, n1)):
        for kind in ("peering-open", "peering-confirm"):
            assert tshark.count(frames, kind, ta=a, ra=b) >= 1, f"no {kind} from {a} to {b}"
    across = [row for row in frames if tshark.kind(row).startswith("peering")
              and {row["wlan.ta"], row["wlan.ra"]} == {n0, n2}]
    assert across == []


def test_path_discovery_crosses_the_middle_node(chain: tuple[Recording, Path],
                                                frames: list[dict[str, str]]) -> None:
    """n0's PREQ for n2 is broadcast by n0 and again by n1; n2's PREP comes
    back hop by hop, n2 to n1 to n0."""
    n0, n1, n2 = _macs(chain)
    for transmitter in (n0, n1):
        assert tshark.count(frames, "preq", ta=transmitter, ra=BROADCAST,
                            **{"hwmp.orig_sta": n0, "hwmp.targ_sta": n2}) >= 1
    assert tshark.count(frames, "prep", ta=n2, ra=n1) >= 1
    assert tshark.count(frames, "prep", ta=n1, ra=n0) >= 1


def test_middle_node_forwards_mesh_data(chain: tuple[Recording, Path],
                                        frames: list[dict[str, str]]) -> None:
    """n1 relays each message: mesh data with n1 as transmitter, the far
    ends as source and destination."""
    n0, n1, n2 = _macs(chain)
    assert tshark.count(frames, "mesh-data", ta=n1, ra=n2, sa=n0, da=n2) >= 3
    assert tshark.count(frames, "mesh-data", ta=n1, ra=n0, sa=n2, da=n0) >= 3


def test_vanished_next_hop_brings_a_perr(chain: tuple[Recording, Path],
                                         frames: list[dict[str, str]]) -> None:
    """After n2 goes silent, n1 broadcasts a PERR naming n2."""
    n0, n1, n2 = _macs(chain)
    assert tshark.count(frames, "perr", ta=n1, ra=BROADCAST, **{"hwmp.targ_sta": n2}) >= 1


def test_tshark_finds_nothing_malformed(frames: list[dict[str, str]]) -> None:
    """tshark, the oracle, dissects every frame the kernel sent."""
    assert [row["frame.number"] for row in frames if row["_ws.malformed"]] == []


def test_our_decoder_agrees_with_tshark(chain: tuple[Recording, Path]) -> None:
    """Our layers decode every frame of the recording, and count each kind
    exactly as tshark does."""
    from meshframes.layers.dissect import analyze

    analysis, _ = analyze(chain[1])
    assert analysis.malformed == []
    assert analysis.undecoded == []
    ours = Counter({kind: analysis.by_kind[kind] for kind in KINDS_COUNTED})
    theirs = tshark.kinds(chain[1])
    assert ours == Counter({kind: theirs[kind] for kind in KINDS_COUNTED})

"""Linux's proactive HWMP live: open kernel mesh points n0 - n1 - n2, n0 a
root in modes 4 (RANN), 3 and 2 (proactive PREQ with and without PREP) in
turn, a fourth radio recording. Traffic reaches the root; our decoder
reads every frame with tshark's counts; our engine, given what the relay
n1 heard, does what Linux's n1 did."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.hosts import tshark
from meshframes.hwsim.scenarios import Recording, kernel_root
from meshframes.layers.dissect import analyze
from meshframes.sim.replay import replay

from . import recorded

pytestmark = pytest.mark.hwsim
root = recorded(kernel_root)


def test_traffic_reaches_the_root_and_paths_point_at_it(root: tuple[Recording, Path]) -> None:
    recording, _ = root
    n0, n1, _, _ = recording.nodes
    assert recording.delivered == {"n2->n0": 1}
    path = recording.states["n2"]["mpaths"][n0.mac]
    assert path.next_hop == n1.mac


def test_every_frame_decodes_with_tshark_s_counts(root: tuple[Recording, Path]) -> None:
    result, _ = analyze(root[1])
    assert result.undecoded == [] and result.malformed == []
    counts = tshark.counts_by_kind(root[1])
    assert dict(result.by_kind) == counts
    assert counts["rann"] > 0 and counts["preq"] > 0 and counts["prep"] > 0


def test_our_engine_at_the_relay_does_what_linux_did(root: tuple[Recording, Path]) -> None:
    recording, pcap = root
    result = replay(pcap, recording.nodes[1].mac_bytes)
    assert result.captured.forwarded_ranns and result.next_hop_mismatches == []
    assert result.ours.forwarded_ranns == result.captured.forwarded_ranns
    assert result.ours.forwarded_preqs == result.captured.forwarded_preqs
    assert result.ours.preps == result.captured.preps

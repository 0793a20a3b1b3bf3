"""ns-3 as an oracle for HWMP: replay what one ns-3 node heard into our
engine (peers taken as established) and compare what we would do with
what that ns-3 node did.

The replay uses the real NodeRuntime over a radio that plays the capture:
frames the ns-3 node received are given to our node at their capture
time; frames it sent are the reference. Its ACKs give our engine transmit
reports. Traffic the ns-3 node originated is handed to our node as
application sends at the moment ns-3 shows it (a data frame leaving, or a
discovery starting for a destination we have no path to).

ns-3 MAC addresses are 00:00:00:00:00:0k for node k-1 (the order the
regression tests create nodes in).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.mesh.constants import MeshConfig
from meshframes.replay import Replay
from meshframes.replay import replay as replay_capture

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def ns3_mac(index: int) -> bytes:
    return bytes(5) + bytes((index + 1,))


def replay(path: Path, index: int) -> Replay:
    return replay_capture(path, ns3_mac(index), b"mesh")


CASES = [("hwmp-reactive-regression-test", i) for i in range(6)] + [
    ("hwmp-simplest-regression-test", i) for i in range(2)]
# ns-3 sends PERRs with Element TTL 0 and its nodes still propagate them;
# the standard (14.10.11.4.3) and Linux propagate only while the TTL stays
# above zero. Node 1 only relays node 2's TTL-0 PERR, so we invalidate the
# path and stay silent where ns-3 speaks.
PROPAGATED_FROM_TTL_ZERO = {("hwmp-reactive-regression-test", 1): {ns3_mac(5)}}


@pytest.mark.parametrize("name,index", CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_ns3_node_replayed_into_our_engine(name: str, index: int) -> None:
    """Our path table sends every data frame ns-3 sent to the next hop ns-3
    used; we forward PREQs, answer with PREPs and report path errors for
    the same nodes and destinations."""
    result = replay(SHARED / f"pcaps/ns3/{name}-{index}-1.pcap", index)
    assert result.data_checked > 0
    assert result.next_hop_mismatches == []
    assert result.ours.forwarded_preqs == result.captured.forwarded_preqs
    assert result.ours.preps == result.captured.preps
    silent = PROPAGATED_FROM_TTL_ZERO.get((name, index), set())
    assert result.ours.perr_destinations == result.captured.perr_destinations - silent
    assert result.node is not None
    for dst in silent:
        path = result.node.path(dst)
        assert path is not None and result.node.next_hop(dst, path.exp_time - 1e-3) is None
        assert result.node.counters["hwmp-ttl-expired"] >= 1
    assert {t for _, t in result.ours.originated} == {t for _, t in result.captured.originated}


def test_rediscovery_after_node_3_is_removed_never_heals() -> None:
    """Node 5's rediscovery of node 0 after the failure: ns-3 and we both
    start when traffic waits, retry with growing gaps, get no PREP (there is
    no other path) and give up; we after 1 + dot11MeshHWMPmaxPREQretries PREQs."""
    result = replay(SHARED / "pcaps/ns3/hwmp-reactive-regression-test-5-1.pcap", 5)
    late_ns3 = [t for t, a in result.captured.originated if t > 5.5 and a == ns3_mac(0)]
    late_ours = [t for t, a in result.ours.originated if t > 5.5 and a == ns3_mac(0)]
    assert late_ours[0] == pytest.approx(late_ns3[0])
    for series in (late_ns3, late_ours):
        gaps = [b - a for a, b in zip(series[:4], series[1:4])]
        assert len(gaps) == 3 and gaps == sorted(gaps) and gaps[0] < gaps[-1]
    config = MeshConfig()
    first_round = [t for t in late_ours if t < late_ours[0] + 2 ** (config.dot11MeshHWMPmaxPREQretries + 1)
                   * config.min_discovery_timeout]
    assert len(first_round) == 1 + config.dot11MeshHWMPmaxPREQretries
    assert result.node is not None and result.node.counters["discovery-failed-frame-dropped"] > 0
    assert result.node.next_hop(ns3_mac(0), 10.0) is None

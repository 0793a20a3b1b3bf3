"""ns-3 as an oracle for HWMP: replay what one ns-3 node heard into our
engine (peers taken as established) and compare what we would do with
what that ns-3 node did.

The replay uses the real NodeHost over a radio that plays the capture:
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

from meshframes.codec import MeshAction
from meshframes.codec.pathsel import PREQ_FLAG_PROACTIVE_PREP, Preq
from meshframes.mesh.constants import MeshConfig
from meshframes.sim.replay import Replay, decoded_frames
from meshframes.sim.replay import replay as replay_capture

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
# Captures ns-3 3.37 made here with tools/ns3 (pcaps/ns3/README.md).
RECORDED = Path(__file__).resolve().parents[2] / "pcaps" / "ns3"


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


# The DO-flag and three-flow lines, the root of the proactive line, and the
# two relays of the line whose middle node leaves that see it go.
AGREEING = ([(RECORDED, "do-flag-line", i) for i in range(4)]
            + [(RECORDED, "three-flows-line", i) for i in range(4)]
            + [(RECORDED, "proactive-line", 2), (RECORDED, "line-break", 1), (RECORDED, "line-break", 2)])
ALL_CASES = [(SHARED / "pcaps/ns3", n, i) for n, i in CASES] + AGREEING


@pytest.mark.parametrize("where,name,index", ALL_CASES, ids=[f"{n}-{i}" for _, n, i in ALL_CASES])
def test_ns3_node_replayed_into_our_engine(where: Path, name: str, index: int) -> None:
    """Our path table sends every data frame ns-3 sent to the next hop ns-3
    used; we forward PREQs, answer with PREPs and report path errors for
    the same nodes and destinations."""
    result = replay(where / f"{name}-{index}-1.pcap", index)
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
        gaps = [b - a for a, b in zip(series[:4], series[1:4], strict=False)]
        assert len(gaps) == 3 and gaps == sorted(gaps) and gaps[0] < gaps[-1]
    config = MeshConfig()
    first_round = [t for t in late_ours if t < late_ours[0] + 2 ** (config.dot11MeshHWMPmaxPREQretries + 1)
                   * config.min_discovery_timeout]
    assert len(first_round) == 1 + config.dot11MeshHWMPmaxPREQretries
    assert result.node is not None and result.node.counters["discovery-failed-frame-dropped"] > 0
    assert result.node.next_hop(ns3_mac(0), 10.0) is None


def _mismatched_destinations(result: Replay) -> set[bytes]:
    return {bytes.fromhex(m.split(" to ")[1][:17].replace(":", "")) for m in result.next_hop_mismatches}


@pytest.mark.parametrize("index", [0, 1, 3, 4])
def test_proactive_line_differs_from_ns3_only_where_ns3_leaves_the_standard(index: int) -> None:
    """ns-3's root (node 2) sends proactive PREQs with the Proactive PREP
    flag clear (ns-3 reads that bit as "need not PREP"), yet ns-3 nodes
    answer them with PREPs; and ns-3 sends frames for a destination it has
    no path to along its path to the root. The standard (14.10.10.3,
    9.4.2.113) and Linux do neither: no PREP unless the flag is set, and a
    discovery for an unknown destination. Everything else agrees."""
    root = ns3_mac(2)
    result = replay(RECORDED / f"proactive-line-{index}-1.pcap", index)
    root_preqs = [e for _, f in decoded_frames(RECORDED / "proactive-line-2-1.pcap")[0]
                  if isinstance(f, MeshAction) and f.header.addr2 == root
                  for e in f.elements if isinstance(e, Preq) and e.originator_addr == root]
    assert root_preqs and all(p.targets[0].addr == b"\xff" * 6 and not p.flags & PREQ_FLAG_PROACTIVE_PREP
                              for p in root_preqs)
    toward_root = result.node.next_hop(root, 1.0)
    assert toward_root is not None
    assert result.next_hop_mismatches and all(
        m.endswith(f"captured {toward_root.hex(':')}, ours None") for m in result.next_hop_mismatches)
    unknown = _mismatched_destinations(result)
    assert result.ours.forwarded_preqs == result.captured.forwarded_preqs
    assert result.ours.preps < result.captured.preps
    assert all(ra == toward_root and root in pair for ra, pair in result.captured.preps - result.ours.preps)
    assert {t for _, t in result.ours.originated} - {t for _, t in result.captured.originated} <= unknown
    assert result.captured.perr_destinations <= result.ours.perr_destinations <= \
        result.captured.perr_destinations | unknown


@pytest.mark.parametrize("index", [0, 3, 4])
def test_line_break_differs_from_ns3_only_on_equal_sequence_numbers(index: int) -> None:
    """After a PERR raised a destination's SN, ns-3 takes a PREQ or PREP
    carrying that same SN as fresh; Linux and we want a newer one for an
    inactive path (hwmp_route_info_get) and wait for the next discovery
    round, which a replay cannot answer. So where ns-3 sends on, we have no
    next hop (never a different one), and we counted the refusal."""
    result = replay(RECORDED / f"line-break-{index}-1.pcap", index)
    assert result.next_hop_mismatches and all(m.endswith("ours None") for m in result.next_hop_mismatches)
    assert result.node.counters["hwmp-stale-sn"] >= 1
    assert {t for _, t in result.ours.originated} == {t for _, t in result.captured.originated}

"""Mesh gates (802.11-2020 14.10.12): learned from a root's RANN or
proactive PREQ with the gate bit (as Linux's mesh_hwmp.c learns them) and
from Gate Announcements, which are flooded on once per sequence number;
the table is bounded and forgets silent gates. tshark reads the GANN frame
we forward with the fields we gave it."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.codec import DataFrame, MeshAction, VendorAction, decode, encode
from meshframes.codec.action import MESH_ACTION_GATE_ANNOUNCEMENT
from meshframes.codec.fastpay import FastPayFragment
from meshframes.codec.header import BROADCAST
from meshframes.codec.meshctl import AE_A5_A6
from meshframes.codec.pathsel import (
    PREQ_FLAG_GATE_ANNOUNCEMENT,
    RANN_FLAG_GATE,
    TARGET_FLAG_TO,
    TARGET_FLAG_USN,
    Gann,
    Prep,
    Preq,
    PreqTarget,
    Rann,
)
from meshframes.hosts import tshark
from meshframes.hosts.pcap import LINKTYPE_IEEE802_11, write_pcap
from meshframes.mesh.constants import TU
from meshframes.mesh.events import Action, DeliverData, MeshRefusal, PathFailed, SetTimer, TimerKey
from meshframes.mesh.gates import GATE_HOLD_INTERVALS, MAX_GATES, GateSource
from meshframes.mesh.mbss import action_header, path_selection
from meshframes.mesh.node import MeshNode

from .helpers import RX, A, B, C, D, E, refusals, sent
from .test_forward import learn, node
from .test_hwmp import hwmp


def gann(ta: bytes, gate: bytes, sn: int, *, hop: int = 0, ttl: int = 31, interval: int = 1000) -> MeshAction:
    return MeshAction(action_header(BROADCAST, ta), MESH_ACTION_GATE_ANNOUNCEMENT,
                      (Gann(0, hop, ttl, gate, sn, interval),))


def test_a_rann_with_the_gate_bit_makes_its_root_a_gate() -> None:
    node = hwmp()
    node.on_frame(path_selection(BROADCAST, B, Rann(RANN_FLAG_GATE, 1, 30, D, 7, 5000, 100)), 0.0)
    (gate,) = node.gates.known(0.0)
    assert (gate.addr, gate.source, gate.sn, gate.hop_count, gate.heard_from) == (D, GateSource.RANN, 7, 2, B)
    plain = hwmp()
    plain.on_frame(path_selection(BROADCAST, B, Rann(0, 1, 30, D, 7, 5000, 100)), 0.0)
    assert plain.gates.known(0.0) == []


def test_a_proactive_preq_with_the_gate_bit_makes_its_root_a_gate() -> None:
    node = hwmp()
    element = Preq(PREQ_FLAG_GATE_ANNOUNCEMENT, 0, 31, 1, D, 3, 5000, 0,
                   (PreqTarget(TARGET_FLAG_TO | TARGET_FLAG_USN, BROADCAST, 0),))
    node.on_frame(path_selection(BROADCAST, B, element), 0.0)
    assert [(g.addr, g.source) for g in node.gates.known(0.0)] == [(D, GateSource.PROACTIVE_PREQ)]


def test_gann_is_learned_and_flooded_once_per_sequence_number() -> None:
    node = hwmp()
    out = node.on_frame(gann(B, D, 5, hop=2, ttl=10), 0.0)
    (forwarded,) = sent(out)
    assert forwarded.action == MESH_ACTION_GATE_ANNOUNCEMENT and forwarded.header.addr1 == BROADCAST
    assert forwarded.header.addr2 == A
    assert forwarded.elements == (Gann(0, 3, 9, D, 5, 1000),)
    assert [(g.addr, g.source, g.hop_count, g.heard_from) for g in node.gates.known(0.0)] == [
        (D, GateSource.GANN, 3, B)]
    again = node.on_frame(gann(C, D, 5, hop=1), 0.1)
    assert sent(again) == [] and refusals(again) == [MeshRefusal.HWMP_STALE_SN]
    newer = node.on_frame(gann(C, D, 6, hop=1), 0.2)
    assert len(sent(newer)) == 1


def test_gann_stops_at_ttl_one_and_without_forwarding() -> None:
    node = hwmp()
    out = node.on_frame(gann(B, D, 1, ttl=1), 0.0)
    assert sent(out) == [] and MeshRefusal.HWMP_TTL_EXPIRED in refusals(out)
    assert len(node.gates) == 1
    quiet = hwmp(dot11MeshForwarding=False)
    assert sent(quiet.on_frame(gann(B, D, 1), 0.0)) == []
    assert len(quiet.gates) == 1


def test_our_own_gann_and_one_from_a_non_peer_are_not_learned() -> None:
    node = hwmp()
    assert node.on_frame(gann(B, A, 1), 0.0) == []
    assert refusals(node.on_frame(gann(D, C, 1), 0.0)) == [MeshRefusal.HWMP_FROM_NON_PEER]
    assert len(node.gates) == 0


def test_the_gate_table_is_bounded_and_forgets_silent_gates() -> None:
    node = hwmp()
    refused = []
    for n in range(MAX_GATES + 40):
        made_up = bytes([2, 0xAA, 0, 0, n >> 8, n & 0xFF])
        refused += refusals(node.on_frame(gann(B, made_up, 1, ttl=1), 0.0))
    assert len(node.gates) == MAX_GATES
    assert refused.count(MeshRefusal.GATE_TABLE_FULL) == 40
    hold = GATE_HOLD_INTERVALS * 1000 * TU
    assert len(node.gates.known(hold - 0.01)) == MAX_GATES
    assert node.gates.known(hold + 0.01) == []
    assert node.on_frame(gann(B, D, 9, ttl=1), hold + 0.02)
    assert [g.addr for g in node.gates.known(hold + 0.02)] == [D]


@pytest.mark.tshark
def test_tshark_reads_the_gann_we_forward(tmp_path: Path) -> None:
    node = hwmp()
    (forwarded,) = sent(node.on_frame(gann(B, D, 0x01020304, hop=2, ttl=10, interval=3000), 0.0))
    path = tmp_path / "gann.pcap"
    write_pcap(path, [(0.0, encode(forwarded))], LINKTYPE_IEEE802_11)
    assert tshark.malformed_frames(path) == []
    names = ["wlan.fixed.mesh_action", "wlan.gann.hop_count", "wlan.gann.elem_ttl", "wlan.gann.gate_addr",
             "wlan.gann.seq_num", "wlan.gann.interval", "wlan.ta", "wlan.ra"]
    (row,) = tshark.fields(path, names)
    assert {name: value[0] for name, value in row.items()} == {
        "wlan.fixed.mesh_action": "0x02", "wlan.gann.hop_count": "3", "wlan.gann.elem_ttl": "9",
        "wlan.gann.gate_addr": D.hex(":"), "wlan.gann.seq_num": str(0x01020304), "wlan.gann.interval": "3000",
        "wlan.ta": A.hex(":"), "wlan.ra": "ff:ff:ff:ff:ff:ff"}


# -- frames for stations outside the mesh go to the gates -----------------

OUTSIDE = bytes.fromhex("02000000ee01")
BODY = b"\xaa\xaa\x03\x00\x00\x00\x88\xb5" + b"payload"  # IEEE 802 local experimental ethertype


# Paths that outlive the discovery that fails (its PREQ retries take longer
# than the default active path timeout).
LONG_LIFETIME = 100_000


def _gate_node(gates: tuple[bytes, ...] = (D,), path_to: tuple[bytes, ...] = (D,)) -> tuple[MeshNode, list[Action]]:
    """B with established peers A and C, knowing `gates` from RANNs heard
    from C and holding paths through C to `path_to`; and the actions of
    that set-up (the timers it armed)."""
    n = node(B, (A, C))
    actions: list[Action] = []
    for dst in path_to:
        actions += learn(n, C, dst, lifetime=LONG_LIFETIME)
    for gate in gates:
        actions += n.receive(path_selection(BROADCAST, C, Rann(RANN_FLAG_GATE, 1, 30, gate, 7, 5000, 100)), RX, 0.0)
    return n, actions


def _discovery_fails(n: MeshNode, dst: bytes, first: list[Action], silent: tuple[bytes, ...] = ()) -> list[Action]:
    """Fire the node's discovery timers in deadline order, starting from
    those `first` armed, until HWMP gives up on `dst`; the actions of that
    timer. Every other station answers the node's PREQs for it with a PREP
    through C, as a live gate refreshing its path does; `dst` and `silent`
    never do.
    (Housekeeping is left out: the test's peers send no beacons.)"""
    hwmp_timers = {"path", "preq-queue"}
    sn = 100

    def armed(actions: list[Action]) -> dict[TimerKey, float]:
        return {a.key: a.deadline for a in actions if isinstance(a, SetTimer) and a.key[0] in hwmp_timers}

    def answered(actions: list[Action], now: float) -> list[Action]:
        nonlocal sn
        out: list[Action] = []
        for frame in sent(actions):
            for element in getattr(frame, "elements", ()):
                if not isinstance(element, Preq) or element.originator_addr != B:
                    continue
                for target in element.targets:
                    if target.addr not in (dst, bytes(6), BROADCAST, *silent):
                        sn += 1
                        prep = Prep(0, 1, 30, target.addr, sn, LONG_LIFETIME, 100, B, element.originator_sn)
                        out += n.receive(path_selection(B, C, prep), RX, now)
        return out

    due = armed(first + answered(first, 0.0))
    for _ in range(200):
        key = min(due, key=due.__getitem__)
        now = due.pop(key)
        actions = n.on_timer(key, now)
        if any(isinstance(a, PathFailed) and a.destination == dst for a in actions):
            return actions
        due.update(armed(actions + answered(actions, now)))
    raise AssertionError(f"discovery of {dst.hex(':')} never gave up")


def test_data_for_an_unresolved_station_goes_to_the_gate_with_its_addresses_extended() -> None:
    """mesh_path_send_to_gates: after the PREQs for OUTSIDE go unanswered,
    the data frame that waited leaves for gate D through C, mesh DA D,
    A5/A6 the end-to-end DA and SA (prepare_for_gate), TTL and body kept."""
    n, setup = _gate_node()
    out = [f for f in sent(_discovery_fails(n, OUTSIDE, setup + n.send_data(OUTSIDE, BODY, 0.0))) if isinstance(f, DataFrame)]
    assert len(out) == 1
    (frame,) = out
    assert (frame.header.addr1, frame.header.addr2, frame.header.addr3, frame.header.addr4) == (C, B, D, B)
    assert frame.mesh_control.ae_mode == AE_A5_A6 and frame.mesh_control.addr_ext == (OUTSIDE, B)
    assert frame.body == BODY and frame.mesh_control.ttl == n.config.dot11MeshTTL
    assert n.forwarder.pending(OUTSIDE) == 0 and n.counters["discovery-failed-frame-dropped"] == 0


def test_every_gate_with_a_path_gets_a_copy() -> None:
    n, setup = _gate_node(gates=(D, E), path_to=(D, E))
    out = [f for f in sent(_discovery_fails(n, OUTSIDE, setup + n.send_data(OUTSIDE, BODY, 0.0))) if isinstance(f, DataFrame)]
    assert sorted(f.header.addr3 for f in out) == [D, E]
    assert len({f.mesh_control.seq for f in out}) == 1


@pytest.mark.parametrize("case", ["no-path-to-gate", "no-gate", "destination-is-a-gate", "vendor-frame"])
def test_what_no_gate_can_take_is_dropped_and_counted(case: str) -> None:
    """As Linux: only gates with an active path take frames; a failed gate
    itself is not sent to the other gates; and our vendor frames are for
    mesh stations only."""
    n, setup = _gate_node(path_to=() if case == "no-path-to-gate" else (D,),
                   gates=() if case == "no-gate" else (D, OUTSIDE) if case == "destination-is-a-gate" else (D,))
    if case == "vendor-frame":
        first = n.send_payload(OUTSIDE, FastPayFragment(1, 0, 1, 0, 1, b"order"), 0.0)
    else:
        first = n.send_data(OUTSIDE, BODY, 0.0)
    actions = _discovery_fails(n, OUTSIDE, setup + first, silent=(D,) if case == "no-path-to-gate" else ())
    assert not [f for f in sent(actions) if isinstance(f, DataFrame | VendorAction)]
    assert refusals(actions) == [MeshRefusal.DISCOVERY_FAILED_FRAME_DROPPED]


def test_the_gate_hands_up_the_frame_with_its_end_to_end_addresses_and_relays_carry_it() -> None:
    """C relays the six-address frame by its mesh DA (D) like any other; D,
    the gate, delivers it naming OUTSIDE and B as the end-to-end pair and B
    as the mesh station it came from."""
    b, setup = _gate_node()
    (frame,) = [f for f in sent(_discovery_fails(b, OUTSIDE, setup + b.send_data(OUTSIDE, BODY, 0.0)))
                if isinstance(f, DataFrame)]
    c = node(C, (B, D))
    learn(c, D, D)
    (relayed,) = [f for f in sent(c.receive(decode(encode(frame)), RX, 1.0)) if isinstance(f, DataFrame)]
    assert (relayed.header.addr1, relayed.header.addr3) == (D, D) and relayed.mesh_control.addr_ext == (OUTSIDE, B)
    d = node(D, (C,))
    (up,) = [a for a in d.receive(decode(encode(relayed)), RX, 1.0) if isinstance(a, DeliverData)]
    assert up == DeliverData(B, OUTSIDE, BODY, mesh_source=B)


@pytest.mark.tshark
def test_tshark_reads_the_frame_we_send_to_the_gate(tmp_path: Path) -> None:
    n, setup = _gate_node()
    (frame,) = [f for f in sent(_discovery_fails(n, OUTSIDE, setup + n.send_data(OUTSIDE, BODY, 0.0)))
                if isinstance(f, DataFrame)]
    path = tmp_path / "to-gate.pcap"
    write_pcap(path, [(0.0, encode(frame))], LINKTYPE_IEEE802_11)
    assert tshark.malformed_frames(path) == []
    names = ["wlan.ra", "wlan.ta", "wlan.da", "wlan.sa", "wlan.fixed.mesh_flags", "wlan.fixed.mesh_addr5",
             "wlan.fixed.mesh_addr6"]
    (row,) = tshark.fields(path, names)
    assert {name: value[0] for name, value in row.items()} == {
        "wlan.ra": C.hex(":"), "wlan.ta": B.hex(":"), "wlan.da": D.hex(":"), "wlan.sa": B.hex(":"),
        "wlan.fixed.mesh_flags": "0x02", "wlan.fixed.mesh_addr5": OUTSIDE.hex(":"),
        "wlan.fixed.mesh_addr6": B.hex(":")}

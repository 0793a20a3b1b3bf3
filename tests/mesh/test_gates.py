"""Mesh gates (802.11-2020 14.10.12): learned from a root's RANN or
proactive PREQ with the gate bit (as Linux's mesh_hwmp.c learns them) and
from Gate Announcements, which are flooded on once per sequence number;
the table is bounded and forgets silent gates. tshark reads the GANN frame
we forward with the fields we gave it."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.codec import MeshAction, encode
from meshframes.codec.action import MESH_ACTION_GATE_ANNOUNCEMENT
from meshframes.codec.header import BROADCAST
from meshframes.codec.pathsel import (
    PREQ_FLAG_GATE_ANNOUNCEMENT,
    RANN_FLAG_GATE,
    TARGET_FLAG_TO,
    TARGET_FLAG_USN,
    Gann,
    Preq,
    PreqTarget,
    Rann,
)
from meshframes.hosts import tshark
from meshframes.hosts.pcap import LINKTYPE_IEEE802_11, write_pcap
from meshframes.mesh.constants import TU
from meshframes.mesh.events import MeshRefusal
from meshframes.mesh.gates import GATE_HOLD_INTERVALS, MAX_GATES, GateSource
from meshframes.mesh.mbss import action_header, path_selection

from .helpers import A, B, C, D, refusals, sent
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

"""The node host: security hooks on transmit and receive, engine
robustness against arbitrary frames, table limits, and the rule that
engines import no Scapy, click or rich."""

from __future__ import annotations

import subprocess
import sys
from enum import StrEnum

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshframes.codec import decode, encode
from meshframes.codec.fastpay import FastPayFragment, MessageType
from meshframes.codec.header import BROADCAST
from meshframes.codec.pathsel import Preq, PreqTarget
from meshframes.hosts.base import RxFrame
from meshframes.hosts.node import NodeHost
from meshframes.hosts.pcap import mpdus
from meshframes.mesh.constants import MeshConfig
from meshframes.mesh.events import Refused
from meshframes.mesh.hwmp import Hwmp
from meshframes.mesh.mbss import Mbss, path_selection
from meshframes.mesh.node import MeshNode
from meshframes.mesh.pathtable import PathTable
from meshframes.mesh.peers import PeerTable

from .helpers import RX, A, B, ListRadio, ManualClock, take_as_established
from .test_ns3_oracle import SHARED


def test_engines_import_no_scapy_click_or_rich() -> None:
    """Importing the codec, the engines and the simulator pulls in none of
    the presentation or dissection libraries."""
    code = ("import sys, meshframes.codec, meshframes.hosts.node, meshframes.sim.network, "
            "meshframes.bench.scale; print(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('scapy', 'click', 'rich')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_frame_layers_wrap_every_frame() -> None:
    """Frames leave through a layer's `protect` and arrive through its
    `unprotect` (a toy layer that marks and unmarks each frame; sealing plugs
    into the same places); the nodes peer and deliver through it; a frame
    unprotect refuses is counted under its reason and dropped."""
    clock = ManualClock()
    mark = b"SEALED"

    class Toy(StrEnum):
        MARK_MISSING = "mark-missing"

    class Marking:
        def protect(self, mpdu: bytes) -> bytes | Refused:
            return mark + mpdu

        def unprotect(self, mpdu: bytes) -> bytes | Refused:
            return mpdu[len(mark):] if mpdu.startswith(mark) else Refused(Toy.MARK_MISSING)

    radios = {mac: ListRadio(mac, clock) for mac in (A, B)}
    delivered: list = []
    runtimes = {mac: NodeHost(MeshNode(mac, MeshConfig()), radios[mac], clock, on_deliver=delivered.append,
                                 layers=[Marking()]) for mac in (A, B)}
    for runtime in runtimes.values():
        runtime.start()
    for step in range(200):
        clock.t = step * 0.02
        if step == 150:
            runtimes[A].send_payload(B, FastPayFragment(MessageType.FASTPAY_ORDER, 0, 1, 0, 1, b"through the hooks"))
        for mac, other in ((A, B), (B, A)):
            runtimes[mac].poll()
            assert all(data.startswith(mark) for _, data in radios[mac].sent)
            radios[other].inbox += [RxFrame(data, clock.t, -40, 540) for _, data in radios[mac].sent]
            radios[mac].sent.clear()
    assert [d.payload.data for d in delivered] == [b"through the hooks"]
    radios[B].inbox.append(RxFrame(b"plain", clock.t, None, None))
    runtimes[B].poll()
    assert runtimes[B].node.counters["mark-missing"] == 1


SEEDS = sorted({m for name in ("hwmp-reactive-regression-test-2-1", "linux-open-2node")
                for path in SHARED.glob(f"pcaps/*/{name}.pcap") for _, m, _ in mpdus(path)})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(SEEDS), st.integers(0, 400), st.integers(0, 255)),
                min_size=1, max_size=8))
def test_engine_survives_mutated_frames(edits: list[tuple[bytes, int, int]]) -> None:
    """Real frames with a byte changed, thrown at a node whose neighbours
    are established: every one is handled or refused and counted; nothing
    raises."""
    node = MeshNode(bytes.fromhex("000000000003"), MeshConfig(mesh_id=b"mesh"))
    for neighbour in ("000000000002", "000000000004", "020000000000", "020000000100"):
        take_as_established(node.peers, bytes.fromhex(neighbour))
    clock = ManualClock()
    radio = ListRadio(node.mac, clock)
    runtime = NodeHost(node, radio, clock)
    runtime.start()
    for seed, pos, value in edits:
        data = bytearray(seed)
        data[pos % len(data)] ^= value or 1
        clock.t += 0.01
        radio.inbox.append(RxFrame(bytes(data), clock.t, -50, 60))
        runtime.poll()
    for _, frame in radio.frames():
        assert decode(encode(frame)) == frame


def test_peer_table_is_bounded() -> None:
    """Beacons from more made-up addresses than Linux keeps stations for:
    the rest are refused, nothing grows past the limit."""
    node = MeshNode(A, MeshConfig())
    node.peers.max_entries = 8
    for i in range(12):
        beacon = Mbss(bytes([2, 0, 0, 1, 0, i]), MeshConfig()).beacon(0.0, 0)
        node.receive(beacon, RX, 0.0)
    assert len(node.peers) == 8 and node.counters["peer-table-full"] == 4


def test_path_table_is_bounded() -> None:
    """PREQs from more originators than the path table holds: refused and
    counted once full."""
    table = PeerTable(60, 95)
    take_as_established(table, B)
    h = Hwmp(A, MeshConfig(), table, PathTable(max_paths=4))
    refused = []
    for i in range(8):
        element = Preq(0, 0, 31, i, bytes([2, 0, 0, 2, 0, i]), 1, 4882, 0, (PreqTarget(0, A, 0),))
        refused += [a.reason for a in h.on_frame(path_selection(BROADCAST, B, element), 0.0)
                    if isinstance(a, Refused)]
    assert len(h.paths) == 4 and refused.count("path-table-full") == 5

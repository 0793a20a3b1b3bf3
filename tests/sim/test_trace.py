"""Bit-for-bit determinism of simulated runs, and their pcap traces read by
our decoder and by tshark."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from meshframes.codec import MeshAction, SelfProtected, VendorAction, decode, encode
from meshframes.codec.fastpay import MessageType
from meshframes.hosts.pcap import LINKTYPE_IEEE802_11_RADIOTAP, mpdus, read_capture
from meshframes.sim.medium import MediumConfig
from meshframes.sim.network import SimNetwork, chain


def small_run(seed: int, pcap: Path | None = None) -> SimNetwork:
    net = SimNetwork(seed, medium=MediumConfig(loss=0.1), pcap=pcap)
    for _i, where in enumerate([(0, 0), (20, 0), (40, 0), (20, 20), (40, 20)]):
        net.add_node((float(where[0]), float(where[1])))
    for k in range(5):
        net.send_payload(0, 4, b"payment %d" % k, at=3.0 + 0.5 * k)
    net.send_payload(4, b"\xff" * 6, b"announce", at=4.2, msg_type=MessageType.FASTPAY_ANNOUNCE)
    net.run(8.0)
    net.close()
    return net


def test_same_seed_same_run() -> None:
    """Same seed: identical event-trace digest; another seed: another run."""
    first, again, other = small_run(11), small_run(11), small_run(12)
    assert first.trace_digest() == again.trace_digest()
    assert first.medium.transmissions == again.medium.transmissions
    assert [(d.time, d.node) for d in first.deliveries] == [(d.time, d.node) for d in again.deliveries]
    assert other.trace_digest() != first.trace_digest()
    assert first.deliveries, "the run delivered nothing"


def test_trace_pcap_decodes(tmp_path: Path) -> None:
    """Every frame the medium put on the air is in the radiotap pcap and
    decodes to a frame that re-encodes exactly."""
    path = tmp_path / "run.pcap"
    net = small_run(11, path)
    records = list(read_capture(path))
    assert {r.linktype for r in records} == {LINKTYPE_IEEE802_11_RADIOTAP}
    assert len(records) == net.medium.transmissions
    kinds = set()
    for _, mpdu, rt in mpdus(path):
        frame = decode(mpdu)
        assert encode(frame) == mpdu and rt is not None and rt.rate_500kbps
        kinds.add(type(frame).__name__)
    assert {"Beacon", "SelfProtected", "MeshAction", "VendorAction"} <= kinds


@pytest.mark.tshark
def test_tshark_reads_our_frames_without_complaint(tmp_path: Path) -> None:
    """tshark dissects every frame we send (beacons, peering, HWMP, our
    category-127 frames) without a malformed-packet mark, with our OUI, and
    with the same peering and HWMP fields we encoded."""
    exe = shutil.which("tshark")
    assert exe, "tshark is not installed: tools/bootstrap installs it (Debian package tshark)"
    path = tmp_path / "run.pcap"
    small_run(11, path)
    fields = ["_ws.malformed", "wlan.fixed.category_code", "wlan.peering.local_id", "wlan.hwmp.orig_sta",
              "wlan.tag.oui"]
    cmd = [exe, "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=f"]
    for field in fields:
        cmd += ["-e", field]
    rows = [line.split("\t") for line in
            subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()]
    frames = [decode(m) for _, m, _ in mpdus(path)]
    assert len(rows) == len(frames)
    for (malformed, category, local_id, orig, oui), frame in zip(rows, frames, strict=False):
        assert not malformed, frame
        if isinstance(frame, SelfProtected):
            assert category == "15" and int(local_id, 16) == frame.peering.local_link_id  # type: ignore[union-attr]
        elif isinstance(frame, MeshAction):
            assert category == "13"
            element = frame.elements[0]
            if hasattr(element, "originator_addr"):
                assert orig == element.originator_addr.hex(":")
        elif isinstance(frame, VendorAction):
            assert category == "127" and int(oui, 0) == 0x0A4D46


def test_chain_builder_places_neighbours_only_in_range() -> None:
    net = chain(4, 20.0)
    assert [net.medium.neighbours(i, 0.0) for i in range(4)] == [[1], [0, 2], [1, 3], [2]]


def test_same_seed_same_run_across_processes() -> None:
    """The digest does not depend on the interpreter's hash randomisation:
    two processes with different PYTHONHASHSEED give the same run."""
    code = "from meshframes.bench.scale import run_scale; print(run_scale(60, 5, seed=5).digest)"
    digests = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()
               for seed in ("1", "2")}
    assert len(digests) == 1 and len(digests.pop()) == 64


def test_a_medium_without_a_trace_runs_the_same() -> None:
    """Without its trace (the demo's medium) the run is the same run, and
    asking for the digest it never kept says so."""
    def run(trace: bool) -> SimNetwork:
        net = SimNetwork(11, medium=MediumConfig(loss=0.1, trace=trace))
        for where in [(0.0, 0.0), (20.0, 0.0), (40.0, 0.0)]:
            net.add_node(where)
        net.send_payload(0, 2, b"payment", at=3.0)
        net.run(6.0)
        return net

    traced, untraced = run(True), run(False)
    assert untraced.medium.transmissions == traced.medium.transmissions > 0
    assert [(d.time, d.node) for d in untraced.deliveries] == [(d.time, d.node) for d in traced.deliveries]
    with pytest.raises(RuntimeError, match="keeps no trace"):
        untraced.trace_digest()

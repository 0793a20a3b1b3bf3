"""Every frame of the third-party captures (ns-3, Linux 6.1 on hwsim)
decodes and re-encodes to the same bytes; prefixes never crash the decoder."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from meshframes.codec import DataFrame, DecodeError, MeshAction, MeshControlRule, SelfProtected, decode, encode
from meshframes.codec.pathsel import Perr
from meshframes.hosts.pcap import mpdus

from .conftest import CAPTURES

RECORDED_NS3 = sorted((Path(__file__).resolve().parents[2] / "pcaps" / "ns3").glob("*.pcap"))


@pytest.mark.parametrize("path", CAPTURES + RECORDED_NS3, ids=lambda p: p.name)
def test_capture_decodes_and_reencodes_identically(path: Path) -> None:
    """decode -> encode is the identity on every frame of the capture."""
    frames = list(mpdus(path))
    assert frames, f"{path} holds no frames"
    for index, (_, mpdu, _) in enumerate(frames, 1):
        frame = decode(mpdu)
        assert encode(frame) == mpdu, f"frame {index} of {path.name} re-encodes differently"


def test_all_captures_present(shared: Path) -> None:
    """The eleven shared captures are where the tests expect them."""
    assert len(CAPTURES) == 11, [p.name for p in CAPTURES]


def test_linux_relayed_mesh_data_is_read_by_inference(shared: Path) -> None:
    """Linux forwards mesh data with the QoS mesh-control bit clear; the
    decoder still finds the Mesh Control field and says which rule fired."""
    frames = [decode(m) for _, m, _ in mpdus(shared / "pcaps/linux/linux-open-2node.pcap")]
    originated, relayed = frames[16], frames[17]
    assert isinstance(originated, DataFrame) and isinstance(relayed, DataFrame)
    assert originated.mesh_control_rule is MeshControlRule.QOS_BIT
    assert originated.mesh_control is not None and originated.mesh_control.ttl == 31
    assert relayed.header.qos_control == 0
    assert relayed.mesh_control_rule is MeshControlRule.INFERRED
    assert relayed.mesh_control is not None and relayed.mesh_control.ttl == 30
    assert relayed.body.startswith(b"\xaa\xaa\x03")  # LLC/SNAP follows the mesh header
    rules = Counter(f.mesh_control_rule for f in frames if isinstance(f, DataFrame))
    assert rules == {MeshControlRule.QOS_BIT: 16, MeshControlRule.INFERRED: 1, None: 2}


def test_ns3_draft_layouts_decode(shared: Path) -> None:
    """ns-3's draft peering element and two-destination PERR decode where
    tshark reports them malformed."""
    path = shared / "pcaps/ns3/hwmp-reactive-regression-test-2-1.pcap"
    frames = [decode(m) for _, m, _ in mpdus(path)]
    peerings = [f.peering for f in frames if isinstance(f, SelfProtected)]
    assert peerings and all(p is not None and p.is_ns3_draft for p in peerings)
    assert {p.ns3_subtype for p in peerings if p} == {1, 2, 3}
    perrs = [e for f in frames if isinstance(f, MeshAction) for e in f.elements if isinstance(e, Perr)]
    assert [len(p.destinations) for p in perrs] == [2, 1, 1]
    assert [d.addr[-1] for d in perrs[0].destinations] == [4, 6]


def _distinct_frames() -> list[bytes]:
    seen: dict[bytes, None] = {}
    for path in CAPTURES:
        for _, mpdu, _ in mpdus(path):
            seen.setdefault(mpdu, None)
    return list(seen)


def test_every_prefix_is_a_frame_or_a_decode_error(shared: Path) -> None:
    """Fed one byte at a time, the decoder returns a frame that re-encodes to
    exactly the bytes given, or raises DecodeError; never anything else."""
    refused = 0
    for mpdu in _distinct_frames():
        for cut in range(len(mpdu)):
            prefix = mpdu[:cut]
            try:
                frame = decode(prefix)
            except DecodeError:
                refused += 1
                continue
            assert encode(frame) == prefix
    assert refused > 0

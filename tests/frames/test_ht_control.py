"""Frames with the +HTC/Order bit: four octets of HT Control (9.2.4.6) sit
after Sequence Control (management) or QoS Control (QoS data). Our layers,
the struct codec and tshark read the same fields from them."""

from __future__ import annotations

import pytest
from scapy.layers.dot11 import Dot11

from meshframes import codec
from meshframes.hosts import tshark
from meshframes.hosts.pcap import LINKTYPE_IEEE802_11_RADIOTAP, radiotap_header, write_pcap
from meshframes.layers import PREQ, HTControl, MeshControl, MeshID
from meshframes.layers.build import FrameOptions, build
from meshframes.layers.dissect import decode_mpdu

HTC = bytes.fromhex("0c001000")  # an HT variant HT Control with a few bits set


def with_htc(frame: bytes) -> bytes:
    """The same frame sent by an HT station: Order set, HT Control added."""
    qos_data = (frame[0] >> 2) & 3 == 2 and frame[0] & 0x80
    header = 24 + (6 if frame[1] & 0x03 == 0x03 else 0) + (2 if qos_data else 0)
    return frame[:1] + bytes((frame[1] | 0x80,)) + frame[2:header] + HTC + frame[header:]


CASES = {
    "preq": with_htc(bytes(build("preq", FrameOptions(ae=True, count=2)))),
    "beacon": with_htc(bytes(build("beacon", FrameOptions()))),
    "mesh-data": with_htc(bytes(build("mesh-data", FrameOptions(ttl=17, seq=5)))),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_layers_and_codec_read_past_ht_control(kind):
    frame = CASES[kind]
    result = decode_mpdu(frame)
    assert result.kind == kind and result.malformed is None and result.undecoded is None
    assert result.packet[HTControl].ht_control == int.from_bytes(HTC, "little")
    assert bytes(Dot11(frame)) == frame
    event = codec.decode(frame)
    assert event.header.ht_control == int.from_bytes(HTC, "little")
    assert codec.encode(event) == frame
    if kind == "mesh-data":
        control = result.packet[MeshControl]
        assert (control.mesh_ttl, control.mesh_sequence_number) == (event.mesh_control.ttl, event.mesh_control.seq)
        assert (event.mesh_control.ttl, event.mesh_control.seq) == (17, 5)


@pytest.mark.tshark
def test_tshark_reads_the_same_fields(tmp_path):
    path = tmp_path / "htc.pcap"
    frames = [CASES[k] for k in sorted(CASES)]
    write_pcap(path, ((i * 0.01, radiotap_header() + f) for i, f in enumerate(frames)), LINKTYPE_IEEE802_11_RADIOTAP)
    rows = tshark.fields(path, ["wlan.htc", "wlan.mesh.id", "wlan.hwmp.orig_sta", "wlan.fixed.mesh_ttl",
                                "wlan.fixed.mesh_sequence"])
    assert tshark.malformed_frames(path) == []
    by_kind = dict(zip(sorted(CASES), rows, strict=False))
    assert all(int(r["wlan.htc"][0], 0) == int.from_bytes(HTC, "little") for r in rows)
    beacon = Dot11(CASES["beacon"])
    assert by_kind["beacon"]["wlan.mesh.id"] == [beacon[MeshID].mesh_id.decode()]
    assert by_kind["preq"]["wlan.hwmp.orig_sta"] == [Dot11(CASES["preq"])[PREQ].originator_address]
    assert [int(v, 0) for v in by_kind["mesh-data"]["wlan.fixed.mesh_ttl"]] == [17]
    assert [int(v, 0) for v in by_kind["mesh-data"]["wlan.fixed.mesh_sequence"]] == [5]


def test_an_amsdu_is_reported_undecoded_by_both_decoders():
    """An A-MSDU (QoS bit 7) with the Mesh Control Present bit: its body is
    subframes, each with its own header and Mesh Control, not one Mesh
    Control field; neither decoder reads it as one."""
    frame = bytearray(bytes(build("mesh-data", FrameOptions())))
    frame[30] |= 0x80  # A-MSDU Present, in the first octet of QoS Control
    result = decode_mpdu(bytes(frame))
    assert result.undecoded and "A-MSDU" in result.undecoded and not result.packet.haslayer(MeshControl)
    event = codec.decode(bytes(frame))
    assert event.mesh_control is None and codec.encode(event) == bytes(frame)

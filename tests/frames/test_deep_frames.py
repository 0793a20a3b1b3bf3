"""Frames with as many elements as a management frame body can hold: the
Scapy world (our layers, `analyze`, plain `rdpcap`) and the codec read the
same elements."""

from __future__ import annotations

import struct

import pytest
from scapy.layers.dot11 import Dot11Elt
from scapy.packet import NoPayload, Packet, Raw
from scapy.utils import rdpcap

import meshframes  # noqa: F401  (registers the layers for plain rdpcap)
from meshframes.codec import Beacon, decode
from meshframes.codec.fastpay import MAX_MGMT_BODY
from meshframes.codec.ie import ELEMENT_HEADER_LEN, decode_elements
from meshframes.hosts.pcap import LINKTYPE_IEEE802_11, write_pcap
from meshframes.layers.dissect import analyze, decode_mpdu

_HEADER_TAIL = b"\xff" * 6 + bytes.fromhex("020000000001") * 2 + b"\x00\x00"
_BEACON_FIXED = bytes(8) + struct.pack("<HH", 100, 0)  # Timestamp, Beacon Interval, Capability
# IDs no layer of Scapy or ours claims, each legal with an empty body.
_EMPTY_IDS = (0, 200, 201, 202, 203)


def _elements(count: int) -> bytes:
    return b"".join(bytes([_EMPTY_IDS[i % len(_EMPTY_IDS)], 0]) for i in range(count))


def _probe_request(count: int) -> bytes:
    # A Probe Request has no fixed fields: its body is all elements.
    return bytes([0x40, 0x00, 0x00, 0x00]) + _HEADER_TAIL + _elements(count)


def _beacon(count: int) -> bytes:
    return bytes([0x80, 0x00, 0x00, 0x00]) + _HEADER_TAIL + _BEACON_FIXED + _elements(count)


def _element_ids(pkt: Packet) -> list[int]:
    ids, layer = [], pkt
    while not isinstance(layer, NoPayload):
        assert not isinstance(layer, Raw), "bytes left without a layer"
        if isinstance(layer, Dot11Elt):
            ids.append(layer.ID)
        layer = layer.payload
    return ids


MOST = MAX_MGMT_BODY // ELEMENT_HEADER_LEN
BEACON_MOST = (MAX_MGMT_BODY - len(_BEACON_FIXED)) // ELEMENT_HEADER_LEN


@pytest.mark.parametrize(("build", "count"), [(_probe_request, MOST), (_beacon, BEACON_MOST), (_beacon, 200)],
                         ids=["probe-request-1152", "beacon-1146", "beacon-200"])
def test_the_most_elements_a_legal_frame_holds_read_alike_everywhere(tmp_path, build, count):
    """A body of 2304 octets of empty elements (1152 in a Probe Request,
    1146 after a Beacon's fixed fields) was reported malformed by the
    layers from ~200 elements on (RecursionError, one Scapy layer per
    element) while the codec read it; now decode_mpdu, analyze, plain
    rdpcap and the codec see the same elements."""
    data = build(count)
    expected = [_EMPTY_IDS[i % len(_EMPTY_IDS)] for i in range(count)]
    body_start = len(data) - 2 * count
    assert len(data) - body_start + (len(_BEACON_FIXED) if build is _beacon else 0) <= MAX_MGMT_BODY

    codec_elements, _ = decode_elements(data, body_start)
    assert [e.element_id for e in codec_elements] == expected
    if build is _beacon:
        frame = decode(data)
        assert isinstance(frame, Beacon) and [e.element_id for e in frame.elements] == expected

    result = decode_mpdu(data)
    assert (result.malformed, result.undecoded) == (None, None)
    assert result.packet is not None and _element_ids(result.packet) == expected

    pcap = tmp_path / "deep.pcap"
    write_pcap(pcap, [(1.0, data)], LINKTYPE_IEEE802_11)
    analysis, _ = analyze(pcap, fcs="no")
    assert analysis.frames == 1 and analysis.malformed == [] and analysis.undecoded == []
    (plain,) = rdpcap(str(pcap))
    assert _element_ids(plain) == expected
    assert bytes(plain) == data

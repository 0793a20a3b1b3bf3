"""Block Ack action frames (category 3, 802.11-2020 9.6.4) in the codec and
the Scapy layers: ADDBA Request, ADDBA Response and DELBA decode to the
values tshark reads from the same bytes, field by field, and encode back
exactly; cut-short ones are refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.dot11 import Dot11

from meshframes.codec import ActionFrame, BlockAckAction, DecodeError, MacHeader, decode, encode
from meshframes.codec.blockack import (
    BA_PARAM_AMSDU,
    BA_PARAM_POLICY,
    SSC_FRAGMENT_MASK,
    AddbaRequest,
    AddbaResponse,
    Delba,
    ba_buffer_size,
)
from meshframes.codec.ie import RawElement
from meshframes.hosts import tshark
from meshframes.hosts.pcap import LINKTYPE_IEEE802_11, write_pcap
from meshframes.layers import DELBA, ADDBARequest, ADDBAResponse

A = bytes.fromhex("020000000100")
B = bytes.fromhex("020000000200")
HEADER = MacHeader(0x00D0, 0, B, A, B, 0x1230)

# Linux's own values (mac80211 agg-tx.c: buffer 64, immediate policy,
# A-MSDU allowed; a timeout of 0 in a mesh), then others, with DELBA both
# ways and an ADDBA Request carrying an element after its fixed fields.
FRAMES = [
    AddbaRequest(1, BA_PARAM_AMSDU | BA_PARAM_POLICY | (0 << 2) | (64 << 6), 0, 0x0010),
    AddbaResponse(1, 0, BA_PARAM_AMSDU | BA_PARAM_POLICY | (64 << 6), 0),
    AddbaRequest(200, BA_PARAM_POLICY | (7 << 2) | (1023 << 6), 5000, (4095 << 4) | 3,
                 (RawElement(45, bytes(26)),)),
    AddbaResponse(9, 37, (5 << 2) | (8 << 6), 65535),
    Delba(0x0800 | (6 << 12), 1),
    Delba(3 << 12, 39),
]


def _ours(body: AddbaRequest | AddbaResponse | Delba) -> dict[str, list[int]]:
    """Our values under tshark's field names (absent fields: [])."""
    got: dict[str, list[int]] = {name: [] for name in FIELDS}
    got["wlan.fixed.category_code"] = [3]
    if isinstance(body, Delba):
        got["wlan.fixed.action_code"] = [2]
        got["wlan.fixed.delba.param"] = [body.parameters]
        got["wlan.fixed.delba.param.initiator"] = [int(body.initiator)]
        got["wlan.fixed.delba.param.tid"] = [body.tid]
        got["wlan.fixed.reason_code"] = [body.reason]
        return got
    got["wlan.fixed.dialog_token"] = [body.dialog_token]
    got["wlan.fixed.baparams"] = [body.parameters]
    got["wlan.fixed.baparams.tid"] = [body.tid]
    got["wlan.fixed.baparams.buffersize"] = [ba_buffer_size(body.parameters)]
    got["wlan.fixed.baparams.policy"] = [int(bool(body.parameters & BA_PARAM_POLICY))]
    got["wlan.fixed.baparams.amsdu"] = [int(bool(body.parameters & BA_PARAM_AMSDU))]
    got["wlan.fixed.batimeout"] = [body.timeout]
    if isinstance(body, AddbaRequest):
        got["wlan.fixed.action_code"] = [0]
        got["wlan.fixed.ssc"] = [body.starting_sequence_control]
        got["wlan.fixed.ssc.sequence"] = [body.starting_sequence_number]
        got["wlan.fixed.ssc.fragment"] = [body.starting_sequence_control & SSC_FRAGMENT_MASK]
    else:
        got["wlan.fixed.action_code"] = [1]
        got["wlan.fixed.status_code"] = [body.status]
    return got


FIELDS = ["wlan.fixed.category_code", "wlan.fixed.action_code", "wlan.fixed.dialog_token",
          "wlan.fixed.status_code", "wlan.fixed.baparams", "wlan.fixed.baparams.tid",
          "wlan.fixed.baparams.buffersize", "wlan.fixed.baparams.policy", "wlan.fixed.baparams.amsdu",
          "wlan.fixed.batimeout", "wlan.fixed.ssc", "wlan.fixed.ssc.sequence", "wlan.fixed.ssc.fragment",
          "wlan.fixed.delba.param", "wlan.fixed.delba.param.initiator", "wlan.fixed.delba.param.tid",
          "wlan.fixed.reason_code"]


def _tshark_int(value: str) -> int:
    """tshark's JSON: booleans as True/False, numbers in decimal or hex."""
    return {"True": 1, "False": 0}[value] if value in ("True", "False") else int(value, 0)


@pytest.mark.tshark
def test_fields_equal_tshark_s(tmp_path: Path) -> None:
    """Each frame, encoded by the codec, reads in tshark as the codec reads it."""
    pcap = tmp_path / "blockack.pcap"
    write_pcap(pcap, [(float(i), encode(BlockAckAction(HEADER, body))) for i, body in enumerate(FRAMES)],
               LINKTYPE_IEEE802_11)
    theirs = tshark.fields(pcap, FIELDS)
    assert tshark.malformed_frames(pcap) == []
    for body, fields in zip(FRAMES, theirs, strict=True):
        assert _ours(body) == {name: [_tshark_int(v) for v in values] for name, values in fields.items()}, body


@pytest.mark.parametrize("body", FRAMES, ids=lambda b: type(b).__name__)
def test_codec_and_scapy_read_the_same_bytes_alike(body: AddbaRequest | AddbaResponse | Delba) -> None:
    data = encode(BlockAckAction(HEADER, body))
    assert decode(data) == BlockAckAction(HEADER, body)
    layer_class = {AddbaRequest: ADDBARequest, AddbaResponse: ADDBAResponse, Delba: DELBA}[type(body)]
    layer = Dot11(data).getlayer(layer_class)
    assert layer is not None
    if isinstance(body, Delba):
        assert (layer.delba_parameter_set, layer.reason_code) == (body.parameters, body.reason)
    else:
        assert layer.dialog_token == body.dialog_token
        assert layer.block_ack_parameter_set == body.parameters
        assert layer.block_ack_timeout_value == body.timeout
    assert bytes(Dot11(data)) == data


@pytest.mark.parametrize("cut, what", [(1, "Block Ack Action"), (2, "ADDBA Request fixed fields"),
                                       (7, "ADDBA Request fixed fields")])
def test_a_cut_short_frame_is_refused_by_name(cut: int, what: str) -> None:
    data = encode(BlockAckAction(HEADER, FRAMES[0]))[:24 + cut]
    with pytest.raises(DecodeError) as refused:
        decode(data)
    assert refused.value.what == what


def test_a_reserved_action_stays_a_plain_action_frame() -> None:
    """Block Ack Action values 3-255 are reserved: no layout to read."""
    data = HEADER.encode() + bytes((3, 9, 1, 2, 3))
    assert decode(data) == ActionFrame(HEADER, 3, bytes((9, 1, 2, 3)))


u8, u16 = st.integers(0, 0xFF), st.integers(0, 0xFFFF)
# Elements the codec keeps as bytes (HT Capabilities, HT Operation, a
# reserved ID): their own layouts are not what is tested here.
elements = st.lists(st.builds(RawElement, st.sampled_from([45, 61, 200]), st.binary(max_size=20)),
                    max_size=2).map(tuple)
bodies = st.one_of(st.builds(AddbaRequest, u8, u16, u16, u16, elements),
                   st.builds(AddbaResponse, u8, u16, u16, u16, elements),
                   st.builds(Delba, u16, u16, elements))


@settings(max_examples=100, deadline=None)
@given(bodies)
def test_any_block_ack_frame_round_trips(body: AddbaRequest | AddbaResponse | Delba) -> None:
    event = BlockAckAction(HEADER, body)
    assert decode(encode(event)) == event

"""FastPay messages <-> vendor-frame message type and payload, checked
against the type table of docs/wire-format.md, the reference's bincode
variant tags and sizes (fastpay-facts), and the Scapy layers' own reading
of frames the mesh node builds."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import meshframes  # noqa: F401  (registers our Scapy layers)
from meshframes.app.errors import AppRefusal, Reason
from meshframes.app.framing import frame_message, parse_message
from meshframes.codec import VendorAction, encode
from meshframes.codec.fastpay import FastPayFragment
from meshframes.fastpay.messages import CrossShard
from meshframes.fastpay.wire import encode_message
from meshframes.mesh.events import Transmit
from meshframes.mesh.node import MeshNode

from .helpers import every_message, order, vote

# docs/wire-format.md, "Message types and payload": type -> kind.
DOC_TYPES = {1: "order", 2: "vote", 3: "certificate", 4: "confirmation", 5: "info-request",
             6: "info-response", 7: "error", 8: "announce"}
# fastpay-facts: SerializedMessage variant index of each kind (none for ours).
REFERENCE_TAG = {"order": 0, "vote": 1, "certificate": 2, "confirmation": 2, "info-request": 5,
                 "info-response": 6, "error": 4}


@pytest.mark.parametrize("msg_type, kind", sorted(DOC_TYPES.items()))
def test_each_kind_travels_under_its_documented_type(msg_type: int, kind: str) -> None:
    """Type number as documented, payload tagged with the reference's
    variant index (the announcement is our untagged 80-octet struct), and
    parsing gives the very message back."""
    message = every_message()[kind]
    got_type, payload = frame_message(message)
    assert got_type == msg_type
    if kind == "announce":
        assert len(payload) == 32 + 8 + 32 + 8
    else:
        assert struct.unpack_from("<I", payload)[0] == REFERENCE_TAG[kind]
    assert parse_message(msg_type, payload) == message


def test_sizes_match_the_reference() -> None:
    """fastpay-facts: order 153 octets, vote 249, certificate 161 + 96 q
    (449 with q = 3 of 4 authorities)."""
    messages = every_message()
    assert len(frame_message(messages["order"])[1]) == 153
    assert len(frame_message(messages["vote"])[1]) == 249
    assert len(frame_message(messages["certificate"])[1]) == 161 + 96 * 3 == 449


@pytest.mark.parametrize("kind", sorted(set(DOC_TYPES.values())))
def test_scapy_names_the_type_of_the_frame_the_node_builds(kind: str) -> None:
    """The mesh node wraps our payload in its vendor frame; the Scapy
    layers (written apart from this module) name the same kind."""
    from meshframes.layers.dissect import decode_mpdu

    node = MeshNode(bytes.fromhex("020000000001"))
    msg_type, payload = frame_message(every_message()[kind])
    actions = node.send_payload(b"\xff" * 6, FastPayFragment(msg_type, 0, 1, 0, 1, payload), 0.0)
    frame = next(a.frame for a in actions if isinstance(a, Transmit) and isinstance(a.frame, VendorAction))
    decoded = decode_mpdu(encode(frame))
    assert decoded.kind == f"fastpay-{kind}", decoded.malformed


@pytest.mark.parametrize("msg_type, payload, reason", [
    (0, encode_message(order()), Reason.UNKNOWN_MESSAGE_TYPE),
    (9, encode_message(order()), Reason.UNKNOWN_MESSAGE_TYPE),
    (255, b"", Reason.UNKNOWN_MESSAGE_TYPE),
    (1, encode_message(vote(order())), Reason.TYPE_MISMATCH),
    (2, encode_message(order()), Reason.TYPE_MISMATCH),
    (4, encode_message(order()), Reason.TYPE_MISMATCH),
    (3, encode_message(CrossShard(certificate=every_message()["certificate"])), Reason.TYPE_MISMATCH),
    (1, encode_message(order())[:-1], Reason.UNDECODABLE),
    (1, encode_message(order()) + b"\x00", Reason.UNDECODABLE),
    (8, frame_message(every_message()["announce"])[1][:-1], Reason.UNDECODABLE),
    (5, b"", Reason.UNDECODABLE),
])
def test_bad_payloads_are_refused_with_their_reason(msg_type: int, payload: bytes, reason: Reason) -> None:
    with pytest.raises(AppRefusal) as refused:
        parse_message(msg_type, payload)
    assert refused.value.reason is reason
    assert refused.value.detail


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 255), st.binary(max_size=600))
def test_any_bytes_parse_or_are_refused(msg_type: int, payload: bytes) -> None:
    """Random input is a message or an AppRefusal, never another exception."""
    try:
        parse_message(msg_type, payload)
    except AppRefusal as refusal:
        assert refusal.reason in (Reason.UNKNOWN_MESSAGE_TYPE, Reason.UNDECODABLE, Reason.TYPE_MISMATCH)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(DOC_TYPES)), st.data())
def test_mutated_real_payloads_parse_or_are_refused(msg_type: int, data: st.DataObject) -> None:
    """Real payloads with bytes flipped, cut or appended: a message of the
    type's kind, or a counted refusal."""
    payload = bytearray(frame_message(every_message()[DOC_TYPES[msg_type]])[1])
    for _ in range(data.draw(st.integers(1, 4))):
        payload[data.draw(st.integers(0, len(payload) - 1))] ^= data.draw(st.integers(1, 255))
    payload = payload[: data.draw(st.integers(0, len(payload)))] + data.draw(st.binary(max_size=8))
    try:
        message = parse_message(msg_type, bytes(payload))
    except AppRefusal:
        return
    assert frame_message(message)[0] == msg_type

"""Properties over random frames of every kind meshframes seals: mesh QoS
data with and without A4, category-126 action frames in all three Mesh
Control address modes, individually and group addressed, with and without
HT Control."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from meshframes.codec.action import NON_ROBUST_CATEGORIES
from meshframes.codec.header import (
    SUBTYPE_ACTION,
    SUBTYPE_ACTION_NO_ACK,
    SUBTYPE_DEAUTHENTICATION,
    SUBTYPE_DISASSOCIATION,
)
from meshframes.seal import ccmp
from meshframes.seal.errors import FrameTooShort, HopError, NotProtectable
from meshframes.seal.hop import HopSealer
from meshframes.seal.keys import GroupKey

from .frames import BROADCAST, action, fastpay_body, mesh_control, qos_data

TK = bytes(range(16))
GROUP = GroupKey(bytes(range(16, 32)), 1)

unicast = st.binary(min_size=6, max_size=6).map(lambda mac: bytes((mac[0] & 0xFE,)) + mac[1:])
group = st.one_of(st.just(BROADCAST), st.binary(min_size=6, max_size=6).map(lambda mac: bytes((mac[0] | 1,)) + mac[1:]))
body = st.binary(max_size=48)


@st.composite
def data_frames(draw: st.DrawFn) -> bytes:
    transmitter = draw(unicast)
    if draw(st.booleans()):
        # Four-address mesh data (9.3.5): A3 mesh DA, A4 mesh SA.
        receiver, a4 = draw(unicast), draw(unicast)
    else:
        # Three-address: group-addressed mesh data, or single hop.
        receiver, a4 = draw(st.one_of(unicast, group)), None
    extension = draw(st.sampled_from([(), (draw(unicast),), (draw(unicast), draw(unicast))]))
    payload = mesh_control(draw(st.integers(0, 255)), draw(st.integers(0, 2**32 - 1)), extension) + draw(body)
    return qos_data(
        receiver,
        transmitter,
        draw(unicast),
        payload,
        a4=a4,
        tid=draw(st.integers(0, 15)),
        qos_high=draw(st.sampled_from([0x00, 0x01, 0x03])),
        sequence=draw(st.integers(0, 4095)),
        retry=draw(st.booleans()),
        order=draw(st.booleans()),
        from_ds=draw(st.booleans()),
    )


@st.composite
def action_frames(draw: st.DrawFn) -> bytes:
    transmitter = draw(unicast)
    receiver = draw(st.one_of(unicast, group))
    mode = draw(st.integers(0, 2))
    fields = {"mesh_da": draw(unicast), "mesh_sa": draw(unicast)} if mode == 2 else {}
    frame_body = fastpay_body(
        draw(body),
        ttl=draw(st.integers(0, 255)),
        msg_type=draw(st.integers(1, 8)),
        flags=draw(st.integers(0, 1)),
        msg_id=draw(st.integers(0, 0xFFFF)),
        **fields,
    )
    if mode == 1:
        # Address extension mode 1: A4 only, spliced in after TTL and sequence.
        at = 4 + 6
        frame_body = frame_body[:4] + bytes((1,)) + frame_body[5:at] + draw(unicast) + frame_body[at:]
    return action(receiver, transmitter, transmitter, frame_body, sequence=draw(st.integers(0, 4095)), order=draw(st.booleans()))


frames = st.one_of(data_frames(), action_frames())


def sealers(frame: bytes) -> tuple[HopSealer, HopSealer]:
    """A transmitter (A2) and a receiver holding the matching key."""
    receiver_mac, transmitter_mac = frame[4:10], frame[10:16]
    sender = HopSealer(transmitter_mac)
    receiver = HopSealer(receiver_mac if not receiver_mac[0] & 1 else b"\x02" + bytes(5))
    sender.keys.install_pairwise(receiver_mac, TK)
    receiver.keys.install_pairwise(transmitter_mac, TK)
    sender.keys.install_group_tx(GROUP)
    receiver.keys.install_group_rx(transmitter_mac, GROUP)
    return sender, receiver


def unauthenticated_bits(sealed: bytes) -> dict[int, int]:
    """Octet offset -> bits CCMP leaves out of the MIC (12.5.3.3.3): Duration,
    Retry/Power Management/More Data, the data subtype bits 4-6 (QoS kept),
    the sequence number, QoS Control other than the TID, HT Control, and the
    reserved bits of the CCMP header."""
    header_len, _, _ = ccmp.frame_layout(sealed)
    bits = {1: 0x38, 2: 0xFF, 3: 0xFF, 22: 0xF0, 23: 0xFF}
    if sealed[0] & ccmp.FC0_TYPE_MASK == ccmp.FC0_TYPE_DATA:
        bits[0] = 0x70
        qos = 30 if sealed[1] & 0x03 == 0x03 else 24
        bits[qos] = 0xF0
        bits[qos + 1] = 0xFF
        if sealed[1] & ccmp.FC1_ORDER:
            bits.update({qos + 2 + i: 0xFF for i in range(4)})
    elif sealed[1] & ccmp.FC1_ORDER:
        bits.update({24 + i: 0xFF for i in range(4)})
    bits[header_len + 2] = 0xFF
    bits[header_len + 3] = 0x1F
    return bits


@settings(max_examples=200, deadline=None)
@given(frames)
def test_seal_then_open_is_the_identity(frame):
    """Whatever we seal opens to exactly the frame we sealed."""
    sender, receiver = sealers(frame)
    sealed = sender.seal(frame)
    assert len(sealed) == len(frame) + ccmp.CCMP_OVERHEAD
    assert receiver.open(sealed) == frame


@settings(max_examples=60, deadline=None)
@given(frames)
def test_every_authenticated_bit_flip_is_detected(frame):
    """Flip each bit of the sealed frame in turn. A bit the MIC covers is
    always refused; a bit CCMP leaves out (see unauthenticated_bits) either is
    refused or opens to the original frame with only that header bit changed,
    so it can never alter what is protected."""
    sender, _ = sealers(frame)
    sealed = sender.seal(frame)
    loose = unauthenticated_bits(sealed)
    header_len, _, _ = ccmp.frame_layout(sealed)
    for offset in range(len(sealed)):
        for bit in range(8):
            mask = 1 << bit
            tampered = sealed[:offset] + bytes((sealed[offset] ^ mask,)) + sealed[offset + 1 :]
            _, receiver = sealers(frame)
            try:
                opened = receiver.open(tampered)
            except HopError as error:
                assert receiver.rejected[error.reason] == 1
                continue
            assert loose.get(offset, 0) & mask, f"flip of octet {offset} bit {bit} went undetected"
            if offset < header_len:
                assert opened == frame[:offset] + bytes((frame[offset] ^ mask,)) + frame[offset + 1 :]
            else:
                assert opened == frame


@settings(max_examples=100, deadline=None)
@given(frames, st.integers(1, 2**48 - 1), st.integers(0, 3))
def test_ccmp_header_carries_pn_and_key_id(frame, pn, key_id):
    """The PN and key id written into the CCMP header read back unchanged."""
    sealed = ccmp.encapsulate(ccmp.new_cipher(TK), frame, pn, key_id)
    header_len, _, _, read_key_id, read_pn = ccmp.parse_protected(sealed)
    assert (read_pn, read_key_id) == (pn, key_id)
    assert struct.unpack_from("<H", sealed, header_len)[0] == pn & 0xFFFF


def _layout_by_the_rule(frame: bytes) -> tuple[int, bytes, int] | None:
    """What `protection_layout` must give, spelled out as 12.2.8 reads,
    apart from the code under test: data frames that carry data,
    disassociation and deauthentication always, action frames whose
    category is robust; nothing else."""
    try:
        layout = ccmp.frame_layout(frame)
    except (NotProtectable, FrameTooShort):
        return None  # not version 0, control, or data without data; or cut short
    if frame[0] & 0x0C:
        return layout
    subtype = frame[0] >> 4
    if subtype in (SUBTYPE_DISASSOCIATION, SUBTYPE_DEAUTHENTICATION):
        return layout
    header_len = layout[0]
    if (subtype in (SUBTYPE_ACTION, SUBTYPE_ACTION_NO_ACK) and len(frame) > header_len
            and frame[header_len] not in NON_ROBUST_CATEGORIES):
        return layout
    return None


# Any Frame Control (and the common ones under every flag octet), frames
# cut short inside the header, and headers followed by nothing or by a
# Category, robust or not: every type and subtype, cut-short action frames
# and every category come up.
frame_control = st.one_of(
    st.integers(0, 0xFFFF),
    st.tuples(st.sampled_from([0xD0, 0xE0, 0xC0, 0xA0, 0x80, 0x88, 0x08, 0xC8]), st.integers(0, 0xFF)).map(
        lambda octets: octets[0] | octets[1] << 8))
# After the 24 octets of a three-address header: nothing, or a Category
# (robust or not, 126 and 127 among them) and what follows.
after_header = st.one_of(st.just(b""), st.tuples(
    st.sampled_from([4, 7, 11, 13, 14, 15, 18, 21, 22, 126, 127, 255]) | st.integers(0, 255),
    st.binary(max_size=12)).map(lambda cat_rest: bytes((cat_rest[0],)) + cat_rest[1]))
any_mpdu = st.tuples(frame_control, st.one_of(
    st.binary(max_size=21),  # cut short inside the header
    st.tuples(st.binary(min_size=22, max_size=26), after_header).map(lambda rest: rest[0] + rest[1]),
)).map(lambda parts: struct.pack("<H", parts[0]) + parts[1])


@settings(max_examples=600, deadline=None)
@given(st.one_of(any_mpdu, frames))
def test_protection_layout_is_the_robust_frame_rule(frame):
    expected = _layout_by_the_rule(frame)
    assert ccmp.protection_layout(frame) == expected
    try:
        header_len = ccmp.frame_layout(frame)[0]
    except (NotProtectable, FrameTooShort):
        return
    try:
        ccmp.check_protectable(frame, header_len)
    except (NotProtectable, FrameTooShort):
        assert expected is None
    else:
        assert expected is not None

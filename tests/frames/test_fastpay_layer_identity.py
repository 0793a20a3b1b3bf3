"""The FastPay Scapy layers and the engines' bincode codec
(meshframes.fastpay.wire) produce and accept the same bytes."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.packet import Padding, Raw

from meshframes.fastpay import messages as m
from meshframes.fastpay.wire import decode_announcement, decode_message, encode_announcement, encode_message
from meshframes.layers import FastPayAuthorityAnnouncement, FastPayHeader, FastPayMessage
from meshframes.layers.build import BUILDERS, FrameOptions, build

key = st.binary(min_size=32, max_size=32)
sig = st.binary(min_size=64, max_size=64)
u64 = st.integers(0, 2**64 - 1)
i128 = st.integers(-(2**127), 2**127 - 1)

transfer = st.builds(
    lambda s, kind, r, a, n, u: m.Transfer(sender=s, recipient=m.Address(kind=kind, key=r), amount=a,
                                           sequence_number=n, user_data=u),
    key, st.sampled_from(list(m.AddressKind)), key, u64, u64, st.none() | key)
order = st.builds(lambda t, s: m.TransferOrder(transfer=t, signature=s), transfer, sig)
vote = st.builds(lambda o, a, s: m.SignedTransferOrder(value=o, authority=a, signature=s), order, key, sig)
certificate = st.builds(lambda o, sigs: m.CertifiedTransferOrder(value=o, signatures=tuple(sigs)), order,
                        st.lists(st.tuples(key, sig), max_size=25))


def _error(kind: m.ErrorKind, text: str, balance: int, pending, seq: int) -> m.FastPayError:
    payload = m.ERROR_PAYLOAD.get(kind)
    values = {"error": text, "current_balance": balance, "pending_confirmation": pending,
              "current_sequence_number": seq}
    return m.FastPayError(kind=kind, **({payload: values[payload]} if payload else {}))


messages = st.one_of(
    order,
    vote,
    certificate,
    st.builds(lambda s, a, b: m.AccountInfoRequest(sender=s, request_sequence_number=a,
                                                   request_received_transfers_excluding_first_nth=b),
              key, st.none() | u64, st.none() | u64),
    st.builds(lambda s, b, n, p, c, r: m.AccountInfoResponse(
        sender=s, balance=b, next_sequence_number=n, pending_confirmation=p, requested_certificate=c,
        requested_received_transfers=tuple(r)),
        key, i128, u64, st.none() | vote, st.none() | certificate, st.lists(certificate, max_size=3)),
    st.builds(_error, st.sampled_from(list(m.ErrorKind)), st.text(max_size=30), i128, order, u64),
)


def _clean(layer) -> None:
    while layer:
        assert not isinstance(layer, (Raw, Padding)), layer.name
        layer = layer.payload


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages)
def test_engine_bytes_dissect_and_rebuild_in_scapy(message):
    raw = encode_message(message)
    pkt = FastPayMessage(raw)
    _clean(pkt)
    assert bytes(pkt) == raw
    rebuilt = FastPayMessage(variant=pkt.variant) / pkt.payload.__class__(**{
        f.name: pkt.payload.getfieldval(f.name) for f in pkt.payload.fields_desc
        if not f.name.endswith(("_tag", "_count", "_length"))})
    assert bytes(rebuilt) == raw
    assert decode_message(bytes(rebuilt)) == message


@settings(max_examples=100, deadline=None)
@given(key, u64, key, st.binary(min_size=8, max_size=8))
def test_announcement_is_the_same_struct(name, weight, e2e, committee):
    theirs = m.AuthorityAnnouncement(name=name, weight=weight, e2e_key=e2e, committee_id=committee)
    ours = FastPayAuthorityAnnouncement(name=name, weight=weight, e2e_key=e2e, committee_id=committee)
    assert bytes(ours) == encode_announcement(theirs)
    assert decode_announcement(bytes(ours)) == theirs


def test_every_fastpay_frame_we_build_decodes_in_the_engine_codec():
    for kind in (k for k in BUILDERS if k.startswith("fastpay-")):
        for ae in (False, True):
            header = build(kind, FrameOptions(ae=ae, count=4))[FastPayHeader]
            body = bytes(header.payload)
            if kind == "fastpay-announce":
                assert encode_announcement(decode_announcement(body)) == body
            else:
                assert encode_message(decode_message(body)) == body

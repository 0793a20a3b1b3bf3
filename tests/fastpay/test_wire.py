"""The FastPay codec against bytes written by hand from the reference's
format (fastpay.yaml at db39bb0, bincode 1.x defaults), not from our
encoder: u32 LE variant tags, Option as 00/01, u64 LE lengths, raw arrays."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshframes.fastpay.messages import (
    AccountInfoRequest,
    AccountInfoResponse,
    Address,
    AuthorityAnnouncement,
    CertifiedTransferOrder,
    ConfirmationOrder,
    CrossShard,
    ErrorKind,
    FastPayError,
    SignedTransferOrder,
    Transfer,
    TransferOrder,
)
from meshframes.fastpay.wire import (
    BincodeError,
    decode_announcement,
    decode_message,
    encode_announcement,
    encode_message,
    signing_bytes,
)

A = b"\x01" * 32  # sender
B = b"\x02" * 32  # recipient
S = b"\x03" * 64  # sender's signature
U = b"\x04" * 32  # user data
N1, N2 = b"\x0a" * 32, b"\x0b" * 32  # authority names
V1, V2 = b"\x1a" * 64, b"\x1b" * 64  # authority signatures

ORDER = TransferOrder(
    transfer=Transfer(sender=A, recipient=Address.fastpay(B), amount=5, sequence_number=7), signature=S
)
# Written by hand: 01*32 | Address::FastPay = 01000000 | 02*32 | amount 5 |
# seq 7 | user_data None = 00 | signature 03*64.
ORDER_BODY = "01" * 32 + "01000000" + "02" * 32 + "0500000000000000" + "0700000000000000" + "00" + "03" * 64

ORDER_PRIMARY_UD = TransferOrder(
    transfer=Transfer(
        sender=A, recipient=Address.primary(B), amount=2**64 - 1, sequence_number=0x0102030405060708, user_data=U
    ),
    signature=S,
)
ORDER_PRIMARY_UD_BODY = (
    "01" * 32 + "00000000" + "02" * 32 + "ffffffffffffffff" + "0807060504030201" + "01" + "04" * 32 + "03" * 64
)

CERT = CertifiedTransferOrder(value=ORDER, signatures=((N1, V1), (N2, V2)))
CERT_BODY = ORDER_BODY + "0200000000000000" + "0a" * 32 + "1a" * 64 + "0b" * 32 + "1b" * 64

VOTE = SignedTransferOrder(value=ORDER_PRIMARY_UD, authority=N1, signature=V1)

CASES = [
    ("order", ORDER, "00000000" + ORDER_BODY),
    ("vote", VOTE, "01000000" + ORDER_PRIMARY_UD_BODY + "0a" * 32 + "1a" * 64),
    ("cert", CERT, "02000000" + CERT_BODY),
    ("cross-shard", CrossShard(certificate=CERT), "03000000" + CERT_BODY),
    (
        "error-invalid-signature",
        FastPayError(kind=ErrorKind.InvalidSignature, error="bad"),
        "04000000" + "00000000" + "0300000000000000" + "626164",
    ),
    ("error-unit", FastPayError(kind=ErrorKind.UnknownSigner), "04000000" + "01000000"),
    (
        "error-insufficient-funding",
        FastPayError(kind=ErrorKind.InsufficientFunding, current_balance=-2),
        "04000000" + "05000000" + "fe" + "ff" * 15,
    ),
    (
        "error-previous-transfer",
        FastPayError(kind=ErrorKind.PreviousTransferMustBeConfirmedFirst, pending_confirmation=ORDER),
        "04000000" + "06000000" + ORDER_BODY,
    ),
    (
        "error-missing-earlier",
        FastPayError(kind=ErrorKind.MissingEalierConfirmations, current_sequence_number=3),
        "04000000" + "09000000" + "0300000000000000",
    ),
    (
        "error-client-io",
        FastPayError(kind=ErrorKind.ClientIoError, error="é"),
        "04000000" + "19000000" + "0200000000000000" + "c3a9",
    ),
    (
        "info-request",
        AccountInfoRequest(sender=A, request_sequence_number=9),
        "05000000" + "01" * 32 + "01" + "0900000000000000" + "00",
    ),
    (
        "info-response-empty",
        AccountInfoResponse(sender=A, balance=1000, next_sequence_number=1),
        "06000000" + "01" * 32 + "e803" + "00" * 14 + "0100000000000000" + "00" + "00" + "0000000000000000",
    ),
    (
        "info-response-full",
        AccountInfoResponse(
            sender=A,
            balance=-1,
            next_sequence_number=7,
            pending_confirmation=VOTE,
            requested_certificate=CERT,
            requested_received_transfers=(CERT,),
        ),
        "06000000"
        + "01" * 32
        + "ff" * 16
        + "0700000000000000"
        + "01"
        + ORDER_PRIMARY_UD_BODY
        + "0a" * 32
        + "1a" * 64
        + "01"
        + CERT_BODY
        + "0100000000000000"
        + CERT_BODY,
    ),
]


@pytest.mark.parametrize("name,message,expected", CASES, ids=[c[0] for c in CASES])
def test_encode_matches_hand_written_bytes(name: str, message: object, expected: str) -> None:
    assert encode_message(message).hex() == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("name,message,expected", CASES, ids=[c[0] for c in CASES])
def test_decode_hand_written_bytes(name: str, message: object, expected: str) -> None:
    assert decode_message(bytes.fromhex(expected)) == message


@pytest.mark.parametrize("name,message,expected", CASES, ids=[c[0] for c in CASES])
def test_every_truncation_and_trailing_byte_is_refused(name: str, message: object, expected: str) -> None:
    data = bytes.fromhex(expected)
    for cut in range(len(data)):
        with pytest.raises(BincodeError):
            decode_message(data[:cut])
    with pytest.raises(BincodeError, match="trailing"):
        decode_message(data + b"\x00")


def test_sizes_match_the_reference() -> None:
    """order 153 B, vote 249 B, certificate 161 + 96 q B."""
    assert len(encode_message(ORDER)) == 153
    assert len(encode_message(SignedTransferOrder(value=ORDER, authority=N1, signature=V1))) == 249
    for q in (3, 14, 22):
        cert = CertifiedTransferOrder(value=ORDER, signatures=tuple((bytes([i]) * 32, V1) for i in range(q)))
        assert len(encode_message(cert)) == 161 + 96 * q


def test_confirmation_order_is_sent_as_cert() -> None:
    assert encode_message(ConfirmationOrder(transfer_certificate=CERT)) == encode_message(CERT)


def test_signing_bytes_are_domain_prefixed_bcs() -> None:
    # BCS: enum variant as ULEB128 (one byte 01 here), Option as one byte.
    expected = (
        b"Transfer::".hex()
        + "01" * 32
        + "01"
        + "02" * 32
        + "0500000000000000"
        + "0700000000000000"
        + "00"
    )
    assert signing_bytes(ORDER.transfer).hex() == expected
    expected_ud = (
        b"Transfer::".hex()
        + "01" * 32
        + "00"
        + "02" * 32
        + "ffffffffffffffff"
        + "0807060504030201"
        + "01"
        + "04" * 32
    )
    assert signing_bytes(ORDER_PRIMARY_UD.transfer).hex() == expected_ud


def test_announcement_layout() -> None:
    a = AuthorityAnnouncement(name=N1, weight=3, e2e_key=B, committee_id=bytes(range(8)))
    expected = "0a" * 32 + "0300000000000000" + "02" * 32 + "0001020304050607"
    assert encode_announcement(a).hex() == expected
    assert decode_announcement(bytes.fromhex(expected)) == a
    with pytest.raises(BincodeError, match="trailing"):
        decode_announcement(bytes.fromhex(expected) + b"\x00")
    with pytest.raises(BincodeError, match="AuthorityAnnouncement"):
        decode_announcement(bytes.fromhex(expected)[:-1])


@pytest.mark.parametrize(
    "data,what,offset",
    [
        ("07000000", "SerializedMessage variant", 0),
        ("00000000" + "01" * 32 + "02000000" + "02" * 48 + "00", "Address variant", 36),
        ("00000000" + ORDER_BODY[: (32 + 4 + 32 + 16) * 2] + "02", "Transfer.user_data", 88),
        ("04000000" + "1a000000", "FastPayError variant", 4),
        ("04000000" + "00000000" + "0100000000000000" + "ff", "FastPayError::InvalidSignature.error", 16),
        ("05000000" + "01" * 32 + "05", "AccountInfoRequest.request_sequence_number", 36),
        ("02000000" + ORDER_BODY + "ffffffffffffffff", "CertifiedTransferOrder.signatures", 161),
    ],
)
def test_malformed_input_names_what_and_where(data: str, what: str, offset: int) -> None:
    with pytest.raises(BincodeError) as info:
        decode_message(bytes.fromhex(data))
    assert info.value.what.startswith(what)
    assert info.value.offset == offset


keys = st.binary(min_size=32, max_size=32)
sigs = st.binary(min_size=64, max_size=64)
u64 = st.integers(0, 2**64 - 1)
addresses = st.builds(Address.fastpay, keys) | st.builds(Address.primary, keys)
transfers = st.builds(
    Transfer,
    sender=keys,
    recipient=addresses,
    amount=u64,
    sequence_number=u64,
    user_data=st.none() | keys,
)
orders = st.builds(TransferOrder, transfer=transfers, signature=sigs)
votes = st.builds(SignedTransferOrder, value=orders, authority=keys, signature=sigs)
certs = st.builds(
    CertifiedTransferOrder, value=orders, signatures=st.lists(st.tuples(keys, sigs), max_size=5).map(tuple)
)
errors = st.sampled_from([k for k in ErrorKind if k.value not in (0, 5, 6, 9, 25)]).map(
    lambda k: FastPayError(kind=k)
) | st.builds(
    FastPayError,
    kind=st.just(ErrorKind.InsufficientFunding),
    current_balance=st.integers(-(2**127), 2**127 - 1),
)
messages = st.one_of(
    orders,
    votes,
    certs,
    errors,
    st.builds(
        AccountInfoRequest,
        sender=keys,
        request_sequence_number=st.none() | u64,
        request_received_transfers_excluding_first_nth=st.none() | u64,
    ),
    st.builds(
        AccountInfoResponse,
        sender=keys,
        balance=st.integers(-(2**127), 2**127 - 1),
        next_sequence_number=u64,
        pending_confirmation=st.none() | votes,
        requested_certificate=st.none() | certs,
        requested_received_transfers=st.lists(certs, max_size=2).map(tuple),
    ),
)


@settings(max_examples=200)
@given(messages)
def test_round_trip(message: object) -> None:
    assert decode_message(encode_message(message)) == message  # type: ignore[arg-type]


@settings(max_examples=300)
@given(st.binary(max_size=600))
def test_random_bytes_only_raise_decode_error(data: bytes) -> None:
    try:
        message = decode_message(data)
    except BincodeError:
        return
    assert encode_message(message) == data


@settings(max_examples=200)
@given(messages, st.data())
def test_mutated_messages_decode_or_fail_cleanly(message: object, data: st.DataObject) -> None:
    raw = bytearray(encode_message(message))  # type: ignore[arg-type]
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] = data.draw(st.integers(0, 255))
    try:
        decoded = decode_message(bytes(raw))
    except BincodeError:
        return
    assert encode_message(decoded) == bytes(raw)

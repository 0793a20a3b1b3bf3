"""bincode 1.x codec of FastPay's `SerializedMessage`, and the BCS bytes
that FastPay signs.

The layout is the reference's (`fastpay_core/tests/staged/fastpay.yaml` at
novifinancial/fastpay db39bb0, serialised with bincode 1.3 defaults):
little-endian fixed-width integers, enum variant index as u32, Option as
one byte 0/1 then the value, sequence and string lengths as u64, fixed
arrays raw with no length prefix, i128 as 16 bytes two's complement.

Decoding is strict where bincode is lenient on purpose: trailing bytes
after a message are an error here (bincode's `deserialize` ignores them),
because a FastPay message on our mesh is reassembled to its exact length
and anything after it means the framing is wrong.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from .messages import (
    ERROR_PAYLOAD,
    PUBLIC_KEY_LEN,
    SIGNATURE_LEN,
    AccountInfoRequest,
    AccountInfoResponse,
    Address,
    AddressKind,
    AuthorityAnnouncement,
    CertifiedTransferOrder,
    ConfirmationOrder,
    CrossShard,
    ErrorKind,
    FastPayError,
    SerializedMessage,
    SignedTransferOrder,
    Transfer,
    TransferOrder,
)


class BincodeError(ValueError):
    """Malformed FastPay bytes: what was being read, where, got and expected."""

    def __init__(self, what: str, offset: int, got: str, expected: str) -> None:
        super().__init__(f"{what} at offset {offset}: got {got}, expected {expected}")
        self.what = what
        self.offset = offset
        self.got = got
        self.expected = expected


class MessageTag:
    """Variant indexes of `SerializedMessage`."""

    ORDER = 0
    VOTE = 1
    CERT = 2
    CROSS_SHARD = 3
    ERROR = 4
    INFO_REQ = 5
    INFO_RESP = 6


# FastPay's `BcsSignable` domain separator: the type name and "::".
TRANSFER_DOMAIN = b"Transfer::"

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_TRANSFER_HEAD = struct.Struct("<32sI32sQQ")  # sender, recipient tag+key, amount, seq
_BCS_TRANSFER_HEAD = struct.Struct("<32sB32sQQ")  # ULEB128 of a tag < 128 is one byte
_PAIR = struct.Struct("<32s64s")
_ANNOUNCEMENT = struct.Struct("<32sQ32s8s")
_OPT_NONE = b"\x00"
_OPT_SOME = b"\x01"


# ---- encoding ---------------------------------------------------------------


def _enc_user_data(user_data: bytes | None) -> bytes:
    return _OPT_NONE if user_data is None else _OPT_SOME + user_data


def encode_transfer(t: Transfer) -> bytes:
    r = t.recipient
    return _TRANSFER_HEAD.pack(t.sender, r.kind, r.key, t.amount, t.sequence_number) + _enc_user_data(t.user_data)


def signing_bytes(t: Transfer) -> bytes:
    """What the sender and every voting authority sign: "Transfer::" followed
    by the BCS encoding of the transfer."""
    r = t.recipient
    return (
        TRANSFER_DOMAIN
        + _BCS_TRANSFER_HEAD.pack(t.sender, r.kind, r.key, t.amount, t.sequence_number)
        + _enc_user_data(t.user_data)
    )


def encode_order(o: TransferOrder) -> bytes:
    return encode_transfer(o.transfer) + o.signature


def encode_vote(v: SignedTransferOrder) -> bytes:
    return encode_order(v.value) + v.authority + v.signature


def encode_certificate(c: CertifiedTransferOrder) -> bytes:
    parts = [encode_order(c.value), _U64.pack(len(c.signatures))]
    parts.extend(a + s for a, s in c.signatures)
    return b"".join(parts)


def _enc_i128(value: int) -> bytes:
    return value.to_bytes(16, "little", signed=True)


def _enc_opt_u64(value: int | None) -> bytes:
    return _OPT_NONE if value is None else _OPT_SOME + _U64.pack(value)


def _enc_str(value: str) -> bytes:
    raw = value.encode("utf-8")
    return _U64.pack(len(raw)) + raw


def encode_error(e: FastPayError) -> bytes:
    head = _U32.pack(e.kind)
    # FastPayError.__post_init__ guarantees that exactly the field that
    # ERROR_PAYLOAD names for this kind is set, and the others are None.
    if e.error is not None:
        return head + _enc_str(e.error)
    if e.current_balance is not None:
        return head + _enc_i128(e.current_balance)
    if e.pending_confirmation is not None:
        return head + encode_order(e.pending_confirmation)
    if e.current_sequence_number is not None:
        return head + _U64.pack(e.current_sequence_number)
    return head


def encode_info_request(r: AccountInfoRequest) -> bytes:
    return (
        r.sender
        + _enc_opt_u64(r.request_sequence_number)
        + _enc_opt_u64(r.request_received_transfers_excluding_first_nth)
    )


def encode_info_response(r: AccountInfoResponse) -> bytes:
    parts = [r.sender, _enc_i128(r.balance), _U64.pack(r.next_sequence_number)]
    parts.append(_OPT_NONE if r.pending_confirmation is None else _OPT_SOME + encode_vote(r.pending_confirmation))
    parts.append(
        _OPT_NONE if r.requested_certificate is None else _OPT_SOME + encode_certificate(r.requested_certificate)
    )
    parts.append(_U64.pack(len(r.requested_received_transfers)))
    parts.extend(encode_certificate(c) for c in r.requested_received_transfers)
    return b"".join(parts)


_TAG_BYTES = [_U32.pack(i) for i in range(7)]


def encode_message(message: SerializedMessage) -> bytes:
    """bincode of `SerializedMessage` (u32 variant tag first)."""
    if type(message) is TransferOrder:
        return _TAG_BYTES[MessageTag.ORDER] + encode_order(message)
    if type(message) is SignedTransferOrder:
        return _TAG_BYTES[MessageTag.VOTE] + encode_vote(message)
    if type(message) is CertifiedTransferOrder:
        return _TAG_BYTES[MessageTag.CERT] + encode_certificate(message)
    if type(message) is ConfirmationOrder:
        return _TAG_BYTES[MessageTag.CERT] + encode_certificate(message.transfer_certificate)
    if type(message) is CrossShard:
        return _TAG_BYTES[MessageTag.CROSS_SHARD] + encode_certificate(message.certificate)
    if type(message) is FastPayError:
        return _TAG_BYTES[MessageTag.ERROR] + encode_error(message)
    if type(message) is AccountInfoRequest:
        return _TAG_BYTES[MessageTag.INFO_REQ] + encode_info_request(message)
    if type(message) is AccountInfoResponse:
        return _TAG_BYTES[MessageTag.INFO_RESP] + encode_info_response(message)
    raise TypeError(f"not a FastPay SerializedMessage: {type(message).__name__}")


def encode_announcement(a: AuthorityAnnouncement) -> bytes:
    """bincode of our AuthorityAnnouncement (a struct: no enum tag)."""
    return _ANNOUNCEMENT.pack(a.name, a.weight, a.e2e_key, a.committee_id)


# ---- decoding ---------------------------------------------------------------


def _need(data: bytes, pos: int, n: int, what: str) -> None:
    if len(data) - pos < n:
        raise BincodeError(what, pos, f"{len(data) - pos} bytes left", f"{n} bytes")


def _dec_option(data: bytes, pos: int, what: str) -> tuple[bool, int]:
    _need(data, pos, 1, what)
    flag = data[pos]
    if flag > 1:
        raise BincodeError(what, pos, f"Option tag {flag}", "0 (None) or 1 (Some)")
    return flag == 1, pos + 1


def _dec_u64(data: bytes, pos: int, what: str) -> tuple[int, int]:
    _need(data, pos, 8, what)
    return _U64.unpack_from(data, pos)[0], pos + 8


def _dec_opt_u64(data: bytes, pos: int, what: str) -> tuple[int | None, int]:
    some, pos = _dec_option(data, pos, what)
    if not some:
        return None, pos
    return _dec_u64(data, pos, what)


def _dec_i128(data: bytes, pos: int, what: str) -> tuple[int, int]:
    _need(data, pos, 16, what)
    return int.from_bytes(data[pos : pos + 16], "little", signed=True), pos + 16


def _dec_str(data: bytes, pos: int, what: str) -> tuple[str, int]:
    n, pos = _dec_u64(data, pos, f"{what} length")
    _need(data, pos, n, what)
    raw = data[pos : pos + n]
    try:
        return raw.decode("utf-8"), pos + n
    except UnicodeDecodeError as exc:
        raise BincodeError(what, pos + exc.start, "invalid UTF-8", "a UTF-8 string") from None


def decode_transfer(data: bytes, pos: int) -> tuple[Transfer, int]:
    _need(data, pos, _TRANSFER_HEAD.size, "Transfer")
    sender, tag, key, amount, seq = _TRANSFER_HEAD.unpack_from(data, pos)
    if tag > 1:
        raise BincodeError("Address variant", pos + 32, f"tag {tag}", "0 (Primary) or 1 (FastPay)")
    pos += _TRANSFER_HEAD.size
    some, pos = _dec_option(data, pos, "Transfer.user_data")
    user_data = None
    if some:
        _need(data, pos, 32, "Transfer.user_data")
        user_data = data[pos : pos + 32]
        pos += 32
    transfer = Transfer(
        sender=sender,
        recipient=Address(kind=AddressKind(tag), key=key),
        amount=amount,
        sequence_number=seq,
        user_data=user_data,
    )
    return transfer, pos


def decode_order(data: bytes, pos: int) -> tuple[TransferOrder, int]:
    transfer, pos = decode_transfer(data, pos)
    _need(data, pos, SIGNATURE_LEN, "TransferOrder.signature")
    return TransferOrder(transfer=transfer, signature=data[pos : pos + SIGNATURE_LEN]), pos + SIGNATURE_LEN


def decode_vote(data: bytes, pos: int) -> tuple[SignedTransferOrder, int]:
    order, pos = decode_order(data, pos)
    _need(data, pos, _PAIR.size, "SignedTransferOrder authority and signature")
    authority, signature = _PAIR.unpack_from(data, pos)
    return SignedTransferOrder(value=order, authority=authority, signature=signature), pos + _PAIR.size


def decode_certificate(data: bytes, pos: int) -> tuple[CertifiedTransferOrder, int]:
    order, pos = decode_order(data, pos)
    count, pos = _dec_u64(data, pos, "CertifiedTransferOrder.signatures length")
    # Check the whole list fits before looping, so a forged length cannot
    # make us spin or allocate.
    _need(data, pos, count * _PAIR.size, f"CertifiedTransferOrder.signatures ({count} pairs)")
    pairs = tuple(_PAIR.unpack_from(data, pos + i * _PAIR.size) for i in range(count))
    return CertifiedTransferOrder(value=order, signatures=pairs), pos + count * _PAIR.size


def decode_error(data: bytes, pos: int) -> tuple[FastPayError, int]:
    _need(data, pos, 4, "FastPayError variant")
    tag = _U32.unpack_from(data, pos)[0]
    if tag >= len(ErrorKind):
        raise BincodeError("FastPayError variant", pos, f"tag {tag}", f"0..{len(ErrorKind) - 1}")
    kind = ErrorKind(tag)
    pos += 4
    field = ERROR_PAYLOAD.get(kind)
    if field is None:
        return FastPayError(kind=kind), pos
    what = f"FastPayError::{kind.name}.{field}"
    if field == "error":
        error, pos = _dec_str(data, pos, what)
        return FastPayError(kind=kind, error=error), pos
    if field == "current_balance":
        balance, pos = _dec_i128(data, pos, what)
        return FastPayError(kind=kind, current_balance=balance), pos
    if field == "pending_confirmation":
        order, pos = decode_order(data, pos)
        return FastPayError(kind=kind, pending_confirmation=order), pos
    sequence_number, pos = _dec_u64(data, pos, what)
    return FastPayError(kind=kind, current_sequence_number=sequence_number), pos


def decode_info_request(data: bytes, pos: int) -> tuple[AccountInfoRequest, int]:
    _need(data, pos, PUBLIC_KEY_LEN, "AccountInfoRequest.sender")
    sender = data[pos : pos + PUBLIC_KEY_LEN]
    seq, pos = _dec_opt_u64(data, pos + PUBLIC_KEY_LEN, "AccountInfoRequest.request_sequence_number")
    nth, pos = _dec_opt_u64(data, pos, "AccountInfoRequest.request_received_transfers_excluding_first_nth")
    return (
        AccountInfoRequest(
            sender=sender, request_sequence_number=seq, request_received_transfers_excluding_first_nth=nth
        ),
        pos,
    )


def decode_info_response(data: bytes, pos: int) -> tuple[AccountInfoResponse, int]:
    _need(data, pos, PUBLIC_KEY_LEN, "AccountInfoResponse.sender")
    sender = data[pos : pos + PUBLIC_KEY_LEN]
    balance, pos = _dec_i128(data, pos + PUBLIC_KEY_LEN, "AccountInfoResponse.balance")
    next_seq, pos = _dec_u64(data, pos, "AccountInfoResponse.next_sequence_number")
    pending = None
    some, pos = _dec_option(data, pos, "AccountInfoResponse.pending_confirmation")
    if some:
        pending, pos = decode_vote(data, pos)
    requested = None
    some, pos = _dec_option(data, pos, "AccountInfoResponse.requested_certificate")
    if some:
        requested, pos = decode_certificate(data, pos)
    count, pos = _dec_u64(data, pos, "AccountInfoResponse.requested_received_transfers length")
    # Each certificate takes at least 157 bytes (order + empty list); check
    # the count against what is left before looping over it.
    _need(data, pos, count * 157, f"AccountInfoResponse.requested_received_transfers ({count} certificates)")
    received = []
    for _ in range(count):
        cert, pos = decode_certificate(data, pos)
        received.append(cert)
    return (
        AccountInfoResponse(
            sender=sender,
            balance=balance,
            next_sequence_number=next_seq,
            pending_confirmation=pending,
            requested_certificate=requested,
            requested_received_transfers=tuple(received),
        ),
        pos,
    )


def _dec_cross_shard(data: bytes, pos: int) -> tuple[CrossShard, int]:
    cert, pos = decode_certificate(data, pos)
    return CrossShard(certificate=cert), pos


_DECODERS: list[Callable[[bytes, int], tuple[SerializedMessage, int]]] = [
    decode_order,
    decode_vote,
    decode_certificate,
    _dec_cross_shard,
    decode_error,
    decode_info_request,
    decode_info_response,
]
_MESSAGE_NAMES = "Order, Vote, Cert, CrossShard, Error, InfoReq, InfoResp"


def _finish(data: bytes, pos: int, what: str) -> None:
    if pos != len(data):
        raise BincodeError(f"end of {what}", pos, f"{len(data) - pos} trailing bytes", "end of input")


def decode_message(data: bytes) -> SerializedMessage:
    """Decode one whole `SerializedMessage`; raise BincodeError on anything
    malformed, truncated or followed by trailing bytes. A Cert comes back
    as the CertifiedTransferOrder it carries."""
    data = bytes(data)
    _need(data, 0, 4, "SerializedMessage variant")
    tag = _U32.unpack_from(data, 0)[0]
    if tag >= len(_DECODERS):
        raise BincodeError("SerializedMessage variant", 0, f"tag {tag}", f"0..6 ({_MESSAGE_NAMES})")
    # Every field the decoders read fits its message type by construction
    # (fixed widths), so only BincodeError can come out of them.
    message, pos = _DECODERS[tag](data, 4)
    _finish(data, pos, "SerializedMessage")
    return message


def decode_announcement(data: bytes) -> AuthorityAnnouncement:
    data = bytes(data)
    _need(data, 0, _ANNOUNCEMENT.size, "AuthorityAnnouncement")
    name, weight, e2e_key, committee_id = _ANNOUNCEMENT.unpack_from(data, 0)
    _finish(data, _ANNOUNCEMENT.size, "AuthorityAnnouncement")
    return AuthorityAnnouncement(name=name, weight=weight, e2e_key=e2e_key, committee_id=committee_id)

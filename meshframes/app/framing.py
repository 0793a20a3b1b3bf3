"""FastPay messages <-> the (message type, payload) of our vendor frames
(docs/wire-format.md, "Message types and payload").

The payload is the reference's bincode `SerializedMessage` (the
announcement is our own struct, no enum tag). The message type says what
the enum tag alone cannot: a certificate handed to a client (3) and a
confirmation order sent to an authority (4) are both `Cert`. A payload
whose variant contradicts its message type is refused: the two are checked
against each other, never one trusted over the other.

Fragmentation is not here: the party's transport fragments, seals and
reassembles (meshframes.app.transport).
"""

from __future__ import annotations

from meshframes.codec.fastpay import MessageType
from meshframes.fastpay.messages import (
    AccountInfoRequest,
    AccountInfoResponse,
    AuthorityAnnouncement,
    CertifiedTransferOrder,
    ConfirmationOrder,
    FastPayError,
    SerializedMessage,
    SignedTransferOrder,
    TransferOrder,
)
from meshframes.fastpay.wire import (
    BincodeError,
    decode_announcement,
    decode_message,
    encode_announcement,
    encode_message,
)

from .errors import AppRefusal, Reason

AppMessage = SerializedMessage | AuthorityAnnouncement

# The message type each kind of message travels under.
MESSAGE_TYPE: dict[type, MessageType] = {
    TransferOrder: MessageType.FASTPAY_ORDER,
    SignedTransferOrder: MessageType.FASTPAY_VOTE,
    CertifiedTransferOrder: MessageType.FASTPAY_CERTIFICATE,
    ConfirmationOrder: MessageType.FASTPAY_CONFIRMATION,
    AccountInfoRequest: MessageType.FASTPAY_INFO_REQUEST,
    AccountInfoResponse: MessageType.FASTPAY_INFO_RESPONSE,
    FastPayError: MessageType.FASTPAY_ERROR,
    AuthorityAnnouncement: MessageType.FASTPAY_ANNOUNCE,
}
# What `decode_message` must return under each type (a confirmation
# decodes as the certificate it carries, then is wrapped).
_DECODED_AS: dict[int, type] = {
    int(t): (CertifiedTransferOrder if cls is ConfirmationOrder else cls)
    for cls, t in MESSAGE_TYPE.items() if cls is not AuthorityAnnouncement
}


def frame_message(message: AppMessage) -> tuple[MessageType, bytes]:
    """The message type and payload bytes that carry `message`."""
    msg_type = MESSAGE_TYPE.get(type(message))
    if msg_type is None:
        raise TypeError(f"no FastPay message type carries {type(message).__name__}")
    if isinstance(message, AuthorityAnnouncement):
        return msg_type, encode_announcement(message)
    return msg_type, encode_message(message)


def parse_message(msg_type: int, payload: bytes) -> AppMessage:
    """The message a delivered payload carries; AppRefusal for an unknown
    type, undecodable bytes, or a variant that contradicts the type."""
    try:
        if msg_type == MessageType.FASTPAY_ANNOUNCE:
            return decode_announcement(payload)
        expected = _DECODED_AS.get(msg_type)
        if expected is None:
            raise AppRefusal(Reason.UNKNOWN_MESSAGE_TYPE, f"got {msg_type}, expected 1..8")
        message = decode_message(payload)
    except BincodeError as exc:
        raise AppRefusal(Reason.UNDECODABLE, f"message type {msg_type}: {exc}") from None
    if type(message) is not expected:
        raise AppRefusal(
            Reason.TYPE_MISMATCH,
            f"message type {MessageType(msg_type).name} carries {type(message).__name__},"
            f" expected {expected.__name__}",
        )
    if msg_type == MessageType.FASTPAY_CONFIRMATION:
        assert isinstance(message, CertifiedTransferOrder)
        return ConfirmationOrder(transfer_certificate=message)
    return message

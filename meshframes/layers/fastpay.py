"""FastPay messages in our vendor-specific action frames (docs/wire-format.md).

After the Mesh Control field comes a small header (version, message type,
flags, message id, fragment number and count), then the message in
FastPay's own encoding: bincode 1.x of the reference implementation's
`SerializedMessage` (u32 variant tag, little-endian integers, u64 sequence
lengths, one-octet Option tags, fixed arrays without a length), so the
bytes are what a reference authority decodes. Layouts follow the reference's
`fastpay_core/tests/staged/fastpay.yaml` (novifinancial/fastpay main).
"""

from __future__ import annotations

from scapy.fields import (
    ByteEnumField,
    ByteField,
    ConditionalField,
    Field,
    FieldLenField,
    FlagsField,
    LEIntEnumField,
    LELongField,
    LEShortField,
    PacketField,
    PacketListField,
    StrField,
    StrLenField,
    XStrFixedLenField,
)
from scapy.packet import Packet, bind_layers

from meshframes.codec.fastpay import FASTPAY_VERSION, FLAG_E2E_SEALED, MessageType
from meshframes.fastpay.messages import AddressKind, ErrorKind
from meshframes.fastpay.wire import MessageTag
from meshframes.layers._strict import MalformedLayer, StrictPacket, StrictSubPacket
from meshframes.layers.conditions import FieldIn, OptionSome
from meshframes.layers.meshctl import VendorMeshControl

# docs/wire-format.md, "Message types and payload": the codec's types,
# named as the analyzer shows them (FASTPAY_INFO_REQUEST -> "info-request").
MSG_ORDER = MessageType.FASTPAY_ORDER
MSG_VOTE = MessageType.FASTPAY_VOTE
MSG_CERTIFICATE = MessageType.FASTPAY_CERTIFICATE
MSG_CONFIRMATION = MessageType.FASTPAY_CONFIRMATION
MSG_INFO_REQUEST = MessageType.FASTPAY_INFO_REQUEST
MSG_INFO_RESPONSE = MessageType.FASTPAY_INFO_RESPONSE
MSG_ERROR = MessageType.FASTPAY_ERROR
MSG_ANNOUNCE = MessageType.FASTPAY_ANNOUNCE
MESSAGE_TYPES = {int(t): t.name.removeprefix("FASTPAY_").lower().replace("_", "-") for t in MessageType}

# The reference's SerializedMessage variants (meshframes.fastpay.wire owns
# their numbers), with the reference's names.
SM_ORDER = MessageTag.ORDER
SM_VOTE = MessageTag.VOTE
SM_CERT = MessageTag.CERT
SM_CROSS_SHARD = MessageTag.CROSS_SHARD
SM_ERROR = MessageTag.ERROR
SM_INFO_REQ = MessageTag.INFO_REQ
SM_INFO_RESP = MessageTag.INFO_RESP
SERIALIZED_MESSAGE_VARIANTS = {
    SM_ORDER: "Order",
    SM_VOTE: "Vote",
    SM_CERT: "Cert",
    SM_CROSS_SHARD: "CrossShard",
    SM_ERROR: "Error",
    SM_INFO_REQ: "InfoReq",
    SM_INFO_RESP: "InfoResp",
}
# Which SerializedMessage variant each of our message types must carry.
VARIANT_OF_TYPE = {
    MSG_ORDER: {SM_ORDER},
    MSG_VOTE: {SM_VOTE},
    MSG_CERTIFICATE: {SM_CERT},
    MSG_CONFIRMATION: {SM_CERT},
    MSG_INFO_REQUEST: {SM_INFO_REQ},
    MSG_INFO_RESPONSE: {SM_INFO_RESP},
    MSG_ERROR: {SM_ERROR},
}

# FastPayError variants: meshframes.fastpay.messages.ErrorKind, whose names
# are the reference's.
FASTPAY_ERRORS = {int(kind): kind.name for kind in ErrorKind}
ERR_INVALID_SIGNATURE = ErrorKind.InvalidSignature
ERR_INSUFFICIENT_FUNDING = ErrorKind.InsufficientFunding
ERR_PREVIOUS_TRANSFER_MUST_BE_CONFIRMED_FIRST = ErrorKind.PreviousTransferMustBeConfirmedFirst
ERR_MISSING_EARLIER_CONFIRMATIONS = ErrorKind.MissingEalierConfirmations
ERR_CLIENT_IO_ERROR = ErrorKind.ClientIoError

ADDRESS_KINDS = {int(AddressKind.PRIMARY): "Primary", int(AddressKind.FASTPAY): "FastPay"}


class LESignedInt128Field(Field[int, bytes]):
    """bincode i128: 16 octets, little-endian, two's complement."""

    def __init__(self, name: str, default: int) -> None:
        super().__init__(name, default, fmt="16s")

    def i2m(self, pkt: Packet | None, x: int | None) -> bytes:
        return (x or 0).to_bytes(16, "little", signed=True)

    def m2i(self, pkt: Packet | None, x: bytes) -> int:
        return int.from_bytes(x, "little", signed=True)


class OptionTagField(ByteField):
    """The one-octet tag of a bincode Option: 1 when the value field is set."""

    __slots__ = ["value_name"]

    def __init__(self, name: str, value_name: str) -> None:
        super().__init__(name, None)
        self.value_name = value_name

    def i2m(self, pkt: Packet | None, x: int | None) -> int:
        if x is None and pkt is not None:
            return int(pkt.getfieldval(self.value_name) is not None)
        return x or 0


def _check_option_tags(pkt: Packet, *names: str) -> None:
    for name in names:
        tag = pkt.getfieldval(name)
        if tag not in (0, 1):
            raise MalformedLayer(f"{pkt.name}: Option tag '{name}' is {tag}, expected 0 or 1")


def _key(name: str) -> XStrFixedLenField:
    return XStrFixedLenField(name, b"\x00" * 32, length=32)


def _signature(name: str = "signature") -> XStrFixedLenField:
    return XStrFixedLenField(name, b"\x00" * 64, length=64)


class _Message(StrictPacket):
    """A message that is the frame's payload when directly under the
    SerializedMessage tag, and a nested structure otherwise."""

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s

    def post_dissect(self, s: bytes) -> bytes:
        if s and isinstance(self.underlayer, (FastPayMessage, FastPayHeader)):
            raise MalformedLayer(f"{self.name}: {len(s)} octets after the end of the message")
        return s


class FastPayTransfer(StrictSubPacket):
    name = "FastPay Transfer"
    fields_desc = [
        _key("sender"),
        LEIntEnumField("recipient_kind", 0, ADDRESS_KINDS),
        _key("recipient"),
        LELongField("amount", 0),
        LELongField("sequence_number", 0),
        OptionTagField("user_data_tag", "user_data"),
        ConditionalField(
            XStrFixedLenField("user_data", None, length=32), OptionSome("user_data_tag", "user_data")
        ),
    ]

    def post_dissect(self, s: bytes) -> bytes:
        if self.recipient_kind not in ADDRESS_KINDS:
            raise MalformedLayer(f"FastPay Transfer: Address variant {self.recipient_kind}, expected 0 or 1")
        _check_option_tags(self, "user_data_tag")
        return s


class FastPayTransferOrder(_Message):
    name = "FastPay TransferOrder"
    fields_desc = [
        PacketField("transfer", FastPayTransfer(), FastPayTransfer),
        _signature(),
    ]


class FastPaySignedTransferOrder(_Message):
    """One authority's vote on a transfer order."""

    name = "FastPay SignedTransferOrder"
    fields_desc = [
        PacketField("value", FastPayTransferOrder(), FastPayTransferOrder),
        _key("authority"),
        _signature(),
    ]


class FastPayAuthoritySignature(StrictSubPacket):
    name = "FastPay (authority, signature)"
    fields_desc = [_key("authority"), _signature()]


class FastPayCertifiedTransferOrder(_Message):
    name = "FastPay CertifiedTransferOrder"
    fields_desc = [
        PacketField("value", FastPayTransferOrder(), FastPayTransferOrder),
        FieldLenField("signature_count", None, count_of="signatures", fmt="<Q"),
        PacketListField(
            "signatures", [], FastPayAuthoritySignature, count_from=lambda p: p.signature_count
        ),
    ]

    def post_dissect(self, s: bytes) -> bytes:
        if len(self.signatures) != self.signature_count:
            raise MalformedLayer(
                f"{self.name}: {self.signature_count} signatures announced, "
                f"{len(self.signatures)} present"
            )
        return super().post_dissect(s)


class FastPayAccountInfoRequest(_Message):
    name = "FastPay AccountInfoRequest"
    fields_desc = [
        _key("sender"),
        OptionTagField("request_sequence_number_tag", "request_sequence_number"),
        ConditionalField(
            LELongField("request_sequence_number", None),
            OptionSome("request_sequence_number_tag", "request_sequence_number"),
        ),
        OptionTagField(
            "request_received_transfers_excluding_first_nth_tag",
            "request_received_transfers_excluding_first_nth",
        ),
        ConditionalField(
            LELongField("request_received_transfers_excluding_first_nth", None),
            OptionSome(
                "request_received_transfers_excluding_first_nth_tag",
                "request_received_transfers_excluding_first_nth",
            ),
        ),
    ]

    def post_dissect(self, s: bytes) -> bytes:
        _check_option_tags(
            self, "request_sequence_number_tag", "request_received_transfers_excluding_first_nth_tag"
        )
        return super().post_dissect(s)


class FastPayAccountInfoResponse(_Message):
    name = "FastPay AccountInfoResponse"
    fields_desc = [
        _key("sender"),
        LESignedInt128Field("balance", 0),
        LELongField("next_sequence_number", 0),
        OptionTagField("pending_confirmation_tag", "pending_confirmation"),
        ConditionalField(
            PacketField("pending_confirmation", None, FastPaySignedTransferOrder),
            OptionSome("pending_confirmation_tag", "pending_confirmation"),
        ),
        OptionTagField("requested_certificate_tag", "requested_certificate"),
        ConditionalField(
            PacketField("requested_certificate", None, FastPayCertifiedTransferOrder),
            OptionSome("requested_certificate_tag", "requested_certificate"),
        ),
        FieldLenField(
            "requested_received_transfers_count",
            None,
            count_of="requested_received_transfers",
            fmt="<Q",
        ),
        PacketListField(
            "requested_received_transfers",
            [],
            FastPayCertifiedTransferOrder,
            count_from=lambda p: p.requested_received_transfers_count,
        ),
    ]

    def post_dissect(self, s: bytes) -> bytes:
        _check_option_tags(self, "pending_confirmation_tag", "requested_certificate_tag")
        if len(self.requested_received_transfers) != self.requested_received_transfers_count:
            raise MalformedLayer(
                f"{self.name}: {self.requested_received_transfers_count} certificates announced, "
                f"{len(self.requested_received_transfers)} present"
            )
        return super().post_dissect(s)


class FastPayError(_Message):
    name = "FastPay Error"
    fields_desc = [
        LEIntEnumField("error_variant", 0, FASTPAY_ERRORS),
        ConditionalField(
            FieldLenField("error_length", None, length_of="error", fmt="<Q"),
            FieldIn("error_variant", frozenset({ERR_INVALID_SIGNATURE, ERR_CLIENT_IO_ERROR})),
        ),
        ConditionalField(
            StrLenField("error", b"", length_from=lambda p: p.error_length),
            FieldIn("error_variant", frozenset({ERR_INVALID_SIGNATURE, ERR_CLIENT_IO_ERROR})),
        ),
        ConditionalField(
            LESignedInt128Field("current_balance", 0), FieldIn("error_variant", frozenset({ERR_INSUFFICIENT_FUNDING}))
        ),
        ConditionalField(
            PacketField("pending_confirmation", FastPayTransferOrder(), FastPayTransferOrder),
            FieldIn("error_variant", frozenset({ERR_PREVIOUS_TRANSFER_MUST_BE_CONFIRMED_FIRST})),
        ),
        ConditionalField(
            LELongField("current_sequence_number", 0), FieldIn("error_variant", frozenset({ERR_MISSING_EARLIER_CONFIRMATIONS}))
        ),
    ]

    def post_dissect(self, s: bytes) -> bytes:
        if self.error_variant not in FASTPAY_ERRORS:
            raise MalformedLayer(
                f"FastPay Error: variant {self.error_variant}, expected 0..{len(FASTPAY_ERRORS) - 1}"
            )
        if self.error_length is not None and len(self.error) != self.error_length:
            raise MalformedLayer(
                f"FastPay Error: string of {self.error_length} octets announced, {len(self.error)} present"
            )
        try:
            self.error is None or self.error.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedLayer(f"FastPay Error: message is not UTF-8 ({exc.reason})") from exc
        return super().post_dissect(s)


class FastPayAuthorityAnnouncement(_Message):
    """Ours (no reference counterpart): who an authority is on the mesh."""

    name = "FastPay AuthorityAnnouncement"
    fields_desc = [
        _key("name"),
        LELongField("weight", 1),
        _key("e2e_key"),
        XStrFixedLenField("committee_id", b"\x00" * 8, length=8),
    ]


class FastPayMessage(StrictPacket):
    """The reference's SerializedMessage envelope: a u32 variant tag."""

    name = "FastPay SerializedMessage"
    fields_desc = [LEIntEnumField("variant", SM_ORDER, SERIALIZED_MESSAGE_VARIANTS)]

    def post_dissect(self, s: bytes) -> bytes:
        if self.variant not in SERIALIZED_MESSAGE_VARIANTS:
            raise MalformedLayer(
                f"FastPay SerializedMessage: variant {self.variant}, expected 0..{len(SERIALIZED_MESSAGE_VARIANTS) - 1}"
            )
        header = self.underlayer
        if isinstance(header, FastPayHeader):
            allowed = VARIANT_OF_TYPE.get(header.message_type, set())
            if self.variant not in allowed:
                raise MalformedLayer(
                    f"FastPay: message type {header.message_type} "
                    f"({MESSAGE_TYPES.get(header.message_type, '?')}) carries variant "
                    f"{self.variant} ({SERIALIZED_MESSAGE_VARIANTS[self.variant]})"
                )
        if not s:
            raise MalformedLayer(
                f"FastPay SerializedMessage: variant {SERIALIZED_MESSAGE_VARIANTS[self.variant]} has no body"
            )
        return s


class FastPayFragment(Packet):
    """A slice of a message split across frames; reassembled by
    (mesh SA, message id), see docs/wire-format.md."""

    name = "FastPay Fragment"
    fields_desc = [StrField("data", b"")]


class _AllButTailField(StrField):
    """Every octet of the layer except the last `tail` ones."""

    __slots__ = ["tail"]

    def __init__(self, name: str, default: bytes, tail: int) -> None:
        super().__init__(name, default)
        self.tail = tail

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, bytes]:
        if len(s) < self.tail:
            raise MalformedLayer(f"{pkt.name}: {len(s)} octets left, expected at least the {self.tail}-octet tag")
        cut = len(s) - self.tail
        return s[cut:], s[:cut]


class FastPaySealed(StrictPacket):
    """A payload sealed end to end (flags bit 0; layout and keys in
    docs/sealing.md): sender identity, sender sequence number, AES-CCM
    ciphertext and its 16-octet tag."""

    name = "FastPay Sealed"
    fields_desc = [
        _key("sender"),
        LELongField("sequence_number", 0),
        _AllButTailField("ciphertext", b"", tail=16),
        XStrFixedLenField("tag", b"\x00" * 16, length=16),
    ]


class FastPayHeader(StrictPacket):
    name = "FastPay Header"
    body_required = "the message"
    fields_desc = [
        ByteField("version", FASTPAY_VERSION),
        ByteEnumField("message_type", MSG_ORDER, MESSAGE_TYPES),
        FlagsField("flags", 0, 8, ["sealed"]),
        LEShortField("message_id", 0),
        ByteField("fragment_number", 0),
        ByteField("fragment_count", 1),
    ]

    def post_dissect(self, s: bytes) -> bytes:
        if self.version != FASTPAY_VERSION:
            raise MalformedLayer(f"FastPay Header: version {self.version}, expected {FASTPAY_VERSION}")
        if self.message_type not in MESSAGE_TYPES:
            raise MalformedLayer(f"FastPay Header: unknown message type {self.message_type}")
        if self.fragment_count == 0 or self.fragment_number >= self.fragment_count:
            raise MalformedLayer(
                f"FastPay Header: fragment {self.fragment_number} of {self.fragment_count}"
            )
        if int(self.flags) & ~FLAG_E2E_SEALED:
            raise MalformedLayer(f"FastPay Header: reserved flag bits set (0x{int(self.flags):02x})")
        return super().post_dissect(s)

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        if int(self.flags) & FLAG_E2E_SEALED:
            return FastPaySealed
        if self.fragment_count > 1:
            return FastPayFragment
        if self.message_type == MSG_ANNOUNCE:
            return FastPayAuthorityAnnouncement
        return FastPayMessage


bind_layers(VendorMeshControl, FastPayHeader)
bind_layers(FastPayMessage, FastPayTransferOrder, variant=SM_ORDER)
bind_layers(FastPayMessage, FastPaySignedTransferOrder, variant=SM_VOTE)
bind_layers(FastPayMessage, FastPayCertifiedTransferOrder, variant=SM_CERT)
bind_layers(FastPayMessage, FastPayCertifiedTransferOrder, variant=SM_CROSS_SHARD)
bind_layers(FastPayMessage, FastPayError, variant=SM_ERROR)
bind_layers(FastPayMessage, FastPayAccountInfoRequest, variant=SM_INFO_REQ)
bind_layers(FastPayMessage, FastPayAccountInfoResponse, variant=SM_INFO_RESP)


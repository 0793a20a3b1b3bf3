"""FastPay messages: the main-branch message set of the reference
implementation (novifinancial/fastpay at db39bb0, `fastpay.yaml`), plus our
`AuthorityAnnouncement` (docs/wire-format.md).

Every message is a frozen, slotted, keyword-only dataclass that validates
its fields on construction, so a message that exists is well formed:
byte strings have their fixed lengths and integers fit their wire widths.
Semantic checks (signatures, balances, quorums) belong to the engines.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

PUBLIC_KEY_LEN = 32
SIGNATURE_LEN = 64
USER_DATA_LEN = 32
COMMITTEE_ID_LEN = 8

U64_MAX = 2**64 - 1
I128_MIN = -(2**127)
I128_MAX = 2**127 - 1
# The reference caps sequence numbers at i64::MAX (SequenceNumber::max) and
# refuses larger ones with InvalidSequenceNumber.
MAX_SEQUENCE_NUMBER = 2**63 - 1


def _check_bytes(what: str, value: object, length: int) -> None:
    if not isinstance(value, bytes) or len(value) != length:
        got = f"{len(value)} bytes" if isinstance(value, bytes) else type(value).__name__
        raise ValueError(f"{what}: got {got}, expected {length} bytes")


def _check_int(what: str, value: object, low: int, high: int) -> None:
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"{what}: got {value!r}, expected an integer in [{low}, {high}]")


class AddressKind(IntEnum):
    """Variant index of the reference's `Address` enum."""

    PRIMARY = 0  # an account on the primary (slow) ledger: funds leave FastPay
    FASTPAY = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Address:
    kind: AddressKind
    key: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.kind, AddressKind):
            raise ValueError(f"Address.kind: got {self.kind!r}, expected an AddressKind")
        _check_bytes("Address.key", self.key, PUBLIC_KEY_LEN)

    @classmethod
    def fastpay(cls, key: bytes) -> Address:
        return cls(kind=AddressKind.FASTPAY, key=key)

    @classmethod
    def primary(cls, key: bytes) -> Address:
        return cls(kind=AddressKind.PRIMARY, key=key)


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer:
    sender: bytes
    recipient: Address
    amount: int
    sequence_number: int
    user_data: bytes | None = None

    def __post_init__(self) -> None:
        _check_bytes("Transfer.sender", self.sender, PUBLIC_KEY_LEN)
        if not isinstance(self.recipient, Address):
            raise ValueError(f"Transfer.recipient: got {type(self.recipient).__name__}, expected Address")
        _check_int("Transfer.amount", self.amount, 0, U64_MAX)
        _check_int("Transfer.sequence_number", self.sequence_number, 0, U64_MAX)
        if self.user_data is not None:
            _check_bytes("Transfer.user_data", self.user_data, USER_DATA_LEN)


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferOrder:
    """A transfer signed by its sender."""

    transfer: Transfer
    signature: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.transfer, Transfer):
            raise ValueError(f"TransferOrder.transfer: got {type(self.transfer).__name__}, expected Transfer")
        _check_bytes("TransferOrder.signature", self.signature, SIGNATURE_LEN)


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedTransferOrder:
    """One authority's vote for a transfer order."""

    value: TransferOrder
    authority: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.value, TransferOrder):
            raise ValueError(f"SignedTransferOrder.value: got {type(self.value).__name__}, expected TransferOrder")
        _check_bytes("SignedTransferOrder.authority", self.authority, PUBLIC_KEY_LEN)
        _check_bytes("SignedTransferOrder.signature", self.signature, SIGNATURE_LEN)


@dataclass(frozen=True, slots=True, kw_only=True)
class CertifiedTransferOrder:
    """A transfer order with (authority, signature) votes worth a quorum."""

    value: TransferOrder
    signatures: tuple[tuple[bytes, bytes], ...]

    def __post_init__(self) -> None:
        if not isinstance(self.value, TransferOrder):
            raise ValueError(
                f"CertifiedTransferOrder.value: got {type(self.value).__name__}, expected TransferOrder"
            )
        if not isinstance(self.signatures, tuple):
            raise ValueError("CertifiedTransferOrder.signatures: expected a tuple of (authority, signature)")
        for i, pair in enumerate(self.signatures):
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise ValueError(f"CertifiedTransferOrder.signatures[{i}]: expected an (authority, signature) pair")
            _check_bytes(f"CertifiedTransferOrder.signatures[{i}].authority", pair[0], PUBLIC_KEY_LEN)
            _check_bytes(f"CertifiedTransferOrder.signatures[{i}].signature", pair[1], SIGNATURE_LEN)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfirmationOrder:
    """A certificate sent to an authority to be executed. On the wire it is
    `SerializedMessage::Cert`, exactly like a certificate handed over."""

    transfer_certificate: CertifiedTransferOrder


@dataclass(frozen=True, slots=True, kw_only=True)
class CrossShard:
    """`SerializedMessage::CrossShard`: the reference's update from the
    sender's shard to the recipient's shard of one sharded authority."""

    certificate: CertifiedTransferOrder


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountInfoRequest:
    sender: bytes
    request_sequence_number: int | None = None
    request_received_transfers_excluding_first_nth: int | None = None

    def __post_init__(self) -> None:
        _check_bytes("AccountInfoRequest.sender", self.sender, PUBLIC_KEY_LEN)
        if self.request_sequence_number is not None:
            _check_int("AccountInfoRequest.request_sequence_number", self.request_sequence_number, 0, U64_MAX)
        if self.request_received_transfers_excluding_first_nth is not None:
            _check_int(
                "AccountInfoRequest.request_received_transfers_excluding_first_nth",
                self.request_received_transfers_excluding_first_nth,
                0,
                U64_MAX,
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountInfoResponse:
    sender: bytes
    balance: int
    next_sequence_number: int
    pending_confirmation: SignedTransferOrder | None = None
    requested_certificate: CertifiedTransferOrder | None = None
    requested_received_transfers: tuple[CertifiedTransferOrder, ...] = ()

    def __post_init__(self) -> None:
        _check_bytes("AccountInfoResponse.sender", self.sender, PUBLIC_KEY_LEN)
        _check_int("AccountInfoResponse.balance", self.balance, I128_MIN, I128_MAX)
        _check_int("AccountInfoResponse.next_sequence_number", self.next_sequence_number, 0, U64_MAX)
        if not isinstance(self.requested_received_transfers, tuple):
            raise ValueError("AccountInfoResponse.requested_received_transfers: expected a tuple")


class ErrorKind(IntEnum):
    """Variant indexes of the reference's `FastPayError` (main branch)."""

    InvalidSignature = 0
    UnknownSigner = 1
    CertificateRequiresQuorum = 2
    IncorrectTransferAmount = 3
    UnexpectedSequenceNumber = 4
    InsufficientFunding = 5
    PreviousTransferMustBeConfirmedFirst = 6
    ErrorWhileProcessingTransferOrder = 7
    ErrorWhileRequestingCertificate = 8
    # The reference spells it "Ealier"; the name is part of its format.
    MissingEalierConfirmations = 9
    UnexpectedTransactionIndex = 10
    CertificateNotfound = 11
    UnknownSenderAccount = 12
    CertificateAuthorityReuse = 13
    InvalidSequenceNumber = 14
    SequenceOverflow = 15
    SequenceUnderflow = 16
    AmountOverflow = 17
    AmountUnderflow = 18
    BalanceOverflow = 19
    BalanceUnderflow = 20
    WrongShard = 21
    InvalidCrossShardUpdate = 22
    InvalidDecoding = 23
    UnexpectedMessage = 24
    ClientIoError = 25


# The one payload field each struct variant carries; every other variant is a unit.
ERROR_PAYLOAD: dict[ErrorKind, str] = {
    ErrorKind.InvalidSignature: "error",
    ErrorKind.InsufficientFunding: "current_balance",
    ErrorKind.PreviousTransferMustBeConfirmedFirst: "pending_confirmation",
    ErrorKind.MissingEalierConfirmations: "current_sequence_number",
    ErrorKind.ClientIoError: "error",
}
_PAYLOAD_FIELDS = ("error", "current_balance", "pending_confirmation", "current_sequence_number")


@dataclass(frozen=True, slots=True, kw_only=True)
class FastPayError:
    """A `FastPayError` as carried on the wire: the variant and, for the
    five struct variants, their one field (the others must stay None)."""

    kind: ErrorKind
    error: str | None = None
    current_balance: int | None = None
    pending_confirmation: TransferOrder | None = None
    current_sequence_number: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, ErrorKind):
            raise ValueError(f"FastPayError.kind: got {self.kind!r}, expected an ErrorKind")
        wanted = ERROR_PAYLOAD.get(self.kind)
        for name in _PAYLOAD_FIELDS:
            present = getattr(self, name) is not None
            if present != (name == wanted):
                raise ValueError(
                    f"FastPayError {self.kind.name}: field {name} "
                    + ("is required" if name == wanted else "must be None")
                )
        if wanted == "error" and not isinstance(self.error, str):
            raise ValueError(f"FastPayError {self.kind.name}: error must be a str")
        if self.current_balance is not None:
            _check_int("FastPayError.current_balance", self.current_balance, I128_MIN, I128_MAX)
        if self.current_sequence_number is not None:
            _check_int("FastPayError.current_sequence_number", self.current_sequence_number, 0, U64_MAX)
        if self.pending_confirmation is not None and not isinstance(self.pending_confirmation, TransferOrder):
            raise ValueError("FastPayError.pending_confirmation: expected a TransferOrder")


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorityAnnouncement:
    """Ours (docs/wire-format.md): an authority advertising itself on the mesh."""

    name: bytes
    weight: int
    e2e_key: bytes
    committee_id: bytes

    def __post_init__(self) -> None:
        _check_bytes("AuthorityAnnouncement.name", self.name, PUBLIC_KEY_LEN)
        _check_int("AuthorityAnnouncement.weight", self.weight, 0, U64_MAX)
        _check_bytes("AuthorityAnnouncement.e2e_key", self.e2e_key, PUBLIC_KEY_LEN)
        _check_bytes("AuthorityAnnouncement.committee_id", self.committee_id, COMMITTEE_ID_LEN)


# What the reference's `SerializedMessage` envelope carries. A
# ConfirmationOrder is encoded as Cert; decoding Cert gives the certificate.
SerializedMessage = (
    TransferOrder | SignedTransferOrder | CertifiedTransferOrder | ConfirmationOrder | CrossShard |
    FastPayError | AccountInfoRequest | AccountInfoResponse
)

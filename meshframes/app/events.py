"""What the FastPay applications return: actions for their driver (send a
message, arm a timer) and progress events for people and tests. Small
frozen dataclasses, h11 style; every event carries the (virtual) time."""

from __future__ import annotations

from dataclasses import dataclass

# Timer keys are small tuples, e.g. ("announce",), ("client",),
# ("deliver", sequence_number); arming a key again replaces its deadline.
TimerKey = tuple


@dataclass(frozen=True, slots=True)
class SendMessage:
    """Hand a FastPay message to the mesh node (`send_app`)."""

    destination: bytes  # a MAC, or broadcast
    msg_type: int
    payload: bytes
    # Octets of each fragment left for the end-to-end seal added below the node.
    reserve: int = 0


@dataclass(frozen=True, slots=True)
class SetTimer:
    key: TimerKey
    deadline: float


@dataclass(frozen=True, slots=True)
class Refused:
    """An input (or an output that could not leave) and why; counted."""

    time: float
    reason: str
    detail: str = ""
    source: bytes | None = None


@dataclass(frozen=True, slots=True)
class Discovered:
    """A party found (or found at a new MAC)."""

    time: float
    identity: bytes
    mac: bytes
    weight: int


# -- client side -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransferStarted:
    time: float
    sequence_number: int
    recipient: bytes
    amount: int


@dataclass(frozen=True, slots=True)
class TransferNotStarted:
    """The client engine refused to sign the order (e.g. insufficient funds)."""

    time: float
    recipient: bytes
    amount: int
    reason: str


@dataclass(frozen=True, slots=True)
class TransferCertified:
    time: float
    sequence_number: int
    signers: tuple[bytes, ...]
    weight: int


@dataclass(frozen=True, slots=True)
class TransferConfirmed:
    """Authorities worth a quorum executed the certificate."""

    time: float
    sequence_number: int


@dataclass(frozen=True, slots=True)
class ReplyIgnored:
    """The client engine did not count an authority's reply (its reason)."""

    time: float
    authority: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class CertificateDelivered:
    """The recipient acknowledged our certificate (its receipt arrived)."""

    time: float
    sequence_number: int
    recipient: bytes


@dataclass(frozen=True, slots=True)
class CertificateDeferred:
    """No receipt after the timed attempts: the certificate now goes out
    again only when the recipient's announcement is heard."""

    time: float
    sequence_number: int
    recipient: bytes


@dataclass(frozen=True, slots=True)
class CertificateReceived:
    """As a recipient: a verified certificate credited to us (once)."""

    time: float
    sender: bytes
    sequence_number: int
    amount: int


# -- authority side --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Handled:
    """An authority's engine processed a request: what it concluded
    ("order", "repeated_order", "confirmation", "repeated_confirmation",
    "info", or the FastPayError variant it answered with)."""

    time: float
    outcome: str
    sender: bytes
    sequence_number: int | None


Event = (
    Refused | Discovered | TransferStarted | TransferNotStarted | TransferCertified |
    TransferConfirmed | ReplyIgnored | CertificateDelivered | CertificateDeferred |
    CertificateReceived | Handled
)
AppAction = SendMessage | SetTimer | Event

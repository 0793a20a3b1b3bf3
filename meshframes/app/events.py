"""What the FastPay applications return: actions for their host (hand a
payload to the mesh, arm a timer: `SetTimer` and timer keys are the mesh
engines' own, one vocabulary) and progress events for people and tests.
Small frozen dataclasses, h11 style; every event carries the (virtual)
time."""

from __future__ import annotations

from dataclasses import dataclass

from meshframes.codec.fastpay import FastPayFragment
from meshframes.fastpay.authority import Outcome
from meshframes.fastpay.messages import ErrorKind
from meshframes.mesh.events import SetTimer

from .errors import Reason


@dataclass(frozen=True, slots=True)
class SendPayload:
    """Hand one fragment to the mesh node for `destination` (a MAC or a
    group): the host calls `MeshNode.send_payload`."""

    destination: bytes
    payload: FastPayFragment


@dataclass(frozen=True, slots=True)
class MessageRefused:
    """A message (or one that could not leave) refused, and why; counted."""

    time: float
    reason: Reason
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
    """An authority's engine processed a request: what it concluded (an
    `Outcome`, or the FastPayError variant it answered with)."""

    time: float
    outcome: Outcome | ErrorKind
    sender: bytes
    sequence_number: int | None


Event = (
    MessageRefused | Discovered | TransferStarted | TransferNotStarted | TransferCertified |
    TransferConfirmed | ReplyIgnored | CertificateDelivered | CertificateDeferred |
    CertificateReceived | Handled
)
AppAction = SendPayload | SetTimer | Event

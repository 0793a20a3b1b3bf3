"""A FastPay client on the mesh: its engine (meshframes.fastpay.client, state
on SQLite) runs each transfer; this app moves the engine's messages over
the mesh by identity, feeds it the authorities' replies, arms its retry
timer, hands certificates to recipients until they acknowledge, and, as
a recipient itself, verifies and credits incoming certificates.

Transfers asked for while one is in flight wait their turn: the engine
runs one transfer at a time (one pending order per account in FastPay).

Certificate hand-over (docs/app.md): the certificate goes to the
recipient's station as type 3; the recipient answers with a receipt, an
info-response (type 6) about its own account whose `requested_certificate`
is that certificate. The payer resends with back-off, and whenever the
recipient's announcement reaches it, until the receipt arrives; after
`delivery_attempts` timed tries only announcements trigger a resend, so an
absent recipient costs no more path discoveries.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from meshframes.fastpay import client as engine_actions
from meshframes.fastpay.client import Backoff, Client, Phase
from meshframes.fastpay.client_store import ClientStore
from meshframes.fastpay.committee import Committee
from meshframes.fastpay.ed25519 import KeyPair
from meshframes.fastpay.errors import Rejection
from meshframes.fastpay.messages import (
    AccountInfoResponse,
    Address,
    CertifiedTransferOrder,
    ErrorKind,
    FastPayError,
    SignedTransferOrder,
)
from meshframes.mesh.events import SetTimer, TimerKey

from .errors import AppRefusal, Reason
from .events import (
    AppAction,
    CertificateDeferred,
    CertificateDelivered,
    CertificateReceived,
    ReplyIgnored,
    TransferCertified,
    TransferConfirmed,
    TransferNotStarted,
    TransferStarted,
)
from .framing import AppMessage
from .party import AppConfig, Party

TIMER_CLIENT: TimerKey = ("client",)
TIMER_CATCH_UP: TimerKey = ("catch-up",)
TIMER_PUSH: TimerKey = ("push",)
_REPLY_TYPES = (SignedTransferOrder, AccountInfoResponse, FastPayError)


@dataclass(slots=True)
class _Delivery:
    """A certificate on its way to its recipient."""

    certificate: CertifiedTransferOrder
    backoff: Backoff
    attempts: int = 1


class ClientNode(Party):
    def __init__(self, keypair: KeyPair, committee: Committee, store: ClientStore, mac: bytes,
                 config: AppConfig | None = None, *, e2e_sequence: int | None = None) -> None:
        super().__init__(keypair, committee, mac, 0, config, e2e_sequence=e2e_sequence)
        self.engine = Client(keypair, committee, store, retry_interval=self.config.retry_interval,
                             max_retry_interval=self.config.max_retry_interval)
        self._wanted: deque[tuple[bytes, int]] = deque()
        self._deliveries: dict[int, _Delivery] = {}
        self._catch_up_backoff = self._backoff()
        # Authorities whose path discovery gave up while they owed us an
        # answer: what we sent them was dropped, and goes again as soon as
        # a path to them appears.
        self._unreached: set[bytes] = set()
        # Pushing received certificates: the timed push's back-off, and the
        # first instant a push may go (the latest credit plus push_delay).
        self._push_backoff = self._backoff()
        self._push_from = float("inf")

    def _backoff(self) -> Backoff:
        """The back-off of the node's own retries (hand-over, catch-up,
        push): the engine's, the retry interval doubling up to the maximum."""
        return Backoff(self.config.retry_interval, self.config.max_retry_interval)

    # -- commands ------------------------------------------------------------

    def start(self, now: float) -> list[AppAction]:
        return super().start(now) + self._engine(self.engine.resume(now), now)

    def transfer(self, recipient: bytes, amount: int, now: float) -> list[AppAction]:
        """Pay `amount` to the FastPay account `recipient`, after the
        transfers asked for before it."""
        self._wanted.append((recipient, amount))
        return self._next_transfer(now)

    def fetch_received(self, authority: bytes, now: float) -> list[AppAction]:
        """Collect, page by page, the certificates of transfers to us that
        `authority` executed: a payer's hand-over may never have come."""
        return self._engine(self.engine.fetch_received(authority), now)

    # -- inputs --------------------------------------------------------------

    def _on_timer(self, key: TimerKey, now: float) -> list[AppAction]:
        if key == TIMER_CLIENT:
            return self._engine(self.engine.on_timer(now), now)
        if key == TIMER_CATCH_UP:
            return self._catch_up(now)
        if key == TIMER_PUSH:
            return self._push(now)
        if key[0] == "deliver":
            # The receipt may have come since the timer was armed.
            return self._redeliver(key[1], now) if key[1] in self._deliveries else []
        return super()._on_timer(key, now)

    def _on_message(self, identity: bytes | None, source: bytes, message: AppMessage,
                    now: float) -> list[AppAction]:
        if identity is None:
            raise AppRefusal(Reason.UNKNOWN_SENDER, f"{type(message).__name__} from {source.hex(':')}")
        if self.directory.is_authority(identity):
            if not isinstance(message, _REPLY_TYPES):
                raise AppRefusal(Reason.UNEXPECTED_MESSAGE,
                                 f"authority {identity[:4].hex()} sent {type(message).__name__}")
            return self._engine(self.engine.receive(identity, message, now), now)
        if isinstance(message, CertifiedTransferOrder):
            return self._on_certificate(source, message, now)
        if isinstance(message, AccountInfoResponse) and message.requested_certificate is not None:
            return self._on_receipt(identity, message, now)
        raise AppRefusal(Reason.UNEXPECTED_MESSAGE, f"account {identity[:4].hex()} sent {type(message).__name__}")

    # -- paying --------------------------------------------------------------

    def _next_transfer(self, now: float) -> list[AppAction]:
        actions: list[AppAction] = []
        while self._wanted and self.engine.phase is Phase.IDLE:
            recipient, amount = self._wanted.popleft()
            seq = self.engine.next_sequence_number
            try:
                started = self.engine.transfer(Address.fastpay(recipient), amount, now)
            except Rejection as rejection:
                actions.append(TransferNotStarted(now, recipient, amount, rejection.reason))
                continue
            actions.append(TransferStarted(now, seq, recipient, amount))
            actions += self._engine(started, now)
        return actions

    def _engine(self, actions: list[engine_actions.Action], now: float) -> list[AppAction]:
        """Carry out what the client engine asked for."""
        out: list[AppAction] = []
        for action in actions:
            if isinstance(action, engine_actions.SendToAuthority):
                out += self._send(action.authority, action.message, now)
            elif isinstance(action, engine_actions.RetryAt):
                out.append(SetTimer(TIMER_CLIENT, action.deadline))
            elif isinstance(action, engine_actions.DeliverCertificate):
                out += self._deliver_certificate(action.recipient, action.certificate, now)
            elif isinstance(action, engine_actions.Certified):
                cert = action.certificate
                signers = tuple(a for a, _ in cert.signatures)
                out.append(TransferCertified(now, cert.value.transfer.sequence_number, signers,
                                             sum(self.committee.weight(a) for a in signers)))
            elif isinstance(action, engine_actions.Confirmed):
                out.append(TransferConfirmed(now, action.certificate.value.transfer.sequence_number))
                if self.engine.behind():
                    out.append(SetTimer(TIMER_CATCH_UP, now + self._catch_up_backoff.reset()))
                out += self._next_transfer(now)
            elif isinstance(action, engine_actions.Credited):
                t = action.certificate.value.transfer
                out.append(CertificateReceived(now, t.sender, t.sequence_number, t.amount))
                out += self._push_later(now)
            else:
                out.append(ReplyIgnored(now, action.authority, action.reason))
        return out

    def _deliver_certificate(self, recipient: bytes, cert: CertifiedTransferOrder, now: float) -> list[AppAction]:
        seq = cert.value.transfer.sequence_number
        if recipient == self.identity:
            # A transfer to ourselves: the engine already counted it.
            return []
        delivery = self._deliveries[seq] = _Delivery(cert, self._backoff())
        return self._send(recipient, cert, now) + [SetTimer(("deliver", seq), now + delivery.backoff.interval)]

    def _redeliver(self, seq: int, now: float) -> list[AppAction]:
        delivery = self._deliveries[seq]
        recipient = delivery.certificate.value.transfer.recipient.key
        if delivery.attempts >= self.config.delivery_attempts:
            return [CertificateDeferred(now, seq, recipient)]
        delivery.attempts += 1
        return self._send(recipient, delivery.certificate, now) + [
            SetTimer(("deliver", seq), now + delivery.backoff.grow())]

    def _path_changed(self, identity: bytes, reachable: bool, now: float) -> list[AppAction]:
        """Retry per authority on the mesh's signals rather than waiting
        for the staircase: a path that ended took what we sent along it,
        so it goes again now (the mesh holds it while it discovers a new
        path and sends it the moment one resolves); a path that appears
        carries what an abandoned discovery dropped."""
        if not reachable:
            self._unreached.add(identity)
            return self._engine(self.engine.resend_to(identity, now), now)
        if identity in self._unreached:
            self._unreached.discard(identity)
            return self._engine(self.engine.resend_to(identity, now), now)
        return self._reached(identity, now)

    def _reached(self, identity: bytes, now: float) -> list[AppAction]:
        """A path to `identity` was renewed or its announcement heard: an
        authority that still owes us an answer gets the phase's message
        again, at most once per retry interval, whatever the staircase's
        back-off has grown to."""
        return self._engine(self.engine.resend_to(identity, now, self.config.retry_interval), now)

    def _catch_up(self, now: float) -> list[AppAction]:
        """Resend to every authority still behind, backing off."""
        behind = self.engine.behind()
        if not behind:
            return []
        actions: list[AppAction] = []
        for authority in behind:
            actions += self._engine(self.engine.catch_up(authority), now)
        return actions + [SetTimer(TIMER_CATCH_UP, now + self._catch_up_backoff.grow())]

    def _push_later(self, now: float) -> list[AppAction]:
        """A certificate was just credited to us: push it (with any still
        unacknowledged) once the payer has had push_delay to confirm it."""
        if self.config.push_delay is None:
            return []
        self._push_from = now + self.config.push_delay
        self._push_backoff.reset()
        return [SetTimer(TIMER_PUSH, self._push_from)]

    def _push(self, now: float) -> list[AppAction]:
        """Push to every authority that has not acknowledged some received
        certificate, backing off."""
        pushing = self.engine.pushing()
        if not pushing:
            return []
        actions: list[AppAction] = []
        for authority in pushing:
            actions += self._engine(self.engine.push_received(authority, now), now)
        return actions + [SetTimer(TIMER_PUSH, now + self._push_backoff.grow())]

    def _heard(self, identity: bytes, now: float, released: bool) -> list[AppAction]:
        actions = self._engine(self.engine.catch_up(identity), now)
        if now >= self._push_from:
            actions += self._engine(self.engine.push_received(identity, now, self.config.retry_interval), now)
        if not released:
            actions += self._reached(identity, now)
        for delivery in self._deliveries.values():
            if delivery.certificate.value.transfer.recipient.key == identity:
                actions += self._send(identity, delivery.certificate, now)
        return actions

    def _on_receipt(self, identity: bytes, receipt: AccountInfoResponse, now: float) -> list[AppAction]:
        cert = receipt.requested_certificate
        assert cert is not None
        t = cert.value.transfer
        if t.sender != self.identity or receipt.sender != identity or t.recipient.key != identity:
            raise AppRefusal(Reason.UNEXPECTED_MESSAGE,
                             f"receipt from {identity[:4].hex()} is not for a certificate we handed to it")
        delivery = self._deliveries.get(t.sequence_number)
        if delivery is None or delivery.certificate != cert:
            # A second receipt for a certificate we resent: already done.
            return []
        del self._deliveries[t.sequence_number]
        return [CertificateDelivered(now, t.sequence_number, identity)]

    # -- being paid ----------------------------------------------------------

    def _on_certificate(self, source: bytes, cert: CertifiedTransferOrder, now: float) -> list[AppAction]:
        # Whoever hands it over, a certificate proves itself (quorum
        # signatures); the receipt goes back to the station that brought it.
        t = cert.value.transfer
        try:
            credited = self.engine.receive_certificate(cert)
        except Rejection as rejection:
            not_ours = rejection.kind is ErrorKind.UnexpectedMessage
            raise AppRefusal(Reason.CERTIFICATE_NOT_FOR_US if not_ours else Reason.BAD_CERTIFICATE,
                             rejection.reason) from None
        receipt = AccountInfoResponse(sender=self.identity, balance=self.engine.balance,
                                      next_sequence_number=self.engine.next_sequence_number,
                                      requested_certificate=cert)
        actions: list[AppAction] = []
        if credited:
            actions.append(CertificateReceived(now, t.sender, t.sequence_number, t.amount))
            actions += self._push_later(now)
        return actions + self._send_to_mac(source, receipt, now)

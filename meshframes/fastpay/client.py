"""A FastPay client as a sans-IO engine: it returns the messages to send
(and to which authority), the timer to set, and what happened; the caller
moves the bytes and keeps the clock.

A transfer goes through two phases (FastPay paper section 3):
- VOTING: the signed order goes to every authority; valid votes for this
  very order are gathered until their weight reaches a quorum, and the
  certificate is assembled. Invalid or Byzantine replies are ignored and
  reported with their reason; they never count.
- CONFIRMING: the certificate goes to every authority (and to the
  recipient), until authorities worth a quorum acknowledge it.

The transfer is final once certified: that is when the client's balance
and sequence number move. Everything needed to finish is persisted before
it is acted on (the order before it is sent, the certificate before the
confirmations), so `resume` after a crash sends the same order or the same
certificate again and never signs a second order for a sequence number.

Lagging authorities are brought up to date on the way: one that reports a
missing earlier confirmation, or a different sequence number, gets the
client's earlier certificates; one that reports insufficient funding gets
the certificates the client has received.

A quorum of acknowledgements ends a transfer, but not the client's duty
to the other authorities: each honest authority must execute every
certificate, or it keeps the recipient's credit from it. Those that had
not acknowledged when a quorum did are remembered as behind (in memory
only), with the first of our sequence numbers each has not executed;
`catch_up` gives the caller the confirmations that bring one up to date,
and any account info an authority sends about us says how far it got.

A recipient shares that duty: whoever holds a certificate may bring an
authority up to date with it (FastPay's client pushes the certificates it
receives to the authorities too), and the payer may lose its way to an
authority that the recipient still reaches. Each certificate credited to
the client is kept, up to MAX_PUSHED of them, with the authorities that
have acknowledged it (an account info about the payer past its sequence
number); `push_received` gives the caller the confirmations one authority
still lacks, and a certificate leaves once every authority acknowledged
it.

The certificates of transfers to the client can be fetched from an
authority (`fetch_received`): authorities cap each info reply, so the
client asks again past what it got, page by page, until a page comes back
empty.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum, StrEnum

from .checks import check_certificate, check_vote
from .client_store import ClientStore
from .committee import Committee
from .ed25519 import KeyPair
from .errors import Rejection, insufficient_funding, reject
from .messages import (
    MAX_SEQUENCE_NUMBER,
    AccountInfoRequest,
    AccountInfoResponse,
    Address,
    AddressKind,
    CertifiedTransferOrder,
    ConfirmationOrder,
    ErrorKind,
    FastPayError,
    SerializedMessage,
    SignedTransferOrder,
    Transfer,
    TransferOrder,
)
from .wire import signing_bytes

# Received certificates kept for pushing to lagging authorities: a failed
# authority never acknowledges, so without a bound every credit would stay;
# the oldest goes first (counted in `Client.pushes_dropped`).
MAX_PUSHED = 32


class IgnoreReason(StrEnum):
    """Why the client did not count an authority's reply."""

    NO_TRANSFER_IN_PROGRESS = "reply while no transfer is in progress"
    INFO_FOR_ANOTHER_ACCOUNT = "account info for another account"
    UNEXPECTED_WHILE_VOTING = "unexpected reply while voting"
    VOTE_FOR_ANOTHER_ORDER = "vote for a different transfer order"
    DUPLICATE_VOTE = "duplicate vote"
    INVALID_VOTE = "invalid vote"
    ORDER_REFUSED = "order refused"
    INFO_WITHOUT_OUR_VOTE = "account info without a vote for our order"
    AUTHORITY_AHEAD = "authority is ahead of us"
    AUTHORITY_STILL_BEHIND = "authority still behind after catch-up"
    MISSING_CONFIRMATIONS_CLAIM_NOT_BEHIND = "missing-confirmations claim not behind our certificate"
    CONFIRMATION_REFUSED = "confirmation refused"
    UNEXPECTED_WHILE_CONFIRMING = "unexpected reply while confirming"
    ACK_FROM_OUTSIDE_COMMITTEE = "acknowledgement from outside the committee"
    # Not an answer to any order: an authority says so about a confirmation
    # (one we pushed for a payer, or a catch-up), never about an order.
    NOT_AN_ANSWER_TO_AN_ORDER = "confirmation refusal while voting"
    BAD_RECEIVED_CERTIFICATE = "received certificate failed its checks"


@dataclass(frozen=True, slots=True)
class SendToAuthority:
    authority: bytes
    message: SerializedMessage


@dataclass(frozen=True, slots=True)
class DeliverCertificate:
    """Hand the certificate of a finished transfer to its recipient."""

    recipient: bytes
    certificate: CertifiedTransferOrder


@dataclass(frozen=True, slots=True)
class RetryAt:
    """Call `on_timer` at (or after) this time."""

    deadline: float


@dataclass(frozen=True, slots=True)
class Certified:
    certificate: CertifiedTransferOrder


@dataclass(frozen=True, slots=True)
class Confirmed:
    """Authorities worth a quorum have executed the certificate."""

    certificate: CertifiedTransferOrder


@dataclass(frozen=True, slots=True)
class Credited:
    """A transfer to us, found while fetching received certificates and
    credited for the first time."""

    certificate: CertifiedTransferOrder


@dataclass(frozen=True, slots=True)
class Ignored:
    authority: bytes
    reason: str


Action = (
    SendToAuthority | DeliverCertificate | RetryAt | Certified | Confirmed |
    Credited | Ignored
)


class Phase(Enum):
    IDLE = "idle"
    VOTING = "voting"
    CONFIRMING = "confirming"


@dataclass(slots=True)
class Backoff:
    """A retry interval that starts at `first` and doubles, up to `cap`,
    each time the retry goes unanswered."""

    first: float
    cap: float
    interval: float = field(init=False)

    def __post_init__(self) -> None:
        self.interval = self.first

    def reset(self) -> float:
        self.interval = self.first
        return self.interval

    def grow(self) -> float:
        self.interval = min(self.interval * 2, self.cap)
        return self.interval


class Client:
    def __init__(
        self,
        keypair: KeyPair,
        committee: Committee,
        store: ClientStore,
        *,
        retry_interval: float = 0.5,
        max_retry_interval: float = 8.0,
    ) -> None:
        self.keypair = keypair
        self.address = keypair.public_key
        self.committee = committee
        self.store = store
        self.retry_interval = retry_interval
        self.max_retry_interval = max_retry_interval
        # Ignored replies by reason, for operators and tests.
        self.ignored: Counter[str] = Counter()
        self.phase = Phase.IDLE
        self._order: TransferOrder | None = None
        self._certificate: CertifiedTransferOrder | None = None
        self._votes: dict[bytes, bytes] = {}
        self._acks: set[bytes] = set()
        self._outstanding: set[bytes] = set()
        # When each authority was last helped to catch up, by kind of help.
        self._helped: dict[tuple[bytes, str], float] = {}
        self._backoff = Backoff(retry_interval, max_retry_interval)
        self._deadline: float | None = None
        # Received certificates fetched so far from each authority (each
        # numbers them in its own execution order), and the authorities
        # whose next page we are waiting for.
        self._received_offset: dict[bytes, int] = {}
        self._paging: set[bytes] = set()
        # Authorities behind on our certificates -> the first sequence
        # number of ours each has not executed.
        self._behind: dict[bytes, int] = {}
        # When the phase's message last went to each authority.
        self._sent_at: dict[bytes, float] = {}
        # Certificates credited to us that some authority has not
        # acknowledged: (payer, sequence number) -> the certificate and the
        # authorities that did, oldest first; and when pushes last went to
        # each authority.
        self._pushed: dict[tuple[bytes, int], tuple[CertifiedTransferOrder, set[bytes]]] = {}
        self._pushed_at: dict[bytes, float] = {}
        self.pushes_dropped = 0

    # ---- state ----

    @property
    def balance(self) -> int:
        return self.store.state().balance

    @property
    def next_sequence_number(self) -> int:
        return self.store.state().next_sequence_number

    # ---- commands ----

    def transfer(self, recipient: Address, amount: int, now: float, user_data: bytes | None = None) -> list[Action]:
        """Sign and send a new transfer order. Raises Rejection if a transfer
        is still in progress or the balance does not cover `amount`."""
        state = self.store.state()
        if state.pending_order is not None or state.pending_certificate is not None:
            pending = state.pending_order
            if pending is None:
                assert state.pending_certificate is not None
                pending = state.pending_certificate.value
            raise Rejection(
                FastPayError(kind=ErrorKind.PreviousTransferMustBeConfirmedFirst, pending_confirmation=pending),
                "a transfer is still in progress: resume it first",
            )
        if amount <= 0:
            raise reject(ErrorKind.IncorrectTransferAmount, f"amount {amount} must be positive")
        if state.balance < amount:
            raise insufficient_funding(state.balance, amount)
        transfer = Transfer(
            sender=self.address,
            recipient=recipient,
            amount=amount,
            sequence_number=state.next_sequence_number,
            user_data=user_data,
        )
        order = TransferOrder(transfer=transfer, signature=self.keypair.sign(signing_bytes(transfer)))
        # Persist before anything leaves: after a crash we resend this very
        # order rather than sign a conflicting one.
        self.store.set_pending_order(order)
        return self._start_voting(order, now)

    def resume(self, now: float) -> list[Action]:
        """Pick up a transfer interrupted by a crash or restart."""
        state = self.store.state()
        if state.pending_certificate is not None:
            return self._start_confirming(state.pending_certificate, now)
        if state.pending_order is not None:
            return self._start_voting(state.pending_order, now)
        return []

    def receive_certificate(self, certificate: CertifiedTransferOrder) -> bool:
        """An incoming transfer's certificate: verify it and credit it once.
        Returns False for one already credited; raises Rejection if invalid."""
        t = certificate.value.transfer
        if t.recipient != Address.fastpay(self.address):
            raise reject(ErrorKind.UnexpectedMessage, "certificate is not for a transfer to this account")
        if t.sequence_number > MAX_SEQUENCE_NUMBER:
            # No honest authority votes past the maximum, so no quorum can.
            raise reject(
                ErrorKind.InvalidSequenceNumber,
                f"sequence number {t.sequence_number} exceeds the maximum {MAX_SEQUENCE_NUMBER}",
            )
        check_certificate(certificate, self.committee)
        if not self.store.record_received(certificate):
            return False
        self._pushed[(t.sender, t.sequence_number)] = (certificate, set())
        if len(self._pushed) > MAX_PUSHED:
            del self._pushed[next(iter(self._pushed))]
            self.pushes_dropped += 1
        return True

    def pushing(self) -> list[bytes]:
        """Authorities that have not acknowledged some certificate credited
        to us, in committee order."""
        return [a for a in self.committee.names
                if any(a not in acked for _, acked in self._pushed.values())]

    def push_received(self, authority: bytes, now: float, min_gap: float = 0.0) -> list[Action]:
        """The certificates credited to us that `authority` has not
        acknowledged, oldest first, if none went to it within `min_gap`:
        the payer may never reach it again, and until it executes them it
        holds our balance without those credits. Nothing for a party
        outside the committee: the caller may ask for anyone it hears."""
        if self.committee.weight(authority) == 0:
            return []
        certificates = [c for c, acked in self._pushed.values() if authority not in acked]
        if not certificates or now < self._pushed_at.get(authority, float("-inf")) + min_gap:
            return []
        self._pushed_at[authority] = now
        return [SendToAuthority(authority, ConfirmationOrder(transfer_certificate=c)) for c in certificates]

    def behind(self) -> list[bytes]:
        """Authorities left without some of our certificates when a quorum
        acknowledged them, in committee order."""
        return [a for a in self.committee.names if a in self._behind]

    def catch_up(self, authority: bytes) -> list[Action]:
        """The confirmations `authority` still lacks, oldest first (none if
        it is not behind): an authority executes them in order only."""
        first = self._behind.get(authority)
        if first is None:
            return []
        return [SendToAuthority(authority, ConfirmationOrder(transfer_certificate=c))
                for c in self.store.sent_certificates(first)]

    def fetch_received(self, authority: bytes) -> list[Action]:
        """Ask `authority` for the certificates of transfers to us, from
        where the last page it sent stopped. Each page that arrives is
        verified and credited and the next one asked for, until one comes
        back empty. A lost page stops the paging; calling again resumes
        it."""
        self._paging.add(authority)
        return [self._page_request(authority)]

    # ---- input ----

    def receive(self, authority: bytes, message: SerializedMessage, now: float) -> list[Action]:
        """A reply from `authority` (the sender as the transport knows it)."""
        paged: list[Action] = []
        caught_up = self._note_progress(authority, message)
        if self._note_push(authority, message):
            # Its acknowledgement of a certificate we pushed for its payer:
            # nothing to do with a transfer of ours.
            return []
        if (isinstance(message, AccountInfoResponse) and authority in self._paging
                and message.sender == self.address):
            # Its received certificates are the page; the rest of it is
            # account info like any other, for the transfer in progress.
            paged = self._receive_page(authority, message.requested_received_transfers)
            if self.phase is Phase.IDLE:
                return paged
        if self.phase is Phase.VOTING:
            return paged + self._receive_voting(authority, message, now)
        if self.phase is Phase.CONFIRMING:
            return paged + self._receive_confirming(authority, message, now)
        if caught_up:
            return []
        return self._ignore(authority, IgnoreReason.NO_TRANSFER_IN_PROGRESS)

    def _note_progress(self, authority: bytes, message: SerializedMessage) -> bool:
        """Account info about us from an authority we hold as behind says
        how far it got (it executes our certificates in order only); True
        if it moved that authority forward."""
        first = self._behind.get(authority)
        if (first is None or not isinstance(message, AccountInfoResponse) or message.sender != self.address
                or message.next_sequence_number <= first):
            return False
        if message.next_sequence_number >= self.next_sequence_number:
            del self._behind[authority]
        else:
            self._behind[authority] = message.next_sequence_number
        return True

    def _note_push(self, authority: bytes, message: SerializedMessage) -> bool:
        """Account info about the payer of a certificate we push, from a
        committee member, past that certificate's sequence number: it
        executed it. True if the message was about such a payer."""
        if (not isinstance(message, AccountInfoResponse) or message.sender == self.address
                or self.committee.weight(authority) == 0):
            return False
        return self._push_acknowledged(authority, message.sender, message.next_sequence_number)

    def _push_acknowledged(self, authority: bytes, payer: bytes, next_sequence_number: int) -> bool:
        """`authority` holds `payer` at `next_sequence_number`: it executed
        every certificate of that payer's below it. True if we push any of
        that payer's."""
        mine = [key for key in self._pushed if key[0] == payer]
        for key in mine:
            if next_sequence_number > key[1]:
                acked = self._pushed[key][1]
                acked.add(authority)
                if len(acked) == len(self.committee.names):
                    del self._pushed[key]
        return bool(mine)

    def _receive_page(self, authority: bytes, page: tuple[CertifiedTransferOrder, ...]) -> list[Action]:
        if not page:
            self._paging.discard(authority)
            return []
        self._received_offset[authority] = self._received_offset.get(authority, 0) + len(page)
        actions: list[Action] = []
        for certificate in page:
            try:
                if self.receive_certificate(certificate):
                    actions.append(Credited(certificate))
                    t = certificate.value.transfer
                    # The authority that paged it to us executed it.
                    self._push_acknowledged(authority, t.sender, t.sequence_number + 1)
            except Rejection as rejection:
                actions += self._ignore(authority, IgnoreReason.BAD_RECEIVED_CERTIFICATE, rejection.reason,
                                        kind=rejection.kind.name)
        return actions + [self._page_request(authority)]

    def _page_request(self, authority: bytes) -> SendToAuthority:
        skip = self._received_offset.get(authority, 0)
        return SendToAuthority(authority, AccountInfoRequest(
            sender=self.address, request_received_transfers_excluding_first_nth=skip))

    def resend_to(self, authority: bytes, now: float, min_gap: float = 0.0) -> list[Action]:
        """The message of the phase in progress again, to one authority that
        has not answered yet and was last sent it at least `min_gap` ago:
        the caller learned that what it sent there was lost, or that a way
        there opened. Nothing otherwise."""
        if (self.phase is Phase.IDLE or authority not in self._outstanding
                or now < self._sent_at.get(authority, float("-inf")) + min_gap):
            return []
        return self._send_phase((authority,), self._phase_message(), now)

    def on_timer(self, now: float) -> list[Action]:
        """Resend to the authorities that have not answered yet, backing off."""
        if self.phase is Phase.IDLE or self._deadline is None or now < self._deadline:
            return []
        message = self._phase_message()
        actions: list[Action] = self._send_phase(sorted(self._outstanding), message, now)
        self._backoff.grow()
        return actions + self._arm(now)

    # ---- voting ----

    def _start_voting(self, order: TransferOrder, now: float) -> list[Action]:
        self.phase = Phase.VOTING
        self._order = order
        self._votes = {}
        self._helped = {}
        self._outstanding = set(self.committee.names)
        self._backoff.reset()
        return self._send_phase(self.committee.names, order, now) + self._arm(now)

    def _receive_voting(self, authority: bytes, message: SerializedMessage, now: float) -> list[Action]:
        order = self._order
        assert order is not None
        if isinstance(message, AccountInfoResponse):
            if message.sender != self.address:
                return self._ignore(authority, IgnoreReason.INFO_FOR_ANOTHER_ACCOUNT)
            pending = message.pending_confirmation
            if pending is not None and pending.value == order:
                return self._receive_vote(authority, pending, now)
            # No vote for our order: it holds an older one (it missed the
            # confirmations since), or lost ours.
            return self._help_lagging(authority, message, now)
        if isinstance(message, SignedTransferOrder):
            return self._receive_vote(authority, message, now)
        if isinstance(message, FastPayError):
            return self._voting_error(authority, message, now)
        return self._ignore(authority, IgnoreReason.UNEXPECTED_WHILE_VOTING, kind=type(message).__name__)

    def _receive_vote(self, authority: bytes, vote: SignedTransferOrder, now: float) -> list[Action]:
        if vote.value != self._order:
            return self._ignore(authority, IgnoreReason.VOTE_FOR_ANOTHER_ORDER)
        if vote.authority in self._votes:
            return self._ignore(authority, IgnoreReason.DUPLICATE_VOTE)
        try:
            check_vote(vote, self.committee)
        except Rejection as rejection:
            return self._ignore(authority, IgnoreReason.INVALID_VOTE, rejection.reason, kind=rejection.kind.name)
        self._votes[vote.authority] = vote.signature
        self._outstanding.discard(vote.authority)
        self._outstanding.discard(authority)
        weight = sum(self.committee.weight(a) for a in self._votes)
        if weight < self.committee.quorum_threshold:
            return []
        # Signatures in committee order: deterministic certificate bytes.
        assert self._order is not None
        cert = CertifiedTransferOrder(
            value=self._order,
            signatures=tuple((a, self._votes[a]) for a in self.committee.names if a in self._votes),
        )
        self.store.record_certificate(cert)
        return [Certified(cert)] + self._start_confirming(cert, now)

    def _voting_error(self, authority: bytes, error: FastPayError, now: float) -> list[Action]:
        if error.kind is ErrorKind.UnexpectedSequenceNumber:
            # Learn which sequence number it holds for us; the answer decides
            # whether our earlier certificates would bring it up to date. It
            # stays outstanding: the help or its answer may be lost.
            if not self._may_help(authority, "seq", now):
                return self._ignore(authority, IgnoreReason.ORDER_REFUSED, kind=ErrorKind.UnexpectedSequenceNumber.name)
            return [SendToAuthority(authority, AccountInfoRequest(sender=self.address))]
        if error.kind is ErrorKind.MissingEalierConfirmations:
            # An authority answers an order with the wrong sequence number
            # otherwise: this one is about a confirmation, so our order is
            # still owed an answer.
            return self._ignore(authority, IgnoreReason.NOT_AN_ANSWER_TO_AN_ORDER)
        if error.kind is ErrorKind.InsufficientFunding:
            received = self.store.received_certificates()
            if received and self._may_help(authority, "funds", now):
                assert self._order is not None
                catch_up: list[Action] = [SendToAuthority(authority, ConfirmationOrder(transfer_certificate=c))
                                          for c in received]
                return catch_up + [SendToAuthority(authority, self._order)]
            if received:
                return self._ignore(authority, IgnoreReason.ORDER_REFUSED, kind=ErrorKind.InsufficientFunding.name)
        self._outstanding.discard(authority)
        return self._ignore(authority, IgnoreReason.ORDER_REFUSED, kind=error.kind.name)

    def _help_lagging(self, authority: bytes, info: AccountInfoResponse, now: float) -> list[Action]:
        assert self._order is not None
        ours = self._order.transfer.sequence_number
        if info.next_sequence_number == ours:
            # Up to date but without our order (it was lost): send it again.
            if not self._may_help(authority, "resend", now):
                return self._ignore(authority, IgnoreReason.INFO_WITHOUT_OUR_VOTE)
            return [SendToAuthority(authority, self._order)]
        if info.next_sequence_number > ours:
            self._outstanding.discard(authority)
            return self._ignore(
                authority,
                IgnoreReason.AUTHORITY_AHEAD,
                f"it holds sequence number {info.next_sequence_number}, ours is {ours}",
            )
        if not self._may_help(authority, "catch-up", now):
            return self._ignore(authority, IgnoreReason.AUTHORITY_STILL_BEHIND)
        missing: list[Action] = [SendToAuthority(authority, ConfirmationOrder(transfer_certificate=c))
                                 for c in self.store.sent_certificates(info.next_sequence_number)]
        return missing + [SendToAuthority(authority, self._order)]

    # ---- confirming ----

    def _start_confirming(self, cert: CertifiedTransferOrder, now: float) -> list[Action]:
        self.phase = Phase.CONFIRMING
        self._certificate = cert
        self._order = None
        self._acks = set()
        self._helped = {}
        self._outstanding = set(self.committee.names)
        self._backoff.reset()
        confirmation = ConfirmationOrder(transfer_certificate=cert)
        actions: list[Action] = self._send_phase(self.committee.names, confirmation, now)
        recipient = cert.value.transfer.recipient
        if recipient.kind is AddressKind.FASTPAY:
            actions.append(DeliverCertificate(recipient.key, cert))
        return actions + self._arm(now)

    def _receive_confirming(self, authority: bytes, message: SerializedMessage, now: float) -> list[Action]:
        cert = self._certificate
        assert cert is not None
        seq = cert.value.transfer.sequence_number
        if isinstance(message, FastPayError):
            if message.kind is ErrorKind.MissingEalierConfirmations:
                current = message.current_sequence_number or 0
                if current >= seq:
                    # Missing confirmations before ours means being behind
                    # ours: this claim (any u64 on the wire) is garbage.
                    return self._ignore(
                        authority,
                        IgnoreReason.MISSING_CONFIRMATIONS_CLAIM_NOT_BEHIND,
                        f"it claims to be at {current}, our certificate is for {seq}",
                    )
                if not self._may_help(authority, "missing", now):
                    return self._ignore(authority, IgnoreReason.CONFIRMATION_REFUSED, kind=ErrorKind.MissingEalierConfirmations.name)
                missing = self.store.sent_certificates(current)
                return [SendToAuthority(authority, ConfirmationOrder(transfer_certificate=c)) for c in missing]
            self._outstanding.discard(authority)
            return self._ignore(authority, IgnoreReason.CONFIRMATION_REFUSED, kind=message.kind.name)
        if not isinstance(message, AccountInfoResponse):
            return self._ignore(authority, IgnoreReason.UNEXPECTED_WHILE_CONFIRMING, kind=type(message).__name__)
        if message.sender != self.address or message.next_sequence_number <= seq:
            # An answer to an earlier certificate we sent to help it catch up.
            return []
        if self.committee.weight(authority) == 0:
            return self._ignore(authority, IgnoreReason.ACK_FROM_OUTSIDE_COMMITTEE)
        self._acks.add(authority)
        self._outstanding.discard(authority)
        if sum(self.committee.weight(a) for a in self._acks) < self.committee.quorum_threshold:
            return []
        self.store.finish_confirmation()
        for name in self.committee.names:
            if name not in self._acks:
                self._behind.setdefault(name, seq)
        self.phase = Phase.IDLE
        self._deadline = None
        self._certificate = None
        return [Confirmed(cert)]

    # ---- helpers ----

    def _phase_message(self) -> SerializedMessage:
        if self.phase is Phase.VOTING:
            assert self._order is not None
            return self._order
        assert self._certificate is not None
        return ConfirmationOrder(transfer_certificate=self._certificate)

    def _send_phase(self, authorities: Iterable[bytes], message: SerializedMessage, now: float) -> list[Action]:
        sends: list[Action] = []
        for authority in authorities:
            self._sent_at[authority] = now
            sends.append(SendToAuthority(authority, message))
        return sends

    def _may_help(self, authority: bytes, kind: str, now: float) -> bool:
        """Help a lagging authority at most once per retry interval for each
        kind of help: lost help is given again, and a lying authority costs
        no more messages than our own retries."""
        last = self._helped.get((authority, kind))
        if last is not None and now < last + self._backoff.interval:
            return False
        self._helped[(authority, kind)] = now
        return True

    def _arm(self, now: float) -> list[Action]:
        self._deadline = now + self._backoff.interval
        return [RetryAt(self._deadline)]

    def _ignore(self, authority: bytes, reason: IgnoreReason, detail: str = "", kind: str | None = None) -> list[Action]:
        # Counted by the reason and, where one says more, the kind of reply
        # or error (each kind of bad vote under its own key); the action
        # carries the detail too.
        key = reason if kind is None else f"{reason} ({kind})"
        self.ignored[key] += 1
        return [Ignored(authority, f"{key}: {detail}" if detail else key)]

"""A FastPay authority as a sans-IO engine: decoded messages in, replies
out, state in an AuthorityStore.

Rules (FastPay paper section 3, reference authority.rs):
- A transfer order is voted for if it is signed by its sender, carries the
  account's next sequence number and an amount the balance covers, and no
  different order holds that sequence number. The vote is stored before it
  is returned; a repeated identical order gets the very same vote back.
- A confirmation (a certificate: distinct committee signers worth a
  quorum, every signature valid) executes once: it debits the sender,
  advances the sequence number, credits a FastPay recipient and records
  the certificate. A replay returns the account info without change.
- Account info requests return balance, next sequence number, pending
  vote, a confirmed certificate and received certificates on request.
  Unlike the reference, which returns every received certificate past
  the first `request_received_transfers_excluding_first_nth`, a reply
  carries at most MAX_RECEIVED_BYTES_PER_REPLY of them (at least one):
  info requests are public and a few dozen octets, so an unbounded reply
  lets anyone draw half a megabyte across the mesh with one request (and
  past 255 fragments the reply cannot be sent at all). The client asks
  again past what it got (`Client.fetch_received`); a cut page is
  counted as `info_page`.

Group commit: `handle_batch` processes messages in one SQLite transaction
and returns the replies only after it has committed, so a reply never
reports state that a crash could lose. Only the store can break the
engine: if a write or the commit fails, no reply of the batch leaves, the
engine refuses all further work (`AuthorityFailed`: its memory is ahead of
its disk) and must be rebuilt from the store, as after a crash. Anything
else a message provokes is answered and counted: each message runs under
its own savepoint, and memory changes only after its writes succeeded, so
a message that fails in an unforeseen way is undone alone
(ErrorWhileProcessingTransferOrder) and the batch goes on.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from .checks import check_certificate, check_order
from .committee import Committee
from .ed25519 import KeyPair
from .errors import (
    Rejection,
    insufficient_funding,
    missing_earlier_confirmations,
    previous_transfer_pending,
    reject,
)
from .messages import (
    I128_MAX,
    I128_MIN,
    MAX_SEQUENCE_NUMBER,
    AccountInfoRequest,
    AccountInfoResponse,
    AddressKind,
    CertifiedTransferOrder,
    ConfirmationOrder,
    ErrorKind,
    FastPayError,
    SerializedMessage,
    SignedTransferOrder,
    TransferOrder,
)
from .store import AccountState, AuthorityStore, StoreError
from .wire import BincodeError, decode_message, encode_message, signing_bytes

# Encoded received certificates per info reply: a few fragments (about 18
# certificates of a 4-authority committee, 3 of a 32-authority one).
MAX_RECEIVED_BYTES_PER_REPLY = 8 * 1024


class Outcome(StrEnum):
    """What the engine did with a message it accepted."""

    ORDER = "order"
    REPEATED_ORDER = "repeated_order"
    CONFIRMATION = "confirmation"
    REPEATED_CONFIRMATION = "repeated_confirmation"
    INFO = "info"
    # Account info whose received certificates stop at the per-reply cap.
    INFO_PAGE = "info_page"


@dataclass(frozen=True, slots=True)
class Processed:
    """One message's result: the reply (None where none is called for)
    and the outcome, an `Outcome` or the FastPayError variant the engine
    answered with."""

    reply: SerializedMessage | None
    outcome: Outcome | ErrorKind


class AuthorityFailed(RuntimeError):
    """The engine lost its store mid-batch; rebuild it from the store."""


# What a failing store raises; any of these leaves memory ahead of disk.
_STORE_FAILURES = (sqlite3.Error, StoreError)


class Authority:
    def __init__(self, keypair: KeyPair, committee: Committee, store: AuthorityStore) -> None:
        if committee.weight(keypair.public_key) == 0:
            raise ValueError(f"authority {keypair.public_key.hex()} is not in the committee")
        self.keypair = keypair
        self.name = keypair.public_key
        self.committee = committee
        self.store = store
        self._accounts: dict[bytes, AccountState] = store.load_accounts()
        # Rejections by FastPayError variant name, and the last reason seen
        # for each, so an operator can tell what is being refused and why.
        self.rejections: Counter[str] = Counter()
        self.last_reason: dict[str, str] = {}
        self.accepted: Counter[str] = Counter()
        self._failed = False

    # ---- public API ----

    def handle(self, message: SerializedMessage) -> SerializedMessage | None:
        """Process one message in its own transaction; its reply."""
        return self.process_batch([message])[0].reply

    def process(self, message: SerializedMessage) -> Processed:
        """Process one message in its own transaction."""
        return self.process_batch([message])[0]

    def handle_batch(self, messages: Sequence[SerializedMessage]) -> list[SerializedMessage | None]:
        """`process_batch`, replies only."""
        return [p.reply for p in self.process_batch(messages)]

    def process_batch(self, messages: Sequence[SerializedMessage]) -> list[Processed]:
        """Process messages in order in one transaction; the results are
        returned after the commit. Raises AuthorityFailed, and returns
        nothing, if the store fails."""
        if self._failed:
            raise AuthorityFailed("a previous commit failed; rebuild the authority from its store")
        try:
            self.store.begin()
            replies = [self._handle_one(m) for m in messages]
            self.store.commit()
        except _STORE_FAILURES as exc:
            self._failed = True
            self._rollback_after(exc)
            raise AuthorityFailed(f"store failed mid-batch ({type(exc).__name__}: {exc}); no reply was sent") from exc
        return replies

    def _rollback_after(self, failure: BaseException) -> None:
        try:
            self.store.rollback()
        except _STORE_FAILURES as exc:
            # A store that cannot even roll back (closed, disk gone): the
            # open transaction dies with the connection, which is what a
            # rebuild from the store expects anyway.
            failure.add_note(f"rollback failed too: {type(exc).__name__}: {exc}")

    def handle_wire_batch(self, frames: Sequence[bytes]) -> list[bytes | None]:
        """`handle_batch` on bincode bytes: undecodable input is answered
        with InvalidDecoding and counted."""
        decoded: list[SerializedMessage | None] = []
        for data in frames:
            try:
                decoded.append(decode_message(data))
            except BincodeError as exc:
                self._count(reject(ErrorKind.InvalidDecoding, str(exc)))
                decoded.append(None)
        todo = [m for m in decoded if m is not None]
        replies = iter(self.handle_batch(todo))
        out: list[bytes | None] = []
        for m in decoded:
            reply = FastPayError(kind=ErrorKind.InvalidDecoding) if m is None else next(replies)
            out.append(None if reply is None else encode_message(reply))
        return out

    def account(self, address: bytes) -> AccountState | None:
        return self._accounts.get(address)

    def accounts(self) -> dict[bytes, AccountState]:
        """Every account this authority holds, by address (a copy)."""
        return dict(self._accounts)

    def total_balance(self) -> int:
        return sum(a.balance for a in self._accounts.values())

    # ---- dispatch ----

    def _handle_one(self, message: SerializedMessage) -> Processed:
        self.store.savepoint()
        try:
            processed = self._dispatch(message)
        except _STORE_FAILURES:
            raise
        except Exception as exc:
            # Not a refusal the rules foresee, and not the store: undo this
            # message's writes (memory is installed only after them) and
            # answer it, rather than let one input stop the authority.
            self.store.rollback_to_savepoint()
            rejection = reject(
                ErrorKind.ErrorWhileProcessingTransferOrder,
                f"{type(message).__name__} failed unexpectedly ({type(exc).__name__}: {exc}); undone",
            )
            self._count(rejection)
            return Processed(rejection.error, rejection.kind)
        self.store.release_savepoint()
        if isinstance(processed.outcome, Outcome):
            self.accepted[processed.outcome] += 1
        return processed

    def _dispatch(self, message: SerializedMessage) -> Processed:
        try:
            if isinstance(message, TransferOrder):
                return self._handle_order(message)
            if isinstance(message, CertifiedTransferOrder):
                return self._handle_confirmation(message)
            if isinstance(message, ConfirmationOrder):
                return self._handle_confirmation(message.transfer_certificate)
            if isinstance(message, AccountInfoRequest):
                return self._handle_info(message)
            # CrossShard is the reference's internal hop between shards of
            # one authority; this authority is a single shard, so it never
            # trusts one from outside.
            raise reject(ErrorKind.UnexpectedMessage,
                         f"an authority does not accept {type(message).__name__} messages")
        except Rejection as rejection:
            self._count(rejection)
            return Processed(rejection.error, rejection.kind)

    def _count(self, rejection: Rejection) -> None:
        self.rejections[rejection.kind.name] += 1
        self.last_reason[rejection.kind.name] = rejection.reason

    # ---- transfer orders ----

    def _handle_order(self, order: TransferOrder) -> Processed:
        t = order.transfer
        if t.sequence_number > MAX_SEQUENCE_NUMBER:
            raise reject(
                ErrorKind.InvalidSequenceNumber,
                f"sequence number {t.sequence_number} exceeds the maximum {MAX_SEQUENCE_NUMBER}",
            )
        if t.amount == 0:
            raise reject(ErrorKind.IncorrectTransferAmount, "transfer amount is 0")
        account = self._accounts.get(t.sender)
        if account is None:
            raise reject(ErrorKind.UnknownSenderAccount, f"no account {t.sender.hex()}")
        pending = account.pending
        if pending is not None and pending.value == order:
            # The very order we voted for (signature included, so it was
            # verified then): answer with the same stored vote.
            return Processed(pending, Outcome.REPEATED_ORDER)
        check_order(order)
        if t.sequence_number != account.next_sequence_number:
            raise reject(
                ErrorKind.UnexpectedSequenceNumber,
                f"order has sequence number {t.sequence_number}, account expects {account.next_sequence_number}",
            )
        if pending is not None:
            raise previous_transfer_pending(pending.value, t.sequence_number)
        if account.balance < t.amount:
            raise insufficient_funding(account.balance, t.amount)
        vote = SignedTransferOrder(value=order, authority=self.name, signature=self.keypair.sign(signing_bytes(t)))
        self.store.put_vote(vote)
        account.pending = vote
        return Processed(vote, Outcome.ORDER)

    # ---- confirmation orders ----

    def _handle_confirmation(self, cert: CertifiedTransferOrder) -> Processed:
        t = cert.value.transfer
        sender = self._accounts.get(t.sender)
        verified: tuple[tuple[bytes, bytes], ...] = ()
        if sender is not None and sender.pending is not None and sender.pending.value == cert.value:
            # We voted for this very order: its sender signature was checked
            # then, and our own vote signature is deterministic.
            verified = ((t.sender, cert.value.signature), (self.name, sender.pending.signature))
        check_certificate(cert, self.committee, verified)
        if sender is None:
            # A valid certificate proves a quorum knows this account (it was
            # credited by transfers we have not seen): start it empty, as the
            # reference does, and let the sequence check ask for the rest.
            # It joins our accounts only if the certificate executes.
            sender = AccountState(0, 0)
        if sender.next_sequence_number > t.sequence_number:
            return Processed(self._info(t.sender, sender), Outcome.REPEATED_CONFIRMATION)
        if sender.next_sequence_number < t.sequence_number:
            raise missing_earlier_confirmations(sender.next_sequence_number, t.sequence_number)
        if sender.balance - t.amount < I128_MIN:
            raise reject(ErrorKind.BalanceUnderflow, f"debiting {t.amount} underflows balance {sender.balance}")
        if t.sequence_number >= MAX_SEQUENCE_NUMBER:
            raise reject(ErrorKind.SequenceOverflow, f"sequence number {t.sequence_number} cannot be incremented")
        new_sender = AccountState(sender.balance - t.amount, sender.next_sequence_number + 1)
        new_recipient = None
        if t.recipient.kind is AddressKind.FASTPAY:
            if t.recipient.key == t.sender:
                new_recipient = new_sender
            else:
                held = self._accounts.get(t.recipient.key) or AccountState(0, 0)
                new_recipient = AccountState(held.balance, held.next_sequence_number, held.pending)
            if new_recipient.balance + t.amount > I128_MAX:
                raise reject(
                    ErrorKind.BalanceOverflow, f"crediting {t.amount} overflows balance {new_recipient.balance}"
                )
            new_recipient.balance += t.amount
        # All checks passed: write the new states, then install them in
        # memory, so a write that fails leaves memory as it was.
        self.store.put_account(t.sender, new_sender)
        if new_recipient is not None:
            self.store.put_account(t.recipient.key, new_recipient)
        self.store.put_certificate(cert)
        self._accounts[t.sender] = new_sender
        if new_recipient is not None:
            self._accounts[t.recipient.key] = new_recipient
        return Processed(self._info(t.sender, new_sender), Outcome.CONFIRMATION)

    # ---- account info ----

    def _info(self, address: bytes, account: AccountState) -> AccountInfoResponse:
        return AccountInfoResponse(
            sender=address,
            balance=account.balance,
            next_sequence_number=account.next_sequence_number,
            pending_confirmation=account.pending,
        )

    def _handle_info(self, request: AccountInfoRequest) -> Processed:
        account = self._accounts.get(request.sender)
        if account is None:
            raise reject(ErrorKind.UnknownSenderAccount, f"no account {request.sender.hex()}")
        requested = None
        wanted = request.request_sequence_number
        if wanted is not None:
            # Only sequence numbers below the account's next one can have
            # been confirmed; asking past it (up to 2^64 - 1 on the wire) is
            # answered without a lookup.
            if wanted < account.next_sequence_number:
                requested = self.store.confirmed_certificate(request.sender, wanted)
            if requested is None:
                raise reject(
                    ErrorKind.CertificateNotfound,
                    f"no confirmed transfer with sequence number {wanted}"
                    f" (the account's next sequence number is {account.next_sequence_number})",
                )
        received: tuple[CertifiedTransferOrder, ...] = ()
        outcome = Outcome.INFO
        skip = request.request_received_transfers_excluding_first_nth
        if skip is not None:
            page = self.store.received_certificates(request.sender, skip, MAX_RECEIVED_BYTES_PER_REPLY)
            received = page.certificates
            if not page.complete:
                outcome = Outcome.INFO_PAGE
        return Processed(AccountInfoResponse(
            sender=request.sender,
            balance=account.balance,
            next_sequence_number=account.next_sequence_number,
            pending_confirmation=account.pending,
            requested_certificate=requested,
            requested_received_transfers=received,
        ), outcome)

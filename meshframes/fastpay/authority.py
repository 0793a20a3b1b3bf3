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

Group commit: `handle_batch` processes messages in one SQLite transaction
and returns the replies only after it has committed, so a reply never
reports state that a crash could lose. If a commit fails the engine is
unusable (its memory is ahead of its disk) and must be rebuilt from the
store, as after a crash.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

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
from .store import AccountState, AuthorityStore
from .wire import DecodeError, decode_message, encode_message, signing_bytes


class AuthorityFailed(RuntimeError):
    """The engine lost its store mid-batch; rebuild it from the store."""


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
        """Process one message in its own transaction."""
        return self.handle_batch([message])[0]

    def handle_batch(self, messages: Sequence[SerializedMessage]) -> list[SerializedMessage | None]:
        """Process messages in order in one transaction; the replies (None
        where the message calls for none) are returned after the commit."""
        if self._failed:
            raise AuthorityFailed("a previous commit failed; rebuild the authority from its store")
        try:
            self.store.begin()
            replies = [self._dispatch(m) for m in messages]
            self.store.commit()
        except Exception:
            self._failed = True
            self.store.rollback()
            raise
        return replies

    def handle_wire_batch(self, frames: Sequence[bytes]) -> list[bytes | None]:
        """`handle_batch` on bincode bytes: undecodable input is answered
        with InvalidDecoding and counted."""
        decoded: list[SerializedMessage | None] = []
        for data in frames:
            try:
                decoded.append(decode_message(data))
            except DecodeError as exc:
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

    def total_balance(self) -> int:
        return sum(a.balance for a in self._accounts.values())

    # ---- dispatch ----

    def _dispatch(self, message: SerializedMessage) -> SerializedMessage | None:
        try:
            cls = type(message)
            if cls is TransferOrder:
                return self._handle_order(message)  # type: ignore[arg-type]
            if cls is CertifiedTransferOrder:
                return self._handle_confirmation(message)  # type: ignore[arg-type]
            if cls is ConfirmationOrder:
                return self._handle_confirmation(message.transfer_certificate)  # type: ignore[union-attr]
            if cls is AccountInfoRequest:
                return self._handle_info(message)  # type: ignore[arg-type]
            # CrossShard is the reference's internal hop between shards of
            # one authority; this authority is a single shard, so it never
            # trusts one from outside.
            raise reject(ErrorKind.UnexpectedMessage, f"an authority does not accept {cls.__name__} messages")
        except Rejection as rejection:
            self._count(rejection)
            return rejection.error

    def _count(self, rejection: Rejection) -> None:
        self.rejections[rejection.kind.name] += 1
        self.last_reason[rejection.kind.name] = rejection.reason

    # ---- transfer orders ----

    def _handle_order(self, order: TransferOrder) -> SignedTransferOrder:
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
            self.accepted["repeated_order"] += 1
            return pending
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
        self.accepted["order"] += 1
        return vote

    # ---- confirmation orders ----

    def _handle_confirmation(self, cert: CertifiedTransferOrder) -> AccountInfoResponse:
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
            self.accepted["repeated_confirmation"] += 1
            return self._info(t.sender, sender)
        if sender.next_sequence_number < t.sequence_number:
            raise missing_earlier_confirmations(sender.next_sequence_number, t.sequence_number)
        if sender.balance - t.amount < I128_MIN:
            raise reject(ErrorKind.BalanceUnderflow, f"debiting {t.amount} underflows balance {sender.balance}")
        if t.sequence_number >= MAX_SEQUENCE_NUMBER:
            raise reject(ErrorKind.SequenceOverflow, f"sequence number {t.sequence_number} cannot be incremented")
        recipient = None
        if t.recipient.kind is AddressKind.FASTPAY:
            recipient = self._accounts.get(t.recipient.key)
            current = 0 if recipient is None else recipient.balance
            if t.recipient.key == t.sender:
                current -= t.amount
            if current + t.amount > I128_MAX:
                raise reject(ErrorKind.BalanceOverflow, f"crediting {t.amount} overflows balance {current}")
        # All checks passed: mutate memory and the store together.
        sender.balance -= t.amount
        sender.next_sequence_number += 1
        sender.pending = None
        self._accounts[t.sender] = sender
        self.store.put_account(t.sender, sender)
        if t.recipient.kind is AddressKind.FASTPAY:
            recipient = self._accounts.setdefault(t.recipient.key, AccountState(0, 0))
            recipient.balance += t.amount
            self.store.put_account(t.recipient.key, recipient)
        self.store.put_certificate(cert)
        self.accepted["confirmation"] += 1
        return self._info(t.sender, sender)

    # ---- account info ----

    def _info(self, address: bytes, account: AccountState) -> AccountInfoResponse:
        return AccountInfoResponse(
            sender=address,
            balance=account.balance,
            next_sequence_number=account.next_sequence_number,
            pending_confirmation=account.pending,
        )

    def _handle_info(self, request: AccountInfoRequest) -> AccountInfoResponse:
        account = self._accounts.get(request.sender)
        if account is None:
            raise reject(ErrorKind.UnknownSenderAccount, f"no account {request.sender.hex()}")
        requested = None
        if request.request_sequence_number is not None:
            requested = self.store.confirmed_certificate(request.sender, request.request_sequence_number)
            if requested is None:
                raise reject(
                    ErrorKind.CertificateNotfound,
                    f"no confirmed transfer with sequence number {request.request_sequence_number}",
                )
        received: tuple[CertifiedTransferOrder, ...] = ()
        if request.request_received_transfers_excluding_first_nth is not None:
            received = tuple(
                self.store.received_certificates(
                    request.sender, min(request.request_received_transfers_excluding_first_nth, 2**63 - 1)
                )
            )
        self.accepted["info"] += 1
        return AccountInfoResponse(
            sender=request.sender,
            balance=account.balance,
            next_sequence_number=account.next_sequence_number,
            pending_confirmation=account.pending,
            requested_certificate=requested,
            requested_received_transfers=received,
        )

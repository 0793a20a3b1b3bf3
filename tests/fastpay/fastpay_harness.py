"""A committee of real authority engines (SQLite stores on disk), some of
them Byzantine, real client engines, and a deterministic message pump
between them. Every message crosses the bincode codec on its way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from meshframes.fastpay.authority import Authority
from meshframes.fastpay.client import (
    Action,
    Certified,
    Client,
    Confirmed,
    DeliverCertificate,
    Ignored,
    RetryAt,
    SendToAuthority,
)
from meshframes.fastpay.client_store import ClientStore
from meshframes.fastpay.committee import Identity, generate_committee
from meshframes.fastpay.messages import (
    AccountInfoResponse,
    Address,
    CertifiedTransferOrder,
    ConfirmationOrder,
    ErrorKind,
    FastPayError,
    SerializedMessage,
    SignedTransferOrder,
    Transfer,
    TransferOrder,
)
from meshframes.fastpay.store import AuthorityStore
from meshframes.fastpay.wire import decode_message, encode_message, signing_bytes

BYZANTINE_MODES = ("silent", "garbage-signature", "wrong-order", "impersonate", "refuse", "sign-anything")


def wire(message: SerializedMessage) -> SerializedMessage:
    return decode_message(encode_message(message))


def sign_order(
    account: Identity, recipient: bytes, amount: int, seq: int, *, primary: bool = False
) -> TransferOrder:
    transfer = Transfer(
        sender=account.public_key,
        recipient=Address.primary(recipient) if primary else Address.fastpay(recipient),
        amount=amount,
        sequence_number=seq,
    )
    return TransferOrder(transfer=transfer, signature=account.keypair.sign(signing_bytes(transfer)))


def certify(order: TransferOrder, signers: list[Identity]) -> CertifiedTransferOrder:
    message = signing_bytes(order.transfer)
    return CertifiedTransferOrder(
        value=order, signatures=tuple((a.public_key, a.keypair.sign(message)) for a in signers)
    )


@dataclass
class ByzantineAuthority:
    """An authority that breaks the rules in one of BYZANTINE_MODES."""

    identity: Identity
    mode: str
    impersonated: bytes = b"\x00" * 32

    def handle(self, message: SerializedMessage) -> SerializedMessage | None:
        name = self.identity.public_key
        if self.mode == "silent":
            return None
        if isinstance(message, ConfirmationOrder):
            message = message.transfer_certificate
        if isinstance(message, CertifiedTransferOrder):
            if self.mode == "sign-anything":
                # Claims to have executed it, whatever it is.
                t = message.value.transfer
                return AccountInfoResponse(sender=t.sender, balance=0, next_sequence_number=t.sequence_number + 1)
            return FastPayError(kind=ErrorKind.MissingEalierConfirmations, current_sequence_number=0)
        if not isinstance(message, TransferOrder):
            return FastPayError(kind=ErrorKind.UnexpectedMessage)
        sign = self.identity.keypair.sign
        if self.mode == "garbage-signature":
            return SignedTransferOrder(value=message, authority=name, signature=bytes(64))
        if self.mode == "wrong-order":
            t = message.transfer
            other = Transfer(
                sender=t.sender, recipient=t.recipient, amount=t.amount + 1, sequence_number=t.sequence_number
            )
            forged = TransferOrder(transfer=other, signature=message.signature)
            return SignedTransferOrder(value=forged, authority=name, signature=sign(signing_bytes(other)))
        if self.mode == "impersonate":
            return SignedTransferOrder(
                value=message, authority=self.impersonated, signature=sign(signing_bytes(message.transfer))
            )
        if self.mode == "refuse":
            return FastPayError(kind=ErrorKind.InsufficientFunding, current_balance=0)
        # sign-anything: a valid vote for any order, conflicting or not.
        return SignedTransferOrder(value=message, authority=name, signature=sign(signing_bytes(message.transfer)))


@dataclass
class Outcome:
    certified: list[CertifiedTransferOrder] = field(default_factory=list)
    confirmed: list[CertifiedTransferOrder] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)


class Cluster:
    """N authorities with `weights`, one client account per balance."""

    def __init__(
        self,
        directory: Path,
        weights: list[int],
        balances: list[int],
        byzantine: dict[int, str] | None = None,
    ) -> None:
        self.dir = directory
        self.committee, self.authority_ids, self.account_ids = generate_committee(weights, balances)
        self.byzantine: dict[bytes, ByzantineAuthority] = {}
        self.honest: dict[bytes, Authority] = {}
        names = [a.public_key for a in self.authority_ids]
        for i, ident in enumerate(self.authority_ids):
            mode = (byzantine or {}).get(i)
            if mode is None:
                self.honest[ident.public_key] = self._open_authority(ident)
            else:
                other = names[(i + 1) % len(names)]
                self.byzantine[ident.public_key] = ByzantineAuthority(ident, mode, other)
        self.clients: dict[bytes, Client] = {}
        self.now = 0.0
        # Hook: called with (authority name, message) before delivery;
        # returns False to drop the message (a crash point).
        self.deliver_filter: Callable[[bytes, SerializedMessage], bool] = lambda name, message: True

    def _open_authority(self, ident: Identity) -> Authority:
        store = AuthorityStore(self.dir / f"authority-{ident.public_key[:4].hex()}.db", self.committee)
        return Authority(ident.keypair, self.committee, store)

    def restart(self, name: bytes) -> None:
        """Crash an honest authority (its memory is lost) and start it again
        from its store."""
        old = self.honest[name]
        old.store.close()
        ident = next(a for a in self.authority_ids if a.public_key == name)
        self.honest[name] = self._open_authority(ident)

    def client(self, index: int) -> Client:
        ident = self.account_ids[index]
        if ident.public_key not in self.clients:
            self.clients[ident.public_key] = self._open_client(index)
        return self.clients[ident.public_key]

    def _open_client(self, index: int) -> Client:
        ident = self.account_ids[index]
        balance = self.committee.accounts[index].balance
        store = ClientStore(self.dir / f"client-{index}.db", ident.public_key, balance)
        return Client(ident.keypair, self.committee, store)

    def restart_client(self, index: int) -> Client:
        ident = self.account_ids[index]
        self.clients.pop(ident.public_key).store.close()
        return self.client(index)

    def ask(self, name: bytes, message: SerializedMessage) -> SerializedMessage | None:
        if name in self.byzantine:
            reply = self.byzantine[name].handle(wire(message))
        else:
            reply = self.honest[name].handle(wire(message))
        return None if reply is None else wire(reply)

    def run(self, client: Client, actions: list[Action], max_rounds: int = 40) -> Outcome:
        """Pump messages until the client has nothing left to do; timers fire
        (virtual time jumps) whenever the queue runs dry."""
        outcome = Outcome()
        queue = list(actions)
        deadline: float | None = None
        for _ in range(max_rounds):
            while queue:
                action = queue.pop(0)
                if isinstance(action, SendToAuthority):
                    if not self.deliver_filter(action.authority, action.message):
                        continue
                    reply = self.ask(action.authority, action.message)
                    if reply is not None:
                        queue.extend(client.receive(action.authority, reply, self.now))
                elif isinstance(action, RetryAt):
                    deadline = action.deadline
                elif isinstance(action, DeliverCertificate):
                    recipient = self.clients.get(action.recipient)
                    if recipient is not None:
                        recipient.receive_certificate(wire(action.certificate))  # type: ignore[arg-type]
                elif isinstance(action, Certified):
                    outcome.certified.append(action.certificate)
                elif isinstance(action, Confirmed):
                    outcome.confirmed.append(action.certificate)
                    deadline = None
                elif isinstance(action, Ignored):
                    outcome.ignored.append(action)
            if deadline is None:
                return outcome
            self.now = max(self.now, deadline)
            queue.extend(client.on_timer(self.now))
        return outcome

    def total_money(self) -> int:
        return sum(a.balance for a in self.committee.accounts)


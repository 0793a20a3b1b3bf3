"""A FastPay authority on the mesh: its engine (meshframes.fastpay.authority,
state on SQLite) answers orders, confirmations and account info requests
that arrive through the node, each reply going back to the station that
asked (sealed for the identity that sealed the request).

An authority needs no identity for whoever asks: FastPay orders and
certificates carry their own signatures, and info requests are public in
FastPay. It takes only what authorities take (types 1, 4, 5) and refuses
the rest as unexpected.
"""

from __future__ import annotations

from meshframes.fastpay.authority import Authority, AuthorityFailed
from meshframes.fastpay.committee import Committee
from meshframes.fastpay.ed25519 import KeyPair
from meshframes.fastpay.messages import (
    AccountInfoRequest,
    ConfirmationOrder,
    TransferOrder,
)
from meshframes.fastpay.store import AuthorityStore

from .errors import AppRefusal, Reason
from .events import AppAction, Handled
from .framing import AppMessage
from .party import AppConfig, Party


class AuthorityNode(Party):
    def __init__(self, keypair: KeyPair, committee: Committee, store: AuthorityStore, mac: bytes,
                 config: AppConfig | None = None, *, e2e_sequence: int | None = None) -> None:
        super().__init__(keypair, committee, mac, committee.weight(keypair.public_key), config,
                         e2e_sequence=e2e_sequence)
        self.engine = Authority(keypair, committee, store)

    def _on_message(self, identity: bytes | None, source: bytes, message: AppMessage,
                    now: float) -> list[AppAction]:
        seq: int | None
        if isinstance(message, TransferOrder):
            sender, seq = message.transfer.sender, message.transfer.sequence_number
        elif isinstance(message, ConfirmationOrder):
            t = message.transfer_certificate.value.transfer
            sender, seq = t.sender, t.sequence_number
        elif isinstance(message, AccountInfoRequest):
            sender, seq = message.sender, message.request_sequence_number
        else:
            raise AppRefusal(Reason.UNEXPECTED_MESSAGE, f"an authority does not take {type(message).__name__}")
        try:
            processed = self.engine.process(message)
        except AuthorityFailed as failure:
            # Its memory is ahead of its disk: it must not answer anyone
            # until it is rebuilt from its store (by restarting the node).
            raise AppRefusal(Reason.AUTHORITY_FAILED, str(failure)) from None
        actions: list[AppAction] = [Handled(now, processed.outcome, sender, seq)]
        if processed.reply is not None:
            # Sealed for whoever sealed the request, announced or not yet:
            # a client the authority has not heard announce gets its vote.
            actions += self._send_to_mac(source, processed.reply, now, identity)
        return actions

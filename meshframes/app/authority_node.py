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

from collections import OrderedDict

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

# Stations whose last reply is kept for a resend when its path ends: the
# clients of one busy authority's last few hundred milliseconds.
REPLIES_KEPT = 64
# Stations whose path is remembered, to tell a path that appears from one
# that is renewed: more than a mesh's stations, the oldest forgotten first.
PATHS_KEPT = 4096


class AuthorityNode(Party):
    def __init__(self, keypair: KeyPair, committee: Committee, store: AuthorityStore, mac: bytes,
                 config: AppConfig | None = None, *, e2e_sequence: int | None = None) -> None:
        super().__init__(keypair, committee, mac, committee.weight(keypair.public_key), config,
                         e2e_sequence=e2e_sequence)
        self.engine = Authority(keypair, committee, store)
        # The last reply to each station, with the identity it was sealed
        # for and when it left: sent again once if the mesh's path to that
        # station ends soon after (the reply went down with it).
        self._last_reply: OrderedDict[bytes, tuple[AppMessage, bytes | None, float]] = OrderedDict()
        # Station -> when the mesh last renewed our path to it.
        self._path_seen: OrderedDict[bytes, float] = OrderedDict()

    def on_path(self, station: bytes, reachable: bool, now: float) -> list[AppAction]:
        """The path a reply just took ended (an MPDU on it failed all the
        MAC's retries, or a PERR came): the reply was most likely lost with
        it, so it goes again, once, and waits in the mesh while HWMP finds
        a new path. Without this the client's next resend, up to its retry
        interval later, is what brings the stored vote back."""
        if reachable:
            return self._path_appeared(station, now)
        self._path_seen.pop(station, None)
        held = self._last_reply.pop(station, None)
        if held is None:
            return []
        reply, identity, sent_at = held
        if now - sent_at > self.config.retry_interval:
            return []
        return self._send_to_mac(station, reply, now, identity)

    def _path_appeared(self, station: bytes, now: float) -> list[AppAction]:
        """A path to `station` that had ended, or had not been renewed for
        an announcement interval, is there again: the station may have
        missed every flooded announcement while it was cut off, and a
        client sends nothing to an authority it has not heard announce.
        Our announcement goes to it individually addressed (once per
        appearance, `AppConfig.announce_on_new_path`) rather than at the
        next flood."""
        last = self._path_seen.pop(station, None)
        self._path_seen[station] = now
        if len(self._path_seen) > PATHS_KEPT:
            self._path_seen.popitem(last=False)
        if not self.config.announce_on_new_path or (
                last is not None and now - last <= self.config.authority_announce_interval):
            return []
        return self._announce_to(station)

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
            self._last_reply[source] = (processed.reply, identity, now)
            self._last_reply.move_to_end(source)
            if len(self._last_reply) > REPLIES_KEPT:
                self._last_reply.popitem(last=False)
        return actions

"""What authorities and clients share on the mesh: announcing themselves,
discovering the others, turning deliveries into messages (refusing and
counting bad ones), and sending to identities rather than MACs, holding
messages for parties not yet discovered.

Payloads come from the mesh as `Deliver` and go to it as `SendPayload`;
the party's `Transport` fragments, seals, opens and reassembles between
the two. A subclass handles checked messages in `_on_message(identity,
source, message, now)`; `identity` is who sent it as far as we can tell:
the identity whose end-to-end seal the transport opened (proven), else
the identity announced at the source MAC (believed), else None.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass

from meshframes.codec.header import BROADCAST
from meshframes.fastpay.committee import Committee
from meshframes.fastpay.ed25519 import KeyPair
from meshframes.fastpay.messages import AuthorityAnnouncement
from meshframes.mesh.events import Deliver, SetTimer, TimerKey
from meshframes.seal.e2e import E2EIdentity, E2ESealer, x25519_public_key

from .directory import Directory
from .errors import AppRefusal, Reason
from .events import AppAction, Discovered, MessageRefused
from .framing import AppMessage, frame_message, parse_message
from .transport import Dropped, Received, Transport, TransportConfig

TIMER_ANNOUNCE: TimerKey = ("announce",)
TIMER_REASSEMBLY: TimerKey = ("reassembly",)


@dataclass(frozen=True, slots=True)
class AppConfig:
    # End-to-end sealing between parties (docs/sealing.md); off only for
    # experiments and interop with unsealed peers.
    seal: bool = True
    # Flooded announcements: the first after peering had a beacon interval
    # to form, then periodically for late joiners and healed partitions.
    first_announce: float = 1.5
    announce_interval: float = 3.0
    # The first announcements of parties started together are spread over
    # this much time, by identity (None: half the announce interval).
    first_announce_spread: float | None = None
    # Authorities announce more often: a client cannot send to an authority
    # whose announcement it has not heard (nothing else binds the identity
    # to a station), so after a partition heals the wait for one is the
    # wait for the transfer.
    authority_announce_interval: float = 1.0
    # An authority also announces itself, individually addressed, to a
    # station whose path appears (AuthorityNode.on_path): what a station
    # back from a partition waits for is otherwise the next flood.
    announce_on_new_path: bool = True
    # Messages held per undiscovered party (the oldest goes first).
    queue_limit: int = 32
    # Client retries (FastPay client engine) and certificate hand-over; a
    # certificate still without a receipt after `delivery_attempts` timed
    # tries is resent only when its recipient is heard again.
    retry_interval: float = 0.5
    max_retry_interval: float = 8.0
    delivery_attempts: int = 8
    # A recipient pushes the certificates credited to it to the authorities
    # that have not acknowledged them, the first time this long after the
    # credit (the payer's confirmations are usually done by then), then
    # backing off as the retries do, and whenever such an authority is heard
    # (None: a recipient never pushes, as FastPay's own clients do not).
    push_delay: float | None = 2.0
    # How long a binding confirmed by a sealed frame outranks announcements.
    authenticated_ttl: float = 30.0
    # Fragmentation and reassembly (meshframes.app.transport).
    transport: TransportConfig = TransportConfig()


class Party:
    def __init__(self, keypair: KeyPair, committee: Committee, mac: bytes, weight: int,
                 config: AppConfig | None = None, *, e2e_sequence: int | None = None) -> None:
        """`e2e_sequence`: the first end-to-end sequence number to seal
        with; it must exceed every one this identity ever used (the host
        passes the time in microseconds, or what it persisted), and is
        needed only when the party seals (`config.seal`)."""
        self.keypair = keypair
        self.identity = keypair.public_key
        self.committee = committee
        self.mac = mac
        self.config = config = config or AppConfig()
        self.directory = Directory(committee, self.identity, config.authenticated_ttl)
        self.announcement = AuthorityAnnouncement(
            name=self.identity, weight=weight,
            e2e_key=committee.announcement(self.identity).e2e_key if weight else x25519_public_key(self.identity),
            committee_id=committee.committee_id,
        )
        sealer = None
        if config.seal:
            if e2e_sequence is None:
                raise ValueError("a sealing party needs its first end-to-end sequence number (e2e_sequence)")
            sealer = E2ESealer(E2EIdentity(keypair.seed), initial_sequence=e2e_sequence)
        self.transport = Transport(mac, sealer, self.directory, config.transport)
        self.refused: Counter[str] = Counter()
        self._announce_interval = config.authority_announce_interval if weight else config.announce_interval
        self._waiting: dict[bytes, deque[tuple[int, bytes]]] = {}

    # -- inputs --------------------------------------------------------------

    def start(self, now: float) -> list[AppAction]:
        # Stagger first announcements by identity so parties started together
        # do not flood at the same instant; deterministic, no RNG needed.
        spread = self.config.first_announce_spread
        jitter = self.identity[0] / 256 * (self.config.announce_interval / 2 if spread is None else spread)
        return [SetTimer(TIMER_ANNOUNCE, now + self.config.first_announce + jitter)]

    def on_deliver(self, delivery: Deliver, now: float) -> list[AppAction]:
        """One payload the mesh delivered: through the transport, and once
        a message is whole, to `on_message`."""
        got = self.transport.receive(delivery, now)
        if isinstance(got, Received):
            return self.on_message(got.source, got.msg_type, got.message, now, got.sealed_by)
        if got is None:
            deadline = self.transport.next_deadline()
            return [] if deadline is None else [SetTimer(TIMER_REASSEMBLY, deadline)]
        return []

    def on_message(self, source: bytes, msg_type: int, payload: bytes, now: float,
                   sealed_by: bytes | None = None) -> list[AppAction]:
        """A whole FastPay message from the station `source`: `sealed_by`
        is the identity whose seal the transport opened on all of it (None:
        not sealed end to end)."""
        try:
            return self._deliver(source, msg_type, payload, now, sealed_by)
        except AppRefusal as refusal:
            return [self._refuse(refusal, now, source)]

    def on_path(self, station: bytes, reachable: bool, now: float) -> list[AppAction]:
        """The mesh's path to `station` appeared or changed (`reachable`),
        or ended: a frame on it was lost, a PERR came, or discovery gave
        up. Only stations an announcement bound to an identity matter."""
        identity = self.directory.identity_of(station)
        if identity is None:
            return []
        return self._path_changed(identity, reachable, now)

    def on_timer(self, key: TimerKey, now: float) -> list[AppAction]:
        if key == TIMER_ANNOUNCE:
            return self._send_to_mac(BROADCAST, self.announcement, now) + [
                SetTimer(TIMER_ANNOUNCE, now + self._announce_interval)]
        if key == TIMER_REASSEMBLY:
            self.transport.expire(now)
            deadline = self.transport.next_deadline()
            return [] if deadline is None else [SetTimer(TIMER_REASSEMBLY, deadline)]
        return self._on_timer(key, now)

    # -- for subclasses -----------------------------------------------------

    def _on_message(self, identity: bytes | None, source: bytes, message: AppMessage,
                    now: float) -> list[AppAction]:
        raise NotImplementedError

    def _on_timer(self, key: TimerKey, now: float) -> list[AppAction]:
        return [self._refuse(AppRefusal(Reason.UNKNOWN_TIMER, repr(key)), now)]

    def _send(self, identity: bytes, message: AppMessage, now: float) -> list[AppAction]:
        """Send to a party by identity; held until it is discovered."""
        mac = self.directory.mac_of(identity)
        if mac is not None:
            return self._send_to_mac(mac, message, now)
        msg_type, payload = frame_message(message)
        queue = self._waiting.setdefault(identity, deque())
        if (msg_type, payload) in queue:
            return []  # a retry of what already waits: it leaves once, on discovery
        actions: list[AppAction] = []
        if len(queue) >= self.config.queue_limit:
            queue.popleft()
            actions.append(self._refuse(AppRefusal(Reason.DISCOVERY_QUEUE_OVERFLOW,
                                                   f"{identity[:4].hex()} not discovered yet"), now))
        queue.append((msg_type, payload))
        return actions

    def _send_to_mac(self, mac: bytes, message: AppMessage, now: float,
                     reply_to: bytes | None = None) -> list[AppAction]:
        """Send to a station; `reply_to`: the identity whose sealed request
        came from it, the one to seal the answer for."""
        msg_type, payload = frame_message(message)
        return self._send_bytes(mac, msg_type, payload, now, reply_to)

    def _announce_to(self, mac: bytes) -> list[AppAction]:
        """Our announcement to one station, in the clear as the floods
        carry it: the station need not have announced itself to us."""
        msg_type, payload = frame_message(self.announcement)
        sent = self.transport.send(mac, msg_type, payload, public=True)
        return [] if isinstance(sent, Dropped) else list(sent)

    def _refuse(self, refusal: AppRefusal, now: float, source: bytes | None = None) -> MessageRefused:
        self.refused[refusal.reason] += 1
        return MessageRefused(now, refusal.reason, refusal.detail, source)

    # -- internals -----------------------------------------------------------

    def _send_bytes(self, mac: bytes, msg_type: int, payload: bytes, now: float,
                    reply_to: bytes | None = None) -> list[AppAction]:
        sent = self.transport.send(mac, msg_type, payload, reply_to)
        return [] if isinstance(sent, Dropped) else list(sent)

    def _deliver(self, source: bytes, msg_type: int, payload: bytes, now: float,
                 sealed_by: bytes | None) -> list[AppAction]:
        message = parse_message(msg_type, payload)
        if isinstance(message, AuthorityAnnouncement):
            return self._on_announcement(source, message, now)
        if self.config.seal and sealed_by is None:
            raise AppRefusal(Reason.E2E_REQUIRED, f"{type(message).__name__} from {source.hex(':')} in the clear")
        identity = sealed_by if sealed_by is not None else self.directory.identity_of(source)
        return self._on_message(identity, source, message, now)

    def _on_announcement(self, source: bytes, announcement: AuthorityAnnouncement, now: float) -> list[AppAction]:
        actions: list[AppAction] = []
        released: list[AppAction] = []
        if self.directory.on_announcement(source, announcement, now):
            actions.append(Discovered(now, announcement.name, source, announcement.weight))
            released = self._release(announcement.name, now)
        # A flooded announcement just crossed the mesh from that party: a
        # path to it exists now, whatever our retry timers think.
        return actions + released + self._heard(announcement.name, now, bool(released))

    def _heard(self, identity: bytes, now: float, released: bool) -> list[AppAction]:
        """Hook: `identity`'s announcement reached us (it is reachable);
        `released`: what waited for its discovery has just left."""
        return []

    def _path_changed(self, identity: bytes, reachable: bool, now: float) -> list[AppAction]:
        """Hook: the mesh's path to `identity`'s station appeared or ended."""
        return []

    def _release(self, identity: bytes, now: float) -> list[AppAction]:
        """Send what waited for `identity`, now that its announcement told
        us where it is."""
        mac = self.directory.mac_of(identity)
        if mac is None:
            return []
        actions: list[AppAction] = []
        for msg_type, payload in self._waiting.pop(identity, ()):
            actions += self._send_bytes(mac, msg_type, payload, now)
        return actions

"""What authorities and clients share on the mesh: announcing themselves,
discovering the others, turning deliveries into messages (refusing and
counting bad ones), and sending to identities rather than MACs, holding
messages for parties not yet discovered.

A subclass handles checked messages in `_on_message(identity, source,
message, now)`; `identity` is who sent it as far as we can tell: the
sealer the e2e layer verified for an end-to-end sealed message (proven,
`Deliver.sealed_by`), else the identity announced at the source MAC
(believed), else None.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass

from meshframes.codec.fastpay import FLAG_E2E_SEALED
from meshframes.codec.header import BROADCAST
from meshframes.fastpay.committee import Committee
from meshframes.fastpay.ed25519 import KeyPair
from meshframes.fastpay.messages import AuthorityAnnouncement
from meshframes.seal.e2e import SEALED_OVERHEAD, x25519_public_key

from .directory import Directory
from .errors import AppRefusal, Reason
from .events import AppAction, Discovered, Refused, SendMessage, SetTimer, TimerKey
from .framing import AppMessage, frame_message, parse_message

TIMER_ANNOUNCE: TimerKey = ("announce",)


@dataclass(frozen=True, slots=True)
class AppConfig:
    # End-to-end sealing between parties (docs/sealing.md); off only for
    # experiments and interop with unsealed peers.
    seal: bool = True
    # Flooded announcements: the first after peering had a beacon interval
    # to form, then periodically for late joiners and healed partitions.
    first_announce: float = 1.5
    announce_interval: float = 3.0
    # Messages held per undiscovered party (the oldest goes first).
    queue_limit: int = 32
    # Client retries (FastPay client engine) and certificate hand-over; a
    # certificate still without a receipt after `delivery_attempts` timed
    # tries is resent only when its recipient is heard again.
    retry_interval: float = 0.5
    max_retry_interval: float = 8.0
    delivery_attempts: int = 8
    # How long a binding confirmed by a sealed frame outranks announcements.
    authenticated_ttl: float = 30.0


class Party:
    def __init__(self, keypair: KeyPair, committee: Committee, mac: bytes, weight: int,
                 config: AppConfig | None = None) -> None:
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
        self.refused: Counter[str] = Counter()
        self._waiting: dict[bytes, deque[tuple[int, bytes]]] = {}

    # -- inputs --------------------------------------------------------------

    def start(self, now: float) -> list[AppAction]:
        # Stagger first announcements by identity so parties started together
        # do not flood at the same instant; deterministic, no RNG needed.
        jitter = self.identity[0] / 256 * self.config.announce_interval / 2
        return [SetTimer(TIMER_ANNOUNCE, now + self.config.first_announce + jitter)]

    def on_deliver(self, source: bytes, msg_type: int, flags: int, payload: bytes, now: float,
                   sealed_by: bytes | None = None) -> list[AppAction]:
        """A whole FastPay message the node delivered: `sealed_by` is the
        identity whose seal our e2e layer opened on all of it (None: not
        sealed end to end); `flags` as delivered, bit 0 set only if the
        air said "sealed" and no e2e layer of ours opened it."""
        try:
            return self._deliver(source, msg_type, flags, payload, now, sealed_by)
        except AppRefusal as refusal:
            return [self._refuse(refusal, now, source)]

    def on_timer(self, key: TimerKey, now: float) -> list[AppAction]:
        if key == TIMER_ANNOUNCE:
            return self._send_to_mac(BROADCAST, self.announcement, now) + [
                SetTimer(TIMER_ANNOUNCE, now + self.config.announce_interval)]
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

    def _send_to_mac(self, mac: bytes, message: AppMessage, now: float) -> list[AppAction]:
        msg_type, payload = frame_message(message)
        return self._send_bytes(mac, msg_type, payload, now)

    def _refuse(self, refusal: AppRefusal, now: float, source: bytes | None = None) -> Refused:
        self.refused[str(refusal.reason)] += 1
        return Refused(now, str(refusal.reason), refusal.detail, source)

    # -- internals -----------------------------------------------------------

    def _send_bytes(self, mac: bytes, msg_type: int, payload: bytes, now: float) -> list[AppAction]:
        # Every unicast fragment gets its own end-to-end seal below the node:
        # leave room for it in each frame.
        sealed = self.config.seal and mac != BROADCAST
        return [SendMessage(mac, msg_type, payload, SEALED_OVERHEAD if sealed else 0)]

    def _deliver(self, source: bytes, msg_type: int, flags: int, payload: bytes, now: float,
                 sealed_by: bytes | None) -> list[AppAction]:
        if flags & FLAG_E2E_SEALED:
            # Our e2e layer opens every sealed frame it lets through to us
            # and clears the bit: this one never passed through one.
            raise AppRefusal(Reason.E2E_NOT_OPENED, f"message type {msg_type} from {source.hex(':')}")
        message = parse_message(msg_type, payload)
        if isinstance(message, AuthorityAnnouncement):
            return self._on_announcement(source, message, now)
        if self.config.seal and sealed_by is None:
            raise AppRefusal(Reason.E2E_REQUIRED, f"{type(message).__name__} from {source.hex(':')} in the clear")
        identity = sealed_by if sealed_by is not None else self.directory.identity_of(source)
        return self._on_message(identity, source, message, now)

    def _on_announcement(self, source: bytes, announcement: AuthorityAnnouncement, now: float) -> list[AppAction]:
        actions: list[AppAction] = []
        if self.directory.on_announcement(source, announcement, now):
            actions.append(Discovered(now, announcement.name, source, announcement.weight))
            actions += self._release(announcement.name, now)
        # A flooded announcement just crossed the mesh from that party: a
        # path to it exists now, whatever our retry timers think.
        return actions + self._heard(announcement.name, now)

    def _heard(self, identity: bytes, now: float) -> list[AppAction]:
        """Hook: `identity`'s announcement reached us (it is reachable)."""
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

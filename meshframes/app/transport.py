"""FastPay messages over the mesh: what a party hands the mesh and takes
from it (docs/app.md, "Transport"; docs/sealing.md, "End to end").

The mesh carries one `FastPayFragment` per vendor frame and never reads
it. This layer, above the mesh, does what a message needs on its way:

- out: a message is cut into fragments (meshframes.codec.fastpay); each
  fragment of a unicast message is sealed end to end on its own for the
  identity the `Directory` binds to its destination, and the sealed flag
  set. A message for a station with no identity known is refused and
  counted (`e2e-no-identity`), never sent in the clear. Group messages
  (announcements) go unsealed: end-to-end keys are pairwise.
- in: a sealed fragment is opened and handed on with the identity that
  sealed it, so "sealed" never rests on flags bit 0, which anyone can set
  on the air. A sealed fragment that reached us group addressed is
  refused (`e2e-sealed-group`), and so is one sealed by an identity other
  than the one the directory holds for its mesh SA
  (`e2e-sender-not-at-source`): the sealer chooses the mesh SA it seals,
  so an opened fragment proves who sealed it, not where that party is; it
  only confirms a binding an announcement made. One from a station no
  announcement bound yet is delivered under its sealer's identity and
  counted in `unannounced`.
- reassembly: fragments are collected per origin, the mesh SA and, for
  sealed ones, the identity that sealed them: fragments sealed by
  different parties, or a cleartext one among sealed ones, never complete
  each other. No origin holds more than `reassembly_max_per_source` sets,
  and cleartext sets (anyone can send them under any mesh SA) at most half
  the table, so they cannot lock sealed messages out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

from meshframes.codec.errors import EncodeError
from meshframes.codec.fastpay import (
    FLAG_E2E_SEALED,
    MAX_FRAGMENT_PAYLOAD,
    FastPayFragment,
    Reassembled,
    Reassembler,
    fragment,
)
from meshframes.codec.header import is_group
from meshframes.mesh.events import Deliver
from meshframes.seal.e2e import SEALED_OVERHEAD, E2ESealer
from meshframes.seal.errors import E2EError

from .directory import Directory
from .errors import Reason
from .events import SendPayload


class TransportRefusal(StrEnum):
    """Why the transport dropped a fragment or a message (counted)."""

    E2E_NO_IDENTITY = "e2e-no-identity"
    E2E_SEALED_GROUP = "e2e-sealed-group"
    E2E_SENDER_NOT_AT_SOURCE = "e2e-sender-not-at-source"
    MESSAGE_TOO_LARGE = "message-too-large"
    REASSEMBLY_SOURCE_LIMIT = "reassembly-source-limit"
    REASSEMBLY_CLEARTEXT_LIMIT = "reassembly-cleartext-limit"
    REASSEMBLY_TIMEOUT = "reassembly-timeout"


@dataclass(frozen=True, slots=True)
class Received:
    """A whole message from `source` (mesh SA). `sealed_by`: the identity
    whose end-to-end seal was opened on every fragment of it, None if none
    was sealed."""

    source: bytes
    msg_type: int
    message: bytes
    sealed_by: bytes | None


@dataclass(frozen=True, slots=True)
class Dropped:
    """A fragment or message the transport did not pass on, and why."""

    reason: StrEnum
    detail: str = ""


@dataclass(frozen=True, slots=True)
class TransportConfig:
    # Largest FastPay payload per frame: a management frame body's 2304
    # octets less our headers (MAX_FRAGMENT_PAYLOAD) on radios; lower where
    # the link's MTU is smaller (the kernel mesh interface: 1500).
    max_fragment_payload: int = MAX_FRAGMENT_PAYLOAD
    reassembly_timeout: float = 2.0
    # Fragmented messages pending at once per origin (mesh SA, and sealer
    # when sealed end to end): a sender has a few in flight (a reply, a
    # retry), so anyone's fill-up of the table under one origin stops here.
    reassembly_max_per_source: int = 8
    reassembly_max_pending: int = 256


class Transport:
    def __init__(self, mac: bytes, sealer: E2ESealer | None, directory: Directory,
                 config: TransportConfig | None = None) -> None:
        """`sealer`: our end-to-end sealing; None for a party that neither
        seals nor opens (sealed fragments are then refused)."""
        self.mac = mac
        self.sealer = sealer
        self.directory = directory
        self.config = config = config or TransportConfig()
        self.reassembler = Reassembler(config.reassembly_timeout, config.reassembly_max_pending)
        self.message_id = 0
        # Message ids of the fragment sets pending in the reassembler, by
        # origin (mesh SA, sealer), for the per-origin and cleartext limits.
        self._pending_sets: dict[tuple[bytes, bytes | None], set[int]] = {}
        self.dropped: Counter[str] = Counter()
        self.sealed = 0
        self.opened = 0
        self.unannounced = 0

    # -- out -----------------------------------------------------------------

    def send(self, destination: bytes, msg_type: int, message: bytes,
             reply_to: bytes | None = None, *, public: bool = False) -> list[SendPayload] | Dropped:
        """The fragments that carry `message` to `destination`, each sealed
        when the destination is one station and we seal: for the identity
        the directory binds to it, or for `reply_to`, the identity whose
        seal a request from `destination` opened under. The seal bound that
        request to its mesh SA, so the answer can go back there before any
        announcement of the asker has reached us. `public`: a message that
        is flooded in the clear anyway (an announcement) goes unsealed to
        one station too, whoever is there."""
        seal_for = None
        if self.sealer is not None and not is_group(destination) and not public:
            seal_for = reply_to or self.directory.identity_of(destination)
            if seal_for is None:
                return self._drop(TransportRefusal.E2E_NO_IDENTITY, destination.hex(":"))
        room = min(self.config.max_fragment_payload, MAX_FRAGMENT_PAYLOAD)
        if seal_for is not None:
            room -= SEALED_OVERHEAD
        try:
            parts = fragment(message, room)
        except EncodeError as error:
            return self._drop(TransportRefusal.MESSAGE_TOO_LARGE, str(error))
        self.message_id = (self.message_id + 1) & 0xFFFF
        out: list[SendPayload] = []
        for number, part in enumerate(parts):
            payload = FastPayFragment(msg_type, 0, self.message_id, number, len(parts), part)
            if seal_for is not None:
                assert self.sealer is not None
                try:
                    payload = self.sealer.seal_fragment(seal_for, payload, destination, self.mac)
                except E2EError as error:
                    return Dropped(error.reason, str(error))  # counted by the sealer in `tx_refused`
            out.append(SendPayload(destination, payload))
        if seal_for is not None:
            self.sealed += len(out)
        return out

    # -- in ------------------------------------------------------------------

    def receive(self, delivery: Deliver, now: float) -> Received | Dropped | None:
        """Take one fragment the mesh delivered: the whole message once
        complete, why it was dropped, or None while its set waits for more."""
        payload, source = delivery.payload, delivery.source
        sealed_by = None
        if payload.flags & FLAG_E2E_SEALED:
            if self.sealer is None:
                return self._drop(Reason.E2E_NOT_OPENED, f"message type {payload.msg_type} from {source.hex(':')}")
            if delivery.group:
                return self._drop(TransportRefusal.E2E_SEALED_GROUP, f"from {source.hex(':')}")
            try:
                sealed_by, payload = self.sealer.open_fragment(payload, delivery.destination, source)
            except E2EError as error:
                return Dropped(error.reason, str(error))  # counted by the sealer in `rejected`
            held = self.directory.identity_of(source)
            if held is not None and held != sealed_by:
                return self._drop(TransportRefusal.E2E_SENDER_NOT_AT_SOURCE,
                                  f"sealed by {sealed_by[:4].hex()}, but {source.hex(':')} is {held[:4].hex()}")
            self.opened += 1
            if not self.directory.confirm_sealed(sealed_by, source, now):
                self.unannounced += 1
        return self._reassemble(source, payload, sealed_by, now)

    def expire(self, now: float) -> list[Dropped]:
        """Drop the fragment sets not complete by their deadline."""
        dropped = []
        for key, message_id in self.reassembler.expire(now):
            source, sealer = key[:6], key[6:] or None
            self._forget_set((source, sealer), message_id)
            dropped.append(self._drop(TransportRefusal.REASSEMBLY_TIMEOUT, f"{source.hex(':')} message {message_id}"))
        return dropped

    def next_deadline(self) -> float | None:
        return self.reassembler.next_deadline()

    def refusals(self) -> Counter[str]:
        """Everything refused, receive and transmit, by reason."""
        total: Counter[str] = Counter(self.dropped)
        if self.sealer is not None:
            total.update({str(k): v for k, v in self.sealer.rejected.items()})
            total.update({str(k): v for k, v in self.sealer.tx_refused.items()})
        return total

    # -- internals -----------------------------------------------------------

    def _drop(self, reason: StrEnum, detail: str) -> Dropped:
        self.dropped[reason] += 1
        return Dropped(reason, detail)

    def _reassemble(self, source: bytes, payload: FastPayFragment, sealed_by: bytes | None,
                    now: float) -> Received | Dropped | None:
        origin = (source, sealed_by)
        key = source + (sealed_by or b"")
        described = f"{source.hex(':')} message {payload.message_id}"
        pending = self._pending_sets.get(origin, set())
        if payload.fragment_count > 1 and payload.message_id not in pending:
            refusal = self._refuse_new_set(pending, sealed_by)
            if refusal is not None:
                return self._drop(refusal, described)
        got = self.reassembler.add(key, payload.message_id, payload.msg_type, payload.flags,
                                   payload.fragment_number, payload.fragment_count, payload.data, now)
        if isinstance(got, Reassembled):
            self._forget_set(origin, payload.message_id)
            return Received(source, got.msg_type, got.message, sealed_by)
        if got is None:
            self._pending_sets.setdefault(origin, set()).add(payload.message_id)
            return None
        return self._drop(got, described)

    def _refuse_new_set(self, pending: set[int], sealed_by: bytes | None) -> TransportRefusal | None:
        if len(pending) >= self.config.reassembly_max_per_source:
            return TransportRefusal.REASSEMBLY_SOURCE_LIMIT
        if sealed_by is None:
            cleartext = sum(len(ids) for (_, sealer), ids in self._pending_sets.items() if sealer is None)
            if cleartext >= self.reassembler.max_pending // 2:
                return TransportRefusal.REASSEMBLY_CLEARTEXT_LIMIT
        return None

    def _forget_set(self, origin: tuple[bytes, bytes | None], message_id: int) -> None:
        ids = self._pending_sets.get(origin)
        if ids is not None:
            ids.discard(message_id)
            if not ids:
                del self._pending_sets[origin]

"""End-to-end sealing of FastPay payloads between a client and an authority.

CCMP protects each hop, but every relay opens and re-seals the frame, so a
relay could read or change a payment. This layer protects the FastPay
payload from the client to the authority (and back) so that relays forward
what they can neither read nor alter, re-route or re-play undetected.

Keys. A party's identity is its FastPay Ed25519 public key (an account's
`sender`, an authority's `name`). Its X25519 key is the same key mapped to
Montgomery form (RFC 7748 / libsodium's ed25519 -> curve25519 conversion),
so nothing beyond the identity needs to be published or trusted: an
announced `e2e_key` can be checked with `x25519_public_key(name)`. Both ends
compute Z = X25519(own, peer) and derive one AES-128 key per direction:

    key(S -> R) = HKDF-SHA-256(Z, salt = "meshframes/e2e/v1",
                               info = "S->R" || identity(S) || identity(R))[:16]

so the key is bound to both identities and to the direction. Someone who
names identity S without S's private key derives a different key: a forged
sender fails authentication, and so does a message re-routed to another
authority.

Sealing. AES-128-CCM with a 16-octet tag (not CCMP's 8: these keys live as
long as the identities and guard money, and the 8 octets are small next to
a 2304-octet frame) and a 13-octet nonce holding the sender's 64-bit
sequence number, big-endian. The sealed payload is

    sender identity (32) | sequence number (u64 LE) | ciphertext | tag (16)

and the CCM associated data is the FastPay header (version, message type,
flags with bit 0 set, message id LE16, fragment number, fragment count), the
end-to-end destination and source MAC (A5/A6 of the Mesh Control field, or
A1/A2 of a single-hop frame), then the sender identity and sequence number.
Each fragment is sealed on its own, so a receiver rejects a forged fragment
before it reaches reassembly.

Freshness. One sequence number per sender, shared by all its peers and never
repeated: the caller starts it from a clock (microseconds since the epoch,
as WireGuard's handshake timestamps do) or from persisted state, so a
restarted node does not reuse a nonce. Each receiver keeps a window per
sender; a window exists only once that sender authenticated, so junk
cannot fill memory.
"""

from __future__ import annotations

import struct
from collections import Counter, OrderedDict
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from meshframes.codec.fastpay import (
    E2E_TAG_LEN,
    FLAG_E2E_SEALED,
    IDENTITY_LEN,
    SEALED_HEADER_LEN,
    SEALED_OVERHEAD,
    FastPayFragment,
)
from meshframes.fastpay import ed25519
from meshframes.seal.errors import (
    AlreadySealed,
    BadIdentity,
    E2EAuthFailure,
    E2EError,
    E2EReplayed,
    E2ETooOld,
    NotSealed,
    SealedTooShort,
    SealReason,
    SequenceExhausted,
)
from meshframes.seal.replay import ReplayWindow, Verdict

E2E_KEY_LEN = 16
SEQUENCE_MAX = (1 << 64) - 1
HKDF_SALT = b"meshframes/e2e/v1"
DEFAULT_REPLAY_WINDOW = 64

FLAG_SEALED = FLAG_E2E_SEALED
_SEQUENCE = struct.Struct("<Q")


def x25519_public_key(identity: bytes) -> bytes:
    """The X25519 public key of a FastPay identity (Ed25519 public key)."""
    if len(identity) != IDENTITY_LEN:
        raise BadIdentity(f"identity is {IDENTITY_LEN} octets, got {len(identity)}")
    try:
        return ed25519.x25519_public_key(identity)
    except ValueError:
        raise BadIdentity(f"{identity.hex()} is not an Ed25519 public key") from None


class E2EIdentity:
    """Our own FastPay key pair, as far as sealing needs it."""

    __slots__ = ("public", "_x25519")

    def __init__(self, seed: bytes) -> None:
        """`seed`: the 32-octet Ed25519 private key seed FastPay signs with."""
        if len(seed) != 32:
            raise ValueError(f"Ed25519 seed is 32 octets, got {len(seed)}")
        public, secret = nacl.bindings.crypto_sign_seed_keypair(seed)
        self.public: bytes = public
        self._x25519 = X25519PrivateKey.from_private_bytes(
            nacl.bindings.crypto_sign_ed25519_sk_to_curve25519(secret)
        )

    def pair_keys(self, peer: bytes) -> tuple[bytes, bytes]:
        """(key to seal for `peer`, key to open what `peer` sealed for us)."""
        peer_x = X25519PublicKey.from_public_bytes(x25519_public_key(peer))
        try:
            shared = self._x25519.exchange(peer_x)
        except ValueError:
            raise BadIdentity(f"{peer.hex()} maps to a small-order X25519 point") from None
        return self._direction_key(shared, self.public, peer), self._direction_key(shared, peer, self.public)

    @staticmethod
    def _direction_key(shared: bytes, sender: bytes, receiver: bytes) -> bytes:
        info = b"S->R" + sender + receiver
        return HKDF(SHA256(), E2E_KEY_LEN, HKDF_SALT, info).derive(shared)


def _nonce(sequence: int) -> bytes:
    return sequence.to_bytes(13, "big")


@dataclass(slots=True, eq=False)
class _Session:
    seal: AESCCM
    open: AESCCM
    window: ReplayWindow


# Sessions (keys and a receive window) kept at once. A session exists only
# for a peer that authenticated, but anyone can make identities, so the
# table is bounded: past it the session used longest ago is dropped. A
# dropped peer starts a fresh window, so one of its old frames could be
# accepted once more; FastPay answers a repeated order with the same vote
# and executes a confirmation once, so such a replay changes nothing.
MAX_SESSIONS = 4096


class E2ESealer:
    """One party's end-to-end sealing with every peer it talks to."""

    def __init__(
        self, identity: E2EIdentity, *, initial_sequence: int, replay_window: int = DEFAULT_REPLAY_WINDOW,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        """`initial_sequence` must exceed every sequence number this identity
        ever used: pass the time in microseconds since the epoch, or the
        persisted `next_sequence` of a previous run."""
        if not 0 <= initial_sequence <= SEQUENCE_MAX:
            raise ValueError(f"initial sequence must fit 64 bits, got {initial_sequence}")
        self.identity = identity
        self.next_sequence = initial_sequence
        self.replay_window = replay_window
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[bytes, _Session] = OrderedDict()
        self.evicted = 0
        self.rejected: Counter[SealReason] = Counter()
        self.tx_refused: Counter[SealReason] = Counter()

    def _keep(self, peer: bytes, session: _Session) -> None:
        self._sessions[peer] = session
        self._sessions.move_to_end(peer)
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
            self.evicted += 1

    def _session(self, peer: bytes) -> _Session:
        session = self._sessions.get(peer)
        if session is None:
            seal_key, open_key = self.identity.pair_keys(peer)
            session = _Session(
                AESCCM(seal_key, E2E_TAG_LEN), AESCCM(open_key, E2E_TAG_LEN), ReplayWindow(self.replay_window)
            )
        return session

    def seal_payload(self, peer: bytes, payload: bytes, context: bytes) -> bytes:
        """Seal `payload` for `peer`, authenticating `context` with it."""
        try:
            sequence = self.next_sequence
            if sequence > SEQUENCE_MAX:
                raise SequenceExhausted("64-bit sequence space used up; use a new identity")
            session = self._session(bytes(peer))
        except E2EError as error:
            self.tx_refused[error.reason] += 1
            raise
        self._keep(bytes(peer), session)
        head = self.identity.public + _SEQUENCE.pack(sequence)
        self.next_sequence = sequence + 1
        return head + session.seal.encrypt(_nonce(sequence), payload, context + head)

    def open_payload(self, sealed: bytes, context: bytes) -> tuple[bytes, bytes]:
        """Verify and decrypt a sealed payload; returns (sender identity,
        payload)."""
        try:
            if len(sealed) < SEALED_OVERHEAD:
                raise SealedTooShort(f"{len(sealed)} octets, a sealed payload has at least {SEALED_OVERHEAD}")
            sender = sealed[:IDENTITY_LEN]
            (sequence,) = _SEQUENCE.unpack_from(sealed, IDENTITY_LEN)
            session = self._session(sender)
            verdict = session.window.check(sequence)
            if verdict is Verdict.REPLAY:
                raise E2EReplayed(f"sequence {sequence} from {sender.hex()[:16]} already received")
            if verdict is Verdict.TOO_OLD:
                raise E2ETooOld(
                    f"sequence {sequence} from {sender.hex()[:16]} is below the window"
                    f" (highest {session.window.highest})"
                )
            try:
                payload = session.open.decrypt(
                    _nonce(sequence), sealed[SEALED_HEADER_LEN:], context + sealed[:SEALED_HEADER_LEN]
                )
            except InvalidTag:
                raise E2EAuthFailure(
                    f"tag does not verify for sender {sender.hex()[:16]}: altered, re-routed or forged"
                ) from None
        except E2EError as error:
            self.rejected[error.reason] += 1
            raise
        session.window.accept(sequence)
        self._keep(sender, session)
        return sender, payload

    @staticmethod
    def fragment_context(fragment: FastPayFragment, flags: int, destination: bytes, source: bytes) -> bytes:
        """The associated data a fragment contributes: its FastPay header
        with `flags` in place, then the end-to-end destination and source
        (the frame's mesh DA and SA)."""
        return fragment.header(flags) + destination + source

    def seal_fragment(self, peer: bytes, fragment: FastPayFragment, destination: bytes,
                      source: bytes) -> FastPayFragment:
        """Seal a plaintext fragment for `peer` on its way from `source` to
        `destination`, and set the sealed flag."""
        if fragment.flags & FLAG_SEALED:
            self.tx_refused[SealReason.E2E_ALREADY_SEALED] += 1
            raise AlreadySealed("FastPay flags bit 0 is already set")
        flags = fragment.flags | FLAG_SEALED
        sealed = self.seal_payload(peer, fragment.data, self.fragment_context(fragment, flags, destination, source))
        # Built directly: dataclasses.replace costs more than the cipher on small payloads.
        return FastPayFragment(fragment.msg_type, flags, fragment.message_id, fragment.fragment_number,
                               fragment.fragment_count, sealed, fragment.version)

    def open_fragment(self, fragment: FastPayFragment, destination: bytes,
                      source: bytes) -> tuple[bytes, FastPayFragment]:
        """Open a sealed fragment that came from `source` to `destination`;
        returns (sender identity, the fragment with its plaintext and the
        sealed flag clear)."""
        if not fragment.flags & FLAG_SEALED:
            self.rejected[SealReason.E2E_NOT_SEALED] += 1
            raise NotSealed("FastPay flags bit 0 is clear")
        sender, payload = self.open_payload(
            fragment.data, self.fragment_context(fragment, fragment.flags, destination, source))
        return sender, FastPayFragment(fragment.msg_type, fragment.flags & ~FLAG_SEALED, fragment.message_id,
                                       fragment.fragment_number, fragment.fragment_count, payload, fragment.version)

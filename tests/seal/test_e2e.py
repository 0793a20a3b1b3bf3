"""End-to-end sealing between a client and authorities across relays."""

from __future__ import annotations

import hashlib

import pytest

from meshframes.seal.e2e import (
    FLAG_SEALED,
    SEALED_OVERHEAD,
    E2EIdentity,
    E2ESealer,
    parse_fastpay_frame,
    x25519_public_key,
)
from meshframes.seal.errors import (
    AlreadySealed,
    BadIdentity,
    E2EAuthFailure,
    E2EReplayed,
    E2ETooOld,
    NotFastPay,
    NotSealed,
    Reason,
    SealedTooShort,
    SealError,
)

from .conftest import MAC_A, MAC_B, MAC_C, assert_counted_refusal
from .frames import action, fastpay_body, fastpay_frame

ORDER = bytes(range(153))  # the size of a bincode TransferOrder
START = 1_767_225_600_000_000  # a clock reading in microseconds


def identity(name: str) -> E2EIdentity:
    return E2EIdentity(hashlib.sha256(name.encode()).digest())


@pytest.fixture
def client() -> E2ESealer:
    return E2ESealer(identity("client"), initial_sequence=START)


@pytest.fixture
def authority() -> E2ESealer:
    return E2ESealer(identity("authority-1"), initial_sequence=START)


def order_from_client(client: E2ESealer, authority: E2ESealer, **fields) -> bytes:
    """An order frame leaving the client (MAC A) for the authority (MAC C),
    first hop to B."""
    plain = fastpay_frame(MAC_A, MAC_B, MAC_A, MAC_C, ORDER, category=127, **fields)
    return client.seal_frame(authority.identity.public, plain)


def relay(frame: bytes, transmitter: bytes, receiver: bytes) -> bytes:
    """What a relay does: new A1/A2/A3, Mesh Control TTL decremented."""
    ttl_at = 24 + 4 + 1
    return frame[:4] + receiver + transmitter + transmitter + frame[22:ttl_at] + bytes((frame[ttl_at] - 1,)) + frame[ttl_at + 1 :]


def assert_refused(receiver: E2ESealer, frame: bytes, error: type[SealError], reason: Reason) -> None:
    assert_counted_refusal(receiver.open_frame, receiver.rejected, frame, error, reason)


def test_sealed_order_crosses_relays_and_opens_at_the_authority(client, authority):
    """Relays rewrite addresses and TTL only; the authority recovers the exact
    payload and learns who sealed it."""
    sealed = order_from_client(client, authority)
    layout = parse_fastpay_frame(sealed)
    assert layout.flags & FLAG_SEALED
    assert ORDER not in sealed and len(sealed) == len(fastpay_frame(MAC_A, MAC_B, MAC_A, MAC_C, ORDER)) + SEALED_OVERHEAD
    delivered = relay(relay(sealed, MAC_B, MAC_C), MAC_B, MAC_C)
    sender, plain = authority.open_frame(delivered)
    assert sender == client.identity.public
    assert parse_fastpay_frame(plain).flags == 0
    assert plain[parse_fastpay_frame(plain).payload_offset :] == ORDER


def test_reply_travels_back_under_the_other_directions_key(client, authority):
    """The authority answers the identity it learned; the client opens it."""
    _, _ = authority.open_frame(order_from_client(client, authority))
    vote = fastpay_frame(MAC_C, MAC_B, MAC_C, MAC_A, b"vote" * 60, category=127, msg_type=2)
    sender, plain = client.open_frame(authority.seal_frame(client.identity.public, vote))
    assert sender == authority.identity.public and plain == vote


def test_relay_rewriting_the_payload_is_detected(client, authority):
    """A relay that changes a ciphertext octet (say, the amount) is caught."""
    sealed = order_from_client(client, authority)
    offset = parse_fastpay_frame(sealed).payload_offset + 40 + 17
    tampered = sealed[:offset] + bytes((sealed[offset] ^ 0x01,)) + sealed[offset + 1 :]
    assert_refused(authority, tampered, E2EAuthFailure, Reason.E2E_AUTH_FAILURE)


@pytest.mark.parametrize(
    "field_offset",
    [1, 3, 5, 6],  # message type, message id, fragment number, fragment count
)
def test_relay_rewriting_the_fastpay_header_is_detected(client, authority, field_offset):
    """The FastPay header is associated data: changing it breaks the tag."""
    sealed = order_from_client(client, authority)
    offset = parse_fastpay_frame(sealed).header_offset + field_offset
    tampered = sealed[:offset] + bytes((sealed[offset] ^ 0x02,)) + sealed[offset + 1 :]
    assert_refused(authority, tampered, E2EAuthFailure, Reason.E2E_AUTH_FAILURE)


def test_relay_rewriting_the_end_to_end_addresses_is_detected(client, authority):
    """Changing the mesh source A6 (to pose as another origin) breaks the tag."""
    sealed = order_from_client(client, authority)
    a6 = 24 + 4 + 6 + 6
    tampered = sealed[:a6] + MAC_B + sealed[a6 + 6 :]
    assert_refused(authority, tampered, E2EAuthFailure, Reason.E2E_AUTH_FAILURE)


def test_forged_sender_is_refused(client, authority):
    """Mallory seals with her own key but names the client as sender: the
    authority derives the client's key, and the tag fails."""
    mallory = E2ESealer(identity("mallory"), initial_sequence=START)
    forged = order_from_client(mallory, authority)
    at = parse_fastpay_frame(forged).payload_offset
    forged = forged[:at] + client.identity.public + forged[at + 32 :]
    assert_refused(authority, forged, E2EAuthFailure, Reason.E2E_AUTH_FAILURE)
    assert client.identity.public not in authority._sessions


def test_order_rerouted_to_another_authority_is_refused(client, authority):
    """A message sealed for authority 1 does not open at authority 2."""
    other = E2ESealer(identity("authority-2"), initial_sequence=START)
    assert_refused(other, order_from_client(client, authority), E2EAuthFailure, Reason.E2E_AUTH_FAILURE)


def test_replayed_message_is_refused(client, authority):
    """The same sealed order delivered twice (e.g. a relay resending it)."""
    sealed = order_from_client(client, authority)
    authority.open_frame(sealed)
    assert_refused(authority, relay(sealed, MAC_B, MAC_C), E2EReplayed, Reason.E2E_REPLAY)


def test_message_older_than_the_window_is_refused(client, authority):
    """A message held back longer than the window is refused, not accepted late."""
    held = order_from_client(client, authority)
    for _ in range(authority.replay_window):
        authority.open_frame(order_from_client(client, authority))
    assert_refused(authority, held, E2ETooOld, Reason.E2E_TOO_OLD)


def test_forged_frame_with_a_high_sequence_does_not_move_the_window(client, authority):
    """Only an authenticated frame advances the window: a forgery naming
    the client with a sequence number far ahead fails its tag and leaves
    the window where it was, so the client's next genuine frame opens."""
    authority.open_frame(order_from_client(client, authority))
    genuine = order_from_client(client, authority)
    forged = bytearray(order_from_client(client, authority))
    at = parse_fastpay_frame(bytes(forged)).payload_offset + 32
    forged[at : at + 8] = (START + 10**9).to_bytes(8, "little")
    assert_refused(authority, bytes(forged), E2EAuthFailure, Reason.E2E_AUTH_FAILURE)
    sender, _ = authority.open_frame(genuine)
    assert sender == client.identity.public


def test_restarted_client_does_not_reuse_sequence_numbers(client, authority):
    """A client restarted with a later clock reading keeps talking; the
    authority's window carries over."""
    authority.open_frame(order_from_client(client, authority))
    restarted = E2ESealer(client.identity, initial_sequence=START + 5_000_000)
    authority.open_frame(order_from_client(restarted, authority))
    assert not authority.rejected


def test_garbage_identity_and_short_payloads_are_refused(authority):
    """A sender field that is no Ed25519 point, and a payload shorter than the
    sealing overhead."""
    frame = fastpay_frame(MAC_A, MAC_B, MAC_A, MAC_C, b"\x00" * 32 + bytes(24), flags=FLAG_SEALED)
    assert_refused(authority, frame, BadIdentity, Reason.E2E_BAD_IDENTITY)
    short = fastpay_frame(MAC_A, MAC_B, MAC_A, MAC_C, bytes(SEALED_OVERHEAD - 1), flags=FLAG_SEALED)
    assert_refused(authority, short, SealedTooShort, Reason.E2E_TOO_SHORT)


def test_unsealed_and_foreign_frames_are_refused(authority):
    """A FastPay frame without the sealed flag, and an action frame of
    another vendor."""
    assert_refused(authority, fastpay_frame(MAC_A, MAC_B, MAC_A, MAC_C, ORDER), NotSealed, Reason.E2E_NOT_SEALED)
    foreign = action(MAC_B, MAC_A, MAC_A, b"\x7f\x00\x10\x18" + bytes(30))
    assert_refused(authority, foreign, NotFastPay, Reason.E2E_NOT_FASTPAY)


def test_single_hop_frames_bind_a1_and_a2(client, authority):
    """Without address extension, A1/A2 are the end-to-end addresses: the
    frame re-addressed to another receiver fails, the original opens."""
    plain = action(MAC_C, MAC_A, MAC_A, fastpay_body(ORDER, category=127))
    sealed = client.seal_frame(authority.identity.public, plain)
    assert_refused(authority, sealed[:4] + MAC_B + sealed[10:], E2EAuthFailure, Reason.E2E_AUTH_FAILURE)
    assert authority.open_frame(sealed) == (client.identity.public, plain)


def test_announced_e2e_key_is_the_identitys_x25519_key():
    """AuthorityAnnouncement.e2e_key can be checked against the name."""
    me = identity("authority-1")
    assert len(x25519_public_key(me.public)) == 32
    with pytest.raises(BadIdentity):
        x25519_public_key(bytes(32))


def test_sealing_twice_is_refused(client, authority):
    """A frame already carrying the sealed flag is not sealed again."""
    sealed = order_from_client(client, authority)
    with pytest.raises(AlreadySealed):
        client.seal_frame(authority.identity.public, sealed)
    assert client.tx_refused[Reason.E2E_ALREADY_SEALED] == 1


def test_sessions_are_bounded_and_the_oldest_goes_first(authority):
    """Anyone can make identities: past `max_sessions` the session used
    longest ago is dropped (counted); the peers in use keep theirs."""
    bounded = E2ESealer(identity("authority-2"), initial_sequence=START, max_sessions=4)
    senders = [E2ESealer(identity(f"stranger-{i}"), initial_sequence=START) for i in range(6)]
    for sender in senders:
        plain = fastpay_frame(MAC_A, MAC_B, MAC_A, MAC_C, ORDER, category=127)
        bounded.open_frame(sender.seal_frame(bounded.identity.public, plain))
    assert bounded.evicted == 2 and len(bounded._sessions) == 4
    assert list(bounded._sessions) == [s.identity.public for s in senders[2:]]

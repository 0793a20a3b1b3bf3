"""End-to-end sealing between a client and authorities across relays."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from meshframes.codec import ActionFrame, VendorAction, decode
from meshframes.codec.fastpay import FastPayFragment, MessageType, encode_fragment
from meshframes.codec.frames import mesh_addresses
from meshframes.seal.e2e import (
    FLAG_SEALED,
    SEALED_OVERHEAD,
    E2EIdentity,
    E2ESealer,
    x25519_public_key,
)
from meshframes.seal.errors import (
    AlreadySealed,
    BadIdentity,
    E2EAuthFailure,
    E2EReplayed,
    E2ETooOld,
    NotSealed,
    SealedTooShort,
    SealError,
    SealReason,
)

from .conftest import MAC_A, MAC_B, MAC_C, assert_counted_refusal
from .frames import action, fastpay_body, fastpay_frame

ORDER = bytes(range(153))  # the size of a bincode TransferOrder
START = 1_767_225_600_000_000  # a clock reading in microseconds
PLAIN = FastPayFragment(MessageType.FASTPAY_ORDER, 0, 7, 0, 1, ORDER)


def identity(name: str) -> E2EIdentity:
    return E2EIdentity(hashlib.sha256(name.encode()).digest())


@pytest.fixture
def client() -> E2ESealer:
    return E2ESealer(identity("client"), initial_sequence=START)


@pytest.fixture
def authority() -> E2ESealer:
    return E2ESealer(identity("authority-1"), initial_sequence=START)


def order_from_client(client: E2ESealer, authority: E2ESealer, fragment: FastPayFragment = PLAIN) -> FastPayFragment:
    """An order fragment leaving the client (MAC A) for the authority (MAC C)."""
    return client.seal_fragment(authority.identity.public, fragment, MAC_C, MAC_A)


def on_air(sealed: FastPayFragment, transmitter: bytes = MAC_A, receiver: bytes = MAC_B) -> bytes:
    """The frame carrying `sealed` from the client towards the authority,
    first hop to B (struct-built, Mesh Control A5/A6)."""
    return fastpay_frame(transmitter, receiver, MAC_A, MAC_C, sealed.data, category=127, msg_type=sealed.msg_type,
                         flags=sealed.flags, msg_id=sealed.message_id, fragment=sealed.fragment_number,
                         fragments=sealed.fragment_count)


def relay(frame: bytes, transmitter: bytes, receiver: bytes) -> bytes:
    """What a relay does: new A1/A2/A3, Mesh Control TTL decremented."""
    ttl_at = 24 + 4 + 1
    return frame[:4] + receiver + transmitter + transmitter + frame[22:ttl_at] + bytes((frame[ttl_at] - 1,)) + frame[ttl_at + 1 :]


def opened_from_air(receiver: E2ESealer, frame: bytes) -> tuple[bytes, FastPayFragment]:
    """What the destination does with a frame: the codec reads the
    fragment and the end-to-end addresses, the sealer opens it."""
    decoded = decode(frame)
    assert isinstance(decoded, VendorAction)
    addresses = mesh_addresses(decoded)
    assert addresses is not None
    return receiver.open_fragment(decoded.payload, *addresses)


def assert_refused(receiver: E2ESealer, sealed: FastPayFragment, error: type[SealError], reason: SealReason,
                   destination: bytes = MAC_C, source: bytes = MAC_A) -> None:
    assert_counted_refusal(lambda f: receiver.open_fragment(f, destination, source), receiver.rejected, sealed,
                           error, reason)


def test_sealed_order_crosses_relays_and_opens_at_the_authority(client, authority):
    """Relays rewrite addresses and TTL only; the authority recovers the exact
    payload and learns who sealed it."""
    sealed = order_from_client(client, authority)
    assert sealed.flags & FLAG_SEALED
    assert ORDER not in sealed.data and len(sealed.data) == len(ORDER) + SEALED_OVERHEAD
    frame = on_air(sealed)
    assert ORDER not in frame and len(frame) == len(fastpay_frame(MAC_A, MAC_B, MAC_A, MAC_C, ORDER)) + SEALED_OVERHEAD
    delivered = relay(relay(frame, MAC_B, MAC_C), MAC_B, MAC_C)
    sender, plain = opened_from_air(authority, delivered)
    assert sender == client.identity.public
    assert plain.flags == 0
    assert plain == PLAIN


def test_reply_travels_back_under_the_other_directions_key(client, authority):
    """The authority answers the identity it learned; the client opens it."""
    _, _ = authority.open_fragment(order_from_client(client, authority), MAC_C, MAC_A)
    vote = FastPayFragment(MessageType.FASTPAY_VOTE, 0, 3, 0, 1, b"vote" * 60)
    sealed = authority.seal_fragment(client.identity.public, vote, MAC_A, MAC_C)
    sender, plain = client.open_fragment(sealed, MAC_A, MAC_C)
    assert sender == authority.identity.public and plain == vote


def test_relay_rewriting_the_payload_is_detected(client, authority):
    """A relay that changes a ciphertext octet (say, the amount) is caught."""
    sealed = order_from_client(client, authority)
    offset = 40 + 17
    tampered = replace(sealed, data=sealed.data[:offset] + bytes((sealed.data[offset] ^ 0x01,))
                       + sealed.data[offset + 1 :])
    assert_refused(authority, tampered, E2EAuthFailure, SealReason.E2E_AUTH_FAILURE)


@pytest.mark.parametrize("field", ["msg_type", "message_id", "fragment_number", "fragment_count", "version"])
def test_relay_rewriting_the_fastpay_header_is_detected(client, authority, field):
    """The FastPay header is associated data: changing it breaks the tag."""
    sealed = order_from_client(client, authority)
    tampered = replace(sealed, **{field: getattr(sealed, field) ^ 0x02})
    assert_refused(authority, tampered, E2EAuthFailure, SealReason.E2E_AUTH_FAILURE)


def test_relay_rewriting_the_end_to_end_addresses_is_detected(client, authority):
    """Changing the mesh source A6 (to pose as another origin) breaks the tag."""
    sealed = order_from_client(client, authority)
    frame = on_air(sealed)
    a6 = 24 + 4 + 6 + 6
    rewritten = frame[:a6] + MAC_B + frame[a6 + 6 :]
    decoded = decode(rewritten)
    assert isinstance(decoded, VendorAction) and mesh_addresses(decoded) == (MAC_C, MAC_B)
    assert_refused(authority, decoded.payload, E2EAuthFailure, SealReason.E2E_AUTH_FAILURE, MAC_C, MAC_B)


def test_forged_sender_is_refused(client, authority):
    """Mallory seals with her own key but names the client as sender: the
    authority derives the client's key, and the tag fails."""
    mallory = E2ESealer(identity("mallory"), initial_sequence=START)
    forged = order_from_client(mallory, authority)
    forged = replace(forged, data=client.identity.public + forged.data[32:])
    assert_refused(authority, forged, E2EAuthFailure, SealReason.E2E_AUTH_FAILURE)
    assert client.identity.public not in authority._sessions


def test_order_rerouted_to_another_authority_is_refused(client, authority):
    """A message sealed for authority 1 does not open at authority 2."""
    other = E2ESealer(identity("authority-2"), initial_sequence=START)
    assert_refused(other, order_from_client(client, authority), E2EAuthFailure, SealReason.E2E_AUTH_FAILURE)


def test_replayed_message_is_refused(client, authority):
    """The same sealed order delivered twice (e.g. a relay resending it)."""
    sealed = order_from_client(client, authority)
    opened_from_air(authority, on_air(sealed))
    frame = relay(on_air(sealed, MAC_B, MAC_C), MAC_B, MAC_C)
    decoded = decode(frame)
    assert isinstance(decoded, VendorAction)
    assert_refused(authority, decoded.payload, E2EReplayed, SealReason.E2E_REPLAY)


def test_message_older_than_the_window_is_refused(client, authority):
    """A message held back longer than the window is refused, not accepted late."""
    held = order_from_client(client, authority)
    for _ in range(authority.replay_window):
        authority.open_fragment(order_from_client(client, authority), MAC_C, MAC_A)
    assert_refused(authority, held, E2ETooOld, SealReason.E2E_TOO_OLD)


def test_forged_frame_with_a_high_sequence_does_not_move_the_window(client, authority):
    """Only an authenticated fragment advances the window: a forgery
    naming the client with a sequence number far ahead fails its tag and
    leaves the window where it was, so the client's next genuine fragment
    opens."""
    authority.open_fragment(order_from_client(client, authority), MAC_C, MAC_A)
    genuine = order_from_client(client, authority)
    forged = order_from_client(client, authority)
    forged = replace(forged, data=forged.data[:32] + (START + 10**9).to_bytes(8, "little") + forged.data[40:])
    assert_refused(authority, forged, E2EAuthFailure, SealReason.E2E_AUTH_FAILURE)
    sender, _ = authority.open_fragment(genuine, MAC_C, MAC_A)
    assert sender == client.identity.public


def test_restarted_client_does_not_reuse_sequence_numbers(client, authority):
    """A client restarted with a later clock reading keeps talking; the
    authority's window carries over."""
    authority.open_fragment(order_from_client(client, authority), MAC_C, MAC_A)
    restarted = E2ESealer(client.identity, initial_sequence=START + 5_000_000)
    authority.open_fragment(order_from_client(restarted, authority), MAC_C, MAC_A)
    assert not authority.rejected


def test_garbage_identity_and_short_payloads_are_refused(authority):
    """A sender field that is no Ed25519 point, and a payload shorter than the
    sealing overhead."""
    garbage = replace(PLAIN, flags=FLAG_SEALED, data=b"\x00" * 32 + bytes(24))
    assert_refused(authority, garbage, BadIdentity, SealReason.E2E_BAD_IDENTITY)
    short = replace(PLAIN, flags=FLAG_SEALED, data=bytes(SEALED_OVERHEAD - 1))
    assert_refused(authority, short, SealedTooShort, SealReason.E2E_TOO_SHORT)


def test_unsealed_fragments_are_refused_and_foreign_frames_never_reach_the_sealer(authority):
    """A FastPay fragment without the sealed flag is refused; an action
    frame of another vendor is not ours: the codec reads it as some other
    action frame, so no fragment of it reaches the sealer."""
    assert_refused(authority, PLAIN, NotSealed, SealReason.E2E_NOT_SEALED)
    foreign = action(MAC_B, MAC_A, MAC_A, b"\x7f\x00\x10\x18" + bytes(30))
    assert isinstance(decode(foreign), ActionFrame)


def test_single_hop_frames_bind_a1_and_a2(client, authority):
    """Without address extension, A1/A2 are the end-to-end addresses: the
    frame re-addressed to another receiver fails, the original opens."""
    sealed = client.seal_fragment(authority.identity.public, PLAIN, MAC_C, MAC_A)
    frame = action(MAC_C, MAC_A, MAC_A, fastpay_body(b"", category=127)[:-7] + encode_fragment(sealed))
    readdressed = decode(frame[:4] + MAC_B + frame[10:])
    assert isinstance(readdressed, VendorAction)
    addresses = mesh_addresses(readdressed)
    assert addresses == (MAC_B, MAC_A)
    assert_refused(authority, readdressed.payload, E2EAuthFailure, SealReason.E2E_AUTH_FAILURE, *addresses)
    assert opened_from_air(authority, frame) == (client.identity.public, PLAIN)


def test_announced_e2e_key_is_the_identitys_x25519_key():
    """AuthorityAnnouncement.e2e_key can be checked against the name."""
    me = identity("authority-1")
    assert len(x25519_public_key(me.public)) == 32
    with pytest.raises(BadIdentity):
        x25519_public_key(bytes(32))


def test_sealing_twice_is_refused(client, authority):
    """A fragment already carrying the sealed flag is not sealed again."""
    sealed = order_from_client(client, authority)
    with pytest.raises(AlreadySealed):
        client.seal_fragment(authority.identity.public, sealed, MAC_C, MAC_A)
    assert client.tx_refused[SealReason.E2E_ALREADY_SEALED] == 1


def test_the_associated_data_is_the_header_with_the_sealed_flag_and_the_mesh_addresses(client, authority):
    """The fragment context is the FastPay header as it goes on the air
    (flags bit 0 set) then mesh DA and mesh SA: sealing the payload by
    hand under that context opens as the sealed fragment."""
    context = E2ESealer.fragment_context(PLAIN, FLAG_SEALED, MAC_C, MAC_A)
    assert context == encode_fragment(replace(PLAIN, flags=FLAG_SEALED))[:7] + MAC_C + MAC_A
    by_hand = replace(PLAIN, flags=FLAG_SEALED, data=client.seal_payload(authority.identity.public, ORDER, context))
    assert authority.open_fragment(by_hand, MAC_C, MAC_A) == (client.identity.public, PLAIN)


def test_sessions_are_bounded_and_the_oldest_goes_first(authority):
    """Anyone can make identities: past `max_sessions` the session used
    longest ago is dropped (counted); the peers in use keep theirs."""
    bounded = E2ESealer(identity("authority-2"), initial_sequence=START, max_sessions=4)
    senders = [E2ESealer(identity(f"stranger-{i}"), initial_sequence=START) for i in range(6)]
    for sender in senders:
        bounded.open_fragment(sender.seal_fragment(bounded.identity.public, PLAIN, MAC_C, MAC_A), MAC_C, MAC_A)
    assert bounded.evicted == 2 and len(bounded._sessions) == 4
    assert list(bounded._sessions) == [s.identity.public for s in senders[2:]]

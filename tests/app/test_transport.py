"""Reassembly in the parties' transport: fragments are collected per origin
(mesh SA and, for sealed ones, the identity whose seal was opened), and
nobody fills the table: each origin holds a bounded number of pending
sets, cleartext at most half of it, every refusal counted."""

from __future__ import annotations

from collections import Counter

from meshframes.app.directory import Directory
from meshframes.app.transport import Received, Transport, TransportConfig, TransportRefusal
from meshframes.codec.fastpay import FastPayFragment, MessageType
from meshframes.mesh.events import Deliver
from meshframes.seal.e2e import E2ESealer

from .helpers import ACCOUNTS, AUTHORITIES, COMMITTEE, announcement_of, sealer_of

ME, A, C, D = (bytes.fromhex(f"0200000000{i:02x}") for i in (0x10, 0x0A, 0x0C, 0x0D))
CERT = MessageType.FASTPAY_CERTIFICATE


def authority(config: TransportConfig | None = None) -> Transport:
    """Authority 0's transport at ME, with its own sealer and directory."""
    directory = Directory(COMMITTEE, AUTHORITIES[0].public_key)
    return Transport(ME, sealer_of(AUTHORITIES[0]), directory, config)


def part(number: int, message_id: int, count: int = 2, data: bytes | None = None) -> FastPayFragment:
    """Fragment `number` of a `count`-fragment certificate."""
    return FastPayFragment(CERT, 0, message_id, number, count, bytes([number]) * 10 if data is None else data)


def sealed(by: E2ESealer, fragment: FastPayFragment, source: bytes) -> Deliver:
    """`fragment` sealed by `by` for authority 0, as delivered from `source`."""
    return Deliver(source, ME, by.seal_fragment(AUTHORITIES[0].public_key, fragment, ME, source))


def test_fragments_complete_only_with_fragments_of_the_same_sealer() -> None:
    """Who sealed a fragment (the identity whose seal the transport opened,
    never the air's flags) is part of its set: a cleartext fragment or one
    sealed by another identity under the same mesh SA never completes a
    sealed set, and the delivery names the sealer."""
    transport = authority()
    x, y = sealer_of(ACCOUNTS[0]), sealer_of(ACCOUNTS[2])
    assert transport.receive(sealed(x, part(0, 9), A), 0.1) is None
    assert transport.receive(Deliver(A, ME, part(1, 9)), 0.1) is None
    assert transport.receive(sealed(y, part(1, 9), A), 0.1) is None
    whole = transport.receive(sealed(x, part(1, 9), A), 0.1)
    assert whole == Received(A, CERT, bytes(10) + b"\x01" * 10, ACCOUNTS[0].public_key)
    assert transport.refusals() == Counter() and transport.opened == 3


def test_pending_fragment_sets_are_limited_per_origin_and_for_cleartext() -> None:
    """Nobody fills the reassembly table: one origin holds at most
    reassembly_max_per_source pending sets, cleartext sets (any mesh SA
    can be made up) at most half the table, so a sealed message still
    gets through; each refusal is counted, and a set that completes or
    times out frees its place."""
    transport = authority()
    config = transport.config
    limit = config.reassembly_max_per_source
    for mid in range(limit + 1):
        transport.receive(Deliver(D, ME, part(0, mid)), 1.0)
    assert transport.dropped == {TransportRefusal.REASSEMBLY_SOURCE_LIMIT: 1}
    assert isinstance(transport.receive(Deliver(D, ME, part(1, 0)), 1.0), Received)
    made_up = [bytes([2, 0xEE, 0, 0, i >> 8, i & 0xFF]) for i in range(200)]
    for source in made_up:
        transport.receive(Deliver(source, ME, part(0, 1)), 1.0)
    half = config.reassembly_max_pending // 2
    assert transport.dropped[TransportRefusal.REASSEMBLY_CLEARTEXT_LIMIT] == (limit - 1) + len(made_up) - half
    transport.directory.on_announcement(C, announcement_of(ACCOUNTS[1].public_key), 1.0)
    sealer = sealer_of(ACCOUNTS[1])
    assert transport.receive(sealed(sealer, part(0, 9), C), 1.0) is None
    whole = transport.receive(sealed(sealer, part(1, 9), C), 1.0)
    assert isinstance(whole, Received) and whole.sealed_by == ACCOUNTS[1].public_key
    assert transport.next_deadline() == 1.0 + config.reassembly_timeout
    expired = transport.expire(1.0 + config.reassembly_timeout)
    assert len(expired) == transport.dropped[TransportRefusal.REASSEMBLY_TIMEOUT] == half
    assert transport.next_deadline() is None
    before = sum(transport.dropped.values())
    assert transport.receive(Deliver(made_up[-1], ME, part(0, 2)), 5.0) is None
    assert sum(transport.dropped.values()) == before
    assert transport.refusals() == transport.dropped


def test_a_sealed_origin_is_limited_too_and_apart_from_cleartext_under_its_mesh_sa() -> None:
    """A sealer's origin is held to reassembly_max_per_source like any
    other; cleartext sets under the same mesh SA are another origin and
    take none of its places."""
    transport = authority(TransportConfig(reassembly_max_per_source=2))
    x = sealer_of(ACCOUNTS[0])
    for mid in range(2):
        assert transport.receive(Deliver(A, ME, part(0, mid)), 1.0) is None
    for mid in range(3):
        transport.receive(sealed(x, part(0, 10 + mid), A), 1.0)
    assert transport.dropped == {TransportRefusal.REASSEMBLY_SOURCE_LIMIT: 1}
    assert isinstance(transport.receive(sealed(x, part(1, 10), A), 1.0), Received)
    assert transport.receive(sealed(x, part(0, 12), A), 1.0) is None

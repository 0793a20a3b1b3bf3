"""Discovery and the applications' handling of what arrives: announcements
checked against the committee file, messages held until their party is
found, and every bad input refused with its reason and counted."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshframes.app.authority_node import AuthorityNode
from meshframes.app.client_node import ClientNode
from meshframes.app.directory import Directory
from meshframes.app.errors import AppRefusal, Reason
from meshframes.app.events import Discovered, Handled, MessageRefused, SendPayload
from meshframes.app.framing import frame_message
from meshframes.app.party import AppConfig
from meshframes.app.transport import Dropped, TransportRefusal
from meshframes.codec.fastpay import (
    FLAG_E2E_SEALED,
    MAX_FRAGMENT_PAYLOAD,
    FastPayFragment,
    MessageType,
    ReassemblyError,
)
from meshframes.codec.header import BROADCAST
from meshframes.fastpay.client_store import ClientStore
from meshframes.fastpay.committee import Identity
from meshframes.fastpay.messages import AccountInfoRequest, AuthorityAnnouncement, ConfirmationOrder
from meshframes.fastpay.store import AuthorityStore
from meshframes.fastpay.wire import decode_message
from meshframes.mesh.events import Deliver, SetTimer
from meshframes.seal.e2e import SEALED_OVERHEAD, x25519_public_key
from meshframes.seal.errors import E2EError, SealReason
from meshframes.sim.scenario import scenario_committee

from .helpers import (
    ACCOUNTS,
    AUTHORITIES,
    COMMITTEE,
    announcement_of,
    certificate,
    every_message,
    order,
    sealer_of,
    vote,
)

MAC = [bytes.fromhex(f"0200000000{i:02x}") for i in range(16)]


account_announcement = announcement_of


def authority_announcement(i: int) -> AuthorityAnnouncement:
    return announcement_of(AUTHORITIES[i].public_key)


OTHER_COMMITTEE, OTHER_AUTHORITIES, _ = scenario_committee(8, [1, 1, 1, 1], [])


@pytest.mark.parametrize("announcement, reason", [
    (replace(authority_announcement(0), committee_id=OTHER_COMMITTEE.committee_id), Reason.ANNOUNCE_WRONG_COMMITTEE),
    (OTHER_COMMITTEE.announcement(OTHER_AUTHORITIES[0].public_key), Reason.ANNOUNCE_WRONG_COMMITTEE),
    (replace(OTHER_COMMITTEE.announcement(OTHER_AUTHORITIES[0].public_key), committee_id=COMMITTEE.committee_id),
     Reason.ANNOUNCE_UNKNOWN_AUTHORITY),
    (replace(authority_announcement(1), weight=2), Reason.ANNOUNCE_WEIGHT_MISMATCH),
    (replace(authority_announcement(1), weight=0, e2e_key=x25519_public_key(AUTHORITIES[1].public_key)),
     Reason.ANNOUNCE_WEIGHT_MISMATCH),
    (replace(authority_announcement(1), e2e_key=authority_announcement(2).e2e_key), Reason.ANNOUNCE_E2E_KEY_MISMATCH),
    (replace(account_announcement(ACCOUNTS[1].public_key), e2e_key=b"\x09" * 32), Reason.ANNOUNCE_E2E_KEY_MISMATCH),
    # Not a point on the curve: no X25519 form, so no account can hold it.
    (replace(account_announcement(ACCOUNTS[1].public_key), name=b"\x02" + b"\xff" * 31),
     Reason.ANNOUNCE_BAD_IDENTITY),
    (account_announcement(ACCOUNTS[0].public_key), Reason.ANNOUNCE_OWN_IDENTITY),
])
def test_announcements_that_do_not_fit_the_committee_are_refused(announcement: AuthorityAnnouncement,
                                                                 reason: Reason) -> None:
    directory = Directory(COMMITTEE, ACCOUNTS[0].public_key)
    with pytest.raises(AppRefusal) as refused:
        directory.on_announcement(MAC[1], announcement, 1.0)
    assert refused.value.reason is reason
    assert directory.identity_of(MAC[1]) is None and directory.mac_of(announcement.name) is None


def test_announcements_bind_authorities_and_accounts() -> None:
    """Authorities (their committee weight) and accounts (weight 0) are
    found; hearing the same again is nothing new; a party that moves to
    another station leaves no stale binding."""
    directory = Directory(COMMITTEE, ACCOUNTS[0].public_key)
    assert directory.on_announcement(MAC[1], authority_announcement(0), 1.0)
    assert directory.on_announcement(MAC[2], account_announcement(ACCOUNTS[1].public_key), 1.0)
    assert not directory.on_announcement(MAC[1], authority_announcement(0), 2.0)
    assert directory.mac_of(AUTHORITIES[0].public_key) == MAC[1]
    assert directory.is_authority(AUTHORITIES[0].public_key)
    assert not directory.is_authority(ACCOUNTS[1].public_key)
    assert directory.on_announcement(MAC[3], authority_announcement(0), 3.0)
    assert directory.identity_of(MAC[1]) is None and directory.mac_of(AUTHORITIES[0].public_key) == MAC[3]
    # A station announcing another identity gives up its old one.
    assert directory.on_announcement(MAC[3], authority_announcement(1), 4.0)
    assert directory.mac_of(AUTHORITIES[0].public_key) is None


def test_a_binding_confirmed_by_a_sealed_frame_outranks_announcements_for_a_while() -> None:
    directory = Directory(COMMITTEE, ACCOUNTS[0].public_key, authenticated_ttl=10.0)
    directory.on_announcement(MAC[1], authority_announcement(0), 1.0)
    assert directory.confirm_sealed(AUTHORITIES[0].public_key, MAC[1], now=5.0)
    for mac, announcement in ((MAC[9], authority_announcement(0)), (MAC[1], authority_announcement(2))):
        with pytest.raises(AppRefusal) as refused:
            directory.on_announcement(mac, announcement, 14.0)
        assert refused.value.reason is Reason.ANNOUNCE_CONFLICTS_AUTHENTICATED
    assert directory.mac_of(AUTHORITIES[0].public_key) == MAC[1]
    assert directory.on_announcement(MAC[9], authority_announcement(0), 15.0)
    assert directory.mac_of(AUTHORITIES[0].public_key) == MAC[9]


def test_a_sealed_frame_only_confirms_what_an_announcement_bound() -> None:
    """The sealer picks the mesh SA it seals, so a sealed frame creates and
    moves no binding: not for an unannounced party, not for a party
    announced elsewhere, and never a throw-away identity at an
    authority's station."""
    directory = Directory(COMMITTEE, ACCOUNTS[0].public_key)
    throwaway = ACCOUNTS[2].public_key
    assert not directory.confirm_sealed(throwaway, MAC[4], 1.0)
    assert directory.mac_of(throwaway) is None and directory.identity_of(MAC[4]) is None
    directory.on_announcement(MAC[1], authority_announcement(0), 1.0)
    directory.on_announcement(MAC[2], account_announcement(ACCOUNTS[1].public_key), 1.0)
    assert not directory.confirm_sealed(throwaway, MAC[1], 2.0)
    assert not directory.confirm_sealed(AUTHORITIES[0].public_key, MAC[7], 2.0)
    assert not directory.confirm_sealed(ACCOUNTS[1].public_key, MAC[1], 2.0)
    assert directory.identity_of(MAC[1]) == AUTHORITIES[0].public_key
    assert directory.mac_of(AUTHORITIES[0].public_key) == MAC[1]
    assert directory.binding(AUTHORITIES[0].public_key).authenticated_at is None  # type: ignore[union-attr]
    assert directory.confirm_sealed(AUTHORITIES[0].public_key, MAC[1], 3.0)
    assert directory.binding(AUTHORITIES[0].public_key).authenticated_at == 3.0  # type: ignore[union-attr]


def _client(tmp_path: Path, config: AppConfig | None = None) -> ClientNode:
    store = ClientStore(tmp_path / "client.db", ACCOUNTS[0].public_key, 100)
    return ClientNode(ACCOUNTS[0].keypair, COMMITTEE, store, MAC[0], config, e2e_sequence=1)


def _deliver_announcement(app: ClientNode | AuthorityNode, mac: bytes, announcement: AuthorityAnnouncement,
                          now: float) -> list:
    msg_type, payload = frame_message(announcement)
    return app.on_message(mac, msg_type, payload, now)


def _opened(receiver: Identity, send: SendPayload, source: bytes) -> FastPayFragment:
    """What `receiver` opens of a fragment sealed for it on its way from
    `source` to `send.destination`."""
    _, plain = sealer_of(receiver).open_fragment(send.payload, send.destination, source)
    return plain


def test_first_announcement_is_spread_by_identity_over_the_configured_time(tmp_path: Path) -> None:
    """The first announcement leaves after `first_announce` plus a share of
    the spread set by the identity's first byte; without a spread the
    share is of half the announce interval."""
    share = ACCOUNTS[0].public_key[0] / 256
    assert share > 0
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    default = _client(tmp_path / "a", AppConfig(announce_interval=12.0)).start(0.0)
    spread = _client(tmp_path / "b", AppConfig(announce_interval=12.0, first_announce_spread=0.5)).start(0.0)
    assert default == [SetTimer(("announce",), 1.5 + share * 6.0)]
    assert spread == [SetTimer(("announce",), 1.5 + share * 0.5)]


def test_client_holds_orders_until_authorities_are_discovered(tmp_path: Path) -> None:
    """An order for an authority not yet heard of waits; its announcement
    releases exactly that authority's order to its station, sealed for
    it; retries of a waiting message are not queued twice."""
    client = _client(tmp_path)
    assert client.start(0.0) == [SetTimer(("announce",), client.start(0.0)[0].deadline)]
    actions = client.transfer(ACCOUNTS[1].public_key, 10, 1.0)
    assert not [a for a in actions if isinstance(a, SendPayload)]
    retry = next(a for a in actions if isinstance(a, SetTimer) and a.key == ("client",))
    assert not [a for a in client.on_timer(("client",), retry.deadline) if isinstance(a, SendPayload)]
    for i, mac in ((2, MAC[3]), (0, MAC[1])):
        out = _deliver_announcement(client, mac, authority_announcement(i), 2.0 + i)
        assert Discovered(2.0 + i, AUTHORITIES[i].public_key, mac, 1) in out
        sends = [a for a in out if isinstance(a, SendPayload)]
        assert [(s.destination, s.payload.msg_type) for s in sends] == [(mac, MessageType.FASTPAY_ORDER)]
        assert sends[0].payload.flags & FLAG_E2E_SEALED
        opened = _opened(AUTHORITIES[i], sends[0], MAC[0])
        assert decode_message(opened.data).transfer.recipient.key == ACCOUNTS[1].public_key


def test_client_announces_itself_as_an_account(tmp_path: Path) -> None:
    client = _client(tmp_path)
    [announce, rearm] = client.on_timer(("announce",), 1.5)
    assert isinstance(announce, SendPayload) and announce.destination == BROADCAST
    assert announce.payload.msg_type == MessageType.FASTPAY_ANNOUNCE and announce.payload.flags == 0
    assert rearm == SetTimer(("announce",), 1.5 + client.config.announce_interval)
    # Another party's directory believes it.
    directory = Directory(COMMITTEE, ACCOUNTS[1].public_key)
    from meshframes.app.framing import parse_message
    heard = parse_message(announce.payload.msg_type, announce.payload.data)
    assert isinstance(heard, AuthorityAnnouncement) and directory.on_announcement(MAC[0], heard, 2.0)
    assert directory.binding(ACCOUNTS[0].public_key).weight == 0  # type: ignore[union-attr]


def _authority(tmp_path: Path, config: AppConfig | None = None) -> AuthorityNode:
    store = AuthorityStore(tmp_path / "authority.db", COMMITTEE)
    return AuthorityNode(AUTHORITIES[0].keypair, COMMITTEE, store, MAC[5], config, e2e_sequence=1)


def _balances(authority: AuthorityNode) -> dict[bytes, tuple[int, int]]:
    return {key: (state.balance, state.next_sequence_number) for key in (a.address for a in COMMITTEE.accounts)
            if (state := authority.engine.account(key)) is not None}


def test_bad_inputs_are_refused_counted_and_change_nothing(tmp_path: Path) -> None:
    """Each kind of bad message gives one MessageRefused with its reason,
    bumps that counter, and leaves the authority's accounts as they were;
    a cleartext payload under the sealed flag is refused by the transport
    (its seal does not open) and never reaches the application."""
    authority = _authority(tmp_path)
    before = _balances(authority)
    messages = every_message()
    order_type, order_payload = frame_message(messages["order"])
    vote_type, vote_payload = frame_message(vote(messages["order"]))
    other = frame_message(OTHER_COMMITTEE.announcement(OTHER_AUTHORITIES[1].public_key))
    sealer = ACCOUNTS[0].public_key
    cases = [
        ((order_type, None, order_payload), Reason.E2E_REQUIRED),
        ((order_type, sealer, order_payload[:-3]), Reason.UNDECODABLE),
        ((42, sealer, order_payload), Reason.UNKNOWN_MESSAGE_TYPE),
        ((vote_type, sealer, order_payload), Reason.TYPE_MISMATCH),
        ((vote_type, sealer, vote_payload), Reason.UNEXPECTED_MESSAGE),
        ((other[0], None, other[1]), Reason.ANNOUNCE_WRONG_COMMITTEE),
    ]
    for (msg_type, sealed_by, payload), reason in cases:
        [refused] = authority.on_message(MAC[0], msg_type, payload, 3.0, sealed_by)
        assert isinstance(refused, MessageRefused) and refused.reason == reason and refused.source == MAC[0]
    # "Sealed" on the air, but no seal of ours opens it: its first 32
    # octets, read as the sealer's identity, are no Ed25519 key.
    forged = FastPayFragment(order_type, FLAG_E2E_SEALED, 1, 0, 1, order_payload)
    assert authority.on_deliver(Deliver(MAC[0], MAC[5], forged), 3.0) == []
    assert authority.transport.refusals() == {SealReason.E2E_BAD_IDENTITY: 1}
    assert authority.refused == {str(reason): 1 for _, reason in cases}
    assert authority.engine.rejections == {}
    assert _balances(authority) == before
    assert authority.engine.store.all_votes() == [] and authority.engine.store.all_certificates() == []


def test_sealed_input_is_refused_when_sealing_is_off(tmp_path: Path) -> None:
    """With sealing off nothing can open a sealed payload (the transport
    refuses it, counted), and replies need a sender we know of."""
    client = _client(tmp_path, AppConfig(seal=False))
    vote_type, vote_payload = frame_message(vote(every_message()["order"]))
    sealed = FastPayFragment(vote_type, FLAG_E2E_SEALED, 1, 0, 1, vote_payload)
    assert client.on_deliver(Deliver(MAC[5], MAC[0], sealed), 1.0) == []
    assert client.transport.dropped == {Reason.E2E_NOT_OPENED: 1} and client.refused == {}
    [refused] = client.on_deliver(Deliver(MAC[5], MAC[0], FastPayFragment(vote_type, 0, 2, 0, 1, vote_payload)), 1.0)
    assert refused.reason == Reason.UNKNOWN_SENDER  # type: ignore[union-attr]


def test_authority_answers_the_station_that_asked(tmp_path: Path) -> None:
    """An order in (opened by the transport) gives a vote back to its
    source, sealed for the identity announced there, and a Handled event
    naming what the engine did."""
    authority = _authority(tmp_path)
    _deliver_announcement(authority, MAC[0], account_announcement(ACCOUNTS[0].public_key), 1.0)
    msg_type, payload = frame_message(every_message()["order"])
    handled, reply = authority.on_message(MAC[0], msg_type, payload, 2.0, ACCOUNTS[0].public_key)
    assert handled == Handled(2.0, "order", ACCOUNTS[0].public_key, 0)
    assert isinstance(reply, SendPayload) and reply.destination == MAC[0]
    assert reply.payload.msg_type == MessageType.FASTPAY_VOTE
    assert decode_message(_opened(ACCOUNTS[0], reply, MAC[5]).data).authority == AUTHORITIES[0].public_key


def test_authority_answers_a_sealed_order_before_the_askers_announcement(tmp_path: Path) -> None:
    """A client whose announcement has not reached the authority yet still
    gets its vote: sealed for the identity that sealed the order, to the
    station the order came from (only that identity opens it). An
    unsealed message from an unannounced station gets nothing back."""
    authority = _authority(tmp_path)
    msg_type, payload = frame_message(every_message()["order"])
    _, reply = authority.on_message(MAC[0], msg_type, payload, 2.0, ACCOUNTS[0].public_key)
    assert isinstance(reply, SendPayload) and reply.destination == MAC[0]
    assert decode_message(_opened(ACCOUNTS[0], reply, MAC[5]).data).authority == AUTHORITIES[0].public_key
    with pytest.raises(E2EError):
        sealer_of(ACCOUNTS[1]).open_fragment(reply.payload, reply.destination, MAC[5])
    assert authority.transport.refusals() == {}
    assert authority.transport.send(MAC[1], msg_type, payload) == Dropped(TransportRefusal.E2E_NO_IDENTITY,
                                                                          MAC[1].hex(":"))


def test_authority_resends_a_reply_once_when_its_path_ends(tmp_path: Path) -> None:
    """The mesh's path to the station a vote just went to ends: the vote
    goes again at once, sealed as before, and only once; a path that
    appears, or one that ends after the retry interval, resends nothing."""
    authority = _authority(tmp_path)
    msg_type, payload = frame_message(every_message()["order"])
    _, reply = authority.on_message(MAC[0], msg_type, payload, 2.0, ACCOUNTS[0].public_key)
    # A path appearing brings the authority's announcement, not the vote.
    assert _kinds(authority.on_path(MAC[0], True, 2.05)) == [MessageType.FASTPAY_ANNOUNCE]
    [again] = authority.on_path(MAC[0], False, 2.1)
    assert isinstance(again, SendPayload) and again.destination == MAC[0]
    assert decode_message(_opened(ACCOUNTS[0], again, MAC[5]).data) == decode_message(
        _opened(ACCOUNTS[0], reply, MAC[5]).data)
    assert authority.on_path(MAC[0], False, 2.2) == []
    authority.on_message(MAC[0], msg_type, payload, 3.0, ACCOUNTS[0].public_key)
    assert authority.on_path(MAC[0], False, 3.0 + authority.config.retry_interval + 0.01) == []


def _kinds(actions: list) -> list[int]:
    return [a.payload.msg_type for a in actions if isinstance(a, SendPayload)]


def test_authority_announces_itself_to_a_station_whose_path_appears(tmp_path: Path) -> None:
    """A path to a station appears (first seen, back after it ended, or
    renewed after more than an announcement interval of silence): the
    authority's announcement goes to that station alone, and a client there
    binds the authority to our MAC from it. A path renewed within the
    interval sends nothing; with announce_on_new_path off nothing is sent."""
    authority = _authority(tmp_path)
    interval = authority.config.authority_announce_interval
    [first] = authority.on_path(MAC[0], True, 1.0)
    assert first.destination == MAC[0] and _kinds([first]) == [MessageType.FASTPAY_ANNOUNCE]
    assert authority.on_path(MAC[0], True, 1.0 + interval / 2) == []
    assert authority.on_path(MAC[0], True, 1.0 + interval) == []
    assert _kinds(authority.on_path(MAC[0], True, 2.0 + 2 * interval)) == [MessageType.FASTPAY_ANNOUNCE]
    assert authority.on_path(MAC[0], False, 5.0) == []
    assert _kinds(authority.on_path(MAC[0], True, 5.1)) == [MessageType.FASTPAY_ANNOUNCE]

    client = ClientNode(ACCOUNTS[0].keypair, COMMITTEE, ClientStore(tmp_path / "client.db", ACCOUNTS[0].public_key,
                                                                     1000), MAC[0], e2e_sequence=1)
    fragment = first.payload
    delivered = client.on_deliver(Deliver(MAC[5], MAC[0], fragment), 1.01)
    assert [e.mac for e in delivered if isinstance(e, Discovered)] == [MAC[5]]
    assert client.directory.mac_of(AUTHORITIES[0].public_key) == MAC[5]

    (tmp_path / "quiet").mkdir()
    quiet = _authority(tmp_path / "quiet", AppConfig(announce_on_new_path=False))
    assert quiet.on_path(MAC[0], True, 1.0) == []


def test_authority_whose_store_fails_refuses_and_keeps_the_node_running(tmp_path: Path) -> None:
    """SQLite refuses the authority's write (a trigger added by another
    connection): the delivery is refused and counted, nothing is sent, and
    so is every later one; no exception reaches the node."""
    import sqlite3

    authority = _authority(tmp_path)
    other = sqlite3.connect(tmp_path / "authority.db")
    other.execute("CREATE TRIGGER fail_vote BEFORE INSERT ON vote BEGIN SELECT RAISE(ABORT, 'injected'); END")
    other.close()
    msg_type, payload = frame_message(every_message()["order"])
    for now in (2.0, 3.0):
        [refused] = authority.on_message(MAC[0], msg_type, payload, now, ACCOUNTS[0].public_key)
        assert isinstance(refused, MessageRefused) and refused.reason == Reason.AUTHORITY_FAILED
    assert authority.refused == {str(Reason.AUTHORITY_FAILED): 2}


@pytest.fixture(scope="module")
def fuzzed_parties(tmp_path_factory: pytest.TempPathFactory) -> tuple[AuthorityNode, ClientNode]:
    root = tmp_path_factory.mktemp("fuzz")
    return _authority(root), _client(root)


KINDS = sorted(every_message())
KNOWN_REFUSALS = {str(r) for r in (*Reason, *TransportRefusal, *SealReason, *ReassemblyError)}


@settings(max_examples=250, deadline=None)
@given(st.data())
def test_any_delivery_is_answered_or_refused(fuzzed_parties: tuple[AuthorityNode, ClientNode],
                                             data: st.DataObject) -> None:
    """Random message types and flags over real payloads with bytes flipped
    or cut, as whole messages and as fragments off the mesh: the
    applications return actions (a refusal with a known reason among them
    when refused, and the transport's refusals by known reasons) and never
    raise; no money appears or vanishes at the authority."""
    msg_type, payload = frame_message(every_message()[data.draw(st.sampled_from(KINDS))])
    raw = bytearray(payload)
    for _ in range(data.draw(st.integers(0, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    raw = raw[: data.draw(st.integers(0, len(raw)))]
    msg_type = data.draw(st.sampled_from([msg_type, data.draw(st.integers(0, 12))]))
    flags = data.draw(st.sampled_from([0, FLAG_E2E_SEALED, 0xFF]))
    sealed_by = data.draw(st.sampled_from([None] + [p.public_key for p in AUTHORITIES + ACCOUNTS]))
    count = data.draw(st.integers(1, 3))
    fragment = FastPayFragment(msg_type, flags, data.draw(st.integers(0, 0xFFFF)),
                               data.draw(st.integers(0, count - 1)), count, bytes(raw))
    known = {str(r) for r in Reason}
    for app in fuzzed_parties:
        source = MAC[data.draw(st.integers(1, 4))]
        actions = app.on_message(source, msg_type, bytes(raw), 5.0, sealed_by)
        actions += app.on_deliver(Deliver(source, app.mac, fragment, group=data.draw(st.booleans())), 5.0)
        assert {a.reason for a in actions if isinstance(a, MessageRefused)} <= known
        assert set(app.transport.refusals()) <= KNOWN_REFUSALS
    authority = fuzzed_parties[0]
    assert authority.engine.total_balance() == sum(a.balance for a in COMMITTEE.accounts)


@pytest.mark.parametrize("seal", [True, False])
def test_a_reply_of_several_fragments_leaves_whole(tmp_path: Path, seal: bool) -> None:
    """Six executed transfers to one account make its info-response with
    the received certificates larger than one frame: it leaves whole, in
    fragments that with sealing on each leave room for the seal (and are
    sealed for the account that asked)."""
    authority = _authority(tmp_path, AppConfig(seal=seal))
    for mac, account in ((MAC[0], ACCOUNTS[0]), (MAC[1], ACCOUNTS[1])):
        _deliver_announcement(authority, mac, account_announcement(account.public_key), 0.5)
    sealed_by = ACCOUNTS[0].public_key if seal else None
    for seq in range(6):
        cert = certificate(order(ACCOUNTS[0], ACCOUNTS[1], 1 + seq, seq))
        msg_type, payload = frame_message(ConfirmationOrder(transfer_certificate=cert))
        handled, _ = authority.on_message(MAC[0], msg_type, payload, 1.0 + seq, sealed_by)
        assert handled.outcome == "confirmation"  # type: ignore[union-attr]
    request = AccountInfoRequest(sender=ACCOUNTS[1].public_key, request_received_transfers_excluding_first_nth=0)
    msg_type, payload = frame_message(request)
    # Sealed by the account that asks, as the transport lets through only
    # a seal by the identity bound at its station.
    asker = ACCOUNTS[1].public_key if seal else None
    _, *replies = authority.on_message(MAC[1], msg_type, payload, 9.0, asker)
    whole = frame_message(authority.engine.handle(request))[1]
    assert len(whole) > MAX_FRAGMENT_PAYLOAD
    assert len(replies) > 1 and all(isinstance(r, SendPayload) and r.destination == MAC[1] for r in replies)
    fragments = [r.payload for r in replies]  # type: ignore[union-attr]
    assert [(f.msg_type, f.fragment_number, f.fragment_count) for f in fragments] == [
        (MessageType.FASTPAY_INFO_RESPONSE, k, len(fragments)) for k in range(len(fragments))]
    assert len({f.message_id for f in fragments}) == 1
    assert max(len(f.data) for f in fragments) == MAX_FRAGMENT_PAYLOAD
    if seal:
        assert all(f.flags & FLAG_E2E_SEALED for f in fragments)
        fragments = [_opened(ACCOUNTS[1], r, MAC[5]) for r in replies]  # type: ignore[arg-type]
        assert max(len(f.data) for f in fragments) == MAX_FRAGMENT_PAYLOAD - SEALED_OVERHEAD
    assert b"".join(f.data for f in fragments) == whole
    assert authority.refused == {} and authority.transport.refusals() == {}


def test_the_directory_keeps_every_authority_and_a_bounded_number_of_accounts() -> None:
    """Fresh account keys announced without end: the directory holds at
    most `max_accounts` of them (the oldest go first, counted), and the
    committee's authorities are never pushed out."""
    from meshframes.fastpay.ed25519 import KeyPair

    directory = Directory(COMMITTEE, ACCOUNTS[0].public_key, max_accounts=8)
    for i, authority in enumerate(AUTHORITIES):
        directory.on_announcement(bytes.fromhex(f"0200000001{i:02x}"), COMMITTEE.announcement(authority.public_key), 1.0)
    strangers = [KeyPair.from_seed(bytes([i]) * 32).public_key for i in range(1, 21)]
    for i, key in enumerate(strangers):
        announcement = AuthorityAnnouncement(name=key, weight=0, e2e_key=x25519_public_key(key),
                                             committee_id=COMMITTEE.committee_id)
        directory.on_announcement(bytes.fromhex(f"0200000002{i:02x}"), announcement, 2.0)
    assert directory.evicted == 12
    assert [directory.mac_of(k) is not None for k in strangers] == [False] * 12 + [True] * 8
    assert all(directory.mac_of(a.public_key) is not None for a in AUTHORITIES)


def test_client_resends_to_an_authority_on_the_mesh_path_signals(tmp_path: Path) -> None:
    """A path to an authority that still owes a vote ends: the order goes to
    it again at once, and to no other. A renewed path resends at most once
    per retry interval; after a discovery gave up, the next path carries it."""
    client = _client(tmp_path)
    for i in range(4):
        _deliver_announcement(client, MAC[1 + i], authority_announcement(i), 0.5)
    client.transfer(ACCOUNTS[1].public_key, 10, 1.0)

    def orders_to(actions: list) -> list[bytes]:
        return [a.destination for a in actions
                if isinstance(a, SendPayload) and a.payload.msg_type == MessageType.FASTPAY_ORDER]

    assert orders_to(client.on_path(MAC[2], False, 1.1)) == [MAC[2]]
    assert orders_to(client.on_path(MAC[2], True, 1.2)) == [MAC[2]]  # the loss left it unreached
    assert orders_to(client.on_path(MAC[2], True, 1.3)) == []  # renewed within the retry interval
    assert orders_to(client.on_path(MAC[2], True, 1.2 + client.config.retry_interval)) == [MAC[2]]
    assert orders_to(client.on_path(MAC[9], False, 1.8)) == []  # no party announced there

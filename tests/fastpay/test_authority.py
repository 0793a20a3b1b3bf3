"""The authority engine against FastPay's rules, one rule per test, with
real SQLite stores."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fastpay_harness import certify, sign_order

from meshframes.fastpay import ed25519
from meshframes.fastpay.authority import MAX_RECEIVED_BYTES_PER_REPLY, Authority, AuthorityFailed, Outcome
from meshframes.fastpay.committee import Identity, generate_committee
from meshframes.fastpay.messages import (
    AccountInfoRequest,
    AccountInfoResponse,
    CertifiedTransferOrder,
    ConfirmationOrder,
    CrossShard,
    ErrorKind,
    FastPayError,
    SignedTransferOrder,
    TransferOrder,
)
from meshframes.fastpay.store import AccountState, AuthorityStore
from meshframes.fastpay.wire import decode_message, encode_message, signing_bytes


class World:
    def __init__(self, tmp: Path, weights: list[int] = None, balances: list[int] = None) -> None:
        if balances is None:
            balances = [100, 50, 0]
        if weights is None:
            weights = [1, 1, 1, 1]
        self.tmp = tmp
        self.committee, self.auths, self.accounts = generate_committee(weights, balances)
        self.authority = self.open()

    def open(self) -> Authority:
        store = AuthorityStore(self.tmp / "a0.db", self.committee)
        return Authority(self.auths[0].keypair, self.committee, store)

    def restart(self) -> Authority:
        self.authority.store.close()
        self.authority = self.open()
        return self.authority

    def key(self, i: int) -> bytes:
        return self.accounts[i].public_key


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def expect_error(reply: object, kind: ErrorKind) -> FastPayError:
    assert isinstance(reply, FastPayError), reply
    assert reply.kind is kind
    return reply


def test_valid_order_gets_a_stored_vote(world: World) -> None:
    """A valid order is answered with a vote signed by the authority and persisted."""
    order = sign_order(world.accounts[0], world.key(1), 10, 0)
    vote = world.authority.handle(order)
    assert isinstance(vote, SignedTransferOrder)
    assert vote.value == order and vote.authority == world.auths[0].public_key
    assert ed25519.verify(vote.authority, signing_bytes(order.transfer), vote.signature)
    assert world.authority.store.vote_for(world.key(0), 0) == vote


def test_repeated_order_gets_the_same_vote(world: World) -> None:
    order = sign_order(world.accounts[0], world.key(1), 10, 0)
    first = world.authority.handle(order)
    assert world.authority.handle(order) == first
    assert world.authority.accepted["repeated_order"] == 1


def test_conflicting_order_is_refused_with_the_pending_order(world: World) -> None:
    order = sign_order(world.accounts[0], world.key(1), 10, 0)
    world.authority.handle(order)
    other = sign_order(world.accounts[0], world.key(2), 10, 0)
    error = expect_error(world.authority.handle(other), ErrorKind.PreviousTransferMustBeConfirmedFirst)
    assert error.pending_confirmation == order
    assert "conflicting order refused" in world.authority.last_reason[error.kind.name]


@pytest.mark.parametrize(
    "make,kind,reason",
    [
        (lambda w: sign_order(w.accounts[2], w.key(1), 1, 0), ErrorKind.InsufficientFunding, "balance 0"),
        (lambda w: sign_order(w.accounts[0], w.key(1), 101, 0), ErrorKind.InsufficientFunding, "amount 101"),
        (lambda w: sign_order(w.accounts[0], w.key(1), 1, 1), ErrorKind.UnexpectedSequenceNumber, "expects 0"),
        (lambda w: sign_order(w.accounts[0], w.key(1), 0, 0), ErrorKind.IncorrectTransferAmount, "amount is 0"),
        (
            lambda w: sign_order(w.accounts[0], w.key(1), 1, 2**63),
            ErrorKind.InvalidSequenceNumber,
            "exceeds the maximum",
        ),
        (
            lambda w: sign_order(w.accounts[0], w.key(1), 1, 2**64 - 1),
            ErrorKind.InvalidSequenceNumber,
            "exceeds the maximum",
        ),
        (
            lambda w: sign_order(Identity.generate("account"), w.key(1), 1, 0),
            ErrorKind.UnknownSenderAccount,
            "no account",
        ),
        (
            lambda w: TransferOrder(
                transfer=sign_order(w.accounts[0], w.key(1), 1, 0).transfer,
                signature=sign_order(w.accounts[0], w.key(1), 2, 0).signature,
            ),
            ErrorKind.InvalidSignature,
            "order signature does not verify",
        ),
    ],
)
def test_bad_orders_are_refused_precisely_and_counted(world: World, make, kind, reason) -> None:  # type: ignore[no-untyped-def]
    expect_error(world.authority.handle(make(world)), kind)
    assert world.authority.rejections[kind.name] == 1
    assert reason in world.authority.last_reason[kind.name]
    assert world.authority.store.all_votes() == []


def test_confirmation_moves_funds_once(world: World) -> None:
    order = sign_order(world.accounts[0], world.key(2), 30, 0)
    world.authority.handle(order)
    cert = certify(order, world.auths[:3])
    info = world.authority.handle(ConfirmationOrder(transfer_certificate=cert))
    assert isinstance(info, AccountInfoResponse)
    assert (info.balance, info.next_sequence_number, info.pending_confirmation) == (70, 1, None)
    assert world.authority.account(world.key(2)).balance == 30  # type: ignore[union-attr]
    # Replays (as Cert or ConfirmationOrder) change nothing.
    assert world.authority.handle(cert) == info
    assert world.authority.account(world.key(2)).balance == 30  # type: ignore[union-attr]
    assert world.authority.accepted["repeated_confirmation"] == 1
    assert world.authority.store.confirmed_certificate(world.key(0), 0) == cert


def test_confirmation_without_our_vote_and_to_a_new_account(world: World) -> None:
    """A quorum we were not part of still binds us; the recipient is created."""
    newcomer = Identity.generate("account").public_key
    order = sign_order(world.accounts[1], newcomer, 50, 0)
    cert = certify(order, world.auths[1:])
    world.authority.handle(cert)
    assert world.authority.account(newcomer).balance == 50  # type: ignore[union-attr]
    assert world.authority.account(world.key(1)).balance == 0  # type: ignore[union-attr]


def test_confirmation_ahead_of_the_account_asks_for_earlier_ones(world: World) -> None:
    cert = certify(sign_order(world.accounts[0], world.key(1), 1, 3), world.auths[:3])
    error = expect_error(world.authority.handle(cert), ErrorKind.MissingEalierConfirmations)
    assert error.current_sequence_number == 0


def _sig(i: Identity, order: TransferOrder) -> tuple[bytes, bytes]:
    return (i.public_key, i.keypair.sign(signing_bytes(order.transfer)))


@pytest.mark.parametrize(
    "signers,kind,reason",
    [
        (lambda w, o: [_sig(a, o) for a in w.auths[:2]], ErrorKind.CertificateRequiresQuorum, "weight 2"),
        (
            lambda w, o: [_sig(w.auths[0], o), _sig(w.auths[1], o), _sig(w.auths[0], o)],
            ErrorKind.CertificateAuthorityReuse,
            "signed twice",
        ),
        (
            lambda w, o: [_sig(a, o) for a in w.auths[:2]] + [_sig(Identity.generate("authority"), o)],
            ErrorKind.UnknownSigner,
            "not in the committee",
        ),
        (
            lambda w, o: [_sig(a, o) for a in w.auths[:2]] + [(w.auths[2].public_key, bytes(64))],
            ErrorKind.InvalidSignature,
            "signature 2 does not verify",
        ),
    ],
)
def test_bad_certificates_are_refused(world: World, signers, kind, reason) -> None:  # type: ignore[no-untyped-def]
    order = sign_order(world.accounts[0], world.key(1), 5, 0)
    cert = CertifiedTransferOrder(value=order, signatures=tuple(signers(world, order)))
    expect_error(world.authority.handle(cert), kind)
    assert reason in world.authority.last_reason[kind.name]
    assert world.authority.account(world.key(0)).balance == 100  # type: ignore[union-attr]


def test_certificate_with_forged_sender_signature_is_refused(world: World) -> None:
    """Authorities' signatures do not cover the client's: it is checked too."""
    order = sign_order(world.accounts[0], world.key(1), 5, 0)
    forged = TransferOrder(transfer=order.transfer, signature=bytes(64))
    cert = certify(forged, world.auths[:3])
    expect_error(world.authority.handle(cert), ErrorKind.InvalidSignature)
    assert "order signature" in world.authority.last_reason["InvalidSignature"]


def test_weighted_quorum(tmp_path: Path) -> None:
    """Weights 3,1,1,1: total 6, quorum 5, validity 2."""
    w = World(tmp_path, weights=[3, 1, 1, 1])
    assert (w.committee.quorum_threshold, w.committee.validity_threshold) == (5, 2)
    order = sign_order(w.accounts[0], w.key(1), 5, 0)
    expect_error(w.authority.handle(certify(order, w.auths[1:])), ErrorKind.CertificateRequiresQuorum)
    assert isinstance(w.authority.handle(certify(order, w.auths[:3])), AccountInfoResponse)


def test_account_info(world: World) -> None:
    order = sign_order(world.accounts[0], world.key(2), 30, 0)
    world.authority.handle(certify(order, world.auths[1:]))
    order2 = sign_order(world.accounts[0], world.key(2), 5, 1)
    vote = world.authority.handle(order2)
    info = world.authority.handle(AccountInfoRequest(sender=world.key(0), request_sequence_number=0))
    assert isinstance(info, AccountInfoResponse)
    assert info.pending_confirmation == vote
    assert info.requested_certificate == certify(order, world.auths[1:])
    received = world.authority.handle(
        AccountInfoRequest(sender=world.key(2), request_received_transfers_excluding_first_nth=0)
    )
    assert isinstance(received, AccountInfoResponse)
    assert [c.value for c in received.requested_received_transfers] == [order]
    skipped = world.authority.handle(
        AccountInfoRequest(sender=world.key(2), request_received_transfers_excluding_first_nth=2**64 - 1)
    )
    assert skipped.requested_received_transfers == ()  # type: ignore[union-attr]
    expect_error(
        world.authority.handle(AccountInfoRequest(sender=world.key(0), request_sequence_number=1)),
        ErrorKind.CertificateNotfound,
    )
    expect_error(
        world.authority.handle(AccountInfoRequest(sender=Identity.generate("account").public_key)),
        ErrorKind.UnknownSenderAccount,
    )


def test_unexpected_messages(world: World) -> None:
    order = sign_order(world.accounts[0], world.key(1), 5, 0)
    vote = world.authority.handle(order)
    expect_error(world.authority.handle(vote), ErrorKind.UnexpectedMessage)  # type: ignore[arg-type]
    cross = CrossShard(certificate=certify(order, world.auths[:3]))
    expect_error(world.authority.handle(cross), ErrorKind.UnexpectedMessage)
    assert world.authority.account(world.key(1)).balance == 50  # type: ignore[union-attr]


def test_wire_batch_answers_garbage_with_invalid_decoding(world: World) -> None:
    order = sign_order(world.accounts[0], world.key(1), 5, 0)
    replies = world.authority.handle_wire_batch([b"\x09\x00\x00\x00", encode_message(order)])
    assert decode_message(replies[0]) == FastPayError(kind=ErrorKind.InvalidDecoding)  # type: ignore[arg-type]
    assert isinstance(decode_message(replies[1]), SignedTransferOrder)  # type: ignore[arg-type]
    assert "SerializedMessage variant" in world.authority.last_reason["InvalidDecoding"]


def test_restart_restores_exact_state(world: World) -> None:
    """Balances, sequence numbers, the pending vote and certificates survive."""
    first = sign_order(world.accounts[0], world.key(1), 30, 0)
    world.authority.handle(certify(first, world.auths[1:]))
    order = sign_order(world.accounts[0], world.key(1), 5, 1)
    vote = world.authority.handle(order)
    authority = world.restart()
    assert authority.account(world.key(0)).balance == 70  # type: ignore[union-attr]
    assert authority.account(world.key(0)).next_sequence_number == 1  # type: ignore[union-attr]
    assert authority.account(world.key(1)).balance == 80  # type: ignore[union-attr]
    assert authority.handle(order) == vote
    conflicting = sign_order(world.accounts[0], world.key(2), 5, 1)
    expect_error(authority.handle(conflicting), ErrorKind.PreviousTransferMustBeConfirmedFirst)


def test_uncommitted_batch_is_lost_entirely(world: World) -> None:
    """A crash before commit loses the whole batch, never half of it, and
    the votes in it were never released."""
    order = sign_order(world.accounts[0], world.key(1), 5, 0)
    world.authority.store.begin()
    world.authority.store.put_vote(
        SignedTransferOrder(value=order, authority=world.auths[0].public_key, signature=bytes(64))
    )
    authority = world.restart()
    assert authority.store.all_votes() == []
    assert isinstance(authority.handle(order), SignedTransferOrder)


def test_store_refuses_another_committee(world: World) -> None:
    other, _, _ = generate_committee([1], [1])
    with pytest.raises(Exception, match="belongs to committee"):
        AuthorityStore(world.tmp / "a0.db", other)




def test_transfer_to_primary_leaves_fastpay(world: World) -> None:
    """A Primary recipient is not credited here: the funds leave FastPay."""
    order = sign_order(world.accounts[0], world.key(1), 40, 0, primary=True)
    info = world.authority.handle(certify(order, world.auths[1:]))
    assert isinstance(info, AccountInfoResponse) and info.balance == 60
    assert world.authority.account(world.key(1)).balance == 50  # type: ignore[union-attr]
    assert world.authority.total_balance() == 150 - 40


def test_batch_is_consistent_within_itself(world: World) -> None:
    """In one group-committed batch the second of two conflicting orders is
    refused, and a confirmation sees the vote cast earlier in the batch."""
    order = sign_order(world.accounts[0], world.key(1), 10, 0)
    rival = sign_order(world.accounts[0], world.key(2), 10, 0)
    vote, refusal, info = world.authority.handle_batch([order, rival, certify(order, world.auths[1:])])
    assert isinstance(vote, SignedTransferOrder)
    expect_error(refusal, ErrorKind.PreviousTransferMustBeConfirmedFirst)
    assert isinstance(info, AccountInfoResponse) and info.next_sequence_number == 1
    assert world.restart().account(world.key(1)).balance == 60  # type: ignore[union-attr]


# Every u64 of a message that reaches SQLite (a signed 64-bit INTEGER), at
# and past the boundary: refused or answered precisely, and the authority
# keeps serving.
U64_BOUNDARY = [2**63 - 1, 2**63, 2**64 - 1]


@pytest.mark.parametrize("seq", U64_BOUNDARY)
def test_info_request_for_any_u64_sequence_number_is_certificate_not_found(world: World, seq: int) -> None:
    """One unauthenticated info request cannot disable the authority."""
    request = AccountInfoRequest(sender=world.key(0), request_sequence_number=seq)
    [reply] = world.authority.handle_wire_batch([encode_message(request)])
    expect_error(decode_message(reply), ErrorKind.CertificateNotfound)  # type: ignore[arg-type]
    assert f"sequence number {seq} (the account's next sequence number is 0)" in (
        world.authority.last_reason["CertificateNotfound"])
    assert isinstance(world.authority.handle(sign_order(world.accounts[0], world.key(1), 5, 0)), SignedTransferOrder)


@pytest.mark.parametrize("skip", U64_BOUNDARY)
def test_info_request_skipping_any_u64_received_transfers(world: World, skip: int) -> None:
    world.authority.handle(certify(sign_order(world.accounts[0], world.key(2), 5, 0), world.auths[1:]))
    info = world.authority.handle(
        AccountInfoRequest(sender=world.key(2), request_received_transfers_excluding_first_nth=skip))
    assert isinstance(info, AccountInfoResponse) and info.requested_received_transfers == ()


@pytest.mark.parametrize("seq", U64_BOUNDARY)
def test_certificate_for_any_u64_sequence_number(world: World, seq: int) -> None:
    """Even a quorum-signed certificate past the maximum executes nothing
    and stores nothing: the account is at 0, earlier ones are missing."""
    cert = certify(sign_order(world.accounts[0], world.key(1), 1, seq), world.auths[1:])
    error = expect_error(world.authority.handle(ConfirmationOrder(transfer_certificate=cert)),
                         ErrorKind.MissingEalierConfirmations)
    assert error.current_sequence_number == 0
    assert world.authority.store.all_certificates() == []
    assert world.authority.account(world.key(0)).balance == 100  # type: ignore[union-attr]


@pytest.mark.parametrize("seq", U64_BOUNDARY[1:])
def test_store_lookups_past_sqlite_integers_find_nothing(world: World, seq: int) -> None:
    store = world.authority.store
    assert store.vote_for(world.key(0), seq) is None
    assert store.confirmed_certificate(world.key(0), seq) is None
    assert store.received_certificates(world.key(0), seq).certificates == ()


def sabotage(db: Path, statements: list[str]) -> None:
    """Change the database under the authority from a second connection, as
    another process could: SQLite itself then makes the authority's writes
    fail, no code of ours is replaced."""
    other = sqlite3.connect(db, isolation_level=None)
    for statement in statements:
        other.execute(statement)
    other.close()


# A trigger that aborts the vote's INSERT (a write fails mid-batch), and a
# deferred foreign key that only COMMIT checks (the commit itself fails).
FAIL_WRITE = ["CREATE TRIGGER fail_vote BEFORE INSERT ON vote BEGIN SELECT RAISE(ABORT, 'injected'); END"]
FAIL_COMMIT = [
    "CREATE TABLE parent (id INTEGER PRIMARY KEY)",
    "CREATE TABLE child (ref INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)",
    "CREATE TRIGGER fail_commit AFTER INSERT ON vote BEGIN INSERT INTO child VALUES (1); END",
]
REPAIR = ["DROP TRIGGER IF EXISTS fail_vote", "DROP TRIGGER IF EXISTS fail_commit"]


@pytest.mark.parametrize("fault", [FAIL_WRITE, FAIL_COMMIT], ids=["write-fails", "commit-fails"])
def test_store_failure_releases_no_reply_and_stops_the_engine(world: World, fault: list[str]) -> None:
    """Group commit for real: when SQLite refuses the batch, none of its
    replies leaves (not even those computed before the failure), the
    engine refuses all further work, and a rebuild from the store finds
    none of the batch."""
    info = AccountInfoRequest(sender=world.key(0))
    order = sign_order(world.accounts[0], world.key(1), 5, 0)
    sabotage(world.tmp / "a0.db", fault)
    with pytest.raises(AuthorityFailed, match="no reply was sent"):
        world.authority.handle_batch([info, order])
    with pytest.raises(AuthorityFailed):
        world.authority.handle(info)
    sabotage(world.tmp / "a0.db", REPAIR)
    authority = world.restart()
    assert authority.store.all_votes() == []
    assert isinstance(authority.handle(order), SignedTransferOrder)


def test_unforeseen_failure_of_one_message_is_undone_alone(world: World) -> None:
    """A message that breaks the engine in a way no rule names (here a
    corrupt message object whose sender cannot be looked up) is answered
    with ErrorWhileProcessingTransferOrder and counted; the rest of its
    batch commits and the authority keeps serving."""
    corrupt = AccountInfoRequest(sender=world.key(0))
    object.__setattr__(corrupt, "sender", [world.key(0)])
    order = sign_order(world.accounts[0], world.key(1), 5, 0)
    vote, error, again = world.authority.handle_batch([order, corrupt, order])
    assert isinstance(vote, SignedTransferOrder) and again == vote
    expect_error(error, ErrorKind.ErrorWhileProcessingTransferOrder)
    assert "TypeError" in world.authority.last_reason["ErrorWhileProcessingTransferOrder"]
    assert world.restart().store.all_votes() == [vote]


def test_savepoint_undoes_one_message_inside_the_batch(world: World) -> None:
    """The per-message savepoint: writes rolled back to it vanish, writes
    before it commit with the batch."""
    store = world.authority.store
    order = sign_order(world.accounts[0], world.key(1), 5, 0)
    vote = SignedTransferOrder(value=order, authority=world.auths[0].public_key, signature=bytes(64))
    store.begin()
    store.put_account(world.key(2), AccountState(7, 0))
    store.savepoint()
    store.put_vote(vote)
    store.rollback_to_savepoint()
    store.commit()
    reopened = world.restart()
    assert reopened.store.all_votes() == []
    assert reopened.account(world.key(2)).balance == 7  # type: ignore[union-attr]


def test_info_reply_carries_one_bounded_page_of_received_certificates(world: World) -> None:
    """Sixty received certificates (27 KB) for one account: an info request
    with excluding_first_nth = 0 draws one page of at most
    MAX_RECEIVED_BYTES_PER_REPLY, a few fragments, counted as info_page;
    asking past each page walks the whole log in order, the last page
    complete (info)."""
    executed = []
    for seq in range(60):
        cert = certify(sign_order(world.accounts[0], world.key(2), 1, seq), world.auths[1:])
        assert isinstance(world.authority.handle(ConfirmationOrder(transfer_certificate=cert)), AccountInfoResponse)
        executed.append(cert)
    fetched: list[CertifiedTransferOrder] = []
    outcomes = []
    while True:
        processed = world.authority.process(AccountInfoRequest(
            sender=world.key(2), request_received_transfers_excluding_first_nth=len(fetched)))
        reply = processed.reply
        assert isinstance(reply, AccountInfoResponse)
        page = reply.requested_received_transfers
        assert sum(len(encode_message(c)) - 4 for c in page) <= MAX_RECEIVED_BYTES_PER_REPLY
        assert len(encode_message(reply)) <= MAX_RECEIVED_BYTES_PER_REPLY + 1024
        outcomes.append(processed.outcome)
        if not page:
            break
        fetched += page
    assert fetched == executed
    assert outcomes[0] is Outcome.INFO_PAGE and outcomes[-2:] == [Outcome.INFO, Outcome.INFO]
    assert world.authority.accepted[Outcome.INFO_PAGE] == len(outcomes) - 2 >= 3

"""What a restarted `meshframes node` keeps, on the stores it really opens
(meshframes.hosts.service.open_party: SQLite in the store directory, the
end-to-end sequence file beside it): an authority restarted mid-transfer
gives the same vote again and no second one, keeps the confirmations it
executed and executes none twice; a client resumes its pending order; no
end-to-end sequence number is used twice, even when the clock steps back."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from meshframes.app.authority_node import AuthorityNode
from meshframes.app.client_node import ClientNode
from meshframes.app.party import Party
from meshframes.fastpay.client import Phase
from meshframes.fastpay.committee import Identity, generate_committee
from meshframes.fastpay.messages import (
    Address,
    CertifiedTransferOrder,
    ConfirmationOrder,
    ErrorKind,
    FastPayError,
    SignedTransferOrder,
    Transfer,
    TransferOrder,
)
from meshframes.fastpay.wire import signing_bytes
from meshframes.hosts.service import (
    SEQUENCE_FILE,
    Credentials,
    NodeSetupError,
    Role,
    SequenceReservation,
    open_party,
)

MAC = bytes.fromhex("020000000000")
GENESIS = 100


@pytest.fixture
def committee() -> tuple[Credentials, list[Identity], list[Identity]]:
    committee, authorities, accounts = generate_committee([1, 1, 1, 1], [GENESIS, GENESIS])
    return Credentials(committee, authorities[0]), authorities, accounts


def order(sender: Identity, recipient: Identity, amount: int, seq: int) -> TransferOrder:
    transfer = Transfer(sender=sender.public_key, recipient=Address.fastpay(recipient.public_key),
                        amount=amount, sequence_number=seq)
    return TransferOrder(transfer=transfer, signature=sender.keypair.sign(signing_bytes(transfer)))


def restart(role: Role, credentials: Credentials, store: Path) -> tuple[Party, Callable[[], None]]:
    """Open the party as a starting node does (a previous one may still
    hold the database, as a killed process's would vanish under it)."""
    return open_party(role, credentials, store, MAC, SequenceReservation(store / SEQUENCE_FILE))


def test_authority_restarted_mid_transfer_votes_once_and_keeps_its_confirmation(
        tmp_path: Path, committee: tuple[Credentials, list[Identity], list[Identity]]) -> None:
    """Vote, restart (the old connection never closed, as after SIGKILL):
    the same order gets the very same vote, a conflicting one none. Execute
    the certificate, restart: the balances are there, and the same
    confirmation again changes nothing."""
    credentials, authorities, (alice, bob) = committee
    pay = order(alice, bob, 30, 0)
    first, _ = restart(Role.AUTHORITY, credentials, tmp_path)
    assert isinstance(first, AuthorityNode)
    vote = first.engine.process(pay).reply
    assert isinstance(vote, SignedTransferOrder)

    second, close_second = restart(Role.AUTHORITY, credentials, tmp_path)
    assert isinstance(second, AuthorityNode)
    assert second.engine.process(pay).reply == vote
    conflicting = second.engine.process(order(alice, bob, 31, 0)).reply
    assert isinstance(conflicting, FastPayError)
    assert conflicting.kind is ErrorKind.PreviousTransferMustBeConfirmedFirst
    assert second.engine.store.all_votes() == [vote]

    message = signing_bytes(pay.transfer)
    certificate = CertifiedTransferOrder(value=pay, signatures=tuple(
        (a.public_key, a.keypair.sign(message)) for a in authorities[:3]))
    second.engine.process(ConfirmationOrder(transfer_certificate=certificate))
    close_second()

    third, close_third = restart(Role.AUTHORITY, credentials, tmp_path)
    assert isinstance(third, AuthorityNode)
    balances = {a: s.balance for a, s in third.engine.accounts().items()}
    assert balances == {alice.public_key: GENESIS - 30, bob.public_key: GENESIS + 30}
    assert third.engine.accounts()[alice.public_key].next_sequence_number == 1
    third.engine.process(ConfirmationOrder(transfer_certificate=certificate))
    assert {a: s.balance for a, s in third.engine.accounts().items()} == balances
    assert third.engine.store.all_certificates() == [certificate]
    close_third()


def test_client_restarted_resumes_its_pending_order(
        tmp_path: Path, committee: tuple[Credentials, list[Identity], list[Identity]]) -> None:
    """The order a client signed survives the restart and is what it asks
    votes for again; it signs no other for that sequence number."""
    _, _, (alice, bob) = committee
    credentials = Credentials(committee[0].committee, alice)
    first, _ = restart(Role.CLIENT, credentials, tmp_path)
    assert isinstance(first, ClientNode)
    first.transfer(bob.public_key, 25, 0.0)
    pending = first.engine.store.state().pending_order
    assert pending is not None and pending.transfer.amount == 25

    second, close = restart(Role.CLIENT, credentials, tmp_path)
    assert isinstance(second, ClientNode)
    second.start(0.0)
    assert second.engine.phase is Phase.VOTING
    assert second.engine.store.state().pending_order == pending
    assert second.engine.next_sequence_number == 0 and second.engine.balance == GENESIS
    close()


def test_end_to_end_sequence_never_reused_across_restarts_even_when_the_clock_steps_back(
        tmp_path: Path, committee: tuple[Credentials, list[Identity], list[Identity]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Seal with the party's own sealer, keep the reservation ahead as the
    loop does, restart with the wall clock an hour earlier: the restarted
    party's first number is above every number the first run used."""
    credentials = committee[0]
    reservation = SequenceReservation(tmp_path / SEQUENCE_FILE)
    party, _ = open_party(Role.AUTHORITY, credentials, tmp_path, MAC, reservation)
    sealer = party.transport.sealer
    assert sealer is not None
    peer = committee[1][1].public_key
    used = []
    for _ in range(5):
        used.append(sealer.next_sequence)
        sealer.seal_payload(peer, b"order", b"context")
        reservation.keep_ahead(sealer.next_sequence)

    now_ns = time.time_ns()
    monkeypatch.setattr(time, "time_ns", lambda: now_ns - 3600 * 10**9)
    restarted, _ = restart(Role.AUTHORITY, credentials, tmp_path)
    assert restarted.transport.sealer is not None
    assert restarted.transport.sealer.next_sequence > max(used)


def test_reservation_is_written_ahead_of_use(tmp_path: Path) -> None:
    """The file always holds a number above any sealed: written before the
    first use and again once fewer than half a block remain."""
    path = tmp_path / SEQUENCE_FILE
    reservation = SequenceReservation(path, block=8)
    assert reservation.start(now_us=100) == 100
    assert path.read_text() == "108\n"
    reservation.keep_ahead(103)
    assert path.read_text() == "108\n"
    reservation.keep_ahead(105)
    assert path.read_text() == "113\n"
    # A restart whose clock is behind starts at the ceiling, not the clock.
    assert SequenceReservation(path, block=8).start(now_us=7) == 113


def test_corrupt_sequence_file_stops_the_node(tmp_path: Path) -> None:
    path = tmp_path / SEQUENCE_FILE
    path.write_text("twelve\n")
    with pytest.raises(NodeSetupError, match="expected a decimal sequence number"):
        SequenceReservation(path)


def test_store_of_another_committee_is_refused(
        tmp_path: Path, committee: tuple[Credentials, list[Identity], list[Identity]]) -> None:
    restart(Role.AUTHORITY, committee[0], tmp_path)
    other, others, _ = generate_committee([1], [1])
    with pytest.raises(NodeSetupError, match="belongs to committee"):
        restart(Role.AUTHORITY, Credentials(other, others[0]), tmp_path)

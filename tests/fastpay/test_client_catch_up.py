"""An authority left out of a quorum's confirmation is brought up to date
afterwards: without it, the recipient's credit there never happens and
live authorities end with different balances."""

from __future__ import annotations

from pathlib import Path

from fastpay_harness import Cluster

from meshframes.fastpay.client import MAX_PUSHED, Action, Client, Ignored, IgnoreReason, SendToAuthority
from meshframes.fastpay.messages import Address, ConfirmationOrder, ErrorKind, FastPayError


def _payee_balance(cluster: Cluster, name: bytes) -> int:
    account = cluster.honest[name].account(cluster.account_ids[1].public_key)
    return 0 if account is None else account.balance


def test_authority_missing_confirmations_is_behind_until_it_executes_them(tmp_path: Path) -> None:
    """A quorum of three confirms two transfers without the fourth; catch_up
    sends it both certificates, oldest first, and it ends with the others'
    balances."""
    cluster = Cluster(tmp_path, [1, 1, 1, 1], [100, 0])
    payer = cluster.client(0)
    late = cluster.authority_ids[3].public_key
    cluster.deliver_filter = lambda name, message: not (name == late and isinstance(message, ConfirmationOrder))
    to = Address.fastpay(cluster.account_ids[1].public_key)
    for amount in (7, 5):
        outcome = cluster.run(payer, payer.transfer(to, amount, cluster.now))
        assert len(outcome.confirmed) == 1
    assert payer.behind() == [late]
    assert _payee_balance(cluster, late) == 0
    assert _payee_balance(cluster, cluster.authority_ids[0].public_key) == 12

    resend = payer.catch_up(late)
    assert [a.message.transfer_certificate.value.transfer.sequence_number for a in resend
            if isinstance(a, SendToAuthority) and isinstance(a.message, ConfirmationOrder)] == [0, 1]
    cluster.deliver_filter = lambda name, message: True
    cluster.run(payer, resend)
    assert payer.behind() == []
    assert payer.catch_up(late) == []
    assert {_payee_balance(cluster, a.public_key) for a in cluster.authority_ids} == {12}


def test_no_authority_is_behind_when_all_acknowledged(tmp_path: Path) -> None:
    """Every authority acknowledged in time: nothing to catch up."""
    cluster = Cluster(tmp_path, [1, 1, 1, 1], [100, 0])
    payer = cluster.client(0)
    cluster.run(payer, payer.transfer(Address.fastpay(cluster.account_ids[1].public_key), 3, 0.0))
    assert payer.behind() == []


def test_resend_to_one_authority_only_while_it_owes_an_answer(tmp_path: Path) -> None:
    """resend_to: the phase's message to one outstanding authority, not
    sooner than min_gap after the last send to it; nothing once it voted."""
    cluster = Cluster(tmp_path, [1, 1, 1, 1], [100, 0])
    payer = cluster.client(0)
    order = [a for a in payer.transfer(Address.fastpay(cluster.account_ids[1].public_key), 4, 1.0)
             if isinstance(a, SendToAuthority)][0].message
    first, second = (a.public_key for a in cluster.authority_ids[:2])
    assert payer.resend_to(first, 1.2, min_gap=0.5) == []
    assert payer.resend_to(first, 1.5, min_gap=0.5) == [SendToAuthority(first, order)]
    assert payer.resend_to(first, 1.6) == [SendToAuthority(first, order)]
    vote = cluster.ask(second, order)
    assert vote is not None and payer.receive(second, vote, 1.7) == []
    assert payer.resend_to(second, 5.0) == []


def _pump(cluster: Cluster, client: Client, actions: list[Action]) -> None:
    """Each message to its authority, each reply back to `client`, until
    nothing is left to send."""
    queue = list(actions)
    while queue:
        action = queue.pop(0)
        if isinstance(action, SendToAuthority) and cluster.deliver_filter(action.authority, action.message):
            reply = cluster.ask(action.authority, action.message)
            if reply is not None:
                queue += client.receive(action.authority, reply, cluster.now)


def test_recipient_pushes_a_certificate_the_payer_never_brought(tmp_path: Path) -> None:
    """The payer's confirmations never reach the fourth authority (nor does
    the payer catch it up): the recipient, holding the certificate, pushes
    it there, and all four end with the same balances; the authorities'
    acknowledgements end the pushing."""
    cluster = Cluster(tmp_path, [1, 1, 1, 1], [100, 0])
    payer, payee = cluster.client(0), cluster.client(1)
    late = cluster.authority_ids[3].public_key
    cluster.deliver_filter = lambda name, message: not (name == late and isinstance(message, ConfirmationOrder))
    outcome = cluster.run(payer, payer.transfer(Address.fastpay(cluster.account_ids[1].public_key), 9, 0.0))
    assert len(outcome.confirmed) == 1 and payee.balance == 9
    assert _payee_balance(cluster, late) == 0
    assert payee.pushing() == [a.public_key for a in cluster.authority_ids]
    assert payee.push_received(cluster.account_ids[0].public_key, 2.0) == []  # not an authority

    cluster.deliver_filter = lambda name, message: True
    for authority in payee.pushing():
        _pump(cluster, payee, payee.push_received(authority, 2.0))
    assert {_payee_balance(cluster, a.public_key) for a in cluster.authority_ids} == {9}
    assert payee.pushing() == []
    assert payee.push_received(late, 10.0) == []


def test_push_waits_min_gap_and_goes_until_acknowledged(tmp_path: Path) -> None:
    """A push lost on the way is given again, not sooner than min_gap after
    the last one to that authority; an acknowledgement from another
    authority does not count for it."""
    cluster = Cluster(tmp_path, [1, 1, 1, 1], [100, 0])
    payer, payee = cluster.client(0), cluster.client(1)
    first, second = (a.public_key for a in cluster.authority_ids[:2])
    cluster.run(payer, payer.transfer(Address.fastpay(cluster.account_ids[1].public_key), 5, 0.0))
    assert len(payee.push_received(first, 1.0, min_gap=0.5)) == 1  # lost
    assert payee.push_received(first, 1.2, min_gap=0.5) == []
    _pump(cluster, payee, payee.push_received(second, 1.3))
    assert first in payee.pushing() and second not in payee.pushing()
    _pump(cluster, payee, payee.push_received(first, 1.5, min_gap=0.5))
    assert first not in payee.pushing()


def test_pushed_certificates_are_bounded(tmp_path: Path) -> None:
    """Past MAX_PUSHED unacknowledged certificates the oldest is dropped
    and counted: a failed authority never acknowledges any."""
    cluster = Cluster(tmp_path, [1, 1, 1, 1], [10 * MAX_PUSHED, 0])
    payer, payee = cluster.client(0), cluster.client(1)
    to = Address.fastpay(cluster.account_ids[1].public_key)
    for _ in range(MAX_PUSHED + 2):
        cluster.run(payer, payer.transfer(to, 1, cluster.now))
    assert payee.balance == MAX_PUSHED + 2
    assert payee.pushes_dropped == 2
    pushed = payee.push_received(cluster.authority_ids[0].public_key, 0.0)
    assert [a.message.transfer_certificate.value.transfer.sequence_number for a in pushed
            if isinstance(a, SendToAuthority) and isinstance(a.message, ConfirmationOrder)] == list(
                range(2, MAX_PUSHED + 2))


def test_missing_confirmations_while_voting_leaves_our_order_owed(tmp_path: Path) -> None:
    """A MissingEalierConfirmations reply answers a confirmation (a push of
    ours for another payer), never an order: the authority still owes our
    order an answer and is resent it."""
    cluster = Cluster(tmp_path, [1, 1, 1, 1], [100, 0])
    payer = cluster.client(0)
    name = cluster.authority_ids[2].public_key
    payer.transfer(Address.fastpay(cluster.account_ids[1].public_key), 4, 0.0)
    error = FastPayError(kind=ErrorKind.MissingEalierConfirmations, current_sequence_number=0)
    ignored = payer.receive(name, error, 0.1)
    assert [a.reason for a in ignored if isinstance(a, Ignored)] == [IgnoreReason.NOT_AN_ANSWER_TO_AN_ORDER]
    assert len(payer.resend_to(name, 0.2)) == 1

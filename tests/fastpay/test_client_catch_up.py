"""An authority left out of a quorum's confirmation is brought up to date
afterwards: without it, the recipient's credit there never happens and
live authorities end with different balances."""

from __future__ import annotations

from pathlib import Path

from fastpay_harness import Cluster

from meshframes.fastpay.client import SendToAuthority
from meshframes.fastpay.messages import Address, ConfirmationOrder


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

"""FastPay's safety and liveness with f Byzantine authorities out of
3f + 1 (f = 1 and f = 2), on real engines and SQLite stores."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from fastpay_harness import BYZANTINE_MODES, Cluster, certify, sign_order

from meshframes.fastpay.checks import check_certificate
from meshframes.fastpay.messages import AccountInfoRequest, Address, ConfirmationOrder, SignedTransferOrder

F_VALUES = (1, 2)


@pytest.mark.parametrize("f", F_VALUES)
def test_equivocating_client_cannot_double_spend(tmp_path: Path, f: int) -> None:
    """A client signs two orders for one sequence number and shows them to
    the authorities in every possible order; the f Byzantine authorities
    vote for both. Never can both orders gather a quorum."""
    n = 3 * f + 1
    byzantine = {i: "sign-anything" for i in range(f)}
    for first_a in itertools.product((True, False), repeat=n - f):
        run = tmp_path / "".join("a" if x else "b" for x in first_a)
        run.mkdir()
        cluster = Cluster(run, [1] * n, [100, 0, 0], byzantine)
        payer = cluster.account_ids[0]
        order_a = sign_order(payer, cluster.account_ids[1].public_key, 100, 0)
        order_b = sign_order(payer, cluster.account_ids[2].public_key, 100, 0)
        votes: dict[str, list[SignedTransferOrder]] = {"a": [], "b": []}
        honest_order = iter(first_a)
        for ident in cluster.authority_ids:
            name = ident.public_key
            sequence = [("a", order_a), ("b", order_b)]
            if name in cluster.honest and not next(honest_order):
                sequence.reverse()
            for label, order in sequence:
                reply = cluster.ask(name, order)
                if isinstance(reply, SignedTransferOrder):
                    votes[label].append(reply)
        quorum = cluster.committee.quorum_threshold
        weight = {k: sum(cluster.committee.weight(v.authority) for v in vs) for k, vs in votes.items()}
        assert not (weight["a"] >= quorum and weight["b"] >= quorum), (first_a, weight)
        # Whichever order did reach a quorum is executed once, and money is conserved.
        for label, order in (("a", order_a), ("b", order_b)):
            if weight[label] >= quorum:
                cert = certify(order, [i for i in cluster.authority_ids if i.public_key in
                                       {v.authority for v in votes[label]}])
                check_certificate(cert, cluster.committee)
                for authority in cluster.honest.values():
                    authority.handle(cert)
        for authority in cluster.honest.values():
            assert authority.total_balance() == 100
            assert authority.account(payer.public_key).balance in (0, 100)  # type: ignore[union-attr]


@pytest.mark.parametrize("f", F_VALUES)
@pytest.mark.parametrize("mode", BYZANTINE_MODES)
def test_honest_transfer_completes_despite_f_byzantine(tmp_path: Path, f: int, mode: str) -> None:
    """With f authorities silent or lying, an honest client's transfer is
    certified and confirmed by a quorum, and lies are ignored with a reason."""
    n = 3 * f + 1
    cluster = Cluster(tmp_path, [1] * n, [100, 0], {i: mode for i in range(f)})
    payer = cluster.client(0)
    payee = cluster.client(1)
    outcome = cluster.run(payer, payer.transfer(Address.fastpay(payee.address), 40, cluster.now))
    assert len(outcome.certified) == 1 and len(outcome.confirmed) == 1
    check_certificate(outcome.certified[0], cluster.committee)
    assert (payer.balance, payer.next_sequence_number) == (60, 1)
    assert payee.balance == 40
    if mode in ("garbage-signature", "wrong-order", "impersonate"):
        assert outcome.ignored, "the Byzantine votes should have been reported"
        assert not {s for s, _ in outcome.certified[0].signatures} & set(cluster.byzantine)
    for authority in cluster.honest.values():
        assert authority.account(payee.address).balance == 40  # type: ignore[union-attr]
        assert authority.total_balance() == 100
    # A second transfer works too (sequence numbers advance everywhere).
    outcome = cluster.run(payer, payer.transfer(Address.fastpay(payee.address), 60, cluster.now))
    assert len(outcome.confirmed) == 1 and payer.balance == 0


def test_reasons_for_ignored_votes(tmp_path: Path) -> None:
    """Each kind of bad vote is ignored under its own reason."""
    expected = {
        "garbage-signature": "invalid vote (InvalidSignature)",
        "wrong-order": "vote for a different transfer order",
        "impersonate": "invalid vote (InvalidSignature)",
        "refuse": "order refused (InsufficientFunding)",
    }
    for mode, reason in expected.items():
        run = tmp_path / mode
        run.mkdir()
        cluster = Cluster(run, [1, 1, 1, 1], [100, 0], {0: mode})
        payer = cluster.client(0)
        cluster.run(payer, payer.transfer(Address.fastpay(cluster.account_ids[1].public_key), 1, 0.0))
        assert payer.ignored[reason] >= 1, (mode, dict(payer.ignored))


def test_transfer_stalls_without_quorum_and_finishes_when_authorities_return(tmp_path: Path) -> None:
    """With f + 1 authorities unreachable nothing is certified (no false
    progress); once they come back the retries complete the transfer."""
    cluster = Cluster(tmp_path, [1, 1, 1, 1], [100, 0])
    names = list(cluster.honest)
    down = set(names[:2])
    cluster.deliver_filter = lambda name, message: name not in down
    payer = cluster.client(0)
    outcome = cluster.run(payer, payer.transfer(Address.fastpay(cluster.account_ids[1].public_key), 10, 0.0), 5)
    assert outcome.certified == [] and payer.balance == 100
    down.clear()
    outcome = cluster.run(payer, payer.on_timer(cluster.now + 100))
    assert len(outcome.confirmed) == 1 and payer.balance == 90


def test_client_resumes_an_interrupted_transfer(tmp_path: Path) -> None:
    """A client that crashes after two votes resumes from its store with the
    very same order, and finishes."""
    cluster = Cluster(tmp_path, [1, 1, 1, 1], [100, 0])
    payer = cluster.client(0)
    names = list(cluster.honest)
    cluster.deliver_filter = lambda name, message: name in names[:2]
    actions = payer.transfer(Address.fastpay(cluster.account_ids[1].public_key), 25, 0.0)
    cluster.run(payer, actions, 1)
    order = payer.store.state().pending_order
    assert order is not None
    payer = cluster.restart_client(0)
    cluster.deliver_filter = lambda name, message: True
    outcome = cluster.run(payer, payer.resume(cluster.now))
    assert [c.value for c in outcome.certified] == [order]
    assert len(outcome.confirmed) == 1 and payer.balance == 75 and payer.next_sequence_number == 1
    with pytest.raises(Exception, match="in progress"):
        # Mid-transfer, a new transfer is refused rather than signed.
        cluster.deliver_filter = lambda name, message: False
        payer.transfer(Address.fastpay(cluster.account_ids[1].public_key), 1, cluster.now)
        payer.transfer(Address.fastpay(cluster.account_ids[1].public_key), 1, cluster.now)


def test_client_resumes_confirmation_after_crash(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, [1, 1, 1, 1], [100, 0])
    payer = cluster.client(0)
    # Votes get through, confirmations do not.
    cluster.deliver_filter = lambda name, message: type(message).__name__ == "TransferOrder"
    outcome = cluster.run(payer, payer.transfer(Address.fastpay(cluster.account_ids[1].public_key), 5, 0.0), 2)
    assert len(outcome.certified) == 1 and outcome.confirmed == []
    payer = cluster.restart_client(0)
    cluster.deliver_filter = lambda name, message: True
    outcome = cluster.run(payer, payer.resume(cluster.now))
    assert len(outcome.confirmed) == 1
    for authority in cluster.honest.values():
        assert authority.account(payer.address).balance == 95  # type: ignore[union-attr]


def test_lagging_authority_is_brought_up_to_date(tmp_path: Path) -> None:
    """An authority that missed a confirmation refuses the next order; the
    client sends it the missing certificate and it votes."""
    cluster = Cluster(tmp_path, [1, 1, 1, 1], [100, 0])
    payer = cluster.client(0)
    laggard = list(cluster.honest)[3]
    cluster.deliver_filter = lambda name, message: name != laggard
    recipient = Address.fastpay(cluster.account_ids[1].public_key)
    cluster.run(payer, payer.transfer(recipient, 5, 0.0))
    assert cluster.honest[laggard].account(payer.address).next_sequence_number == 0  # type: ignore[union-attr]
    others = list(cluster.honest)[:3]
    # Only the laggard and one other answer: the laggard's vote is needed.
    cluster.deliver_filter = lambda name, message: name in (laggard, others[0], others[1])
    outcome = cluster.run(payer, payer.transfer(recipient, 5, cluster.now))
    assert len(outcome.confirmed) == 1
    assert laggard in {name for name, _ in outcome.certified[0].signatures}
    assert cluster.honest[laggard].account(payer.address).next_sequence_number == 2  # type: ignore[union-attr]


def _lagging_cluster(tmp_path: Path) -> tuple[Cluster, bytes, bytes]:
    """A first transfer confirmed without authority X (its confirmation to X
    lost, so X still holds its vote for that old order), then authority Y
    unreachable: the second transfer needs X's vote."""
    cluster = Cluster(tmp_path, [1, 1, 1, 1], [100, 0])
    x, y = list(cluster.honest)[:2]
    payer = cluster.client(0)
    payee = Address.fastpay(cluster.account_ids[1].public_key)
    cluster.deliver_filter = lambda name, message: not (name == x and isinstance(message, ConfirmationOrder))
    assert len(cluster.run(payer, payer.transfer(payee, 10, cluster.now)).confirmed) == 1
    account = cluster.honest[x].account(payer.address)
    assert account is not None and account.next_sequence_number == 0 and account.pending is not None
    return cluster, x, y


def test_authority_holding_a_vote_for_an_older_order_is_caught_up(tmp_path: Path) -> None:
    """Its account info carries a vote, but not for our order: the client
    sends it the certificates it missed, then the order, and gets the vote."""
    cluster, x, y = _lagging_cluster(tmp_path)
    cluster.deliver_filter = lambda name, message: name != y
    payer = cluster.client(0)
    outcome = cluster.run(payer, payer.transfer(Address.fastpay(cluster.account_ids[1].public_key), 20,
                                                cluster.now))
    assert len(outcome.confirmed) == 1 and payer.balance == 70
    assert x in {s for s, _ in outcome.certified[0].signatures}
    assert cluster.honest[x].account(payer.address).next_sequence_number == 2  # type: ignore[union-attr]


def test_help_for_a_lagging_authority_is_given_again_when_lost(tmp_path: Path) -> None:
    """The first account-info request and the first catch-up certificate to
    X are lost on the way: the client helps again on a later retry instead
    of giving X up (which, with Y gone, would stall the transfer for good)."""
    cluster, x, y = _lagging_cluster(tmp_path)
    lost: set[type] = set()

    def deliver(name: bytes, message: object) -> bool:
        if name == y:
            return False
        if name == x and isinstance(message, (AccountInfoRequest, ConfirmationOrder)) and type(message) not in lost:
            lost.add(type(message))
            return False
        return True

    cluster.deliver_filter = deliver
    payer = cluster.client(0)
    outcome = cluster.run(payer, payer.transfer(Address.fastpay(cluster.account_ids[1].public_key), 20,
                                                cluster.now))
    assert lost == {AccountInfoRequest, ConfirmationOrder}
    assert len(outcome.confirmed) == 1 and payer.balance == 70

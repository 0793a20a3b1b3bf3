"""The client engine's own checks: what it refuses to sign, which
certificates it credits, and the announcement of its committee."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastpay_harness import Cluster, certify, sign_order

from meshframes.fastpay.client import RetryAt, SendToAuthority
from meshframes.fastpay.errors import Rejection
from meshframes.fastpay.messages import Address, ErrorKind, TransferOrder
from meshframes.fastpay.wire import decode_announcement, encode_announcement


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    return Cluster(tmp_path, [1, 1, 1, 1], [100, 0, 0])


def test_refuses_overdraft_and_zero_amount_without_signing(cluster: Cluster) -> None:
    payer = cluster.client(0)
    to = Address.fastpay(cluster.account_ids[1].public_key)
    with pytest.raises(Rejection) as info:
        payer.transfer(to, 101, 0.0)
    assert info.value.kind is ErrorKind.InsufficientFunding and "balance 100" in info.value.reason
    with pytest.raises(Rejection) as info:
        payer.transfer(to, 0, 0.0)
    assert info.value.kind is ErrorKind.IncorrectTransferAmount
    assert payer.store.state().pending_order is None


def test_order_goes_to_every_authority_with_a_retry_timer(cluster: Cluster) -> None:
    payer = cluster.client(0)
    actions = payer.transfer(Address.fastpay(cluster.account_ids[1].public_key), 5, 10.0)
    sends = [a for a in actions if isinstance(a, SendToAuthority)]
    assert {a.authority for a in sends} == set(cluster.committee.names)
    assert all(isinstance(a.message, TransferOrder) for a in sends)
    assert actions[-1] == RetryAt(10.0 + payer.retry_interval)
    assert payer.on_timer(10.0) == []  # not due yet
    resent = payer.on_timer(10.0 + payer.retry_interval)
    assert len([a for a in resent if isinstance(a, SendToAuthority)]) == 4


def test_received_certificates_are_verified_and_credited_once(cluster: Cluster) -> None:
    payee = cluster.client(1)
    order = sign_order(cluster.account_ids[0], payee.address, 30, 0)
    cert = certify(order, cluster.authority_ids[:3])
    assert payee.receive_certificate(cert) is True
    assert payee.receive_certificate(cert) is False
    assert payee.balance == 30
    with pytest.raises(Rejection) as info:
        payee.receive_certificate(certify(sign_order(cluster.account_ids[0], payee.address, 1, 1),
                                          cluster.authority_ids[:2]))
    assert info.value.kind is ErrorKind.CertificateRequiresQuorum
    with pytest.raises(Rejection, match="not for a transfer to this account"):
        cluster.client(2).receive_certificate(cert)
    assert payee.balance == 30


def test_announcement_of_each_authority(cluster: Cluster) -> None:
    name = cluster.authority_ids[2].public_key
    announcement = cluster.committee.announcement(name)
    assert announcement.committee_id == cluster.committee.committee_id
    assert decode_announcement(encode_announcement(announcement)) == announcement
    with pytest.raises(KeyError, match="not in committee"):
        cluster.committee.announcement(bytes(32))

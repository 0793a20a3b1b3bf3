"""Planned transfers and the checks every FastPay-over-mesh scenario ends
with, each against facts computed here rather than read off the engines:
certificates re-verified against the committee, quorums from the paper's
2N/3 + 1, balances from the plan's own arithmetic."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from meshframes.app.events import CertificateReceived, TransferConfirmed, TransferStarted
from meshframes.fastpay.checks import check_certificate
from meshframes.fastpay.messages import CertifiedTransferOrder
from meshframes.sim.scenario import FastPayMesh


@dataclass(frozen=True)
class Planned:
    payer: int  # account number
    recipient: int
    amount: int
    at: float


def schedule(mesh: FastPayMesh, plan: list[Planned]) -> None:
    for p in plan:
        mesh.transfer(p.payer, p.recipient, p.amount, p.at)


def paper_quorum(authorities: int) -> int:
    """FastPay with N = 3f + 1 equal-weight authorities: N - f = 2N/3 + 1."""
    return 2 * authorities // 3 + 1


def certificates(mesh: FastPayMesh, plan: list[Planned]) -> dict[tuple[int, int], CertifiedTransferOrder]:
    """(payer, sequence number) -> the certificate the payer holds, after
    checking that each payer started exactly its planned transfers, in
    order, and saw every one confirmed."""
    out = {}
    for j, node in enumerate(mesh.clients):
        wanted = [(mesh.account_ids[p.recipient].public_key, p.amount) for p in plan if p.payer == j]
        started = [e for _, e in mesh.timeline.of(TransferStarted, node)]
        assert [(e.recipient, e.amount) for e in started] == wanted, f"account {j} started other transfers"
        assert [e.sequence_number for e in started] == list(range(len(wanted)))
        confirmed = {e.sequence_number  # type: ignore[attr-defined]
                     for _, e in mesh.timeline.of(TransferConfirmed, node)}
        assert confirmed == set(range(len(wanted))), f"account {j}: confirmed {sorted(confirmed)} of {len(wanted)}"
        for cert in mesh.client(j).engine.store.sent_certificates(0):
            out[(j, cert.value.transfer.sequence_number)] = cert
    return out


def check_ledger(mesh: FastPayMesh, plan: list[Planned]) -> dict[tuple[int, int], CertifiedTransferOrder]:
    """Every planned transfer certified by a quorum, executed by a quorum
    of authorities, credited to its recipient; balances as the plan says;
    money conserved at every honest authority."""
    committee = mesh.committee
    quorum = paper_quorum(len(committee.authorities))
    assert committee.quorum_threshold == quorum
    certs = certificates(mesh, plan)
    assert len(certs) == len(plan)
    for (j, seq), cert in certs.items():
        check_certificate(cert, committee)
        signers = {a for a, _ in cert.signatures}
        assert len(signers) == len(cert.signatures) >= quorum
        assert len(mesh.executed_by(mesh.account_ids[j].public_key, seq)) >= quorum
        assert cert in mesh.client(_account(mesh, cert)).engine.store.received_certificates()
    expected = Counter({j: a.balance for j, a in enumerate(committee.accounts)})
    for p in plan:
        expected[p.payer] -= p.amount
        expected[p.recipient] += p.amount
    for j in range(len(mesh.clients)):
        assert mesh.client(j).engine.balance == expected[j], f"account {j}"
    credited = [(node, e) for node, e in mesh.timeline.of(CertificateReceived)]
    assert len(credited) == len(plan), "each transfer is credited to its recipient exactly once"
    for node, e in credited:
        cert = certs[(next(j for j, k in enumerate(mesh.account_ids) if k.public_key == e.sender),
                      e.sequence_number)]  # type: ignore[attr-defined]
        assert node == mesh.clients[_account(mesh, cert)]
    for i in mesh.honest_authorities():
        engine = mesh.authority(i).engine
        assert engine.total_balance() == mesh.genesis_total(), f"authority {i} does not conserve money"
        if all(engine.store.confirmed_certificate(c.value.transfer.sender, seq) is not None
               for (_, seq), c in certs.items()):
            for j, key in enumerate(mesh.account_ids):
                assert engine.account(key.public_key).balance == expected[j]  # type: ignore[union-attr]
    return certs


def _account(mesh: FastPayMesh, cert: CertifiedTransferOrder) -> int:
    """The account number a certificate pays."""
    key = cert.value.transfer.recipient.key
    return next(j for j, identity in enumerate(mesh.account_ids) if identity.public_key == key)

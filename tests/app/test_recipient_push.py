"""Balances meet at every live authority although the payer never reaches
the one that missed its confirmation: the recipient, who holds the
certificate, brings it there."""

from __future__ import annotations

from pathlib import Path

from meshframes.app.events import TransferConfirmed
from meshframes.app.party import AppConfig
from meshframes.sim.medium import MediumConfig
from meshframes.sim.scenario import FastPayMesh


def _late_authority_run(tmp_path: Path, push_delay: float | None) -> FastPayMesh:
    """Four authorities in a 20 m square, the payer and the recipient
    beside them (range 25 m). Authority 3 is down from 2 s to 12 s; the
    payer pays at 4 s and is down itself from 10 s on, so its catch-up
    never reaches authority 3 once it is back."""
    config = AppConfig(push_delay=push_delay)
    mesh = FastPayMesh(tmp_path, seed=5, authorities=4, balances=[100, 100], app=config,
                       medium=MediumConfig(radio_range=25.0))
    for where in ((20.0, 0.0), (40.0, 0.0), (20.0, 20.0), (40.0, 20.0)):
        mesh.add_authority(where)
    payer = mesh.add_client((0.0, 0.0))
    mesh.add_client((60.0, 10.0))
    late = mesh.authorities[3]
    mesh.fail(late, 2.0)
    mesh.recover(late, 12.0)
    mesh.fail(payer, 10.0)
    mesh.transfer(0, 1, 7, 4.0)
    mesh.run(40.0)
    return mesh


def test_recipient_pushes_the_certificate_to_the_authority_the_payer_lost(tmp_path: Path) -> None:
    """Confirmed by authorities 0-2 before the payer goes down; once
    authority 3 is back only the recipient can bring it the certificate,
    and every authority ends with 93 and 107. With pushing off
    (push_delay None), authority 3 still holds 100 and 100 (the check
    fails without the push)."""
    mesh = _late_authority_run(tmp_path / "push", push_delay=2.0)
    [(_, confirmed)] = mesh.timeline.of(TransferConfirmed, mesh.clients[0])
    assert confirmed.time < 10.0  # type: ignore[attr-defined]
    payer, payee = (a.public_key for a in mesh.account_ids)
    books = [mesh.authority(i).engine.accounts() for i in range(4)]
    assert [(b[payer].balance, b[payee].balance) for b in books] == [(93, 107)] * 4
    assert mesh.client(1).engine.pushing() == []

    late = _late_authority_run(tmp_path / "late", push_delay=None)
    payer_at_3 = late.authority(3).engine.accounts()[payer].balance
    assert payer_at_3 == 100 and late.client(1).engine.pushing() != []

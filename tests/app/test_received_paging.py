"""An account with hundreds of received certificates asks an authority for
them over the simulated mesh: every reply is one bounded page, the client
pages through the log, and nothing is refused or lost on the way."""

from __future__ import annotations

from pathlib import Path

from meshframes.app.events import CertificateReceived, Handled
from meshframes.codec.fastpay import MAX_FRAGMENT_PAYLOAD
from meshframes.fastpay.authority import MAX_RECEIVED_BYTES_PER_REPLY, Outcome
from meshframes.fastpay.messages import Address, CertifiedTransferOrder, ConfirmationOrder, Transfer, TransferOrder
from meshframes.fastpay.wire import signing_bytes
from meshframes.seal.e2e import SEALED_OVERHEAD
from meshframes.sim.medium import MediumConfig
from meshframes.sim.scenario import FastPayMesh

RECEIVED = 300  # 449 octets each with 3 of 4 signatures: 135 KB in all


def test_fetching_hundreds_of_received_certificates_pages_through_the_mesh(tmp_path: Path) -> None:
    """Account 0 paid account 1 300 times (executed by every authority
    before the run). Account 1 fetches its received certificates from
    authority 0, starting with excluding_first_nth = 0: the run goes on,
    each reply is a page of a few fragments, counted as info_page until the
    last, and all 300 are credited once."""
    mesh = FastPayMesh(tmp_path, seed=16, authorities=4, balances=[RECEIVED, 0],
                       medium=MediumConfig(radio_range=25.0))
    for i in range(4):
        mesh.add_authority((20.0 * i, 0.0))
    mesh.add_client((0.0, 20.0))
    mesh.add_client((60.0, 20.0))
    payer, payee = mesh.account_ids[0], mesh.account_ids[1]
    signers = mesh.authority_ids[1:]
    certificates = []
    for seq in range(RECEIVED):
        transfer = Transfer(sender=payer.public_key, recipient=Address.fastpay(payee.public_key), amount=1,
                            sequence_number=seq)
        message = signing_bytes(transfer)
        order = TransferOrder(transfer=transfer, signature=payer.keypair.sign(message))
        certificates.append(CertifiedTransferOrder(
            value=order, signatures=tuple((a.public_key, a.keypair.sign(message)) for a in signers)))
    for i in range(4):
        mesh.authority(i).engine.process_batch([ConfirmationOrder(transfer_certificate=c) for c in certificates])
    mesh.fetch_received(1, 0, at=5.0)
    mesh.run(30.0)

    handled = [e for n, e in mesh.timeline.events if isinstance(e, Handled) and n == mesh.authorities[0]]
    pages = len(handled)
    assert [e.outcome for e in handled] == [Outcome.INFO_PAGE] * (pages - 2) + [Outcome.INFO] * 2
    assert mesh.authority(0).engine.accepted[Outcome.INFO_PAGE] == pages - 2 >= RECEIVED * 449 // MAX_RECEIVED_BYTES_PER_REPLY
    credited = [e for _, e in mesh.timeline.of(CertificateReceived, mesh.clients[1])]
    assert sorted(e.sequence_number for e in credited) == list(range(RECEIVED))  # type: ignore[attr-defined]
    assert mesh.client(1).engine.balance == RECEIVED
    # Each reply left in a few fragments (all authority 0 sealed), never
    # the 255 and more the whole log would need.
    per_reply = -(-(MAX_RECEIVED_BYTES_PER_REPLY + 1024) // (MAX_FRAGMENT_PAYLOAD - SEALED_OVERHEAD))
    assert mesh.authority(0).transport.sealed <= pages * per_reply
    refusals = mesh.refusals()
    assert refusals["end-to-end"] == {} and refusals["application"] == {}

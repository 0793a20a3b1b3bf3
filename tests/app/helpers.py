"""Real FastPay messages (real Ed25519 signatures) from a seed-derived
committee, for the application tests."""

from __future__ import annotations

from meshframes.fastpay.committee import Committee, Identity
from meshframes.fastpay.messages import (
    AccountInfoRequest,
    AccountInfoResponse,
    Address,
    AuthorityAnnouncement,
    CertifiedTransferOrder,
    ConfirmationOrder,
    ErrorKind,
    FastPayError,
    SignedTransferOrder,
    Transfer,
    TransferOrder,
)
from meshframes.fastpay.wire import signing_bytes
from meshframes.seal.e2e import x25519_public_key
from meshframes.sim.scenario import scenario_committee

COMMITTEE, AUTHORITIES, ACCOUNTS = scenario_committee(7, [1, 1, 1, 1], [100, 100, 100])


def order(sender: Identity = ACCOUNTS[0], recipient: Identity = ACCOUNTS[1], amount: int = 10,
          seq: int = 0) -> TransferOrder:
    transfer = Transfer(sender=sender.public_key, recipient=Address.fastpay(recipient.public_key),
                        amount=amount, sequence_number=seq)
    return TransferOrder(transfer=transfer, signature=sender.keypair.sign(signing_bytes(transfer)))


def vote(value: TransferOrder, authority: Identity = AUTHORITIES[0]) -> SignedTransferOrder:
    return SignedTransferOrder(value=value, authority=authority.public_key,
                               signature=authority.keypair.sign(signing_bytes(value.transfer)))


def certificate(value: TransferOrder, signers: list[Identity] = AUTHORITIES[:3]) -> CertifiedTransferOrder:
    message = signing_bytes(value.transfer)
    return CertifiedTransferOrder(value=value,
                                  signatures=tuple((a.public_key, a.keypair.sign(message)) for a in signers))


def every_message(committee: Committee = COMMITTEE) -> dict[str, object]:
    """One of each kind, keyed by the docs' kind name (docs/wire-format.md)."""
    o = order()
    cert = certificate(o)
    return {
        "order": o,
        "vote": vote(o),
        "certificate": cert,
        "confirmation": ConfirmationOrder(transfer_certificate=cert),
        "info-request": AccountInfoRequest(sender=ACCOUNTS[0].public_key, request_sequence_number=0),
        "info-response": AccountInfoResponse(sender=ACCOUNTS[0].public_key, balance=90, next_sequence_number=1,
                                             requested_certificate=cert),
        "error": FastPayError(kind=ErrorKind.InsufficientFunding, current_balance=3),
        "announce": committee.announcement(AUTHORITIES[0].public_key),
    }


def announcement_of(identity: bytes, committee: Committee = COMMITTEE) -> AuthorityAnnouncement:
    """What the party `identity` announces: an authority its committee
    entry, an account weight 0 and the X25519 form of its key."""
    if committee.weight(identity):
        return committee.announcement(identity)
    return AuthorityAnnouncement(name=identity, weight=0, e2e_key=x25519_public_key(identity),
                                 committee_id=committee.committee_id)

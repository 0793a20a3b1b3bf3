"""Real FastPay messages (real Ed25519 signatures) from a seed-derived
committee, for the application tests, and the end-to-end seals and vendor
frames that carry them."""

from __future__ import annotations

from meshframes.codec import MeshControl, VendorAction, encode
from meshframes.codec.fastpay import FastPayFragment
from meshframes.codec.frames import CATEGORY_VENDOR
from meshframes.codec.meshctl import AE_A5_A6
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
from meshframes.mesh.mbss import action_header
from meshframes.seal.e2e import E2EIdentity, E2ESealer, x25519_public_key
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


def sealer_of(identity: Identity, initial_sequence: int = 1) -> E2ESealer:
    """The end-to-end sealer a party holding `identity` seals and opens with."""
    return E2ESealer(E2EIdentity(identity.keypair.seed), initial_sequence=initial_sequence)


def vendor_frame(payload: FastPayFragment, *, ra: bytes, ta: bytes, da: bytes, sa: bytes, seq: int = 1,
                 ttl: int = 31) -> bytes:
    """One of our vendor frames carrying `payload` as the forwarder lays it
    out (Mesh Control A5/A6: mesh DA `da`, mesh SA `sa`), encoded by the
    codec."""
    return encode(VendorAction(action_header(ra, ta), CATEGORY_VENDOR, MeshControl(AE_A5_A6, ttl, seq, (da, sa)),
                               payload))

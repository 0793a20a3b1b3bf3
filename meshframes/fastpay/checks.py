"""Signature and quorum checks of orders, votes and certificates against a
committee (FastPay's `check` methods). Each failure is a Rejection naming
the exact signer or count at fault."""

from __future__ import annotations

from collections.abc import Collection

from . import ed25519
from .committee import Committee
from .errors import reject
from .messages import CertifiedTransferOrder, ErrorKind, SignedTransferOrder, TransferOrder
from .wire import signing_bytes


def _short(key: bytes) -> str:
    return key[:4].hex()


def check_order(order: TransferOrder) -> None:
    """The order is signed by its sender."""
    if not ed25519.verify(order.transfer.sender, signing_bytes(order.transfer), order.signature):
        raise reject(
            ErrorKind.InvalidSignature,
            f"order signature does not verify under sender {_short(order.transfer.sender)}",
        )


def check_vote(vote: SignedTransferOrder, committee: Committee) -> None:
    """The vote comes from a committee member and its signature verifies.
    (The order's own signature is checked by whoever built the order.)"""
    if committee.weight(vote.authority) == 0:
        raise reject(ErrorKind.UnknownSigner, f"vote signer {_short(vote.authority)} is not in the committee")
    if not ed25519.verify(vote.authority, signing_bytes(vote.value.transfer), vote.signature):
        raise reject(
            ErrorKind.InvalidSignature, f"vote signature does not verify under authority {_short(vote.authority)}"
        )


def check_certificate(
    cert: CertifiedTransferOrder,
    committee: Committee,
    already_verified: Collection[tuple[bytes, bytes]] = (),
) -> None:
    """Distinct committee signers worth a quorum, every signature valid, and
    the inner order signed by its sender. `already_verified` lists
    (key, signature) pairs the caller has verified over this same transfer
    before (an authority's own vote, an order it voted for); they are not
    verified again."""
    seen: set[bytes] = set()
    weight = 0
    for i, (authority, _) in enumerate(cert.signatures):
        if authority in seen:
            raise reject(
                ErrorKind.CertificateAuthorityReuse,
                f"certificate signature {i}: authority {_short(authority)} signed twice",
            )
        seen.add(authority)
        w = committee.weight(authority)
        if w == 0:
            raise reject(
                ErrorKind.UnknownSigner,
                f"certificate signature {i}: signer {_short(authority)} is not in the committee",
            )
        weight += w
    if weight < committee.quorum_threshold:
        raise reject(
            ErrorKind.CertificateRequiresQuorum,
            f"certificate weight {weight} from {len(cert.signatures)} signers is below the quorum"
            f" {committee.quorum_threshold} (total {committee.total_weight})",
        )
    message = signing_bytes(cert.value.transfer)
    sender = cert.value.transfer.sender
    if (sender, cert.value.signature) not in already_verified and not ed25519.verify(
        sender, message, cert.value.signature
    ):
        raise reject(
            ErrorKind.InvalidSignature,
            f"certificate's order signature does not verify under sender {_short(sender)}",
        )
    for i, pair in enumerate(cert.signatures):
        if pair not in already_verified and not ed25519.verify(pair[0], message, pair[1]):
            raise reject(
                ErrorKind.InvalidSignature,
                f"certificate signature {i} does not verify under authority {_short(pair[0])}",
            )

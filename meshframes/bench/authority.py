"""One authority's throughput against the Ed25519 verify rate measured in
the same run (`meshframes bench authority` prints it: meshframes.cli.bench_authority).

The authority is driven the way `pipe_authority` drives it: bincode bytes
in, batches of B messages per SQLite transaction (WAL, synchronous=FULL,
so one fsync per batch), bincode bytes out. Phases:

1. baseline: raw `ed25519.verify` over the orders' signing bytes (and
   `sign`, the other cost an order carries: the vote's signature);
2. orders: fresh transfer orders (one verify and one sign each);
3. confirmations: certificates signed by the quorum of the *other*
   authorities for the orders just voted for (the authority skips the
   sender signature it verified when it voted, so q verifies each).

Reported: rates, and ratios to the verify ceiling (verify/s for orders,
verify/s / q for confirmations), plus orders against the crypto floor of
one verify plus one sign. This module only measures: no output, no CLI.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from meshframes.fastpay import ed25519
from meshframes.fastpay.authority import Authority
from meshframes.fastpay.committee import Identity, generate_committee
from meshframes.fastpay.messages import Address, CertifiedTransferOrder, Transfer, TransferOrder
from meshframes.fastpay.store import AuthorityStore
from meshframes.fastpay.wire import encode_message, signing_bytes

# progress(phase, done, total): called as each phase advances.
Progress = Callable[[str, int, int], None]

SIGNING = "signing orders and certificates"
MEASURING = "measuring"


@dataclass(frozen=True, slots=True)
class AuthorityMeasurement:
    """Best rates of `repeat` interleaved runs, and their ratios."""

    orders: int
    batch: int
    repeat: int
    authorities: int
    verifies_per_confirmation: int
    verify_per_s: float
    sign_per_s: float
    orders_per_s: float
    confirmations_per_s: float
    orders_vs_verify: float
    orders_vs_verify_plus_sign: float
    confirmations_vs_verify: float

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def measure_authority(
    orders: int = 5000,
    batch: int = 256,
    authorities: int = 4,
    directory: str | None = None,
    repeat: int = 3,
    progress: Progress | None = None,
) -> AuthorityMeasurement:
    """Run the phases `repeat` times, interleaved, each on a fresh store,
    and keep the best rate of each: on a shared machine the best run is the
    one least disturbed by other load, for baseline and authority alike."""
    committee, auth_ids, account_ids = generate_committee([1] * authorities, [1000] * orders)
    me, others = auth_ids[0], auth_ids[1:]
    # Just enough other authorities for a quorum.
    need, weight = committee.quorum_threshold, 0
    signers: list[Identity] = []
    for ident in others:
        if weight >= need:
            break
        signers.append(ident)
        weight += committee.weight(ident.public_key)
    order_msgs: list[bytes] = []
    cert_msgs: list[bytes] = []
    baseline: list[tuple[bytes, bytes, bytes]] = []  # (public key, signing bytes, signature)
    for i, account in enumerate(account_ids):
        transfer = Transfer(
            sender=account.public_key,
            recipient=Address.fastpay(account_ids[(i + 1) % orders].public_key),
            amount=1,
            sequence_number=0,
        )
        message = signing_bytes(transfer)
        order = TransferOrder(transfer=transfer, signature=account.keypair.sign(message))
        cert = CertifiedTransferOrder(
            value=order, signatures=tuple((s.public_key, s.keypair.sign(message)) for s in signers)
        )
        order_msgs.append(encode_message(order))
        cert_msgs.append(encode_message(cert))
        baseline.append((account.public_key, message, order.signature))
        if progress:
            progress(SIGNING, i + 1, orders)

    accepted: dict[str, int] = {}
    rejected: dict[str, int] = {}
    verify_rate = sign_rate = order_rate = confirmation_rate = 0.0
    for run in range(repeat):
        start = time.perf_counter()
        for key, message, signature in baseline:
            ed25519.verify(key, message, signature)
        verify_rate = max(verify_rate, _rate(orders, time.perf_counter() - start))
        start = time.perf_counter()
        for _, message, _ in baseline:
            me.keypair.sign(message)
        sign_rate = max(sign_rate, _rate(orders, time.perf_counter() - start))

        with tempfile.TemporaryDirectory(dir=directory) as tmp:
            store = AuthorityStore(Path(tmp) / "authority.db", committee)
            authority = Authority(me.keypair, committee, store)
            start = time.perf_counter()
            for i in range(0, orders, batch):
                authority.handle_wire_batch(order_msgs[i : i + batch])
            order_rate = max(order_rate, _rate(orders, time.perf_counter() - start))
            start = time.perf_counter()
            for i in range(0, orders, batch):
                authority.handle_wire_batch(cert_msgs[i : i + batch])
            confirmation_rate = max(confirmation_rate, _rate(orders, time.perf_counter() - start))
            accepted = dict(authority.accepted)
            rejected = dict(authority.rejections)
            store.close()
        if progress:
            progress(MEASURING, run + 1, repeat)

    if accepted.get("order") != orders or accepted.get("confirmation") != orders or rejected:
        raise RuntimeError(f"benchmark run was not clean: accepted {accepted}, rejected {rejected}")
    q = len(signers)
    return AuthorityMeasurement(
        orders=orders,
        batch=batch,
        repeat=repeat,
        authorities=authorities,
        verifies_per_confirmation=q,
        verify_per_s=verify_rate,
        sign_per_s=sign_rate,
        orders_per_s=order_rate,
        confirmations_per_s=confirmation_rate,
        orders_vs_verify=order_rate / verify_rate,
        orders_vs_verify_plus_sign=order_rate * (1 / verify_rate + 1 / sign_rate),
        confirmations_vs_verify=confirmation_rate * q / verify_rate,
    )

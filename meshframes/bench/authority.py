"""One authority's throughput against the Ed25519 verify rate measured in
the same run (`meshframes bench authority` prints it: meshframes.cli.bench_authority).

The authority is driven the way `pipe_authority` drives it: bincode bytes
in, batches of B messages per SQLite transaction (WAL, synchronous=FULL,
so one fsync per batch), bincode bytes out. Work, batch by batch:

1. orders: fresh transfer orders (one verify and one sign each), each
   batch right after its baseline: raw `ed25519.verify` and `sign` over
   the same signing bytes;
2. confirmations: certificates signed by the quorum of the *other*
   authorities for the orders just voted for (the authority skips the
   sender signature it verified when it voted, so q verifies each), each
   batch right after q raw verifies per message.

Baseline and work alternate (A B A B), so a shared machine's load falls on
both alike. Reported per round, then as medians with their range: rates
(wall, and CPU for the authority's work), and the ratios to the verify
ceiling (verify/s for orders, verify/s / q for confirmations), plus orders
against the crypto floor of one verify plus one sign. This module only
measures: no output, no CLI.
"""

from __future__ import annotations

import statistics
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


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


@dataclass(frozen=True, slots=True)
class Spread:
    """The median of per-round values and their range."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values))


@dataclass(frozen=True, slots=True)
class AuthorityMeasurement:
    """Per-round rates (wall and CPU) and ratios, as medians with their
    range. Each round interleaves the baseline with the measured work batch
    by batch (A B A B ...), so that a ratio compares two quantities
    measured over the same stretch of time, whatever else the machine was
    doing then."""

    orders: int
    batch: int
    repeat: int
    authorities: int
    verifies_per_confirmation: int
    verify_per_s: Spread
    sign_per_s: Spread
    orders_per_s: Spread
    confirmations_per_s: Spread
    verify_cpu_per_s: Spread
    orders_cpu_per_s: Spread
    confirmations_cpu_per_s: Spread
    orders_vs_verify: Spread
    orders_vs_verify_plus_sign: Spread
    confirmations_vs_verify: Spread
    # The same ratios in CPU time: what the process itself spent, whatever
    # share of the machine it was given.
    orders_vs_verify_cpu: Spread
    confirmations_vs_verify_cpu: Spread

    def as_dict(self) -> dict[str, int | dict[str, float]]:
        return asdict(self)


def measure_authority(
    orders: int = 5000,
    batch: int = 256,
    authorities: int = 4,
    directory: str | None = None,
    repeat: int = 3,
    progress: Progress | None = None,
) -> AuthorityMeasurement:
    """Run `repeat` rounds, each on a fresh store. In a round every batch of
    orders is preceded by the verifies and signs of the same messages (the
    baseline), and every batch of confirmations by the q verifies each
    costs, so baseline and work alternate within the round."""
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
    rounds: dict[str, list[float]] = {k: [] for k in (
        "verify", "sign", "orders", "confirmations", "verify_cpu", "orders_cpu", "confirmations_cpu",
        "orders_vs_verify", "orders_vs_verify_plus_sign", "confirmations_vs_verify", "orders_vs_verify_cpu",
        "confirmations_vs_verify_cpu")}
    q = len(signers)
    for run in range(repeat):
        spent = dict.fromkeys(("verify", "sign", "orders", "confirmations", "verify_cpu", "sign_cpu", "orders_cpu",
                               "confirmations_cpu"), 0.0)
        with tempfile.TemporaryDirectory(dir=directory) as tmp:
            store = AuthorityStore(Path(tmp) / "authority.db", committee)
            authority = Authority(me.keypair, committee, store)
            for phase, messages in (("orders", order_msgs), ("confirmations", cert_msgs)):
                for i in range(0, orders, batch):
                    chunk = baseline[i : i + batch]
                    start, cpu = time.perf_counter(), time.process_time()
                    for key, message, signature in chunk:
                        for _ in range(1 if phase == "orders" else q):
                            ed25519.verify(key, message, signature)
                    spent["verify"] += time.perf_counter() - start
                    spent["verify_cpu"] += time.process_time() - cpu
                    if phase == "orders":
                        start, cpu = time.perf_counter(), time.process_time()
                        for _, message, _ in chunk:
                            me.keypair.sign(message)
                        spent["sign"] += time.perf_counter() - start
                        spent["sign_cpu"] += time.process_time() - cpu
                    start, cpu = time.perf_counter(), time.process_time()
                    authority.handle_wire_batch(messages[i : i + batch])
                    spent[phase] += time.perf_counter() - start
                    spent[f"{phase}_cpu"] += time.process_time() - cpu
            accepted = dict(authority.accepted)
            rejected = dict(authority.rejections)
            store.close()
        verify = _rate(orders * (1 + q), spent["verify"])
        sign = _rate(orders, spent["sign"])
        order_rate, confirmation_rate = _rate(orders, spent["orders"]), _rate(orders, spent["confirmations"])
        rounds["verify"].append(verify)
        rounds["sign"].append(sign)
        rounds["orders"].append(order_rate)
        rounds["confirmations"].append(confirmation_rate)
        verify_cpu = _rate(orders * (1 + q), spent["verify_cpu"])
        rounds["verify_cpu"].append(verify_cpu)
        rounds["orders_vs_verify_cpu"].append(_rate(orders, spent["orders_cpu"]) / verify_cpu)
        rounds["confirmations_vs_verify_cpu"].append(_rate(orders, spent["confirmations_cpu"]) * q / verify_cpu)
        rounds["orders_cpu"].append(_rate(orders, spent["orders_cpu"]))
        rounds["confirmations_cpu"].append(_rate(orders, spent["confirmations_cpu"]))
        rounds["orders_vs_verify"].append(order_rate / verify)
        rounds["orders_vs_verify_plus_sign"].append(order_rate * (1 / verify + 1 / sign))
        rounds["confirmations_vs_verify"].append(confirmation_rate * q / verify)
        if progress:
            progress(MEASURING, run + 1, repeat)

    if accepted.get("order") != orders or accepted.get("confirmation") != orders or rejected:
        raise RuntimeError(f"benchmark run was not clean: accepted {accepted}, rejected {rejected}")
    return AuthorityMeasurement(
        orders=orders, batch=batch, repeat=repeat, authorities=authorities, verifies_per_confirmation=q,
        verify_per_s=Spread.of(rounds["verify"]), sign_per_s=Spread.of(rounds["sign"]),
        orders_per_s=Spread.of(rounds["orders"]), confirmations_per_s=Spread.of(rounds["confirmations"]),
        verify_cpu_per_s=Spread.of(rounds["verify_cpu"]), orders_cpu_per_s=Spread.of(rounds["orders_cpu"]),
        confirmations_cpu_per_s=Spread.of(rounds["confirmations_cpu"]),
        orders_vs_verify=Spread.of(rounds["orders_vs_verify"]),
        orders_vs_verify_plus_sign=Spread.of(rounds["orders_vs_verify_plus_sign"]),
        confirmations_vs_verify=Spread.of(rounds["confirmations_vs_verify"]),
        orders_vs_verify_cpu=Spread.of(rounds["orders_vs_verify_cpu"]),
        confirmations_vs_verify_cpu=Spread.of(rounds["confirmations_vs_verify_cpu"]),
    )

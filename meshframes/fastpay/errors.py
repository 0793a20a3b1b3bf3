"""Why a FastPay message is refused: the reference's `FastPayError` that
goes back on the wire, plus a precise human reason that stays local (logs,
counters, tests)."""

from __future__ import annotations

from .messages import ErrorKind, FastPayError, TransferOrder


class Rejection(Exception):
    """A message refused by the protocol rules. `error` is what the peer is
    told; `reason` says exactly what was wrong."""

    def __init__(self, error: FastPayError, reason: str) -> None:
        super().__init__(f"{error.kind.name}: {reason}")
        self.error = error
        self.reason = reason

    @property
    def kind(self) -> ErrorKind:
        return self.error.kind


def reject(kind: ErrorKind, reason: str) -> Rejection:
    """A rejection whose wire error is a unit variant (or InvalidSignature,
    whose `error` text is the reason)."""
    if kind is ErrorKind.InvalidSignature:
        return Rejection(FastPayError(kind=kind, error=reason), reason)
    return Rejection(FastPayError(kind=kind), reason)


def insufficient_funding(balance: int, amount: int) -> Rejection:
    return Rejection(
        FastPayError(kind=ErrorKind.InsufficientFunding, current_balance=balance),
        f"balance {balance} is less than the amount {amount}",
    )


def previous_transfer_pending(pending: TransferOrder, sequence_number: int) -> Rejection:
    return Rejection(
        FastPayError(kind=ErrorKind.PreviousTransferMustBeConfirmedFirst, pending_confirmation=pending),
        f"already voted for a different order with sequence number {sequence_number}"
        " (conflicting order refused)",
    )


def missing_earlier_confirmations(current: int, wanted: int) -> Rejection:
    return Rejection(
        FastPayError(kind=ErrorKind.MissingEalierConfirmations, current_sequence_number=current),
        f"certificate is for sequence number {wanted} but the account is at {current}",
    )

"""A FastPay client's durable state on SQLite.

What must survive a crash is what keeps the client honest and able to
finish: the order it signed for its next sequence number (so it never
signs a different one for the same number, which would lock its own
account), the certificate it assembled (so it can finish confirming), and
the certificates it sent and received (to bring lagging authorities up to
date and to know its balance). Each write is its own transaction: a client
writes a handful of rows per transfer.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .messages import CertifiedTransferOrder, TransferOrder
from .store import SQLITE_INTEGER_MAX
from .wire import decode_certificate, decode_order, encode_certificate, encode_order

T = TypeVar("T")

LATEST_DB_VERSION = 1

_SCHEMA = (
    "CREATE TABLE option (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE account (address BLOB PRIMARY KEY, balance TEXT NOT NULL,"
    " next_sequence_number INTEGER NOT NULL, pending_order BLOB, pending_certificate BLOB)",
    "CREATE TABLE sent (sequence_number INTEGER PRIMARY KEY, certificate BLOB NOT NULL)",
    "CREATE TABLE received (sender BLOB NOT NULL, sequence_number INTEGER NOT NULL,"
    " certificate BLOB NOT NULL, PRIMARY KEY (sender, sequence_number))",
)


class ClientStoreError(RuntimeError):
    """The database belongs to another account or has an unknown schema."""


@dataclass(frozen=True, slots=True)
class ClientState:
    address: bytes
    balance: int
    next_sequence_number: int
    pending_order: TransferOrder | None
    pending_certificate: CertifiedTransferOrder | None


def _whole(blob: bytes, decoder: Callable[[bytes, int], tuple[T, int]]) -> T:
    value, end = decoder(blob, 0)
    if end != len(blob):
        raise ClientStoreError(f"corrupt row: {len(blob) - end} trailing bytes")
    return value


class ClientStore:
    def __init__(self, path: str | os.PathLike[str], address: bytes, initial_balance: int) -> None:
        """Open (or create, with `initial_balance`) the state of `address`."""
        self._db = sqlite3.connect(os.fspath(path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        exists = self._db.execute("SELECT 1 FROM sqlite_master WHERE name='account'").fetchone()
        if not exists:
            with self._tx():
                for statement in _SCHEMA:
                    self._db.execute(statement)
                self._db.execute("INSERT INTO option VALUES ('db_version', ?)", (str(LATEST_DB_VERSION),))
                self._db.execute(
                    "INSERT INTO account VALUES (?, ?, 0, NULL, NULL)", (address, str(initial_balance))
                )
        version = self._db.execute("SELECT value FROM option WHERE key='db_version'").fetchone()
        if version is None or int(version[0]) != LATEST_DB_VERSION:
            raise ClientStoreError(f"client database schema {version}, this code reads {LATEST_DB_VERSION}")
        row = self._db.execute("SELECT address FROM account").fetchone()
        if row[0] != address:
            raise ClientStoreError(f"client database belongs to account {row[0].hex()}, not {address.hex()}")

    def _tx(self) -> sqlite3.Connection:
        # The connection as a context manager commits or rolls back; BEGIN
        # makes the statements inside one transaction despite autocommit.
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def close(self) -> None:
        self._db.close()

    def state(self) -> ClientState:
        address, balance, seq, order, cert = self._db.execute(
            "SELECT address, balance, next_sequence_number, pending_order, pending_certificate FROM account"
        ).fetchone()
        return ClientState(
            address=address,
            balance=int(balance),
            next_sequence_number=seq,
            pending_order=None if order is None else _whole(order, decode_order),
            pending_certificate=None if cert is None else _whole(cert, decode_certificate),
        )

    def set_pending_order(self, order: TransferOrder) -> None:
        with self._tx():
            self._db.execute("UPDATE account SET pending_order = ?", (encode_order(order),))

    def record_certificate(self, cert: CertifiedTransferOrder) -> None:
        """Our transfer is certified: it is final. Debit, advance, keep the
        certificate to confirm, and clear the pending order, atomically."""
        t = cert.value.transfer
        blob = encode_certificate(cert)
        with self._tx():
            self._db.execute(
                "UPDATE account SET pending_order = NULL, pending_certificate = ?, next_sequence_number = ?",
                (blob, t.sequence_number + 1),
            )
            self._set_balance_delta(-t.amount)
            self._db.execute("INSERT OR IGNORE INTO sent VALUES (?, ?)", (t.sequence_number, blob))

    def finish_confirmation(self) -> None:
        with self._tx():
            self._db.execute("UPDATE account SET pending_certificate = NULL")

    def record_received(self, cert: CertifiedTransferOrder) -> bool:
        """Credit an incoming transfer once; False if it was already known."""
        t = cert.value.transfer
        with self._tx():
            cur = self._db.execute(
                "INSERT OR IGNORE INTO received VALUES (?, ?, ?)",
                (t.sender, t.sequence_number, encode_certificate(cert)),
            )
            if cur.rowcount == 0:
                return False
            self._set_balance_delta(t.amount)
        return True

    def _set_balance_delta(self, delta: int) -> None:
        # Balances are i128 kept as text; do the arithmetic in Python.
        (balance,) = self._db.execute("SELECT balance FROM account").fetchone()
        self._db.execute("UPDATE account SET balance = ?", (str(int(balance) + delta),))

    def sent_certificates(self, from_sequence_number: int) -> list[CertifiedTransferOrder]:
        if from_sequence_number > SQLITE_INTEGER_MAX:
            return []
        rows = self._db.execute(
            "SELECT certificate FROM sent WHERE sequence_number >= ? ORDER BY sequence_number",
            (from_sequence_number,),
        )
        return [_whole(blob, decode_certificate) for (blob,) in rows]

    def received_certificates(self) -> list[CertifiedTransferOrder]:
        rows = self._db.execute("SELECT certificate FROM received ORDER BY rowid")
        return [_whole(blob, decode_certificate) for (blob,) in rows]

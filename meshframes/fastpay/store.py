"""An authority's durable state on SQLite.

WAL journal with `synchronous=FULL`: a committed transaction survives a
process kill and a power loss. Commits are grouped by the caller (the
authority commits once per batch of messages, and releases the batch's
replies only after that commit), so the fsync is paid once per batch,
not once per order.

Tables (schema version in `option`):
- account: balance (decimal text: FastPay balances are i128) and the next
  sequence number of every account the authority knows.
- vote: every vote this authority ever cast, keyed by (sender, sequence
  number). The primary key is the last line of defence against voting
  twice: a second, different vote for the same key cannot be stored.
- certificate: every certificate executed, keyed by (sender, sequence
  number), indexed by FastPay recipient in execution order, which is the
  order of each account's received-transfers log.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .committee import Committee
from .messages import AddressKind, CertifiedTransferOrder, SignedTransferOrder
from .wire import decode_certificate, decode_vote, encode_certificate, encode_vote

T = TypeVar("T")

LATEST_DB_VERSION = 1
# SQLite INTEGER is signed 64-bit; FastPay's u64 fields reach 2^64 - 1 on
# the wire. No row can hold a key above this, so a lookup for one is
# answered without binding it (which would raise OverflowError).
SQLITE_INTEGER_MAX = 2**63 - 1

_SCHEMA = """
CREATE TABLE option (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE account (
    address BLOB PRIMARY KEY,
    balance TEXT NOT NULL,
    next_sequence_number INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE vote (
    sender BLOB NOT NULL,
    sequence_number INTEGER NOT NULL,
    vote BLOB NOT NULL,
    PRIMARY KEY (sender, sequence_number)
) WITHOUT ROWID;
CREATE TABLE certificate (
    id INTEGER PRIMARY KEY,
    sender BLOB NOT NULL,
    sequence_number INTEGER NOT NULL,
    recipient BLOB,
    certificate BLOB NOT NULL,
    UNIQUE (sender, sequence_number)
);
CREATE INDEX certificate_by_recipient ON certificate (recipient, id);
"""


class StoreError(RuntimeError):
    """The database cannot serve this authority (wrong committee, newer
    schema, corrupt row)."""


@dataclass(slots=True)
class AccountState:
    """One account as the authority holds it in memory (mutable on purpose:
    the authority is its only writer)."""

    balance: int
    next_sequence_number: int
    pending: SignedTransferOrder | None = None


@dataclass(frozen=True, slots=True)
class ReceivedPage:
    """One page of an account's received certificates; `complete` when no
    more follow it."""

    certificates: tuple[CertifiedTransferOrder, ...]
    complete: bool


def _decode_row(blob: bytes, decoder: Callable[[bytes, int], tuple[T, int]], what: str) -> T:
    value, end = decoder(blob, 0)
    if end != len(blob):
        raise StoreError(f"corrupt {what} row: {len(blob) - end} trailing bytes")
    return value


class AuthorityStore:
    """SQLite persistence of one authority (see module docstring)."""

    def __init__(self, path: str | os.PathLike[str], committee: Committee) -> None:
        # isolation_level=None: transactions are explicit (begin/commit), so
        # a batch is exactly one transaction.
        self._db = sqlite3.connect(os.fspath(path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._in_tx = False
        self._open(committee)

    def _open(self, committee: Committee) -> None:
        cid = committee.committee_id.hex()
        has_schema = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='option'"
        ).fetchone()
        if has_schema:
            version = int(self._option("db_version") or 0)
            if version != LATEST_DB_VERSION:
                raise StoreError(f"database schema version {version}, this code reads {LATEST_DB_VERSION}")
            stored = self._option("committee_id")
            if stored != cid:
                raise StoreError(f"database belongs to committee {stored}, not {cid}")
            return
        self.begin()
        # Statement by statement: executescript would commit on its own and
        # split the genesis from its schema.
        for statement in _SCHEMA.strip().split(";"):
            if statement.strip():
                self._db.execute(statement)
        self._db.execute("INSERT INTO option VALUES ('db_version', ?)", (str(LATEST_DB_VERSION),))
        self._db.execute("INSERT INTO option VALUES ('committee_id', ?)", (cid,))
        self._db.executemany(
            "INSERT INTO account VALUES (?, ?, 0)", [(a.address, str(a.balance)) for a in committee.accounts]
        )
        self.commit()

    def _option(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM option WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    # ---- transactions ----

    def begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        self._in_tx = True

    def commit(self) -> None:
        self._db.execute("COMMIT")
        self._in_tx = False

    def rollback(self) -> None:
        if self._in_tx:
            self._in_tx = False
            self._db.execute("ROLLBACK")

    # One message's writes inside the batch's transaction, undone alone
    # if that message fails.
    def savepoint(self) -> None:
        self._db.execute("SAVEPOINT message")

    def release_savepoint(self) -> None:
        self._db.execute("RELEASE message")

    def rollback_to_savepoint(self) -> None:
        self._db.execute("ROLLBACK TO message")
        self._db.execute("RELEASE message")

    def close(self) -> None:
        """Close without committing: an open transaction is lost, exactly as
        if the process had died."""
        self._db.close()

    # ---- writes (inside a transaction) ----

    def put_account(self, address: bytes, state: AccountState) -> None:
        self._db.execute(
            "INSERT INTO account VALUES (?, ?, ?) ON CONFLICT (address) DO UPDATE SET"
            " balance = excluded.balance, next_sequence_number = excluded.next_sequence_number",
            (address, str(state.balance), state.next_sequence_number),
        )

    def put_vote(self, vote: SignedTransferOrder) -> None:
        t = vote.value.transfer
        # Plain INSERT: a different vote for a key already voted on raises
        # IntegrityError instead of being stored.
        self._db.execute("INSERT INTO vote VALUES (?, ?, ?)", (t.sender, t.sequence_number, encode_vote(vote)))

    def put_certificate(self, cert: CertifiedTransferOrder) -> None:
        t = cert.value.transfer
        recipient = t.recipient.key if t.recipient.kind is AddressKind.FASTPAY else None
        self._db.execute(
            "INSERT OR IGNORE INTO certificate (sender, sequence_number, recipient, certificate)"
            " VALUES (?, ?, ?, ?)",
            (t.sender, t.sequence_number, recipient, encode_certificate(cert)),
        )

    # ---- reads ----

    def load_accounts(self) -> dict[bytes, AccountState]:
        accounts = {
            address: AccountState(int(balance), seq)
            for address, balance, seq in self._db.execute("SELECT address, balance, next_sequence_number FROM account")
        }
        pending = self._db.execute(
            "SELECT vote.sender, vote.vote FROM vote JOIN account"
            " ON account.address = vote.sender AND account.next_sequence_number = vote.sequence_number"
        )
        for sender, blob in pending:
            accounts[sender].pending = _decode_row(blob, decode_vote, "vote")
        return accounts

    def vote_for(self, sender: bytes, sequence_number: int) -> SignedTransferOrder | None:
        if not 0 <= sequence_number <= SQLITE_INTEGER_MAX:
            return None
        row = self._db.execute(
            "SELECT vote FROM vote WHERE sender = ? AND sequence_number = ?", (sender, sequence_number)
        ).fetchone()
        return None if row is None else _decode_row(row[0], decode_vote, "vote")

    def confirmed_certificate(self, sender: bytes, sequence_number: int) -> CertifiedTransferOrder | None:
        if not 0 <= sequence_number <= SQLITE_INTEGER_MAX:
            return None
        row = self._db.execute(
            "SELECT certificate FROM certificate WHERE sender = ? AND sequence_number = ?", (sender, sequence_number)
        ).fetchone()
        return None if row is None else _decode_row(row[0], decode_certificate, "certificate")

    def received_certificates(self, recipient: bytes, skip: int = 0,
                              max_bytes: int | None = None) -> ReceivedPage:
        """The certificates of transfers to `recipient` after the first
        `skip`, in execution order, as many as fit in `max_bytes` of
        encoded certificates (at least one, so paging always advances)."""
        rows = self._db.execute(
            "SELECT certificate FROM certificate WHERE recipient = ? ORDER BY id LIMIT -1 OFFSET ?",
            (recipient, min(skip, SQLITE_INTEGER_MAX)),
        )
        page: list[CertifiedTransferOrder] = []
        size = 0
        # Rows come from the cursor one by one: a page never loads the rest.
        for (blob,) in rows:
            size += len(blob)
            if page and max_bytes is not None and size > max_bytes:
                return ReceivedPage(tuple(page), complete=False)
            page.append(_decode_row(blob, decode_certificate, "certificate"))
        return ReceivedPage(tuple(page), complete=True)

    def all_certificates(self) -> list[CertifiedTransferOrder]:
        rows = self._db.execute("SELECT certificate FROM certificate ORDER BY id")
        return [_decode_row(blob, decode_certificate, "certificate") for (blob,) in rows]

    def all_votes(self) -> list[SignedTransferOrder]:
        rows = self._db.execute("SELECT vote FROM vote ORDER BY sender, sequence_number")
        return [_decode_row(blob, decode_vote, "vote") for (blob,) in rows]

"""An authority process killed with SIGKILL in the middle of a stream of
orders and confirmations restarts from SQLite having lost no
acknowledged confirmation and never voting twice differently."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from fastpay_harness import certify, sign_order

from meshframes.fastpay.authority import Authority
from meshframes.fastpay.committee import generate_committee, write_committee_dir
from meshframes.fastpay.messages import (
    AccountInfoResponse,
    ErrorKind,
    FastPayError,
    SerializedMessage,
    SignedTransferOrder,
)
from meshframes.fastpay.store import AuthorityStore
from meshframes.fastpay.wire import decode_message, encode_message
from meshframes.hosts.pipe_authority import frame

ACCOUNTS = 12
ROUNDS = 25
START = 1000


def build_stream(committee, authorities, accounts):  # type: ignore[no-untyped-def]
    """Per account and round: its order, a conflicting order for the same
    sequence number, then the certificate (signed by the other three)."""
    stream: list[tuple[str, tuple[bytes, int], SerializedMessage]] = []
    for seq in range(ROUNDS):
        for i, payer in enumerate(accounts):
            payee = accounts[(i + 1 + seq) % ACCOUNTS].public_key
            order = sign_order(payer, payee, 1 + i, seq)
            rival = sign_order(payer, accounts[(i + 2 + seq) % ACCOUNTS].public_key, 1 + i, seq)
            key = (payer.public_key, seq)
            stream += [("order", key, order), ("rival", key, rival), ("cert", key, certify(order, authorities[1:]))]
    return stream


def read_frames(pipe, count: int) -> list[bytes]:  # type: ignore[no-untyped-def]
    replies = []
    for _ in range(count):
        head = pipe.read(4)
        if len(head) < 4:
            break
        replies.append(pipe.read(int.from_bytes(head, "little")))
    return replies


def run_authority(committee_file: Path, key_file: Path, db: Path, messages: list[SerializedMessage], kill_after: int | None):  # type: ignore[no-untyped-def]
    proc = subprocess.Popen(
        [sys.executable, "-m", "meshframes.hosts.pipe_authority", str(committee_file), str(key_file), str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    payload = b"".join(frame(encode_message(m)) for m in messages)

    def feed() -> None:
        try:
            proc.stdin.write(payload)  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        except BrokenPipeError:
            pass  # killed mid-stream: exactly the point

    writer = threading.Thread(target=feed)
    writer.start()
    replies = read_frames(proc.stdout, len(messages) if kill_after is None else kill_after)
    if kill_after is not None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    writer.join(timeout=60)
    proc.stdout.close()  # type: ignore[union-attr]
    return proc.returncode, [decode_message(r) if r else None for r in replies]


def test_sigkill_mid_stream_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """SIGKILL during a stream of orders and confirmations: every vote that
    left is on disk, every acknowledged confirmation is executed, and the
    restarted authority votes identically or refuses."""
    committee, authorities, accounts = generate_committee([1, 1, 1, 1], [START] * ACCOUNTS)
    committee_file = write_committee_dir(tmp_path, committee, authorities, accounts)
    key_file = tmp_path / "keys" / "authority-0.json"
    db = tmp_path / "authority-0.db"
    stream = build_stream(committee, authorities, accounts)
    messages = [m for _, _, m in stream]

    kill_after = len(stream) // 2
    code, replies = run_authority(committee_file, key_file, db, messages, kill_after)
    assert code == -signal.SIGKILL
    assert len(replies) == kill_after

    store = AuthorityStore(db, committee)
    authority = Authority(authorities[0].keypair, committee, store)
    votes_seen: dict[tuple[bytes, int], SignedTransferOrder] = {}
    for (kind, key, message), reply in zip(stream, replies, strict=False):
        if kind == "order":
            assert isinstance(reply, SignedTransferOrder)
            votes_seen[key] = reply
            assert store.vote_for(*key) == reply, "a vote left the authority before it was stored"
        elif kind == "rival":
            assert isinstance(reply, FastPayError)
            assert reply.kind is ErrorKind.PreviousTransferMustBeConfirmedFirst
        else:
            assert isinstance(reply, AccountInfoResponse)
            assert store.confirmed_certificate(*key) == message, "an acknowledged confirmation was lost"
            assert authority.account(key[0]).next_sequence_number > key[1]  # type: ignore[union-attr]
    assert authority.total_balance() == START * ACCOUNTS
    # The kill landed mid-stream: the process had done more than we read.
    assert len(store.all_votes()) >= len(votes_seen)
    store.close()

    # Restart as a new process and replay the whole stream.
    code, replies = run_authority(committee_file, key_file, db, messages, None)
    assert code == 0 and len(replies) == len(stream)
    for (kind, key, _message), reply in zip(stream, replies, strict=False):
        if kind == "order" and isinstance(reply, SignedTransferOrder):
            assert votes_seen.setdefault(key, reply) == reply, "a second, different vote"
        elif kind == "order":
            # Already confirmed before the kill: the order is simply stale.
            assert reply == FastPayError(kind=ErrorKind.UnexpectedSequenceNumber)
        elif kind == "rival":
            assert isinstance(reply, FastPayError), "voted for a conflicting order"
        else:
            assert isinstance(reply, AccountInfoResponse)

    store = AuthorityStore(db, committee)
    authority = Authority(authorities[0].keypair, committee, store)
    for payer in accounts:
        assert authority.account(payer.public_key).next_sequence_number == ROUNDS  # type: ignore[union-attr]
    for vote in store.all_votes():
        key = (vote.value.transfer.sender, vote.value.transfer.sequence_number)
        assert votes_seen.get(key, vote) == vote
    assert authority.total_balance() == START * ACCOUNTS
    expected = [START] * ACCOUNTS
    for seq in range(ROUNDS):
        for i in range(ACCOUNTS):
            expected[i] -= 1 + i
            expected[(i + 1 + seq) % ACCOUNTS] += 1 + i
    assert [authority.account(a.public_key).balance for a in accounts] == expected  # type: ignore[union-attr]
    store.close()

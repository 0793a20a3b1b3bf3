"""The pipe shell around the authority: framing both ways, and a stream
whose framing is lost (an oversized length prefix)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from meshframes.fastpay.committee import generate_committee, write_committee_dir
from meshframes.fastpay.messages import AccountInfoRequest, AccountInfoResponse
from meshframes.fastpay.wire import decode_message, encode_message
from meshframes.hosts.pipe_authority import MAX_FRAME, FramingError, frame, split_frames

OVERSIZED = (MAX_FRAME + 1).to_bytes(4, "little")


def test_split_stops_at_an_oversized_length_after_the_frames_before_it() -> None:
    buffer = bytearray(frame(b"first") + frame(b"") + OVERSIZED + b"junk")
    assert split_frames(buffer) == [b"first", b""]
    assert bytes(buffer) == OVERSIZED + b"junk"
    with pytest.raises(FramingError, match=f"frame length {MAX_FRAME + 1} exceeds {MAX_FRAME}"):
        split_frames(buffer)


@pytest.mark.parametrize("prefix", [OVERSIZED, b"\xff\xff\xff\xff"])
def test_a_lost_framing_is_answered_up_to_it_then_the_process_exits_saying_why(tmp_path: Path,
                                                                              prefix: bytes) -> None:
    """The request before the bad length is answered; then the authority
    exits with EX_DATAERR and a message, rather than a traceback."""
    committee, authorities, accounts = generate_committee([1, 1, 1, 1], [100])
    committee_file = write_committee_dir(tmp_path, committee, authorities, accounts)
    request = AccountInfoRequest(sender=accounts[0].public_key)
    done = subprocess.run(
        [sys.executable, "-m", "meshframes.hosts.pipe_authority", str(committee_file),
         str(tmp_path / "keys" / "authority-0.json"), str(tmp_path / "a.db")],
        input=frame(encode_message(request)) + prefix + b"x" * 64, capture_output=True, timeout=120,
    )
    assert done.returncode == os.EX_DATAERR, done.stderr
    assert b"cannot be resynchronised; exiting" in done.stderr and b"Traceback" not in done.stderr
    size = int.from_bytes(done.stdout[:4], "little")
    reply = decode_message(done.stdout[4:4 + size])
    assert isinstance(reply, AccountInfoResponse) and reply.balance == 100
    assert len(done.stdout) == 4 + size

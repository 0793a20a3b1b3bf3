"""Run one authority over a pipe: length-prefixed FastPay messages in on
stdin, replies out on stdout. The I/O shell around the sans-IO engine used
by the crash test, and the smallest way to drive a real authority process.

Framing, both directions: u32 little-endian length, then that many bytes
of bincode `SerializedMessage`. Every input message gets exactly one
output frame; length 0 means "no reply".

Group commit: whatever complete frames one read returns form one batch,
one transaction and one fsync; their replies are written only after the
commit.

A length above MAX_FRAME means the stream is not ours or is corrupt, and
a length-prefixed stream cannot be resynchronised: the frames before it
are answered, then the process says why on stderr and exits with status
65 (EX_DATAERR).

    python -m meshframes.hosts.pipe_authority COMMITTEE KEYFILE DATABASE
"""

from __future__ import annotations

import os
import struct
import sys

from meshframes.fastpay.authority import Authority
from meshframes.fastpay.committee import Committee, Identity
from meshframes.fastpay.store import AuthorityStore

_LEN = struct.Struct("<I")
# A certificate from ~1000 authorities; anything longer is a framing error.
MAX_FRAME = 1 << 20


def frame(data: bytes) -> bytes:
    return _LEN.pack(len(data)) + data


class FramingError(ValueError):
    """The stream announced a frame longer than MAX_FRAME."""


def split_frames(buffer: bytearray) -> list[bytes]:
    """Remove and return the complete frames at the start of `buffer`. An
    oversized length stops the split there: the frames before it are
    returned, and a call that starts at it raises FramingError."""
    frames: list[bytes] = []
    pos = 0
    while len(buffer) - pos >= 4:
        (n,) = _LEN.unpack_from(buffer, pos)
        if n > MAX_FRAME:
            if frames:
                break
            raise FramingError(f"frame length {n} exceeds {MAX_FRAME}: the stream cannot be resynchronised")
        if len(buffer) - pos - 4 < n:
            break
        frames.append(bytes(buffer[pos + 4 : pos + 4 + n]))
        pos += 4 + n
    del buffer[:pos]
    return frames


def serve(authority: Authority, fd_in: int, fd_out: int) -> None:
    """Answer frames until end of input; raises FramingError (after
    answering every frame before the bad length)."""
    buffer = bytearray()
    while True:
        frames = split_frames(buffer)
        if not frames:
            chunk = os.read(fd_in, 1 << 16)
            if not chunk:
                return
            buffer += chunk
            continue
        replies = authority.handle_wire_batch(frames)
        out = b"".join(frame(r or b"") for r in replies)
        while out:
            out = out[os.write(fd_out, out) :]


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    committee = Committee.load(argv[0])
    identity = Identity.load(argv[1])
    authority = Authority(identity.keypair, committee, AuthorityStore(argv[2], committee))
    try:
        serve(authority, sys.stdin.fileno(), sys.stdout.fileno())
    except FramingError as error:
        print(f"pipe_authority: {error}; exiting", file=sys.stderr)
        return os.EX_DATAERR
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

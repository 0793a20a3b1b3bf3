"""Run one authority over a pipe: length-prefixed FastPay messages in on
stdin, replies out on stdout. The I/O shell around the sans-IO engine used
by the crash test, and the smallest way to drive a real authority process.

Framing, both directions: u32 little-endian length, then that many bytes
of bincode `SerializedMessage`. Every input message gets exactly one
output frame; length 0 means "no reply".

Group commit: whatever complete frames one read returns form one batch,
one transaction and one fsync; their replies are written only after the
commit.

    python -m meshframes.fastpay.pipe_authority COMMITTEE KEYFILE DATABASE
"""

from __future__ import annotations

import os
import struct
import sys

from .authority import Authority
from .committee import Committee, Identity
from .store import AuthorityStore

_LEN = struct.Struct("<I")
# A certificate from ~1000 authorities; anything longer is a framing error.
MAX_FRAME = 1 << 20


def frame(data: bytes) -> bytes:
    return _LEN.pack(len(data)) + data


def split_frames(buffer: bytearray) -> list[bytes]:
    """Remove and return the complete frames at the start of `buffer`."""
    frames = []
    pos = 0
    while len(buffer) - pos >= 4:
        (n,) = _LEN.unpack_from(buffer, pos)
        if n > MAX_FRAME:
            raise ValueError(f"frame length {n} at stream offset {pos} exceeds {MAX_FRAME}")
        if len(buffer) - pos - 4 < n:
            break
        frames.append(bytes(buffer[pos + 4 : pos + 4 + n]))
        pos += 4 + n
    del buffer[:pos]
    return frames


def serve(authority: Authority, fd_in: int, fd_out: int) -> None:
    buffer = bytearray()
    while True:
        chunk = os.read(fd_in, 1 << 16)
        if not chunk:
            return
        buffer += chunk
        frames = split_frames(buffer)
        if not frames:
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
    serve(authority, sys.stdin.fileno(), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Message framing between the host, the guest agent and the guest workers.

Both ends run the very same interpreter (the guest boots into the host's root
file system), so pickle carries bytes, exceptions and dataclasses such as
RxFrame unchanged. The channel is private to one qemu guest we started, so
unpickling it trusts no one we do not already run as root.
"""

from __future__ import annotations

import pickle
import struct
from typing import Any, BinaryIO

_LENGTH = struct.Struct("!I")


class ChannelClosed(EOFError):
    """The other end went away (qemu exited, the worker died)."""


def write_message(stream: BinaryIO, message: Any) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(body)) + body)
    stream.flush()


def read_message(stream: BinaryIO) -> Any:
    header = _read_exactly(stream, _LENGTH.size)
    return pickle.loads(_read_exactly(stream, _LENGTH.unpack(header)[0]))


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    chunks = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            raise ChannelClosed("channel closed mid-message" if chunks else "channel closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)

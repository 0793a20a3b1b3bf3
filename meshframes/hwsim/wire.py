"""Message framing between the host, the guest agent and the guest workers.

Both ends run the very same interpreter (the guest boots into the host's root
file system), so pickle carries bytes, exceptions and dataclasses such as
RxFrame unchanged. The channel is private to one qemu guest we started, so
unpickling it trusts no one we do not already run as root.
"""

from __future__ import annotations

import pickle
import struct
from typing import Any, Protocol

_LENGTH = struct.Struct("!I")


class ByteReader(Protocol):
    """The read end of a channel: a pipe, a socket file, the virtio port."""

    def read(self, size: int, /) -> bytes: ...


class ByteWriter(Protocol):
    """The write end of a channel."""

    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> object: ...


class ByteChannel(ByteReader, ByteWriter, Protocol):
    """Both ends in one object (a socket's makefile("rwb"), a BufferedRWPair)."""


class ChannelClosed(EOFError):
    """The other end went away (qemu exited, the worker died)."""


def write_message(stream: ByteWriter, message: Any) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(body)) + body)
    stream.flush()


def read_message(stream: ByteReader) -> Any:
    header = _read_exactly(stream, _LENGTH.size)
    return pickle.loads(_read_exactly(stream, _LENGTH.unpack(header)[0]))


def _read_exactly(stream: ByteReader, size: int) -> bytes:
    chunks: list[bytes] = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            raise ChannelClosed("channel closed mid-message" if chunks else "channel closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)

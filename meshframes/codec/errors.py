"""The only exceptions the codec raises.

A decode error says what was being read, at which byte offset of the MPDU,
what was found and what the standard (or Linux, where it is stricter)
expects there, so a refusal can be logged and counted without guessing.
"""

from __future__ import annotations


class CodecError(Exception):
    """Base of every codec error."""


class DecodeError(CodecError):
    """Bytes that are not a frame we can represent exactly."""

    def __init__(self, what: str, offset: int, got: object, expected: object) -> None:
        self.what = what
        self.offset = offset
        self.got = got
        self.expected = expected
        super().__init__(f"{what} at offset {offset}: got {got}, expected {expected}")


class EncodeError(CodecError):
    """An event whose fields cannot be put on the air as they are."""

    def __init__(self, what: str, got: object, expected: object) -> None:
        self.what = what
        self.got = got
        self.expected = expected
        super().__init__(f"{what}: got {got}, expected {expected}")


def need(data: bytes, offset: int, length: int, what: str) -> None:
    """Raise a truncation error unless `length` bytes are left at `offset`."""
    if len(data) - offset < length:
        raise DecodeError(what, offset, f"{max(len(data) - offset, 0)} bytes", f"{length} bytes")

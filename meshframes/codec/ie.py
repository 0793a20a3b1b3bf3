"""Information elements (802.11-2020 9.4.2): the registry, the generic
element that preserves anything we do not interpret, and list decoding.

Every typed element decodes strictly (its whole body, every bit kept), so
re-encoding a decoded frame gives back the same bytes; an element whose ID
we do not know stays a RawElement with its body untouched.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from meshframes.codec.errors import DecodeError, EncodeError, need


class Element(Protocol):
    @property
    def element_id(self) -> int: ...

    def body(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class RawElement:
    """An element kept as bytes: unknown IDs, and IDs outside our concern
    (SSID, rates, HT...)."""

    element_id: int
    data: bytes

    def body(self) -> bytes:
        return self.data


# A parser gets the element body, the body's offset in the MPDU (for error
# offsets) and the self-protected action code of the enclosing frame, which
# the Mesh Peering Management element needs to tell its fields apart.
Parser = Callable[[bytes, int, "int | None"], Element]
# 9.4.2.1: Element ID and Length, one octet each, before the body.
ELEMENT_HEADER_LEN = 2
_ELEMENT_HEADER = struct.Struct("BB")
_PARSERS: dict[int, Parser] = {}


def register(element_id: int) -> Callable[[Parser], Parser]:
    def deco(parser: Parser) -> Parser:
        _PARSERS[element_id] = parser
        return parser
    return deco


def decode_elements(data: bytes, offset: int, end: int | None = None,
                    peering_action: int | None = None,
                    stop_at: int | None = None) -> tuple[tuple[Element, ...], int]:
    """Decode elements from `offset` to `end`.

    With `stop_at`, decoding stops right after the first element of that ID
    and the offset of what follows is returned (used for the MIC element,
    behind which AMPE frames carry ciphertext, not elements).
    """
    end = len(data) if end is None else end
    avail = min(end, len(data))
    out: list[Element] = []
    off = offset
    while off < end:
        # The checks are made here and `need` called only to raise: this
        # loop runs for every element of every frame.
        if avail - off < ELEMENT_HEADER_LEN:
            need(data[:end], off, ELEMENT_HEADER_LEN, "element header")
        eid = data[off]
        length = data[off + 1]
        start = off + ELEMENT_HEADER_LEN
        if avail - start < length:
            need(data[:end], start, length, f"element {eid} body")
        body = data[start:start + length]
        parser = _PARSERS.get(eid)
        out.append(parser(body, start, peering_action) if parser else RawElement(eid, body))
        off = start + length
        if eid == stop_at:
            break
    return tuple(out), off


def element_header(data: bytes) -> tuple[int, int] | None:
    """(Element ID, Length) of the element `data` starts with, None when
    the two octets are not there."""
    return (data[0], data[1]) if len(data) >= ELEMENT_HEADER_LEN else None


def with_element_length(element: bytes) -> bytes:
    """`element` (Element ID, Length, body) with its Length octet set to
    the length of its body (9.4.2.1)."""
    return element[:1] + bytes((len(element) - ELEMENT_HEADER_LEN,)) + element[ELEMENT_HEADER_LEN:]


def first_element_id(data: bytes) -> int | None:
    """The Element ID of the element `data` starts with, None when empty."""
    return data[0] if data else None


def encode_elements(elements: tuple[Element, ...]) -> bytes:
    parts: list[bytes] = []
    element_parts(elements, parts)
    return b"".join(parts)


def element_parts(elements: tuple[Element, ...], parts: list[bytes]) -> None:
    """Append each element's header and body to `parts`, for a caller that
    joins a whole frame once."""
    append = parts.append
    for element in elements:
        body = element.body()
        length = len(body)
        if length > 255:
            raise EncodeError(f"element {element.element_id} length", length, "<= 255")
        append(_ELEMENT_HEADER.pack(element.element_id, length))
        append(body)


T = TypeVar("T")


def find(elements: tuple[Element, ...], kind: type[T]) -> T | None:
    """The first element of a given class, or None."""
    for element in elements:
        if type(element) is kind:
            return element
    return None


def find_raw(elements: tuple[Element, ...], element_id: int) -> RawElement | None:
    for element in elements:
        if isinstance(element, RawElement) and element.element_id == element_id:
            return element
    return None


def exact_length(body: bytes, offset: int, what: str, expected: int) -> None:
    if len(body) != expected:
        raise DecodeError(f"{what} length", offset - 1, len(body), expected)

"""Strict dissection for our layers.

Plain Scapy fills a short field silently or turns the rest of a frame into
`Raw` without saying why. Our layers instead raise `MalformedLayer` with the
layer, the field and "got X, expected Y", so the analyzer can report exactly
what is wrong and where. Under plain Scapy (no `conf.debug_dissector`) the
exception is caught by Scapy as usual and the bytes stay visible as `Raw`.
"""

from __future__ import annotations

from typing import Any

from scapy.fields import BitField, ConditionalField, StrField, StrFixedLenField
from scapy.layers.dot11 import Dot11Elt
from scapy.packet import Packet

from meshframes.codec.ie import ELEMENT_HEADER_LEN, element_header, with_element_length


class MalformedLayer(ValueError):
    """A layer whose bytes do not follow its format; the message says how."""


def _needed(pkt: Packet, fld: Any) -> int | None:
    """Octets the field needs from the remaining bytes, or None if variable."""
    if isinstance(fld, BitField) or fld.holds_packets or fld.islist:
        return None
    if isinstance(fld, StrFixedLenField):
        return fld.length_from(pkt)
    if isinstance(fld, StrField):
        return None
    return getattr(fld, "sz", None)


def strict_dissect_fields(pkt: Packet, s: bytes) -> bytes:
    """Scapy's field loop, refusing any field that does not fit the bytes."""
    raw = s
    pkt.raw_packet_cache_fields = {}
    for f in pkt.fields_desc:
        fld = f
        if isinstance(f, ConditionalField):
            if not f._evalcond(pkt):
                continue
            fld = f.fld
        left = s[0] if isinstance(s, tuple) else s
        need = _needed(pkt, fld)
        if need is not None and len(left) < need:
            raise MalformedLayer(
                f"{pkt.name}: truncated at field '{fld.name}': "
                f"needs {need} octets, got {len(left)}"
            )
        if isinstance(fld, BitField) and not isinstance(s, tuple) and not left:
            raise MalformedLayer(f"{pkt.name}: truncated at field '{fld.name}': no octets left")
        try:
            s, fval = fld.getfield(pkt, s)
        except MalformedLayer:
            raise
        except Exception as exc:
            raise MalformedLayer(f"{pkt.name}: field '{fld.name}' does not decode: {exc}") from exc
        if (fld.islist or fld.holds_packets or fld.ismutable) and fval is not None:
            pkt.raw_packet_cache_fields[fld.name] = pkt._raw_packet_cache_field_value(
                fld, fval, copy=True
            )
        pkt.fields[fld.name] = fval
    pkt.raw_packet_cache = raw[: -len(s)] if s else raw
    pkt.explicit = 1
    return s


class StrictPacket(Packet):
    """A fixed-layout header: every field must be present in full, and when
    `body_required` names what must follow, a missing body is an error."""

    body_required: str | None = None

    def do_dissect(self, s: bytes) -> bytes:
        return strict_dissect_fields(self, s)

    def post_dissect(self, s: bytes) -> bytes:
        if not s and self.body_required:
            raise MalformedLayer(f"{self.name}: ends where {self.body_required} should follow")
        return s


class StrictSubPacket(StrictPacket):
    """A structure nested in another (PacketField/PacketListField): it ends
    where its fields end and hands the rest back to its container."""

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


def describe_lengths(allowed: set[int]) -> str:
    """Allowed lengths as a reader wants them: runs as ranges ("68..255"),
    the rest listed ("4, 6 or 8")."""
    runs: list[list[int]] = []
    for n in sorted(allowed):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    parts = [str(lo) if lo == hi else f"{lo}, {hi}" if hi == lo + 1 else f"{lo}..{hi}" for lo, hi in runs]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


class MeshElement(Dot11Elt):
    """An element (802.11-2020 9.4.2.1) whose body must match its Length.

    Subclasses describe their body with `fields_desc` after ID and len, and
    may override `expected_length(body)` to state which lengths the standard
    allows for the body they see (for example PREQ: 26 + 6 if the address
    extension flag is set + 11 per target).
    """

    match_subclass = True

    def expected_length(self, body: bytes) -> int | set[int] | None:
        return None

    def do_dissect(self, s: bytes) -> bytes:
        header = element_header(s)
        if header is None:
            raise MalformedLayer(
                f"{self.name}: element header truncated: got {len(s)} octets, expected {ELEMENT_HEADER_LEN}"
            )
        _, length = header
        end = ELEMENT_HEADER_LEN + length
        if len(s) < end:
            raise MalformedLayer(
                f"{self.name}: Length says {length} octets, only {len(s) - ELEMENT_HEADER_LEN} left in the frame"
            )
        body, rest = s[:end], s[end:]
        expected = self.expected_length(body[ELEMENT_HEADER_LEN:])
        if expected is not None:
            allowed = expected if isinstance(expected, set) else {expected}
            if length not in allowed:
                raise MalformedLayer(f"{self.name}: Length {length}, expected {describe_lengths(allowed)}")
        left = strict_dissect_fields(self, body)
        if left:
            raise MalformedLayer(
                f"{self.name}: {len(left)} octets left over inside the element (Length {length})"
            )
        self.raw_packet_cache = body
        return rest

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        if self.len is None:
            pkt = with_element_length(pkt)
        return pkt + pay

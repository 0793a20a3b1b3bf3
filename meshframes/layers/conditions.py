"""Conditions of `ConditionalField`s that say what they test.

A lambda answers Scapy but tells nobody else which field it reads; these
small callables answer Scapy the same way and keep the field name and the
values, so the Wireshark dissector (`meshframes.layers.wireshark`) is
generated from the same definitions instead of being written twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from scapy.packet import Packet


@dataclass(frozen=True, slots=True)
class FieldIn:
    """True when field `name` holds one of `values`."""

    name: str
    values: frozenset[int]

    def __call__(self, pkt: Packet) -> bool:
        return pkt.getfieldval(self.name) in self.values


@dataclass(frozen=True, slots=True)
class OptionSome:
    """A bincode Option's value is present: its one-octet tag is 1 when
    dissected; when built with the tag left to be computed, whether the
    value was given."""

    tag_name: str
    value_name: str

    def __call__(self, pkt: Packet) -> bool:
        tag = pkt.getfieldval(self.tag_name)
        if tag is None:
            return pkt.getfieldval(self.value_name) is not None
        return bool(tag == 1)

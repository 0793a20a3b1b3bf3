"""Mesh Control field (IEEE 802.11-2020 9.2.4.7.3) in mesh data frames.

Scapy 2.8 ignores the Mesh Control Present bit of QoS Control and parses the
Mesh Control field as LLC. Importing this module teaches `Dot11QoS` to hand
its payload to `MeshControl` when the field is there.

Two rules decide that, and `mesh_control_rule` says which one fired:
- "qos-bit": QoS Control bit 8 (Mesh Control Present, 9.2.4.5.1) is set;
- "4addr-heuristic": the bit is clear, but the frame is an unprotected
  4-address QoS data frame whose body is a well-formed Mesh Control field
  followed by an LLC/SNAP header. Linux 6.1 sends every frame it relays
  this way (the bit is cleared while the field stays), and tshark 4.0 then
  misreads the frame; we do not.
"""

from __future__ import annotations

from scapy.fields import BitEnumField, BitField, ByteField, ConditionalField, LEIntField, MACField
from scapy.layers.dot11 import Dot11, Dot11QoS
from scapy.layers.l2 import LLC
from scapy.packet import Packet, bind_layers, bind_top_down

from meshframes.layers._strict import MalformedLayer, StrictPacket

# 9.2.4.5.1: bit 8 of QoS Control (bit 0 of its second octet, Scapy's TXOP).
QOS_MESH_CONTROL_PRESENT = 0x01
# 9.2.4.7.3, table 9-26: Address Extension Mode.
AE_NONE = 0
AE_A4 = 1
AE_A5_A6 = 2
AE_MODES = {AE_NONE: "none", AE_A4: "A4", AE_A5_A6: "A5+A6", 3: "reserved"}

_LLC_SNAP = b"\xaa\xaa\x03"
_AE_LENGTH = {AE_NONE: 0, AE_A4: 6, AE_A5_A6: 12}


class MeshControl(StrictPacket):
    """Mesh Control field: Mesh Flags, Mesh TTL, Mesh Sequence Number and the
    Mesh Address Extension (none, Address 4, or Addresses 5 and 6)."""

    name = "Mesh Control"
    fields_desc = [
        BitField("reserved", 0, 6),
        BitEnumField("address_extension_mode", AE_NONE, 2, AE_MODES),
        ByteField("mesh_ttl", 31),
        LEIntField("mesh_sequence_number", 0),
        ConditionalField(MACField("address4", None), lambda p: p.address_extension_mode == AE_A4),
        ConditionalField(MACField("address5", None), lambda p: p.address_extension_mode == AE_A5_A6),
        ConditionalField(MACField("address6", None), lambda p: p.address_extension_mode == AE_A5_A6),
    ]

    def post_dissect(self, s: bytes) -> bytes:
        if self.address_extension_mode == 3:
            raise MalformedLayer("Mesh Control: Address Extension Mode 3 is reserved")
        if self.reserved:
            raise MalformedLayer(f"Mesh Control: reserved Mesh Flags bits set (0x{self.reserved << 2:02x})")
        return super().post_dissect(s)

    def mysummary(self) -> str:
        return self.sprintf("Mesh Control ttl=%mesh_ttl% seq=%mesh_sequence_number% ae=%address_extension_mode%")


class VendorMeshControl(MeshControl):
    """The same Mesh Control field where our vendor-specific action frames
    carry it (docs/wire-format.md); what follows is a FastPay header."""

    name = "Mesh Control (vendor action)"
    body_required = "the FastPay header"
    # Its own bindings only: what follows is never LLC.
    payload_guess: list = []


def _is_qos_data(pkt: Packet) -> bool:
    return isinstance(pkt, Dot11) and pkt.type == 2 and 8 <= pkt.subtype <= 11


def looks_like_mesh_control(body: bytes) -> bool:
    """A well-formed Mesh Control field followed by LLC/SNAP, and not a body
    that is itself LLC/SNAP (a plain 4-address WDS frame)."""
    if len(body) < 6 or body.startswith(_LLC_SNAP):
        return False
    flags = body[0]
    mode = flags & 0x03
    if flags & 0xFC or mode not in _AE_LENGTH:
        return False
    end = 6 + _AE_LENGTH[mode]
    return body[end : end + 3] == _LLC_SNAP


def mesh_control_rule(qos: Dot11QoS, body: bytes) -> str | None:
    """Which rule says this QoS data body starts with Mesh Control, if any."""
    dot11 = qos.underlayer
    if not _is_qos_data(dot11) or dot11.FCfield.protected:
        return None
    if qos.TXOP & QOS_MESH_CONTROL_PRESENT:
        return "qos-bit"
    if dot11.FCfield.to_DS and dot11.FCfield.from_DS and looks_like_mesh_control(body):
        return "4addr-heuristic"
    return None


_scapy_qos_guess = Dot11QoS.guess_payload_class


def _qos_guess_payload_class(self: Dot11QoS, payload: bytes) -> type[Packet]:
    if mesh_control_rule(self, payload):
        return MeshControl
    return _scapy_qos_guess(self, payload)


# Scapy picks Dot11QoS's payload through a catch-all LLC binding that a
# bind_layers condition cannot override, so the decision is made here.
Dot11QoS.guess_payload_class = _qos_guess_payload_class

bind_top_down(Dot11QoS, MeshControl, TXOP=QOS_MESH_CONTROL_PRESENT)
bind_layers(MeshControl, LLC)

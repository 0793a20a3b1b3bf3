"""Mesh Control field (IEEE 802.11-2020 9.2.4.7.3) in mesh data frames.

Scapy 2.8 ignores the Mesh Control Present bit of QoS Control and parses the
Mesh Control field as LLC; `meshframes.layers.machdr` teaches `Dot11QoS` to
hand its payload to `MeshControl` when the field is there.

The decision is the codec's (`meshframes.codec.meshctl.mesh_control_rule`,
applied by the hooks in `meshframes.layers.machdr`),
so the layers and the engines never disagree on it: "qos-bit" when QoS
Control bit 8 (Mesh Control Present, 9.2.4.5.1) is set, "inferred" for mesh
data that carries the field with the bit clear, as Linux 6.1 relays it.
A-MSDU bodies are left to Scapy: each of their subframes has its own Mesh
Control.
"""

from __future__ import annotations

from typing import Any, TypeGuard

from scapy.fields import BitEnumField, BitField, ByteField, ConditionalField, LEIntField, MACField
from scapy.layers.dot11 import Dot11, Dot11QoS
from scapy.layers.l2 import LLC
from scapy.packet import Packet, bind_layers, bind_top_down
from scapy.utils import mac2str

from meshframes.codec.header import QOS_MESH_CONTROL_PRESENT
from meshframes.codec.meshctl import AE_A4, AE_A5_A6, AE_MODE_NAMES, AE_NONE, AE_RESERVED
from meshframes.codec.meshctl import mesh_control_rule as codec_mesh_control_rule
from meshframes.layers._strict import MalformedLayer, StrictPacket
from meshframes.layers.conditions import FieldIn

# Scapy's TXOP field is QoS Control's second octet: the codec's u16 bit
# shifted down by a byte.
_TXOP_MESH_CONTROL_PRESENT = QOS_MESH_CONTROL_PRESENT >> 8


class MeshControl(StrictPacket):
    """Mesh Control field: Mesh Flags, Mesh TTL, Mesh Sequence Number and the
    Mesh Address Extension (none, Address 4, or Addresses 5 and 6)."""

    name = "Mesh Control"
    fields_desc = [
        BitField("reserved", 0, 6),
        BitEnumField("address_extension_mode", AE_NONE, 2, AE_MODE_NAMES),
        ByteField("mesh_ttl", 31),
        LEIntField("mesh_sequence_number", 0),
        ConditionalField(MACField("address4", None), FieldIn("address_extension_mode", frozenset({AE_A4}))),
        ConditionalField(MACField("address5", None), FieldIn("address_extension_mode", frozenset({AE_A5_A6}))),
        ConditionalField(MACField("address6", None), FieldIn("address_extension_mode", frozenset({AE_A5_A6}))),
    ]

    def post_dissect(self, s: bytes) -> bytes:
        if self.address_extension_mode == AE_RESERVED:
            raise MalformedLayer("Mesh Control: Address Extension Mode 3 is reserved")
        return super().post_dissect(s)

    def mysummary(self) -> str:
        return self.sprintf("Mesh Control ttl=%mesh_ttl% seq=%mesh_sequence_number% ae=%address_extension_mode%")


class VendorMeshControl(MeshControl):
    """The same Mesh Control field where our vendor-specific action frames
    carry it (docs/wire-format.md); what follows is a FastPay header."""

    name = "Mesh Control (vendor action)"
    body_required = "the FastPay header"
    # Its own bindings only: what follows is never LLC.
    payload_guess: list[tuple[dict[str, Any], type[Packet]]] = []


def _is_qos_data(pkt: Packet | None) -> TypeGuard[Dot11]:
    return isinstance(pkt, Dot11) and pkt.type == 2 and 8 <= pkt.subtype <= 11


def mesh_control_rule(qos: Dot11QoS, body: bytes) -> str | None:
    """Which rule says this QoS data body starts with Mesh Control, if any."""
    dot11 = qos.underlayer
    if not _is_qos_data(dot11):
        return None
    # The same 16-bit fields the codec reads, put back together from
    # Scapy's bit fields (9.2.4.1.1 Frame Control, 9.2.4.5.1 QoS Control).
    fc = dot11.subtype << 4 | dot11.type << 2 | dot11.proto | int(dot11.FCfield) << 8
    qos_control = qos.TID | qos.EOSP << 4 | qos.Ack_Policy << 5 | qos.A_MSDU_Present << 7 | qos.TXOP << 8
    return codec_mesh_control_rule(fc, qos_control, mac2str(dot11.addr1), dot11.SC or 0, body)


bind_top_down(Dot11QoS, MeshControl, TXOP=_TXOP_MESH_CONTROL_PRESENT)
bind_layers(MeshControl, LLC)

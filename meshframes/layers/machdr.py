"""What follows Scapy's 802.11 MAC header: the HT Control field and the
Mesh Control field, which Scapy 2.8 does not know.

HT Control (IEEE 802.11-2020 9.2.4.6): HT, VHT and HE stations put four
octets after the QoS Control field of QoS data frames, and after Sequence
Control of management frames, when they set the +HTC/Order bit of Frame
Control (9.2.4.1.10). Without this layer the body of every such frame would
be read four octets early.

Scapy chooses `Dot11`'s and `Dot11QoS`'s payloads in code (the QoS payload
through a catch-all LLC binding that no bind_layers condition can override),
so the choice is made here, once, for both fields.
"""

from __future__ import annotations

from scapy.fields import XLEIntField, XStrField
from scapy.layers.dot11 import Dot11, Dot11Encrypted, Dot11QoS
from scapy.packet import Packet

from meshframes.layers._strict import StrictPacket
from meshframes.layers.meshctl import MeshControl, mesh_control_rule

_scapy_dot11_guess = Dot11.guess_payload_class
_scapy_qos_guess = Dot11QoS.guess_payload_class


def carries_ht_control(dot11: Dot11) -> bool:
    """Management and QoS data frames with the +HTC/Order bit set."""
    return bool(dot11.FCfield.order) and (dot11.type == 0 or (dot11.type == 2 and dot11.subtype & 0x08 != 0))


class AMSDU(Packet):
    """An A-MSDU (9.3.2.2.2): subframes of DA, SA, Length, [Mesh Control],
    MSDU and padding. Kept whole; the analyzer reports it undecoded rather
    than read the first subframe header as LLC, as plain Scapy would."""

    name = "A-MSDU (subframes not decoded)"
    fields_desc = [XStrField("subframes", b"")]


def _qos_body(qos: Dot11QoS, payload: bytes) -> type[Packet]:
    if qos.A_MSDU_Present and not (isinstance(qos.underlayer, Dot11) and qos.underlayer.FCfield.protected):
        return AMSDU
    if mesh_control_rule(qos, payload):
        return MeshControl
    return _scapy_qos_guess(qos, payload)


class HTControl(StrictPacket):
    name = "HT Control"
    fields_desc = [XLEIntField("ht_control", 0)]

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        lower = self.underlayer
        dot11 = lower.underlayer if isinstance(lower, Dot11QoS) else lower
        if not isinstance(dot11, Dot11):  # built on its own, with no 802.11 header to go by
            return Packet.guess_payload_class(self, payload)
        if dot11.FCfield.protected:
            return Dot11Encrypted
        if isinstance(lower, Dot11QoS):
            return _qos_body(lower, payload)
        # The management body that would have followed Sequence Control.
        return Packet.guess_payload_class(dot11, payload)


def _dot11_guess_payload_class(self: Dot11, payload: bytes) -> type[Packet]:
    if self.type == 0 and carries_ht_control(self):
        return HTControl
    return _scapy_dot11_guess(self, payload)


def _qos_guess_payload_class(self: Dot11QoS, payload: bytes) -> type[Packet]:
    dot11 = self.underlayer
    if isinstance(dot11, Dot11) and carries_ht_control(dot11):
        return HTControl
    return _qos_body(self, payload)


# Scapy picks these payloads in code, not through bindings: replacing the
# methods is the only hook there is.
Dot11.guess_payload_class = _dot11_guess_payload_class  # type: ignore[method-assign]
Dot11QoS.guess_payload_class = _qos_guess_payload_class  # type: ignore[method-assign]

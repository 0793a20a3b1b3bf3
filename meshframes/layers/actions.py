"""Mesh, self-protected and vendor-specific action frames
(IEEE 802.11-2020 9.6.16, 9.6.15, and category 127 of Table 9-51).

Scapy's `Dot11Action` knows categories up to 21; the frames here hang off it
by category value, and their elements dissect through the `Dot11Elt`
registry filled by `meshframes.layers.elements` and `.hwmp`.
"""

from __future__ import annotations

from scapy.fields import ByteEnumField, FlagsField, LEShortField, OUIField
from scapy.layers.dot11 import Dot11Action, Dot11Elt, capability_list
from scapy.packet import Packet, bind_layers

from meshframes.layers._strict import MalformedLayer, StrictPacket
from meshframes.layers.elements import (
    MESHFRAMES_OUI,
    PEERING_CLOSE,
    PEERING_CONFIRM,
    PEERING_OPEN,
)
from meshframes.layers.meshctl import VendorMeshControl

# 9.4.1.11, table 9-51: Category values.
CATEGORY_MESH = 13
CATEGORY_SELF_PROTECTED = 15
CATEGORY_VENDOR_SPECIFIC_PROTECTED = 126
CATEGORY_VENDOR_SPECIFIC = 127
# 9.4.1.11: a STA returns an action frame whose category it does not know
# with the category's top bit set (Linux: ieee80211_rx_h_action_return).
CATEGORY_ERROR_BIT = 0x80

_category_field = Dot11Action.fields_desc[0]
if not isinstance(_category_field, ByteEnumField) or _category_field.i2s is None:
    raise ImportError("Scapy's Dot11Action no longer starts with its Category enum field")
_category_field.i2s.update(
    {
        CATEGORY_VENDOR_SPECIFIC_PROTECTED: "Vendor-specific Protected",
        CATEGORY_VENDOR_SPECIFIC: "Vendor-specific",
    }
)

# 9.6.16.1: Mesh Action field values.
MESH_ACTIONS = {
    0: "Mesh Link Metric Report",
    1: "HWMP Mesh Path Selection",
    2: "Gate Announcement",
    3: "Congestion Control Notification",
    4: "MCCA Setup Request",
    5: "MCCA Setup Reply",
    6: "MCCA Advertisement Request",
    7: "MCCA Advertisement",
    8: "MCCA Teardown",
    9: "TBTT Adjustment Request",
    10: "TBTT Adjustment Response",
}
MESH_ACTION_HWMP_PATH_SELECTION = 1
MESH_ACTION_GATE_ANNOUNCEMENT = 2

# 9.6.15.1: Self-protected Action field values.
SELF_PROTECTED_ACTIONS = {
    PEERING_OPEN: "Mesh Peering Open",
    PEERING_CONFIRM: "Mesh Peering Confirm",
    PEERING_CLOSE: "Mesh Peering Close",
    4: "Mesh Group Key Inform",
    5: "Mesh Group Key Acknowledge",
}
SELF_PROTECTED_GROUP_KEY_INFORM = 4
SELF_PROTECTED_GROUP_KEY_ACK = 5


# 9.6.16.1
class MeshAction(StrictPacket):
    name = "Mesh Action"
    body_required = "the action's elements"
    fields_desc = [ByteEnumField("mesh_action", MESH_ACTION_HWMP_PATH_SELECTION, MESH_ACTIONS)]


# 9.6.16.3: the frame is the Category and Action fields, then elements.
class HWMPMeshPathSelection(StrictPacket):
    name = "HWMP Mesh Path Selection"
    body_required = "a path selection element"


# 9.6.16.4
class GateAnnouncement(StrictPacket):
    name = "Gate Announcement"
    body_required = "a GANN element"


# 9.6.15.1
class SelfProtectedAction(StrictPacket):
    name = "Self-protected Action"
    body_required = "the frame's fields"
    fields_desc = [ByteEnumField("self_protected_action", PEERING_OPEN, SELF_PROTECTED_ACTIONS)]


# 9.6.15.2: Capability, then Supported Rates, ..., Mesh ID, Mesh
# Configuration, Mesh Peering Management and optional elements.
class PeeringOpen(StrictPacket):
    name = "Mesh Peering Open"
    body_required = "the Mesh Peering Management element"
    fields_desc = [FlagsField("capability", 0, 16, capability_list)]


# 9.6.15.3: Capability and AID, then elements.
class PeeringConfirm(StrictPacket):
    name = "Mesh Peering Confirm"
    body_required = "the Mesh Peering Management element"
    fields_desc = [
        FlagsField("capability", 0, 16, capability_list),
        LEShortField("aid", 1),
    ]


# 9.6.15.4: elements only (Mesh ID, Mesh Peering Management, MIC, AMPE).
class PeeringClose(StrictPacket):
    name = "Mesh Peering Close"
    body_required = "the Mesh Peering Management element"


# 9.6.15.5-6: MIC and AMPE elements.
class MeshGroupKeyInform(StrictPacket):
    name = "Mesh Group Key Inform"
    body_required = "the MIC and AMPE elements"


class MeshGroupKeyAcknowledge(StrictPacket):
    name = "Mesh Group Key Acknowledge"
    body_required = "the MIC and AMPE elements"


# Table 9-51, category 127: an OUI, then content the OUI owner defines.
class VendorSpecificAction(StrictPacket):
    name = "Vendor-specific Action"
    fields_desc = [OUIField("oui", MESHFRAMES_OUI)]

    def post_dissect(self, s: bytes) -> bytes:
        if not s and self.oui == MESHFRAMES_OUI:
            raise MalformedLayer(f"{self.name}: our OUI with no Mesh Control after it")
        return s


# Category 126: the same layout in a robust (CCMP-protected) action frame.
class VendorSpecificProtectedAction(VendorSpecificAction):
    name = "Vendor-specific Protected Action"


class ReturnedAction(Packet):
    """An action frame a receiver sent back because it did not handle its
    category (9.4.1.11, Category with bit 7 set); the body dissects as the
    original category's."""

    name = "Returned Action (category error bit set)"

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        if not isinstance(self.underlayer, Dot11Action):  # built on its own: no category to go by
            return Packet.guess_payload_class(self, payload)
        original = Dot11Action(category=self.underlayer.category & ~CATEGORY_ERROR_BIT)
        return original.guess_payload_class(payload)


bind_layers(Dot11Action, MeshAction, category=CATEGORY_MESH)
bind_layers(Dot11Action, SelfProtectedAction, category=CATEGORY_SELF_PROTECTED)
bind_layers(Dot11Action, VendorSpecificAction, category=CATEGORY_VENDOR_SPECIFIC)
bind_layers(Dot11Action, VendorSpecificProtectedAction, category=CATEGORY_VENDOR_SPECIFIC_PROTECTED)
for _category in range(CATEGORY_ERROR_BIT, 256):
    bind_layers(Dot11Action, ReturnedAction, category=_category)

bind_layers(MeshAction, HWMPMeshPathSelection, mesh_action=MESH_ACTION_HWMP_PATH_SELECTION)
bind_layers(MeshAction, GateAnnouncement, mesh_action=MESH_ACTION_GATE_ANNOUNCEMENT)
# Mesh Actions 0-8 are elements only (9.6.16.1); 9-10 have fixed fields we
# do not lay out, and 11-255 are reserved: those stay Raw (undecoded).
for _action in (0, *range(3, 9)):
    bind_layers(MeshAction, Dot11Elt, mesh_action=_action)
bind_layers(HWMPMeshPathSelection, Dot11Elt)
bind_layers(GateAnnouncement, Dot11Elt)

bind_layers(SelfProtectedAction, PeeringOpen, self_protected_action=PEERING_OPEN)
bind_layers(SelfProtectedAction, PeeringConfirm, self_protected_action=PEERING_CONFIRM)
bind_layers(SelfProtectedAction, PeeringClose, self_protected_action=PEERING_CLOSE)
bind_layers(SelfProtectedAction, MeshGroupKeyInform, self_protected_action=SELF_PROTECTED_GROUP_KEY_INFORM)
bind_layers(SelfProtectedAction, MeshGroupKeyAcknowledge, self_protected_action=SELF_PROTECTED_GROUP_KEY_ACK)
for _frame in (PeeringOpen, PeeringConfirm, PeeringClose, MeshGroupKeyInform, MeshGroupKeyAcknowledge):
    bind_layers(_frame, Dot11Elt)

bind_layers(VendorSpecificAction, VendorMeshControl, oui=MESHFRAMES_OUI)
bind_layers(VendorSpecificProtectedAction, VendorMeshControl, oui=MESHFRAMES_OUI)

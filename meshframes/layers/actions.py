"""Mesh, multihop, self-protected, Block Ack and vendor-specific action
frames (IEEE 802.11-2020 9.6.16, 9.6.17, 9.6.15, 9.6.4, and category 127 of
Table 9-51).

Scapy's `Dot11Action` knows categories up to 21; the frames here hang off it
by category value, and their elements dissect through the `Dot11Elt`
registry filled by `meshframes.layers.elements` and `.hwmp`.
"""

from __future__ import annotations

from typing import Any

from scapy.fields import ByteEnumField, ByteField, FlagsField, LEShortEnumField, LEShortField, OUIField
from scapy.layers.dot11 import Dot11Action, Dot11Elt, capability_list
from scapy.packet import Packet, Raw, bind_layers

from meshframes.codec.action import (
    CATEGORY_BLOCK_ACK,
    CATEGORY_ERROR_BIT,
    CATEGORY_MESH,
    CATEGORY_MULTIHOP,
    CATEGORY_NAMES,
    CATEGORY_SELF_PROTECTED,
    CATEGORY_VENDOR,
    CATEGORY_VENDOR_PROTECTED,
    MESH_ACTION_GATE_ANNOUNCEMENT,
    MESH_ACTION_HWMP_PATH_SELECTION,
    MESH_ACTION_NAMES,
    MESH_ACTIONS_WITH_ELEMENTS,
    MULTIHOP_ACTION_NAMES,
    MULTIHOP_ACTION_PROXY_UPDATE,
    MULTIHOP_ACTIONS_WITH_ELEMENTS,
)
from meshframes.codec.blockack import (
    BA_ACTION_ADDBA_REQUEST,
    BA_ACTION_ADDBA_RESPONSE,
    BA_ACTION_DELBA,
    BLOCK_ACK_ACTION_NAMES,
)
from meshframes.codec.peering import (
    SELF_PROTECTED_ACTION_NAMES,
    SP_MESH_GROUP_KEY_ACK,
    SP_MESH_GROUP_KEY_INFORM,
    SP_MESH_PEERING_CLOSE,
    SP_MESH_PEERING_CONFIRM,
    SP_MESH_PEERING_OPEN,
)
from meshframes.layers._strict import MalformedLayer, StrictPacket
from meshframes.layers.elements import MESH_REASON_CODES, MESHFRAMES_OUI
from meshframes.layers.meshctl import MeshControl, VendorMeshControl

_category_field = Dot11Action.fields_desc[0]
if not isinstance(_category_field, ByteEnumField) or _category_field.i2s is None:
    raise ImportError("Scapy's Dot11Action no longer starts with its Category enum field")
_category_field.i2s.update(CATEGORY_NAMES)


# 9.6.16.1
class MeshAction(StrictPacket):
    name = "Mesh Action"
    body_required = "the action's elements"
    fields_desc = [ByteEnumField("mesh_action", MESH_ACTION_HWMP_PATH_SELECTION, MESH_ACTION_NAMES)]


# 9.6.16.3: the frame is the Category and Action fields, then elements.
class HWMPMeshPathSelection(StrictPacket):
    name = "HWMP Mesh Path Selection"
    body_required = "a path selection element"


# 9.6.16.4
class GateAnnouncement(StrictPacket):
    name = "Gate Announcement"
    body_required = "a GANN element"


# 9.6.17.1: the Multihop Action field, then Mesh Control (9.6.17.2-3).
class MultihopAction(StrictPacket):
    name = "Multihop Action"
    body_required = "the Mesh Control field"
    fields_desc = [ByteEnumField("multihop_action", MULTIHOP_ACTION_PROXY_UPDATE, MULTIHOP_ACTION_NAMES)]


class MultihopMeshControl(MeshControl):
    """Mesh Control in a Multihop Action frame; its element (PXU or PXUC)
    follows."""

    name = "Mesh Control (multihop action)"
    body_required = "the action's element"
    # Its own bindings only: what follows is elements, never LLC.
    payload_guess: list[tuple[dict[str, Any], type[Packet]]] = []

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        # A reserved action's body is not ours to read (Table 9-482): Raw,
        # as the codec keeps it as bytes.
        action = getattr(self.underlayer, "multihop_action", None)
        return Dot11Elt if action in MULTIHOP_ACTIONS_WITH_ELEMENTS else Raw


# 9.6.15.1
class SelfProtectedAction(StrictPacket):
    name = "Self-protected Action"
    body_required = "the frame's fields"
    fields_desc = [ByteEnumField("self_protected_action", SP_MESH_PEERING_OPEN, SELF_PROTECTED_ACTION_NAMES)]


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


# 9.6.4.1: Block Ack action frames (category 3). The parameter sets and the
# Starting Sequence Control are 16-bit little-endian fields whose subfields
# meshframes.codec.blockack reads (TID, buffer size, initiator, ...).
class BlockAckAction(StrictPacket):
    name = "Block Ack Action"
    fields_desc = [ByteEnumField("block_ack_action", BA_ACTION_ADDBA_REQUEST, BLOCK_ACK_ACTION_NAMES)]

    def post_dissect(self, s: bytes) -> bytes:
        # Only the defined actions have fixed fields to miss; a reserved
        # one (3-255) has no layout, so nothing after it is not an error.
        if not s and self.block_ack_action in BLOCK_ACK_ACTION_NAMES:
            raise MalformedLayer(f"{self.name}: ends where the {BLOCK_ACK_ACTION_NAMES[self.block_ack_action]}"
                                 " fixed fields should follow")
        return s


# 9.6.4.2
class ADDBARequest(StrictPacket):
    name = "ADDBA Request"
    fields_desc = [
        ByteField("dialog_token", 1),
        LEShortField("block_ack_parameter_set", 0),
        LEShortField("block_ack_timeout_value", 0),
        LEShortField("block_ack_starting_sequence_control", 0),
    ]


# 9.6.4.3
class ADDBAResponse(StrictPacket):
    name = "ADDBA Response"
    fields_desc = [
        ByteField("dialog_token", 1),
        LEShortField("status_code", 0),
        LEShortField("block_ack_parameter_set", 0),
        LEShortField("block_ack_timeout_value", 0),
    ]


# 9.6.4.4
class DELBA(StrictPacket):
    name = "DELBA"
    fields_desc = [
        LEShortField("delba_parameter_set", 0),
        LEShortEnumField("reason_code", 1, MESH_REASON_CODES),
    ]


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
bind_layers(Dot11Action, MultihopAction, category=CATEGORY_MULTIHOP)
bind_layers(Dot11Action, SelfProtectedAction, category=CATEGORY_SELF_PROTECTED)
bind_layers(Dot11Action, BlockAckAction, category=CATEGORY_BLOCK_ACK)
bind_layers(Dot11Action, VendorSpecificAction, category=CATEGORY_VENDOR)
bind_layers(Dot11Action, VendorSpecificProtectedAction, category=CATEGORY_VENDOR_PROTECTED)
for _category in range(CATEGORY_ERROR_BIT, 256):
    bind_layers(Dot11Action, ReturnedAction, category=_category)

bind_layers(MeshAction, HWMPMeshPathSelection, mesh_action=MESH_ACTION_HWMP_PATH_SELECTION)
bind_layers(MeshAction, GateAnnouncement, mesh_action=MESH_ACTION_GATE_ANNOUNCEMENT)
# Mesh Actions 0-8 are elements only (9.6.16.1); 9-10 have fixed fields we
# do not lay out, and 11-255 are reserved: those stay Raw (undecoded).
for _action in MESH_ACTIONS_WITH_ELEMENTS:
    if _action in (MESH_ACTION_HWMP_PATH_SELECTION, MESH_ACTION_GATE_ANNOUNCEMENT):
        continue
    bind_layers(MeshAction, Dot11Elt, mesh_action=_action)
bind_layers(HWMPMeshPathSelection, Dot11Elt)
bind_layers(MultihopAction, MultihopMeshControl)
bind_layers(GateAnnouncement, Dot11Elt)

bind_layers(SelfProtectedAction, PeeringOpen, self_protected_action=SP_MESH_PEERING_OPEN)
bind_layers(SelfProtectedAction, PeeringConfirm, self_protected_action=SP_MESH_PEERING_CONFIRM)
bind_layers(SelfProtectedAction, PeeringClose, self_protected_action=SP_MESH_PEERING_CLOSE)
bind_layers(SelfProtectedAction, MeshGroupKeyInform, self_protected_action=SP_MESH_GROUP_KEY_INFORM)
bind_layers(SelfProtectedAction, MeshGroupKeyAcknowledge, self_protected_action=SP_MESH_GROUP_KEY_ACK)
for _frame in (PeeringOpen, PeeringConfirm, PeeringClose, MeshGroupKeyInform, MeshGroupKeyAcknowledge):
    bind_layers(_frame, Dot11Elt)

# Actions 3-255 are reserved (Table 9-344): those stay Raw (undecoded).
bind_layers(BlockAckAction, ADDBARequest, block_ack_action=BA_ACTION_ADDBA_REQUEST)
bind_layers(BlockAckAction, ADDBAResponse, block_ack_action=BA_ACTION_ADDBA_RESPONSE)
bind_layers(BlockAckAction, DELBA, block_ack_action=BA_ACTION_DELBA)
for _block_ack_frame in (ADDBARequest, ADDBAResponse, DELBA):
    bind_layers(_block_ack_frame, Dot11Elt)

bind_layers(VendorSpecificAction, VendorMeshControl, oui=MESHFRAMES_OUI)
bind_layers(VendorSpecificProtectedAction, VendorMeshControl, oui=MESHFRAMES_OUI)

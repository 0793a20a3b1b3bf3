"""The Mesh Peering Management element (802.11-2020 9.4.2.101) in both
layouts seen on the air.

Standard: Mesh Peering Protocol Identifier (u16), Local Link ID (u16),
[Peer Link ID (u16)], [Reason Code (u16)], [Chosen PMK (16)]. Which optional
fields are present depends on the frame: Open has none, Confirm the peer
link ID, Close the reason and maybe the peer link ID (14.3.4-14.3.6), so
decoding needs the self-protected action of the enclosing frame.

ns-3 (IEEE 802.11s draft): a one-octet subtype (1 open, 2 confirm, 3 close),
Local Link ID, [Peer Link ID], [Reason Code]; lengths 3, 5, 7. Odd lengths
never occur in the standard layout, so the length alone tells them apart.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from meshframes.codec.elements import EID_MESH_PEERING_MANAGEMENT
from meshframes.codec.errors import DecodeError, EncodeError
from meshframes.codec.ie import RawElement, register

# Self Protected Action field values, 9.6.15.1.
SP_MESH_PEERING_OPEN = 1
SP_MESH_PEERING_CONFIRM = 2
SP_MESH_PEERING_CLOSE = 3
SP_MESH_GROUP_KEY_INFORM = 4
SP_MESH_GROUP_KEY_ACK = 5
SELF_PROTECTED_ACTION_NAMES = {
    SP_MESH_PEERING_OPEN: "Mesh Peering Open",
    SP_MESH_PEERING_CONFIRM: "Mesh Peering Confirm",
    SP_MESH_PEERING_CLOSE: "Mesh Peering Close",
    SP_MESH_GROUP_KEY_INFORM: "Mesh Group Key Inform",
    SP_MESH_GROUP_KEY_ACK: "Mesh Group Key Acknowledge",
}

# Mesh Peering Protocol Identifier, 9.4.2.101.
PROTOCOL_MPM = 0
PROTOCOL_AMPE = 1
PROTOCOL_VENDOR_SPECIFIC = 255
PROTOCOL_NAMES = {PROTOCOL_MPM: "MPM", PROTOCOL_AMPE: "AMPE", PROTOCOL_VENDOR_SPECIFIC: "vendor-specific"}

PMKID_LEN = 16

# Standard-layout body length -> (peer link id?, reason?, pmkid?) per action.
_STANDARD_LAYOUTS: dict[int, dict[int, tuple[bool, bool, bool]]] = {
    SP_MESH_PEERING_OPEN: {4: (False, False, False), 20: (False, False, True)},
    SP_MESH_PEERING_CONFIRM: {6: (True, False, False), 22: (True, False, True)},
    SP_MESH_PEERING_CLOSE: {6: (False, True, False), 8: (True, True, False),
                            22: (False, True, True), 24: (True, True, True)},
}
_STANDARD_HEAD = struct.Struct("<HH")  # Mesh Peering Protocol Identifier, Local Link ID
_NS3_HEAD = struct.Struct("<BH")  # ns-3's subtype, Local Link ID
_U16 = struct.Struct("<H")
_NS3_LAYOUTS = {3: (False, False), 5: (True, False), 7: (True, True)}
# ns-3 asserts one length per subtype (IePeerManagement::
# DeserializeInformationField): Open 3, Confirm 5, Close 7.
NS3_LENGTHS = {SP_MESH_PEERING_OPEN: 3, SP_MESH_PEERING_CONFIRM: 5, SP_MESH_PEERING_CLOSE: 7}
# Lengths 9.6.15.2-4 allow per frame: 4 octets of protocol and local link
# ID, + 2 peer link ID, + 2 reason code, + 16 Chosen PMK in a secure mesh.
STANDARD_LENGTHS = {action: frozenset(layouts) for action, layouts in _STANDARD_LAYOUTS.items()}
# Elsewhere (beacons, group key frames) the fields cannot be told apart, but
# the length must still be one that some peering frame uses.
_ANY_STANDARD_LENGTH = sorted({n for layouts in _STANDARD_LAYOUTS.values() for n in layouts})


@dataclass(frozen=True, slots=True)
class MeshPeeringManagement:
    element_id: ClassVar[int] = EID_MESH_PEERING_MANAGEMENT
    local_link_id: int
    peer_link_id: int | None = None
    reason: int | None = None
    # Standard layout: the protocol identifier; None in the ns-3 layout.
    protocol_id: int | None = PROTOCOL_MPM
    pmkid: bytes | None = None
    # ns-3 draft layout: its subtype octet; None in the standard layout.
    ns3_subtype: int | None = None

    @property
    def is_ns3_draft(self) -> bool:
        return self.ns3_subtype is not None

    def body(self) -> bytes:
        if (self.protocol_id is None) == (self.ns3_subtype is None):
            raise EncodeError("peering element layout", (self.protocol_id, self.ns3_subtype),
                              "exactly one of protocol_id (802.11) and ns3_subtype (ns-3)")
        if self.ns3_subtype is not None and self.reason is not None and self.peer_link_id is None:
            raise EncodeError("ns-3 peering element", "reason without peer link id",
                              "peer link id before reason")
        head = (_NS3_HEAD.pack(self.ns3_subtype, self.local_link_id) if self.ns3_subtype is not None
                else _STANDARD_HEAD.pack(self.protocol_id, self.local_link_id))
        if self.peer_link_id is None and self.reason is None and self.pmkid is None:
            return head
        out = [head]
        if self.peer_link_id is not None:
            out.append(_U16.pack(self.peer_link_id))
        if self.reason is not None:
            out.append(_U16.pack(self.reason))
        if self.pmkid is not None:
            if self.ns3_subtype is not None or len(self.pmkid) != PMKID_LEN:
                raise EncodeError("Chosen PMK", len(self.pmkid), f"{PMKID_LEN} bytes, standard layout")
            out.append(self.pmkid)
        return b"".join(out)


@register(EID_MESH_PEERING_MANAGEMENT)
def _peering(body: bytes, offset: int, action: int | None) -> MeshPeeringManagement | RawElement:
    n = len(body)
    if n % 2:
        layout = _NS3_LAYOUTS.get(n)
        wanted = NS3_LENGTHS.get(action) if action is not None else None
        if layout is None or wanted not in (None, n):
            raise DecodeError("ns-3 peering element length", offset - 1, n, wanted or "3, 5 or 7")
        subtype, llid = struct.unpack_from("<BH", body)
        plid = struct.unpack_from("<H", body, 3)[0] if layout[0] else None
        reason = struct.unpack_from("<H", body, 5)[0] if layout[1] else None
        return MeshPeeringManagement(llid, plid, reason, protocol_id=None, ns3_subtype=subtype)
    layouts = _STANDARD_LAYOUTS.get(action) if action is not None else None
    if layouts is None:
        if n not in _ANY_STANDARD_LENGTH:
            raise DecodeError("Mesh Peering Management length", offset - 1, n, _ANY_STANDARD_LENGTH)
        # Outside Open, Confirm and Close the optional fields cannot be
        # told apart; keep the bytes rather than guess.
        return RawElement(EID_MESH_PEERING_MANAGEMENT, body)
    if n not in layouts:
        raise DecodeError("Mesh Peering Management length", offset - 1, n, sorted(layouts))
    has_plid, has_reason, has_pmk = layouts[n]
    proto, llid = struct.unpack_from("<HH", body)
    pos = 4
    plid = reason = None
    if has_plid:
        plid = struct.unpack_from("<H", body, pos)[0]
        pos += 2
    if has_reason:
        reason = struct.unpack_from("<H", body, pos)[0]
        pos += 2
    pmkid = body[pos:pos + PMKID_LEN] if has_pmk else None
    return MeshPeeringManagement(llid, plid, reason, protocol_id=proto, pmkid=pmkid)

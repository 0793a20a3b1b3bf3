"""802.11s elements other than path selection (IEEE 802.11-2020 9.4.2).

Each class registers its Element ID with Scapy's `Dot11Elt` registry, so a
beacon or peering frame dissects into these classes with no call into our
code. Element IDs are from table 9-92.
"""

from __future__ import annotations

import sys
from typing import Any

from scapy.fields import (
    BitField,
    ByteEnumField,
    ByteField,
    ConditionalField,
    FieldLenField,
    FlagsField,
    LEIntField,
    LELongField,
    LEShortEnumField,
    LEShortField,
    LEThreeBytesField,
    MACField,
    OUIField,
    PacketListField,
    StrLenField,
    XStrField,
    XStrFixedLenField,
    XStrLenField,
)
from scapy.layers.dot11 import Dot11EltVendorSpecific, _dot11_id_enum, _dot11_info_elts_ids
from scapy.packet import Packet

from meshframes.codec import elements as codec_elements
from meshframes.codec.elements import (
    AMPE_MIN_LEN,
    AUTHENTICATION_PROTOCOLS,
    AUTHORITY_ANNOUNCEMENT_LEN,
    CONGESTION_CONTROL_MODES,
    EID_AMPE,
    EID_BEACON_TIMING,
    EID_MESH_AWAKE_WINDOW,
    EID_MESH_CHANNEL_SWITCH_PARAMETERS,
    EID_MESH_CONFIGURATION,
    EID_MESH_ID,
    EID_MESH_PEERING_MANAGEMENT,
    EID_MIC,
    EID_PROXY_UPDATE,
    EID_PROXY_UPDATE_CONFIRMATION,
    EID_VENDOR_SPECIFIC,
    ELEMENT_HEADER_LEN,
    MESH_CAPABILITY_BITS,
    MESH_CONFIGURATION_LEN,
    MESH_ELEMENT_NAMES,
    MESH_ID_MAX,
    MIC_LEN,
    OUI_LEN,
    OUI_TYPE_AUTHORITY_ANNOUNCEMENT,
    PATH_SELECTION_METRICS,
    PATH_SELECTION_PROTOCOLS,
    SYNCHRONIZATION_METHODS,
)
from meshframes.codec.fastpay import MAX_MGMT_BODY
from meshframes.codec.peering import (
    NS3_LENGTHS,
    PMKID_LEN,
    PROTOCOL_NAMES,
    SP_MESH_PEERING_CLOSE,
    SP_MESH_PEERING_CONFIRM,
    SP_MESH_PEERING_OPEN,
    STANDARD_LENGTHS,
)
from meshframes.codec.proxy import (
    PROXY_INFO_FIXED_LEN,
    PXU_COUNT_OFFSET,
    PXU_FIXED_LEN,
    PXU_FLAG_LIFETIME,
    PXU_FLAG_NAMES,
    PXU_FLAG_ORIGINATOR_IS_PROXY,
    PXUC_LEN,
    proxy_info_length,
)
from meshframes.codec.reason import REASON_NAMES
from meshframes.layers._strict import MalformedLayer, MeshElement, StrictSubPacket

# Scapy shows element names from this table; it stops before the mesh IDs.
_dot11_info_elts_ids.update(MESH_ELEMENT_NAMES)

# 9.4.1.7, Table 9-49: reason codes used by mesh peering and HWMP, keyed
# by plain ints as Scapy's enum fields look them up.
MESH_REASON_CODES = {int(code): name for code, name in REASON_NAMES.items()}

# Scapy nests each element as one layer under the one before it, and
# dissecting, building, copying and showing a packet recurse through its
# layers, about 5 Python frames per element (measured with 100 to 1152
# empty elements). Python's default limit of 1000 frames stops at ~200
# elements: a well-formed frame the codec reads was then reported
# malformed. A management frame body holds at most MAX_MGMT_BODY octets
# (9.2.4.7.1), so at most MAX_MGMT_BODY // ELEMENT_HEADER_LEN elements
# (a Probe Request, which has no fixed fields): the limit is raised so the
# deepest legal frame fits, with 6 frames per element and Python's default
# depth left to the caller. It is never lowered.
MAX_ELEMENTS = MAX_MGMT_BODY // ELEMENT_HEADER_LEN
ELEMENT_NESTING_DEPTH = 6 * MAX_ELEMENTS + 1000
if sys.getrecursionlimit() < ELEMENT_NESTING_DEPTH:
    sys.setrecursionlimit(ELEMENT_NESTING_DEPTH)

# Our OUI (docs/wire-format.md), as the integer Scapy's OUIField holds.
MESHFRAMES_OUI = int.from_bytes(codec_elements.MESHFRAMES_OUI, "big")


def _id_field(element_id: int) -> ByteEnumField:
    # Scapy's own (i2s, s2i) pair returns None for unknown IDs, which its
    # ByteEnumField annotation does not allow.
    return ByteEnumField("ID", element_id, _dot11_id_enum)  # type: ignore[arg-type]


def _len_field() -> ByteField:
    return ByteField("len", None)


# 9.4.2.97
class MeshConfiguration(MeshElement):
    name = "Mesh Configuration"
    fields_desc = [
        _id_field(EID_MESH_CONFIGURATION),
        _len_field(),
        ByteEnumField("path_selection_protocol", 1, PATH_SELECTION_PROTOCOLS),
        ByteEnumField("path_selection_metric", 1, PATH_SELECTION_METRICS),
        ByteEnumField("congestion_control_mode", 0, CONGESTION_CONTROL_MODES),
        ByteEnumField("synchronization_method", 1, SYNCHRONIZATION_METHODS),
        ByteEnumField("authentication_protocol", 0, AUTHENTICATION_PROTOCOLS),
        # 9.4.2.97.6 Mesh Formation Info, most significant bit first.
        BitField("connected_to_as", 0, 1),
        BitField("number_of_peerings", 0, 6),
        BitField("connected_to_mesh_gate", 0, 1),
        FlagsField("mesh_capability", 0x09, 8, list(MESH_CAPABILITY_BITS)),
    ]

    def expected_length(self, body: bytes) -> int:
        return MESH_CONFIGURATION_LEN


# 9.4.2.98
class MeshID(MeshElement):
    name = "Mesh ID"
    fields_desc = [
        _id_field(EID_MESH_ID),
        _len_field(),
        StrLenField("mesh_id", b"", length_from=lambda p: p.len),
    ]

    def expected_length(self, body: bytes) -> set[int]:
        return set(range(MESH_ID_MAX + 1))


def _peering_frame_action(elt: Packet) -> int | None:
    """The self-protected action code of the frame the element sits in."""
    layer = elt.underlayer
    while layer is not None:
        if "self_protected_action" in layer.fieldtype:
            return layer.getfieldval("self_protected_action")
        layer = layer.underlayer
    return None


def _standard_peering_kind(elt: Packet) -> int:
    """Open, Confirm or Close: from the enclosing frame, else from Length.

    The body's layout depends on the frame (9.4.2.101): Open carries the
    local link ID, Confirm adds the peer link ID, Close adds a reason code
    and may omit the peer link ID. A Length of 6 or 22 fits both Confirm and
    a Close without peer link ID, so the frame decides when there is one.
    """
    action = _peering_frame_action(elt)
    if action in (SP_MESH_PEERING_OPEN, SP_MESH_PEERING_CONFIRM, SP_MESH_PEERING_CLOSE):
        return action
    if elt.getfieldval("len") is None:
        if elt.getfieldval("reason_code") is not None:
            return SP_MESH_PEERING_CLOSE
        return SP_MESH_PEERING_CONFIRM if elt.getfieldval("peer_link_id") is not None else SP_MESH_PEERING_OPEN
    return _KIND_BY_LENGTH.get(elt.getfieldval("len"), SP_MESH_PEERING_CLOSE)


# A Length that fits Confirm and Close (6, 22) reads as Confirm.
_KIND_BY_LENGTH = {
    length: action
    for action in (SP_MESH_PEERING_CLOSE, SP_MESH_PEERING_CONFIRM, SP_MESH_PEERING_OPEN)
    for length in STANDARD_LENGTHS[action]
}


def _is_draft(elt: Packet) -> bool:
    # ns-3 writes the pre-standard layout: a one-octet subtype in place of
    # the two-octet protocol identifier, so its lengths are odd (3, 5, 7)
    # where the standard's are even.
    if elt.getfieldval("len") is not None:
        return elt.getfieldval("len") % 2 == 1
    return elt.getfieldval("draft_subtype") is not None


def _has_peer_link_id(elt: Packet) -> bool:
    if elt.getfieldval("len") is None:
        return elt.getfieldval("peer_link_id") is not None
    if _is_draft(elt):
        # ns-3 reads the peer link ID from any length above 3 and the
        # reason from any above 5 (IePeerManagement).
        return elt.getfieldval("len") > 3
    kind = _standard_peering_kind(elt)
    if kind == SP_MESH_PEERING_CONFIRM:
        return True
    return kind == SP_MESH_PEERING_CLOSE and elt.getfieldval("len") in (8, 24)


def _has_reason(elt: Packet) -> bool:
    if elt.getfieldval("len") is None:
        return elt.getfieldval("reason_code") is not None
    if _is_draft(elt):
        return elt.getfieldval("len") > 5
    return _standard_peering_kind(elt) == SP_MESH_PEERING_CLOSE


def _has_chosen_pmk(elt: Packet) -> bool:
    if elt.getfieldval("len") is None:
        return elt.getfieldval("chosen_pmk") is not None
    return not _is_draft(elt) and elt.getfieldval("len") >= 20


# The codec's lengths per frame (9.6.15.2-4). Linux's mesh_plink.c takes
# only the PMK-less ones (4, 6, 6 or 8): a secure mesh leaves peering to
# userspace, where hostap's mesh_mpm.c strips a trailing 16-octet PMK first
# and then wants the same 4, 6, 6 or 8.
_PEERING_LENGTHS = {action: set(lengths) for action, lengths in STANDARD_LENGTHS.items()}
_ANY_PEERING_LENGTH = set().union(*STANDARD_LENGTHS.values())
# ns-3 asserts exactly one length per subtype.
_DRAFT_PEERING_LENGTHS = {action: {length} for action, length in NS3_LENGTHS.items()}
_ANY_DRAFT_PEERING_LENGTH = set(NS3_LENGTHS.values())


# 9.4.2.101
class MeshPeeringManagement(MeshElement):
    """Mesh Peering Management element, in the standard layout (protocol
    identifier, local link ID, [peer link ID], [reason], [chosen PMK]) and in
    the draft layout ns-3 still sends (subtype, local link ID, [peer link ID],
    [reason]). Which optional fields are present follows from the Length and
    the frame the element is in, as 9.6.15 lays out per frame."""

    name = "Mesh Peering Management"
    fields_desc = [
        _id_field(EID_MESH_PEERING_MANAGEMENT),
        _len_field(),
        ConditionalField(ByteField("draft_subtype", None), _is_draft),
        ConditionalField(
            LEShortEnumField("mesh_peering_protocol", 0, PROTOCOL_NAMES),
            lambda p: not _is_draft(p),
        ),
        LEShortField("local_link_id", 0),
        ConditionalField(LEShortField("peer_link_id", None), _has_peer_link_id),
        ConditionalField(LEShortEnumField("reason_code", None, MESH_REASON_CODES), _has_reason),
        ConditionalField(XStrFixedLenField("chosen_pmk", None, length=PMKID_LEN), _has_chosen_pmk),
    ]

    def expected_length(self, body: bytes) -> set[int]:
        action = _peering_frame_action(self)
        if len(body) % 2:
            if action is None:
                return _ANY_DRAFT_PEERING_LENGTH
            return _DRAFT_PEERING_LENGTHS.get(action, _ANY_DRAFT_PEERING_LENGTH)
        if action is None:
            return _ANY_PEERING_LENGTH
        return _PEERING_LENGTHS.get(action, _ANY_PEERING_LENGTH)


# 9.4.2.102
class MeshChannelSwitchParameters(MeshElement):
    name = "Mesh Channel Switch Parameters"
    fields_desc = [
        _id_field(EID_MESH_CHANNEL_SWITCH_PARAMETERS),
        _len_field(),
        ByteField("mesh_ttl", 31),
        FlagsField("flags", 0, 8, ["transmit_restrict", "initiator", "reason_valid"]),
        LEShortEnumField("reason_code", 0, MESH_REASON_CODES),
        LEShortField("precedence_value", 0),
    ]

    def expected_length(self, body: bytes) -> int:
        return 6


# 9.4.2.103
class MeshAwakeWindow(MeshElement):
    name = "Mesh Awake Window"
    fields_desc = [
        _id_field(EID_MESH_AWAKE_WINDOW),
        _len_field(),
        LEShortField("mesh_awake_window", 0),
    ]

    def expected_length(self, body: bytes) -> int:
        return 2


class BeaconTimingInformation(StrictSubPacket):
    """One neighbor's tuple in the standard Beacon Timing element."""

    name = "Beacon Timing Information"
    fields_desc = [
        ByteField("neighbor_sta_id", 0),
        LEThreeBytesField("neighbor_tbtt", 0),
        LEShortField("neighbor_beacon_interval", 100),
    ]


class DraftBeaconTimingUnit(StrictSubPacket):
    """One neighbor's unit in the draft Beacon Timing layout ns-3 sends:
    AID (1), last beacon time (2), beacon interval (2)."""

    name = "Beacon Timing Unit (draft)"
    fields_desc = [
        ByteField("aid", 0),
        LEShortField("last_beacon", 0),
        LEShortField("beacon_interval", 100),
    ]


def _beacon_timing_is_draft(elt: Packet) -> bool:
    # The standard body is a Report Control octet plus 6-octet tuples; ns-3
    # sends 5-octet units with no Report Control (an empty one has Length 0).
    if elt.getfieldval("len") is None:
        return elt.getfieldval("report_control") is None
    return (elt.getfieldval("len") - 1) % 6 != 0 and elt.getfieldval("len") % 5 == 0


# 9.4.2.104
class BeaconTiming(MeshElement):
    name = "Beacon Timing"
    fields_desc = [
        _id_field(EID_BEACON_TIMING),
        _len_field(),
        ConditionalField(ByteField("report_control", 0), lambda p: not _beacon_timing_is_draft(p)),
        ConditionalField(
            PacketListField(
                "beacon_timing_information",
                [],
                BeaconTimingInformation,
                # None is "all that is left" to Scapy's getfield; its annotation says int.
                length_from=lambda p: p.getfieldval("len") - 1 if p.getfieldval("len") is not None else None,  # type: ignore[arg-type, return-value]
            ),
            lambda p: not _beacon_timing_is_draft(p),
        ),
        ConditionalField(
            PacketListField(
                "draft_units",
                [],
                DraftBeaconTimingUnit,
                length_from=lambda p: p.getfieldval("len"),
            ),
            _beacon_timing_is_draft,
        ),
    ]

    def expected_length(self, body: bytes) -> set[int] | None:
        length = len(body)
        if length % 5 == 0 or (length >= 1 and (length - 1) % 6 == 0):
            return None
        raise MalformedLayer(
            f"Beacon Timing: Length {length} is neither 1 + 6*n (standard) nor 5*n (draft)"
        )


class ProxyInformation(StrictSubPacket):
    """One Proxy Information field of a PXU: its Flags say whether the
    Proxy Address and the Lifetime are there."""

    name = "Proxy Information"
    fields_desc = [
        FlagsField("flags", 0, 8, PXU_FLAG_NAMES),
        MACField("external_address", "00:00:00:00:00:00"),
        LEIntField("proxy_information_sequence_number", 0),
        ConditionalField(MACField("proxy_address", "00:00:00:00:00:00"),
                         lambda p: not int(p.flags) & PXU_FLAG_ORIGINATOR_IS_PROXY),
        ConditionalField(LEIntField("proxy_information_lifetime", 0), lambda p: bool(int(p.flags) & PXU_FLAG_LIFETIME)),
    ]


# 9.4.2.115
class ProxyUpdate(MeshElement):
    name = "Proxy Update"
    fields_desc = [
        _id_field(EID_PROXY_UPDATE),
        _len_field(),
        ByteField("pxu_id", 0),
        MACField("pxu_originator_mac_address", "00:00:00:00:00:00"),
        FieldLenField("number_of_proxy_information", None, count_of="proxy_information", fmt="B"),
        PacketListField("proxy_information", [], ProxyInformation,
                        count_from=lambda p: p.number_of_proxy_information),
    ]

    def expected_length(self, body: bytes) -> int | None:
        if len(body) < PXU_FIXED_LEN:
            return PXU_FIXED_LEN
        # Each field's Flags say how long it is, so walk them.
        offset = PXU_FIXED_LEN
        for _ in range(body[PXU_COUNT_OFFSET]):
            if offset >= len(body):
                return offset + PROXY_INFO_FIXED_LEN
            offset += proxy_info_length(body[offset])
        return offset


# 9.4.2.116
class ProxyUpdateConfirmation(MeshElement):
    name = "Proxy Update Confirmation"
    fields_desc = [
        _id_field(EID_PROXY_UPDATE_CONFIRMATION),
        _len_field(),
        ByteField("pxu_id", 0),
        MACField("pxu_recipient_mac_address", "00:00:00:00:00:00"),
    ]

    def expected_length(self, body: bytes) -> int:
        return PXUC_LEN


# 9.4.2.117
class AMPE(MeshElement):
    """Authenticated Mesh Peering Exchange element: carries both peering
    nonces, which is where our link-key derivation takes them from."""

    name = "AMPE"
    fields_desc = [
        _id_field(EID_AMPE),
        _len_field(),
        XStrFixedLenField("selected_pairwise_cipher_suite", b"\x00\x0f\xac\x04", length=4),
        XStrFixedLenField("local_nonce", b"\x00" * 32, length=32),
        XStrFixedLenField("peer_nonce", b"\x00" * 32, length=32),
        XStrLenField("key_data", b"", length_from=lambda p: (p.getfieldval("len") or AMPE_MIN_LEN) - AMPE_MIN_LEN),
    ]

    def expected_length(self, body: bytes) -> set[int]:
        return set(range(AMPE_MIN_LEN, 256))


# 9.4.2.118
class MIC(MeshElement):
    name = "MIC"
    fields_desc = [
        _id_field(EID_MIC),
        _len_field(),
        XStrFixedLenField("mic", b"\x00" * MIC_LEN, length=MIC_LEN),
    ]

    def expected_length(self, body: bytes) -> int:
        return MIC_LEN

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        # 13.5.5.3/4: in an authenticated peering frame the MIC element is
        # the last cleartext field; what follows is the AES-SIV encrypted
        # AMPE element, not more elements.
        if _peering_frame_action(self) is not None:
            return AMPEEncrypted
        return super().guess_payload_class(payload)


class AMPEEncrypted(Packet):
    """The AMPE element as it travels after the MIC element of an
    authenticated peering frame: AES-SIV ciphertext under the AEK."""

    name = "AMPE (encrypted)"
    fields_desc = [XStrField("ciphertext", b"")]


# Where a Vendor Specific element's OUI type octet is: after ID, Length, OUI.
_OUI_TYPE_AT = ELEMENT_HEADER_LEN + OUI_LEN


# 9.4.2.25 with our OUI: an authority announcing itself in beacons.
class AuthorityAnnouncementElement(Dot11EltVendorSpecific):
    name = "meshframes Authority Announcement"
    match_subclass = True
    fields_desc = [
        _id_field(EID_VENDOR_SPECIFIC),
        _len_field(),
        OUIField("oui", MESHFRAMES_OUI),
        ByteField("oui_type", OUI_TYPE_AUTHORITY_ANNOUNCEMENT),
        XStrFixedLenField("name", b"\x00" * 32, length=32),
        LELongField("weight", 1),
        XStrFixedLenField("e2e_key", b"\x00" * 32, length=32),
        XStrFixedLenField("committee_id", b"\x00" * 8, length=8),
    ]

    do_dissect = MeshElement.do_dissect
    post_build = MeshElement.post_build

    @classmethod
    def dispatch_hook(cls, _pkt: bytes | None = None, *args: Any, **kargs: Any) -> type[Packet]:
        # Only OUI type 1 is ours to parse; others stay generic.
        if _pkt and len(_pkt) > _OUI_TYPE_AT and _pkt[_OUI_TYPE_AT] != OUI_TYPE_AUTHORITY_ANNOUNCEMENT:
            return Dot11EltVendorSpecific
        return cls

    def expected_length(self, body: bytes) -> int:
        return AUTHORITY_ANNOUNCEMENT_LEN

"""Mesh elements of beacons and peering frames (802.11-2020 9.4.2), and our
vendor-specific authority announcement (docs/wire-format.md)."""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import ClassVar

from meshframes.codec.errors import DecodeError, EncodeError
from meshframes.codec.ie import ELEMENT_HEADER_LEN, exact_length, register

# Element IDs, 802.11-2020 Table 9-92.
EID_SSID = 0
EID_SUPPORTED_RATES = 1
EID_DS_PARAMETER_SET = 3
EID_RSN = 48
EID_EXTENDED_SUPPORTED_RATES = 50
EID_MESH_CONFIGURATION = 113
EID_MESH_ID = 114
EID_MESH_LINK_METRIC_REPORT = 115
EID_CONGESTION_NOTIFICATION = 116
EID_MESH_PEERING_MANAGEMENT = 117
EID_MESH_CHANNEL_SWITCH_PARAMETERS = 118
EID_MESH_AWAKE_WINDOW = 119
EID_BEACON_TIMING = 120
EID_GANN = 125
EID_RANN = 126
EID_PREQ = 130
EID_PREP = 131
EID_PERR = 132
EID_PROXY_UPDATE = 137
EID_PROXY_UPDATE_CONFIRMATION = 138
EID_AMPE = 139
EID_MIC = 140
EID_VENDOR_SPECIFIC = 221
# Names of the mesh elements, which Scapy 2.8's element table stops before.
MESH_ELEMENT_NAMES = {
    EID_MESH_CONFIGURATION: "Mesh Configuration",
    EID_MESH_ID: "Mesh ID",
    EID_MESH_LINK_METRIC_REPORT: "Mesh Link Metric Report",
    EID_CONGESTION_NOTIFICATION: "Congestion Notification",
    EID_MESH_PEERING_MANAGEMENT: "Mesh Peering Management",
    EID_MESH_CHANNEL_SWITCH_PARAMETERS: "Mesh Channel Switch Parameters",
    EID_MESH_AWAKE_WINDOW: "Mesh Awake Window",
    EID_BEACON_TIMING: "Beacon Timing",
    EID_GANN: "GANN",
    EID_RANN: "RANN",
    EID_PREQ: "PREQ",
    EID_PREP: "PREP",
    EID_PERR: "PERR",
    EID_PROXY_UPDATE: "Proxy Update",
    EID_PROXY_UPDATE_CONFIRMATION: "Proxy Update Confirmation",
    EID_AMPE: "AMPE",
    EID_MIC: "MIC",
}
# 9.4.2.25: a Vendor Specific element's body starts with the OUI.
OUI_LEN = 3

# Our CID (docs/wire-format.md) and the OUI type of the announcement.
MESHFRAMES_OUI = b"\x0a\x4d\x46"
OUI_TYPE_AUTHORITY_ANNOUNCEMENT = 1

MESH_ID_MAX = 32  # 9.4.2.98
# 9.4.2.97: seven one-octet fields.
MESH_CONFIGURATION_LEN = 7


@dataclass(frozen=True, slots=True)
class MeshId:
    """9.4.2.98."""

    element_id: ClassVar[int] = EID_MESH_ID
    mesh_id: bytes

    def body(self) -> bytes:
        if len(self.mesh_id) > MESH_ID_MAX:
            raise EncodeError("Mesh ID length", len(self.mesh_id), f"<= {MESH_ID_MAX}")
        return self.mesh_id


@register(EID_MESH_ID)
def _mesh_id(body: bytes, offset: int, _action: int | None) -> MeshId:
    if len(body) > MESH_ID_MAX:
        raise DecodeError("Mesh ID length", offset - 1, len(body), f"<= {MESH_ID_MAX}")
    return MeshId(body)


# Mesh Configuration field values, 9.4.2.97.2-6; 255 is vendor specific
# in each of them.
VENDOR_SPECIFIC_IDENTIFIER = 255
PATH_SELECTION_HWMP = 1
METRIC_AIRTIME = 1
CONGESTION_NONE = 0
CONGESTION_CCSF = 1
SYNC_NEIGHBOR_OFFSET = 1
AUTH_NONE = 0
AUTH_SAE = 1
AUTH_IEEE_8021X = 2
PATH_SELECTION_PROTOCOLS = {PATH_SELECTION_HWMP: "HWMP", VENDOR_SPECIFIC_IDENTIFIER: "vendor-specific"}
PATH_SELECTION_METRICS = {METRIC_AIRTIME: "airtime", VENDOR_SPECIFIC_IDENTIFIER: "vendor-specific"}
CONGESTION_CONTROL_MODES = {CONGESTION_NONE: "none", CONGESTION_CCSF: "CCSF",
                            VENDOR_SPECIFIC_IDENTIFIER: "vendor-specific"}
SYNCHRONIZATION_METHODS = {SYNC_NEIGHBOR_OFFSET: "neighbor-offset", VENDOR_SPECIFIC_IDENTIFIER: "vendor-specific"}
AUTHENTICATION_PROTOCOLS = {AUTH_NONE: "none", AUTH_SAE: "SAE", AUTH_IEEE_8021X: "IEEE 802.1X",
                            VENDOR_SPECIFIC_IDENTIFIER: "vendor-specific"}
# Mesh Capability bits, 9.4.2.97.7, bit 0 first.
CAPAB_ACCEPTING_PEERINGS = 0x01
CAPAB_FORWARDING = 0x08
MESH_CAPABILITY_BITS = (
    "accepting_additional_peerings",
    "mcca_supported",
    "mcca_enabled",
    "forwarding",
    "mbca_enabled",
    "tbtt_adjusting",
    "mesh_power_save_level",
    "reserved",
)

_MESH_CONF = struct.Struct("7B")


@dataclass(frozen=True, slots=True)
class MeshConfiguration:
    """9.4.2.97."""

    element_id: ClassVar[int] = EID_MESH_CONFIGURATION
    path_selection_protocol: int = PATH_SELECTION_HWMP
    path_selection_metric: int = METRIC_AIRTIME
    congestion_control_mode: int = CONGESTION_NONE
    synchronization_method: int = SYNC_NEIGHBOR_OFFSET
    authentication_protocol: int = AUTH_NONE
    formation_info: int = 0
    capability: int = CAPAB_ACCEPTING_PEERINGS | CAPAB_FORWARDING

    @property
    def number_of_peerings(self) -> int:
        return (self.formation_info >> 1) & 0x3F

    @property
    def accepting_peerings(self) -> bool:
        return bool(self.capability & CAPAB_ACCEPTING_PEERINGS)

    def profile(self) -> tuple[int, int, int, int, int]:
        """The fields two mesh STAs must share to peer (14.2.3 mesh profile)."""
        return (self.path_selection_protocol, self.path_selection_metric,
                self.congestion_control_mode, self.synchronization_method,
                self.authentication_protocol)

    def body(self) -> bytes:
        try:
            return _MESH_CONF.pack(self.path_selection_protocol, self.path_selection_metric,
                                   self.congestion_control_mode, self.synchronization_method,
                                   self.authentication_protocol, self.formation_info,
                                   self.capability)
        except struct.error as exc:
            raise EncodeError("Mesh Configuration fields", str(exc), "u8 values") from None


@register(EID_MESH_CONFIGURATION)
def _mesh_conf(body: bytes, offset: int, _action: int | None) -> MeshConfiguration:
    exact_length(body, offset, "Mesh Configuration", MESH_CONFIGURATION_LEN)
    return MeshConfiguration(*_MESH_CONF.unpack(body))


_CHANNEL_SWITCH = struct.Struct("<BBHH")


@dataclass(frozen=True, slots=True)
class MeshChannelSwitchParameters:
    """9.4.2.102: TTL, flags, reason code and precedence value of a mesh
    channel switch."""

    element_id: ClassVar[int] = EID_MESH_CHANNEL_SWITCH_PARAMETERS
    ttl: int
    flags: int
    reason: int
    precedence: int

    def body(self) -> bytes:
        try:
            return _CHANNEL_SWITCH.pack(self.ttl, self.flags, self.reason, self.precedence)
        except struct.error as exc:
            raise EncodeError("Mesh Channel Switch Parameters fields", str(exc), "u8, u8, u16, u16") from None


@register(EID_MESH_CHANNEL_SWITCH_PARAMETERS)
def _channel_switch(body: bytes, offset: int, _action: int | None) -> MeshChannelSwitchParameters:
    exact_length(body, offset, "Mesh Channel Switch Parameters", _CHANNEL_SWITCH.size)
    return MeshChannelSwitchParameters(*_CHANNEL_SWITCH.unpack(body))


_AWAKE_WINDOW = struct.Struct("<H")


@dataclass(frozen=True, slots=True)
class MeshAwakeWindow:
    """9.4.2.103: the awake window in TUs."""

    element_id: ClassVar[int] = EID_MESH_AWAKE_WINDOW
    window_tu: int

    def body(self) -> bytes:
        return _AWAKE_WINDOW.pack(self.window_tu)


@register(EID_MESH_AWAKE_WINDOW)
def _awake(body: bytes, offset: int, _action: int | None) -> MeshAwakeWindow:
    exact_length(body, offset, "Mesh Awake Window", _AWAKE_WINDOW.size)
    return MeshAwakeWindow(_AWAKE_WINDOW.unpack(body)[0])


class BeaconTimingLayout(enum.Enum):
    # 9.4.2.104: Report Control, then (STA ID u8, TBTT u24, interval u16).
    STANDARD = "standard"
    # ns-3's draft layout: no Report Control, (AID u8, last beacon u16,
    # interval u16) per neighbour.
    NS3_DRAFT = "ns3-draft"


@dataclass(frozen=True, slots=True)
class BeaconTimingEntry:
    neighbor_id: int
    # STANDARD: neighbour TBTT (u24); NS3_DRAFT: last beacon time (u16).
    tbtt: int
    beacon_interval: int


_STD_ENTRY = struct.Struct("<BHBH")  # TBTT u24 as u16 + u8
_NS3_ENTRY = struct.Struct("<BHH")


@dataclass(frozen=True, slots=True)
class BeaconTiming:
    element_id: ClassVar[int] = EID_BEACON_TIMING
    layout: BeaconTimingLayout
    report_control: int | None
    entries: tuple[BeaconTimingEntry, ...]

    def body(self) -> bytes:
        if self.layout is BeaconTimingLayout.STANDARD:
            if self.report_control is None:
                raise EncodeError("Beacon Timing Report Control", None, "a u8")
            out = [bytes((self.report_control,))]
            out += [_STD_ENTRY.pack(e.neighbor_id, e.tbtt & 0xFFFF, e.tbtt >> 16, e.beacon_interval)
                    for e in self.entries]
            return b"".join(out)
        if self.report_control is not None:
            raise EncodeError("Beacon Timing Report Control", self.report_control,
                              "absent in the ns-3 draft layout")
        return b"".join(_NS3_ENTRY.pack(e.neighbor_id, e.tbtt, e.beacon_interval)
                        for e in self.entries)


@register(EID_BEACON_TIMING)
def _beacon_timing(body: bytes, offset: int, _action: int | None) -> BeaconTiming:
    n = len(body)
    # The layout shows in the length: 1 + 6k (standard) or 5k (ns-3). Where
    # both fit (25, 55, ...) the standard's reading wins.
    if n >= 1 and (n - 1) % 6 == 0:
        entries = []
        for i in range(1, n, 6):
            sid, lo, hi, interval = _STD_ENTRY.unpack_from(body, i)
            entries.append(BeaconTimingEntry(sid, lo | (hi << 16), interval))
        return BeaconTiming(BeaconTimingLayout.STANDARD, body[0], tuple(entries))
    if n % 5 == 0:
        entries = [BeaconTimingEntry(*_NS3_ENTRY.unpack_from(body, i)) for i in range(0, n, 5)]
        return BeaconTiming(BeaconTimingLayout.NS3_DRAFT, None, tuple(entries))
    raise DecodeError("Beacon Timing length", offset - 1, n, "1 + 6k (802.11) or 5k (ns-3 draft)")


# The MIC element carries a 16-octet AES-SIV tag (AMPE, 12.5.6); a cleartext
# AMPE element at least the selected pairwise cipher suite (4) and the local
# and peer nonces (32 each) before its optional fields.
MIC_LEN = 16
AMPE_MIN_LEN = 4 + 32 + 32


@dataclass(frozen=True, slots=True)
class Mic:
    """9.4.2.118: the AMPE MIC (AES-SIV synthetic IV) of a peering frame."""

    element_id: ClassVar[int] = EID_MIC
    mic: bytes

    def body(self) -> bytes:
        if len(self.mic) != MIC_LEN:
            raise EncodeError("MIC length", len(self.mic), MIC_LEN)
        return self.mic


@register(EID_MIC)
def _mic(body: bytes, offset: int, _action: int | None) -> Mic:
    exact_length(body, offset, "MIC", MIC_LEN)
    return Mic(body)


@dataclass(frozen=True, slots=True)
class Ampe:
    """9.4.2.117, kept whole: in secure peering it is ciphertext anyway."""

    element_id: ClassVar[int] = EID_AMPE
    data: bytes

    def body(self) -> bytes:
        if len(self.data) < AMPE_MIN_LEN:
            raise EncodeError("AMPE length", len(self.data), f">= {AMPE_MIN_LEN}")
        return self.data


@register(EID_AMPE)
def _ampe(body: bytes, offset: int, _action: int | None) -> Ampe:
    # A cleartext AMPE element; behind a MIC element it is ciphertext and
    # never reaches this parser (SelfProtected.sealed).
    if len(body) < AMPE_MIN_LEN:
        raise DecodeError("AMPE length", offset - 1, len(body), f">= {AMPE_MIN_LEN}")
    return Ampe(body)


@dataclass(frozen=True, slots=True)
class VendorSpecific:
    """9.4.2.25, for OUIs other than our announcement."""

    element_id: ClassVar[int] = EID_VENDOR_SPECIFIC
    oui: bytes
    data: bytes

    def body(self) -> bytes:
        if len(self.oui) != 3:
            raise EncodeError("vendor OUI length", len(self.oui), 3)
        return self.oui + self.data


_ANNOUNCEMENT = struct.Struct("<32sQ32s8s")
# OUI, OUI type, then the announcement.
AUTHORITY_ANNOUNCEMENT_LEN = OUI_LEN + 1 + _ANNOUNCEMENT.size


@dataclass(frozen=True, slots=True)
class AuthorityAnnouncementElement:
    """Our OUI, type 1: a FastPay authority announces itself in beacons.

    Layout (bincode of the FastPay AuthorityAnnouncement, docs/wire-format.md): name
    (Ed25519 key, 32), weight (u64), e2e_key (X25519 key, 32), committee_id (8).
    """

    element_id: ClassVar[int] = EID_VENDOR_SPECIFIC
    name: bytes
    weight: int
    e2e_key: bytes
    committee_id: bytes

    def payload(self) -> bytes:
        if (len(self.name), len(self.e2e_key), len(self.committee_id)) != (32, 32, 8):
            raise EncodeError("authority announcement key sizes",
                              (len(self.name), len(self.e2e_key), len(self.committee_id)),
                              (32, 32, 8))
        return _ANNOUNCEMENT.pack(self.name, self.weight, self.e2e_key, self.committee_id)

    def body(self) -> bytes:
        return MESHFRAMES_OUI + bytes((OUI_TYPE_AUTHORITY_ANNOUNCEMENT,)) + self.payload()


def decode_announcement(payload: bytes, offset: int) -> AuthorityAnnouncementElement:
    if len(payload) != _ANNOUNCEMENT.size:
        raise DecodeError("authority announcement length", offset, len(payload), _ANNOUNCEMENT.size)
    return AuthorityAnnouncementElement(*_ANNOUNCEMENT.unpack(payload))


@register(EID_VENDOR_SPECIFIC)
def _vendor(body: bytes, offset: int, _action: int | None) -> VendorSpecific | AuthorityAnnouncementElement:
    if len(body) < 3:
        raise DecodeError("vendor specific OUI", offset, f"{len(body)} bytes", ">= 3 bytes")
    if body[:OUI_LEN] == MESHFRAMES_OUI and body[OUI_LEN:OUI_LEN + 1] == bytes((OUI_TYPE_AUTHORITY_ANNOUNCEMENT,)):
        return decode_announcement(body[OUI_LEN + 1:], offset + OUI_LEN + 1)
    return VendorSpecific(body[:OUI_LEN], body[OUI_LEN:])


def tiling_problem(body: bytes) -> str | None:
    """Why elements do not tile `body` exactly (9.4.2.1), judged from their
    headers alone, however each element's fields parse; None when they do."""
    pos = 0
    number = 0
    while pos < len(body):
        if pos + ELEMENT_HEADER_LEN > len(body):
            return f"element {number}: header truncated ({len(body) - pos} octet left)"
        eid, length = body[pos], body[pos + 1]
        end = pos + ELEMENT_HEADER_LEN + length
        if end > len(body):
            return f"element {number} (ID {eid}): Length {length} overruns the frame by {end - len(body)} octets"
        if eid == EID_VENDOR_SPECIFIC and length < OUI_LEN:
            return f"element {number} (ID {eid}): Length {length}, expected {OUI_LEN} or more (its OUI)"
        pos = end
        number += 1
    return None

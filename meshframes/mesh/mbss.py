"""The local mesh BSS: our Mesh ID and Mesh Configuration, whether a
neighbour's profile and security match ours, and the builders of the frames
every engine sends (as mac80211's mesh.c holds the element builders)."""

from __future__ import annotations

from meshframes.codec import MacHeader
from meshframes.codec.action import MESH_ACTION_HWMP_PATH_SELECTION
from meshframes.codec.elements import (
    AUTH_NONE,
    AUTH_SAE,
    CAPAB_ACCEPTING_PEERINGS,
    CAPAB_FORWARDING,
    EID_DS_PARAMETER_SET,
    EID_EXTENDED_SUPPORTED_RATES,
    EID_RSN,
    EID_SSID,
    EID_SUPPORTED_RATES,
    MeshConfiguration,
    MeshId,
)
from meshframes.codec.frames import Beacon, ManagementFrame, MeshAction
from meshframes.codec.header import (
    BROADCAST,
    SUBTYPE_ACTION,
    SUBTYPE_BEACON,
    SUBTYPE_PROBE_REQ,
    SUBTYPE_PROBE_RESP,
    TYPE_MGMT,
    frame_control,
    is_group,
)
from meshframes.codec.ie import Element, RawElement, decode_elements, encode_elements, find, find_raw
from meshframes.mesh.constants import MeshConfig, to_tu

# Our channel is in the 2.4 GHz band (DS Parameter Set), so we offer the
# 802.11b/g rates in 500 kb/s units as Linux does there, 1 Mb/s the only
# basic rate (0x80 flag): cfg80211 makes that the basic rate set of every
# 2.4 GHz mesh ("use only 1Mbps for basic rates in mesh"), and mac80211
# refuses a peer whose basic rate set differs (mesh_matches_local) with a
# Close, reason 54. Eight rates fit Supported Rates (9.4.2.3), the rest go
# to Extended Supported Rates (9.4.2.12).
SUPPORTED_RATES = bytes((0x82, 0x04, 0x0B, 0x16, 0x0C, 0x12, 0x18, 0x24))
EXTENDED_SUPPORTED_RATES = bytes((0x30, 0x48, 0x60, 0x6C))
RATE_BASIC = 0x80
# wpa_supplicant's mesh takes hostapd's 802.11g basic rate set instead
# (1, 2, 5.5, 11, 6, 12 and 24 Mb/s), so a station that peers with it must
# say the same (MeshConfig.basic_rates).
WPA_SUPPLICANT_BASIC_RATES = (2, 4, 11, 22, 12, 24, 48)


def _rates(template: bytes, basic: tuple[int, ...]) -> bytes:
    return bytes(rate & 0x7F | (RATE_BASIC if rate & 0x7F in basic else 0) for rate in template)
# Duration of an individually addressed frame: SIFS (16 us) plus an ACK at
# 6 Mb/s (20 us preamble + 6 symbols), 802.11-2020 9.2.5.7 and 17.3.
UNICAST_DURATION_US = 60
CHANNEL = 1
# Capability Information (9.4.1.4): Privacy, set in beacons and peering
# Open/Confirm frames of a secure mesh (hostap does the same).
CAPABILITY_PRIVACY = 0x0010
# RSNE (9.4.2.24) of a secure mesh: version 1, group data cipher CCMP-128,
# one pairwise cipher CCMP-128, one AKM 00-0F-AC:2 (PSK: our PMK is the
# passphrase's, see meshframes.mesh.rsn), RSN Capabilities MFPC | MFPR
# (bits 7 and 6): robust management frames are protected and a cleartext
# one is refused. No Group Management Cipher Suite: we send no BIP MMIEs,
# group-addressed robust frames are CCMP-encrypted with the MGTK as Linux
# does in a secure mesh.
RSNE_BODY = bytes.fromhex("0100" "000fac04" "0100" "000fac04" "0100" "000fac02" "c000")
# The same with AKM 00-0F-AC:8 (SAE): octet for octet the RSNE of
# wpa_supplicant 2.10's secure mesh (pcaps/linux-kernel-sae.pcap).
RSNE_BODY_SAE = bytes.fromhex("0100" "000fac04" "0100" "000fac04" "0100" "000fac08" "c000")

FC_ACTION = frame_control(TYPE_MGMT, SUBTYPE_ACTION)
FC_BEACON = frame_control(TYPE_MGMT, SUBTYPE_BEACON)
FC_PROBE_REQ = frame_control(TYPE_MGMT, SUBTYPE_PROBE_REQ)
FC_PROBE_RESP = frame_control(TYPE_MGMT, SUBTYPE_PROBE_RESP)


def mgmt_header(fc: int, da: bytes, sa: bytes, bssid: bytes | None = None) -> MacHeader:
    """Management header; BSSID = SA as Linux's mesh frames have it.
    Sequence Control is stamped by the host when the frame goes out."""
    duration = 0 if is_group(da) else UNICAST_DURATION_US
    return MacHeader(fc, duration, da, sa, bssid or sa, 0)


def action_header(da: bytes, sa: bytes) -> MacHeader:
    return mgmt_header(FC_ACTION, da, sa)


def path_selection(da: bytes, sa: bytes, element: Element) -> MeshAction:
    return MeshAction(action_header(da, sa), MESH_ACTION_HWMP_PATH_SELECTION, (element,))


class Mbss:
    """Our side of the mesh profile (14.2.3)."""

    def __init__(self, mac: bytes, config: MeshConfig) -> None:
        self.mac = mac
        self.config = config
        self.mesh_id = MeshId(config.mesh_id)
        self.rates = RawElement(EID_SUPPORTED_RATES, _rates(SUPPORTED_RATES, config.basic_rates))
        self.extended_rates = RawElement(EID_EXTENDED_SUPPORTED_RATES,
                                         _rates(EXTENDED_SUPPORTED_RATES, config.basic_rates))
        self.secure = config.secure
        self.sae = self.secure and config.sae
        # 9.4.2.97.6: the Authentication Protocol names SAE when peers run it.
        self.authentication_protocol = AUTH_SAE if self.sae else AUTH_NONE
        self._profile = MeshConfiguration(authentication_protocol=self.authentication_protocol).profile()
        self.rsne = RawElement(EID_RSN, RSNE_BODY_SAE if self.sae else RSNE_BODY) if self.secure else None
        # What beacons and peering Open/Confirm frames add in a secure mesh.
        self.capability = CAPABILITY_PRIVACY if self.secure else 0
        self.security_elements: tuple[Element, ...] = (self.rsne,) if self.rsne is not None else ()

    def mesh_configuration(self, established: int) -> MeshConfiguration:
        """Mesh Formation Info counts our peerings (bits 1-6, saturating at
        63); we accept peerings while below dot11MeshMaxPeerLinks."""
        capability = CAPAB_FORWARDING if self.config.dot11MeshForwarding else 0
        if established < self.config.dot11MeshMaxPeerLinks:
            capability |= CAPAB_ACCEPTING_PEERINGS
        return MeshConfiguration(authentication_protocol=self.authentication_protocol,
                                 formation_info=min(established, 63) << 1, capability=capability)

    def matches_local(self, mesh_id: MeshId | None, conf: MeshConfiguration | None) -> bool:
        """Same Mesh ID and same profile (path selection protocol and metric,
        congestion control, synchronisation, authentication)."""
        return (mesh_id is not None and conf is not None and mesh_id.mesh_id == self.mesh_id.mesh_id
                and conf.profile() == self._profile)

    def security_matches(self, elements: tuple[Element, ...]) -> bool:
        """The neighbour runs the same security as we do: no RSNE in an open
        mesh, exactly our RSNE in a secure one. Every meshframes node builds
        the same RSNE, so equality stands in for suite negotiation; the
        Authentication Protocol Identifier alone cannot tell an open mesh
        from ours, both say 0 (see meshframes.mesh.rsn)."""
        rsne = find_raw(elements, EID_RSN)
        if self.rsne is None:
            return rsne is None
        return rsne is not None and rsne.data == self.rsne.data

    def beacon(self, now: float, established: int, extra: tuple[Element, ...] = (),
               probed_by: bytes | None = None) -> Beacon:
        """Our beacon, or with `probed_by` the Probe Response to that
        station (9.3.3.10: the beacon's body, individually addressed), as
        mac80211's mesh builds it from its beacon."""
        # 9.3.3.2 order: SSID, rates, DS Parameter Set, ..., extended rates,
        # RSNE, ..., Mesh ID, Mesh Configuration.
        elements: tuple[Element, ...] = (
            RawElement(EID_SSID, b""), self.rates, RawElement(EID_DS_PARAMETER_SET, bytes((CHANNEL,))),
            self.extended_rates, *self.security_elements, self.mesh_id,
            self.mesh_configuration(established)) + extra
        header = (mgmt_header(FC_BEACON, BROADCAST, self.mac) if probed_by is None
                  else mgmt_header(FC_PROBE_RESP, probed_by, self.mac))
        return Beacon(header, int(now * 1e6) & 0xFFFFFFFFFFFFFFFF, to_tu(self.config.beacon_interval),
                      self.capability, elements)

    def probe_request(self, da: bytes) -> ManagementFrame:
        """A Probe Request (9.3.3.9) for our mesh: the wildcard SSID, our
        rates and our Mesh ID, BSSID wildcard."""
        body = encode_elements((RawElement(EID_SSID, b""), self.rates, self.extended_rates, self.mesh_id))
        return ManagementFrame(mgmt_header(FC_PROBE_REQ, da, self.mac, BROADCAST), body)

    def probe_is_for_us(self, request: ManagementFrame) -> bool:
        """ieee80211_mesh_rx_probe_req: a Probe Request is answered when its
        SSID is the wildcard (zero length, or none) and it names a Mesh ID,
        ours or the wildcard (zero length)."""
        elements = decode_elements(request.body, 0)[0]
        mesh_id = find(elements, MeshId)
        ssid = find_raw(elements, EID_SSID)
        return (mesh_id is not None and mesh_id.mesh_id in (b"", self.config.mesh_id)
                and (ssid is None or not ssid.data))

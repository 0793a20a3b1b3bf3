"""Build any frame kind we know from a few options with sane defaults.

The same builders serve `meshframes inject`, the tshark oracle tests and
the property tests, so every kind the analyzer names can be produced here.
Defaults follow Linux mac80211 (TTL 31, beacon interval 1000 TU, mesh
capability "accepting peerings, forwarding").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scapy.layers.dot11 import (
    Dot11,
    Dot11Action,
    Dot11Beacon,
    Dot11Elt,
    Dot11EltDSSSet,
    Dot11EltRates,
    Dot11ProbeReq,
    Dot11ProbeResp,
    Dot11QoS,
)
from scapy.layers.l2 import LLC, SNAP
from scapy.packet import Packet, Raw
from scapy.utils import mac2str

import meshframes.layers  # noqa: F401
from meshframes.codec.action import CATEGORY_MESH, CATEGORY_SELF_PROTECTED, CATEGORY_VENDOR
from meshframes.codec.fastpay import ETHERTYPE_FASTPAY
from meshframes.codec.peering import PROTOCOL_AMPE
from meshframes.layers import (
    GANN,
    PERR,
    PREP,
    PREQ,
    RANN,
    AuthorityAnnouncementElement,
    BeaconTiming,
    FastPayAccountInfoRequest,
    FastPayAccountInfoResponse,
    FastPayAuthorityAnnouncement,
    FastPayAuthoritySignature,
    FastPayCertifiedTransferOrder,
    FastPayError,
    FastPayHeader,
    FastPayMessage,
    FastPaySignedTransferOrder,
    FastPayTransfer,
    FastPayTransferOrder,
    GateAnnouncement,
    HWMPMeshPathSelection,
    MeshAction,
    MeshConfiguration,
    MeshControl,
    MeshID,
    MeshPeeringManagement,
    PeeringClose,
    PeeringConfirm,
    PeeringOpen,
    PERRDestination,
    PREQTarget,
    SelfProtectedAction,
    VendorMeshControl,
    VendorSpecificAction,
)
from meshframes.layers.fastpay import (
    ERR_INSUFFICIENT_FUNDING,
    MSG_ANNOUNCE,
    MSG_CERTIFICATE,
    MSG_CONFIRMATION,
    MSG_ERROR,
    MSG_INFO_REQUEST,
    MSG_INFO_RESPONSE,
    MSG_ORDER,
    MSG_VOTE,
    SM_CERT,
    SM_ERROR,
    SM_INFO_REQ,
    SM_INFO_RESP,
    SM_ORDER,
    SM_VOTE,
)
from meshframes.layers.hwmp import PERR_MAX_DESTINATIONS, PREQ_MAX_TARGETS
from meshframes.layers.meshctl import AE_A4, AE_A5_A6, AE_NONE

BROADCAST = "ff:ff:ff:ff:ff:ff"
# Stations outside the mesh that a mesh gate proxies, for address extension.
_PROXIED_DESTINATION = "02:00:00:00:0d:00"
_PROXIED_SOURCE = "02:00:00:00:0e:00"
# 802.11b/g basic rates as Linux advertises them on 2.4 GHz (500 kb/s units).
_RATES = [0x82, 0x84, 0x8B, 0x96, 0x0C, 0x12, 0x18, 0x24]
_PAYLOAD = b"meshframes"


@dataclass
class FrameOptions:
    """What a user can set on any frame; each builder uses what applies."""

    src: str = "02:00:00:00:01:00"
    dst: str | None = None
    mesh_id: bytes = b"meshframes"
    ttl: int = 31
    seq: int = 1
    ae: bool = False
    count: int = 1
    originator: str | None = None
    target: str | None = None
    metric: int = 0
    lifetime: int = 5000
    llid: int = 0x1234
    plid: int = 0x4321
    reason: int = 55
    amount: int = 10
    sequence_number: int = 0
    channel: int = 1
    payload: bytes = _PAYLOAD
    fields: dict[str, Any] = field(default_factory=dict)


def _mgmt(subtype: int, opts: FrameOptions, dst: str) -> Dot11:
    # Mesh management frames use A3 = transmitter (Linux sets the mesh
    # BSSID to the sender's address).
    return Dot11(type=0, subtype=subtype, addr1=dst, addr2=opts.src, addr3=opts.src, SC=opts.seq << 4)


def _mesh_elements(opts: FrameOptions) -> Packet:
    return MeshID(mesh_id=opts.mesh_id) / MeshConfiguration()


def _rates() -> Packet:
    return Dot11EltRates(rates=_RATES)


def beacon(opts: FrameOptions) -> Packet:
    return (
        _mgmt(8, opts, opts.dst or BROADCAST)
        / Dot11Beacon(beacon_interval=1000)
        / Dot11Elt(ID=0, info=b"")
        / _rates()
        / Dot11EltDSSSet(channel=opts.channel)
        / _mesh_elements(opts)
        / BeaconTiming(report_control=0, beacon_timing_information=[])
    )


def probe_req(opts: FrameOptions) -> Packet:
    return _mgmt(4, opts, opts.dst or BROADCAST) / Dot11ProbeReq() / Dot11Elt(ID=0, info=b"") / _rates() / MeshID(mesh_id=opts.mesh_id)


def probe_resp(opts: FrameOptions) -> Packet:
    return (
        _mgmt(5, opts, opts.dst or "02:00:00:00:02:00")
        / Dot11ProbeResp(beacon_interval=1000)
        / Dot11Elt(ID=0, info=b"")
        / _rates()
        / _mesh_elements(opts)
    )


def _self_protected(opts: FrameOptions, action: int) -> Packet:
    return (
        _mgmt(13, opts, opts.dst or "02:00:00:00:02:00")
        / Dot11Action(category=CATEGORY_SELF_PROTECTED)
        / SelfProtectedAction(self_protected_action=action)
    )


def _pmk(opts: FrameOptions) -> dict[str, Any]:
    # Only AMPE (protocol 1, 9.4.2.101) carries a Chosen PMK: what hostap's
    # secure peering sends.
    return {"mesh_peering_protocol": PROTOCOL_AMPE, "chosen_pmk": bytes(range(16))} if opts.ae else {}


def peering_open(opts: FrameOptions) -> Packet:
    return (
        _self_protected(opts, 1)
        / PeeringOpen()
        / _rates()
        / _mesh_elements(opts)
        / MeshPeeringManagement(local_link_id=opts.llid, **_pmk(opts))
    )


def peering_confirm(opts: FrameOptions) -> Packet:
    return (
        _self_protected(opts, 2)
        / PeeringConfirm(aid=1)
        / _rates()
        / _mesh_elements(opts)
        / MeshPeeringManagement(local_link_id=opts.llid, peer_link_id=opts.plid, **_pmk(opts))
    )


def peering_close(opts: FrameOptions) -> Packet:
    return (
        _self_protected(opts, 3)
        / PeeringClose()
        / MeshID(mesh_id=opts.mesh_id)
        / MeshPeeringManagement(
            local_link_id=opts.llid, peer_link_id=opts.plid, reason_code=opts.reason, **_pmk(opts)
        )
    )


def _mac(base: str, n: int) -> str:
    """The n-th address after `base` (for multi-target elements)."""
    value = int(base.replace(":", ""), 16) + n
    return ":".join(f"{(value >> (8 * i)) & 0xFF:02x}" for i in reversed(range(6)))


def _hwmp(opts: FrameOptions, dst: str, element: Packet) -> Packet:
    return (
        _mgmt(13, opts, dst)
        / Dot11Action(category=CATEGORY_MESH)
        / MeshAction(mesh_action=1)
        / HWMPMeshPathSelection()
        / element
    )


def preq(opts: FrameOptions) -> Packet:
    target = opts.target or "02:00:00:00:03:00"
    extra: dict[str, Any] = {"originator_external_address": _PROXIED_SOURCE} if opts.ae else {}
    return _hwmp(
        opts,
        opts.dst or BROADCAST,
        PREQ(
            flags=0x40 if opts.ae else 0,
            element_ttl=opts.ttl,
            path_discovery_id=opts.seq,
            originator_address=opts.originator or opts.src,
            originator_hwmp_sn=opts.seq,
            lifetime=opts.lifetime,
            metric=opts.metric,
            targets=[
                PREQTarget(flags=0x04, target_address=_mac(target, i), target_hwmp_sn=0)
                for i in range(opts.count)
            ],
            **extra,
        ),
    )


def prep(opts: FrameOptions) -> Packet:
    extra: dict[str, Any] = {"target_external_address": _PROXIED_SOURCE} if opts.ae else {}
    return _hwmp(
        opts,
        opts.dst or "02:00:00:00:02:00",
        PREP(
            flags=0x40 if opts.ae else 0,
            element_ttl=opts.ttl,
            target_address=opts.target or opts.src,
            target_hwmp_sn=opts.seq,
            lifetime=opts.lifetime,
            metric=opts.metric,
            originator_address=opts.originator or "02:00:00:00:03:00",
            originator_hwmp_sn=opts.seq,
            **extra,
        ),
    )


def perr(opts: FrameOptions) -> Packet:
    target = opts.target or "02:00:00:00:03:00"
    destinations = []
    for i in range(opts.count):
        extra: dict[str, Any] = {"destination_external_address": _mac(_PROXIED_SOURCE, i)} if opts.ae else {}
        destinations.append(
            PERRDestination(
                flags=0x40 if opts.ae else 0,
                destination_address=_mac(target, i),
                hwmp_sn=opts.seq,
                reason_code=opts.reason,
                **extra,
            )
        )
    return _hwmp(opts, opts.dst or BROADCAST, PERR(element_ttl=opts.ttl, destinations=destinations))


def rann(opts: FrameOptions) -> Packet:
    return _hwmp(
        opts,
        opts.dst or BROADCAST,
        RANN(element_ttl=opts.ttl, root_mesh_sta_address=opts.originator or opts.src,
             hwmp_sn=opts.seq, metric=opts.metric),
    )


def gate_ann(opts: FrameOptions) -> Packet:
    return (
        _mgmt(13, opts, opts.dst or BROADCAST)
        / Dot11Action(category=CATEGORY_MESH)
        / MeshAction(mesh_action=2)
        / GateAnnouncement()
        / GANN(element_ttl=opts.ttl, mesh_gate_address=opts.originator or opts.src,
               gann_sequence_number=opts.seq)
    )


def mesh_data(opts: FrameOptions) -> Packet:
    """QoS data with Mesh Control (9.3.5). Individually addressed: four
    addresses (A1 receiver, A2 transmitter, A3 mesh DA, A4 mesh SA), and AE
    adds the proxied end points as A5 (destination) and A6 (source).
    Group-addressed (--dst a group): From DS only (A1 the group, A2
    transmitter, A3 mesh SA), and AE adds the proxied source as A4: the
    addressing Linux sends and accepts (ieee80211_data_to_8023_exthdr)."""
    dst = opts.dst or "02:00:00:00:02:00"
    mesh_sa = opts.originator or opts.src
    if mac2str(dst)[0] & 0x01:
        header = Dot11(type=2, subtype=8, FCfield="from_DS", addr1=dst, addr2=opts.src, addr3=mesh_sa,
                       SC=opts.seq << 4)
        extension = {"address_extension_mode": AE_A4, "address4": _PROXIED_SOURCE}
    else:
        header = Dot11(type=2, subtype=8, FCfield="to_DS+from_DS", addr1=dst, addr2=opts.src,
                       addr3=opts.target or dst, addr4=mesh_sa, SC=opts.seq << 4)
        extension = {"address_extension_mode": AE_A5_A6, "address5": _PROXIED_DESTINATION,
                     "address6": _PROXIED_SOURCE}
    control = MeshControl(mesh_ttl=opts.ttl, mesh_sequence_number=opts.seq,
                          **(extension if opts.ae else {"address_extension_mode": AE_NONE}))
    return (
        header
        / Dot11QoS(TID=0)
        / control
        / LLC(dsap=0xAA, ssap=0xAA, ctrl=3)
        / SNAP(OUI=0, code=ETHERTYPE_FASTPAY)
        / Raw(opts.payload)
    )


def _key(tag: int) -> bytes:
    return bytes([tag]) * 32


def _transfer_order(opts: FrameOptions) -> FastPayTransferOrder:
    return FastPayTransferOrder(
        transfer=FastPayTransfer(
            sender=_key(0xA1),
            recipient_kind=1,
            recipient=_key(0xB2),
            amount=opts.amount,
            sequence_number=opts.sequence_number,
            user_data=bytes(range(32)) if opts.ae else None,
        ),
        signature=b"\x5a" * 64,
    )


def _vote(opts: FrameOptions) -> FastPaySignedTransferOrder:
    return FastPaySignedTransferOrder(value=_transfer_order(opts), authority=_key(0xC3), signature=b"\x6b" * 64)


def _certificate(opts: FrameOptions) -> FastPayCertifiedTransferOrder:
    return FastPayCertifiedTransferOrder(
        value=_transfer_order(opts),
        signatures=[
            FastPayAuthoritySignature(authority=_key(0xC0 + i), signature=bytes([i]) * 64)
            for i in range(max(opts.count, 3))
        ],
    )


def _fastpay(opts: FrameOptions, message_type: int, body: Packet) -> Packet:
    dst = opts.dst or "02:00:00:00:02:00"
    return (
        _mgmt(13, opts, dst)
        / Dot11Action(category=CATEGORY_VENDOR)
        / VendorSpecificAction()
        / VendorMeshControl(
            address_extension_mode=AE_A5_A6,
            mesh_ttl=opts.ttl,
            mesh_sequence_number=opts.seq,
            address5=opts.target or dst,
            address6=opts.originator or opts.src,
        )
        / FastPayHeader(message_type=message_type, message_id=opts.seq)
        / body
    )


def fastpay_order(opts: FrameOptions) -> Packet:
    return _fastpay(opts, MSG_ORDER, FastPayMessage(variant=SM_ORDER) / _transfer_order(opts))


def fastpay_vote(opts: FrameOptions) -> Packet:
    return _fastpay(opts, MSG_VOTE, FastPayMessage(variant=SM_VOTE) / _vote(opts))


def fastpay_certificate(opts: FrameOptions) -> Packet:
    return _fastpay(opts, MSG_CERTIFICATE, FastPayMessage(variant=SM_CERT) / _certificate(opts))


def fastpay_confirmation(opts: FrameOptions) -> Packet:
    return _fastpay(opts, MSG_CONFIRMATION, FastPayMessage(variant=SM_CERT) / _certificate(opts))


def fastpay_info_request(opts: FrameOptions) -> Packet:
    return _fastpay(
        opts,
        MSG_INFO_REQUEST,
        FastPayMessage(variant=SM_INFO_REQ)
        / FastPayAccountInfoRequest(sender=_key(0xA1), request_sequence_number=opts.sequence_number),
    )


def fastpay_info_response(opts: FrameOptions) -> Packet:
    return _fastpay(
        opts,
        MSG_INFO_RESPONSE,
        FastPayMessage(variant=SM_INFO_RESP)
        / FastPayAccountInfoResponse(
            sender=_key(0xA1),
            balance=1000 - opts.amount,
            # The reference's sequence numbers are u64 and stop at the top.
            next_sequence_number=min(opts.sequence_number + 1, 2**64 - 1),
            pending_confirmation=_vote(opts),
            requested_certificate=_certificate(opts) if opts.ae else None,
            requested_received_transfers=[_certificate(opts)] if opts.ae else [],
        ),
    )


def fastpay_error(opts: FrameOptions) -> Packet:
    return _fastpay(
        opts,
        MSG_ERROR,
        FastPayMessage(variant=SM_ERROR) / FastPayError(error_variant=ERR_INSUFFICIENT_FUNDING, current_balance=3),
    )


def fastpay_announce(opts: FrameOptions) -> Packet:
    return _fastpay(
        opts,
        MSG_ANNOUNCE,
        FastPayAuthorityAnnouncement(name=_key(0xC3), weight=1, e2e_key=_key(0xD4), committee_id=b"\x01" * 8),
    )


def beacon_with_announcement(opts: FrameOptions) -> Packet:
    return beacon(opts) / AuthorityAnnouncementElement(name=_key(0xC3), weight=1, e2e_key=_key(0xD4),
                                                       committee_id=b"\x01" * 8)


BUILDERS: dict[str, Callable[[FrameOptions], Packet]] = {
    "beacon": beacon,
    "probe-req": probe_req,
    "probe-resp": probe_resp,
    "peering-open": peering_open,
    "peering-confirm": peering_confirm,
    "peering-close": peering_close,
    "preq": preq,
    "prep": prep,
    "perr": perr,
    "rann": rann,
    "gate-ann": gate_ann,
    "mesh-data": mesh_data,
    "fastpay-order": fastpay_order,
    "fastpay-vote": fastpay_vote,
    "fastpay-certificate": fastpay_certificate,
    "fastpay-confirmation": fastpay_confirmation,
    "fastpay-info-request": fastpay_info_request,
    "fastpay-info-response": fastpay_info_response,
    "fastpay-announce": fastpay_announce,
    "fastpay-error": fastpay_error,
}


def _count_limit(kind: str, opts: FrameOptions) -> tuple[int, str] | None:
    """How many targets or destinations the element allows, and why."""
    if kind == "preq":
        return PREQ_MAX_TARGETS, f"a PREQ names 1 to {PREQ_MAX_TARGETS} targets (9.4.2.112)"
    if kind == "perr":
        # 2 octets of TTL and count, then 13 octets per destination, 19
        # with the external address: what fits in an element's 255.
        most = PERR_MAX_DESTINATIONS if not opts.ae else (255 - 2) // (13 + 6)
        return most, f"a PERR {'with external addresses ' if opts.ae else ''}names 1 to {most} destinations (9.4.2.114)"
    return None


def build(kind: str, opts: FrameOptions | None = None) -> Packet:
    """The frame of `kind`, with `opts.fields` applied to the first layer
    that has each named field."""
    opts = opts or FrameOptions()
    try:
        builder = BUILDERS[kind]
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}; known: {', '.join(BUILDERS)}") from None
    limit = _count_limit(kind, opts)
    if limit is not None and not 1 <= opts.count <= limit[0]:
        raise ValueError(f"count {opts.count}: {limit[1]}")
    pkt = builder(opts)
    for name, value in opts.fields.items():
        layer = pkt
        while layer and name not in layer.fieldtype:
            layer = layer.payload
        if not layer:
            raise ValueError(f"no layer of a {kind} frame has a field {name!r}")
        layer.setfieldval(name, value)
    return pkt

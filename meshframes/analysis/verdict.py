"""A frame's verdict from the codec, the same as the Scapy dissector's.

The Scapy layers (meshframes.layers.dissect) define what a frame is; this
module reaches the same verdict from the struct codec, about fifty times
faster, for the frames whose verdict the codec can tell on its own: data
frames, our FastPay action frames, HWMP path selection frames, control
frames, and beacons and peering frames made only of elements both sides
read the same way. Every other frame, and every frame the codec refuses,
goes to the dissector the caller hands in. Management frames other than
those repeat their bodies (a node's beacons differ in the timestamp only),
so the dissector's verdict on a body is kept and reused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from typing import Any

from meshframes.analysis.frames import FrameDecode
from meshframes.app.errors import AppRefusal
from meshframes.app.framing import AppMessage, parse_message
from meshframes.codec import frames as wire
from meshframes.codec import mpdu
from meshframes.codec.action import (
    CATEGORY_MESH,
    CATEGORY_VENDOR,
    CATEGORY_VENDOR_PROTECTED,
    MESH_ACTION_GATE_ANNOUNCEMENT,
    MESH_ACTION_HWMP_PATH_SELECTION,
)
from meshframes.codec.blockack import AddbaRequest, AddbaResponse, Delba
from meshframes.codec.elements import (
    EID_DS_PARAMETER_SET,
    EID_EXTENDED_SUPPORTED_RATES,
    EID_SSID,
    EID_SUPPORTED_RATES,
    MeshConfiguration,
    MeshId,
)
from meshframes.codec.errors import DecodeError
from meshframes.codec.fastpay import (
    ETHERTYPE_FASTPAY,
    FLAG_E2E_SEALED,
    SEALED_OVERHEAD,
    MessageType,
    decode_fragment,
)
from meshframes.codec.header import (
    DATA_SUBTYPE_RESERVED_QOS,
    FC_FROM_DS,
    FC_MORE_FRAGMENTS,
    FC_ORDER,
    FC_PROTECTED,
    FC_TO_DS,
    QOS_AMSDU_PRESENT,
    SUBTYPE_ACTION,
    SUBTYPE_ACTION_NO_ACK,
    SUBTYPE_BEACON,
    SUBTYPE_PROBE_REQ,
    SUBTYPE_PROBE_RESP,
    TYPE_MGMT,
    decode_header,
)
from meshframes.codec.ie import RawElement, decode_elements
from meshframes.codec.meshctl import LLC_HEADER_LEN, LLC_SNAP, SNAP_HEADER_LEN
from meshframes.codec.pathsel import Perr, Prep, Preq, Rann
from meshframes.codec.peering import (
    SP_MESH_PEERING_CLOSE,
    SP_MESH_PEERING_CONFIRM,
    SP_MESH_PEERING_OPEN,
    MeshPeeringManagement,
)

Dissector = Callable[[bytes, int], FrameDecode]

# The uncached decoder: a capture's frames never repeat whole, and the
# cache would only hold on to them.
_decode: Callable[[bytes], wire.Frame] = wire.decode.__wrapped__  # type: ignore[attr-defined]

MESSAGE_KINDS = {int(t): "fastpay-" + t.name.removeprefix("FASTPAY_").lower().replace("_", "-")
                 for t in MessageType}
_PATH_SELECTION_KINDS: dict[type, str] = {Preq: "preq", Prep: "prep", Perr: "perr", Rann: "rann"}
# Beacons and Probe Responses start their body with the TSF timestamp
# (9.3.3.2), the one field that changes from one beacon to the next.
_TIMESTAMP_LEN = 8
_ETHERTYPE_OFFSET = LLC_HEADER_LEN + 3
_VERDICTS_KEPT = 4096
ManagementFrames = (wire.Beacon | wire.SelfProtected | wire.MeshAction | wire.MultihopAction | wire.VendorAction
                    | wire.ActionFrame | wire.ManagementFrame)
_MANAGEMENT = (wire.Beacon, wire.SelfProtected, wire.MeshAction, wire.MultihopAction, wire.VendorAction,
               wire.ActionFrame, wire.ManagementFrame)
_CODEC_FIRST_CATEGORIES = frozenset({CATEGORY_MESH, CATEGORY_VENDOR, CATEGORY_VENDOR_PROTECTED})
_ACTION_SUBTYPES = frozenset({SUBTYPE_ACTION, SUBTYPE_ACTION_NO_ACK})
_PEERING_KINDS = {SP_MESH_PEERING_OPEN: "peering-open", SP_MESH_PEERING_CONFIRM: "peering-confirm",
                  SP_MESH_PEERING_CLOSE: "peering-close"}
_BLOCK_ACK_KINDS: dict[type, str] = {AddbaRequest: "addba-request", AddbaResponse: "addba-response",
                                     Delba: "delba"}
_MANAGEMENT_KINDS = {SUBTYPE_BEACON: "beacon", SUBTYPE_PROBE_REQ: "probe-req", SUBTYPE_PROBE_RESP: "probe-resp"}
# Beacons and peering frames whose Frame Control sets any of these (a
# management frame's address or HT Control flags, fragments) are left to
# the dissector.
_UNUSUAL_MANAGEMENT_FLAGS = FC_TO_DS | FC_FROM_DS | FC_MORE_FRAGMENTS | FC_ORDER
# Scapy's own element classes that read exactly the Length they are given,
# whatever it is: SSID (the generic element) and the two rate lists. The
# DS Parameter Set class reads its one Channel octet whatever the Length
# says, so only that length is read the same way.
_SCAPY_EXACT_ELEMENTS = frozenset({EID_SSID, EID_SUPPORTED_RATES, EID_EXTENDED_SUPPORTED_RATES})
_DS_PARAMETER_SET_LEN = 1
# Ours, which the codec and our layers read alike (tests/frames/
# test_decoder_agreement.py); the Mesh Peering Management element in its
# standard layout without a chosen PMK only.
_OUR_MESH_ELEMENTS = (MeshId, MeshConfiguration)


# The records' keys are in the order the JSON shows them; the fields after
# an external address are set one by one (no keyword dict built per record).
def _preq_record(index: int, e: Preq) -> dict[str, Any]:
    record: dict[str, Any] = {"frame": index, "element": "PREQ", "flags": e.flags, "hop_count": e.hop_count,
                              "element_ttl": e.ttl, "path_discovery_id": e.path_discovery_id,
                              "originator_address": e.originator_addr.hex(":"),
                              "originator_hwmp_sn": e.originator_sn}
    if e.originator_external_addr is not None:
        record["originator_external_address"] = e.originator_external_addr.hex(":")
    record["lifetime"] = e.lifetime
    record["metric"] = e.metric
    record["target_count"] = len(e.targets)
    record["targets"] = [{"flags": t.flags, "target_address": t.addr.hex(":"), "target_hwmp_sn": t.sn}
                         for t in e.targets]
    return record


def _prep_record(index: int, e: Prep) -> dict[str, Any]:
    record: dict[str, Any] = {"frame": index, "element": "PREP", "flags": e.flags, "hop_count": e.hop_count,
                              "element_ttl": e.ttl, "target_address": e.target_addr.hex(":"),
                              "target_hwmp_sn": e.target_sn}
    if e.target_external_addr is not None:
        record["target_external_address"] = e.target_external_addr.hex(":")
    record["lifetime"] = e.lifetime
    record["metric"] = e.metric
    record["originator_address"] = e.originator_addr.hex(":")
    record["originator_hwmp_sn"] = e.originator_sn
    return record


def _perr_record(index: int, e: Perr) -> dict[str, Any]:
    destinations = []
    for d in e.destinations:
        item: dict[str, Any] = {"flags": d.flags, "destination_address": d.addr.hex(":"), "hwmp_sn": d.sn}
        if d.external_addr is not None:
            item["destination_external_address"] = d.external_addr.hex(":")
        item["reason_code"] = d.reason
        destinations.append(item)
    return {"frame": index, "element": "PERR", "element_ttl": e.ttl,
            "number_of_destinations": len(e.destinations), "destinations": destinations}


def _rann_record(index: int, e: Rann) -> dict[str, Any]:
    return {"frame": index, "element": "RANN", "flags": e.flags, "hop_count": e.hop_count, "element_ttl": e.ttl,
            "root_mesh_sta_address": e.root_addr.hex(":"), "hwmp_sn": e.root_sn, "interval": e.interval,
            "metric": e.metric}


_RECORDS: dict[type, Callable[[int, Any], dict[str, Any]]] = {
    Preq: _preq_record, Prep: _prep_record, Perr: _perr_record, Rann: _rann_record}


@lru_cache(maxsize=4096)
def read_message(msg_type: int, payload: bytes) -> AppMessage | AppRefusal:
    """The message a FastPay payload carries, or why it carries none;
    remembered, since every hop that relays a message repeats it."""
    try:
        return parse_message(msg_type, payload)
    except AppRefusal as refusal:
        return refusal


def _msdu_fastpay(body: bytes) -> str | None:
    """The FastPay kind of an MSDU of ethertype 0x88B5 (as the dissector
    reads it: a header that is not FastPay's is left alone)."""
    start = LLC_HEADER_LEN + SNAP_HEADER_LEN
    if len(body) <= start or int.from_bytes(body[_ETHERTYPE_OFFSET:start], "big") != ETHERTYPE_FASTPAY:
        return None
    try:
        return MESSAGE_KINDS[decode_fragment(body, start).msg_type]
    except DecodeError:
        return None


def _data(frame: wire.DataFrame, index: int) -> FrameDecode | None:
    if frame.header.subtype == DATA_SUBTYPE_RESERVED_QOS:
        # No layout to agree on: the dissector judges it.
        return None
    if frame.header.protected:
        return FrameDecode(index, "other", encrypted=True)
    if (frame.header.qos_control or 0) & QOS_AMSDU_PRESENT:
        return None
    body = frame.body
    if body and body[:LLC_HEADER_LEN] != LLC_SNAP:
        return None
    rule = frame.mesh_control_rule
    return FrameDecode(index, "mesh-data" if frame.mesh_control is not None else "other",
                       mesh_control_rule=rule.value if rule is not None else None,
                       msdu_fastpay=_msdu_fastpay(body))


def _vendor(frame: wire.VendorAction, index: int) -> FrameDecode | None:
    fragment = frame.payload
    if fragment.flags & FLAG_E2E_SEALED:
        if len(fragment.data) < SEALED_OVERHEAD:
            return None
    elif fragment.fragment_count == 1 and isinstance(read_message(fragment.msg_type, fragment.data), AppRefusal):
        return None
    return FrameDecode(index, MESSAGE_KINDS[fragment.msg_type])


def _path_selection(frame: wire.MeshAction, index: int) -> FrameDecode | None:
    if frame.action != MESH_ACTION_HWMP_PATH_SELECTION or not frame.elements:
        return None
    records = []
    for element in frame.elements:
        make = _RECORDS.get(type(element))
        if make is None:
            return None
        records.append(make(index, element))
    return FrameDecode(index, _PATH_SELECTION_KINDS[type(frame.elements[0])], hwmp=records)


def _read_alike(elements: tuple[object, ...]) -> bool:
    """Whether the dissector reads each element as the codec did, so that
    it could say nothing of them but that they are there."""
    for element in elements:
        kind = type(element)
        if kind is RawElement:
            assert isinstance(element, RawElement)
            if element.element_id not in _SCAPY_EXACT_ELEMENTS and not (
                    element.element_id == EID_DS_PARAMETER_SET and len(element.data) == _DS_PARAMETER_SET_LEN):
                return False
        elif kind is MeshPeeringManagement:
            assert isinstance(element, MeshPeeringManagement)
            if element.protocol_id is None or element.pmkid is not None:
                return False
        elif kind not in _OUR_MESH_ELEMENTS:
            return False
    return True


def _profile(frame: wire.Beacon | wire.SelfProtected, index: int) -> FrameDecode | None:
    """A beacon's or a peering frame's verdict, where it is plain: every
    element one both sides read alike, a peering frame with its peering
    element and no AMPE (what a plain mesh sends)."""
    if frame.header.frame_control & _UNUSUAL_MANAGEMENT_FLAGS:
        return None
    if isinstance(frame, wire.Beacon):
        # Probe Responses share the beacon's body (9.3.3.3, 9.3.3.11).
        if frame.header.subtype not in (SUBTYPE_BEACON, SUBTYPE_PROBE_RESP) or not frame.elements:
            return None
        kind = _MANAGEMENT_KINDS[frame.header.subtype]
    else:
        found = _PEERING_KINDS.get(frame.action)
        if found is None or frame.sealed or frame.peering is None:
            return None
        kind = found
    return FrameDecode(index, kind) if _read_alike(frame.elements) else None


def _probe_request(frame: wire.ManagementFrame, index: int) -> FrameDecode | None:
    """A clear Probe Request's verdict where it is plain: a body of
    elements only (9.3.3.10), each one both sides read alike. A mesh
    station sends them to a neighbour it has not heard beaconing."""
    header = frame.header
    if header.subtype != SUBTYPE_PROBE_REQ or header.protected or header.frame_control & _UNUSUAL_MANAGEMENT_FLAGS:
        return None
    try:
        elements, _ = decode_elements(frame.body, 0)
    except DecodeError:
        return None
    return FrameDecode(index, "probe-req") if elements and _read_alike(elements) else None


def kind_of(frame: wire.Frame) -> str:
    """The kind `analyze` names a well-formed frame, read from the frame as
    its sender built it, before link security: how a run that built its
    air counts it without reading it back (the demo's record; a re-read
    of its capture checks the two agree)."""
    kind = type(frame)
    if kind is wire.VendorAction:
        assert isinstance(frame, wire.VendorAction)
        return MESSAGE_KINDS[frame.payload.msg_type]
    if kind is wire.MeshAction:
        assert isinstance(frame, wire.MeshAction)
        if frame.action == MESH_ACTION_GATE_ANNOUNCEMENT:
            return "gate-ann"
        if frame.action == MESH_ACTION_HWMP_PATH_SELECTION:
            # Named after its first path selection element, as the dissector names it.
            for element in frame.elements:
                found = _PATH_SELECTION_KINDS.get(type(element))
                if found is not None:
                    return found
        return "other"
    if kind is wire.DataFrame:
        assert isinstance(frame, wire.DataFrame)
        return "mesh-data" if frame.mesh_control is not None else "other"
    if kind is wire.SelfProtected:
        assert isinstance(frame, wire.SelfProtected)
        return _PEERING_KINDS.get(frame.action, "other")
    if kind is wire.BlockAckAction:
        assert isinstance(frame, wire.BlockAckAction)
        return _BLOCK_ACK_KINDS[type(frame.body)]
    if kind is wire.Beacon or kind is wire.ManagementFrame:
        # A Beacon is also a Probe Response (one body layout, 9.3.3.10): the
        # header's subtype names it, as for every other management frame.
        assert isinstance(frame, wire.Beacon | wire.ManagementFrame)
        return _MANAGEMENT_KINDS.get(frame.header.subtype, "other")
    return "other"


def codec_verdict(data: bytes, index: int) -> tuple[FrameDecode | None, wire.Frame | None]:
    """(verdict, codec frame) where the codec can tell the verdict alone;
    (None, frame) where the dissector must, frame None when the codec
    refused the bytes."""
    try:
        frame = _decode(data)
    except DecodeError:
        return None, None
    # Most frequent first on a mesh's air: HWMP, FastPay, then data.
    if isinstance(frame, wire.MeshAction):
        return _path_selection(frame, index), frame
    if isinstance(frame, wire.VendorAction):
        return _vendor(frame, index), frame
    if isinstance(frame, wire.DataFrame):
        return _data(frame, index), frame
    if isinstance(frame, (wire.SelfProtected, wire.Beacon)):
        return _profile(frame, index), frame
    if type(frame) is wire.ManagementFrame:
        return _probe_request(frame, index), frame
    if isinstance(frame, wire.ControlFrame):
        extra = len(data) - mpdu.header_length(data)
        return FrameDecode(index, "other", undecoded=(
            f"{extra} octets after the control frame's header are not decoded" if extra else None)), frame
    if isinstance(frame, wire.ExtensionFrame):
        return FrameDecode(index, "other", undecoded=(
            f"extension frame (type 3, subtype {mpdu.frame_subtype(data)}): its body is not decoded")), frame
    return None, frame


class Verdicts:
    """Frame verdicts: the codec's where it can tell, else `dissect`'s
    (the definition), kept per management body. Counts how each was made:
    a kept verdict counts again for whoever made it."""

    def __init__(self, dissect: Dissector) -> None:
        self._dissect = dissect
        # body -> (verdict, the body's frame, whether the codec made it)
        self._kept: dict[bytes, tuple[FrameDecode, ManagementFrames, bool]] = {}
        self.by_codec = 0
        self.by_dissector = 0
        self.reused = 0

    def __call__(self, data: bytes, index: int) -> FrameDecode:
        return self.decode(data, index)[0]

    def decode(self, data: bytes, index: int) -> tuple[FrameDecode, wire.Frame | None]:
        """The verdict, and the codec's frame (None when the codec refused
        it). A management frame whose body was judged before is decoded as
        far as its header; its body's frame is the one kept."""
        # HWMP and FastPay frames are the codec's as a rule and seldom
        # repeat a body: the codec is asked before any body is looked up.
        # Frame Control's layout is looked up once, for the Category and
        # for the body's key alike.
        layout = mpdu.layout(data) if len(data) >= mpdu.FRAME_CONTROL_LEN and not mpdu.protocol_version(data) \
            else None
        codec_first = layout is not None and _category(data, layout) in _CODEC_FIRST_CATEGORIES
        key = None
        if not codec_first:
            key = _body_key(data, layout)
            again = self._reuse(key, data, index)
            if again is not None:
                return again
        verdict, frame = codec_verdict(data, index)
        if verdict is not None:
            self.by_codec += 1
            # Beacons and peering frames repeat their bodies: kept, their
            # elements are not read again.
            if key is not None and isinstance(frame, (wire.Beacon, wire.SelfProtected)):
                self._keep(key, verdict, frame, True)
            return verdict, frame
        if codec_first:
            key = _body_key(data, layout)
            again = self._reuse(key, data, index)
            if again is not None:
                return again
        self.by_dissector += 1
        verdict = self._dissect(data, index)
        if key is not None and isinstance(frame, _MANAGEMENT):
            self._keep(key, replace(verdict, packet=None), frame, False)
        return verdict, frame

    def _reuse(self, key: bytes | None, data: bytes, index: int) -> tuple[FrameDecode, wire.Frame] | None:
        kept = self._kept.get(key) if key is not None else None
        return None if kept is None else self._again(data, index, *kept)

    def _keep(self, key: bytes, verdict: FrameDecode, frame: ManagementFrames, by_codec: bool) -> None:
        if len(self._kept) >= _VERDICTS_KEPT:
            self._kept.clear()
        self._kept[key] = (verdict, frame, by_codec)

    def _again(self, data: bytes, index: int, verdict: FrameDecode, template: ManagementFrames,
               by_codec: bool) -> tuple[FrameDecode, wire.Frame] | None:
        try:
            header, start = decode_header(data)
        except DecodeError:
            return None
        if by_codec:
            self.by_codec += 1
        else:
            self.reused += 1
        again = FrameDecode(index, verdict.kind, None, verdict.malformed, verdict.undecoded, verdict.encrypted,
                            verdict.mesh_control_rule,
                            [dict(r, frame=index) for r in verdict.hwmp] if verdict.hwmp else [],
                            verdict.msdu_fastpay)
        if isinstance(template, wire.Beacon):
            # A beacon's timestamp is not part of what was kept: the frame
            # handed on carries its body unread.
            return again, wire.ManagementFrame(header, data[start:])
        if isinstance(template, wire.SelfProtected):
            # Peering frames are most of what repeats: built directly,
            # without replace()'s walk over the fields.
            return again, wire.SelfProtected(header, template.action, template.capability, template.aid,
                                        template.elements, template.sealed)
        return again, replace(template, header=header)


def is_mesh_action(data: bytes) -> bool:
    """Whether the MPDU's header and first body octet make it a mesh action
    frame (Category Mesh): every frame the codec decodes as a MeshAction
    is one, read without decoding."""
    if len(data) < mpdu.FRAME_CONTROL_LEN or mpdu.protocol_version(data):
        return False
    return _category(data, mpdu.layout(data)) == CATEGORY_MESH


def _category(data: bytes, layout: mpdu.Layout) -> int | None:
    """mpdu.category, given the version 0 frame's layout."""
    # A management header is never shorter than three addresses' 24 octets.
    if layout.ftype != TYPE_MGMT or layout.subtype not in _ACTION_SUBTYPES or len(data) <= layout.header_len:
        return None
    return data[layout.header_len]


def _body_key(data: bytes, layout: mpdu.Layout | None) -> bytes | None:
    """What a management frame's verdict depends on: Frame Control and the
    body (the timestamp of beacons left out); None for other frames and
    for frames without a whole version 0 header (`layout` None: no
    version 0 Frame Control). The addresses and Sequence Control never
    change a verdict."""
    if layout is None or layout.ftype != TYPE_MGMT or len(data) < layout.header_len:
        return None
    key = data[mpdu.FRAME_CONTROL] + data[layout.header_len:]
    if layout.subtype in (SUBTYPE_BEACON, SUBTYPE_PROBE_RESP) and not layout.frame_control & FC_PROTECTED:
        return key[:mpdu.FRAME_CONTROL_LEN] + key[mpdu.FRAME_CONTROL_LEN + _TIMESTAMP_LEN:]
    return key

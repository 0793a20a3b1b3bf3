"""Decode captured frames with our Scapy layers and say what each one is.

This is the dissection side used by the CLI and the tests: it is thorough
rather than fast (Scapy builds and parses ~2k frames/s here). Engines use
the struct codec instead.

A frame ends decoded, undecoded or malformed (meshframes.analysis.frames
says what each means); this module is the definition of that verdict.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from scapy.config import conf
from scapy.layers.dot11 import Dot11, Dot11Action, Dot11Elt, Dot11EltVendorSpecific, Dot11Encrypted, Dot11QoS
from scapy.layers.l2 import LLC, SNAP
from scapy.packet import NoPayload, Packet, Padding, Raw

import meshframes.layers  # noqa: F401  (registers the layers)
from meshframes.analysis.frames import KINDS, Analysis, FrameDecode
from meshframes.codec import mpdu, sae
from meshframes.codec.action import (
    CATEGORIES_LAID_OUT,
    CATEGORY_ERROR_BIT,
)
from meshframes.codec.blockack import BA_ACTION_ADDBA_REQUEST, BA_ACTION_ADDBA_RESPONSE, BA_ACTION_DELBA
from meshframes.codec.elements import ELEMENT_HEADER_LEN, tiling_problem
from meshframes.codec.errors import DecodeError
from meshframes.codec.ethernet import decode_ethernet
from meshframes.codec.fastpay import ETHERTYPE_FASTPAY, decode_fragment
from meshframes.codec.frames import read_authentication_fields
from meshframes.codec.header import (
    AUTH_ALGORITHMS_WITH_ELEMENTS,
    CONTROL_FIXED_LENGTH,
    MGMT_FIXED_FIELDS,
    SECURITY_HEADER_LEN,
    SUBTYPE_ACTION,
    SUBTYPE_AUTHENTICATION,
    TYPE_CTRL,
    TYPE_DATA,
    TYPE_EXT,
    TYPE_MGMT,
)
from meshframes.codec.meshctl import ae_mode_problem
from meshframes.codec.peering import SP_MESH_PEERING_CLOSE, SP_MESH_PEERING_CONFIRM, SP_MESH_PEERING_OPEN
from meshframes.codec.sae import AUTH_ALGORITHM_SAE
from meshframes.hosts.pcap import CapturedFrame, CaptureError, read_capture, strip_link
from meshframes.layers import (
    GANN,
    PERR,
    PREP,
    PREQ,
    RANN,
    AMPEEncrypted,
    BlockAckAction,
    FastPayHeader,
    GateAnnouncement,
    HWMPMeshPathSelection,
    MalformedLayer,
    MeshAction,
    MeshControl,
    MeshPeeringManagement,
    PeeringClose,
    PeeringConfirm,
    PeeringOpen,
    SelfProtectedAction,
    mesh_control_rule,
)
from meshframes.layers.fastpay import MESSAGE_TYPES
from meshframes.layers.machdr import AMSDU

_PEERING_KINDS = {SP_MESH_PEERING_OPEN: "peering-open", SP_MESH_PEERING_CONFIRM: "peering-confirm",
                  SP_MESH_PEERING_CLOSE: "peering-close"}
_BLOCK_ACK_KINDS = {BA_ACTION_ADDBA_REQUEST: "addba-request", BA_ACTION_ADDBA_RESPONSE: "addba-response",
                    BA_ACTION_DELBA: "delba"}
# An HWMP Mesh Path Selection frame is named after its first path
# selection element (meshframes/hosts/tshark.py counts the same way).
_PATH_SELECTION_KINDS: dict[type[Packet], str] = {PREQ: "preq", PREP: "prep", PERR: "perr", RANN: "rann"}

# 9.3.1: control frame lengths without FCS, by subtype; those not listed
# carry variable content after 16 octets.


@contextlib.contextmanager
def _strict_scapy() -> Iterator[None]:
    """Let layer errors propagate instead of becoming Raw, without Scapy's
    own error log lines for each one."""
    runtime = logging.getLogger("scapy.runtime")
    old_debug, old_level = conf.debug_dissector, runtime.level
    conf.debug_dissector = True
    runtime.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        conf.debug_dissector = old_debug
        runtime.setLevel(old_level)


def _layers(pkt: Packet) -> Iterator[Packet]:
    layer = pkt
    while not isinstance(layer, NoPayload):
        yield layer
        layer = layer.payload


def _first_element_offset(pkt: Packet, total: int) -> int | None:
    for layer in _layers(pkt):
        if isinstance(layer, Dot11Elt):
            return total - len(layer.original)
    return None


def _hwmp_record(index: int, element: Packet) -> dict[str, Any]:
    record: dict[str, Any] = {"frame": index, "element": element.name}
    for f in element.fields_desc:
        if f.name in ("ID", "len"):
            continue
        value = element.getfieldval(f.name)
        if value is None:
            continue
        if f.name in ("targets", "destinations"):
            record[f.name] = [_plain_fields(sub) for sub in value]
        else:
            record[f.name] = _plain(value)
    return record


def _plain_fields(pkt: Packet) -> dict[str, Any]:
    return {
        f.name: _plain(pkt.getfieldval(f.name))
        for f in pkt.fields_desc
        if pkt.getfieldval(f.name) is not None
    }


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (int, str, float)) or value is None:
        return value
    return int(value) if hasattr(value, "__int__") else str(value)


def classify(pkt: Packet) -> str:
    dot11 = pkt
    if dot11.type == 0:
        if dot11.subtype == 8:
            return "beacon"
        if dot11.subtype == 4:
            return "probe-req"
        if dot11.subtype == 5:
            return "probe-resp"
        header = pkt.getlayer(FastPayHeader)
        if header is not None:
            return "fastpay-" + MESSAGE_TYPES[header.message_type]
        spa = pkt.getlayer(SelfProtectedAction)
        if spa is not None and spa.self_protected_action in _PEERING_KINDS:
            return _PEERING_KINDS[spa.self_protected_action]
        block_ack = pkt.getlayer(BlockAckAction)
        if block_ack is not None and block_ack.block_ack_action in _BLOCK_ACK_KINDS:
            return _BLOCK_ACK_KINDS[block_ack.block_ack_action]
        mesh = pkt.getlayer(MeshAction)
        if mesh is not None and isinstance(mesh.payload, GateAnnouncement):
            return "gate-ann"
        if mesh is not None and isinstance(mesh.payload, HWMPMeshPathSelection):
            for layer in _layers(mesh.payload):
                kind = _PATH_SELECTION_KINDS.get(type(layer))
                if kind is not None:
                    return kind
        return "other"
    if dot11.type == 2 and pkt.haslayer(MeshControl):
        return "mesh-data"
    return "other"


def decode_mpdu(data: bytes, index: int = 0) -> FrameDecode:
    """Decode one MPDU (from Frame Control, no FCS, no radiotap)."""
    if len(data) < mpdu.FRAME_CONTROL_LEN:
        return FrameDecode(index, "other", malformed=f"frame of {len(data)} octets has no Frame Control")
    version = mpdu.protocol_version(data)
    if version:
        # 9.2.4.1.2: only version 0 exists; a STA discards any other, and
        # nothing after Frame Control can be read by the version 0 rules.
        return FrameDecode(index, "other", malformed=f"802.11 protocol version {version}, expected 0")
    need = mpdu.header_length(data)
    if len(data) < need:
        return FrameDecode(
            index, "other", malformed=f"802.11 header truncated: got {len(data)} octets, expected {need}"
        )
    ftype, subtype = mpdu.frame_type(data), mpdu.frame_subtype(data)
    protected = mpdu.is_protected(data)
    name, fixed = MGMT_FIXED_FIELDS.get(subtype, ("", 0)) if ftype == TYPE_MGMT else ("", 0)
    if len(data) < need + fixed:
        return FrameDecode(
            index,
            _kind_of_failed(data[:need]),
            malformed=f"{name} body truncated: got {len(data) - need} octets of fixed fields, expected {fixed}",
        )
    if ftype == TYPE_CTRL and subtype in CONTROL_FIXED_LENGTH and len(data) > need:
        return FrameDecode(index, "other", malformed=f"control frame of {len(data)} octets, expected {need}")
    if ftype in (TYPE_MGMT, TYPE_DATA) and protected and len(data) - need < SECURITY_HEADER_LEN:
        return FrameDecode(index, _kind_of_failed(data[:need]), malformed=(
            f"protected frame body of {len(data) - need} octets, shorter than its "
            f"{SECURITY_HEADER_LEN}-octet security header"))
    opaque = _opaque_body(data, need)
    if opaque is not None:
        kind, why = opaque
        return FrameDecode(index, kind, packet=Dot11(data), undecoded=why)
    if ftype == TYPE_MGMT and subtype == SUBTYPE_AUTHENTICATION and not protected:
        # An SAE body too short for any field never reaches the SAE layers
        # (Scapy dissects no payload from no bytes): the codec's rule says.
        algorithm, seq, status = read_authentication_fields(data, need)
        if algorithm == AUTH_ALGORITHM_SAE:
            try:
                sae.check_body(seq, status, data[need + fixed:], need + fixed)
            except DecodeError as exc:
                return FrameDecode(index, "other", packet=Dot11(data), malformed=str(exc))
    try:
        with _strict_scapy():
            pkt = Dot11(data)
        suspect = _native_element_misread(pkt) is not None
    except MalformedLayer:
        # Possibly an artifact of one of Scapy's own elements misreading its
        # bytes before ours: the second look below tells.
        suspect = True
    except Exception:  # a Scapy-native layer refused the bytes
        suspect = True
    native = None
    if suspect:
        try:
            with _strict_scapy(), _only_our_elements():
                pkt = Dot11(data)
        except MalformedLayer as ours:
            return FrameDecode(index, _kind_of_failed(data), malformed=str(ours))
        except Exception as exc:
            return _scapy_refused(data, index, f"{type(exc).__name__}: {exc}")
        native = _native_element_problem(pkt)
    result = FrameDecode(index, classify(pkt), packet=pkt)
    _inspect(pkt, data, result)
    if native is not None and result.malformed is None and result.undecoded is None:
        # One of Scapy's own elements (HT, RSN...) cannot be read: bytes
        # outside our concern that no layer takes, as the codec keeps them.
        result.undecoded = native
    return result


def _native_element_misread(pkt: Packet) -> str | None:
    """Which of Scapy's own element classes read past (or short of) its
    Length, if one did: then the elements after it were misread too."""
    for layer in _layers(pkt):
        if isinstance(layer, Dot11Elt) and not _ours(type(layer)) and layer.len is not None:
            rest = layer.payload.original if not isinstance(layer.payload, NoPayload) else b""
            used = len(layer.original) - len(rest or b"")
            if used != 2 + layer.len:
                return f"{layer.name} read {used} octets of a {2 + layer.len}-octet element"
    return None


def _native_element_problem(pkt: Packet) -> str | None:
    """The first element (of a packet dissected with generic elements) that
    Scapy's own class for its ID cannot read on its own."""
    for layer in _layers(pkt):
        if type(layer) is not Dot11Elt or layer.len is None:
            continue
        element = bytes(layer.original[: ELEMENT_HEADER_LEN + layer.len])
        native = Dot11Elt.dispatch_hook(element)
        try:
            with _strict_scapy():
                problem = _native_element_misread(native(element))
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if problem is not None:
            return f"element ID {layer.ID}: Scapy's {native.__name__} cannot read it ({problem})"
    return None


def _scapy_refused(data: bytes, index: int, native: str) -> FrameDecode:
    """A frame one of Scapy's own layers refused, outside the elements."""
    try:
        pkt = Dot11(data)
    except Exception as plain_exc:
        return FrameDecode(index, "other", malformed=f"802.11 frame does not parse: {plain_exc}")
    problem = _raw_in_80211(pkt)
    if problem is not None:
        if _category_not_laid_out(data):
            # Scapy's own layer for a category the codec keeps as bytes
            # (Spectrum Management, Radio Measurement, WNM): its reading is
            # shown, but the body is not ours to judge.
            return FrameDecode(index, _kind_of_failed(data), packet=pkt, undecoded=f"{problem}: {native}")
        return FrameDecode(index, _kind_of_failed(data), packet=pkt, malformed=f"{problem}: {native}")
    result = FrameDecode(index, classify(pkt), packet=pkt)
    _inspect(pkt, data, result)
    return result


def _category_not_laid_out(data: bytes) -> bool:
    """An unprotected action frame of a category the codec does not lay out."""
    if mpdu.frame_type(data) != TYPE_MGMT or mpdu.frame_subtype(data) != SUBTYPE_ACTION or mpdu.is_protected(data):
        return False
    category = mpdu.category(data)
    return category is not None and category not in CATEGORIES_LAID_OUT


def _ours(cls: type) -> bool:
    return cls.__module__.startswith("meshframes.")


@contextlib.contextmanager
def _only_our_elements() -> Iterator[None]:
    """Dissect every element but ours (and the vendor element that leads to
    our announcement) as a generic Dot11Elt."""
    ies, ouis = Dot11Elt.registered_ies, Dot11EltVendorSpecific.registered_ouis
    Dot11Elt.registered_ies = {i: c for i, c in ies.items() if _ours(c) or c is Dot11EltVendorSpecific}
    Dot11EltVendorSpecific.registered_ouis = {o: c for o, c in ouis.items() if _ours(c)}
    try:
        yield
    finally:
        Dot11Elt.registered_ies, Dot11EltVendorSpecific.registered_ouis = ies, ouis


def _opaque_body(data: bytes, header: int) -> tuple[str, str | None] | None:
    """(kind, why undecoded) of a frame whose body is not ours to judge,
    None for any other frame. Plain Scapy still shows what it can of it."""
    ftype, subtype = mpdu.frame_type(data), mpdu.frame_subtype(data)
    if ftype == TYPE_EXT:
        return "other", f"extension frame (type 3, subtype {subtype}): its body is not decoded"
    if ftype == TYPE_CTRL:
        # Beyond RA and TA (BlockAck and the like) nothing is ours to read.
        extra = len(data) - header
        return "other", f"{extra} octets after the control frame's header are not decoded" if extra else None
    if ftype != TYPE_MGMT or mpdu.is_protected(data):
        return None
    if subtype == SUBTYPE_ACTION and (mpdu.category(data) or 0) & CATEGORY_ERROR_BIT:
        # 9.4.1.11: a STA returns an action frame it does not handle with bit 7
        # of the Category set (Linux: ieee80211_rx_h_action_return), the
        # rest copied unchanged: an echo, whatever its body says.
        return "returned-action", None
    if subtype == SUBTYPE_AUTHENTICATION:
        algorithm = read_authentication_fields(data, header)[0]
        if algorithm not in AUTH_ALGORITHMS_WITH_ELEMENTS and algorithm != AUTH_ALGORITHM_SAE:
            return "other", (f"Authentication algorithm {algorithm}: its fields after the fixed ones "
                             "are not decoded")
    return None


def _kind_of_failed(data: bytes) -> str:
    """Best-effort kind of a frame that did not parse, from its header."""
    try:
        pkt = Dot11(data)
        return classify(pkt)
    except Exception:
        return "other"


def _raw_in_80211(pkt: Packet) -> str | None:
    """Where a Raw layer sits among the 802.11 layers, if anywhere."""
    parent: Packet | None = None
    for layer in _layers(pkt):
        if isinstance(layer, LLC):
            return None
        if isinstance(layer, Raw):
            return f"{len(layer.load)} octets after {parent.name if parent is not None else 'nothing'} have no layer"
        if isinstance(layer, AMSDU):
            return f"A-MSDU of {len(layer.subframes)} octets: subframes are not decoded"
        parent = layer
    return None


_PEERING_FRAMES = (PeeringOpen, PeeringConfirm, PeeringClose)


def _msdu_fastpay(pkt: Packet) -> str | None:
    """The FastPay kind of an MSDU of ethertype 0x88B5, None when it is none
    (an MSDU is not ours to decode: one whose header does not read as
    FastPay's is left alone, not called malformed)."""
    snap = pkt.getlayer(SNAP)
    if snap is None or snap.code != ETHERTYPE_FASTPAY or isinstance(snap.payload, NoPayload):
        return None
    try:
        fragment = decode_fragment(bytes(snap.payload), 0)
    except DecodeError:
        return None
    return "fastpay-" + MESSAGE_TYPES[fragment.msg_type]


def decode_msdu(data: bytes, index: int = 0) -> FrameDecode:
    """Decode one Ethernet frame a mesh point delivered: an MSDU, and in
    ethertype 0x88B5 the FastPay message its clear header names."""
    try:
        frame = decode_ethernet(data)
    except DecodeError as exc:
        return FrameDecode(index, "msdu", malformed=str(exc))
    if frame.ethertype != ETHERTYPE_FASTPAY:
        return FrameDecode(index, "msdu")
    try:
        fragment = decode_fragment(frame.payload, 0)
    except DecodeError as exc:
        return FrameDecode(index, "msdu", undecoded=f"ethertype 0x{ETHERTYPE_FASTPAY:04x} without a FastPay header: {exc}")
    return FrameDecode(index, "msdu", msdu_fastpay="fastpay-" + MESSAGE_TYPES[fragment.msg_type])


def _inspect(pkt: Packet, data: bytes, result: FrameDecode) -> None:
    result.msdu_fastpay = _msdu_fastpay(pkt)
    if isinstance(pkt.payload, Dot11Action) and not pkt.payload.payload and pkt.payload.category in CATEGORIES_LAID_OUT:
        result.malformed = f"Action frame of category {pkt.payload.category} ends after its Category field"
        return
    peering = pkt.getlayer(SelfProtectedAction)
    if peering is not None and isinstance(peering.payload, _PEERING_FRAMES) and not pkt.haslayer(MeshPeeringManagement):
        result.malformed = f"{peering.payload.name} without a Mesh Peering Management element (9.6.15)"
        return
    in_msdu = False
    for layer in _layers(pkt):
        if isinstance(layer, Dot11Encrypted):
            result.encrypted = True
            return
        if isinstance(layer, LLC) and (layer.dsap, layer.ssap, layer.ctrl) == (0xAA, 0xAA, 3) \
                and not isinstance(layer.payload, SNAP):
            cut = len(layer.payload.original or b"") if not isinstance(layer.payload, NoPayload) else 0
            result.malformed = f"LLC announces SNAP, but {cut} octets follow where its 5-octet header should be"
            return
        # Past LLC/SNAP is the MSDU: Padding there is the payload's own (an
        # Ethernet frame padded to 60 octets and bridged into the mesh).
        in_msdu = in_msdu or isinstance(layer, LLC)
        if isinstance(layer, Padding) and not in_msdu:
            result.malformed = f"{len(layer.load)} octets after the frame's last layer"
            return
        if isinstance(layer, Dot11QoS) and isinstance(layer.payload, MeshControl):
            result.mesh_control_rule = mesh_control_rule(layer, bytes(layer.payload.original))
        if isinstance(layer, MeshControl):
            expected = ae_mode_problem(mpdu.read_frame_control(data), layer.address_extension_mode)
            if expected is not None:
                result.malformed = (f"{layer.name}: Address Extension Mode {layer.address_extension_mode}, "
                                    f"expected {expected}")
                return
        if isinstance(layer, (PREQ, PREP, PERR, RANN, GANN)):
            result.hwmp.append(_hwmp_record(result.index, layer))
    offset = _first_element_offset(pkt, len(data))
    if offset is not None:
        sealed = pkt.getlayer(AMPEEncrypted)
        end = len(data) - len(sealed.original) if sealed is not None else len(data)
        walk = tiling_problem(data[offset:end])
        if walk is not None:
            result.malformed = walk
            return
    raw = _raw_in_80211(pkt)
    if raw is not None:
        result.undecoded = raw


def analyze(
    path: str | Path, fcs: str = "auto", progress: Callable[[int, int], None] | None = None,
    unseal: Callable[[bytes, int], bytes] | None = None,
) -> tuple[Analysis, list[FrameDecode]]:
    """Decode every frame of a capture; a damaged file still reports every
    frame before the damage, and the damage itself. `progress(done, total)`
    is called as frames are decoded. `unseal(mpdu, index)` (a
    meshframes.seal.capture.CaptureOpener) turns each intact frame into
    what is decoded: its plaintext when it decrypts."""
    analysis = Analysis(str(path))
    frames: list[CapturedFrame] = []
    try:
        for frame in read_capture(path):
            frames.append(frame)
    except CaptureError as exc:
        analysis.capture_error = str(exc)
    decodes: list[FrameDecode] = []
    stripped, analysis.fcs, analysis.skipped_other_linktypes = strip_link(frames, fcs)
    for frame in frames:
        analysis.linktypes[frame.linktype] += 1
    for item in stripped:
        data = unseal(item.data, item.index) if unseal is not None and item.problem is None else item.data
        result = decode_mpdu(data, item.index)
        if item.problem:
            # The capture's reason comes first: what the decoder then says
            # (an empty MPDU, a cut element) follows from it.
            result.malformed = item.problem if result.malformed is None else f"{item.problem}; {result.malformed}"
        decodes.append(result)
        analysis.count(result)
        if progress is not None:
            progress(analysis.frames, len(stripped))
    return analysis, decodes


__all__ = ["KINDS", "Analysis", "FrameDecode", "analyze", "classify", "decode_mpdu"]

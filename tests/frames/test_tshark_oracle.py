"""tshark, as an independent dissector, reads every frame kind we build,
including maximal and address-extension variants, with no malformed frame
and with field values equal to ours."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from scapy.layers.dot11 import Dot11

from meshframes.hosts import tshark
from meshframes.hosts.pcap import LINKTYPE_IEEE802_11_RADIOTAP, radiotap_header, write_pcap
from meshframes.layers import (
    GANN,
    PERR,
    PREP,
    PREQ,
    RANN,
    AuthorityAnnouncementElement,
    MeshConfiguration,
    MeshControl,
    MeshID,
    MeshPeeringManagement,
    SelfProtectedAction,
    VendorSpecificAction,
)
from meshframes.layers.build import BROADCAST, BUILDERS, FrameOptions, beacon_with_announcement, build

pytestmark = pytest.mark.tshark

CASES: list[tuple[str, FrameOptions]] = [
    ("beacon", FrameOptions()),
    ("probe-req", FrameOptions()),
    ("probe-resp", FrameOptions(mesh_id=b"m" * 32)),
    ("peering-open", FrameOptions()),
    ("peering-open", FrameOptions(ae=True)),
    ("peering-confirm", FrameOptions()),
    ("peering-confirm", FrameOptions(ae=True)),
    ("peering-close", FrameOptions()),
    ("peering-close", FrameOptions(ae=True, reason=57)),
    ("preq", FrameOptions()),
    ("preq", FrameOptions(count=20, metric=0xFFFFFFFE)),
    ("preq", FrameOptions(ae=True, count=20)),
    ("prep", FrameOptions()),
    ("prep", FrameOptions(ae=True, metric=1234)),
    ("perr", FrameOptions()),
    ("perr", FrameOptions(count=19)),
    ("perr", FrameOptions(ae=True, count=13, reason=62)),
    ("rann", FrameOptions(metric=77)),
    ("gate-ann", FrameOptions()),
    ("mesh-data", FrameOptions()),
    # Proxied end points: A5/A6 in individually addressed (4-address) mesh
    # data, A4 in group-addressed (From DS, 3-address) mesh data.
    ("mesh-data", FrameOptions(ae=True, ttl=1)),
    ("mesh-data", FrameOptions(dst=BROADCAST)),
    ("mesh-data", FrameOptions(dst=BROADCAST, ae=True)),
] + [(kind, FrameOptions(ae=ae)) for kind in BUILDERS if kind.startswith("fastpay-") for ae in (False, True)]

FIELDS = [
    "wlan.fc.type_subtype", "wlan.fixed.category_code", "wlan.fixed.selfprot_action",
    "wlan.fixed.mesh_action", "wlan.mesh.id", "wlan.mesh.config.ps_protocol",
    "wlan.mesh.config.ps_metric", "wlan.mesh.config.cong_ctl", "wlan.mesh.config.sync_method",
    "wlan.mesh.config.auth_protocol", "wlan.mesh.config.cap", "wlan.peering.proto",
    "wlan.peering.local_id", "wlan.peering.peer_id", "wlan.fixed.reason_code",
    "wlan.hwmp.flags", "wlan.hwmp.hopcount", "wlan.hwmp.ttl", "wlan.hwmp.pdid",
    "wlan.hwmp.orig_sta", "wlan.hwmp.orig_sn", "wlan.hwmp.orig_ext", "wlan.hwmp.lifetime",
    "wlan.hwmp.metric", "wlan.hwmp.targ_count", "wlan.hwmp.targ_flags", "wlan.hwmp.targ_sta",
    "wlan.hwmp.targ_sn", "wlan.hwmp.targ_ext", "wlan.rann.flags", "wlan.rann.root_sta",
    "wlan.rann.rann_sn", "wlan.rann.interval", "wlan.gann.gate_addr", "wlan.gann.seq_num",
    "wlan.gann.interval", "wlan.gann.elem_ttl", "wlan.qos.mesh_ctl_present",
    "wlan.fixed.mesh_flags", "wlan.fixed.mesh_ttl", "wlan.fixed.mesh_sequence",
    "wlan.fixed.mesh_addr4", "wlan.fixed.mesh_addr5", "wlan.fixed.mesh_addr6", "wlan.tag.oui",
]


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            return value.lower()
    return int(value)


def _ours(pkt: Dot11) -> dict[str, list[Any]]:
    """What tshark should report for our frame, from our own layers."""
    want: dict[str, list[Any]] = {"wlan.fc.type_subtype": [pkt.type << 4 | pkt.subtype]}

    def put(name: str, *values: Any) -> None:
        want.setdefault(name, []).extend(values)

    layer = pkt
    while layer:
        if isinstance(layer, MeshID):
            put("wlan.mesh.id", layer.mesh_id.decode())
        elif isinstance(layer, MeshConfiguration):
            put("wlan.mesh.config.ps_protocol", layer.path_selection_protocol)
            put("wlan.mesh.config.ps_metric", layer.path_selection_metric)
            put("wlan.mesh.config.cong_ctl", layer.congestion_control_mode)
            put("wlan.mesh.config.sync_method", layer.synchronization_method)
            put("wlan.mesh.config.auth_protocol", layer.authentication_protocol)
            put("wlan.mesh.config.cap", layer.mesh_capability)
        elif isinstance(layer, SelfProtectedAction):
            put("wlan.fixed.category_code", 15)
            put("wlan.fixed.selfprot_action", layer.self_protected_action)
        elif isinstance(layer, MeshPeeringManagement):
            put("wlan.peering.proto", layer.mesh_peering_protocol)
            put("wlan.peering.local_id", layer.local_link_id)
            if layer.peer_link_id is not None:
                put("wlan.peering.peer_id", layer.peer_link_id)
            if layer.reason_code is not None:
                put("wlan.fixed.reason_code", layer.reason_code)
        elif isinstance(layer, (PREQ, PREP, PERR, RANN, GANN)):
            put("wlan.fixed.category_code", 13)
            put("wlan.fixed.mesh_action", 2 if isinstance(layer, GANN) else 1)
            _hwmp(layer, put)
        elif isinstance(layer, MeshControl) and pkt.type == 2:
            put("wlan.qos.mesh_ctl_present", 1)
            put("wlan.fixed.mesh_flags", layer.address_extension_mode)
            put("wlan.fixed.mesh_ttl", layer.mesh_ttl)
            put("wlan.fixed.mesh_sequence", layer.mesh_sequence_number)
            for n in (4, 5, 6):
                value = layer.getfieldval(f"address{n}")
                if value is not None:
                    put(f"wlan.fixed.mesh_addr{n}", value)
        elif isinstance(layer, VendorSpecificAction):
            put("wlan.fixed.category_code", 127)
            put("wlan.tag.oui", layer.oui)
        elif isinstance(layer, AuthorityAnnouncementElement):
            put("wlan.tag.oui", layer.oui)
        layer = layer.payload
    return {k: [_norm(v) for v in vs] for k, vs in want.items()}


def _hwmp(e: Any, put: Callable[..., None]) -> None:
    if isinstance(e, PREQ):
        put("wlan.hwmp.flags", e.flags)
        put("wlan.hwmp.hopcount", e.hop_count)
        put("wlan.hwmp.ttl", e.element_ttl)
        put("wlan.hwmp.pdid", e.path_discovery_id)
        put("wlan.hwmp.orig_sta", e.originator_address)
        put("wlan.hwmp.orig_sn", e.originator_hwmp_sn)
        if e.originator_external_address is not None:
            put("wlan.hwmp.orig_ext", e.originator_external_address)
        put("wlan.hwmp.lifetime", e.lifetime)
        put("wlan.hwmp.metric", e.metric)
        put("wlan.hwmp.targ_count", e.target_count)
        for t in e.targets:
            put("wlan.hwmp.targ_flags", t.flags)
            put("wlan.hwmp.targ_sta", t.target_address)
            put("wlan.hwmp.targ_sn", t.target_hwmp_sn)
    elif isinstance(e, PREP):
        put("wlan.hwmp.flags", e.flags)
        put("wlan.hwmp.hopcount", e.hop_count)
        put("wlan.hwmp.ttl", e.element_ttl)
        put("wlan.hwmp.targ_sta", e.target_address)
        put("wlan.hwmp.targ_sn", e.target_hwmp_sn)
        if e.target_external_address is not None:
            put("wlan.hwmp.targ_ext", e.target_external_address)
        put("wlan.hwmp.lifetime", e.lifetime)
        put("wlan.hwmp.metric", e.metric)
        put("wlan.hwmp.orig_sta", e.originator_address)
        put("wlan.hwmp.orig_sn", e.originator_hwmp_sn)
    elif isinstance(e, PERR):
        put("wlan.hwmp.ttl", e.element_ttl)
        put("wlan.hwmp.targ_count", e.number_of_destinations)
        for d in e.destinations:
            put("wlan.hwmp.targ_flags", d.flags)
            put("wlan.hwmp.targ_sta", d.destination_address)
            put("wlan.hwmp.targ_sn", d.hwmp_sn)
            if d.destination_external_address is not None:
                put("wlan.hwmp.targ_ext", d.destination_external_address)
            put("wlan.fixed.reason_code", d.reason_code)
    elif isinstance(e, RANN):
        put("wlan.rann.flags", e.flags)
        put("wlan.hwmp.hopcount", e.hop_count)
        put("wlan.hwmp.ttl", e.element_ttl)
        put("wlan.rann.root_sta", e.root_mesh_sta_address)
        put("wlan.rann.rann_sn", e.hwmp_sn)
        put("wlan.rann.interval", e.interval)
        put("wlan.hwmp.metric", e.metric)
    elif isinstance(e, GANN):
        put("wlan.gann.elem_ttl", e.element_ttl)
        put("wlan.gann.gate_addr", e.mesh_gate_address)
        put("wlan.gann.seq_num", e.gann_sequence_number)
        put("wlan.gann.interval", e.interval)


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    """All cases in one capture, read once by tshark."""
    frames = [bytes(build(kind, opts)) for kind, opts in CASES]
    frames.append(bytes(beacon_with_announcement(FrameOptions())))
    path = tmp_path_factory.mktemp("oracle") / "every-kind.pcap"
    write_pcap(path, ((i * 0.01, radiotap_header() + f) for i, f in enumerate(frames)),
               LINKTYPE_IEEE802_11_RADIOTAP)
    return frames, tshark.fields(path, FIELDS), tshark.malformed_frames(path)


def test_tshark_reports_no_malformed_frame(oracle):
    frames, theirs, malformed = oracle
    assert len(theirs) == len(frames)
    assert malformed == []


@pytest.mark.parametrize("number", range(len(CASES) + 1))
def test_tshark_field_values_equal_ours(oracle, number):
    frames, theirs, _ = oracle
    ours = _ours(Dot11(frames[number]))
    got = {k: [_norm(v) for v in vs] for k, vs in theirs[number].items() if vs}
    assert len(ours) >= 2
    for name, values in ours.items():
        assert got.get(name) == values, name

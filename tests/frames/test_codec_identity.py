"""The struct codec (engines' hot path) and the Scapy layers (the format's
definition) agree byte for byte and field for field on every frame of every
capture we have and on every frame kind we build."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.dot11 import Dot11

from meshframes import codec
from meshframes.codec import elements as cel
from meshframes.codec import pathsel as cps
from meshframes.codec.ie import encode_elements
from meshframes.hosts.pcap import mpdus, read_capture
from meshframes.layers import (
    GANN,
    PERR,
    PREP,
    PREQ,
    RANN,
    FastPayHeader,
    MeshConfiguration,
    MeshControl,
    MeshID,
    MeshPeeringManagement,
    PeeringConfirm,
    PeeringOpen,
    SelfProtectedAction,
)
from meshframes.layers.build import BUILDERS, FrameOptions, build

ROOT = Path(__file__).resolve().parents[2]
# ns-3's FLAME captures hold no 802.11s structure to compare field by field.
CAPTURES = sorted((ROOT.parent / "shared" / "pcaps").glob("*/*.pcap")) + [
    p for p in sorted((ROOT / "pcaps").glob("**/*.pcap")) if not p.name.startswith("flame-")]


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def _mpdus(path: Path) -> list[bytes]:
    """Every MPDU of a capture with its link framing taken off by the
    capture module (radiotap; an FCS where the file or the frames say so);
    none may be left out as untrusted."""
    out = [m for _, m, _ in mpdus(path)]
    assert len(out) == len(list(read_capture(path)))
    return out


def _element_bytes(layer) -> bytes:
    return bytes(layer.original[: 2 + layer.len])


def _codec_twin(layer):
    """The codec element built from the Scapy layer's field values alone."""
    if isinstance(layer, PREQ):
        return cps.Preq(
            flags=int(layer.flags), hop_count=layer.hop_count, ttl=layer.element_ttl,
            path_discovery_id=layer.path_discovery_id, originator_addr=_mac(layer.originator_address),
            originator_sn=layer.originator_hwmp_sn, lifetime=layer.lifetime, metric=layer.metric,
            targets=tuple(cps.PreqTarget(int(t.flags), _mac(t.target_address), t.target_hwmp_sn)
                          for t in layer.targets),
            originator_external_addr=(_mac(layer.originator_external_address)
                                      if layer.originator_external_address else None))
    if isinstance(layer, PREP):
        return cps.Prep(
            flags=int(layer.flags), hop_count=layer.hop_count, ttl=layer.element_ttl,
            target_addr=_mac(layer.target_address), target_sn=layer.target_hwmp_sn,
            lifetime=layer.lifetime, metric=layer.metric, originator_addr=_mac(layer.originator_address),
            originator_sn=layer.originator_hwmp_sn,
            target_external_addr=(_mac(layer.target_external_address)
                                  if layer.target_external_address else None))
    if isinstance(layer, PERR):
        return cps.Perr(ttl=layer.element_ttl, destinations=tuple(
            cps.PerrDestination(int(d.flags), _mac(d.destination_address), d.hwmp_sn, d.reason_code,
                                _mac(d.destination_external_address) if d.destination_external_address else None)
            for d in layer.destinations))
    if isinstance(layer, RANN):
        return cps.Rann(flags=int(layer.flags), hop_count=layer.hop_count, ttl=layer.element_ttl,
                        root_addr=_mac(layer.root_mesh_sta_address), root_sn=layer.hwmp_sn,
                        interval=layer.interval, metric=layer.metric)
    if isinstance(layer, GANN):
        return cps.Gann(flags=int(layer.flags), hop_count=layer.hop_count, ttl=layer.element_ttl,
                        gate_addr=_mac(layer.mesh_gate_address), gann_sn=layer.gann_sequence_number,
                        interval=layer.interval)
    if isinstance(layer, MeshID):
        return cel.MeshId(layer.mesh_id)
    if isinstance(layer, MeshConfiguration):
        formation = layer.connected_to_as << 7 | layer.number_of_peerings << 1 | layer.connected_to_mesh_gate
        return cel.MeshConfiguration(layer.path_selection_protocol, layer.path_selection_metric,
                                     layer.congestion_control_mode, layer.synchronization_method,
                                     layer.authentication_protocol, formation, int(layer.mesh_capability))
    return None


def check_agreement(raw: bytes) -> int:
    """Assert codec and Scapy agree on `raw`; returns how many structures
    were compared field by field."""
    event = codec.decode(raw)
    assert codec.encode(event) == raw
    pkt = Dot11(raw)
    assert bytes(pkt) == raw
    if isinstance(event, codec.DataFrame):
        # Both decoders find (or do not find) the Mesh Control field.
        assert (event.mesh_control is not None) == pkt.haslayer(MeshControl), pkt.summary()
    compared = 0
    layer = pkt
    while layer:
        twin = _codec_twin(layer)
        # The codec keeps bodies it has no use for (probe requests...) as
        # bytes, which the byte identity above already covers.
        if twin is not None and hasattr(event, "elements"):
            assert encode_elements((twin,)) == _element_bytes(layer), layer.name
            assert twin in getattr(event, "elements", ()), layer.name
            compared += 1
        if isinstance(layer, MeshPeeringManagement):
            peering = event.peering
            assert (peering.local_link_id, peering.peer_link_id, peering.reason) == (
                layer.local_link_id, layer.peer_link_id, layer.reason_code)
            compared += 1
        if isinstance(layer, SelfProtectedAction):
            assert event.action == layer.self_protected_action
        if isinstance(layer, (PeeringOpen, PeeringConfirm)):
            assert event.capability == int.from_bytes(bytes(layer)[:2], "little")
        if isinstance(layer, MeshControl):
            mc = event.mesh_control
            assert (mc.ae_mode, mc.ttl, mc.seq) == (layer.address_extension_mode, layer.mesh_ttl,
                                                    layer.mesh_sequence_number)
            expected_ext = tuple(_mac(layer.getfieldval(f"address{n}")) for n in (4, 5, 6)
                                 if layer.getfieldval(f"address{n}") is not None)
            assert mc.addr_ext == expected_ext
            compared += 1
        if isinstance(layer, FastPayHeader):
            fragment = event.payload
            assert (fragment.msg_type, fragment.flags, fragment.message_id, fragment.fragment_number,
                    fragment.fragment_count) == (layer.message_type, int(layer.flags), layer.message_id,
                                                 layer.fragment_number, layer.fragment_count)
            assert fragment.data == bytes(layer.payload)
            compared += 1
        layer = layer.payload
    return compared


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_every_captured_frame_agrees(path):
    compared = sum(check_agreement(raw) for raw in _mpdus(path))
    assert compared > 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(BUILDERS)),
    st.builds(FrameOptions, ttl=st.integers(0, 255), seq=st.integers(0, 4095), ae=st.booleans(),
              count=st.integers(1, 12), metric=st.integers(0, 2**32 - 1), llid=st.integers(0, 0xFFFF),
              plid=st.integers(0, 0xFFFF), reason=st.integers(0, 0xFFFF), mesh_id=st.binary(max_size=32)),
)
def test_every_built_frame_agrees(kind, opts):
    compared = check_agreement(bytes(build(kind, opts)))
    # A probe request's elements are bytes to the codec: identity only.
    assert compared > 0 or kind == "probe-req"


def test_reserved_mesh_flags_are_ignored_where_the_frame_says_mesh_control():
    """9.2.2: reserved bits are ignored on receipt. With the QoS Mesh
    Control Present bit both decoders read the field and keep the bits (the
    frame re-encodes as it came); without the bit, set reserved bits mean
    the body is not Mesh Control (LLC/SNAP's 0xAA sets them)."""
    frame = bytearray(bytes(build("mesh-data", FrameOptions())))
    frame[32] |= 0x04  # a reserved Mesh Flags bit
    assert check_agreement(bytes(frame)) > 0
    assert codec.decode(bytes(frame)).mesh_control.flags == 0x04
    frame[31] &= ~0x01  # clear Mesh Control Present
    event = codec.decode(bytes(frame))
    assert event.mesh_control is None and not Dot11(bytes(frame)).haslayer(MeshControl)

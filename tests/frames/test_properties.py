"""Property tests: building and dissecting are inverse for random field
values of every layer, and no byte string makes the decoder raise."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.dot11 import Dot11, Dot11Elt
from scapy.packet import Raw

from meshframes.layers import (
    AMPE,
    GANN,
    MIC,
    PERR,
    PREP,
    PREQ,
    RANN,
    AuthorityAnnouncementElement,
    BeaconTiming,
    FastPayAccountInfoRequest,
    FastPayAccountInfoResponse,
    FastPayAuthoritySignature,
    FastPayCertifiedTransferOrder,
    FastPayError,
    FastPayHeader,
    FastPaySignedTransferOrder,
    FastPayTransfer,
    FastPayTransferOrder,
    MeshAwakeWindow,
    MeshChannelSwitchParameters,
    MeshConfiguration,
    MeshControl,
    MeshID,
    PERRDestination,
    PREQTarget,
)
from meshframes.layers.build import BUILDERS, FrameOptions, build
from meshframes.layers.dissect import decode_mpdu
from meshframes.layers.fastpay import FASTPAY_ERRORS

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, 2**64 - 1)
mac = st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b))
key = st.binary(min_size=32, max_size=32)
sig = st.binary(min_size=64, max_size=64)


def _roundtrip(pkt):
    raw = bytes(pkt)
    again = type(pkt)(raw)
    assert bytes(again) == raw
    for f in pkt.fields_desc:
        if f.name != "len" and pkt.getfieldval(f.name) is not None and not f.holds_packets:
            assert again.getfieldval(f.name) == pkt.getfieldval(f.name), f.name
    return again


preq_targets = st.lists(st.builds(PREQTarget, flags=st.sampled_from([0, 1, 4, 5]), target_address=mac,
                                  target_hwmp_sn=u32), min_size=1, max_size=20)
perr_dest = st.builds(
    lambda ae, a, sn, ext, r: PERRDestination(flags=0x40 if ae else 0, destination_address=a, hwmp_sn=sn,
                                              destination_external_address=ext if ae else None,
                                              reason_code=r),
    st.booleans(), mac, u32, mac, u16,
)

ELEMENTS = {
    "MeshConfiguration": st.builds(MeshConfiguration, path_selection_protocol=u8, path_selection_metric=u8,
                                   congestion_control_mode=u8, synchronization_method=u8,
                                   authentication_protocol=u8, connected_to_as=st.integers(0, 1),
                                   number_of_peerings=st.integers(0, 63),
                                   connected_to_mesh_gate=st.integers(0, 1), mesh_capability=u8),
    "MeshID": st.builds(MeshID, mesh_id=st.binary(max_size=32)),
    "MeshAwakeWindow": st.builds(MeshAwakeWindow, mesh_awake_window=u16),
    "MeshChannelSwitchParameters": st.builds(MeshChannelSwitchParameters, mesh_ttl=u8, flags=u8,
                                             reason_code=u16, precedence_value=u16),
    "MIC": st.builds(MIC, mic=st.binary(min_size=16, max_size=16)),
    "AMPE": st.builds(AMPE, selected_pairwise_cipher_suite=st.binary(min_size=4, max_size=4),
                      local_nonce=key, peer_nonce=key, key_data=st.binary(max_size=100)),
    "BeaconTiming": st.builds(BeaconTiming, report_control=u8),
    "PREQ": st.builds(
        lambda ae, ext, t, **kw: PREQ(flags=0x40 if ae else 0,
                                      originator_external_address=ext if ae else None, targets=t, **kw),
        st.booleans(), mac, preq_targets, hop_count=u8, element_ttl=u8, path_discovery_id=u32,
        originator_address=mac, originator_hwmp_sn=u32, lifetime=u32, metric=u32),
    "PREP": st.builds(
        lambda ae, ext, **kw: PREP(flags=0x40 if ae else 0, target_external_address=ext if ae else None, **kw),
        st.booleans(), mac, hop_count=u8, element_ttl=u8, target_address=mac, target_hwmp_sn=u32,
        lifetime=u32, metric=u32, originator_address=mac, originator_hwmp_sn=u32),
    "PERR": st.builds(PERR, element_ttl=u8, destinations=st.lists(perr_dest, min_size=1, max_size=13)),
    "RANN": st.builds(RANN, flags=st.integers(0, 1), hop_count=u8, element_ttl=u8,
                      root_mesh_sta_address=mac, hwmp_sn=u32, interval=u32, metric=u32),
    "GANN": st.builds(GANN, hop_count=u8, element_ttl=u8, mesh_gate_address=mac,
                      gann_sequence_number=u32, interval=u16),
    "AuthorityAnnouncementElement": st.builds(AuthorityAnnouncementElement, name=key, weight=u64,
                                              e2e_key=key, committee_id=st.binary(min_size=8, max_size=8)),
    "MeshControl": st.builds(
        lambda mode, a4, a5, a6, **kw: MeshControl(
            address_extension_mode=mode, address4=a4 if mode == 1 else None,
            address5=a5 if mode == 2 else None, address6=a6 if mode == 2 else None, **kw),
        st.integers(0, 2), mac, mac, mac, mesh_ttl=u8, mesh_sequence_number=u32),
    # A fragment (or sealed payload) carries opaque bytes, so the header is
    # exercised on its own terms; whole messages are covered below.
    "FastPayHeader": st.builds(
        lambda n, c, body, **kw: FastPayHeader(fragment_number=min(n, c - 1), fragment_count=c, **kw) / Raw(body),
        u8, st.integers(2, 255), st.binary(min_size=8, max_size=64), message_type=st.integers(1, 8),
        flags=st.integers(0, 1), message_id=u16),
}


@SETTINGS
@given(st.sampled_from(sorted(ELEMENTS)).flatmap(lambda name: ELEMENTS[name]))
def test_every_layer_roundtrips(pkt):
    _roundtrip(pkt)


transfer = st.builds(FastPayTransfer, sender=key, recipient_kind=st.integers(0, 1), recipient=key, amount=u64,
                     sequence_number=u64, user_data=st.none() | key)
order = st.builds(FastPayTransferOrder, transfer=transfer, signature=sig)
vote = st.builds(FastPaySignedTransferOrder, value=order, authority=key, signature=sig)
certificate = st.builds(FastPayCertifiedTransferOrder, value=order,
                        signatures=st.lists(st.builds(FastPayAuthoritySignature, authority=key, signature=sig),
                                            max_size=40))


def _error(variant: int, text: str, balance: int, pending, seq: int) -> FastPayError:
    extra = {0: {"error": text.encode()}, 25: {"error": text.encode()}, 5: {"current_balance": balance},
             6: {"pending_confirmation": pending}, 9: {"current_sequence_number": seq}}.get(variant, {})
    return FastPayError(error_variant=variant, **extra)


MESSAGES = {
    "order": order,
    "vote": vote,
    "certificate": certificate,
    "info-request": st.builds(FastPayAccountInfoRequest, sender=key, request_sequence_number=st.none() | u64,
                              request_received_transfers_excluding_first_nth=st.none() | u64),
    "info-response": st.builds(FastPayAccountInfoResponse, sender=key,
                               balance=st.integers(-(2**127), 2**127 - 1), next_sequence_number=u64,
                               pending_confirmation=st.none() | vote,
                               requested_certificate=st.none() | certificate,
                               requested_received_transfers=st.lists(certificate, max_size=3)),
    "error": st.builds(_error, st.sampled_from(sorted(FASTPAY_ERRORS)), st.text(max_size=40),
                       st.integers(-(2**127), 2**127 - 1), order, u64),
}


@SETTINGS
@given(st.sampled_from(sorted(MESSAGES)).flatmap(lambda name: MESSAGES[name]))
def test_every_fastpay_message_roundtrips(pkt):
    again = _roundtrip(pkt)
    assert again.show2(dump=True) == pkt.__class__(bytes(pkt)).show2(dump=True)


frame_options = st.builds(
    FrameOptions, src=mac, dst=st.none() | mac, mesh_id=st.binary(max_size=32), ttl=u8, seq=st.integers(0, 4095),
    ae=st.booleans(), count=st.integers(1, 12), originator=st.none() | mac, target=st.none() | mac,
    metric=u32, lifetime=u32, llid=u16, plid=u16, reason=u16, amount=u64, sequence_number=u64,
    payload=st.binary(max_size=200),
)


@SETTINGS
@given(st.sampled_from(sorted(BUILDERS)), frame_options)
def test_every_frame_kind_builds_dissects_and_rebuilds(kind, opts):
    raw = bytes(build(kind, opts))
    result = decode_mpdu(raw)
    assert result.malformed is None and result.undecoded is None
    assert result.kind == kind
    assert bytes(Dot11(raw)) == raw


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data):
    result = decode_mpdu(data)
    assert result.kind in {"other", *BUILDERS, "beacon"}


_PREFIXES = [
    bytes(build("preq"))[:26],            # mesh action, HWMP
    bytes(build("peering-open"))[:26],    # self-protected
    bytes(build("fastpay-order"))[:28],   # vendor, our OUI
    bytes(build("mesh-data"))[:32],       # QoS data, mesh control present
    bytes(build("beacon"))[:36],
]


@SETTINGS
@given(st.sampled_from(_PREFIXES), st.binary(max_size=300))
def test_random_bodies_behind_real_headers_never_raise(prefix, body):
    result = decode_mpdu(prefix + body)
    assert result.malformed is None or isinstance(result.malformed, str)


def _element_ends(frame: bytes, offset: int) -> set[int]:
    ends = {offset}
    pos = offset
    while pos + 2 <= len(frame):
        pos += 2 + frame[pos + 1]
        ends.add(pos)
    return ends


def test_every_truncation_of_every_kind_is_counted_as_malformed():
    """Cut each frame at every length: nothing raises; a cut inside the MAC
    header, a fixed field, an element or a FastPay message is malformed. In
    mesh data, a cut inside the Mesh Control field or the LLC/SNAP header
    is malformed; cuts where a part ends (no body, no MSDU yet) and cuts in
    the MSDU's payload (the application's to judge) are not."""
    for kind in BUILDERS:
        frame = bytes(build(kind, FrameOptions(ae=True, count=2)))
        first = next((l for l in _layers(Dot11(frame)) if isinstance(l, Dot11Elt)), None)
        boundaries = _element_ends(frame, len(frame) - len(first.original)) if first is not None else set()
        if kind == "mesh-data":
            control = Dot11(frame)[MeshControl]
            header = len(frame) - len(control.original)
            msdu = header + len(control) - len(control.payload)
            boundaries = {header, msdu} | set(range(msdu + 8, len(frame)))
        for cut in range(1, len(frame)):
            result = decode_mpdu(frame[:cut])
            if kind.startswith("fastpay") or kind in ("preq", "prep", "perr", "rann", "gate-ann"):
                assert result.malformed, (kind, cut)
            elif cut not in boundaries:
                assert result.malformed, (kind, cut, result.packet.summary() if result.packet else None)
            elif kind == "mesh-data":
                assert result.malformed is None, (kind, cut, result.malformed)
def _layers(pkt):
    while pkt:
        yield pkt
        pkt = pkt.payload

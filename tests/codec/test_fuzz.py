"""Fuzzing with hypothesis: arbitrary and mutated bytes only ever give a
frame that re-encodes exactly or a DecodeError; generated events survive
encode -> decode unchanged."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshframes.codec import DecodeError, EncodeError, MacHeader, MeshControl, decode, encode
from meshframes.codec.elements import MeshConfiguration, MeshId
from meshframes.codec.fastpay import FastPayFragment
from meshframes.codec.frames import CATEGORY_VENDOR, DataFrame, MeshAction, SelfProtected, VendorAction
from meshframes.codec.meshctl import LLC_SNAP
from meshframes.codec.pathsel import Perr, PerrDestination, Prep, Preq, PreqTarget, Rann
from meshframes.codec.peering import MeshPeeringManagement
from meshframes.hosts.pcap import mpdus

from .conftest import CAPTURES

SEEDS = sorted({m for path in CAPTURES for _, m, _ in mpdus(path)})
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

mac = st.binary(min_size=6, max_size=6)
u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)


def check_bytes(data: bytes) -> None:
    try:
        frame = decode(data)
    except DecodeError:
        return
    assert encode(frame) == data


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    """Arbitrary bytes: a DecodeError or an exact frame."""
    check_bytes(data)


@FUZZ
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 2000), u8, st.sampled_from("fid")),
                                        min_size=1, max_size=4))
def test_mutated_capture_frames(seed: bytes, edits: list[tuple[int, int, str]]) -> None:
    """Real frames with bytes flipped, inserted or deleted."""
    data = bytearray(seed)
    for pos, value, op in edits:
        pos = pos % (len(data) + 1)
        if op == "i":
            data[pos:pos] = bytes([value])
        elif data and pos < len(data):
            if op == "f":
                data[pos] ^= value or 1
            else:
                del data[pos]
    check_bytes(bytes(data))


def mgmt_header(a1: bytes, a2: bytes, seq: int) -> MacHeader:
    return MacHeader(0x00D0, 0, a1, a2, a2, seq)


ext = st.one_of(st.none(), mac)
preq = st.builds(
    lambda flags, ext_addr, *rest: Preq(flags | (0x40 if ext_addr else 0), *rest,
                                        originator_external_addr=ext_addr),
    u8.map(lambda f: f & ~0x40), ext, u8, u8, u32, mac, u32, u32, u32,
    st.lists(st.builds(PreqTarget, u8, mac, u32), min_size=1, max_size=20).map(tuple))
prep = st.builds(
    lambda flags, ext_addr, *rest: Prep(flags | (0x40 if ext_addr else 0), *rest,
                                        target_external_addr=ext_addr),
    u8.map(lambda f: f & ~0x40), ext, u8, u8, mac, u32, u32, u32, mac, u32)
perr_dest = st.builds(
    lambda flags, ext_addr, addr, sn, reason: PerrDestination(
        flags | (0x40 if ext_addr else 0), addr, sn, reason, ext_addr),
    u8.map(lambda f: f & ~0x40), ext, mac, u32, u16)
perr = st.builds(Perr, u8, st.lists(perr_dest, min_size=1, max_size=12).map(tuple))
rann = st.builds(Rann, u8, u8, u8, mac, u32, u32, u32)


@FUZZ
@given(mac, mac, u16, st.lists(st.one_of(preq, prep, perr, rann), min_size=1, max_size=3))
def test_path_selection_events_round_trip(a1: bytes, a2: bytes, seq: int, elements: list[object]) -> None:
    """Any PREQ/PREP/PERR/RANN the standard allows survives the codec."""
    event = MeshAction(mgmt_header(a1, a2, seq), 1, tuple(elements))  # type: ignore[arg-type]
    assert decode(encode(event)) == event


peering_for_action = {
    1: st.builds(lambda llid: MeshPeeringManagement(llid), u16),
    2: st.builds(lambda llid, plid: MeshPeeringManagement(llid, plid), u16, u16),
    3: st.builds(lambda llid, plid, reason: MeshPeeringManagement(llid, plid, reason),
                 u16, st.one_of(st.none(), u16), u16),
}


@FUZZ
@given(mac, mac, st.sampled_from([1, 2, 3]), st.data(), st.binary(max_size=32))
def test_peering_events_round_trip(a1: bytes, a2: bytes, action: int, data: st.DataObject,
                                   mesh_id: bytes) -> None:
    """Open, Confirm and Close with every legal peering element layout."""
    element = data.draw(peering_for_action[action])
    conf = data.draw(st.builds(MeshConfiguration, u8, u8, u8, u8, u8, u8, u8))
    elements = (MeshId(mesh_id), element) if action == 3 else (MeshId(mesh_id), conf, element)
    event = SelfProtected(mgmt_header(a1, a2, 0), action,
                          0 if action != 3 else None, data.draw(u16) if action == 2 else None,
                          elements)
    assert decode(encode(event)) == event


@FUZZ
@given(mac, mac, st.sampled_from([0, 1, 2]), u8, u32, st.binary(min_size=8, max_size=64), st.booleans())
def test_mesh_data_and_vendor_frames_round_trip(a1: bytes, a2: bytes, ae: int, ttl: int, seq: int,
                                                payload: bytes, qos_bit: bool) -> None:
    """Mesh data (bit set, or clear as Linux relays it: then the MSDU
    starts with LLC/SNAP, which is what tells the field is there) and
    FastPay frames. Address extension as the addressing allows: A4 (mode 1)
    in group-addressed three-address data, A5/A6 (mode 2) in four-address
    data and in management frames."""
    addrs = tuple(bytes([0x02, 0, 0, 0, 0, i]) for i in range(ae))
    mc = MeshControl(ae, ttl, seq, addrs)
    qos = 0x0100 if qos_bit else 0
    if ae == 1:
        header = MacHeader(0x0288, 0, b"\x01" + a1[1:], a2, a2, 0, qos_control=qos)
    else:
        header = MacHeader(0x0388, 0, a1, a2, a2, 0, addr4=a2, qos_control=qos)
    msdu = payload if qos_bit else LLC_SNAP + payload
    data_frame = DataFrame(header, mc, msdu)
    assert decode(encode(data_frame)) == data_frame
    if not qos_bit:
        # Without LLC/SNAP behind it, a bit-clear body is not taken for Mesh Control.
        bare = decode(encode(DataFrame(header, None, mc.encode() + b"\x00" + payload)))
        assert isinstance(bare, DataFrame) and bare.mesh_control is None
    vendor = VendorAction(mgmt_header(a1, a2, 0), CATEGORY_VENDOR, mc, FastPayFragment(1, 0, seq & 0xFFFF, 0, 1, payload))
    if ae == 1:
        with pytest.raises(EncodeError):
            encode(vendor)
    else:
        assert decode(encode(vendor)) == vendor

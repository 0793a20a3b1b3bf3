"""Table-driven vectors: bytes someone else produced (hostap's hwsim tests,
Linux, ns-3) and the events they must decode to, each row checked in both
directions; then the structures no third-party capture here carries (PREQ
and PREP with address extension, RANN), whose bytes are our encoder's and
are read back by tshark, an independent dissector."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.codec import MacHeader, MeshControl, SelfProtected, VendorAction, decode, encode
from meshframes.codec.elements import (
    AuthorityAnnouncementElement,
    MeshConfiguration,
    MeshId,
    VendorSpecific,
)
from meshframes.codec.fastpay import FastPayFragment
from meshframes.codec.frames import CATEGORY_VENDOR, MeshAction
from meshframes.codec.ie import RawElement
from meshframes.codec.pathsel import Perr, PerrDestination, Prep, Preq, PreqTarget, Rann
from meshframes.codec.peering import MeshPeeringManagement


def hostap_vectors(shared: Path) -> dict[str, bytes]:
    fields = {}
    for line in (shared / "vectors/hostap-mesh-frames.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.split()
            fields[name] = bytes.fromhex(value)
    return fields


def mgmt(a1: str, a2: str, seq: int = 0, duration: int = 0) -> MacHeader:
    return MacHeader(0x00D0, duration, bytes.fromhex(a1), bytes.fromhex(a2), bytes.fromhex(a2), seq)


def test_hostap_peering_open(shared: Path) -> None:
    """hostap's test_mesh_mpm_init_proto Open frame, field by field."""
    v = hostap_vectors(shared)
    wire = (v["hdr"] + v["fixed_open"] + v["supp_rates"] + v["ext_supp_rates"] + v["mesh_id"]
            + v["mesh_conf"] + v["mpm_open"] + v["ht_capab"] + v["ht_oper"])
    event = SelfProtected(
        mgmt("020000000000", "020000000100", seq=0x0010, duration=0x00AC), action=1,
        capability=0, aid=None, elements=(
            RawElement(1, bytes.fromhex("02040b168c129824")),
            RawElement(50, bytes.fromhex("b048606c")),
            MeshId(b"wpas-mesh-open"),
            MeshConfiguration(1, 1, 0, 1, 0, 0, 0x09),
            MeshPeeringManagement(local_link_id=0x9D07, protocol_id=0),
            RawElement(45, v["ht_capab"][2:]),
            RawElement(61, v["ht_oper"][2:]),
        ))
    assert decode(wire) == event
    assert encode(event) == wire


def test_hostap_close_element_layout() -> None:
    """hostap's Close element `75 08 0000 <plid> <llid> 3700`: with the peer
    link id, reason 55 (MESH-CLOSE-RCVD)."""
    wire = (mgmt("020000000000", "020000000100").encode() + bytes.fromhex("0f03")
            + bytes.fromhex("720e") + b"wpas-mesh-open" + bytes.fromhex("750800000d0c07093700"))
    frame = decode(wire)
    assert isinstance(frame, SelfProtected)
    assert frame.peering == MeshPeeringManagement(0x0C0D, 0x0907, 55, protocol_id=0)
    assert encode(frame) == wire


LINUX_PREQ = bytes.fromhex(
    "d0000000ffffffffffff020000000100020000000100300"
    "00d01822500001f00000000020000000100010000001213000000000000010002000000000000000000")


CASES = [
    ("linux PREQ (capture frame 19)", LINUX_PREQ, MeshAction(
        MacHeader(0x00D0, 0, b"\xff" * 6, bytes.fromhex("020000000100"), bytes.fromhex("020000000100"),
                  0x0030), 1,
        (Preq(flags=0, hop_count=0, ttl=31, path_discovery_id=0,
              originator_addr=bytes.fromhex("020000000100"), originator_sn=1, lifetime=4882, metric=0,
              targets=(PreqTarget(0, bytes.fromhex("020000000000"), 0),)),))),
    ("ns-3 two-destination PERR", bytes.fromhex(
        "d000b80700000000000200000000000300000000000360010d01841c"
        "00020000000000000403000000000000000000000006030000000000"), MeshAction(
        MacHeader(0x00D0, 0x07B8, bytes.fromhex("000000000002"), bytes.fromhex("000000000003"),
                  bytes.fromhex("000000000003"), 0x0160), 1,
        (Perr(0, (PerrDestination(0, bytes.fromhex("000000000004"), 3, 0),
                  PerrDestination(0, bytes.fromhex("000000000006"), 3, 0))),))),
]

# Bytes of our own encoder: no capture we have carries these structures.
OWN_ENCODINGS = [
    ("PREQ with AE and two targets", MeshAction(
        mgmt("ffffffffffff", "020000000001"), 1,
        (Preq(0x40, 2, 30, 7, bytes.fromhex("020000000009"), 0xFFFFFFFF, 4882, 1234,
              (PreqTarget(0x05, bytes.fromhex("020000000002"), 0),
               PreqTarget(0x00, bytes.fromhex("020000000003"), 9)),
              originator_external_addr=bytes.fromhex("0a0000000001")),))),
    ("PREP with AE", MeshAction(
        mgmt("020000000002", "020000000001"), 1,
        (Prep(0x40, 1, 31, bytes.fromhex("020000000003"), 5, 4882, 99, bytes.fromhex("020000000004"),
              6, target_external_addr=bytes.fromhex("0a0000000002")),))),
    ("RANN", MeshAction(
        mgmt("ffffffffffff", "020000000001"), 1,
        (Rann(1, 0, 31, bytes.fromhex("020000000001"), 3, 5000, 0),))),
]


@pytest.mark.parametrize("name,wire,event", CASES, ids=[c[0] for c in CASES])
def test_case_both_directions(name: str, wire: bytes, event: object) -> None:
    """Decoding the bytes gives the event; encoding the event gives the bytes."""
    assert decode(wire) == event
    assert encode(event) == wire


@pytest.mark.parametrize("name,event", OWN_ENCODINGS, ids=[c[0] for c in OWN_ENCODINGS])
def test_own_encoding_round_trips(name: str, event: MeshAction) -> None:
    assert decode(encode(event)) == event


def _hex_mac(addr: bytes) -> str:
    return addr.hex(":")


@pytest.mark.tshark
def test_tshark_reads_our_own_encodings(tmp_path: Path) -> None:
    """tshark's field values for our PREQ/PREP with AE and our RANN are the
    events' (flags, external addresses, every target)."""
    from meshframes.hosts import tshark
    from meshframes.hosts.pcap import LINKTYPE_IEEE802_11_RADIOTAP, radiotap_header, write_pcap

    path = tmp_path / "own.pcap"
    write_pcap(path, ((i * 0.1, radiotap_header() + encode(event)) for i, (_, event) in enumerate(OWN_ENCODINGS)),
               LINKTYPE_IEEE802_11_RADIOTAP)
    names = ["_ws.malformed", "wlan.hwmp.flags", "wlan.hwmp.orig_sta", "wlan.hwmp.orig_ext", "wlan.hwmp.targ_count",
             "wlan.hwmp.targ_flags", "wlan.hwmp.targ_sta", "wlan.hwmp.targ_sn", "wlan.hwmp.targ_ext",
             "wlan.hwmp.metric", "wlan.rann.root_sta", "wlan.rann.rann_sn", "wlan.rann.interval"]
    preq_frame, prep_frame, rann_frame = tshark.fields(path, names)
    preq, prep, rann = (event.elements[0] for _, event in OWN_ENCODINGS)
    assert all(not f["_ws.malformed"] for f in (preq_frame, prep_frame, rann_frame))
    assert int(preq_frame["wlan.hwmp.flags"][0], 0) == preq.flags
    assert preq_frame["wlan.hwmp.orig_ext"] == [_hex_mac(preq.originator_external_addr)]
    assert [int(n) for n in preq_frame["wlan.hwmp.targ_count"]] == [len(preq.targets)]
    assert preq_frame["wlan.hwmp.targ_sta"] == [_hex_mac(t.addr) for t in preq.targets]
    assert [int(v, 0) for v in preq_frame["wlan.hwmp.targ_flags"]] == [t.flags for t in preq.targets]
    assert [int(v) for v in preq_frame["wlan.hwmp.targ_sn"]] == [t.sn for t in preq.targets]
    assert prep_frame["wlan.hwmp.targ_ext"] == [_hex_mac(prep.target_external_addr)]
    assert prep_frame["wlan.hwmp.orig_sta"] == [_hex_mac(prep.originator_addr)]
    assert [int(v) for v in prep_frame["wlan.hwmp.metric"]] == [prep.metric]
    assert rann_frame["wlan.rann.root_sta"] == [_hex_mac(rann.root_addr)]
    assert [int(v) for v in rann_frame["wlan.rann.rann_sn"]] == [rann.root_sn]
    assert [int(v) for v in rann_frame["wlan.rann.interval"]] == [rann.interval]


def test_vendor_frame_layout_matches_wire_format_doc() -> None:
    """A category-127 FastPay fragment, assembled by hand from the table in
    docs/wire-format.md, decodes to the event that encodes back to it."""
    mesh_da, mesh_sa = bytes.fromhex("020000000009"), bytes.fromhex("020000000001")
    wire = (mgmt("020000000002", "020000000001").encode()
            + bytes([127]) + bytes.fromhex("0a4d46")
            + bytes([0x02, 31]) + (7).to_bytes(4, "little") + mesh_da + mesh_sa
            + bytes([1, 3, 1]) + (0x1234).to_bytes(2, "little") + bytes([1, 3])
            + b"certificate-part-1")
    frame = decode(wire)
    assert frame == VendorAction(
        mgmt("020000000002", "020000000001"), CATEGORY_VENDOR,
        MeshControl(0x02, 31, 7, (mesh_da, mesh_sa)),
        FastPayFragment(msg_type=3, flags=1, message_id=0x1234, fragment_number=1, fragment_count=3,
                        data=b"certificate-part-1"))
    assert frame.mesh_control.addr5 == mesh_da and frame.mesh_control.addr6 == mesh_sa
    assert encode(frame) == wire


def test_authority_announcement_in_beacon_vendor_element() -> None:
    """The beacon vendor element: OUI 0a:4d:46, type 1, then the 80-byte
    announcement; other OUIs stay generic vendor elements."""
    ann = AuthorityAnnouncementElement(b"N" * 32, 3, b"K" * 32, b"C" * 8)
    body = ann.body()
    assert body[:4] == bytes.fromhex("0a4d4601") and len(body) == 84
    header = MacHeader(0x0080, 0, b"\xff" * 6, b"\x02" * 6, b"\x02" * 6, 0)
    beacon_bytes = (header.encode() + bytes(8) + (1000).to_bytes(2, "little") + bytes(2)
                    + bytes([221, len(body)]) + body + bytes.fromhex("dd050050f20201"))
    beacon = decode(beacon_bytes)
    assert beacon.elements == (ann, VendorSpecific(bytes.fromhex("0050f2"), bytes.fromhex("0201")))  # type: ignore[union-attr]
    assert encode(beacon) == beacon_bytes


def test_secure_open_keeps_ciphertext_after_the_mic() -> None:
    """In AMPE the bytes behind the MIC element are ciphertext, not elements
    (hostap's mesh_rsn_protect_frame): they are kept whole and re-encoded."""
    from meshframes.codec.elements import Mic

    header = mgmt("020000000002", "020000000001")
    ciphertext = bytes(range(40, 90))
    wire = (header.encode() + bytes.fromhex("0f010000") + bytes.fromhex("720e") + b"wpas-mesh-sae0"
            + bytes.fromhex("751401000100") + bytes(16) + bytes([140, 16]) + bytes(range(16)) + ciphertext)
    frame = decode(wire)
    assert isinstance(frame, SelfProtected)
    assert frame.elements[-1] == Mic(bytes(range(16))) and frame.sealed == ciphertext
    assert frame.peering == MeshPeeringManagement(1, protocol_id=1, pmkid=bytes(16))
    assert encode(frame) == wire


def test_beacon_timing_layouts_awake_window_and_gann() -> None:
    """Beacon Timing in the standard layout (Report Control + 6-byte
    tuples) and ns-3's (5-byte tuples), Mesh Awake Window, and a Gate
    Announcement (mesh action 2) all survive the codec."""
    from meshframes.codec.elements import (
        BeaconTiming,
        BeaconTimingEntry,
        BeaconTimingLayout,
        MeshAwakeWindow,
    )
    from meshframes.codec.frames import Beacon
    from meshframes.codec.pathsel import Gann

    standard = BeaconTiming(BeaconTimingLayout.STANDARD, 0x01,
                            (BeaconTimingEntry(1, 0x123456, 1000), BeaconTimingEntry(2, 7, 100)))
    ns3 = BeaconTiming(BeaconTimingLayout.NS3_DRAFT, None, (BeaconTimingEntry(3, 0x0736, 488),))
    header = MacHeader(0x0080, 0, b"\xff" * 6, b"\x02" * 6, b"\x02" * 6, 0)
    for element in (standard, ns3):
        beacon = Beacon(header, 5, 1000, 0, (element, MeshAwakeWindow(10)))
        assert decode(encode(beacon)) == beacon
    gann = MeshAction(mgmt("ffffffffffff", "020000000001"), 2,
                      (Gann(0, 0, 31, bytes.fromhex("020000000001"), 4, 1000),))
    assert decode(encode(gann)) == gann

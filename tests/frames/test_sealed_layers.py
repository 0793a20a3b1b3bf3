"""Our layers dissect what the sealing library puts on the air: an
end-to-end sealed FastPay payload, and a CCMP-protected category-126 frame
that decodes once the hop layer opens it."""

from __future__ import annotations

from dataclasses import replace

from scapy.layers.dot11 import Dot11, Dot11CCMP

from meshframes.codec import VendorAction, decode, encode
from meshframes.layers import FastPayHeader, FastPaySealed, FastPayTransferOrder, VendorSpecificProtectedAction
from meshframes.layers.build import FrameOptions, build
from meshframes.layers.dissect import decode_mpdu
from meshframes.seal.e2e import E2EIdentity, E2ESealer
from meshframes.seal.hop import HopSealer
from meshframes.seal.keys import derive_mtk, derive_pmk, new_peering_nonce


def test_end_to_end_sealed_payload_dissects_into_its_fields():
    """A fragment sealed by the seal library and put in its frame by the
    codec dissects into sender, sequence number, ciphertext and tag; the
    authority opens what it reads back to the frame as built."""
    client, authority = E2EIdentity(b"\x11" * 32), E2EIdentity(b"\x22" * 32)
    sealer = E2ESealer(client, initial_sequence=1_700_000_000_000_000)
    plain = bytes(build("fastpay-order", FrameOptions()))
    frame = decode(plain)
    assert isinstance(frame, VendorAction)
    destination, source = frame.mesh_control.addr_ext
    sealed = encode(replace(frame, payload=sealer.seal_fragment(authority.public, frame.payload, destination, source)))
    result = decode_mpdu(sealed)
    assert result.kind == "fastpay-order" and result.malformed is None
    layer = result.packet[FastPaySealed]
    assert layer.sender == client.public
    assert layer.sequence_number == 1_700_000_000_000_000
    assert len(layer.tag) == 16
    assert int(result.packet[FastPayHeader].flags) & 1
    plain_body = bytes(Dot11(plain)[FastPayHeader].payload)
    assert len(layer.ciphertext) == len(plain_body)
    assert layer.ciphertext != plain_body
    received = decode(sealed)
    assert isinstance(received, VendorAction)
    opened_sender, opened = E2ESealer(authority, initial_sequence=1).open_fragment(
        received.payload, destination, source)
    assert opened_sender == client.public and encode(replace(received, payload=opened)) == plain


def test_ccmp_protected_vendor_frame_decodes_after_the_hop_opens_it():
    a, b = HopSealer(bytes.fromhex("020000000100")), HopSealer(bytes.fromhex("020000000200"))
    pmk = derive_pmk("correct horse", b"meshframes")
    na, nb = new_peering_nonce(), new_peering_nonce()
    mtk = derive_mtk(pmk, local_mac=a.own_mac, peer_mac=b.own_mac, local_nonce=na, peer_nonce=nb,
                     local_link_id=1, peer_link_id=2)
    a.keys.install_pairwise(b.own_mac, mtk)
    b.keys.install_pairwise(a.own_mac, mtk)
    frame = bytearray(bytes(build("fastpay-vote", FrameOptions(src="02:00:00:00:01:00", dst="02:00:00:00:02:00"))))
    frame[24] = 126  # Vendor Specific Protected: the category a sealed FastPay frame carries
    air = a.seal(bytes(frame))
    on_air = decode_mpdu(air)
    assert on_air.encrypted and on_air.packet.haslayer(Dot11CCMP)
    opened = b.open(air)
    result = decode_mpdu(opened)
    assert result.kind == "fastpay-vote" and result.malformed is None
    assert result.packet.haslayer(VendorSpecificProtectedAction)
    assert opened == bytes(frame)
    assert result.packet.haslayer(FastPayTransferOrder)

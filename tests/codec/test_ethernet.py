"""Ethernet II framing and the MSDU a Linux mesh point delivers for a mesh
data frame, checked against tshark on Linux's own bridged recording (4-
and 6-address frames, address extension modes 0, 1 and 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.codec import DataFrame, DecodeError, decode
from meshframes.codec.ethernet import ETHER_HEADER_LEN, EthernetFrame, decode_ethernet, msdu_of
from meshframes.hosts import tshark
from meshframes.hosts.pcap import mpdus
from meshframes.layers.dissect import decode_msdu

BRIDGE = Path(__file__).resolve().parents[2] / "pcaps" / "linux-kernel-bridge.pcap"
A = bytes.fromhex("020000000100")
B = bytes.fromhex("020000000200")


def test_ethernet_frame_round_trips() -> None:
    frame = EthernetFrame(A, B, 0x88B5, b"payload")
    data = frame.encode()
    assert data == A + B + b"\x88\xb5payload" and decode_ethernet(data) == frame


@pytest.mark.parametrize(("data", "message"), [
    (A + B + b"\x08", "Ethernet header at offset 0: got 13 octets, expected 14 octets"),
    (A + B + b"\x00\x2e" + bytes(46), "Ethernet type at offset 12: got 0x002e (an 802.3 length), expected a type"),
])
def test_ethernet_refusals_say_got_and_expected(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_ethernet(data)


@pytest.mark.tshark
def test_msdus_of_linux_bridged_frames_equal_tshark_s_addresses() -> None:
    """Every mesh data frame with an MSDU in the bridged recording: the
    Ethernet destination and source Linux would deliver are the proxied
    ends where address extension names them (A5/A6, or A4 on group frames),
    else the mesh DA and SA as tshark reads them; the type is the SNAP
    protocol tshark reads, the payload what follows it."""
    rows = tshark.fields(BRIDGE, ["wlan.da", "wlan.sa", "wlan.fixed.mesh_addr4", "wlan.fixed.mesh_addr5",
                                  "wlan.fixed.mesh_addr6", "llc.type", "data.len", "ip.len", "arp.hw.type"])
    modes = set()
    checked = 0
    for index, (_, mpdu, _) in enumerate(mpdus(BRIDGE)):
        frame = decode(mpdu)
        if not isinstance(frame, DataFrame) or frame.mesh_control is None or not frame.body:
            continue
        row = rows[index]
        msdu = msdu_of(frame)
        modes.add(frame.mesh_control.ae_mode)
        dst = (row["wlan.fixed.mesh_addr5"] or row["wlan.da"])[0]
        src = (row["wlan.fixed.mesh_addr6"] or row["wlan.fixed.mesh_addr4"] or row["wlan.sa"])[0]
        assert (msdu.dst.hex(":"), msdu.src.hex(":")) == (dst, src), index
        assert msdu.ethertype == int(row["llc.type"][0], 16)
        assert mpdu.endswith(msdu.payload) and len(msdu.payload) == len(frame.body) - 8
        checked += 1
    assert checked == 31 and modes == {0, 1, 2}


def test_msdu_of_refuses_data_without_mesh_control_or_snap() -> None:
    frames = [decode(m) for _, m, _ in mpdus(BRIDGE)]
    data = next(f for f in frames if isinstance(f, DataFrame) and f.mesh_control is not None and f.body)
    assert isinstance(data, DataFrame)
    with pytest.raises(DecodeError, match="Mesh Control"):
        msdu_of(DataFrame(data.header, None, data.body))
    with pytest.raises(DecodeError, match="LLC/SNAP header"):
        msdu_of(DataFrame(data.header, data.mesh_control, b"\x42\x42\x03" + data.body[3:]))


def test_decode_msdu_names_fastpay_and_counts_the_rest() -> None:
    """An MSDU a mesh point delivered: FastPay by its header's kind, any
    other type as plain msdu, a cut header as malformed, 0x88B5 without a
    FastPay header as undecoded."""
    from meshframes.codec.fastpay import FastPayFragment, MessageType, encode_fragment

    fastpay = encode_fragment(FastPayFragment(MessageType.FASTPAY_ORDER, 0, 7, 0, 1, b"order"))
    order = decode_msdu(EthernetFrame(A, B, 0x88B5, fastpay).encode(), 3)
    assert (order.index, order.kind, order.msdu_fastpay, order.malformed, order.undecoded) == \
        (3, "msdu", "fastpay-order", None, None)
    ip = decode_msdu(EthernetFrame(A, B, 0x0800, bytes(20)).encode())
    assert (ip.kind, ip.msdu_fastpay, ip.malformed, ip.undecoded) == ("msdu", None, None, None)
    cut = decode_msdu((A + B + b"\x88")[:ETHER_HEADER_LEN - 1])
    assert cut.malformed == "Ethernet header at offset 0: got 13 octets, expected 14 octets"
    junk = decode_msdu(EthernetFrame(A, B, 0x88B5, b"meshframes").encode())
    assert junk.undecoded is not None and junk.undecoded.startswith("ethertype 0x88b5 without a FastPay header")

"""Ethernet II framing (IEEE 802.3 clause 3, the Length/Type field read as
a type), the form in which a Linux mesh point interface hands MSDUs to a
packet socket and takes them from one.

On receive the kernel strips the 802.11 header, Mesh Control and LLC/SNAP
(ieee80211_data_to_8023_exthdr): the destination is the mesh DA, or the
proxied end A5; the source the mesh SA, or the proxied A4 or A6. On
transmit it adds them, finding the path itself; a source other than the
interface's own is sent proxied, with address extension.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from meshframes.codec.errors import DecodeError
from meshframes.codec.frames import DataFrame
from meshframes.codec.meshctl import AE_A4, LLC_HEADER_LEN, LLC_SNAP, SNAP_HEADER_LEN

ETHER_ADDR_LEN = 6
ETHER_TYPE_LEN = 2
ETHER_HEADER_LEN = 2 * ETHER_ADDR_LEN + ETHER_TYPE_LEN
# 802.3: a Length/Type value of 1536 (0x0600) or more is a type.
ETHER_TYPE_MIN = 0x0600
_TYPE = struct.Struct("!H")


@dataclass(frozen=True, slots=True)
class EthernetFrame:
    """One MSDU as an Ethernet II frame (no FCS: packet sockets carry none)."""

    dst: bytes
    src: bytes
    ethertype: int
    payload: bytes

    def encode(self) -> bytes:
        return self.dst + self.src + _TYPE.pack(self.ethertype) + self.payload


def decode_ethernet(data: bytes) -> EthernetFrame:
    """An Ethernet II frame from a packet socket. Raises DecodeError when
    the header is cut short or the Length/Type field holds a length."""
    if len(data) < ETHER_HEADER_LEN:
        raise DecodeError("Ethernet header", 0, f"{len(data)} octets", f"{ETHER_HEADER_LEN} octets")
    (ethertype,) = _TYPE.unpack_from(data, 2 * ETHER_ADDR_LEN)
    if ethertype < ETHER_TYPE_MIN:
        raise DecodeError("Ethernet type", 2 * ETHER_ADDR_LEN, f"0x{ethertype:04x} (an 802.3 length)",
                          f"a type of 0x{ETHER_TYPE_MIN:04x} or more")
    return EthernetFrame(data[:ETHER_ADDR_LEN], data[ETHER_ADDR_LEN:2 * ETHER_ADDR_LEN], ethertype,
                         data[ETHER_HEADER_LEN:])


def msdu_of(frame: DataFrame) -> EthernetFrame:
    """The Ethernet frame a Linux mesh point delivers for a mesh data frame
    (9.3.5 addressing with Mesh Control, then RFC 1042 LLC/SNAP): mesh DA
    and SA, replaced by the proxied ends when address extension names them.
    Raises DecodeError for a frame without Mesh Control or LLC/SNAP."""
    control = frame.mesh_control
    snap_end = LLC_HEADER_LEN + SNAP_HEADER_LEN
    if control is None:
        raise DecodeError("Mesh Control", 0, "none", "a mesh data frame")
    if frame.body[:LLC_HEADER_LEN] != LLC_SNAP or len(frame.body) < snap_end:
        raise DecodeError("LLC/SNAP header", 0, frame.body[:snap_end].hex(), "aaaa03 and a SNAP header")
    hdr = frame.header
    # Only a 4-address header (To DS and From DS) has A4.
    if hdr.addr4 is not None:
        dst, src = control.addr5 or hdr.addr3, control.addr6 or hdr.addr4
    else:
        dst, src = hdr.addr1, control.addr_ext[0] if control.ae_mode == AE_A4 else hdr.addr3
    (ethertype,) = _TYPE.unpack_from(frame.body, snap_end - ETHER_TYPE_LEN)
    return EthernetFrame(dst, src, ethertype, frame.body[snap_end:])

"""The Mesh Control field (802.11-2020 9.2.4.7.3): Mesh Flags, Mesh TTL,
Mesh Sequence Number (u32) and 0, 1 or 2 extension addresses.

It heads the body of mesh data frames and of our multihop vendor action
frames (docs/wire-format.md).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from meshframes.codec.errors import DecodeError, EncodeError, need
from meshframes.codec.frozen import quick_init
from meshframes.codec.header import (
    FC_FROM_DS,
    FC_PROTECTED,
    FC_TO_DS,
    QOS_AMSDU_PRESENT,
    QOS_MESH_CONTROL_PRESENT,
)

# Mesh Flags, 9.2.4.7.3 Figure 9-23: bits 0-1 Address Extension Mode
# (Table 9-26); 3 is reserved.
AE_NONE = 0
AE_A4 = 1
AE_A5_A6 = 2
AE_RESERVED = 3
AE_MASK = 0x03
AE_MODE_NAMES = {AE_NONE: "none", AE_A4: "A4", AE_A5_A6: "A5+A6", AE_RESERVED: "reserved"}
_AE_ADDRS = {AE_NONE: 0, AE_A4: 1, AE_A5_A6: 2}
# Mesh Flags, Mesh TTL, Mesh Sequence Number: before any extension address.
MESH_CONTROL_FIXED_LEN = 6

_FIXED = struct.Struct("<BBI")
# The extension addresses' lengths each mode wants (0, 1 or 2 addresses).
_EXTENSION_LENGTHS = {n: (6,) * n for n in _AE_ADDRS.values()}


@quick_init
@dataclass(frozen=True, slots=True)
class MeshControl:
    flags: int
    ttl: int
    seq: int
    # Mode 1: (A4,) the proxied source; mode 2: (A5 mesh DA, A6 mesh SA).
    addr_ext: tuple[bytes, ...] = ()

    @property
    def ae_mode(self) -> int:
        return self.flags & AE_MASK

    @property
    def addr5(self) -> bytes | None:
        return self.addr_ext[0] if self.ae_mode == AE_A5_A6 else None

    @property
    def addr6(self) -> bytes | None:
        return self.addr_ext[1] if self.ae_mode == AE_A5_A6 else None

    @property
    def length(self) -> int:
        return 6 + 6 * len(self.addr_ext)

    def encode(self) -> bytes:
        wanted = _AE_ADDRS.get(self.ae_mode)
        if wanted is None:
            raise EncodeError("mesh address extension mode", self.ae_mode, "0, 1 or 2")
        if tuple(map(len, self.addr_ext)) != _EXTENSION_LENGTHS[wanted]:
            raise EncodeError("mesh extension addresses",
                              [len(a) for a in self.addr_ext], f"{wanted} addresses of 6 bytes")
        try:
            fixed = _FIXED.pack(self.flags, self.ttl, self.seq)
        except struct.error:
            raise EncodeError("mesh control values", (self.flags, self.ttl, self.seq),
                              "u8 flags, u8 TTL, u32 sequence number") from None
        return fixed + b"".join(self.addr_ext) if self.addr_ext else fixed

    def with_ttl(self, ttl: int) -> MeshControl:
        return MeshControl(self.flags, ttl, self.seq, self.addr_ext)


def mesh_control_length(flags: int) -> int | None:
    """Octets of a Mesh Control field whose Mesh Flags are `flags`, None
    for the reserved address extension mode."""
    naddr = _AE_ADDRS.get(flags & AE_MASK)
    return None if naddr is None else MESH_CONTROL_FIXED_LEN + 6 * naddr


def decode_mesh_control(data: bytes, offset: int) -> MeshControl:
    if len(data) - offset < 6:
        need(data, offset, 6, "Mesh Control")
    flags, ttl, seq = _FIXED.unpack_from(data, offset)
    naddr = _AE_ADDRS.get(flags & AE_MASK)
    if naddr is None:
        raise DecodeError("mesh address extension mode", offset, flags & AE_MASK, "0, 1 or 2")
    # Bits 2-7 are reserved: ignored on receipt (9.2.2) when the frame says
    # Mesh Control is there, and kept so the frame re-encodes as it came.
    # Only the inference rule, which has no such word from the frame, reads
    # set ones as "not Mesh Control" (LLC's first octet 0xAA sets them).
    if len(data) - (offset + 6) < 6 * naddr:
        need(data, offset + 6, 6 * naddr, "Mesh Address Extension")
    start = offset + 6
    ext = tuple(data[start + 6 * i:start + 6 * i + 6] for i in range(naddr))
    return MeshControl(flags, ttl, seq, ext)


# The LLC/SNAP header every mesh MSDU starts with (Linux, ns-3 and the
# standard's 802.2 encapsulation of mesh data).
LLC_SNAP = b"\xaa\xaa\x03"
# 802.2: an MSDU starts with a 3-octet LLC header (an A-MSDU subframe
# header is longer still); LLC with both SAPs 0xAA announces a SNAP header:
# OUI (3) and protocol ID (2).
LLC_HEADER_LEN = 3
SNAP_HEADER_LEN = 5

# Bit 2 of a data subtype (QoS Null, CF-Ack/Poll without data): no body.
_FC_NO_DATA = 0x0040


def ae_mode_problem(frame_control: int, ae_mode: int) -> str | None:
    """What the frame's addressing allows instead, when its Mesh Control's
    address extension mode does not fit it (9.2.4.7.3); None when it fits.

    Address 4 (mode 1) extends group-addressed mesh data, which has three
    addresses; individually addressed mesh data (four addresses) and
    multihop management frames carry proxied end points as A5/A6 (mode 2).
    Linux drops the misfits (ieee80211_data_to_8023_exthdr).
    """
    if (frame_control >> 2) & 0x3 == 0:
        return "0 or 2 in a management frame (mode 1, A4, extends data frames only)" if ae_mode == AE_A4 else None
    ds = frame_control & (FC_TO_DS | FC_FROM_DS)
    if ds == FC_TO_DS | FC_FROM_DS and ae_mode == AE_A4:
        return "0 or 2 in a 4-address data frame (mode 1, A4, extends group-addressed ones only)"
    if ds == FC_FROM_DS and ae_mode == AE_A5_A6:
        return "0 or 1 in a group-addressed data frame (mode 2, A5/A6, is for individually addressed ones)"
    return None


def mesh_control_rule(frame_control: int, qos_control: int | None, addr1: bytes, seq_ctrl: int,
                      body: bytes) -> str | None:
    """Whether a data frame's body starts with a Mesh Control field, and by
    which rule; one rule for the codec and the Scapy layers alike.

    - "qos-bit": QoS Control bit 8, Mesh Control Present (9.2.4.5.1);
    - "inferred": the bit is clear, but the frame is mesh data by its
      addressing (4-address, or group-addressed From DS as 9.3.5 sends mesh
      broadcasts), is the first fragment of a whole MSDU (not an A-MSDU,
      whose subframes each carry their own Mesh Control), and its body is a
      well-formed Mesh Control field followed by LLC/SNAP. Linux 6.1 relays
      mesh data this way, bit clear, field present. A plain 4-address (WDS)
      body is LLC/SNAP itself, whose first octet 0xAA sets reserved Mesh
      Flags bits, so the two cannot be confused.
    None: no Mesh Control (not QoS, a no-data subtype, protected, A-MSDU,
    or neither rule).
    """
    if (qos_control is None or frame_control & (FC_PROTECTED | _FC_NO_DATA)
            or qos_control & QOS_AMSDU_PRESENT):
        return None
    if qos_control & QOS_MESH_CONTROL_PRESENT:
        return "qos-bit"
    ds = frame_control & (FC_TO_DS | FC_FROM_DS)
    meshlike = ds == FC_TO_DS | FC_FROM_DS or (ds == FC_FROM_DS and bool(addr1[0] & 0x01))
    if not meshlike or seq_ctrl & 0x000F or len(body) < 6:
        return None
    flags = body[0]
    if flags & ~AE_MASK or (flags & AE_MASK) not in _AE_ADDRS:
        return None
    end = 6 + 6 * _AE_ADDRS[flags & AE_MASK]
    return "inferred" if body[end:end + 3] == LLC_SNAP else None

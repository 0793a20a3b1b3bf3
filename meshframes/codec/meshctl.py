"""The Mesh Control field (802.11-2020 9.2.4.7.3): Mesh Flags, Mesh TTL,
Mesh Sequence Number (u32) and 0, 1 or 2 extension addresses.

It heads the body of mesh data frames and of our multihop vendor action
frames (docs/wire-format.md).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from meshframes.codec.errors import DecodeError, EncodeError, need

# Mesh Flags, 9.2.4.7.3 Figure 9-23: bits 0-1 Address Extension Mode.
AE_NONE = 0
AE_A4 = 1
AE_A5_A6 = 2
AE_MASK = 0x03
_AE_ADDRS = {AE_NONE: 0, AE_A4: 1, AE_A5_A6: 2}

_FIXED = struct.Struct("<BBI")


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
        if len(self.addr_ext) != wanted or any(len(a) != 6 for a in self.addr_ext):
            raise EncodeError("mesh extension addresses",
                              [len(a) for a in self.addr_ext], f"{wanted} addresses of 6 bytes")
        if not (0 <= self.ttl <= 0xFF and 0 <= self.seq <= 0xFFFFFFFF and 0 <= self.flags <= 0xFF):
            raise EncodeError("mesh control values", (self.flags, self.ttl, self.seq),
                              "u8 flags, u8 TTL, u32 sequence number")
        return _FIXED.pack(self.flags, self.ttl, self.seq) + b"".join(self.addr_ext)

    def with_ttl(self, ttl: int) -> MeshControl:
        return MeshControl(self.flags, ttl, self.seq, self.addr_ext)


def decode_mesh_control(data: bytes, offset: int) -> MeshControl:
    need(data, offset, 6, "Mesh Control")
    flags, ttl, seq = _FIXED.unpack_from(data, offset)
    naddr = _AE_ADDRS.get(flags & AE_MASK)
    if naddr is None:
        raise DecodeError("mesh address extension mode", offset, flags & AE_MASK, "0, 1 or 2")
    need(data, offset + 6, 6 * naddr, "Mesh Address Extension")
    start = offset + 6
    ext = tuple(data[start + 6 * i:start + 6 * i + 6] for i in range(naddr))
    return MeshControl(flags, ttl, seq, ext)


def plausible_mesh_control(data: bytes, offset: int) -> bool:
    """Whether the bytes at `offset` can be a Mesh Control field.

    Used for frames that carry one without saying so (Linux relays mesh data
    with the QoS mesh-control-present bit clear). The alternative body of a
    4-address data frame is LLC/SNAP, whose first octet 0xAA sets reserved
    Mesh Flags bits, so the reserved bits being zero tells the two apart.
    """
    if len(data) - offset < 6:
        return False
    flags = data[offset]
    if flags & ~AE_MASK or (flags & AE_MASK) not in _AE_ADDRS:
        return False
    return len(data) - offset >= 6 + 6 * _AE_ADDRS[flags & AE_MASK]

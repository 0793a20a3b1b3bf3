"""Proxy Update (PXU) and Proxy Update Confirmation (PXUC) elements
(802.11-2020 9.4.2.115, 9.4.2.116): how a mesh gate or proxy mesh STA
tells another which external (non-mesh) addresses it proxies, and the
acknowledgement. They travel in Multihop Action frames (9.6.17).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from meshframes.codec.elements import EID_PROXY_UPDATE, EID_PROXY_UPDATE_CONFIRMATION
from meshframes.codec.errors import DecodeError, EncodeError
from meshframes.codec.ie import exact_length, register

# 9.4.2.115, Proxy Information field: Flags bits, bit 0 first.
PXU_FLAG_DELETE = 0x01
PXU_FLAG_ORIGINATOR_IS_PROXY = 0x02
PXU_FLAG_LIFETIME = 0x04
PXU_FLAG_NAMES = ["delete", "originator_is_proxy", "lifetime"]

_PXU_HEAD = struct.Struct("<B6sB")  # PXU ID, PXU Originator MAC Address, Number of Proxy Information
_INFO_HEAD = struct.Struct("<B6sI")  # Flags, External Address, Proxy Information Sequence Number
_LIFETIME = struct.Struct("<I")
_PXUC = struct.Struct("<B6s")  # PXU ID, PXU Recipient MAC Address
PXU_FIXED_LEN = _PXU_HEAD.size
PXU_COUNT_OFFSET = 7
PROXY_INFO_FIXED_LEN = _INFO_HEAD.size
PROXY_ADDRESS_LEN = 6
PROXY_LIFETIME_LEN = _LIFETIME.size
PXUC_LEN = _PXUC.size


def proxy_info_length(flags: int) -> int:
    """A Proxy Information field's length, which its Flags decide: the Proxy
    Address is there unless the originator is the proxy, the Proxy
    Information Lifetime only with the Lifetime bit."""
    return (PROXY_INFO_FIXED_LEN + (0 if flags & PXU_FLAG_ORIGINATOR_IS_PROXY else PROXY_ADDRESS_LEN)
            + (PROXY_LIFETIME_LEN if flags & PXU_FLAG_LIFETIME else 0))


@dataclass(frozen=True, slots=True)
class ProxyInformation:
    flags: int
    external_address: bytes
    sequence_number: int
    proxy_address: bytes | None = None
    lifetime: int | None = None

    def encode(self) -> bytes:
        if (self.proxy_address is None) != bool(self.flags & PXU_FLAG_ORIGINATOR_IS_PROXY):
            raise EncodeError("Proxy Information proxy address", "present" if self.proxy_address else "absent",
                              "present exactly when Originator Is Proxy (flag bit 1) is clear")
        if (self.lifetime is not None) != bool(self.flags & PXU_FLAG_LIFETIME):
            raise EncodeError("Proxy Information lifetime", "present" if self.lifetime is not None else "absent",
                              "present exactly when Lifetime (flag bit 2) is set")
        if len(self.external_address) != 6 or (self.proxy_address is not None and len(self.proxy_address) != 6):
            raise EncodeError("Proxy Information addresses", "not 6 octets", "6-octet MAC addresses")
        try:
            out = _INFO_HEAD.pack(self.flags, self.external_address, self.sequence_number)
            out += self.proxy_address or b""
            return out + (b"" if self.lifetime is None else _LIFETIME.pack(self.lifetime))
        except struct.error as exc:
            raise EncodeError("Proxy Information fields", str(exc), "u8 flags, u32 sequence number and lifetime") \
                from None


@dataclass(frozen=True, slots=True)
class ProxyUpdate:
    """9.4.2.115 Proxy Update."""

    element_id: ClassVar[int] = EID_PROXY_UPDATE
    pxu_id: int
    originator: bytes
    proxy_information: tuple[ProxyInformation, ...]

    def body(self) -> bytes:
        if len(self.originator) != 6:
            raise EncodeError("PXU originator address", len(self.originator), 6)
        try:
            head = _PXU_HEAD.pack(self.pxu_id, self.originator, len(self.proxy_information))
        except struct.error as exc:
            raise EncodeError("PXU fields", str(exc), "u8 PXU ID, at most 255 Proxy Information fields") from None
        return head + b"".join(info.encode() for info in self.proxy_information)


@register(EID_PROXY_UPDATE)
def _proxy_update(body: bytes, offset: int, _action: int | None) -> ProxyUpdate:
    if len(body) < PXU_FIXED_LEN:
        raise DecodeError("PXU length", offset - 1, len(body), f">= {PXU_FIXED_LEN}")
    pxu_id, originator, count = _PXU_HEAD.unpack_from(body)
    pos = PXU_FIXED_LEN
    infos = []
    for number in range(count):
        if pos >= len(body):
            raise DecodeError(f"PXU Proxy Information {number}", offset + pos, "end of element",
                              f"{count} fields (Number of Proxy Information)")
        end = pos + proxy_info_length(body[pos])
        if end > len(body):
            raise DecodeError(f"PXU Proxy Information {number} length", offset + pos, len(body) - pos,
                              end - pos)
        flags, external, sequence_number = _INFO_HEAD.unpack_from(body, pos)
        at = pos + PROXY_INFO_FIXED_LEN
        proxy = None
        if not flags & PXU_FLAG_ORIGINATOR_IS_PROXY:
            proxy = body[at:at + PROXY_ADDRESS_LEN]
            at += PROXY_ADDRESS_LEN
        lifetime = _LIFETIME.unpack_from(body, at)[0] if flags & PXU_FLAG_LIFETIME else None
        infos.append(ProxyInformation(flags, external, sequence_number, proxy, lifetime))
        pos = end
    if pos != len(body):
        raise DecodeError("PXU length", offset - 1, len(body), pos)
    return ProxyUpdate(pxu_id, originator, tuple(infos))


@dataclass(frozen=True, slots=True)
class ProxyUpdateConfirmation:
    """9.4.2.116 Proxy Update Confirmation."""

    element_id: ClassVar[int] = EID_PROXY_UPDATE_CONFIRMATION
    pxu_id: int
    recipient: bytes

    def body(self) -> bytes:
        if len(self.recipient) != 6:
            raise EncodeError("PXUC recipient address", len(self.recipient), 6)
        try:
            return _PXUC.pack(self.pxu_id, self.recipient)
        except struct.error as exc:
            raise EncodeError("PXUC PXU ID", str(exc), "0..255") from None


@register(EID_PROXY_UPDATE_CONFIRMATION)
def _proxy_update_confirmation(body: bytes, offset: int, _action: int | None) -> ProxyUpdateConfirmation:
    exact_length(body, offset, "PXUC", PXUC_LEN)
    return ProxyUpdateConfirmation(*_PXUC.unpack(body))

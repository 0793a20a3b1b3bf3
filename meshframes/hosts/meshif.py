"""FastPay over the kernel's own mesh (docs/wire-format.md, "FastPay over
the kernel's mesh"): for users whose radio has no monitor mode.

The kernel's mesh point (`iw dev X set type mp`, `mesh join`) does peering,
HWMP path selection and forwarding; we hand it Ethernet frames of ethertype
0x88B5 whose payload is the FastPay header from `version` onwards, addressed
to the destination node's MAC, and it routes them over as many hops as the
mesh needs.

MeshInterface moves those payloads. MeshifRadio puts the Radio interface of
meshframes.hosts.base on top, so an engine that speaks category-127 action
frames runs unchanged: it transmits single-hop or multi-hop FastPay action
frames (only those: peering and path selection belong to the kernel here),
and receives each message as a single-hop action frame from its mesh
source, the kernel's hops being invisible from above.
"""

from __future__ import annotations

import socket
import struct
from collections import Counter
from dataclasses import dataclass, field

from meshframes.codec.elements import MESHFRAMES_OUI
from meshframes.hosts.base import RxFrame
from meshframes.hosts.packet import PACKET_HOST, PACKET_OUTGOING, PacketEndpoint, drain

ETHERTYPE_FASTPAY = 0x88B5  # IEEE 802 local experimental ethertype 1
ARPHRD_ETHER = 1
BROADCAST = b"\xff" * 6
# The mesh interface's MTU is 1500 (Ethernet); a longer message must be
# fragmented by the sender as docs/wire-format.md describes.
MAX_PAYLOAD = 1500

# 802.11-2020 9.3.3.13 Action frame: FC type 0 (management), subtype 13.
FC_ACTION = b"\xd0\x00"
CATEGORY_VENDOR_SPECIFIC = 127  # 9.4.1.11, table 9-51
# 9.2.4.7.3 Mesh Control: flags, TTL, sequence number, 0/6/12 extension octets.
_MESH_CONTROL = struct.Struct("<BBI")
_ADDRESS_EXTENSION_LENGTH = {0: 0, 1: 6, 2: 12}
_ACTION_BODY = 24  # the management header: FC, duration, A1-A3, sequence control


@dataclass(frozen=True, slots=True)
class MeshifMessage:
    """A FastPay payload the kernel delivered from `src`."""

    src: bytes
    dst: bytes  # our address, or the broadcast address
    payload: bytes
    timestamp: float  # CLOCK_MONOTONIC


@dataclass(slots=True)
class MeshifStats:
    sent: int = 0
    send_dropped: int = 0
    received: int = 0
    own_echo: int = 0
    # Frames MeshifRadio.transmit could not carry, by reason.
    refused: Counter[str] = field(default_factory=Counter)


class MeshInterface(PacketEndpoint):
    """Send and receive FastPay payloads through a kernel mesh point."""

    def __init__(self, ifname: str, *, rcvbuf: int = 4 << 20) -> None:
        super().__init__(
            ifname, socket.SOCK_DGRAM, ETHERTYPE_FASTPAY, hardware_type=ARPHRD_ETHER,
            wrong_type_hint=f"not a mesh point interface; make one with `iw dev {ifname} "
            f"set type mp` and `iw dev {ifname} mesh join ID`", rcvbuf=rcvbuf)
        self.stats = MeshifStats()

    @property
    def mac(self) -> bytes:
        return self.interface_mac

    def send(self, dst: bytes, payload: bytes) -> None:
        """Queue `payload` for `dst` (a node's MAC or BROADCAST)."""
        if len(dst) != 6:
            raise ValueError(f"destination must be a 6-byte MAC, got {len(dst)} bytes")
        if len(payload) > MAX_PAYLOAD:
            raise ValueError(f"payload of {len(payload)} bytes exceeds the mesh MTU "
                             f"{MAX_PAYLOAD}; fragment it first")
        if self._send(payload, (self.ifname, ETHERTYPE_FASTPAY, 0, 0, dst)):
            self.stats.sent += 1
        else:
            self.stats.send_dropped += 1

    def receive_messages(self) -> list[MeshifMessage]:
        messages = []
        for payload, packet_type, src, stamp in drain(self._sock, MAX_PAYLOAD + 64):
            if packet_type == PACKET_OUTGOING:
                self.stats.own_echo += 1
                continue
            dst = self.interface_mac if packet_type == PACKET_HOST else BROADCAST
            messages.append(MeshifMessage(src, dst, payload, stamp))
        self.stats.received += len(messages)
        return messages


class MeshifRadio:
    """meshframes.hosts.base.Radio over a MeshInterface, for engines that
    speak FastPay action frames."""

    def __init__(self, interface: MeshInterface) -> None:
        self.interface = interface
        self._sequence = 0

    @property
    def mac(self) -> bytes:
        return self.interface.mac

    def fileno(self) -> int:
        return self.interface.fileno()

    def transmit(self, frame: bytes) -> None:
        carried = fastpay_destination(frame)
        if isinstance(carried, str):
            self.interface.stats.refused[carried] += 1
            return
        self.interface.send(*carried)

    def receive(self) -> list[RxFrame]:
        return [RxFrame(self._action_frame(m), m.timestamp) for m in
                self.interface.receive_messages()]

    def _action_frame(self, message: MeshifMessage) -> bytes:
        # Single hop from the mesh source: A1 us (or broadcast), A2 = A3 =
        # the source, Mesh Control without address extension and TTL 1, so
        # nothing above tries to forward it again.
        self._sequence = (self._sequence + 1) & 0xFFFFFFFF
        return b"".join((
            FC_ACTION, b"\x00\x00", message.dst, message.src, message.src, b"\x00\x00",
            bytes([CATEGORY_VENDOR_SPECIFIC]), MESHFRAMES_OUI,
            _MESH_CONTROL.pack(0, 1, self._sequence), message.payload,
        ))


def fastpay_destination(frame: bytes) -> tuple[bytes, bytes] | str:
    """(mesh destination, payload from `version` on) of a FastPay action
    frame, or the reason it is not one the kernel's mesh can carry."""
    if len(frame) < _ACTION_BODY + 4 + _MESH_CONTROL.size:
        return "too short for a FastPay action frame"
    if frame[:1] != FC_ACTION[:1]:
        return "not an action frame (the kernel does peering and path selection here)"
    if frame[1] & 0x40:
        return "protected frame (the kernel's mesh carries only the plaintext envelope)"
    if frame[_ACTION_BODY] != CATEGORY_VENDOR_SPECIFIC:
        return f"action category {frame[_ACTION_BODY]}, not vendor-specific 127"
    if frame[_ACTION_BODY + 1:_ACTION_BODY + 4] != MESHFRAMES_OUI:
        return f"vendor OUI {frame[_ACTION_BODY + 1:_ACTION_BODY + 4].hex(':')} is not ours"
    mesh_control = _ACTION_BODY + 4
    mode = frame[mesh_control] & 0x03
    if mode not in _ADDRESS_EXTENSION_LENGTH:
        return f"reserved address extension mode {mode}"
    payload_start = mesh_control + _MESH_CONTROL.size + _ADDRESS_EXTENSION_LENGTH[mode]
    if len(frame) < payload_start:
        return "mesh control runs past the frame"
    # Mode 2 names the end-to-end destination in A5; otherwise it is A1.
    dst = frame[mesh_control + 6:mesh_control + 12] if mode == 2 else frame[4:10]
    return dst, frame[payload_start:]

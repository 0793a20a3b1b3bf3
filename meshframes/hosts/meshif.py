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

import enum
import errno
import socket
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from meshframes.codec import mpdu
from meshframes.codec.action import CATEGORY_LEN, CATEGORY_VENDOR
from meshframes.codec.elements import MESHFRAMES_OUI, OUI_LEN
from meshframes.codec.fastpay import ETHERTYPE_FASTPAY
from meshframes.codec.header import SUBTYPE_ACTION, TYPE_MGMT, MacHeader, frame_control
from meshframes.codec.meshctl import (
    AE_A5_A6,
    AE_MASK,
    AE_NONE,
    MESH_CONTROL_FIXED_LEN,
    MeshControl,
    decode_mesh_control,
    mesh_control_length,
)
from meshframes.codec.mpdu import THREE_ADDRESS_HEADER_LEN
from meshframes.hosts.base import RxFrame
from meshframes.hosts.iw import IwError, interface_type
from meshframes.hosts.monitor import ARPHRD_IEEE80211_RADIOTAP, ETH_P_ALL
from meshframes.hosts.packet import PACKET_HOST, PACKET_OUTGOING, PacketEndpoint, drain

ARPHRD_ETHER = 1
_SYS_NET = Path("/sys/class/net")
BROADCAST = b"\xff" * 6
# The mesh interface's MTU is 1500 (Ethernet); a longer message must be
# fragmented by the sender as docs/wire-format.md describes.
MAX_PAYLOAD = 1500

# 802.11-2020 9.3.3.13 Action frame: FC type 0 (management), subtype 13.
FC_ACTION = frame_control(TYPE_MGMT, SUBTYPE_ACTION)
# The shortest FastPay action frame: header, Category, OUI, Mesh Control.
_MIN_FASTPAY_FRAME = THREE_ADDRESS_HEADER_LEN + CATEGORY_LEN + OUI_LEN + MESH_CONTROL_FIXED_LEN


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
            MacHeader(FC_ACTION, 0, message.dst, message.src, message.src, 0).encode(),
            bytes((CATEGORY_VENDOR,)), MESHFRAMES_OUI,
            MeshControl(AE_NONE, 1, self._sequence).encode(), message.payload,
        ))


def fastpay_destination(frame: bytes) -> tuple[bytes, bytes] | str:
    """(mesh destination, payload from `version` on) of a FastPay action
    frame, or the reason it is not one the kernel's mesh can carry."""
    if len(frame) < _MIN_FASTPAY_FRAME:
        return "too short for a FastPay action frame"
    if not mpdu.is_action(frame) or mpdu.frame_subtype(frame) != SUBTYPE_ACTION:
        return "not an action frame (the kernel does peering and path selection here)"
    if mpdu.is_protected(frame):
        return "protected frame (the kernel's mesh carries only the plaintext envelope)"
    offset = mpdu.category_offset(frame)
    body = b"" if offset is None else mpdu.action_body(frame, offset)
    if offset is None or len(body) < OUI_LEN + MESH_CONTROL_FIXED_LEN:
        return "too short for a FastPay action frame"
    if frame[offset] != CATEGORY_VENDOR:
        return f"action category {frame[offset]}, not vendor-specific {CATEGORY_VENDOR}"
    if body[:OUI_LEN] != MESHFRAMES_OUI:
        return f"vendor OUI {body[:OUI_LEN].hex(':')} is not ours"
    mesh_flags = body[OUI_LEN]
    length = mesh_control_length(mesh_flags)
    if length is None:
        return f"reserved address extension mode {mesh_flags & AE_MASK}"
    if len(body) < OUI_LEN + length:
        return "mesh control runs past the frame"
    mesh_control = decode_mesh_control(body, OUI_LEN)
    # Mode 2 names the end-to-end destination in A5; otherwise it is A1.
    dst = mesh_control.addr5 if mesh_control.ae_mode == AE_A5_A6 else None
    return dst or mpdu.addr1(frame), body[OUI_LEN + length:]


class InterfaceKind(enum.Enum):
    """The two kinds of interface `sniff` and `inject` work on."""

    MONITOR = "monitor"
    MESH_POINT = "mesh point"


class NotARadioInterface(ValueError):
    """Neither a radiotap monitor nor a Linux mesh point; the message is
    one line saying what the interface is instead and how to make either."""


def interface_kind(ifname: str) -> InterfaceKind:
    """What `ifname` is, from sysfs (hardware type, a phy behind it) and,
    for a wireless Ethernet-type interface, `iw dev X info`. Raises
    NotARadioInterface, or OSError (ENODEV) when there is no such interface."""
    make = (f"make a monitor (`iw phy PHY interface add {ifname} type monitor`) or a mesh point "
            f"(`iw dev {ifname} set type mp`, `iw dev {ifname} mesh join ID`)")
    if not ifname or "/" in ifname or ifname in (".", ".."):
        raise OSError(errno.ENODEV, f"no network interface named {ifname!r}")
    sysfs = _SYS_NET / ifname
    try:
        hardware_type = int((sysfs / "type").read_text())
    except FileNotFoundError:
        raise OSError(errno.ENODEV, f"no network interface named {ifname}") from None
    if hardware_type == ARPHRD_IEEE80211_RADIOTAP:
        return InterfaceKind.MONITOR
    if hardware_type != ARPHRD_ETHER or not (sysfs / "phy80211").exists():
        raise NotARadioInterface(f"hardware type {hardware_type}, not a wireless interface; {make}")
    try:
        kind = interface_type(ifname)
    except IwError as error:
        raise NotARadioInterface(f"a wireless interface whose type iw cannot tell: {error}") from None
    if kind != InterfaceKind.MESH_POINT.value:
        raise NotARadioInterface(f"a wireless interface of type {kind}, neither a monitor nor a mesh point; "
                                 f"{make}")
    return InterfaceKind.MESH_POINT


@dataclass(frozen=True, slots=True)
class TappedMsdu:
    """An Ethernet frame a mesh point delivered."""

    data: bytes
    timestamp: float  # CLOCK_MONOTONIC
    group: bool  # group addressed (broadcast or multicast)


@dataclass(slots=True)
class MeshTapStats:
    """Counters of MeshPointTap: frames delivered (to us or to a group),
    copies of our own sends, and frames handed to the kernel."""

    delivered: int = 0
    unicast: int = 0
    group: int = 0
    own_echo: int = 0
    sent: int = 0
    send_dropped: int = 0


class MeshPointTap(PacketEndpoint):
    """Every MSDU a kernel mesh point hands up, of any ethertype, as an
    Ethernet frame; and any Ethernet frame given to the kernel to send over
    its mesh. What the kernel lets through: MSDUs for this station and
    group-addressed ones, with the 802.11 header, Mesh Control and LLC/SNAP
    removed. Beacons, peering, HWMP and frames it only forwards stay in the
    kernel, and on transmit it chooses the path, the addressing, the Mesh
    Control and the sequence numbers itself."""

    def __init__(self, ifname: str, *, rcvbuf: int = 4 << 20) -> None:
        super().__init__(
            ifname, socket.SOCK_RAW, ETH_P_ALL, hardware_type=ARPHRD_ETHER,
            wrong_type_hint=f"not a mesh point interface; make one with `iw dev {ifname} "
            f"set type mp` and `iw dev {ifname} mesh join ID`", rcvbuf=rcvbuf)
        self.stats = MeshTapStats()

    def receive(self) -> list[TappedMsdu]:
        frames = []
        for packet, packet_type, _, stamp in drain(self._sock, MAX_PAYLOAD + 64):
            if packet_type == PACKET_OUTGOING:
                self.stats.own_echo += 1
                continue
            group = packet_type != PACKET_HOST
            frames.append(TappedMsdu(packet, stamp, group))
            self.stats.group += group
            self.stats.unicast += not group
        self.stats.delivered += len(frames)
        return frames

    def send(self, frame: bytes) -> None:
        """Hand one Ethernet frame (destination, source, type, payload) to
        the kernel's mesh."""
        if self._send(frame):
            self.stats.sent += 1
        else:
            self.stats.send_dropped += 1

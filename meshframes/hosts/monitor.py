"""A node's radio through a monitor interface: raw AF_PACKET, bytes only.

Measured on hwsim under qemu (shared notes, hwsim.md): a raw packet socket
moves ~11k frames/s and drains a 2,000-frame burst without loss, while
Scapy's per-frame sniffing manages ~70 frames/s and loses 94% of the same
burst. So the hot path here never touches Scapy: radiotap is prepended on
transmit and parsed with struct on receive (meshframes.codec.radiotap).

What a monitor socket sees besides the air, and what we do with it:
- a copy of every frame sent through the socket (packet type OUTGOING):
  dropped, as an own echo;
- mac80211's TX status report of every frame this radio sent, whoever sent
  it (radiotap with a TX flags field): not delivered, as an own echo, but
  kept as a TxReport (was a unicast frame acknowledged, at what rate?), the
  feedback a mesh node's link metric and failure detection need; the shape
  is the one meshframes.hosts.node reads through `tx_reports()`. A receiving monitor
  acknowledges only when created `active` (hwsim ACKs a frame when some
  active interface of the receiving radio has its address);
- frames for other receivers: dropped only when `addressed_only` is set.
"""

from __future__ import annotations

import errno
import socket
from collections import deque
from dataclasses import dataclass

from meshframes.codec import radiotap
from meshframes.codec.mpdu import ADDR_LEN, addr1, addressed_elsewhere, receiver_is_group
from meshframes.hosts.base import RxFrame, TxReport
from meshframes.hosts.packet import PACKET_OUTGOING, PacketEndpoint, drain

ETH_P_ALL = 0x0003
ARPHRD_IEEE80211_RADIOTAP = 803
# A 2304-byte MSDU in a 4-address QoS frame with mesh control, CCMP and
# radiotap fits comfortably.
MAX_PACKET = 4096
MIN_MPDU = 10  # the shortest 802.11 frame (ACK/CTS): FC, duration, A1
TX_REPORTS_KEPT = 4096  # unread reports beyond this are dropped, oldest first


@dataclass(slots=True)
class MonitorStats:
    """Counters of everything the transport did with a frame."""

    transmitted: int = 0
    tx_dropped: int = 0  # the socket refused a frame (queue full)
    delivered: int = 0
    own_echo: int = 0  # copies and TX status reports of our own frames
    tx_acked: int = 0
    tx_failed: int = 0  # unicast frames no one acknowledged
    not_addressed: int = 0
    bad_fcs: int = 0
    malformed: int = 0  # unusable radiotap, or shorter than an 802.11 header


class MonitorRadio(PacketEndpoint):
    """meshframes.hosts.base.Radio on a monitor interface.

    `mac` is the address the node transmits with (default: the interface's).
    With `addressed_only`, receive() keeps only frames whose A1 is `mac` or a
    group address, as a station's own receive filter would.
    """

    def __init__(self, ifname: str, *, mac: bytes | None = None,
                 addressed_only: bool = False, rcvbuf: int = 8 << 20) -> None:
        super().__init__(
            ifname, socket.SOCK_RAW, ETH_P_ALL, hardware_type=ARPHRD_IEEE80211_RADIOTAP,
            wrong_type_hint="not a radiotap monitor interface; create one with "
            f"`iw phy PHY interface add {ifname} type monitor`", rcvbuf=rcvbuf)
        self.addressed_only = addressed_only
        self.stats = MonitorStats()
        self._mac = mac if mac is not None else self.interface_mac
        self._tx_reports: deque[TxReport] = deque(maxlen=TX_REPORTS_KEPT)

    @property
    def mac(self) -> bytes:
        return self._mac

    def transmit(self, frame: bytes) -> None:
        try:
            sent = self._send(radiotap.TX_HEADER + frame)
        except OSError as error:
            if error.errno != errno.EMSGSIZE:
                raise
            raise ValueError(
                f"a {len(frame)}-byte frame exceeds the MTU of {self.ifname}; raise it "
                f"(`ip link set {self.ifname} mtu 2400`) to carry 2304-octet bodies"
            ) from error
        if sent:
            self.stats.transmitted += 1
        else:
            self.stats.tx_dropped += 1

    def receive(self) -> list[RxFrame]:
        frames = []
        for packet, packet_type, _, stamp in drain(self._sock, MAX_PACKET):
            accepted = self._accept(packet, packet_type)
            if accepted is not None:
                header, mpdu = accepted
                frames.append(RxFrame(mpdu, stamp, header.signal_dbm, header.rate_100kbps))
        self.stats.delivered += len(frames)
        return frames

    def tx_reports(self) -> list[TxReport]:
        """Reports on unicast frames sent since the last call (as far as
        receive() has read them), oldest first."""
        reports = list(self._tx_reports)
        self._tx_reports.clear()
        return reports

    def _accept(self, packet: bytes, packet_type: int) -> tuple[radiotap.Radiotap, bytes] | None:
        if packet_type == PACKET_OUTGOING:
            self.stats.own_echo += 1
            return None
        try:
            header = radiotap.parse(packet)
        except radiotap.RadiotapError:
            self.stats.malformed += 1
            return None
        if header.tx_report:
            self.stats.own_echo += 1
            self._note_tx_report(header, packet)
            return None
        if header.flags & radiotap.FLAG_BAD_FCS:
            self.stats.bad_fcs += 1
            return None
        end = len(packet) - 4 if header.flags & radiotap.FLAG_FCS_AT_END else len(packet)
        mpdu = packet[header.length:end]
        if len(mpdu) < MIN_MPDU:
            self.stats.malformed += 1
            return None
        if self.addressed_only and addressed_elsewhere(mpdu, self._mac):
            self.stats.not_addressed += 1
            return None
        return header, mpdu

    def _note_tx_report(self, header: radiotap.Radiotap, packet: bytes) -> None:
        reported = packet[header.length:]
        ra = addr1(reported)
        if header.tx_flags is None or len(ra) < ADDR_LEN or receiver_is_group(reported):
            return  # group-addressed frames are never acknowledged
        if header.tx_flags & radiotap.TX_FLAG_NOACK:
            return
        acked = not header.tx_flags & radiotap.TX_FLAG_FAIL
        if acked:
            self.stats.tx_acked += 1
        else:
            self.stats.tx_failed += 1
        self._tx_reports.append(TxReport(ra, acked, header.rate_100kbps))

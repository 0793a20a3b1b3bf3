"""Drives a MeshNode over any Radio and Clock (meshframes.hosts.base): the
simulated medium, pcap replay, and later the hwsim monitor transport.

The runtime owns what the engines must not: decoding and encoding bytes,
Sequence Control numbering, timers against a clock, the frame layers
between node and air (end-to-end sealing, link security) and the
application callback. A node of a secure mesh brings its own layer
(`MeshNode.rsn`): every frame is sealed after it is encoded and opened
before it is decoded, so the engines decide everything, routing included,
on plaintext frames.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from meshframes.codec import DecodeError, EncodeError, Frame, decode, encode
from meshframes.codec.fastpay import MessageType
from meshframes.codec.header import TYPE_CTRL
from meshframes.codec.mpdu import frame_type, with_sequence_number
from meshframes.hosts.base import Clock, Radio, RxFrame, TxReport
from meshframes.mesh.events import (
    Action,
    CancelTimer,
    Deliver,
    DeliverData,
    Refused,
    SetTimer,
    TimerKey,
    Transmit,
)
from meshframes.mesh.node import MeshNode


@runtime_checkable
class TxStatusRadio(Protocol):
    """A Radio that also reports ACK status (the simulator and the monitor
    transport do; where none is reported, link loss is found by beacon
    loss)."""

    def tx_reports(self) -> list[TxReport]: ...


@dataclass(frozen=True, slots=True)
class Opened:
    """What an end-to-end layer returns for a frame it authenticated: the
    plaintext MPDU and the identity whose seal it carried. The runtime
    hands `sender` to the node beside the frame, so whether a message was
    sealed, and by whom, never rests on a bit anyone can set on the air."""

    mpdu: bytes
    sender: bytes


class FrameLayer(Protocol):
    """A transformation between the node and the air: end-to-end sealing of
    the node's own FastPay frames, per-hop CCMP (`MeshNode.rsn`). `protect`
    gives the MPDU to send or Refused (it needs protection and cannot have
    it: not sent); `unprotect` gives the plaintext MPDU, Opened (an
    end-to-end seal verified) or Refused (bad MIC, replay...). Refusals
    are counted by the node under their reason."""

    def protect(self, mpdu: bytes) -> bytes | Refused: ...

    def unprotect(self, mpdu: bytes) -> bytes | Opened | Refused: ...


DeliverHandler = Callable[[Deliver], None]
DataHandler = Callable[[DeliverData], None]
ActionObserver = Callable[[float, Action], None]


class NodeRuntime:
    def __init__(self, node: MeshNode, radio: Radio, clock: Clock, *,
                 on_deliver: DeliverHandler | None = None, on_data: DataHandler | None = None,
                 layers: Sequence[FrameLayer] = (), observer: ActionObserver | None = None) -> None:
        """`layers` are ordered from the node towards the air; a secure
        mesh's link security (`node.rsn`) comes last, next to the air, so a
        frame is sealed end to end first and per hop second."""
        if radio.mac != node.mac:
            raise ValueError(f"radio {radio.mac.hex(':')} and node {node.mac.hex(':')} differ")
        self.node = node
        self.radio = radio
        self.clock = clock
        self.on_deliver = on_deliver
        self.on_data = on_data
        self.layers: tuple[FrameLayer, ...] = tuple(layers) + ((node.rsn,) if node.rsn is not None else ())
        self.observer = observer
        # Checked once: a runtime-checkable Protocol test is slow per poll.
        self._tx_status = isinstance(radio, TxStatusRadio)
        self._seq = 0
        self._deadlines: dict[TimerKey, float] = {}
        self._heap: list[tuple[float, int, TimerKey]] = []
        self._tick = 0

    # -- public API --------------------------------------------------------

    def start(self) -> None:
        self._apply(self.node.start(self.clock.now()))

    def send_app(self, dst: bytes, payload: bytes, msg_type: int = MessageType.FASTPAY_ORDER,
                 flags: int = 0, reserve: int = 0) -> None:
        self._apply(self.node.send_app(dst, payload, self.clock.now(), msg_type, flags, reserve))

    def send_data(self, dst: bytes, body: bytes) -> None:
        self._apply(self.node.send_data(dst, body, self.clock.now()))

    def close_peer(self, addr: bytes) -> None:
        self._apply(self.node.close_peer(addr, self.clock.now()))

    def follow_link(self, addr: bytes, established: bool) -> None:
        self._apply(self.node.follow_link(addr, established, self.clock.now()))

    def poll(self) -> None:
        """Handle everything that arrived and every timer that is due."""
        now = self.clock.now()
        for rx in self.radio.receive():
            self._receive(rx, now)
        if self._tx_status:
            for report in self.radio.tx_reports():  # type: ignore[attr-defined]
                self._apply(self.node.on_tx_status(report.ra, report.acked, report.rate_100kbps, now))
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, key = heapq.heappop(heap)
            if self._deadlines.get(key) != deadline:
                continue  # re-armed or cancelled since
            del self._deadlines[key]
            self._apply(self.node.on_timer(key, now))

    def next_deadline(self) -> float | None:
        heap = self._heap
        while heap and self._deadlines.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def run(self, until: float, idle: float = 0.001) -> None:
        """Blocking loop for real radios: poll, then sleep until the next
        timer or for `idle` seconds, whichever is sooner."""
        while self.clock.now() < until:
            self.poll()
            deadline = self.next_deadline()
            wait = idle if deadline is None else min(idle, max(0.0, deadline - self.clock.now()))
            time.sleep(wait)

    # -- internals ---------------------------------------------------------

    def _receive(self, rx: RxFrame, now: float) -> None:
        data = rx.data
        sealed_by = None
        for layer in reversed(self.layers):
            plain = layer.unprotect(data)
            if isinstance(plain, Refused):
                self._apply(self.node.refuse(plain.reason, plain.detail))
                return
            if isinstance(plain, Opened):
                sealed_by, plain = plain.sender, plain.mpdu
            data = plain
        try:
            frame = decode(data)
        except DecodeError as exc:
            self._apply(self.node.refuse("malformed", f"{exc.what}: got {exc.got}, expected {exc.expected}"))
            return
        self._apply(self.node.receive(frame, rx, now, sealed_by))

    def _apply(self, actions: list[Action]) -> None:
        now = self.clock.now()
        for action in actions:
            if self.observer is not None:
                self.observer(now, action)
            if isinstance(action, Transmit):
                self._transmit(action.frame)
            elif isinstance(action, SetTimer):
                self._tick += 1
                self._deadlines[action.key] = action.deadline
                heapq.heappush(self._heap, (action.deadline, self._tick, action.key))
            elif isinstance(action, CancelTimer):
                self._deadlines.pop(action.key, None)
            elif isinstance(action, Deliver) and self.on_deliver is not None:
                self.on_deliver(action)
            elif isinstance(action, DeliverData) and self.on_data is not None:
                self.on_data(action)

    def _transmit(self, frame: Frame) -> None:
        try:
            data = encode(frame)
        except EncodeError as exc:
            self._apply(self.node.refuse("unencodable", str(exc)))
            return
        if frame_type(data) != TYPE_CTRL:
            # Sequence Control: one counter for all our frames (9.3.2.11).
            self._seq = (self._seq + 1) & 0xFFF
            data = with_sequence_number(data, self._seq)
        for layer in self.layers:
            sealed = layer.protect(data)
            if isinstance(sealed, Refused):
                self._apply(self.node.refuse(sealed.reason, sealed.detail))
                return
            data = sealed
        self.radio.transmit(data)

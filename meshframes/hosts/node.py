"""The node host: one mesh node on one radio, the application party it runs
(none for a relay), one timer heap and one clock. The simulator, the hwsim
userspace nodes and a node on a real radio all run nodes through it.

The host owns what the engines must not: bytes on the air (decoding and
encoding with the codec, Sequence Control numbering), the byte layers
between node and air (a secure mesh's link security, `MeshNode.rsn`), the
timers of both engines against its clock, and the callbacks through which
people and tests watch. The engines only decide:

    radio --bytes--> layers --bytes--> codec --Frame--> MeshNode
    MeshNode --Deliver--> Party (transport, then FastPay engine)
    Party --SendPayload--> MeshNode --Transmit--> codec --> layers --> radio

Timers of the node and of the party share one heap, each key tagged with
its owner; arming a key again replaces its deadline. That heap, the clock
and the carrying out of the party's actions are `PartyHost`'s, which
`NodeHost` and the mesh transport's `KernelMeshHost`
(meshframes.hosts.kernel_mesh: the kernel's mesh in place of a MeshNode)
both are.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Collection, Sequence
from typing import Protocol, runtime_checkable

from meshframes.app.events import AppAction, Event, SendPayload
from meshframes.app.party import Party
from meshframes.codec import DecodeError, EncodeError, Frame, decode, encode
from meshframes.codec.fastpay import FastPayFragment
from meshframes.codec.header import TYPE_CTRL
from meshframes.codec.mpdu import frame_type, with_sequence_number
from meshframes.mesh.constants import RootMode
from meshframes.mesh.events import (
    Action,
    CancelTimer,
    Deliver,
    DeliverData,
    MeshRefusal,
    PathChanged,
    PathFailed,
    Refused,
    RxFrame,
    SetTimer,
    TimerKey,
    Transmit,
)
from meshframes.mesh.node import MeshNode

from .base import Clock, Radio, TxReport

MESH = "mesh"
APP = "app"


@runtime_checkable
class TxStatusRadio(Protocol):
    """A Radio that also reports ACK status (the simulator and the monitor
    transport do; where none is reported, link loss is found by beacon
    loss)."""

    def tx_reports(self) -> list[TxReport]: ...


class FrameLayer(Protocol):
    """A transformation of MPDU bytes between the node and the air: per-hop
    link security (`MeshNode.rsn`), or a fault injector in a test.
    `protect` gives the MPDU to send or Refused (it needs protection and
    cannot have it: not sent); `unprotect` gives the plaintext MPDU or
    Refused (bad MIC, replay...). Refusals are counted by the node under
    their reason."""

    def protect(self, mpdu: bytes) -> bytes | Refused: ...

    def unprotect(self, mpdu: bytes) -> bytes | Refused: ...


DeliverHandler = Callable[[Deliver], None]
DataHandler = Callable[[DeliverData], None]
ActionObserver = Callable[[float, Action], None]
EventHandler = Callable[[Event], None]
TransmitObserver = Callable[[Frame, bytes], None]
Command = Callable[[float], list[AppAction]]


class PartyHost:
    """What every host does for the application party it runs: one clock,
    one timer heap holding the party's timers and the host's own (each key
    tagged with its owner), the party's actions carried out and its events
    kept. A subclass says where the party's payloads go (`_send_payload`)
    and feeds it what arrives."""

    def __init__(self, mac: bytes, clock: Clock, party: Party | None, on_event: EventHandler | None) -> None:
        if party is not None and party.mac != mac:
            raise ValueError(f"party {party.mac.hex(':')} and node {mac.hex(':')} differ")
        self.mac = mac
        self.clock = clock
        self.party = party
        self.on_event = on_event
        self.events: list[Event] = []
        self._deadlines: dict[tuple[str, TimerKey], float] = {}
        # (deadline, arming order, (owner, key)): the last the very key of
        # `_deadlines`, so checking an entry builds no tuple.
        self._heap: list[tuple[float, int, tuple[str, TimerKey]]] = []
        self._tick = 0

    def start(self) -> None:
        if self.party is not None:
            self._apply_app(self.party.start(self.clock.now()))

    def command(self, command: Command) -> None:
        """Run a command of the party now (`lambda now: party.transfer(...)`)
        and carry out what it returns."""
        self._apply_app(command(self.clock.now()))

    def next_deadline(self) -> float | None:
        heap = self._heap
        deadlines = self._deadlines
        while heap:
            deadline, _, owned = heap[0]
            if deadlines.get(owned) == deadline:
                return deadline
            heapq.heappop(heap)
        return None

    def run(self, until: float, idle: float = 0.001) -> None:
        """Blocking loop for real radios: poll, then sleep until the next
        timer or for `idle` seconds, whichever is sooner."""
        while self.clock.now() < until:
            self.poll()
            deadline = self.next_deadline()
            wait = idle if deadline is None else min(idle, max(0.0, deadline - self.clock.now()))
            time.sleep(wait)

    def poll(self) -> None:
        raise NotImplementedError

    # -- for subclasses -------------------------------------------------------

    def _send_payload(self, destination: bytes, payload: FastPayFragment) -> None:
        raise NotImplementedError

    def _on_own_timer(self, key: TimerKey, now: float) -> None:
        """A timer the host armed under its own owner (not the party's)."""

    def _run_due_timers(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, owned = heapq.heappop(heap)
            if self._deadlines.get(owned) != deadline:
                continue  # re-armed or cancelled since
            del self._deadlines[owned]
            owner, key = owned
            if owner != APP:
                self._on_own_timer(key, now)
            elif self.party is not None:
                self._apply_app(self.party.on_timer(key, now))

    def _arm(self, owner: str, key: TimerKey, deadline: float) -> None:
        self._tick += 1
        owned = (owner, key)
        self._deadlines[owned] = deadline
        heapq.heappush(self._heap, (deadline, self._tick, owned))

    def _deliver_to_party(self, delivery: Deliver, now: float) -> None:
        if self.party is not None:
            self._apply_app(self.party.on_deliver(delivery, now))

    def _apply_app(self, actions: list[AppAction]) -> None:
        for action in actions:
            if isinstance(action, SendPayload):
                self._send_payload(action.destination, action.payload)
            elif isinstance(action, SetTimer):
                self._arm(APP, action.key, max(action.deadline, self.clock.now()))
            else:
                self.events.append(action)
                if self.on_event is not None:
                    self.on_event(action)


class NodeHost(PartyHost):
    def __init__(self, node: MeshNode, radio: Radio, clock: Clock, *, party: Party | None = None,
                 layers: Sequence[FrameLayer] = (), on_deliver: DeliverHandler | None = None,
                 on_data: DataHandler | None = None, on_event: EventHandler | None = None,
                 observer: ActionObserver | None = None, on_transmit: TransmitObserver | None = None,
                 observed: Collection[type] | None = None) -> None:
        """`layers` are ordered from the node towards the air; a secure
        mesh's link security (`node.rsn`) comes last, next to the air.
        `on_deliver` sees every payload the node delivers (before the
        party takes it), `on_event` every event of the party, `observer`
        every action of the node (only those of the types in `observed`,
        when given), `on_transmit` every MPDU handed to the
        radio with the frame it carries."""
        if radio.mac != node.mac:
            raise ValueError(f"radio {radio.mac.hex(':')} and node {node.mac.hex(':')} differ")
        super().__init__(node.mac, clock, party, on_event)
        self.node = node
        self.radio = radio
        self.on_deliver = on_deliver
        self.on_data = on_data
        self.observer = observer
        self.observed = None if observed is None else frozenset(observed)
        self.on_transmit = on_transmit
        self.layers: tuple[FrameLayer, ...] = tuple(layers) + ((node.rsn,) if node.rsn is not None else ())
        # The same layers from the air inwards, the order a received frame takes.
        self._inward = self.layers[::-1]
        # Checked once: a runtime-checkable Protocol test is slow per poll.
        self._reporting: TxStatusRadio | None = radio if isinstance(radio, TxStatusRadio) else None
        self._seq = 0

    # -- commands ------------------------------------------------------------

    def start(self) -> None:
        self._apply(self.node.start(self.clock.now()))
        super().start()

    def send_payload(self, dst: bytes, payload: FastPayFragment) -> None:
        """Put one payload on the mesh towards `dst`, as a party would."""
        self._apply(self.node.send_payload(dst, payload, self.clock.now()))

    def send_data(self, dst: bytes, body: bytes) -> None:
        self._apply(self.node.send_data(dst, body, self.clock.now()))

    def close_peer(self, addr: bytes) -> None:
        self._apply(self.node.close_peer(addr, self.clock.now()))

    def probe(self, addr: bytes) -> None:
        self._apply(self.node.probe(addr, self.clock.now()))

    def set_root_mode(self, mode: RootMode) -> None:
        self._apply(self.node.set_root_mode(mode, self.clock.now()))

    def follow_link(self, addr: bytes, established: bool) -> None:
        self._apply(self.node.follow_link(addr, established, self.clock.now()))

    # -- running -------------------------------------------------------------

    def poll(self) -> None:
        """Handle everything that arrived and every timer that is due."""
        now = self.clock.now()
        for rx in self.radio.receive():
            self._receive(rx, now)
        if self._reporting is not None:
            for report in self._reporting.tx_reports():
                self._apply(self.node.on_tx_status(report.ra, report.acked, report.rate_100kbps, now))
        heap = self._heap
        if heap and heap[0][0] <= now:
            self._run_due_timers(now)

    # -- internals -----------------------------------------------------------

    def _on_own_timer(self, key: TimerKey, now: float) -> None:
        self._apply(self.node.on_timer(key, now))

    def _send_payload(self, destination: bytes, payload: FastPayFragment) -> None:
        self._apply(self.node.send_payload(destination, payload, self.clock.now()))

    def _receive(self, rx: RxFrame, now: float) -> None:
        data = rx.data
        for layer in self._inward:
            plain = layer.unprotect(data)
            if isinstance(plain, Refused):
                self._apply(self.node.unopened(data, plain, now))
                return
            data = plain
        try:
            frame = decode(data)
        except DecodeError as exc:
            self._apply(self.node.refuse(MeshRefusal.MALFORMED, f"{exc.what}: got {exc.got}, expected {exc.expected}"))
            return
        self._apply(self.node.receive(frame, rx, now))

    def _apply(self, actions: list[Action]) -> None:
        if not actions:
            return  # the commonest answer to a frame heard
        now = self.clock.now()
        observer = self.observer
        observed = self.observed
        for action in actions:
            if observer is not None and (observed is None or type(action) in observed):
                observer(now, action)
            if type(action) is Refused:
                continue  # counted by the node; nothing for the host to do
            # The commonest first: this runs for every action of every node.
            if type(action) is Transmit:
                self._transmit(action.frame)
            elif type(action) is SetTimer:
                self._arm(MESH, action.key, action.deadline)
            elif type(action) is PathChanged or type(action) is PathFailed:
                if self.party is not None:
                    reachable = type(action) is PathChanged and action.next_hop is not None
                    self._apply_app(self.party.on_path(action.destination, reachable, now))
            elif isinstance(action, CancelTimer):
                self._deadlines.pop((MESH, action.key), None)
            elif isinstance(action, Deliver):
                if self.on_deliver is not None:
                    self.on_deliver(action)
                self._deliver_to_party(action, now)
            elif isinstance(action, DeliverData) and self.on_data is not None:
                self.on_data(action)

    def _transmit(self, frame: Frame) -> None:
        try:
            data = encode(frame)
        except EncodeError as exc:
            self._apply(self.node.refuse(MeshRefusal.UNENCODABLE, str(exc)))
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
        if self.on_transmit is not None:
            self.on_transmit(frame, data)
        self.radio.transmit(data)


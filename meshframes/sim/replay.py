"""Pcap replay: one node's capture played into our engine.

A capture taken at a mesh node (ns-3 writes one per node; a monitor next to
a radio gives the same) shows what the node heard and what it sent. We give
our MeshNode what it heard, at the capture's times, over the real
NodeHost, and compare what our engine does with what the captured node
did: the next hop of every data frame it sent, the PREQs and RANNs it
forwarded, the PREPs it answered, the destinations its PERRs reported, and
the discoveries it started.

The model takes from the capture only what the captured node showed:
- its links are its own peering frames (a Confirm each way: ESTAB; a
  Close either way: ended), never the beacons it heard, and our FSM opens
  none of its own;
- its ACKed and unACKed transmissions become transmit reports only when
  the capture holds ACKs (ns-3's do; a Linux monitor on hwsim records
  none, and there a missing ACK is no loss);
- a node that sent PERRs group addressed, every one, is run as Linux
  runs: PERRs broadcast, precursors or not;
- a node that sent proactive PREQs is a root in the mode and at the
  interval the capture shows.
A node that sends nothing in the capture is refused (NodeNotInCapture).

The same engine code runs here as on simulated air and on radios; only the
Radio and the Clock differ.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from meshframes.codec import (
    ActionFrame,
    Beacon,
    BlockAckAction,
    ControlFrame,
    DataFrame,
    DecodeError,
    ExtensionFrame,
    Frame,
    ManagementFrame,
    MeshAction,
    MultihopAction,
    SelfProtected,
    VendorAction,
    decode,
    encode,
)
from meshframes.codec.elements import MeshId
from meshframes.codec.header import SUBTYPE_ACK, is_group
from meshframes.codec.pathsel import PREQ_FLAG_PROACTIVE_PREP, Perr, Prep, Preq, Rann
from meshframes.codec.peering import SP_MESH_PEERING_CLOSE, SP_MESH_PEERING_CONFIRM, SP_MESH_PEERING_OPEN
from meshframes.hosts.base import RxFrame, TxReport
from meshframes.hosts.node import NodeHost
from meshframes.hosts.pcap import read_capture, strip_link
from meshframes.mesh.constants import MeshConfig, RootMode
from meshframes.mesh.node import MeshNode
from meshframes.mesh.pathtable import PATH_FORGET_AFTER

_PEERING_ACTIONS = (SP_MESH_PEERING_OPEN, SP_MESH_PEERING_CONFIRM, SP_MESH_PEERING_CLOSE)
_EXTENSION_LEFT_OUT = "extension frame (type 3): no MAC header, not a mesh frame"
# The captures carry no rate; a nominal 6 Mb/s (units of 100 kb/s) keeps the
# airtime metric defined.
_NOMINAL_RATE = 60


class ManualClock:
    """A clock that stands where it is put."""

    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


@dataclass
class ObservedRadio:
    """The replay's radio: frames put in `inbox` are received, and every
    frame the node sends goes to `on_transmit` and is not kept, so a long
    replay holds only what it compares."""

    mac: bytes
    on_transmit: Callable[[bytes], None]
    inbox: list[RxFrame] = field(default_factory=list)
    reports: list[TxReport] = field(default_factory=list)

    def transmit(self, frame: bytes) -> None:
        self.on_transmit(frame)

    def receive(self) -> list[RxFrame]:
        out, self.inbox = self.inbox, []
        return out

    def tx_reports(self) -> list[TxReport]:
        out, self.reports = self.reports, []
        return out


@dataclass
class HwmpBehaviour:
    """What one node did in HWMP, in kind."""

    forwarded_preqs: set[tuple[bytes, bytes]] = field(default_factory=set)
    originated: list[tuple[float, bytes]] = field(default_factory=list)
    preps: set[tuple[bytes, frozenset[bytes]]] = field(default_factory=set)
    perr_destinations: set[bytes] = field(default_factory=set)
    forwarded_ranns: set[bytes] = field(default_factory=set)  # root addresses

    def add(self, t: float, me: bytes, frame: Frame) -> None:
        if not isinstance(frame, MeshAction):
            return
        for element in frame.elements:
            if isinstance(element, Preq):
                for target in element.targets:
                    if element.originator_addr == me:
                        self.originated.append((t, target.addr))
                    else:
                        self.forwarded_preqs.add((element.originator_addr, target.addr))
            elif isinstance(element, Prep):
                self.preps.add((frame.header.addr1, frozenset((element.target_addr, element.originator_addr))))
            elif isinstance(element, Perr):
                self.perr_destinations |= {d.addr for d in element.destinations}
            elif isinstance(element, Rann) and element.root_addr != me:
                self.forwarded_ranns.add(element.root_addr)


# Every decoded frame but the type 3 extension frames (DMG and S1G beacons):
# they have no MAC header and no mesh frame is one, so the replay leaves
# them out (as `Skipped`) where the capture is read.
ReplayFrame = (
    Beacon | SelfProtected | MeshAction | MultihopAction | VendorAction | BlockAckAction | ActionFrame
    | ManagementFrame | DataFrame | ControlFrame
)


class NothingToReplay(ValueError):
    """The capture has no frame the replay can use."""


class NodeNotInCapture(ValueError):
    """The node asked for sends no frame in the capture: there is nothing of
    its own to compare ours with (a recorder, or a MAC mistyped)."""

    def __init__(self, node: bytes, transmitters: dict[bytes, int]) -> None:
        self.node = node
        self.transmitters = transmitters
        named = ", ".join(f"{a.hex(':')} ({n})" for a, n in sorted(transmitters.items(), key=lambda kv: -kv[1]))
        super().__init__(f"{node.hex(':')} sends no frame in this capture, so nothing it did can be compared; "
                         f"transmitters (frames sent): {named or 'none'}")


@dataclass(frozen=True, slots=True)
class Skipped:
    """A captured frame the replay left out, and why."""

    frame: int  # index in the capture, from 0
    reason: str


class JumpKind(enum.Enum):
    """How a capture's clock jumps between two frames."""

    # Further ahead than the node keeps any state (`idle_limit`).
    FORWARD = "forward"
    # Behind the frame before it.
    BACKWARD = "backward"


@dataclass(frozen=True, slots=True)
class ClockJump:
    """Where the capture's clock jumps, and how long the node was let run
    across the jump instead."""

    frame: int  # index in the capture, from 0
    kind: JumpKind
    before: float  # the capture's time of the frame played before it
    after: float  # the capture's time of this frame
    played: float  # seconds the node's clock moved across the jump


def idle_limit(config: MeshConfig) -> float:
    """The longest the node keeps any state with nothing heard: peer
    entries (plink_timeout), expired paths (PATH_FORGET_AFTER), active and
    root paths, the multicast cache, beacon loss; plus one housekeeping
    round to act on the last expiry. After this much silence the node is
    where any longer silence would leave it, but for its periodic timers."""
    return max(config.plink_timeout, PATH_FORGET_AFTER, config.dot11MeshHWMPactivePathTimeout,
               config.dot11MeshHWMPactivePathToRootTimeout, config.dedup_timeout,
               config.beacon_interval * config.beacon_loss_limit) + config.beacon_interval


@dataclass
class Replay:
    node: MeshNode
    # Frames that do not decode or cannot be trusted as captured (bad FCS,
    # cut by the snap length): counted and left out, never fatal.
    skipped: list[Skipped] = field(default_factory=list)
    data_checked: int = 0
    next_hop_mismatches: list[str] = field(default_factory=list)
    captured: HwmpBehaviour = field(default_factory=HwmpBehaviour)
    ours: HwmpBehaviour = field(default_factory=HwmpBehaviour)
    clock_jumps: list[ClockJump] = field(default_factory=list)
    # Whether the capture holds ACKs: only then are the node's unanswered
    # frames transmit failures.
    acks_captured: bool = False
    # Every neighbour the captured node's peering made a link with.
    linked: set[bytes] = field(default_factory=set)


def decoded_frames(path: str | Path) -> tuple[list[tuple[float, ReplayFrame]], list[Skipped]]:
    """(time, frame) of every frame of a capture that decodes and is not an
    extension frame, and the frames left out with their reasons. Raises
    CaptureError where the file itself is damaged."""
    frames, skipped = _indexed_frames(path)
    return [(t, frame) for _, t, frame in frames], skipped


def _indexed_frames(path: str | Path) -> tuple[list[tuple[int, float, ReplayFrame]], list[Skipped]]:
    """`decoded_frames` with each frame's index in the capture."""
    frames: list[tuple[int, float, ReplayFrame]] = []
    skipped: list[Skipped] = []
    for mpdu in strip_link(list(read_capture(path)))[0]:
        if mpdu.problem is not None:
            skipped.append(Skipped(mpdu.index, mpdu.problem))
            continue
        try:
            frame = decode(mpdu.data)
        except DecodeError as exc:
            skipped.append(Skipped(mpdu.index, str(exc)))
            continue
        if isinstance(frame, ExtensionFrame):
            skipped.append(Skipped(mpdu.index, _EXTENSION_LEFT_OUT))
            continue
        frames.append((mpdu.index, mpdu.timestamp, frame))
    return frames, skipped


def transmitters(path: str | Path) -> dict[bytes, int]:
    """Frames sent per transmitter address: who the capture could belong to."""
    return _transmitter_counts(decoded_frames(path)[0])


def _transmitter_counts(frames: list[tuple[float, ReplayFrame]]) -> dict[bytes, int]:
    counts: dict[bytes, int] = {}
    for _, frame in frames:
        if not isinstance(frame, ControlFrame):
            counts[frame.header.addr2] = counts.get(frame.header.addr2, 0) + 1
    return counts


def _root_config(frames: list[tuple[float, ReplayFrame]], me: bytes, config: MeshConfig) -> MeshConfig:
    """A captured node that sent proactive PREQs (14.10.10.3) was a root:
    ours is one too, in the mode its Proactive PREP flag says, at the
    interval the capture shows."""
    sent = {p.originator_sn: (t, p) for t, f in frames
            if isinstance(f, MeshAction) and f.header.addr2 == me and not f.header.retry
            for p in f.elements if isinstance(p, Preq) and p.originator_addr == me
            and is_group(p.targets[0].addr)}
    if not sent:
        return config
    times = sorted(t for t, _ in sent.values())
    # Two PREQs stamped alike say nothing of the interval, and a root
    # interval of 0 would re-arm its timer forever at the same instant.
    gaps = sorted(b - a for a, b in zip(times, times[1:], strict=False) if b > a)
    flags = next(iter(sent.values()))[1].flags
    mode = RootMode.PROACTIVE_PREQ_WITH_PREP if flags & PREQ_FLAG_PROACTIVE_PREP else RootMode.PROACTIVE_PREQ_NO_PREP
    return replace(config, dot11MeshHWMPRootMode=mode,
                   dot11MeshHWMProotInterval=gaps[len(gaps) // 2] if gaps else config.dot11MeshHWMProotInterval)


def _broadcasts_perrs(frames: list[tuple[float, ReplayFrame]], me: bytes) -> bool:
    """Whether the captured node sent its PERRs as Linux does: group
    addressed, every one. A node that sent none, or any individually
    addressed, is taken as sending them to precursors (the standard)."""
    receivers = [f.header.addr1 for _, f in frames if isinstance(f, MeshAction) and f.header.addr2 == me
                 and any(isinstance(e, Perr) for e in f.elements)]
    return bool(receivers) and all(is_group(ra) for ra in receivers)


def replay(path: str | Path, me: bytes, mesh_id: bytes | None = None) -> Replay:
    """Play the capture taken at `me` into our engine (see the module doc).
    Raises NothingToReplay for a capture with no usable frame and
    NodeNotInCapture when `me` sends none of them."""
    indexed, skipped = _indexed_frames(path)
    if not indexed:
        reasons = "; ".join(f"frame {s.frame}: {s.reason}" for s in skipped[:3])
        more = f"; and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        raise NothingToReplay(f"no frames to replay ({len(skipped)} left out: {reasons}{more})"
                              if skipped else "no frames to replay (the capture is empty)")
    frames = [(t, frame) for _, t, frame in indexed]
    sent = _transmitter_counts(frames)
    if me not in sent:
        raise NodeNotInCapture(me, sent)
    if mesh_id is None:
        mesh_id = next((e.mesh_id for _, f in frames if isinstance(f, Beacon)
                        for e in f.elements if isinstance(e, MeshId)), b"meshframes")
    # Our FSM opens no link of its own: links are the captured node's.
    config = replace(_root_config(frames, me, MeshConfig(mesh_id=mesh_id)), auto_open_plinks=False,
                     perr_broadcast=_broadcasts_perrs(frames, me), failed_mpdu_ends_paths=False,
                     close_stale_peers=False, preq_on_new_peer=False, plink_open_on_frames=False,
                     root_preq_to_new_peer=False, probe_unknown_neighbours=False,
                     keep_fail_avg_on_refresh=False)
    acks_captured = any(isinstance(f, ControlFrame) and f.subtype == SUBTYPE_ACK for _, f in frames)
    limit = idle_limit(config)
    clock = ManualClock(0.0)
    node = MeshNode(me, config)
    result = Replay(node=node, skipped=skipped, acks_captured=acks_captured)
    # The capture's time of the node's time 0, moved by every jump, so
    # that what our node sends is reported on the capture's clock.
    offset = indexed[0][1]
    radio = ObservedRadio(me, lambda data: result.ours.add(clock.t + offset, me, decode(data)))
    host = NodeHost(node, radio, clock)
    host.start()
    # {(sequence, RA): acked} of the node's last individually addressed
    # frame (at most one entry). Only a capture that holds ACKs fills it: where a
    # monitor records none (hwsim's radios do not put them on the air), a
    # frame without one says nothing about its delivery.
    inflight: dict[tuple[int, bytes], bool] = {}

    def settle_report() -> None:
        for (_, ra), acked in inflight.items():
            radio.reports.append(TxReport(ra, acked, _NOMINAL_RATE))
        inflight.clear()

    # Links follow the captured node's peering, never beacons (a node hears
    # many it does not peer with): a Confirm each way, each answering the
    # other side's Open (14.3.6), makes the link ESTAB; a Close either way
    # ends it.
    confirms: dict[bytes, set[bool]] = {}

    def follow_peering(frame: SelfProtected, mine: bool) -> None:
        other = frame.header.addr1 if mine else frame.header.addr2
        if frame.action == SP_MESH_PEERING_CLOSE:
            confirms.pop(other, None)
            host.follow_link(other, False)
        elif frame.action == SP_MESH_PEERING_CONFIRM:
            confirms.setdefault(other, set()).add(mine)
            if len(confirms[other]) == 2:
                host.follow_link(other, True)
                result.linked.add(other)

    def advance(t: float) -> None:
        while (deadline := host.next_deadline()) is not None and deadline <= t:
            clock.t = deadline
            host.poll()
        clock.t = t
        host.poll()

    before = indexed[0][1]
    for index, captured_t, frame in indexed:
        gap = captured_t - before
        if gap > limit or gap < 0:
            played = limit if gap > 0 else 0.0
            result.clock_jumps.append(ClockJump(index, JumpKind.FORWARD if gap > 0 else JumpKind.BACKWARD,
                                                before, captured_t, played))
            offset += gap - played
        before = captured_t
        t = captured_t - offset
        advance(t)
        if isinstance(frame, ControlFrame):
            if frame.addr1 == me and frame.subtype == SUBTYPE_ACK and inflight:
                for key in inflight:
                    inflight[key] = True
                settle_report()
            continue
        hdr = frame.header
        peering = frame if isinstance(frame, SelfProtected) and frame.action in _PEERING_ACTIONS else None
        if peering is not None and me in (hdr.addr1, hdr.addr2):
            follow_peering(peering, hdr.addr2 == me)
        if hdr.addr2 != me:
            if peering is None and (hdr.addr1 == me or is_group(hdr.addr1)):
                radio.inbox.append(RxFrame(encode(frame), t, None, _NOMINAL_RATE))
                host.poll()
            continue
        if acks_captured:
            # The node sends its next frame only once the last exchange is
            # over, ACKed or out of retries: a new frame settles the last.
            key = (hdr.sequence_number, hdr.addr1)
            if key not in inflight:
                settle_report()
                if not is_group(hdr.addr1):
                    inflight[key] = False
        if hdr.retry:
            continue
        result.captured.add(captured_t, me, frame)
        # Traffic the captured node originated is handed to ours as it
        # appears: a discovery it starts, or a data frame it sends.
        if isinstance(frame, MeshAction):
            for element in frame.elements:
                if (isinstance(element, Preq) and element.originator_addr == me
                        and node.next_hop(element.targets[0].addr, t) is None):
                    host.send_data(element.targets[0].addr, b"")
        if isinstance(frame, DataFrame) and frame.mesh_control is not None and not is_group(hdr.addr1):
            mesh_da, mesh_sa = hdr.addr3, hdr.addr4
            if mesh_sa == me:
                host.send_data(mesh_da, frame.body)
            result.data_checked += 1
            ours = node.next_hop(mesh_da, t)
            if ours != hdr.addr1:
                result.next_hop_mismatches.append(
                    f"{captured_t:.6f} to {mesh_da.hex(':')}: captured {hdr.addr1.hex(':')}, ours {ours and ours.hex(':')}")
    # Timers the last frame armed for its own instant.
    advance(clock.t)
    return result

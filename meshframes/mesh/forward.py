"""The userspace forwarder (802.11-2020 14.11): moves mesh data frames and
our vendor frames hop by hop along HWMP paths, never reading what they
carry.

- Individually addressed frames go to the path's next hop; without a path
  they wait in a bounded per-destination queue while HWMP discovers one.
- The Mesh TTL is decremented at every hop; a frame whose TTL reaches zero
  is delivered if it is for us (or a group) and never forwarded.
- Group-addressed duplicates are detected per (mesh SA, mesh sequence
  number), as Linux's multicast cache does; individually addressed frames
  are left to the MAC's duplicate detection (the node does it), since ns-3
  leaves their mesh sequence number at 0.
- Group-addressed frames are delivered and rebroadcast once per node. A
  group-addressed frame names its group as mesh DA; one that names a
  single station is refused, neither delivered nor forwarded: individually
  addressed mesh traffic travels in individually addressed frames
  (802.11-2020 Table 9-5: To DS and From DS both set, the four-address
  form, is individually addressed in an MBSS), and Linux drops a
  four-address data frame with a group A1 (ieee80211_rx_mesh_check).
  Delivering it to every node on the way would let any mesh member put a
  frame meant for one station in front of all of them.

Address conventions follow Linux: data to a single destination is
4-address (A3 mesh DA, A4 mesh SA); group data is 3-address with FromDS
(A3 mesh SA); action frames have A3 = A2 and, for us, Mesh Control A5/A6
(mesh DA, mesh SA) as docs/wire-format.md says.
"""

from __future__ import annotations

import random
from collections import OrderedDict, deque
from dataclasses import replace

from meshframes.codec import DataFrame, MacHeader, MeshControl, VendorAction
from meshframes.codec.fastpay import FastPayFragment
from meshframes.codec.frames import CATEGORY_VENDOR, mesh_addresses
from meshframes.codec.header import (
    BROADCAST,
    FC_FROM_DS,
    FC_RETRY,
    FC_TO_DS,
    QOS_MESH_CONTROL_PRESENT,
    SUBTYPE_QOS_DATA,
    TYPE_DATA,
    frame_control,
    is_group,
)
from meshframes.codec.meshctl import AE_A5_A6, AE_NONE
from meshframes.mesh.constants import MeshConfig
from meshframes.mesh.events import Action, Deliver, DeliverData, MeshRefusal, Refused, SetTimer, TimerKey, Transmit
from meshframes.mesh.hwmp import Hwmp
from meshframes.mesh.mbss import UNICAST_DURATION_US, action_header
from meshframes.mesh.pathtable import PathTable

FC_MESH_DATA = frame_control(TYPE_DATA, SUBTYPE_QOS_DATA, FC_TO_DS | FC_FROM_DS)
FC_MESH_GROUP_DATA = frame_control(TYPE_DATA, SUBTYPE_QOS_DATA, FC_FROM_DS)
# QoS Control of group data: Ack Policy "No Ack" (bits 5-6 = 01), as Linux.
QOS_NO_ACK = 0x0020

Relayable = DataFrame | VendorAction
# A relayed frame held for the forwarding delay: ("forward", n).
TIMER_FORWARD = "forward"


class DuplicateCache:
    """Recently seen (mesh SA, mesh sequence number) pairs, for a while."""

    def __init__(self, timeout: float, capacity: int) -> None:
        self.timeout = timeout
        self.capacity = capacity
        self._seen: OrderedDict[tuple[bytes, int], float] = OrderedDict()

    def seen(self, source: bytes, seq: int, now: float) -> bool:
        """True if already seen; otherwise remember it and return False."""
        seen = self._seen
        while seen and (len(seen) >= self.capacity or next(iter(seen.values())) <= now):
            seen.popitem(last=False)
        key = (source, seq)
        if key in seen:
            return True
        seen[key] = now + self.timeout
        return False


def _readdress(frame: Relayable, ra: bytes, ta: bytes, ttl: int | None = None) -> Relayable:
    """The frame as this node transmits it to `ra`."""
    # Built field by field rather than with dataclasses.replace, which
    # costs several times more and runs for every frame a relay sends on.
    hdr = frame.header
    mc = frame.mesh_control
    assert mc is not None
    if ttl is not None:
        mc = mc.with_ttl(ttl)
    fc = hdr.frame_control & ~FC_RETRY
    duration = 0 if is_group(ra) else UNICAST_DURATION_US
    if isinstance(frame, VendorAction):
        return VendorAction(MacHeader(fc, duration, ra, ta, ta, 0, hdr.addr4, hdr.qos_control, hdr.ht_control),
                            frame.category, mc, frame.payload)
    # We set the mesh-control-present bit on relayed frames too, as the
    # standard asks (Linux leaves it clear; decoders handle both).
    return DataFrame(MacHeader(fc, duration, ra, ta, hdr.addr3, 0, hdr.addr4,
                               (hdr.qos_control or 0) | QOS_MESH_CONTROL_PRESENT, hdr.ht_control), mc, frame.body)


def _for_gate(frame: DataFrame, gate: bytes) -> DataFrame:
    """`frame` addressed to `gate` as mesh DA, its own mesh DA and SA moved
    into the Mesh Control's Address Extension (A5 = DA, A6 = SA, 9.2.4.7.3)
    unless it already carries one."""
    mc = frame.mesh_control
    hdr = frame.header
    assert mc is not None and hdr.addr4 is not None
    if mc.ae_mode == AE_NONE:
        mc = MeshControl(AE_A5_A6, mc.ttl, mc.seq, (hdr.addr3, hdr.addr4))
    return replace(frame, header=replace(hdr, addr3=gate), mesh_control=mc)


class Forwarder:
    def __init__(self, mac: bytes, config: MeshConfig, paths: PathTable, hwmp: Hwmp,
                 rng: random.Random) -> None:
        self.mac = mac
        self.config = config
        self.paths = paths
        self.hwmp = hwmp
        self.rng = rng
        self.mesh_seq = 0
        self.dedup = DuplicateCache(config.dedup_timeout, config.dedup_capacity)
        self._pending: dict[bytes, deque[Relayable]] = {}
        # Relayed frames waiting out their forwarding delay, by timer number.
        self._held: dict[int, Relayable] = {}
        self._held_count = 0

    # -- origination ------------------------------------------------------

    def _next_seq(self) -> int:
        self.mesh_seq = (self.mesh_seq + 1) & 0xFFFFFFFF
        return self.mesh_seq

    def originate_vendor(self, dst: bytes, payload: FastPayFragment, now: float) -> list[Action]:
        """One of our vendor frames carrying `payload` to `dst` (or a group)."""
        mc = MeshControl(AE_A5_A6, self.config.dot11MeshTTL, self._next_seq(), (dst, self.mac))
        frame = VendorAction(action_header(dst if is_group(dst) else BROADCAST, self.mac), CATEGORY_VENDOR, mc,
                             payload)
        return self._originate(dst, frame, now)

    def originate_data(self, dst: bytes, body: bytes, now: float) -> list[Action]:
        """A mesh data frame (LLC onwards) to `dst` or a group."""
        mc = MeshControl(AE_NONE, self.config.dot11MeshTTL, self._next_seq())
        if is_group(dst):
            header = MacHeader(FC_MESH_GROUP_DATA, 0, dst, self.mac, self.mac, 0,
                               qos_control=QOS_MESH_CONTROL_PRESENT | QOS_NO_ACK)
        else:
            header = MacHeader(FC_MESH_DATA, UNICAST_DURATION_US, BROADCAST, self.mac, dst, 0,
                               addr4=self.mac, qos_control=QOS_MESH_CONTROL_PRESENT)
        return self._originate(dst, DataFrame(header, mc, body), now)

    def _originate(self, dst: bytes, frame: Relayable, now: float) -> list[Action]:
        if is_group(dst):
            mc = frame.mesh_control
            assert mc is not None
            self.dedup.seen(self.mac, mc.seq, now)
            return [Transmit(frame)]
        next_hop = self.paths.next_hop(dst, now)
        if next_hop is not None:
            self.paths.use(dst)
            return [Transmit(_readdress(frame, next_hop, self.mac))] + self.hwmp.refresh(dst, now)
        queue = self._pending.setdefault(dst, deque())
        actions: list[Action] = []
        if len(queue) >= self.config.frame_queue_len:
            queue.popleft()
            actions.append(Refused(MeshRefusal.FRAME_QUEUE_OVERFLOW, dst.hex(":")))
        queue.append(frame)
        return actions + self.hwmp.resolve(dst, now)

    def path_ready(self, dst: bytes, now: float) -> list[Action]:
        """mesh_path_tx_pending: a path appeared, send what waited for it."""
        queue = self._pending.get(dst)
        if not queue:
            return []
        next_hop = self.paths.next_hop(dst, now)
        if next_hop is None:
            return []
        del self._pending[dst]
        self.paths.use(dst)
        return [Transmit(_readdress(f, next_hop, self.mac)) for f in queue]

    def path_failed(self, dst: bytes, now: float) -> list[Action]:
        """Discovery gave up. The data frames that waited go to every mesh
        gate we hold a path to, as Linux's mesh_path_timer hands them to
        mesh_path_send_to_gates: `dst` may be a station outside the mesh
        that a gate reaches (14.10.12). Each copy names the gate as mesh DA
        and keeps the end-to-end addresses as A5/A6 (prepare_for_gate).
        What no gate can take is dropped (mesh_path_flush_pending): our
        vendor frames, which are for mesh stations only, and everything
        when `dst` is itself a gate or no gate has a path."""
        queue = self._pending.pop(dst, None) or ()
        gates = [] if self.hwmp.gates.is_gate(dst, now) else [
            (gate.addr, hop) for gate in self.hwmp.gates.known(now)
            if (hop := self.paths.next_hop(gate.addr, now)) is not None]
        actions: list[Action] = []
        for frame in queue:
            if not gates or not isinstance(frame, DataFrame):
                actions.append(Refused(MeshRefusal.DISCOVERY_FAILED_FRAME_DROPPED, dst.hex(":")))
                continue
            for gate, next_hop in gates:
                self.paths.use(gate)
                actions.append(Transmit(_readdress(_for_gate(frame, gate), next_hop, self.mac)))
        return actions

    def pending(self, dst: bytes) -> int:
        return len(self._pending.get(dst, ()))

    def waiting_for(self) -> list[bytes]:
        """Destinations with frames queued behind a discovery."""
        return list(self._pending)

    # -- reception --------------------------------------------------------

    def on_frame(self, frame: Relayable, now: float) -> tuple[list[Action], Relayable | None]:
        """Handle a multihop frame from an established peer. Returns the
        actions and, if the frame is for us (or a group), the frame to
        deliver locally."""
        addrs = mesh_addresses(frame)
        mc = frame.mesh_control
        if addrs is None or mc is None:
            return [Refused(MeshRefusal.MESH_CONTROL_MODE_UNSUPPORTED)], None
        mesh_da, mesh_sa = addrs
        if mesh_sa == self.mac:
            return [Refused(MeshRefusal.OWN_FRAME_RETURNED)], None
        group = is_group(frame.header.addr1)
        if group and not is_group(mesh_da):
            return [Refused(MeshRefusal.GROUP_FRAME_UNICAST_MESH_DA, f"{mesh_sa.hex(':')} to {mesh_da.hex(':')}")], None
        if group and self.dedup.seen(mesh_sa, mc.seq, now):
            return [Refused(MeshRefusal.DUPLICATE, f"{mesh_sa.hex(':')} seq {mc.seq}")], None
        if mc.ttl == 0:
            # Linux drops a TTL-0 frame before even looking at who it is for.
            return [Refused(MeshRefusal.TTL_ZERO, f"{mesh_sa.hex(':')} seq {mc.seq}")], None
        if mesh_da == self.mac:
            return [], frame
        local = frame if group else None
        if mc.ttl == 1:
            return [Refused(MeshRefusal.TTL_EXPIRED, f"{mesh_sa.hex(':')} seq {mc.seq}")], local
        if not self.config.dot11MeshForwarding:
            return [], local
        if group:
            return self._relay(_readdress(frame, frame.header.addr1, self.mac, mc.ttl - 1), now), frame
        next_hop = self.paths.next_hop(mesh_da, now)
        if next_hop is None:
            actions = self.hwmp.no_forwarding_information(mesh_da, frame.header.addr2, now)
            return [Refused(MeshRefusal.NO_FORWARDING_INFORMATION, mesh_da.hex(":"))] + actions, None
        self.paths.add_precursor(mesh_da, frame.header.addr2)
        return self._relay(_readdress(frame, next_hop, self.mac, mc.ttl - 1), now), None

    def _relay(self, frame: Relayable, now: float) -> list[Action]:
        """Send a relayed frame on, after the forwarding delay if one is
        configured (the next hop is chosen on arrival, as Linux does)."""
        low, high = self.config.forwarding_delay
        if high <= 0:
            return [Transmit(frame)]
        self._held_count += 1
        self._held[self._held_count] = frame
        return [SetTimer((TIMER_FORWARD, self._held_count), now + self.rng.uniform(low, high))]

    def release(self, key: TimerKey) -> list[Action]:
        """A held frame's forwarding delay is over: send it."""
        frame = self._held.pop(key[1], None) if len(key) == 2 and isinstance(key[1], int) else None
        if frame is None:
            return [Refused(MeshRefusal.UNKNOWN_TIMER, repr(key))]
        return [Transmit(frame)]

    @staticmethod
    def delivery(frame: Relayable) -> Deliver | DeliverData:
        """What a frame for us (or a group) hands up."""
        addrs = mesh_addresses(frame)
        assert addrs is not None
        if isinstance(frame, VendorAction):
            group = is_group(addrs[0]) or is_group(frame.header.addr1)
            return Deliver(addrs[1], addrs[0], frame.payload, group)
        mc = frame.mesh_control
        if mc is not None and mc.ae_mode == AE_A5_A6:
            # Proxied: for a station beyond us, a gate, to pass on outside the mesh.
            return DeliverData(mc.addr_ext[1], mc.addr_ext[0], frame.body, mesh_source=addrs[1])
        return DeliverData(addrs[1], addrs[0], frame.body)

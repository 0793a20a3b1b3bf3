"""One mesh STA, sans-IO: the peer table, peering FSM, path table, HWMP
and forwarder composed behind a small API. Frames (decoded), timer
expiries, transmit reports and application sends go in, with the time;
actions come out (frames to send, timers to set, deliveries, refusals).

Like mac80211's mesh.c it dispatches: self-protected frames to peering,
mesh action frames to HWMP, multihop frames to the forwarder. Every
refusal is returned as a `Refused` action and counted in `counters`.

The payloads of our vendor frames pass through opaque: `send_payload`
puts one in a frame towards its destination, `Deliver` hands one up as it
came. Fragmentation, end-to-end sealing and the application's messages
live above the mesh (meshframes.app.transport).

In a secure mesh (`MeshConfig.passphrase`) the node also has a `MeshRsn`
(`rsn`): peering runs AMPE through it and installs link keys, and the
host seals and opens every frame with its hooks, so HWMP and the
forwarder only ever see decrypted frames.
"""

from __future__ import annotations

import os
import random
from collections import Counter, OrderedDict
from enum import StrEnum

from meshframes.codec import (
    ActionFrame,
    Beacon,
    BlockAckAction,
    ControlFrame,
    DataFrame,
    ExtensionFrame,
    Frame,
    ManagementFrame,
    MeshAction,
    MultihopAction,
    SelfProtected,
    VendorAction,
)
from meshframes.codec.action import CATEGORY_BLOCK_ACK, CATEGORY_MULTIHOP
from meshframes.codec.elements import BeaconTiming, BeaconTimingLayout
from meshframes.codec.fastpay import FastPayFragment
from meshframes.codec.frames import CATEGORY_VENDOR
from meshframes.codec.header import SUBTYPE_AUTHENTICATION, SUBTYPE_PROBE_REQ, SUBTYPE_QOS_NULL, MacHeader, is_group
from meshframes.codec.ie import Element
from meshframes.codec.mpdu import ADDR_LEN, addr2, receiver_is_group
from meshframes.codec.reason import ReasonCode
from meshframes.mesh.constants import MeshConfig, RootMode
from meshframes.mesh.events import (
    Action,
    Authenticated,
    MeshRefusal,
    PathChanged,
    PathFailed,
    PeerChanged,
    Refused,
    RxFrame,
    SetTimer,
    TimerKey,
    Transmit,
)
from meshframes.mesh.forward import TIMER_FORWARD, Forwarder
from meshframes.mesh.hwmp import Hwmp
from meshframes.mesh.mbss import Mbss
from meshframes.mesh.pathtable import MeshPath, PathTable
from meshframes.mesh.peers import Peer, PeerTable, PlinkState
from meshframes.mesh.plink import Peering
from meshframes.mesh.rsn import TIMER_MESH_AUTH, TIMER_SAE, MeshRsn, RandomBytes
from meshframes.seal.hop import GroupOpenings
from meshframes.seal.sae import SharedPwes

TIMER_BEACON = ("beacon",)
TIMER_HOUSEKEEPING = ("housekeeping",)
_HWMP_TIMERS = frozenset(("path", "preq-queue", "perr", "root"))
_ECHO_BIT = 0x80  # Linux returns unwanted unicast action frames with category | 0x80
# Check a peer's silence just after it reaches the limit, never at the same
# instant again (float equality would make the check wait for itself).
_CHECK_SLACK = 1e-6
# Stations we probed lately (MeshConfig.probe_unknown_neighbours): a few
# beacon intervals' worth of new neighbours, the oldest forgotten first.
PROBED_KEPT = 256


class MeshNode:
    def __init__(self, mac: bytes, config: MeshConfig | None = None, *, seed: int = 0,
                 random_bytes: RandomBytes = os.urandom, group_openings: GroupOpenings | None = None,
                 shared_pwes: SharedPwes | None = None) -> None:
        """`seed` drives protocol randomness (link ids, timer jitter, beacon
        phase); `random_bytes` the secrets of a secure mesh (AMPE nonces,
        the MGTK), `os.urandom` except in the simulator; `group_openings`
        the group frames opened lately by the other stations of this
        process (`seal.hop.GroupOpenings`, the simulator's), `shared_pwes`
        the SAE password elements they worked out (`seal.sae.SharedPwes`)."""
        self.mac = mac
        self.config = config = config or MeshConfig()
        self.rng = random.Random(seed)
        self.mbss = Mbss(mac, config)
        self.rsn = MeshRsn(mac, config, random_bytes, group_openings, shared_pwes) if config.secure else None
        self.peers = PeerTable(config.default_rate_100kbps, config.link_fail_threshold)
        self.paths = PathTable()
        self.peering = Peering(self.mbss, config, self.peers, self.rng, self.rsn)
        self.hwmp = Hwmp(mac, config, self.peers, self.paths)
        self.forwarder = Forwarder(mac, config, self.paths, self.hwmp, self.rng)
        self.counters: Counter[str] = Counter()
        self.beacon_elements: tuple[Element, ...] = ()
        # Station -> when we last sent it a Probe Request.
        self._probed: OrderedDict[bytes, float] = OrderedDict()

    # -- inputs ------------------------------------------------------------

    def start(self, now: float) -> list[Action]:
        """Beacon at a random phase (stations do not share a TBTT), then
        housekeeping once per beacon interval."""
        first = now + self.rng.random() * self.config.beacon_interval
        return self._finish([SetTimer(TIMER_BEACON, first),
                             SetTimer(TIMER_HOUSEKEEPING, first + self.config.beacon_interval)]
                            + self.hwmp.start(now), now)

    def receive(self, frame: Frame, rx: RxFrame, now: float) -> list[Action]:
        if isinstance(frame, (ControlFrame, ExtensionFrame)):
            return []
        hdr = frame.header
        if hdr.addr2 == self.mac:
            return []
        peer = self.peers.get(hdr.addr2)
        if hdr.addr1 != self.mac and not is_group(hdr.addr1):
            self.counters[MeshRefusal.NOT_FOR_US] += 1
            if peer is None and self.config.probe_unknown_neighbours and not isinstance(frame, Beacon):
                return self._finish(self._probe_unknown(hdr.addr2, now), now)
            return []
        if peer is not None and hdr.addr1 == self.mac and self._retransmitted(peer, hdr):
            return self._finish([Refused(MeshRefusal.DUPLICATE_RETRANSMISSION, hdr.addr2.hex(":"))], now)
        if peer is not None:
            peer.last_seen = now
            if rx.signal_dbm is not None:
                peer.signal_dbm = rx.signal_dbm
            if rx.rate_100kbps and not is_group(hdr.addr1):
                peer.rx_rate_100kbps = rx.rate_100kbps
        actions = self._dispatch(frame, rx, now)
        if peer is not None and peer.state is PlinkState.IDLE and not isinstance(frame, Beacon | SelfProtected):
            actions += self.peering.heard(peer, now)
        elif peer is None and is_group(hdr.addr1) and not isinstance(frame, Beacon | ManagementFrame):
            # A frame addressed to us alone from a stranger believes in a
            # peering we do not hold: the stale-peer Close answers it.
            actions += self._probe_unknown(hdr.addr2, now)
        return self._finish(actions, now)

    def unopened(self, mpdu: bytes, refusal: Refused, now: float) -> list[Action]:
        """A received MPDU the link security refused (the host's receive
        hook): counted under its reason. One from a station whose beacon we
        never heard, a group frame under an MGTK we were never given,
        tells us of a new neighbour (`_probe_unknown`)."""
        actions: list[Action] = [refusal]
        ta = addr2(mpdu)
        if receiver_is_group(mpdu) and len(ta) == ADDR_LEN and self.peers.get(ta) is None:
            actions += self._probe_unknown(ta, now)
        return self._finish(actions, now)

    def _probe_unknown(self, ta: bytes, now: float) -> list[Action]:
        """A mesh frame from a station whose beacon we never heard: it is
        in range now, and its next beacon may be a beacon interval away. A
        Probe Request to it brings its Probe Response, which does what its
        beacon would (SAE, then peering), as mac80211 takes a mesh Probe
        Response like a beacon (mesh_rx_bcn_presp) and answers a mesh Probe
        Request (ieee80211_mesh_rx_probe_req). At most one per station per
        beacon interval. Ours (MeshConfig.probe_unknown_neighbours): Linux's
        mesh waits for the beacon."""
        if not self.config.probe_unknown_neighbours or is_group(ta):
            return []
        last = self._probed.get(ta)
        if last is not None and now - last < self.config.beacon_interval:
            return []
        self._probed[ta] = now
        self._probed.move_to_end(ta)
        if len(self._probed) > PROBED_KEPT:
            self._probed.popitem(last=False)
        return [Transmit(self.mbss.probe_request(ta))]

    def _dispatch(self, frame: Frame, rx: RxFrame, now: float) -> list[Action]:
        if type(frame) is MeshAction:  # most of what a large mesh hears: HWMP
            return self.hwmp.on_frame(frame, now) + self._from_stale_peer(frame.header, now)
        if isinstance(frame, Beacon):
            return self._on_beacon(frame, rx, now)
        if isinstance(frame, SelfProtected):
            if frame.peering is not None and frame.peering.is_ns3_draft:
                self._note_draft(frame.header.addr2)
            return self.peering.on_frame(frame, now)
        if isinstance(frame, (VendorAction, DataFrame)):
            return self._on_multihop(frame, now)
        if isinstance(frame, BlockAckAction):
            # We never aggregate, so no Block Ack agreement is ours to set up
            # or tear down: as for any category we do not handle.
            return [Refused(MeshRefusal.ACTION_CATEGORY_UNSUPPORTED, str(CATEGORY_BLOCK_ACK))]
        if isinstance(frame, MultihopAction):
            # Proxy Updates tell a gate which external addresses a proxy
            # serves; proxies are learnt from mesh data's A5/A6 instead, as
            # Linux does (mpp_path_add; mac80211 handles no category 14).
            return [Refused(MeshRefusal.ACTION_CATEGORY_UNSUPPORTED, str(CATEGORY_MULTIHOP))]
        if isinstance(frame, ActionFrame):
            if frame.category == CATEGORY_VENDOR | _ECHO_BIT:
                return [Refused(MeshRefusal.ACTION_RETURNED_BY_PEER, "category 255 echo of our frame")]
            return [Refused(MeshRefusal.ACTION_CATEGORY_UNSUPPORTED, str(frame.category))]
        assert isinstance(frame, ManagementFrame)
        if frame.header.protected:
            return [Refused(MeshRefusal.PROTECTED_FRAME_NOT_UNSEALED)]
        if frame.header.subtype == SUBTYPE_AUTHENTICATION and self.rsn is not None and frame.header.addr1 == self.mac:
            return self.rsn.on_authentication(frame, now)
        if frame.header.subtype == SUBTYPE_PROBE_REQ:
            return self._on_probe_request(frame, now)
        return [Refused(MeshRefusal.MANAGEMENT_SUBTYPE_UNSUPPORTED, str(frame.header.subtype))]

    def on_timer(self, key: TimerKey, now: float) -> list[Action]:
        kind = key[0]
        if key == TIMER_BEACON:
            beacon = self.mbss.beacon(now, self.peers.established_count, self.beacon_elements)
            actions: list[Action] = [Transmit(beacon),
                                     SetTimer(TIMER_BEACON, now + self.config.beacon_interval)]
        elif key == TIMER_HOUSEKEEPING:
            actions = self._housekeeping(now)
        elif kind == "plink":
            peer = key[1]
            assert isinstance(peer, bytes)
            actions = self.peering.on_timer(peer, now)
        elif kind in (TIMER_SAE, TIMER_MESH_AUTH) and self.rsn is not None:
            peer = key[1]
            assert isinstance(peer, bytes)
            on_timer = self.rsn.on_sae_timer if kind == TIMER_SAE else self.rsn.on_mesh_auth_timer
            actions = on_timer(peer, now)
        elif kind in _HWMP_TIMERS:
            actions = self.hwmp.on_timer(key, now)
        elif kind == TIMER_FORWARD:
            actions = self.forwarder.release(key)
        else:
            actions = [Refused(MeshRefusal.UNKNOWN_TIMER, repr(key))]
        return self._finish(actions, now)

    def on_tx_status(self, ra: bytes, acked: bool, rate_100kbps: int | None, now: float) -> list[Action]:
        """A transmit report for an individually addressed frame (after the
        MAC's retries); Linux's fail_avg logic decides when a link broke."""
        peer = self.peers.get(ra)
        if peer is None or peer.state is not PlinkState.ESTAB:
            return []
        if self.peers.record_tx(peer, acked, rate_100kbps):
            return self._finish([Refused(MeshRefusal.LINK_BROKEN_TX_FAILURES, ra.hex(":"))]
                                + self.hwmp.link_broken(ra, now), now)
        if not self.config.failed_mpdu_ends_paths:
            return []
        if not acked:
            # Until the peer would be lost to beacon loss anyway.
            peer.failed_until = now + self.config.beacon_loss_limit * (peer.beacon_interval
                                                                      or self.config.beacon_interval)
        elif peer.failed_until > now:
            peer.failed_until = float("-inf")
        if not acked and self.paths.via(ra):
            # Linux waits for the failure average to pass its threshold
            # (about twenty lost MPDUs) before it drops the paths through a
            # peer; a walking neighbour takes every frame sent its way
            # meanwhile. One MPDU that failed all the MAC's retries ends
            # the paths through that next hop (PERR to their precursors,
            # the peering left to beacon loss), so the next frame for
            # them starts a discovery instead of following it away.
            return self._finish([Refused(MeshRefusal.PATHS_LOST_TX_FAILED, ra.hex(":"))]
                                + self.hwmp.link_broken(ra, now), now)
        return []

    def send_payload(self, dst: bytes, payload: FastPayFragment, now: float) -> list[Action]:
        """Carry `payload` to a mesh STA (or a group) in one of our
        category-127 frames; it comes out as `Deliver` at the other end."""
        return self._finish(self.forwarder.originate_vendor(dst, payload, now), now)

    def send_data(self, dst: bytes, body: bytes, now: float) -> list[Action]:
        """Send a mesh data frame carrying `body` (LLC onwards)."""
        return self._finish(self.forwarder.originate_data(dst, body, now), now)

    def close_peer(self, addr: bytes, now: float) -> list[Action]:
        return self._finish(self.peering.cancel(addr, now), now)

    def probe(self, addr: bytes, now: float) -> list[Action]:
        """Send `addr` the Probe Request a station whose beacon we never
        heard gets (`_probe_unknown`), under the same limit of one per
        station per beacon interval."""
        return self._finish(self._probe_unknown(addr, now), now)

    def follow_link(self, addr: bytes, established: bool, now: float) -> list[Action]:
        """Put the link to addr in ESTAB or IDLE without the peering FSM, as
        a replayed capture shows the captured node's link: the replay tests
        path selection on the links that node had. A link that ends is
        taken as broken (PERR for the paths through it, as ns-3 and Linux's
        mesh_plink_broken send), then its paths are flushed."""
        peer = self.peers.add(addr)
        if peer is None:
            return self.refuse(MeshRefusal.PEER_TABLE_FULL, addr.hex(":"))
        new = PlinkState.ESTAB if established else PlinkState.IDLE
        if peer.state is new:
            return []
        old = peer.state
        broken = self.hwmp.link_broken(addr, now) if old is PlinkState.ESTAB else []
        self.peers.set_state(peer, new)
        peer.last_seen = now
        return self._finish(broken + [PeerChanged(addr, old.value, "replay", new.value)], now)

    def set_root_mode(self, mode: RootMode, now: float) -> list[Action]:
        """Change dot11MeshHWMPRootMode on the running node, as setting
        Linux's mesh_hwmp_rootmode does: a proactive mode announces at once."""
        return self._finish(self.hwmp.set_root_mode(mode, now), now)

    def refuse(self, reason: StrEnum, detail: str = "") -> list[Action]:
        """Count a refusal decided outside the engines (e.g. undecodable bytes)."""
        self.counters[reason] += 1
        return [Refused(reason, detail)]

    # -- queries -----------------------------------------------------------

    def next_hop(self, dst: bytes, now: float) -> bytes | None:
        return self.paths.next_hop(dst, now)

    def path(self, dst: bytes) -> MeshPath | None:
        return self.paths.lookup(dst)

    def peer_state(self, addr: bytes) -> PlinkState | None:
        peer = self.peers.get(addr)
        return peer.state if peer is not None else None

    # -- internals ---------------------------------------------------------

    @staticmethod
    def _retransmitted(peer: Peer, hdr: MacHeader) -> bool:
        """802.11-2020 10.3.2.14: an individually addressed frame with Retry
        set and the Sequence Control we last took from that transmitter
        (per TID) is a duplicate whose ACK was lost. Kept per peer table
        entry, as Linux keeps it per station: a transmitter with no entry
        (any made-up address) costs no memory."""
        tid = hdr.qos_control & 0xF if hdr.qos_control is not None else 16
        last = peer.last_seq_ctrl.get(tid)
        peer.last_seq_ctrl[tid] = hdr.seq_ctrl
        return hdr.retry and last == hdr.seq_ctrl

    def _on_beacon(self, beacon: Beacon, rx: RxFrame, now: float) -> list[Action]:
        peer = self.peers.get(beacon.header.addr2)
        if peer is not None:
            # Liveness is judged against the peer's own beacon interval, even
            # from beacons (ns-3's) that lack a Mesh Configuration.
            peer.last_seen = now
            peer.beacon_interval = beacon.beacon_interval * 1024e-6
            if any(isinstance(e, BeaconTiming) and e.layout is BeaconTimingLayout.NS3_DRAFT
                   for e in beacon.elements):
                peer.speaks_draft = True
        return self.peering.on_beacon(beacon, rx, now)

    def _on_probe_request(self, request: ManagementFrame, now: float) -> list[Action]:
        """ieee80211_mesh_rx_probe_req: a Probe Request for our mesh gets a
        Probe Response, our beacon's body addressed to the asker."""
        if not self.mbss.probe_is_for_us(request):
            return [Refused(MeshRefusal.PROBE_FOR_ANOTHER_MESH, request.header.addr2.hex(":"))]
        return [Transmit(self.mbss.beacon(now, self.peers.established_count, self.beacon_elements,
                                          probed_by=request.header.addr2))]

    def _from_stale_peer(self, hdr: MacHeader, now: float) -> list[Action]:
        """A frame addressed to us alone from a station we are not peered
        with: it believes it is peered with us (see Peering.stale_peer)."""
        if hdr.addr1 != self.mac or self.peers.is_established(hdr.addr2):
            return []
        return self.peering.stale_peer(hdr.addr2, now)

    def _note_draft(self, addr: bytes) -> None:
        peer = self.peers.get(addr)
        if peer is not None:
            peer.speaks_draft = True

    def _on_multihop(self, frame: VendorAction | DataFrame, now: float) -> list[Action]:
        if isinstance(frame, DataFrame) and frame.mesh_control is None:
            if frame.header.subtype == SUBTYPE_QOS_NULL:
                return []
            return [Refused(MeshRefusal.DATA_WITHOUT_MESH_CONTROL)]
        if not self.peers.is_established(frame.header.addr2):
            return ([Refused(MeshRefusal.FRAME_FROM_NON_PEER, frame.header.addr2.hex(":"))]
                    + self._from_stale_peer(frame.header, now))
        actions, local = self.forwarder.on_frame(frame, now)
        if local is not None:
            actions.append(self.forwarder.delivery(local))
        return actions

    def _housekeeping(self, now: float) -> list[Action]:
        """Peers unheard for beacon_loss_limit of their beacon intervals are
        lost (PERR for paths through them, then a Close); entries never
        established and silent for plink_timeout and old paths are
        forgotten. Runs once per beacon interval, and
        also right when a peer's silence would reach the limit."""
        cfg = self.config
        due = now + cfg.beacon_interval
        actions: list[Action] = []
        for peer in self.peers.established():
            silence = cfg.beacon_loss_limit * (peer.beacon_interval or cfg.beacon_interval)
            if now - peer.last_seen >= silence:
                actions.append(Refused(MeshRefusal.PEER_BEACON_LOSS, peer.addr.hex(":")))
                actions += self.hwmp.link_broken(peer.addr, now)
                actions += self.peering.cancel(peer.addr, now, ReasonCode.MESH_PEERING_CANCELLED)
            else:
                due = min(due, peer.last_seen + silence + _CHECK_SLACK)
        actions.append(SetTimer(TIMER_HOUSEKEEPING, due))
        for addr in self.peers.expire(now - cfg.plink_timeout):
            actions.append(Refused(MeshRefusal.PEER_EXPIRED, addr.hex(":")))
            if self.rsn is not None:
                self.rsn.forget(addr)
        self.paths.expire(now)
        return actions

    def _finish(self, actions: list[Action], now: float) -> list[Action]:
        """Count refusals and let engines react to each other's results:
        a link leaving ESTAB flushes its paths, one reaching it sends the
        next PREQ of every discovery frames wait on, a new path releases the
        frames queued for it, a failed discovery hands them to the gates or
        drops them."""
        # Reactions join the end of the list the loop is walking, so the
        # list ends as every action in the order it was handled.
        work = list(actions)
        for action in work:
            # Exact types: events are never subclassed, and this sees every
            # action the node returns.
            if type(action) is Transmit or type(action) is SetTimer:
                continue
            if type(action) is Refused:
                self.counters[action.reason] += 1
            elif type(action) is PathChanged:
                if action.next_hop is not None:
                    work += self.forwarder.path_ready(action.destination, now)
            elif isinstance(action, PeerChanged):
                if action.old == PlinkState.ESTAB.value and action.new != PlinkState.ESTAB.value:
                    work += self.hwmp.flush_peer(action.peer)
                elif action.new == PlinkState.ESTAB.value and action.old != PlinkState.ESTAB.value:
                    for dst in self.forwarder.waiting_for():
                        work += self.hwmp.rediscover(dst, now)
                    work += self.hwmp.root_preqs_for(action.peer, now)
            elif isinstance(action, Authenticated):
                work += self.peering.authenticated(action.peer, now)
            elif isinstance(action, PathFailed):
                work += self.forwarder.path_failed(action.destination, now)
        return work

"""HWMP path selection (802.11-2020 14.10), on-demand and proactive, after
mac80211's mesh_hwmp.c.

Freshness first, then metric: a path is replaced by one with a newer
originator sequence number, or with the same number and a metric at
least 10% better (Linux's hysteresis; any strictly better metric counts
when the next hop stays the same). `_route_info_get` is the one place
that writes routing information into the path table.

Departures from Linux, each on purpose:
- PREQs with several targets (the standard allows 20) are processed per
  target; Linux drops any PREQ that is not exactly 37 bytes.
- PERRs go to the precursors of the broken paths (14.10.11.4.2; ns-3 does
  the same), individually addressed to one or group addressed to several,
  and not at all when no precursor is left; Linux always broadcasts
  (`MeshConfig.perr_broadcast` does as Linux). Both are accepted by every
  implementation.
- PERRs are processed even with TTL 0 or 1 (only not propagated), as the
  standard says; ns-3 sends them with TTL 0.
- A PERR that the rate limit holds back is queued, not dropped (Linux
  drops it: mesh_path_error_tx returns -EAGAIN), in a bounded queue with
  one entry per (receiver, destination), the latest news winning; when
  the queue is full the new PERR is dropped and counted, as Linux would.
- A PREP whose two addresses are in the ns-3 draft order (the PREQ
  originator first) is recognised from the reverse path its PREQ built.
- Each transmitter has a budget of new paths (a token bucket: a burst of
  NEW_PATH_BURST, refilled at NEW_PATHS_PER_SECOND). A PREQ or PREP that
  teaches a new path, or re-teaches one learned over budget, while its
  transmitter is over budget is still learned, but marked as flood so a
  full path table evicts it first (pathtable.py), and such a PREQ is not
  forwarded. Linux has no such bound (mesh_hwmp.c only rate-limits the
  PREQs a node originates): there a PREQ flood from one peer with made-up
  originators fills the table, refuses every real new path and is
  rebroadcast by every node. Refreshes of paths already known are never
  charged, so real traffic through a busy neighbour is not slowed.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable

from meshframes.codec import MeshAction
from meshframes.codec.action import MESH_ACTION_GATE_ANNOUNCEMENT, MESH_ACTION_HWMP_PATH_SELECTION
from meshframes.codec.header import BROADCAST, MacHeader, is_group
from meshframes.codec.pathsel import (
    HWMP_FLAG_AE,
    PREQ_FLAG_GATE_ANNOUNCEMENT,
    PREQ_FLAG_PROACTIVE_PREP,
    RANN_FLAG_GATE,
    TARGET_FLAG_TO,
    TARGET_FLAG_USN,
    Gann,
    Perr,
    PerrDestination,
    Prep,
    Preq,
    PreqTarget,
    Rann,
)
from meshframes.codec.reason import ReasonCode
from meshframes.mesh.constants import TU, MeshConfig, RootMode, to_tu
from meshframes.mesh.events import (
    Action,
    CancelTimer,
    MeshRefusal,
    PathChanged,
    PathFailed,
    Refused,
    SetTimer,
    Transmit,
)
from meshframes.mesh.gates import GateSource, GateTable
from meshframes.mesh.mbss import action_header, path_selection
from meshframes.mesh.metric import MAX_METRIC, add_metric
from meshframes.mesh.pathtable import MeshPath, PathFlags, PathTable
from meshframes.mesh.peers import PeerTable
from meshframes.mesh.seqnum import sn_delta, sn_gt, sn_lt, sn_next

MAX_PREQ_QUEUE_LEN = 64  # Linux
# Ours (Linux keeps no PERR queue): as many as the PREQ queue. Drained at
# one per dot11MeshHWMPperrMinInterval, a full queue is 6.4 s of PERRs.
MAX_PERR_QUEUE_LEN = 64
MAX_SANE_SN_DELTA = 32  # Linux: a bigger jump means the peer restarted
# Roots whose last proactive PREQ is kept for peers that form (a mesh has
# a handful of roots; the oldest heard goes first).
MAX_ROOT_PREQS_KEPT = 16
_PREQS_REMEMBERED = 1024
# Per transmitter: new paths taught at once, and per second after that. A
# neighbour sees a few new originators a second as stations join; a burst
# covers a whole mesh starting at once.
NEW_PATH_BURST = 64
NEW_PATHS_PER_SECOND = 16.0

# Linux's PREQ queue flags.
PREQ_Q_F_START = 0x1
PREQ_Q_F_REFRESH = 0x2

TIMER_PREQ_QUEUE = ("preq-queue",)
TIMER_PERR = ("perr",)
TIMER_ROOT = ("root",)


def is_metric_better(x: int, y: int) -> bool:
    """x at least 10% better than y (Linux is_metric_better)."""
    return x < y and x < y - x // 10


class Hwmp:
    def __init__(self, mac: bytes, config: MeshConfig, peers: PeerTable, paths: PathTable) -> None:
        self.mac = mac
        self.config = config
        self.peers = peers
        self.paths = paths
        self.sn = 0
        self.preq_id = 0
        self.last_sn_update = float("-inf")
        self.last_preq = float("-inf")
        self.next_perr = float("-inf")
        self._preq_queue: deque[tuple[bytes, int]] = deque()
        # (receiver, destination) -> (TTL, PERR destination), oldest first.
        self._perr_queue: OrderedDict[tuple[bytes, bytes], tuple[int, PerrDestination]] = OrderedDict()
        # (PREQ originator, target) -> until when we remember forwarding it.
        self._preqs_seen: OrderedDict[tuple[bytes, bytes], float] = OrderedDict()
        # Transmitter -> (new-path tokens left, when counted); one entry per
        # established peer (HWMP takes frames from no one else).
        self._new_path_budget: dict[bytes, tuple[float, float]] = {}
        # Root -> the last proactive PREQ of that root we sent on (our own,
        # as a root): what a peer link that forms is given at once.
        self._root_preqs: OrderedDict[bytes, Preq] = OrderedDict()
        self.gates = GateTable()
        # The configured mode until `set_root_mode` changes it, as Linux's
        # mesh_hwmp_rootmode parameter does on a running interface.
        self.root_mode = config.dot11MeshHWMPRootMode

    # -- input ------------------------------------------------------------

    def on_frame(self, frame: MeshAction, now: float) -> list[Action]:
        if frame.action not in (MESH_ACTION_HWMP_PATH_SELECTION, MESH_ACTION_GATE_ANNOUNCEMENT):
            return [Refused(MeshRefusal.MESH_ACTION_UNSUPPORTED, str(frame.action))]
        if not self.peers.is_established(frame.header.addr2):
            return [Refused(MeshRefusal.HWMP_FROM_NON_PEER, frame.header.addr2.hex(":"))]
        actions: list[Action] = []
        for element in frame.elements:
            if isinstance(element, Gann) and frame.action == MESH_ACTION_GATE_ANNOUNCEMENT:
                actions += self._on_gann(frame.header, element, now)
            elif frame.action == MESH_ACTION_GATE_ANNOUNCEMENT:
                actions.append(Refused(MeshRefusal.HWMP_ELEMENT_UNSUPPORTED, str(element.element_id)))
            elif isinstance(element, Preq):
                actions += self._on_preq(frame.header, element, now)
            elif isinstance(element, Prep):
                actions += self._on_prep(frame.header, element, now)
            elif isinstance(element, Perr):
                actions += self._on_perr(frame.header, element, now)
            elif isinstance(element, Rann):
                actions += self._on_rann(frame.header, element, now)
            else:
                actions.append(Refused(MeshRefusal.HWMP_ELEMENT_UNSUPPORTED, str(element.element_id)))
        return actions

    def on_timer(self, key: tuple, now: float) -> list[Action]:
        if key == TIMER_PREQ_QUEUE:
            return self._start_discovery(now)
        if key == TIMER_PERR:
            return self._drain_perr(now)
        if key == TIMER_ROOT:
            return self._root_frame(now)
        if key[0] == "path":
            return self._path_timer(key[1], now)
        return []

    def start(self, now: float) -> list[Action]:
        if self.root_mode is RootMode.NO_ROOT:
            return []
        return [SetTimer(TIMER_ROOT, now)]

    def set_root_mode(self, mode: RootMode, now: float) -> list[Action]:
        """ieee80211_mesh_root_setup, run when the root mode changes on a
        running mesh: a proactive mode sends its first root frame at once
        and then every interval; no root mode stops the timer."""
        self.root_mode = mode
        if mode is RootMode.NO_ROOT:
            return [CancelTimer(TIMER_ROOT)]
        return [SetTimer(TIMER_ROOT, now)]

    # -- services for the forwarder and the node -------------------------

    def resolve(self, dst: bytes, now: float) -> list[Action]:
        """mesh_nexthop_resolve: no usable path to dst, start discovering."""
        path = self._lookup(dst, now) or self.paths.add(dst, now)
        if path is None:
            return [Refused(MeshRefusal.PATH_TABLE_FULL, dst.hex(":"))]
        if path.flags & PathFlags.RESOLVING:
            return []
        return self._queue_preq(path, PREQ_Q_F_START, now)

    def refresh(self, dst: bytes, now: float) -> list[Action]:
        """mesh_path_refresh: a path we originate traffic on and that expires
        within path_refresh_time is rediscovered before it lapses."""
        path = self.paths.lookup(dst)
        if path is None or path.flags & (PathFlags.REQ_QUEUED | PathFlags.FIXED | PathFlags.RESOLVING):
            return []
        if now > path.exp_time - self.config.path_refresh_time:
            return self._queue_preq(path, PREQ_Q_F_START | PREQ_Q_F_REFRESH, now)
        return []

    def rediscover(self, dst: bytes, now: float) -> list[Action]:
        """A peer link just formed and may lead to `dst`, whose discovery
        sits on its retry timer (up to 1.6 s at the fourth retry): its
        next PREQ leaves now instead, through the PREQ queue and its
        dot11MeshHWMPpreqMinInterval, the retry count unchanged. Ours:
        Linux waits for the timer."""
        path = self.paths.lookup(dst)
        if (not self.config.preq_on_new_peer or path is None or not path.flags & PathFlags.RESOLVING
                or path.flags & (PathFlags.RESOLVED | PathFlags.REQ_QUEUED)):
            return []
        return self._queue_preq(path, 0, now)

    def link_broken(self, peer: bytes, now: float) -> list[Action]:
        """mesh_plink_broken: every active path through a silently vanished
        peer becomes inactive with its SN raised, and a PERR tells the
        precursors of those paths."""
        actions: list[Action] = []
        broken = [p for p in self.paths.via(peer) if not p.flags & PathFlags.FIXED]
        for path in broken:
            self.paths.deactivate(path, sn_next(path.sn))
            actions.append(PathChanged(path.dst, None, path.metric, path.sn, path.hop_count))
        dests = [PerrDestination(0, p.dst, p.sn, ReasonCode.MESH_PATH_ERROR_DESTINATION_UNREACHABLE)
                 for p in broken]
        return actions + self._perr_to_precursors(broken, dests, self.config.element_ttl, peer, now)

    def _perr_to_precursors(self, paths: list[MeshPath], dests: list[PerrDestination], ttl: int,
                            exclude: bytes, now: float) -> list[Action]:
        if not dests:
            return []
        if self.config.perr_broadcast:
            return self._queue_perr(BROADCAST, ttl, dests, now)
        receivers = list(dict.fromkeys(
            p for path in paths for p in path.precursors if p != exclude and self.peers.is_established(p)))
        if not receivers:
            return [Refused(MeshRefusal.PERR_NO_PRECURSOR, ",".join(d.addr.hex(":") for d in dests))]
        ra = receivers[0] if len(receivers) == 1 else BROADCAST
        return self._queue_perr(ra, ttl, dests, now)

    def no_forwarding_information(self, dst: bytes, ta: bytes, now: float) -> list[Action]:
        """A frame to forward and no path: PERR to the transmitter (Linux
        ieee80211_rx_h_mesh_fwding), SN unknown (0)."""
        dest = PerrDestination(0, dst, 0, ReasonCode.MESH_PATH_ERROR_NO_FORWARDING_INFORMATION)
        return self._queue_perr(ta, self.config.element_ttl, [dest], now)

    def flush_peer(self, peer: bytes) -> list[Action]:
        """The peering left ESTAB: forget paths through it (no PERR, as Linux)."""
        self._new_path_budget.pop(peer, None)
        return [PathChanged(dst, None, MAX_METRIC, 0, 0) for dst in self.paths.flush_by_next_hop(peer)]

    # -- route update: the single writer ----------------------------------

    def _lookup(self, dst: bytes, now: float) -> MeshPath | None:
        """mpath_lookup: an expired active path is deactivated on sight."""
        path = self.paths.lookup(dst)
        if (path is not None and path.flags & PathFlags.ACTIVE and now >= path.exp_time
                and not path.flags & PathFlags.FIXED):
            path.flags &= ~PathFlags.ACTIVE
        return path

    def _route_info_get(self, ta: bytes, orig: bytes, orig_sn: int, lifetime_tu: int, orig_metric: int,
                        hop_count: int, now: float, out: list[Action]) -> int | None:
        """hwmp_route_info_get: update the paths to the originator of a PREQ
        (or the target of a PREP) and to the transmitter. Returns the
        metric to the originator through us, or None to stop processing."""
        if self.peers.failed(ta, now):
            out.append(Refused(MeshRefusal.HWMP_VIA_FAILED_LINK, ta.hex(":")))
            return None
        last_hop = self.peers.metric(ta)
        new_metric = add_metric(orig_metric, last_hop)
        exp_time = now + lifetime_tu * TU
        process = True
        if orig == self.mac:
            process = False
        else:
            path = self._lookup(orig, now)
            fresh = True
            flood = (path is None or path.from_flood) and not self._charge_new_path(ta, now)
            if path is None:
                path = self.paths.add(orig, now)
                if path is None:
                    out.append(Refused(MeshRefusal.PATH_TABLE_FULL, orig.hex(":")))
                    return None
            elif path.flags & PathFlags.FIXED:
                fresh = False
            elif path.flags & PathFlags.ACTIVE and path.flags & PathFlags.SN_VALID:
                if sn_gt(path.sn, orig_sn):
                    fresh = False
                    out.append(Refused(MeshRefusal.HWMP_STALE_SN, f"{orig.hex(':')} sn {orig_sn} < {path.sn}"))
                elif path.sn == orig_sn and (not is_metric_better(new_metric, path.metric)
                                             if path.next_hop != ta else new_metric >= path.metric):
                    fresh = False
                    out.append(Refused(MeshRefusal.HWMP_NO_BETTER_METRIC))
            elif not path.flags & PathFlags.ACTIVE and path.flags & PathFlags.SN_VALID:
                newer = sn_gt(orig_sn, path.sn)
                bounced = sn_delta(orig_sn, path.sn) > MAX_SANE_SN_DELTA
                if not (newer or bounced):
                    fresh = False
                    out.append(Refused(MeshRefusal.HWMP_STALE_SN, f"{orig.hex(':')} sn {orig_sn} vs {path.sn}"))
            process = fresh
            if fresh:
                self.paths.learn(path, ta, orig_sn, new_metric, hop_count + 1, exp_time, from_flood=flood)
                self._peer_refreshed(ta)
                out.append(PathChanged(orig, ta, new_metric, orig_sn, hop_count + 1))
        if orig != ta:
            path = self._lookup(ta, now)
            fresh = True
            if path is None:
                path = self.paths.add(ta, now)
                fresh = path is not None
            elif path.flags & PathFlags.FIXED or (path.flags & PathFlags.ACTIVE and (
                    not is_metric_better(last_hop, path.metric) if path.next_hop != ta
                    else last_hop > path.metric)):
                fresh = False
            if fresh and path is not None:
                self.paths.learn(path, ta, None, last_hop, 1, exp_time)
                self._peer_refreshed(ta)
                out.append(PathChanged(ta, ta, last_hop, path.sn, 1))
        return new_metric if process else None

    def _charge_new_path(self, ta: bytes, now: float) -> bool:
        """Take one new path from `ta`'s budget; False when it is spent."""
        tokens, since = self._new_path_budget.get(ta, (float(NEW_PATH_BURST), now))
        tokens = min(float(NEW_PATH_BURST), tokens + (now - since) * NEW_PATHS_PER_SECOND)
        charged = tokens >= 1.0
        self._new_path_budget[ta] = (tokens - 1.0 if charged else tokens, now)
        return charged

    def _peer_refreshed(self, ta: bytes) -> None:
        if self.config.keep_fail_avg_on_refresh:
            return
        peer = self.peers.get(ta)
        if peer is not None:
            self.peers.reset_fail_avg(peer)

    # -- PREQ -------------------------------------------------------------

    def _remember_preq(self, orig: bytes, targets: Iterable[PreqTarget], now: float) -> None:
        until = now + self.config.dot11MeshHWMPactivePathTimeout
        seen = self._preqs_seen
        for target in targets:
            key = (orig, target.addr)
            seen[key] = until
            seen.move_to_end(key)
        while seen and (len(seen) > _PREQS_REMEMBERED or next(iter(seen.values())) < now):
            seen.popitem(last=False)

    def _on_preq(self, hdr: MacHeader, preq: Preq, now: float) -> list[Action]:
        if preq.flags & HWMP_FLAG_AE:
            return [Refused(MeshRefusal.HWMP_ADDRESS_EXTENSION_UNSUPPORTED, "PREQ")]
        self._remember_preq(preq.originator_addr, preq.targets, now)
        out: list[Action] = []
        metric = self._route_info_get(hdr.addr2, preq.originator_addr, preq.originator_sn, preq.lifetime,
                                      preq.metric, preq.hop_count, now, out)
        if metric is None:
            return out
        cfg = self.config
        orig = preq.originator_addr
        learned = self.paths.lookup(orig)
        over_budget = learned is not None and learned.from_flood
        forward_targets: list[PreqTarget] = []
        root_path = None
        for target in preq.targets:
            reply = False
            target_addr, target_sn, target_metric, flags = target.addr, target.sn, 0, target.flags
            if target_addr == self.mac:
                reply = True
                if sn_gt(target_sn, self.sn):
                    self.sn = target_sn
                self._bump_sn(now)
                target_sn = self.sn
            elif is_group(target_addr) and flags & TARGET_FLAG_TO:
                # Proactive PREQ from a root (14.10.10.3). The path to the
                # root is looked up only where it decides something.
                answers = preq.flags & PREQ_FLAG_PROACTIVE_PREP or cfg.prep_to_root_preq
                if answers and self._lookup(orig, now) is not None:
                    reply = True
                    target_addr = self.mac
                    self.sn = sn_next(self.sn)
                    self.last_sn_update = now
                    target_sn = self.sn
                if preq.flags & PREQ_FLAG_GATE_ANNOUNCEMENT and self._lookup(orig, now) is not None:
                    out += self._learn_gate(orig, GateSource.PROACTIVE_PREQ, preq.originator_sn,
                                            preq.hop_count + 1, hdr.addr2, preq.lifetime * TU, now)
                forward_targets.append(target)
            elif cfg.dot11MeshForwarding:
                path = self._lookup(target_addr, now)
                if path is not None:
                    root_path = path if path.is_root else root_path
                    if not path.flags & PathFlags.SN_VALID or sn_lt(path.sn, target_sn):
                        self.paths.note_sn(path, target_sn)
                    elif not flags & TARGET_FLAG_TO and path.usable(now):
                        # Intermediate reply (14.10.9.4.3 case E2): answer for
                        # the target, then forward with Target Only set.
                        reply = True
                        target_metric, target_sn = path.metric, path.sn
                        flags |= TARGET_FLAG_TO
                forward_targets.append(PreqTarget(flags, target.addr, target.sn))
            if reply:
                if cfg.element_ttl == 0:
                    out.append(Refused(MeshRefusal.HWMP_TTL_EXPIRED, "element_ttl is 0"))
                    continue
                prep = Prep(0, 0, cfg.element_ttl, target_addr, target_sn, preq.lifetime, target_metric,
                            orig, preq.originator_sn)
                out.append(Transmit(path_selection(hdr.addr2, self.mac, prep)))
        if not forward_targets:
            return out
        if over_budget:
            # Answered where we are the target, but not spread further.
            out.append(Refused(MeshRefusal.PREQ_OVER_BUDGET, f"{orig.hex(':')} from {hdr.addr2.hex(':')}"))
            return out
        if preq.ttl <= 1:
            out.append(Refused(MeshRefusal.HWMP_TTL_EXPIRED, "PREQ"))
            return out
        da = root_path.rann_snd_addr if root_path is not None and root_path.rann_snd_addr else BROADCAST
        forwarded = Preq(preq.flags, preq.hop_count + 1, preq.ttl - 1, preq.path_discovery_id, orig,
                         preq.originator_sn, preq.lifetime, metric, tuple(forward_targets))
        if any(is_group(t.addr) and t.flags & TARGET_FLAG_TO for t in forward_targets):
            self._keep_root_preq(forwarded)
        out.append(Transmit(path_selection(da, self.mac, forwarded)))
        return out

    def _keep_root_preq(self, preq: Preq) -> None:
        kept = self._root_preqs
        kept[preq.originator_addr] = preq
        kept.move_to_end(preq.originator_addr)
        while len(kept) > MAX_ROOT_PREQS_KEPT:
            kept.popitem(last=False)

    def root_preqs_for(self, peer: bytes, now: float) -> list[Action]:
        """A peer link to `peer` just formed: it is sent, individually
        addressed, the last proactive PREQ of each root we hold a live path
        to (through another peer) or are, so that the stations behind it
        learn their paths to the roots now rather than at the next root
        interval. Ours (MeshConfig.root_preq_to_new_peer); Linux waits for
        the root's next PREQ."""
        if not self.config.root_preq_to_new_peer:
            return []
        out: list[Action] = []
        for root, preq in self._root_preqs.items():
            if root != self.mac:
                path = self._lookup(root, now)
                if (path is None or not path.usable(now) or path.next_hop == peer
                        or path.sn != preq.originator_sn or preq.ttl <= 1):
                    continue
            out.append(Transmit(path_selection(peer, self.mac, preq)))
        return out

    # -- PREP -------------------------------------------------------------

    def _prep_roles(self, prep: Prep, ta: bytes, now: float) -> tuple[bytes, int, bytes, bool]:
        """(replier, replier SN, asker, draft order?). In the standard the
        PREP names the replier as target and the asker as originator; ns-3
        swaps the two addresses but not the sequence numbers, so the Target
        HWMP SN is the replier's either way. Only a transmitter known to
        write the draft layouts gets the draft reading considered. Then the
        asker is us, or the node whose PREQ built us a reverse path leading
        away from the PREP's transmitter; failing that, the originator of a
        PREQ we saw for the other address."""
        std = (prep.target_addr, prep.target_sn, prep.originator_addr, False)
        draft = (prep.originator_addr, prep.target_sn, prep.target_addr, True)
        peer = self.peers.get(ta)
        if prep.originator_addr == self.mac or peer is None or not peer.speaks_draft:
            return std
        if prep.target_addr == self.mac:
            return draft
        back_std = self.paths.next_hop(prep.originator_addr, now) not in (None, ta)
        back_draft = self.paths.next_hop(prep.target_addr, now) not in (None, ta)
        if back_std != back_draft:
            return std if back_std else draft
        if (prep.target_addr, prep.originator_addr) in self._preqs_seen and \
                (prep.originator_addr, prep.target_addr) not in self._preqs_seen:
            return draft
        return std

    def _on_prep(self, hdr: MacHeader, prep: Prep, now: float) -> list[Action]:
        if prep.flags & HWMP_FLAG_AE:
            return [Refused(MeshRefusal.HWMP_ADDRESS_EXTENSION_UNSUPPORTED, "PREP")]
        replier, replier_sn, asker, draft = self._prep_roles(prep, hdr.addr2, now)
        out: list[Action] = []
        if draft:
            out.append(Refused(MeshRefusal.PREP_DRAFT_ADDRESS_ORDER, "read as ns-3 writes it"))
        metric = self._route_info_get(hdr.addr2, replier, replier_sn, prep.lifetime, prep.metric,
                                      prep.hop_count, now, out)
        if metric is None or asker == self.mac or not self.config.dot11MeshForwarding:
            return out
        if prep.ttl <= 1:
            return out + [Refused(MeshRefusal.HWMP_TTL_EXPIRED, "PREP")]
        next_hop = self.paths.next_hop(asker, now)
        if next_hop is None:
            return out + [Refused(MeshRefusal.PREP_NO_ROUTE, asker.hex(":"))]
        # The PREP's next hop will send us frames for the replier, its
        # transmitter frames for the asker: both are precursors (14.10.8.4).
        self.paths.add_precursor(replier, next_hop)
        self.paths.add_precursor(asker, hdr.addr2)
        forwarded = Prep(prep.flags, prep.hop_count + 1, prep.ttl - 1, prep.target_addr, prep.target_sn,
                         prep.lifetime, metric, prep.originator_addr, prep.originator_sn)
        return out + [Transmit(path_selection(next_hop, self.mac, forwarded))]

    # -- PERR -------------------------------------------------------------

    def _on_perr(self, hdr: MacHeader, perr: Perr, now: float) -> list[Action]:
        ta = hdr.addr2
        out: list[Action] = []
        broken: list[MeshPath] = []
        propagate = []
        for dest in perr.destinations:
            path = self._lookup(dest.addr, now)
            if (path is not None and path.flags & PathFlags.ACTIVE and path.next_hop == ta
                    and not path.flags & PathFlags.FIXED
                    and (not path.flags & PathFlags.SN_VALID or sn_gt(dest.sn, path.sn) or dest.sn == 0)):
                self.paths.deactivate(path, dest.sn if dest.sn else sn_next(path.sn))
                out.append(PathChanged(dest.addr, None, path.metric, path.sn, path.hop_count))
                broken.append(path)
                propagate.append(PerrDestination(0, dest.addr, dest.sn, dest.reason))
            else:
                out.append(Refused(MeshRefusal.PERR_NOT_APPLICABLE, dest.addr.hex(":")))
        if not propagate or not self.config.dot11MeshForwarding:
            return out
        if perr.ttl <= 1:
            return out + [Refused(MeshRefusal.HWMP_TTL_EXPIRED, "PERR")]
        return out + self._perr_to_precursors(broken, propagate, perr.ttl - 1, ta, now)

    def _queue_perr(self, ra: bytes, ttl: int, dests: list[PerrDestination], now: float) -> list[Action]:
        out: list[Action] = []
        for dest in dests:
            key = (ra, dest.addr)
            if key in self._perr_queue:
                # One waiting PERR per receiver and destination says it all.
                self._perr_queue[key] = (ttl, dest)
                out.append(Refused(MeshRefusal.PERR_ALREADY_QUEUED, f"{dest.addr.hex(':')} to {ra.hex(':')}"))
            elif len(self._perr_queue) >= MAX_PERR_QUEUE_LEN:
                out.append(Refused(MeshRefusal.PERR_QUEUE_FULL, f"{dest.addr.hex(':')} to {ra.hex(':')}"))
            else:
                self._perr_queue[key] = (ttl, dest)
        return out + self._drain_perr(now)

    def _drain_perr(self, now: float) -> list[Action]:
        """Send queued PERRs, one per dot11MeshHWMPperrMinInterval, each with
        up to perr_max_destinations destinations for the same receiver."""
        if not self._perr_queue:
            return []
        if now < self.next_perr:
            return [SetTimer(TIMER_PERR, self.next_perr)]
        (ra, _), (ttl, first) = self._perr_queue.popitem(last=False)
        dests = [first]
        for key, (other_ttl, dest) in list(self._perr_queue.items()):
            if len(dests) >= self.config.perr_max_destinations:
                break
            if key[0] == ra and other_ttl == ttl:
                del self._perr_queue[key]
                dests.append(dest)
        self.next_perr = now + self.config.dot11MeshHWMPperrMinInterval
        out: list[Action] = [Transmit(path_selection(ra, self.mac, Perr(ttl, tuple(dests))))]
        if self._perr_queue:
            out.append(SetTimer(TIMER_PERR, self.next_perr))
        return out

    # -- RANN and proactive mode -----------------------------------------

    def _on_rann(self, hdr: MacHeader, rann: Rann, now: float) -> list[Action]:
        if rann.root_addr == self.mac:
            return []
        ta = hdr.addr2
        new_metric = add_metric(rann.metric, self.peers.metric(ta))
        path = self._lookup(rann.root_addr, now) or self.paths.add(rann.root_addr, now)
        if path is None:
            return [Refused(MeshRefusal.PATH_TABLE_FULL, rann.root_addr.hex(":"))]
        if not sn_lt(path.sn, rann.root_sn) and not (path.sn == rann.root_sn and new_metric < path.rann_metric):
            return [Refused(MeshRefusal.HWMP_STALE_SN, "RANN")]
        out: list[Action] = []
        refresh = ((not path.flags & (PathFlags.ACTIVE | PathFlags.RESOLVING)
                    or now > path.last_preq_to_root + self.config.dot11MeshHWMPconfirmationInterval)
                   and not path.flags & PathFlags.FIXED and rann.ttl != 0)
        # Learn the root first: our PREQ leaves at once and goes to the RANN's sender.
        self.paths.learn_root(path, rann.root_sn, new_metric, ta)
        if rann.flags & RANN_FLAG_GATE:
            out += self._learn_gate(rann.root_addr, GateSource.RANN, rann.root_sn, rann.hop_count + 1, ta,
                                    rann.interval * TU, now)
        if refresh:
            out += self._queue_preq(path, PREQ_Q_F_START | PREQ_Q_F_REFRESH, now)
            path.last_preq_to_root = now
        if rann.ttl <= 1:
            return out + [Refused(MeshRefusal.HWMP_TTL_EXPIRED, "RANN")]
        if self.config.dot11MeshForwarding:
            forwarded = Rann(rann.flags, rann.hop_count + 1, rann.ttl - 1, rann.root_addr, rann.root_sn,
                             rann.interval, new_metric)
            out.append(Transmit(path_selection(BROADCAST, self.mac, forwarded)))
        return out

    # -- gates ------------------------------------------------------------

    def _learn_gate(self, addr: bytes, source: GateSource, sn: int, hop_count: int, ta: bytes, interval: float,
                    now: float) -> list[Action]:
        if self.gates.learn(addr, source, sn, hop_count, ta, interval, now):
            return []
        return [Refused(MeshRefusal.GATE_TABLE_FULL, addr.hex(":"))]

    def _on_gann(self, hdr: MacHeader, gann: Gann, now: float) -> list[Action]:
        """A Gate Announcement (14.10.12): record the gate, and flood it on
        once per GANN SN with the hop count up and the TTL down, as RANNs
        travel."""
        if gann.gate_addr == self.mac:
            return []
        last = self.gates.last_sn(gann.gate_addr)
        if last is not None and not sn_gt(gann.gann_sn, last):
            return [Refused(MeshRefusal.HWMP_STALE_SN, "GANN")]
        out = self._learn_gate(gann.gate_addr, GateSource.GANN, gann.gann_sn, gann.hop_count + 1, hdr.addr2,
                               gann.interval * TU, now)
        if gann.ttl <= 1:
            return out + [Refused(MeshRefusal.HWMP_TTL_EXPIRED, "GANN")]
        if self.config.dot11MeshForwarding:
            forwarded = Gann(gann.flags, gann.hop_count + 1, gann.ttl - 1, gann.gate_addr, gann.gann_sn,
                             gann.interval)
            out.append(Transmit(MeshAction(action_header(BROADCAST, self.mac), MESH_ACTION_GATE_ANNOUNCEMENT,
                                           (forwarded,))))
        return out

    def _root_frame(self, now: float) -> list[Action]:
        """mesh_path_tx_root_frame, re-armed every root or RANN interval."""
        cfg = self.config
        mode = self.root_mode
        gate = RANN_FLAG_GATE if cfg.dot11MeshGateAnnouncementProtocol else 0
        self.sn = sn_next(self.sn)
        if mode is RootMode.PROACTIVE_RANN:
            element: Rann | Preq = Rann(gate, 0, cfg.element_ttl, self.mac, self.sn,
                                        to_tu(cfg.dot11MeshHWMPRannInterval), 0)
            interval = cfg.dot11MeshHWMPRannInterval
        else:
            flags = (gate and PREQ_FLAG_GATE_ANNOUNCEMENT) | (
                PREQ_FLAG_PROACTIVE_PREP if mode is RootMode.PROACTIVE_PREQ_WITH_PREP else 0)
            preq = Preq(flags, 0, cfg.element_ttl, self.preq_id, self.mac, self.sn,
                        to_tu(cfg.dot11MeshHWMPactivePathToRootTimeout), 0,
                        (PreqTarget(TARGET_FLAG_TO | TARGET_FLAG_USN, BROADCAST, 0),))
            self.preq_id = (self.preq_id + 1) & 0xFFFFFFFF
            self._keep_root_preq(preq)
            element = preq
            interval = cfg.dot11MeshHWMProotInterval
        return [Transmit(path_selection(BROADCAST, self.mac, element)), SetTimer(TIMER_ROOT, now + interval)]

    # -- discovery --------------------------------------------------------

    def _bump_sn(self, now: float) -> None:
        if now > self.last_sn_update + self.config.dot11MeshHWMPnetDiameterTraversalTime:
            self.sn = sn_next(self.sn)
            self.last_sn_update = now

    def _queue_preq(self, path: MeshPath, flags: int, now: float) -> list[Action]:
        """mesh_queue_preq: PREQs leave at most one per dot11MeshHWMPpreqMinInterval."""
        if len(self._preq_queue) >= MAX_PREQ_QUEUE_LEN:
            return [Refused(MeshRefusal.PREQ_QUEUE_FULL, path.dst.hex(":"))]
        if path.flags & PathFlags.REQ_QUEUED:
            return []
        path.flags |= PathFlags.REQ_QUEUED
        self._preq_queue.append((path.dst, flags))
        due = self.last_preq + self.config.dot11MeshHWMPpreqMinInterval
        if now >= due:
            return self._start_discovery(now)
        return [SetTimer(TIMER_PREQ_QUEUE, due)]

    def _start_discovery(self, now: float) -> list[Action]:
        """mesh_path_start_discovery: send the PREQ at the head of the queue."""
        cfg = self.config
        due = self.last_preq + cfg.dot11MeshHWMPpreqMinInterval
        if not self._preq_queue:
            return []
        if now < due:
            return [SetTimer(TIMER_PREQ_QUEUE, due)]
        dst, qflags = self._preq_queue.popleft()
        out: list[Action] = []
        if self._preq_queue:
            out.append(SetTimer(TIMER_PREQ_QUEUE, now + cfg.dot11MeshHWMPpreqMinInterval))
        path = self.paths.lookup(dst)
        if path is None or path.flags & PathFlags.FIXED:
            return out
        path.flags &= ~PathFlags.REQ_QUEUED
        if qflags & PREQ_Q_F_START:
            if path.flags & PathFlags.RESOLVING:
                return out
            path.flags = (path.flags & ~PathFlags.RESOLVED) | PathFlags.RESOLVING
            path.discovery_retries = 0
            path.discovery_timeout = cfg.min_discovery_timeout
        elif not path.flags & PathFlags.RESOLVING or path.flags & PathFlags.RESOLVED:
            path.flags &= ~PathFlags.RESOLVING
            return out
        self.last_preq = now
        self._bump_sn(now)
        if cfg.element_ttl == 0:
            return out + [Refused(MeshRefusal.HWMP_TTL_EXPIRED, "element_ttl is 0")]
        target_flags = TARGET_FLAG_TO if qflags & PREQ_Q_F_REFRESH else 0
        da = path.rann_snd_addr if path.is_root and path.rann_snd_addr else BROADCAST
        preq = Preq(0, 0, cfg.element_ttl, self.preq_id, self.mac, self.sn,
                    to_tu(cfg.dot11MeshHWMPactivePathTimeout), 0,
                    (PreqTarget(target_flags, dst, path.sn),))
        self.preq_id = (self.preq_id + 1) & 0xFFFFFFFF
        self._remember_preq(self.mac, preq.targets, now)
        out.append(Transmit(path_selection(da, self.mac, preq)))
        out.append(SetTimer(("path", dst), now + path.discovery_timeout))
        return out

    def _path_timer(self, dst: bytes, now: float) -> list[Action]:
        """mesh_path_timer: retry with a doubled timeout, or give up."""
        path = self.paths.lookup(dst)
        if path is None:
            return []
        if path.flags & PathFlags.RESOLVED or not path.flags & PathFlags.RESOLVING:
            path.flags &= ~(PathFlags.RESOLVING | PathFlags.RESOLVED)
            return []
        if path.discovery_retries < self.config.dot11MeshHWMPmaxPREQretries:
            path.discovery_retries += 1
            path.discovery_timeout *= 2
            path.flags &= ~PathFlags.REQ_QUEUED
            return self._queue_preq(path, 0, now)
        path.flags &= ~(PathFlags.RESOLVING | PathFlags.RESOLVED | PathFlags.REQ_QUEUED)
        path.exp_time = now
        return [PathFailed(dst)]

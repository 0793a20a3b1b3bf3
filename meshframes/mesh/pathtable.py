"""The mesh path table (mac80211's mesh_pathtbl.c): per destination the
next hop, HWMP sequence number, metric, hop count, lifetime and flags.

Single writer: the HWMP engine is the only writer of routing information.
Next hop, metric, hop count and lifetime change only through `learn`, which
only its route update calls (Linux: "hwmp_route_info_get ... is the only
place where path routing information is updated"); sequence numbers also
change through `deactivate` (PERR, lost link), `note_sn` (a newer target
SN seen in a PREQ) and `learn_root` (RANN), all called by HWMP alone.
Everything else reads, except two notes that are not routing information:
precursors, and `use` (our own traffic goes this way).

Room for paths in use (a departure from Linux): mesh_pathtbl.c refuses a
new path once MESH_MAX_MPATHS are held, and keeps an expired path for
MESH_PATH_EXPIRE (10 minutes). A PREQ flood from made-up originators then
locks every new path out for the flood and 10 minutes after. Here a full
table first evicts the least useful path: one learned while its
transmitter was over its new-path rate (HWMP decides that) and never
carrying our own traffic, oldest first; then an expired one, the longest
expired first. Only when neither exists is a new path refused. Paths being
resolved or fixed are never evicted.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field

# Linux MESH_PATH_EXPIRE: an expired path is kept (inactive, with its
# sequence number) this long before it is forgotten.
PATH_FORGET_AFTER = 600.0
MAX_PRECURSORS = 16
MAX_PATHS = 1024  # Linux MESH_MAX_MPATHS


class PathFlags:
    """Linux's MESH_PATH_* flags (plain ints: this is the forwarding hot path)."""

    NONE = 0
    ACTIVE = 0x01
    RESOLVING = 0x02
    SN_VALID = 0x04
    FIXED = 0x08
    RESOLVED = 0x10
    REQ_QUEUED = 0x20


@dataclass(slots=True)
class MeshPath:
    dst: bytes
    next_hop: bytes | None = None
    sn: int = 0
    metric: int = 0
    hop_count: int = 0
    exp_time: float = 0.0
    flags: int = PathFlags.NONE
    discovery_timeout: float = 0.0
    discovery_retries: int = 0
    path_changes: int = 0
    # Neighbours that send us frames for this destination (14.10.8.4): the
    # receivers of a PERR when the path breaks. Ordered, bounded.
    precursors: dict[bytes, None] = field(default_factory=dict)
    # Proactive (RANN) state.
    is_root: bool = False
    rann_snd_addr: bytes | None = None
    rann_metric: int = 0
    last_preq_to_root: float = float("-inf")
    # Learned while its transmitter was over its new-path rate (HWMP), and
    # no frame of ours has gone this way since: first to go when full.
    from_flood: bool = False

    def usable(self, now: float) -> bool:
        return bool(self.flags & PathFlags.ACTIVE) and self.next_hop is not None and now < self.exp_time


class PathTable:
    def __init__(self, max_paths: int = MAX_PATHS) -> None:
        self.max_paths = max_paths
        self._paths: dict[bytes, MeshPath] = {}
        # Destinations of the paths with `from_flood` set, oldest first.
        self._flood: OrderedDict[bytes, None] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._paths)

    def __iter__(self) -> Iterator[MeshPath]:
        return iter(list(self._paths.values()))

    def lookup(self, dst: bytes) -> MeshPath | None:
        return self._paths.get(dst)

    def add(self, dst: bytes, now: float) -> MeshPath | None:
        """The path to dst, created if there is room (made by evicting the
        least useful path if need be); None when full of paths in use."""
        path = self._paths.get(dst)
        if path is None:
            if len(self._paths) >= self.max_paths and not self._evict(now):
                return None
            path = self._paths[dst] = MeshPath(dst)
        return path

    def _evict(self, now: float) -> bool:
        """Forget the least useful path to make room; False if none may go."""
        keep = PathFlags.RESOLVING | PathFlags.REQ_QUEUED | PathFlags.FIXED
        victim = next((dst for dst in self._flood if not self._paths[dst].flags & keep), None)
        if victim is None:
            expired = [p for p in self._paths.values() if now >= p.exp_time and not p.flags & keep]
            if not expired:
                return False
            victim = min(expired, key=lambda p: p.exp_time).dst
        self._forget(victim)
        self.evicted += 1
        return True

    def _forget(self, dst: bytes) -> None:
        del self._paths[dst]
        self._flood.pop(dst, None)

    def use(self, dst: bytes) -> None:
        """Our own traffic goes to dst: its path is in use, whatever taught
        it. Only the frames we originate count: a relayed frame can name any
        destination, so relaying would let a flood shield its own paths."""
        path = self._paths.get(dst)
        if path is not None and path.from_flood:
            path.from_flood = False
            del self._flood[dst]

    def next_hop(self, dst: bytes, now: float) -> bytes | None:
        """Next hop of an active, unexpired path; None otherwise."""
        path = self._paths.get(dst)
        return path.next_hop if path is not None and path.usable(now) else None

    def learn(self, path: MeshPath, next_hop: bytes, sn: int | None, metric: int, hop_count: int,
              exp_time: float, *, from_flood: bool = False) -> bool:
        """Install fresh routing information; the only writer of it.
        `from_flood`: its transmitter was over its new-path rate. Returns
        True when the next hop changed."""
        self._flood.pop(path.dst, None)
        path.from_flood = from_flood
        if from_flood:
            self._flood[path.dst] = None
        changed = path.next_hop != next_hop
        if changed:
            path.path_changes += 1
        path.next_hop = next_hop
        if sn is not None:
            path.sn = sn
            path.flags |= PathFlags.SN_VALID
        path.metric = metric
        path.hop_count = hop_count
        path.exp_time = max(path.exp_time, exp_time)
        path.flags |= PathFlags.ACTIVE | PathFlags.RESOLVED
        return changed

    def deactivate(self, path: MeshPath, sn: int) -> None:
        path.flags &= ~PathFlags.ACTIVE
        path.sn = sn

    def note_sn(self, path: MeshPath, sn: int) -> None:
        path.sn = sn
        path.flags |= PathFlags.SN_VALID

    def learn_root(self, path: MeshPath, sn: int, rann_metric: int, sender: bytes) -> None:
        path.sn = sn
        path.rann_metric = rann_metric
        path.is_root = True
        path.rann_snd_addr = sender

    def add_precursor(self, dst: bytes, neighbour: bytes) -> None:
        """Precursors are not routing information: the forwarder and HWMP
        both note them as frames and PREPs pass."""
        path = self._paths.get(dst)
        if path is None or neighbour == path.next_hop:
            return
        path.precursors.pop(neighbour, None)
        path.precursors[neighbour] = None
        if len(path.precursors) > MAX_PRECURSORS:
            del path.precursors[next(iter(path.precursors))]

    def via(self, next_hop: bytes) -> list[MeshPath]:
        """Active paths whose next hop is the given peer."""
        return [p for p in self._paths.values()
                if p.next_hop == next_hop and p.flags & PathFlags.ACTIVE]

    def flush_by_next_hop(self, next_hop: bytes) -> list[bytes]:
        """mesh_path_flush_by_nexthop: forget paths through a peer whose
        link left ESTAB; returns their destinations."""
        gone = [dst for dst, p in self._paths.items() if p.next_hop == next_hop and not p.flags & PathFlags.FIXED]
        for dst in gone:
            self._forget(dst)
        return gone

    def expire(self, now: float) -> list[bytes]:
        """mesh_path_expire: forget paths long past their lifetime that are
        not being resolved."""
        gone = [dst for dst, p in self._paths.items()
                if now >= p.exp_time + PATH_FORGET_AFTER
                and not p.flags & (PathFlags.RESOLVING | PathFlags.FIXED)]
        for dst in gone:
            self._forget(dst)
        return gone

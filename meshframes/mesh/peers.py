"""The peer table: one entry per neighbour mesh STA, holding its peering
state and link ids (written by the peering FSM only) and what we measure
of the link (signal, last seen, rate, failure average) from which the
airtime metric is derived."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

from meshframes.codec.elements import MeshConfiguration
from meshframes.mesh.metric import MAX_METRIC, Ewma, airtime_metric
from meshframes.seal.ampe import GtkData, IgtkData


class PlinkState(enum.Enum):
    """Mesh peering states, 802.11-2020 14.3.8."""

    IDLE = "IDLE"
    OPN_SNT = "OPN_SNT"
    CNF_RCVD = "CNF_RCVD"
    OPN_RCVD = "OPN_RCVD"
    ESTAB = "ESTAB"
    HOLDING = "HOLDING"


@dataclass(slots=True)
class Peer:
    addr: bytes
    state: PlinkState = PlinkState.IDLE
    llid: int = 0
    plid: int = 0
    # AID we gave the peer (in our Confirm) and the one it gave us.
    aid: int = 0
    peer_aid: int = 0
    reason: int = 0
    retries: int = 0
    retry_timeout: float = 0.0
    # Peering attempts in a row that ended with every Open unanswered, and
    # the time before which a beacon does not start another.
    failed_attempts: int = 0
    reopen_after: float = float("-inf")
    signal_dbm: int | None = None
    last_seen: float = 0.0
    beacon_interval: float = 0.0
    mesh_config: MeshConfiguration | None = None
    rx_rate_100kbps: int | None = None
    # Linux: DECLARE_EWMA(mesh_fail_avg, 20, 8) and (mesh_tx_rate_avg, 8, 16).
    fail_avg: Ewma = field(default_factory=lambda: Ewma(8))
    tx_rate_avg: Ewma = field(default_factory=lambda: Ewma(16))
    tx_failures: int = 0
    tx_successes: int = 0
    # Sequence Control of the last individually addressed frame taken from
    # the peer, per TID (16 for non-QoS): duplicate detection, kept with
    # the entry as Linux keeps it in the station (sta->last_seq_ctrl).
    last_seq_ctrl: dict[int, int] = field(default_factory=dict)
    # Secure mesh (AMPE): this peering's nonces, ours drawn with our local
    # link id, the peer's learned from its frames, and the peer's MGTK and
    # IGTK from its Open. All are forgotten with the link ids, so every peering
    # derives a new MTK.
    local_nonce: bytes = b""
    peer_nonce: bytes = b""
    peer_gtk: GtkData | None = None
    peer_igtk: IgtkData | None = None
    # Until when no path through the peer is learned: an MPDU to it failed
    # all the MAC's retries, so the link fails at least our way (radio
    # ranges differ, so a peer may still reach us), and a route it offers
    # would send frames nowhere.
    failed_until: float = float("-inf")
    # The peer writes the 802.11s draft layouts ns-3 uses (its Beacon Timing
    # or peering element says so): its PREPs name the asker first.
    speaks_draft: bool = False

    @property
    def established(self) -> bool:
        return self.state is PlinkState.ESTAB


# Linux MESH_MAX_PLINKS: station entries per mesh interface, so that a
# flood of beacons from made-up addresses cannot grow the table.
MAX_PEER_ENTRIES = 256


class PeerTable:
    """Peers by MAC address, in the order they were first heard.

    Made-up addresses must not hold the table for good: entries not
    established that stay silent past the plink timeout are expired
    (`expire`, as Linux's ieee80211_sta_expire in mesh housekeeping), and
    a full table makes room for a new candidate by evicting the IDLE entry
    heard from longest ago (`evict_idle`; Linux refuses instead)."""

    def __init__(self, default_rate_100kbps: int, fail_threshold: int,
                 max_entries: int = MAX_PEER_ENTRIES) -> None:
        self.max_entries = max_entries
        self._peers: dict[bytes, Peer] = {}
        self.default_rate_100kbps = default_rate_100kbps
        self.fail_threshold = fail_threshold
        self._estab = 0

    def __iter__(self) -> Iterator[Peer]:
        return iter(list(self._peers.values()))

    def __len__(self) -> int:
        return len(self._peers)

    def get(self, addr: bytes) -> Peer | None:
        return self._peers.get(addr)

    @property
    def full(self) -> bool:
        return len(self._peers) >= self.max_entries

    def add(self, addr: bytes) -> Peer | None:
        """The entry for addr, created if there is room; None when full."""
        peer = self._peers.get(addr)
        if peer is None:
            if self.full:
                return None
            peer = self._peers[addr] = Peer(addr)
        return peer

    def evict_idle(self) -> bytes | None:
        """Remove the IDLE entry heard from longest ago; its address, or
        None if no entry is IDLE."""
        idle = [p for p in self._peers.values() if p.state is PlinkState.IDLE]
        if not idle:
            return None
        oldest = min(idle, key=lambda p: p.last_seen)
        del self._peers[oldest.addr]
        return oldest.addr

    def expire(self, silent_since: float) -> list[bytes]:
        """Remove the entries not established and unheard since
        `silent_since`; their addresses."""
        gone = [a for a, p in self._peers.items()
                if p.state is not PlinkState.ESTAB and p.last_seen < silent_since]
        for addr in gone:
            del self._peers[addr]
        return gone

    def set_state(self, peer: Peer, state: PlinkState) -> None:
        """Only the peering FSM calls this: it keeps the ESTAB count right.
        A link entering ESTAB starts its failure average at a low value, as
        Linux does (the EWMA takes its first sample whole, so one lost frame
        on a fresh link would otherwise read as 100% failure)."""
        if state is PlinkState.ESTAB and peer.state is not PlinkState.ESTAB:
            self.reset_fail_avg(peer)
        self._estab += (state is PlinkState.ESTAB) - (peer.state is PlinkState.ESTAB)
        peer.state = state

    @property
    def established_count(self) -> int:
        return self._estab

    def is_established(self, addr: bytes) -> bool:
        peer = self._peers.get(addr)
        return peer is not None and peer.state is PlinkState.ESTAB

    def established(self) -> list[Peer]:
        return [p for p in self._peers.values() if p.state is PlinkState.ESTAB]

    def llid_in_use(self, llid: int) -> bool:
        return any(p.llid == llid for p in self._peers.values())

    def free_aid(self) -> int:
        used = {p.aid for p in self._peers.values()}
        aid = 1
        while aid in used:
            aid += 1
        return aid

    def rate(self, peer: Peer) -> int:
        """Transmit rate to the peer in 100 kb/s: what transmit reports say,
        else the rate it reaches us at, else the configured default."""
        rate = peer.tx_rate_avg.read()
        if rate:
            return rate
        return peer.rx_rate_100kbps or self.default_rate_100kbps

    def failed(self, addr: bytes, now: float) -> bool:
        """Our last MPDUs to `addr` failed all retries a short while ago."""
        peer = self._peers.get(addr)
        return peer is not None and now < peer.failed_until

    def metric(self, addr: bytes) -> int:
        """Airtime metric of the link to a peer; MAX_METRIC unless ESTAB."""
        peer = self._peers.get(addr)
        if peer is None or peer.state is not PlinkState.ESTAB:
            return MAX_METRIC
        return airtime_metric(self.rate(peer), peer.fail_avg.read(), self.fail_threshold)

    def record_tx(self, peer: Peer, acked: bool, rate_100kbps: int | None) -> bool:
        """Feed a transmit report; True when the link just crossed the
        failure threshold (Linux ieee80211s_update_metric -> plink broken)."""
        before = peer.fail_avg.read()
        peer.fail_avg.add(0 if acked else 100)
        if acked:
            peer.tx_successes += 1
        else:
            peer.tx_failures += 1
        if rate_100kbps:
            peer.tx_rate_avg.add(rate_100kbps)
        after = peer.fail_avg.read()
        return before <= self.fail_threshold < after

    def reset_fail_avg(self, peer: Peer) -> None:
        """Linux restarts the average at a low value whenever a path through
        the peer is refreshed ("0 start is tricky")."""
        peer.fail_avg.reset()
        peer.fail_avg.add(1)

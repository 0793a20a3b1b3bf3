"""MIB parameters, reason codes and other constants of the mesh engines.

MIB variables keep the standard's names (802.11-2020 Annex C,
dot11MeshSTAConfigEntry and dot11MeshHWMPConfigEntry) with Linux's default
values (net/wireless/mesh.c); knobs the standard does not name keep
Linux's names. All times are in seconds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

TU = 1024e-6  # time unit, 802.11-2020 3.1


def tu(count: float) -> float:
    return count * TU


def to_tu(seconds: float) -> int:
    """Whole TUs, rounded down like Linux's MSEC_TO_TU (5000 ms -> 4882)."""
    return round(seconds * 1e6) // 1024


class RootMode(enum.IntEnum):
    """dot11MeshHWMPRootMode values as Linux numbers them."""

    NO_ROOT = 0
    PROACTIVE_PREQ_NO_PREP = 2
    PROACTIVE_PREQ_WITH_PREP = 3
    PROACTIVE_RANN = 4


@dataclass(frozen=True, slots=True)
class MeshConfig:
    mesh_id: bytes = b"meshframes"
    # A secure mesh (14.5 AMPE with a PSK, see meshframes.mesh.rsn) when set:
    # the passphrase (8..63 characters) every mesh STA of the MBSS shares.
    # Kept out of repr() so that logging a configuration does not leak it.
    passphrase: str | None = field(default=None, repr=False)
    # With a passphrase: authenticate each pair with SAE (12.4, the
    # passphrase as its password, the Mesh ID as H2E's SSID) and key AMPE
    # with the PMK SAE yields, as wpa_supplicant's mesh does (AKM
    # 00-0F-AC:8, Authentication Protocol 1), instead of a PMK from the
    # passphrase alone.
    sae: bool = False
    sae_groups: tuple[int, ...] = (19,)
    # The BSS basic rate set, in 500 kb/s units: mac80211 peers only with a
    # station whose basic rates equal its own (mesh_matches_local). 1 Mb/s
    # is what cfg80211 gives a 2.4 GHz mesh joined with iw;
    # mbss.WPA_SUPPLICANT_BASIC_RATES is what wpa_supplicant's mesh uses.
    basic_rates: tuple[int, ...] = (2,)
    # Peering (14.3), Linux defaults: 100 ms timers, 3 retries, 32 links.
    dot11MeshRetryTimeout: float = 0.100
    dot11MeshConfirmTimeout: float = 0.100
    dot11MeshHoldingTimeout: float = 0.100
    dot11MeshMaxRetries: int = 3
    dot11MeshMaxPeerLinks: int = 32
    auto_open_plinks: bool = True
    # Ours: after a peering attempt ends with dot11MeshMaxRetries Opens
    # unanswered, a beacon re-opens only after a hold that doubles per such
    # attempt, from plink_backoff_min up to plink_backoff_max (Linux
    # re-opens at the first beacon after dot11MeshHoldingTimeout, see
    # plink.py). In time, not beacons: a short beacon interval must not
    # make peering attempts more frequent.
    plink_backoff_min: float = tu(1000)
    plink_backoff_max: float = tu(32 * 1000)
    # Ours: any frame heard from a neighbour whose beacon we already know
    # (an entry in IDLE, not backing off) opens a peering at once, rather
    # than waiting up to a beacon interval for its next beacon as Linux's
    # mesh_neighbour_update does. A walker back in range is heard through
    # the floods (HWMP, announcements) long before its beacon comes.
    plink_open_on_frames: bool = True
    # Ours (MeshNode._probe_unknown): a mesh frame heard from a station
    # whose beacon we never heard (in a secure mesh, typically a group frame
    # under an MGTK we were never given) draws an individually addressed
    # Probe Request, at most one per station per beacon interval; its
    # Probe Response does what the beacon would (SAE, peering) up to a
    # beacon interval sooner. Linux answers mesh Probe Requests but sends
    # none of its own: it waits for the beacon.
    probe_unknown_neighbours: bool = True
    # Ours (Hwmp._peer_refreshed): a link's failure average (the airtime
    # metric's error rate, 14.9.2) is kept when an HWMP frame refreshes a
    # path through it. Linux restarts it at a low value every time
    # (hwmp_route_info_get), so a marginal link that failed a moment ago
    # looks clean again at the next root PREQ and carries the next order
    # into the same failure; kept, the failures of the last few frames
    # weigh in the metric and the path moves to a link that delivers. The
    # average still starts low when the link enters ESTAB.
    keep_fail_avg_on_refresh: bool = True
    # Linux plink_timeout (MESH_DEFAULT_PLINK_TIMEOUT, net/wireless/mesh.c):
    # a station silent this long is expired; we expire only entries not
    # established (an established one is lost by beacon loss first).
    plink_timeout: float = 1800.0
    # Forwarding (14.11): initial Mesh TTL of data, initial TTL of HWMP elements.
    dot11MeshTTL: int = 31
    element_ttl: int = 31
    dot11MeshForwarding: bool = True
    # HWMP (14.10).
    dot11MeshHWMPmaxPREQretries: int = 4
    dot11MeshHWMPnetDiameterTraversalTime: float = 0.050
    dot11MeshHWMPpreqMinInterval: float = tu(10)
    dot11MeshHWMPperrMinInterval: float = tu(100)
    dot11MeshHWMPactivePathTimeout: float = 5.000
    dot11MeshHWMPRootMode: RootMode = RootMode.NO_ROOT
    dot11MeshHWMPRannInterval: float = tu(5000)
    dot11MeshHWMProotInterval: float = tu(5000)
    dot11MeshHWMPactivePathToRootTimeout: float = tu(6000)
    # 14.10.10.3: a root's proactive PREQ with the Proactive PREP subfield
    # 0 still gets a PREP from a mesh STA that needs a bidirectional path
    # with the root (one that has data for it and wants its answer back);
    # the others only learn their path to the root. Linux answers only when
    # the subfield is 1.
    prep_to_root_preq: bool = False
    dot11MeshHWMPconfirmationInterval: float = 2.000
    dot11MeshGateAnnouncementProtocol: bool = False
    min_discovery_timeout: float = 0.100
    # Ours (Hwmp.rediscover): a peer link that forms sends at once the next
    # PREQ of each discovery that frames wait on, instead of leaving it to
    # the retry timer; Linux waits.
    preq_on_new_peer: bool = True
    # Ours (Hwmp.root_preqs_for): a peer link that forms is sent at once,
    # individually addressed, the last proactive PREQ of each root we hold
    # a live path to, so the stations behind the new link learn their
    # paths to the roots (and, with PREP, the roots their paths back)
    # without waiting up to a root interval for the next one; Linux waits.
    root_preq_to_new_peer: bool = True
    path_refresh_time: float = 1.000
    # Linux accepts only one destination per PERR (15-byte element).
    perr_max_destinations: int = 1
    # The standard (14.10.11.4.2) sends a PERR to the precursors of the
    # broken paths and none when no precursor is left. Linux broadcasts
    # every PERR it originates for a broken link (mesh_plink_broken) or
    # propagates (hwmp_perr_frame_process), precursors or not; a replay of
    # a Linux node's capture runs ours that way.
    perr_broadcast: bool = False
    # Ours (MeshNode.on_tx_status): one MPDU that failed all the MAC's
    # retries ends the paths through its next hop and holds that peer from
    # offering routes until it acknowledges again or is lost to beacon
    # loss. Linux waits for its failure average to pass a threshold (about
    # twenty lost MPDUs) and ns-3 for its own count; a replay of their
    # captures runs ours their way.
    failed_mpdu_ends_paths: bool = True
    # Ours (Peering.stale_peer): a station that sends us individually
    # addressed mesh frames while we hold no peering with it gets a Close,
    # so that its stale ESTAB ends. Linux sends nothing (the stale side
    # forwards into a station that drops everything); a replay of a Linux
    # capture runs ours its way.
    close_stale_peers: bool = True
    # Linux MESH_FRAME_QUEUE_LEN: frames held per destination during discovery.
    frame_queue_len: int = 10
    # Time a relayed frame spends in the forwarder before it is sent on,
    # drawn uniformly from [min, max] seconds per frame. On a real radio the
    # device's own processing is this delay, so none is added; the simulator
    # models that processing with ns-3's mesh point ForwardingDelay,
    # U(300, 400) us (meshframes.sim.network.DEVICE_FORWARDING_DELAY), so
    # that relays hearing a flood together do not all send it on in step.
    forwarding_delay: tuple[float, float] = (0.0, 0.0)
    # Linux's multicast cache keeps (SA, seq) for 3 s (RMC_TIMEOUT).
    dedup_timeout: float = 3.0
    dedup_capacity: int = 4096
    # Beacons: Linux's 1000 TU interval. A peer unheard for this many of its
    # beacon intervals is lost (ns-3 dot11s MaxBeaconLoss = 2); Linux instead
    # relies on transmit failures, which we also track.
    beacon_interval: float = tu(1000)
    beacon_loss_limit: int = 2
    # Linux breaks a link when the failure EWMA exceeds 95% (LINK_FAIL_THRESH).
    link_fail_threshold: int = 95
    # Rate assumed for a peer before any frame told us its rate (100 kb/s units).
    default_rate_100kbps: int = 60

    @property
    def secure(self) -> bool:
        return self.passphrase is not None

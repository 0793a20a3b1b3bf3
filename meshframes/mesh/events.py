"""What goes into the mesh engines and what they return: small frozen
events, h11 style. The host (meshframes.hosts.node, over some radio, or a
test) performs the outputs: it transmits the frames, arms the timers, hands
deliveries to the application and logs the rest. Engines never do I/O and
never read a clock.

The mesh carries payloads it never reads: a `Deliver` hands the payload of
one of our vendor frames up as it came (the application's transport
fragments, seals and reassembles), as Linux's mesh hands MSDUs up.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from meshframes.codec import Frame
from meshframes.codec.fastpay import FastPayFragment
from meshframes.codec.frozen import quick_init

# Timer keys are small tuples, e.g. ("plink", peer), ("path", dst),
# ("preq-queue",), ("beacon",); arming a key again replaces its deadline.
# The applications key their timers the same way.
TimerKey = tuple[object, ...]


class MeshRefusal(StrEnum):
    """Why the mesh engines did not act on an input: the counter keys of
    `Refused` (Linux's mesh counts the same drops in its debugfs stats)."""

    # Reception and dispatch (the node, 802.11-2020 10.3.2.14, 14.11)
    MALFORMED = "malformed"
    NOT_FOR_US = "not-for-us"
    UNENCODABLE = "unencodable"
    DUPLICATE_RETRANSMISSION = "duplicate-retransmission"
    ACTION_RETURNED_BY_PEER = "action-returned-by-peer"
    ACTION_CATEGORY_UNSUPPORTED = "action-category-unsupported"
    PROTECTED_FRAME_NOT_UNSEALED = "protected-frame-not-unsealed"
    MANAGEMENT_SUBTYPE_UNSUPPORTED = "management-subtype-unsupported"
    UNKNOWN_TIMER = "unknown-timer"
    DATA_WITHOUT_MESH_CONTROL = "data-without-mesh-control"
    FRAME_FROM_NON_PEER = "frame-from-non-peer"
    PROBE_FOR_ANOTHER_MESH = "probe-for-another-mesh"
    # Peer table and links (14.3)
    PEER_TABLE_FULL = "peer-table-full"
    PEER_BEACON_LOSS = "peer-beacon-loss"
    PEER_EXPIRED = "peer-expired"
    PMK_EXPIRED = "pmk-expired"
    # A secure mesh's SAE attempts, paced as wpa_supplicant's mesh paces them
    SAE_ATTEMPT_FAILED = "sae-attempt-failed"
    SAE_PEER_BLOCKED = "sae-peer-blocked"
    SAE_BACKING_OFF = "sae-backing-off"
    SAE_BLOCKED = "sae-blocked"
    PEER_EVICTED_IDLE = "peer-evicted-idle"
    LINK_BROKEN_TX_FAILURES = "link-broken-tx-failures"
    PATHS_LOST_TX_FAILED = "paths-lost-tx-failed"
    # Peering (14.3, 14.5)
    BEACON_PROFILE_MISMATCH = "beacon-profile-mismatch"
    BEACON_SECURITY_MISMATCH = "beacon-security-mismatch"
    PEERING_PROFILE_MISMATCH = "peering-profile-mismatch"
    SELF_PROTECTED_ACTION_UNSUPPORTED = "self-protected-action-unsupported"
    PLINK_EVENT_IGNORED = "plink-event-ignored"
    PEERING_BACKING_OFF = "peering-backing-off"
    PEERING_CLOSED_STALE_PEER = "peering-closed-stale-peer"
    CONFIRM_OR_CLOSE_FROM_UNKNOWN_PEER = "confirm-or-close-from-unknown-peer"
    NO_FREE_PEER_LINKS = "no-free-peer-links"
    MISSING_MESH_ID_OR_CONFIGURATION = "missing-mesh-id-or-configuration"
    MISSING_PEERING_ELEMENT = "missing-peering-element"
    MISSING_SUPPORTED_RATES = "missing-supported-rates"
    SUPPORTED_RATES_LENGTH = "supported-rates-length"
    OPEN_PEER_IN_SECURE_MESH = "open-peer-in-secure-mesh"
    SECURE_PEER_IN_OPEN_MESH = "secure-peer-in-open-mesh"
    PEERING_FRAME_GROUP_ADDRESSED = "peering-frame-group-addressed"
    PEERING_PROTOCOL_UNSUPPORTED = "peering-protocol-unsupported"
    PEERING_SUBTYPE_MISMATCH = "peering-subtype-mismatch"
    RSN_MISMATCH = "rsn-mismatch"
    # Link security on transmit: a frame that needs protection and cannot
    # have it is never sent (the receive side counts the seal's own reasons).
    TX_TOO_SHORT = "tx-too-short"
    TX_NOT_PROTECTABLE = "tx-not-protectable"
    TX_UNKNOWN_KEY = "tx-unknown-key"
    TX_UNKNOWN_KEY_ID = "tx-unknown-key-id"
    TX_PN_EXHAUSTED = "tx-pn-exhausted"
    # Path selection (14.10)
    MESH_ACTION_UNSUPPORTED = "mesh-action-unsupported"
    HWMP_ADDRESS_EXTENSION_UNSUPPORTED = "hwmp-address-extension-unsupported"
    HWMP_ELEMENT_UNSUPPORTED = "hwmp-element-unsupported"
    HWMP_FROM_NON_PEER = "hwmp-from-non-peer"
    HWMP_VIA_FAILED_LINK = "hwmp-via-failed-link"
    HWMP_NO_BETTER_METRIC = "hwmp-no-better-metric"
    HWMP_STALE_SN = "hwmp-stale-sn"
    HWMP_TTL_EXPIRED = "hwmp-ttl-expired"
    PATH_TABLE_FULL = "path-table-full"
    GATE_TABLE_FULL = "gate-table-full"
    PERR_ALREADY_QUEUED = "perr-already-queued"
    PERR_NO_PRECURSOR = "perr-no-precursor"
    PERR_NOT_APPLICABLE = "perr-not-applicable"
    PERR_QUEUE_FULL = "perr-queue-full"
    PREP_DRAFT_ADDRESS_ORDER = "prep-draft-address-order"
    PREP_NO_ROUTE = "prep-no-route"
    PREQ_QUEUE_FULL = "preq-queue-full"
    PREQ_OVER_BUDGET = "preq-over-budget"
    # Forwarding (14.11)
    MESH_CONTROL_MODE_UNSUPPORTED = "mesh-control-mode-unsupported"
    OWN_FRAME_RETURNED = "own-frame-returned"
    GROUP_FRAME_UNICAST_MESH_DA = "group-frame-unicast-mesh-da"
    DUPLICATE = "duplicate"
    TTL_ZERO = "ttl-zero"
    TTL_EXPIRED = "ttl-expired"
    NO_FORWARDING_INFORMATION = "no-forwarding-information"
    FRAME_QUEUE_OVERFLOW = "frame-queue-overflow"
    DISCOVERY_FAILED_FRAME_DROPPED = "discovery-failed-frame-dropped"


@quick_init
@dataclass(frozen=True, slots=True)
class RxFrame:
    """A frame as a node received it."""

    data: bytes
    # Seconds: virtual time on simulated air, CLOCK_MONOTONIC on radios.
    timestamp: float
    signal_dbm: int | None = None
    # PHY rate in units of 100 kb/s, the unit of Linux's airtime metric.
    rate_100kbps: int | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class Transmit:
    frame: Frame


@quick_init
@dataclass(frozen=True, slots=True)
class SetTimer:
    key: TimerKey
    deadline: float


@quick_init
@dataclass(frozen=True, slots=True)
class CancelTimer:
    key: TimerKey


@quick_init
@dataclass(frozen=True, slots=True)
class Deliver:
    """The payload of one of our vendor frames whose mesh DA is us or a
    group, as it came: the mesh never reads it. `group`: it reached us
    group addressed (mesh DA or A1), so anyone on the way could see it."""

    source: bytes  # mesh SA
    destination: bytes  # mesh DA
    payload: FastPayFragment
    group: bool = False


@quick_init
@dataclass(frozen=True, slots=True)
class DeliverData:
    """The body (LLC onwards) of a mesh data frame addressed to us or to a
    group. A frame that reached us as a gate for a station outside the mesh
    names its end-to-end addresses (A6, A5) as source and destination and
    the mesh station that sent it as `mesh_source`."""

    source: bytes
    destination: bytes
    body: bytes
    mesh_source: bytes | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class Refused:
    """An input we did not act on, and why; the node also counts it.
    `reason` is a `MeshRefusal`, or the sealing layer's `Reason` for a
    frame a secure mesh's link security refused."""

    reason: StrEnum
    detail: str = ""


@quick_init
@dataclass(frozen=True, slots=True)
class PeerChanged:
    """Peering FSM transition, logged as "peer X in state S got event E"."""

    peer: bytes
    old: str
    event: str
    new: str


@quick_init
@dataclass(frozen=True, slots=True)
class Authenticated:
    """SAE (802.11-2020 12.4) completed with `peer`: its PMK keys AMPE."""

    peer: bytes
    pmkid: bytes


@quick_init
@dataclass(frozen=True, slots=True)
class PathChanged:
    destination: bytes
    next_hop: bytes | None
    metric: int
    sn: int
    hop_count: int


@quick_init
@dataclass(frozen=True, slots=True)
class PathFailed:
    """Discovery gave up (dot11MeshHWMPmaxPREQretries exhausted)."""

    destination: bytes


Action = (
    Transmit | SetTimer | CancelTimer | Deliver | DeliverData | Refused | PeerChanged | Authenticated
    | PathChanged | PathFailed
)

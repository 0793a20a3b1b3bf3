"""What the mesh engines return: small frozen events, h11 style. The caller
(a NodeRuntime over some radio, or a test) performs them: it transmits the
frames, arms the timers, hands deliveries to the application and logs the
rest. Engines never do I/O and never read a clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshframes.codec import Frame

# Timer keys are small tuples, e.g. ("plink", peer), ("path", dst),
# ("preq-queue",), ("beacon",); arming a key again replaces its deadline.
TimerKey = tuple


@dataclass(frozen=True, slots=True)
class Transmit:
    frame: Frame


@dataclass(frozen=True, slots=True)
class SetTimer:
    key: TimerKey
    deadline: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    key: TimerKey


@dataclass(frozen=True, slots=True)
class Deliver:
    """A complete FastPay message (reassembled) for the application.
    `sealed_by`: the identity whose end-to-end seal the runtime's e2e layer
    opened on every fragment (`Opened`), None if it opened none; never
    taken from the air. `flags` are as delivered (the e2e layer clears
    bit 0 of what it opens)."""

    source: bytes
    msg_type: int
    flags: int
    payload: bytes
    sealed_by: bytes | None = None


@dataclass(frozen=True, slots=True)
class DeliverData:
    """The body (LLC onwards) of a mesh data frame addressed to us or to a group."""

    source: bytes
    destination: bytes
    body: bytes


@dataclass(frozen=True, slots=True)
class Refused:
    """An input we did not act on, and why; the node also counts it."""

    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PeerChanged:
    """Peering FSM transition, logged as "peer X in state S got event E"."""

    peer: bytes
    old: str
    event: str
    new: str


@dataclass(frozen=True, slots=True)
class PathChanged:
    destination: bytes
    next_hop: bytes | None
    metric: int
    sn: int
    hop_count: int


@dataclass(frozen=True, slots=True)
class PathFailed:
    """Discovery gave up (dot11MeshHWMPmaxPREQretries exhausted)."""

    destination: bytes


Action = (
    Transmit | SetTimer | CancelTimer | Deliver | DeliverData | Refused | PeerChanged | PathChanged
    | PathFailed
)

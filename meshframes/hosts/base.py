"""The one small interface every medium offers a node: simulated air, pcap
replay, a monitor interface on a real radio, or the kernel's mesh interface.

Transports only move frames and stamp them; they hold no protocol logic.
Frames are 802.11 MPDUs as bytes, starting at Frame Control, without FCS and
without radiotap: a transport strips and adds those at its edge.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from meshframes.codec.frozen import quick_init
from meshframes.mesh.events import RxFrame

__all__ = ["Clock", "MonotonicClock", "Radio", "RxFrame", "TxReport"]


@quick_init
@dataclass(frozen=True, slots=True)
class TxReport:
    """What a transport learned of one individually addressed MPDU it sent:
    was it acknowledged (after the MAC's retries), and at what rate."""

    ra: bytes  # its Address 1
    acked: bool
    rate_100kbps: int | None = None


class Radio(Protocol):
    """What a node needs from its medium."""

    @property
    def mac(self) -> bytes:
        """This radio's 6-byte address (A2 of everything it transmits)."""
        ...

    def transmit(self, frame: bytes) -> None:
        """Queue one MPDU for the air; never blocks on the medium."""
        ...

    def receive(self) -> list[RxFrame]:
        """Drain the frames that arrived since the last call, oldest first,
        without this radio's own transmissions."""
        ...


class Clock(Protocol):
    """Time as a node sees it: virtual in simulation, monotonic on radios."""

    def now(self) -> float:
        ...


class MonotonicClock:
    """CLOCK_MONOTONIC: the clock of a node on a real radio, the one its
    transport stamps received frames on (meshframes.hosts.packet)."""

    def now(self) -> float:
        return time.monotonic()

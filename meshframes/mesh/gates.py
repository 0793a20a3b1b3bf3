"""The mesh gates a mesh STA knows (802.11-2020 14.10.12), learned as
Linux's mesh_pathtbl.c keeps its gate list and as the standard adds:

- a root announcing itself with the gate bit set: a RANN with Flags bit 0
  (9.4.2.111), or a proactive PREQ (broadcast target, Target Only) with
  the Gate Announcement bit (9.4.2.112) from an originator we hold a path
  to (Linux: hwmp_rann_frame_process, hwmp_preq_frame_process ->
  mesh_path_add_gate);
- a Gate Announcement element (GANN, 9.4.2.110) in a Gate Announcement
  mesh action frame, which Linux neither sends nor reads.

A gate is kept for GATE_HOLD_INTERVALS of its announcement interval after
it was last heard (Linux keeps a gate as long as the path to it exists).
The table holds at most MAX_GATES entries: announcements from made-up
gates past that are refused, not stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MAX_GATES = 64
GATE_HOLD_INTERVALS = 3


class GateSource(StrEnum):
    """What told us a station is a gate."""

    RANN = "rann"
    PROACTIVE_PREQ = "proactive-preq"
    GANN = "gann"


@dataclass(slots=True)
class KnownGate:
    addr: bytes
    source: GateSource
    sn: int
    hop_count: int
    heard_from: bytes
    last_heard: float
    interval: float

    def expires(self) -> float:
        return self.last_heard + GATE_HOLD_INTERVALS * self.interval


class GateTable:
    def __init__(self) -> None:
        self._gates: dict[bytes, KnownGate] = {}

    def learn(self, addr: bytes, source: GateSource, sn: int, hop_count: int, heard_from: bytes,
              interval: float, now: float) -> bool:
        """Record (or refresh) a gate; False when the table is full."""
        self.expire(now)
        gate = self._gates.get(addr)
        if gate is None and len(self._gates) >= MAX_GATES:
            return False
        self._gates[addr] = KnownGate(addr, source, sn, hop_count, heard_from, now, interval)
        return True

    def last_sn(self, addr: bytes) -> int | None:
        gate = self._gates.get(addr)
        return gate.sn if gate is not None else None

    def is_gate(self, addr: bytes, now: float) -> bool:
        self.expire(now)
        return addr in self._gates

    def expire(self, now: float) -> None:
        for addr in [a for a, g in self._gates.items() if g.expires() <= now]:
            del self._gates[addr]

    def known(self, now: float) -> list[KnownGate]:
        self.expire(now)
        return sorted(self._gates.values(), key=lambda g: g.addr)

    def __len__(self) -> int:
        return len(self._gates)

"""A deterministic air for SAE engines: parents exchange Authentication
bodies through a queue, and the timers they set fire in time order when
nothing else is in flight. Frames can be dropped or tampered with on the
way (`tap`)."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from meshframes.seal.sae import SaeConfig, SaeOutput, SaeParent, SaeSetTimer, SaeTransmit

MAC_A = bytes.fromhex("020000000100")
MAC_B = bytes.fromhex("020000000200")

# (source, destination, body) -> body to deliver, or None to drop it
Tap = Callable[[bytes, bytes, bytes], bytes | None]


def seeded(seed: int) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


@dataclass
class SaeAir:
    parents: dict[bytes, SaeParent] = field(default_factory=dict)
    now: float = 0.0
    tap: Tap | None = None
    events: list[tuple[bytes, SaeOutput]] = field(default_factory=list)
    sent: list[tuple[bytes, bytes, bytes]] = field(default_factory=list)
    _queue: list[tuple[bytes, bytes, bytes]] = field(default_factory=list)
    _timers: list[tuple[float, int, bytes, bytes]] = field(default_factory=list)
    _order: int = 0

    def add(self, mac: bytes, config: SaeConfig, seed: int = 0) -> SaeParent:
        parent = self.parents[mac] = SaeParent(mac, config, random=seeded(seed or mac[-2]))
        return parent

    def take(self, source: bytes, outputs: list[SaeOutput]) -> None:
        for output in outputs:
            if isinstance(output, SaeTransmit):
                self.sent.append((source, output.peer, output.body))
                self._queue.append((source, output.peer, output.body))
            elif isinstance(output, SaeSetTimer):
                self._order += 1
                heapq.heappush(self._timers, (output.at, self._order, source, output.peer))
            else:
                self.events.append((source, output))

    def initiate(self, source: bytes, peer: bytes) -> None:
        self.take(source, self.parents[source].initiate(peer, self.now))

    def inject(self, source: bytes, destination: bytes, body: bytes) -> None:
        """A frame from anyone (a made-up station too) to `destination`."""
        self._queue.append((source, destination, body))

    def run(self, until: float = 60.0, max_steps: int = 10_000) -> None:
        """Deliver frames, then fire timers, until nothing is left before `until`."""
        for _ in range(max_steps):
            if self._queue:
                source, destination, body = self._queue.pop(0)
                delivered = body if self.tap is None else self.tap(source, destination, body)
                if delivered is not None and destination in self.parents:
                    self.take(destination, self.parents[destination].receive(source, delivered, self.now))
                continue
            if not self._timers or self._timers[0][0] > until:
                return
            at, _, owner, peer = heapq.heappop(self._timers)
            self.now = max(self.now, at)
            self.take(owner, self.parents[owner].on_timer(peer, self.now))
        raise AssertionError(f"the air did not settle in {max_steps} steps")

    def of(self, mac: bytes, kind: type) -> list[SaeOutput]:
        return [event for owner, event in self.events if owner == mac and isinstance(event, kind)]

"""A discrete-event scheduler over virtual time: a heap of (time, order,
callback). Events at the same time run in the order they were scheduled,
so a run depends only on its inputs and seed."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any


class Scheduler:
    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._order = 0
        self.events_run = 0

    def at(self, when: float, callback: Callable[..., None], *args: Any) -> None:
        if when < self.now:
            raise ValueError(f"cannot schedule at {when} before now {self.now}")
        self._order += 1
        heapq.heappush(self._heap, (when, self._order, callback, args))

    def run(self, until: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= until:
            when, _, callback, args = heapq.heappop(heap)
            self.now = when
            self.events_run += 1
            callback(*args)
        self.now = max(self.now, until)

    def pending(self) -> int:
        return len(self._heap)


class SimClock:
    """meshframes.hosts.base.Clock over the scheduler's virtual time."""

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler

    def now(self) -> float:
        return self._scheduler.now

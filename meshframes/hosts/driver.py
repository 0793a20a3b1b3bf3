"""Runs a FastPay application (AuthorityNode or ClientNode) on a mesh
node's NodeRuntime: the runtime's deliveries go in, the application's
messages leave through `send_app`, and its timers are armed with whatever
scheduler the setting has (the simulator's, or a real event loop's).

The driver owns what the sans-IO application must not: the clock, the
timers and the event log.
"""

from __future__ import annotations

from collections.abc import Callable

from meshframes.app.events import AppAction, Event, SendMessage, SetTimer, TimerKey
from meshframes.app.party import Party
from meshframes.hosts.runtime import NodeRuntime
from meshframes.mesh.events import Deliver

Schedule = Callable[[float, Callable[[], None]], None]


class AppDriver:
    def __init__(self, app: Party, runtime: NodeRuntime, schedule: Schedule,
                 on_event: Callable[[Event], None] | None = None) -> None:
        if runtime.node.mac != app.mac:
            raise ValueError(f"application {app.mac.hex(':')} and node {runtime.node.mac.hex(':')} differ")
        self.app = app
        self.runtime = runtime
        self.schedule = schedule
        self.on_event = on_event
        self.events: list[Event] = []
        self._deadlines: dict[TimerKey, float] = {}

    def now(self) -> float:
        return self.runtime.clock.now()

    def start(self) -> None:
        self.apply(self.app.start(self.now()))

    def deliver(self, message: Deliver) -> None:
        self.apply(self.app.on_deliver(message.source, message.msg_type, message.flags, message.payload,
                                       self.now(), message.sealed_by))

    def apply(self, actions: list[AppAction]) -> None:
        for action in actions:
            if isinstance(action, SendMessage):
                self.runtime.send_app(action.destination, action.payload, action.msg_type,
                                      reserve=action.reserve)
            elif isinstance(action, SetTimer):
                self._deadlines[action.key] = action.deadline
                self.schedule(max(action.deadline, self.now()), lambda k=action.key, d=action.deadline:
                              self._fire(k, d))
            else:
                self.events.append(action)
                if self.on_event is not None:
                    self.on_event(action)

    def _fire(self, key: TimerKey, deadline: float) -> None:
        if self._deadlines.get(key) != deadline:
            return  # re-armed since
        del self._deadlines[key]
        self.apply(self.app.on_timer(key, self.now()))

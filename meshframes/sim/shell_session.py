"""The simulated mesh `meshframes shell --sim` looks at: the demo's
scenario (meshframes.sim.demo, same spec, same builder), held still between
commands and advanced only when asked (`run`), with faults on demand:
fail, recover, move.

Each node answers through its own NodeControl, exactly what a
`meshframes node` answers on its control socket, so the shell shows one
thing whatever it is connected to. Nodes are named as the demo names them:
A0.. authorities, C0.. clients (account j is Cj), R0.. relays.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from meshframes.app.events import Event
from meshframes.hosts.control import NodeControl
from meshframes.hosts.control_client import NodeView, TargetError
from meshframes.sim.demo import Demo, DemoSpec
from meshframes.sim.mobility import Point, Relocated
from meshframes.sim.scenario import FastPayMesh

# One `run` advances at most this much virtual time: a typo (`run 1e9`)
# must not hold the shell for hours. Linux's slowest mesh timeout, the
# plink timeout (1800 s), still fits in one step.
MAX_RUN = 3600.0


class SimTarget:
    """The demo's mesh, built from `spec` with its SQLite stores in
    `workdir`, started and held at virtual time 0; client C0 selected."""

    def __init__(self, workdir: str | Path, spec: DemoSpec) -> None:
        self.demo = Demo(workdir, spec)
        self.mesh: FastPayMesh = self.demo.mesh
        mesh = self.mesh
        self.node_of: dict[str, int] = {}
        self.node_of.update({f"A{i}": n for i, n in enumerate(mesh.authorities)})
        self.node_of.update({f"C{j}": n for j, n in enumerate(mesh.clients)})
        relays = [n.index for n in mesh.net.nodes if n.index not in mesh.parties]
        self.node_of.update({f"R{k}": n for k, n in enumerate(relays)})
        self.name_at = {n: name for name, n in self.node_of.items()}
        self.controls: dict[int, NodeControl] = {}
        for sim_node in mesh.net.nodes:
            placed = mesh.parties.get(sim_node.index)
            control = NodeControl(sim_node.host, placed.role if placed is not None else "relay")
            sim_node.host.on_event = _also(sim_node.host.on_event, control.record)
            self.controls[sim_node.index] = control
        self._selected = mesh.clients[0]
        mesh.run(0.0)

    # -- the target ----------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return [self.name_at[n] for n in sorted(self.name_at)]

    @property
    def selected(self) -> str:
        return self.name_at[self._selected]

    @property
    def now(self) -> float:
        return self.mesh.net.now

    def use(self, name: str) -> None:
        self._selected = self.index(name)

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """The selected node's answer, given inside the simulation at the
        current instant, so that what a command starts (a transfer's
        frames and timers) is scheduled like any other event."""
        control = self.controls[self._selected]
        answers: list[dict[str, Any]] = []
        self.mesh.net.at(self.now, lambda: answers.append(control.answer(request)))
        self.mesh.net.run(self.now)
        return answers[0]

    def name_of(self, mac: str) -> str | None:
        for sim_node in self.mesh.net.nodes:
            if sim_node.mac.hex(":") == mac:
                return self.name_at[sim_node.index]
        return None

    def topology(self) -> list[NodeView]:
        return [self.view(n) for n in sorted(self.name_at)]

    def close(self) -> None:
        self.mesh.close()

    # -- simulation only -----------------------------------------------------

    def index(self, name: str) -> int:
        """A node by name (A0, C1, R2) or by its index in the simulation."""
        found = self.node_of.get(name.upper())
        if found is None and name.isdigit() and int(name) < len(self.mesh.net.nodes):
            found = int(name)
        if found is None:
            raise TargetError(f"no node {name!r}: name one as A0, C0 or R0 (`nodes` lists them),"
                              f" or by its index 0..{len(self.mesh.net.nodes) - 1}")
        return found

    def view(self, node: int) -> NodeView:
        sim_node = self.mesh.node(node)
        placed = self.mesh.parties.get(node)
        return NodeView(self.name_at[node], sim_node.mac.hex(":"), placed.role if placed is not None else "relay",
                        sim_node.radio.alive, self.position(node), self.controls[node].peers({}))

    def position(self, node: int) -> Point:
        return self.mesh.node(node).radio.mobility.position(self.now)

    def fail(self, name: str) -> None:
        """The node goes silent now: it neither sends nor hears (its
        engines keep running, as a radio switched off would leave them)."""
        node = self.index(name)
        if not self.mesh.node(node).radio.alive:
            raise TargetError(f"{self.name_at[node]} has already failed")
        self.mesh.fail(node, self.now)
        self.mesh.net.run(self.now)

    def recover(self, name: str) -> None:
        node = self.index(name)
        if self.mesh.node(node).radio.alive:
            raise TargetError(f"{self.name_at[node]} has not failed")
        self.mesh.recover(node, self.now)
        self.mesh.net.run(self.now)

    def move(self, name: str, x: float, y: float) -> None:
        """Carry the node to (x, y) now; it stays there (its walk ends)."""
        if not (math.isfinite(x) and math.isfinite(y)):
            raise TargetError(f"a position is two finite numbers in metres, got {x}, {y}")
        node = self.index(name)
        radio = self.mesh.node(node).radio
        self.mesh.net.medium.set_mobility(node, Relocated(radio.mobility, self.now, (x, y)))

    def run(self, seconds: float) -> float:
        """Advance virtual time; returns the new time."""
        if not 0 < seconds <= MAX_RUN:
            raise TargetError(f"run takes seconds of virtual time, more than 0 and at most {MAX_RUN:g};"
                              f" got {seconds:g}")
        self.mesh.run(self.now + seconds)
        return self.now


def _also(first: Callable[[Event], None] | None, then: Callable[[Event], None]) -> Callable[[Event], None]:
    """An event handler that keeps the scenario's own (its timeline) and
    adds the control's history."""
    if first is None:
        return then

    def both(event: Event) -> None:
        first(event)
        then(event)

    return both

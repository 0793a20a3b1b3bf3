"""The asking side of the node control (meshframes.hosts.control). `ask`
sends one request to a running `meshframes node` and returns its answer;
`meshframes shell` talks to a target, a set of named nodes, one of them
selected, whose requests come back as the control's answers, unchanged:
`SocketTarget` asks running nodes over their control sockets (JSON
lines), the simulated mesh's target is meshframes.sim.shell_session.

Standard library only, so an interpreter that asks many nodes (a test in
the hwsim guest, where every import costs ~13 times what it does on the
host) loads no engine.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

# A request larger than this is refused by the node before it is parsed:
# nothing a person asks needs more.
MAX_REQUEST = 4096
# An answer (a whole path table, a long history) may be far larger than a
# request, but never this large: a peer that sends more is not a node.
MAX_ANSWER = 16 * 1024 * 1024


class TargetError(Exception):
    """A request that could not be asked or answered; the message is one
    line that says what to do."""


@dataclass(frozen=True, slots=True)
class NodeView:
    """One node as a topology shows it: its peer rows are the control's
    `peers` answer; `position` is known in simulation only."""

    name: str
    mac: str | None
    role: str | None
    alive: bool
    position: tuple[float, float] | None
    peers: list[dict[str, Any]]


class ControlTarget(Protocol):
    @property
    def names(self) -> list[str]: ...

    @property
    def selected(self) -> str: ...

    def use(self, name: str) -> None: ...

    def ask(self, request: dict[str, Any]) -> dict[str, Any]: ...

    def name_of(self, mac: str) -> str | None: ...

    def topology(self) -> list[NodeView]: ...

    def close(self) -> None: ...


class ControlSocket:
    """One node's control socket, one request at a time."""

    def __init__(self, path: str, timeout: float = 5.0) -> None:
        self.path = path
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.settimeout(timeout)
        try:
            self._socket.connect(path)
        except FileNotFoundError:
            self._socket.close()
            raise TargetError(f"no control socket at {path}: start the node with"
                              f" `meshframes node ... --control {path}` first") from None
        except OSError as error:
            self._socket.close()
            raise TargetError(f"cannot connect to the control socket {path}: {error.strerror or error}") from None
        self._buffer = b""

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        line = json.dumps(request).encode() + b"\n"
        if len(line) > MAX_REQUEST:
            raise TargetError(f"the request is {len(line)} octets; a node takes at most {MAX_REQUEST}")
        try:
            self._socket.sendall(line)
            while b"\n" not in self._buffer:
                chunk = self._socket.recv(65536)
                if not chunk:
                    raise TargetError(f"the node at {self.path} hung up")
                self._buffer += chunk
                if len(self._buffer) > MAX_ANSWER:
                    raise TargetError(f"the node at {self.path} sent more than {MAX_ANSWER} octets without a newline")
        except TimeoutError:
            raise TargetError(f"the node at {self.path} did not answer in time") from None
        except OSError as error:
            raise TargetError(f"lost the node at {self.path}: {error.strerror or error}") from None
        answer_line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            answer = json.loads(answer_line)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not isinstance(answer.get("ok"), bool):
            raise TargetError(f"the node at {self.path} answered something that is not a control answer")
        return answer

    def close(self) -> None:
        self._socket.close()


def ask(path: str, request: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    """Send `request` to the node serving `path`; its answer, as
    `{"ok": true, "result": ...}` or `{"ok": false, "error": ..., "detail": ...}`.
    Raises TargetError when the node cannot be asked."""
    node = ControlSocket(path, timeout)
    try:
        return node.ask(request)
    finally:
        node.close()


class SocketTarget:
    """Running nodes, one control socket each, named after their socket
    files (`a0.sock` is `a0`; a name taken twice gets its place appended)."""

    def __init__(self, paths: Sequence[str], timeout: float = 5.0) -> None:
        if not paths:
            raise TargetError("no control socket given")
        self._nodes: dict[str, ControlSocket] = {}
        try:
            for k, path in enumerate(paths):
                name = os.path.splitext(os.path.basename(path))[0] or str(k)
                if name in self._nodes:
                    name = f"{name}-{k}"
                self._nodes[name] = ControlSocket(path, timeout)
        except TargetError:
            self.close()
            raise
        self._selected = next(iter(self._nodes))
        self._macs: dict[str, str] = {}

    @property
    def names(self) -> list[str]:
        return list(self._nodes)

    @property
    def selected(self) -> str:
        return self._selected

    def use(self, name: str) -> None:
        if name not in self._nodes:
            raise TargetError(f"no node {name!r}; the nodes are {', '.join(self._nodes)}")
        self._selected = name

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._nodes[self._selected].ask(request)

    def name_of(self, mac: str) -> str | None:
        if len(self._macs) < len(self._nodes):
            self._learn_macs()
        return self._macs.get(mac)

    def topology(self) -> list[NodeView]:
        views = []
        for name, node in self._nodes.items():
            status = _result(node, {"command": "status"})
            peers = _result(node, {"command": "peers"})
            views.append(NodeView(name, status.get("mac"), status.get("role"), True, None, peers))
        return views

    def close(self) -> None:
        for node in self._nodes.values():
            node.close()

    def _learn_macs(self) -> None:
        for name, node in self._nodes.items():
            mac = _result(node, {"command": "status"}).get("mac")
            if isinstance(mac, str):
                self._macs[mac] = name


def _result(node: ControlSocket, request: dict[str, Any]) -> Any:
    answer = node.ask(request)
    if not answer["ok"]:
        raise TargetError(f"the node at {node.path} refused {request['command']}: {answer.get('detail')}")
    return answer["result"]

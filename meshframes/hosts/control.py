"""What a person asks a running node, and its answers: status, peers, paths,
the parties it discovered, balances (now, or as the node started), history,
the committee's accounts, and a transfer on demand.

One request is a JSON object `{"command": NAME, ...arguments}`; its answer
is `{"ok": true, "result": ...}` or `{"ok": false, "error": REASON,
"detail": TEXT}`, plain JSON values only (MACs as "02:00:..", keys as hex).
A `meshframes node` serves them on its control socket, one JSON object per
line (`ControlServer`); `meshframes shell` asks them of the nodes of a
simulation directly through `answer`. Both read the engines' own state,
so what a person sees is what the engines hold.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from meshframes.app.authority_node import AuthorityNode
from meshframes.app.client_node import ClientNode
from meshframes.app.events import (
    CertificateReceived,
    Event,
    Handled,
    MessageRefused,
    TransferCertified,
    TransferConfirmed,
    TransferNotStarted,
    TransferStarted,
)
from meshframes.mesh.pathtable import PathFlags

from .control_client import MAX_REQUEST
from .node import NodeHost, PartyHost

# Events kept for `history`, oldest dropped first.
HISTORY_LIMIT = 256


class ControlRefusal(StrEnum):
    """Why a request was not answered."""

    NOT_JSON = "not-json"
    TOO_LARGE = "request-too-large"
    UNKNOWN_COMMAND = "unknown-command"
    BAD_ARGUMENT = "bad-argument"
    NOT_A_CLIENT = "not-a-client"
    TRANSFER_REFUSED = "transfer-refused"
    MESH_UNAVAILABLE = "mesh-unavailable"
    NO_LINK_KEYS = "no-link-keys"


class ControlError(Exception):
    def __init__(self, reason: ControlRefusal, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _mac(addr: bytes | None) -> str | None:
    return None if addr is None else addr.hex(":")


class MeshView(Protocol):
    """Where a node's answers about the mesh come from: our own MeshNode
    (`EngineMeshView`), or the kernel's mesh on the mesh transport
    (meshframes.hosts.kernel_mesh.KernelMeshView). A view that cannot
    read its mesh raises ControlError(MESH_UNAVAILABLE)."""

    def status(self, now: float) -> dict[str, Any]:
        """mesh_id, secure, peers_established, paths_active, refusals."""
        ...

    def peers(self, now: float) -> list[dict[str, Any]]:
        """One row per peer: mac, state, signal_dbm, last_seen_s, metric, hops."""
        ...

    def paths(self, now: float) -> list[dict[str, Any]]:
        """One row per path: destination, next_hop, metric, hops, sn,
        expires_in_s, active."""
        ...

    def gates(self, now: float) -> list[dict[str, Any]]:
        """One row per known mesh gate: mac, learned_from, sn, hops,
        heard_from, expires_in_s."""
        ...


@dataclass(slots=True)
class EngineMeshView:
    """The mesh as our own engines hold it (the monitor transport and the
    simulator)."""

    host: NodeHost

    def status(self, now: float) -> dict[str, Any]:
        node = self.host.node
        return {
            "mesh_id": node.config.mesh_id.decode(errors="replace"),
            "secure": node.config.secure,
            "peers_established": node.peers.established_count,
            "paths_active": sum(1 for p in node.paths if p.usable(now)),
            "refusals": sum(node.counters.values()),
        }

    def peers(self, now: float) -> list[dict[str, Any]]:
        node = self.host.node
        rows = []
        for peer in node.peers:
            path = node.paths.lookup(peer.addr)
            rows.append({
                "mac": _mac(peer.addr),
                "state": peer.state.value,
                "signal_dbm": peer.signal_dbm,
                "last_seen_s": round(now - peer.last_seen, 3),
                "metric": node.peers.metric(peer.addr),
                "hops": path.hop_count if path is not None and path.usable(now) else None,
            })
        return rows

    def paths(self, now: float) -> list[dict[str, Any]]:
        return [{
            "destination": _mac(p.dst),
            "next_hop": _mac(p.next_hop),
            "metric": p.metric,
            "hops": p.hop_count,
            "sn": p.sn,
            "expires_in_s": round(p.exp_time - now, 3),
            "active": bool(p.flags & PathFlags.ACTIVE) and p.usable(now),
        } for p in self.host.node.paths]

    def gates(self, now: float) -> list[dict[str, Any]]:
        return [{
            "mac": _mac(g.addr),
            "learned_from": str(g.source),
            "sn": g.sn,
            "hops": g.hop_count,
            "heard_from": _mac(g.heard_from),
            "expires_in_s": round(g.expires() - now, 3),
        } for g in self.host.node.hwmp.gates.known(now)]


@dataclass(slots=True)
class NodeControl:
    """The answers of one node, read from its host's engines. `role` is
    what the node was started as (authority, client, relay); `mesh` where
    peers and paths are read (by default the host's own MeshNode)."""

    host: PartyHost
    role: str
    mesh: MeshView | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    # The balances the node held when it started: what its store gave back
    # after a restart, kept because the mesh may catch it up before anyone
    # asks.
    started_with: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        if self.mesh is None:
            if not isinstance(self.host, NodeHost):
                raise TypeError("a host without a MeshNode needs a MeshView")
            self.mesh = EngineMeshView(self.host)
        self.started_with = self._held()

    @property
    def _mesh(self) -> MeshView:
        assert self.mesh is not None  # set in __post_init__
        return self.mesh

    def record(self, event: Event) -> None:
        """Keep an application event for `history` (the host's `on_event`)."""
        self.history.append(_describe(event))
        del self.history[:-HISTORY_LIMIT]

    def answer(self, request: object) -> dict[str, Any]:
        try:
            if not isinstance(request, dict) or not isinstance(request.get("command"), str):
                raise ControlError(ControlRefusal.BAD_ARGUMENT, 'a request is {"command": NAME, ...}')
            handler = _COMMANDS.get(request["command"])
            if handler is None:
                raise ControlError(ControlRefusal.UNKNOWN_COMMAND,
                                   f"got {request['command']!r}, expected one of {', '.join(sorted(_COMMANDS))}")
            return {"ok": True, "result": handler(self, request)}
        except ControlError as error:
            return {"ok": False, "error": str(error.reason), "detail": error.detail}

    # -- commands ------------------------------------------------------------

    def status(self, _request: dict[str, Any]) -> dict[str, Any]:
        now, party = self.host.clock.now(), self.host.party
        mesh = self._mesh.status(now)
        return {
            "mac": _mac(self.host.mac),
            "role": self.role,
            "identity": party.identity.hex() if party is not None else None,
            **mesh,
            "time": now,
        }

    def peers(self, _request: dict[str, Any]) -> list[dict[str, Any]]:
        rows = []
        for row in self._mesh.peers(self.host.clock.now()):
            identity, role = self._who(bytes.fromhex(row["mac"].replace(":", "")))
            rows.append({"mac": row["mac"], "role": role, "identity": identity, **row})
        return rows

    def paths(self, _request: dict[str, Any]) -> list[dict[str, Any]]:
        return self._mesh.paths(self.host.clock.now())

    def gates(self, _request: dict[str, Any]) -> list[dict[str, Any]]:
        return self._mesh.gates(self.host.clock.now())

    def authorities(self, _request: dict[str, Any]) -> list[dict[str, Any]]:
        party = self.host.party
        if party is None:
            return []
        return [{"identity": b.identity.hex(), "mac": _mac(b.mac), "weight": b.weight,
                 "authenticated": b.authenticated_at is not None}
                for b in party.directory.bindings() if b.weight > 0]

    def balances(self, request: dict[str, Any]) -> dict[str, Any]:
        at = request.get("at", "now")
        if at not in ("now", "start"):
            raise ControlError(ControlRefusal.BAD_ARGUMENT, f'at must be "now" or "start", got {at!r}')
        return dict(self.started_with) if at == "start" else self._held()

    def _held(self) -> dict[str, Any]:
        party = self.host.party
        if isinstance(party, ClientNode):
            return {party.identity.hex(): {"balance": party.engine.balance,
                                           "next_sequence_number": party.engine.next_sequence_number}}
        if isinstance(party, AuthorityNode):
            return {address.hex(): {"balance": state.balance, "next_sequence_number": state.next_sequence_number}
                    for address, state in sorted(party.engine.accounts().items())}
        return {}

    def accounts(self, _request: dict[str, Any]) -> list[dict[str, Any]]:
        """The committee's funded accounts in committee order: an account's
        number (what a person types to pay it) is its place in the
        committee, the same at every node. A relay holds no committee."""
        party = self.host.party
        if party is None:
            return []
        return [{"number": j, "key": account.address.hex(), "genesis_balance": account.balance}
                for j, account in enumerate(party.committee.accounts)]

    def history_of(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        last = request.get("last", HISTORY_LIMIT)
        if not isinstance(last, int) or last < 0:
            raise ControlError(ControlRefusal.BAD_ARGUMENT, f"last must be a whole number >= 0, got {last!r}")
        return self.history[len(self.history) - min(last, len(self.history)):]

    def transfer(self, request: dict[str, Any]) -> dict[str, Any]:
        party = self.host.party
        if not isinstance(party, ClientNode):
            raise ControlError(ControlRefusal.NOT_A_CLIENT, f"this node is a {self.role}; only a client pays")
        recipient, amount = request.get("recipient"), request.get("amount")
        try:
            key = bytes.fromhex(recipient) if isinstance(recipient, str) else b""
        except ValueError:
            key = b""
        if len(key) != 32:
            raise ControlError(ControlRefusal.BAD_ARGUMENT,
                               f"recipient must be a 32-octet account key in hex, got {recipient!r}")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise ControlError(ControlRefusal.BAD_ARGUMENT, f"amount must be a whole number > 0, got {amount!r}")
        if amount > party.engine.balance:
            raise ControlError(ControlRefusal.TRANSFER_REFUSED,
                               f"amount {amount} exceeds the balance {party.engine.balance}")
        self.host.command(lambda now: party.transfer(key, amount, now))
        return {"queued": True, "recipient": key.hex(), "amount": amount}

    # -- internals -----------------------------------------------------------

    def keys(self, _request: dict[str, Any]) -> dict[str, Any]:
        """The temporal keys our secure mesh's seal holds now, as a key
        file (meshframes.seal.keyfile), for decrypting a capture."""
        rsn = self.host.node.rsn if isinstance(self.host, NodeHost) else None
        if rsn is None:
            raise ControlError(ControlRefusal.NO_LINK_KEYS,
                               "this node holds no link keys: an open mesh, or the kernel's mesh transport "
                               "(whose keys wpa_supplicant -d -K logs)")
        return rsn.capture_keys().to_json()

    def _who(self, mac: bytes) -> tuple[str | None, str | None]:
        party = self.host.party
        if party is None:
            return None, None
        identity = party.directory.identity_of(mac)
        if identity is None:
            return None, None
        role = "authority" if party.directory.is_authority(identity) else "client"
        return identity.hex(), role


_COMMANDS: dict[str, Callable[[NodeControl, dict[str, Any]], Any]] = {
    "accounts": NodeControl.accounts,
    "status": NodeControl.status,
    "peers": NodeControl.peers,
    "paths": NodeControl.paths,
    "gates": NodeControl.gates,
    "authorities": NodeControl.authorities,
    "balances": NodeControl.balances,
    "history": NodeControl.history_of,
    "keys": NodeControl.keys,
    "transfer": NodeControl.transfer,
}
COMMANDS = tuple(sorted(_COMMANDS))


def _describe(event: Event) -> dict[str, Any]:
    """An application event as the history shows it."""
    row: dict[str, Any] = {"time": event.time, "event": type(event).__name__}
    if isinstance(event, (TransferStarted, TransferNotStarted)):
        row.update(recipient=event.recipient.hex(), amount=event.amount)
    if isinstance(event, (TransferStarted, TransferCertified, TransferConfirmed, CertificateReceived)):
        row["sequence_number"] = event.sequence_number
    if isinstance(event, CertificateReceived):
        row.update(sender=event.sender.hex(), amount=event.amount)
    if isinstance(event, TransferCertified):
        row.update(signers=[signer.hex() for signer in event.signers], weight=event.weight)
    if isinstance(event, (TransferNotStarted, MessageRefused)):
        row["reason"] = str(event.reason)
    if isinstance(event, Handled):
        row.update(outcome=str(event.outcome), sender=event.sender.hex(), sequence_number=event.sequence_number)
    return row


class ControlServer:
    """A unix socket that answers JSON-line requests with `NodeControl`,
    polled from the node's loop: it never blocks and never holds more than
    `max_clients` connections or `MAX_REQUEST` octets per client."""

    def __init__(self, path: str, control: NodeControl, max_clients: int = 8) -> None:
        self.path = path
        self.control = control
        self.max_clients = max_clients
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(path)
        os.chmod(path, 0o600)
        self._listener.listen(max_clients)
        self._listener.setblocking(False)
        self._clients: dict[socket.socket, bytearray] = {}
        # Clients told their request was too large: what they still send is
        # read and dropped until they hang up, so that closing does not
        # reset the connection before they read why.
        self._closing: set[socket.socket] = set()

    def fileno(self) -> int:
        return self._listener.fileno()

    def sockets(self) -> list[socket.socket]:
        """What the node's loop waits on for reading."""
        return [self._listener, *self._clients]

    def poll(self) -> None:
        """Accept waiting clients and answer every complete request."""
        while len(self._clients) < self.max_clients:
            try:
                client, _ = self._listener.accept()
            except BlockingIOError:
                break
            client.setblocking(False)
            self._clients[client] = bytearray()
        for client in list(self._clients):
            self._serve(client)

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
        self._closing.clear()
        self._listener.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def _serve(self, client: socket.socket) -> None:
        buffer = self._clients[client]
        while True:
            try:
                chunk = client.recv(MAX_REQUEST)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self._drop(client)
                return
            if client in self._closing:
                continue
            buffer += chunk
            while b"\n" in buffer:
                line, _, rest = bytes(buffer).partition(b"\n")
                buffer[:] = rest
                self._reply(client, self._answer_line(line))
            if len(buffer) >= MAX_REQUEST:
                self._reply(client, {"ok": False, "error": str(ControlRefusal.TOO_LARGE),
                                     "detail": f"a request is at most {MAX_REQUEST} octets"})
                buffer.clear()
                self._closing.add(client)
                with contextlib.suppress(OSError):
                    client.shutdown(socket.SHUT_WR)

    def _answer_line(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except ValueError as error:
            return {"ok": False, "error": str(ControlRefusal.NOT_JSON), "detail": str(error)}
        return self.control.answer(request)

    def _reply(self, client: socket.socket, answer: dict[str, Any]) -> None:
        try:
            client.sendall(json.dumps(answer).encode() + b"\n")
        except OSError:
            self._drop(client)

    def _drop(self, client: socket.socket) -> None:
        self._clients.pop(client, None)
        self._closing.discard(client)
        client.close()

"""Our own mesh STA on a hwsim radio, in the guest: a MeshNode driven by
NodeHost over a MonitorRadio on CLOCK_MONOTONIC, the frames moving as
bytes through a raw packet socket and the struct codec (Scapy costs ~15 ms
a frame under TCG, hwsim.md; it is never imported here).

Each node runs in a thread of a persistent guest interpreter, so the host
reaches it with Guest.call: start it, send through it, read its peer and
path tables, stop it. Several nodes may share one interpreter (importing
the engines costs 5-20 s under TCG; paying it once per test instead of once
per node is most of a scenario's time): each radio stays in its own
network namespace, and its socket is opened from inside that namespace
(setns on the opening thread only) and keeps working from any thread.
A node's thread sleeps in select() on the radio and a wake-up pipe until a
frame arrives or the next engine timer is due; calls from the host take
the same lock as the loop, and wake it so that timers they arm are
honoured at once.

The radio should be an active monitor (Node.make_userspace): hwsim then
acknowledges unicast frames to our address, the TX reports the node's link
metric and failure detection read say "acked", and kernel peers see their
frames to us succeed.
"""

from __future__ import annotations

import ctypes
import os
import select
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from functools import partial
from typing import Any, TypeVar

from meshframes.codec.fastpay import FastPayFragment
from meshframes.hosts.base import MonotonicClock
from meshframes.hosts.monitor import MonitorRadio
from meshframes.hosts.node import NodeHost
from meshframes.hwsim.wait import scaled
from meshframes.mesh.constants import MeshConfig
from meshframes.mesh.events import (
    Action,
    Deliver,
    DeliverData,
    PathChanged,
    PathFailed,
    PeerChanged,
    Refused,
    Transmit,
)
from meshframes.mesh.node import MeshNode
from meshframes.mesh.pathtable import PathFlags

# The longest the loop sleeps with no timer due: how soon it notices stop().
IDLE_WAIT = 0.5
# How long stop() waits for the loop to end (scaled by the harness's pace).
STOP_GRACE = 5.0
CLONE_NEWNET = 0x40000000  # linux/sched.h
T = TypeVar("T")

_nodes: dict[str, UserNode] = {}


@contextmanager
def in_netns(name: str | None) -> Iterator[None]:
    """Run the body with this thread in network namespace `name` (as `ip
    netns` names it), then return the thread to its own."""
    if name is None:
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into network namespace {name} failed")
        try:
            yield
        finally:
            if libc.setns(own, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back into our own network namespace failed")
    finally:
        os.close(own)
        os.close(target)


class UserNode:
    def __init__(self, ifname: str, netns: str | None, config: MeshConfig, seed: int) -> None:
        # addressed_only: frames for other stations are dropped before they
        # are decoded, as a station's receive filter would drop them.
        with in_netns(netns):
            self.radio = MonitorRadio(ifname, addressed_only=True)
        self.node = MeshNode(self.radio.mac, config, seed=seed)
        self.clock = MonotonicClock()
        self.started = self.clock.now()
        self.deliveries: list[dict[str, Any]] = []
        self.events: list[tuple[float, str, str]] = []
        self.transmitted: Counter[str] = Counter()
        self.failure: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        self.message_id = 0
        self.host = NodeHost(self.node, self.radio, self.clock, on_deliver=self._delivered,
                             on_data=self._delivered, observer=self._observe)
        self._thread = threading.Thread(target=self._loop, name=f"usernode-{ifname}", daemon=True)

    def start(self, probe: bytes | None = None) -> None:
        with self._lock:
            self.host.start()
            if probe is not None:
                self.host.probe(probe)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        os.write(self._wake_write, b"x")
        self._thread.join(scaled(STOP_GRACE))
        self.radio.close()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def locked(self, operation: Callable[[], T]) -> T:
        """Run `operation()` under the loop's lock, then wake the loop so it
        honours any timer the operation armed."""
        self._check()
        with self._lock:
            result = operation()
        os.write(self._wake_write, b"x")
        return result

    def state(self) -> dict[str, Any]:
        """Peer and path tables, counters and what arrived, as plain data."""
        self._check()
        with self._lock:
            now = self.clock.now()
            node = self.node
            return {
                "mac": node.mac.hex(":"),
                "peers": {peer.addr.hex(":"): {"state": peer.state.value, "llid": peer.llid,
                                               "plid": peer.plid, "tx_failures": peer.tx_failures,
                                               "tx_successes": peer.tx_successes}
                          for peer in node.peers},
                "paths": {path.dst.hex(":"): {
                    "next_hop": path.next_hop.hex(":") if path.next_hop else None,
                    "metric": path.metric, "sn": path.sn, "hop_count": path.hop_count,
                    "active": path.usable(now), "resolving": bool(path.flags & PathFlags.RESOLVING)}
                    for path in node.paths},
                "gates": {gate.addr.hex(":"): {"source": str(gate.source), "sn": gate.sn,
                                               "hop_count": gate.hop_count,
                                               "heard_from": gate.heard_from.hex(":")}
                          for gate in node.hwmp.gates.known(now)},
                # Plain strings: the reply is unpickled where the engines'
                # enums (and the crypto they import) may not load.
                "counters": {str(key): count for key, count in node.counters.items()},
                "transmitted": dict(self.transmitted),
                "radio": asdict(self.radio.stats),
                "deliveries": list(self.deliveries),
                "events": list(self.events),
                "sae": self._sae_state(),
            }

    def _sae_state(self) -> dict[str, Any]:
        """SAE's completed peers (hex MAC -> PMKID) and its instances' states."""
        rsn = self.node.rsn
        if rsn is None or rsn.sae is None:
            return {}
        return {"pmkids": {peer.hex(":"): pmkid for peer, (_, pmkid) in rsn.sae_pmks.items()},
                "instances": {peer.hex(":"): instance.state.value for peer, instance in rsn.sae.instances.items()},
                "refused": {str(k): v for k, v in rsn.sae.refused.items()},
                "failed": {str(k): v for k, v in rsn.sae.failed.items()}}

    def keys(self) -> dict[str, bytes]:
        """A secure node's MGTK and the MTK of each established link (hex
        MAC -> key), for an independent decryption of a recording."""
        rsn = self.node.rsn
        if rsn is None:
            return {}
        with self._lock:
            keys = {"mgtk": rsn.mgtk.tk}
            for peer in self.node.peers.established():
                mtk = rsn.link_key(peer.addr)
                if mtk is not None:
                    keys[peer.addr.hex(":")] = mtk
            return keys

    def capture_keys(self) -> dict[str, Any]:
        """What `meshframes keys export` asks a running node: the key file
        (meshframes.seal.keyfile) of every key its seal holds now."""
        rsn = self.node.rsn
        if rsn is None:
            return {}
        with self._lock:
            return rsn.capture_keys().to_json()

    # -- the loop (its own thread) -------------------------------------------

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                with self._lock:
                    self.host.poll()
                    deadline = self.host.next_deadline()
                wait = IDLE_WAIT if deadline is None else min(IDLE_WAIT, deadline - self.clock.now())
                if wait > 0:
                    readable, _, _ = select.select([self.radio.fileno(), self._wake_read], [], [], wait)
                    if self._wake_read in readable:
                        os.read(self._wake_read, 4096)
        except Exception:
            self.failure = traceback.format_exc()

    def _check(self) -> None:
        if self.failure is not None:
            raise RuntimeError(f"the node's loop died:\n{self.failure}")

    def _since(self) -> float:
        return round(self.clock.now() - self.started, 3)

    def _observe(self, now: float, action: Action) -> None:
        if isinstance(action, PeerChanged) and action.old != action.new:
            self.events.append((self._since(), "peer",
                                f"{action.peer.hex(':')} {action.old} -{action.event}-> {action.new}"))
        elif isinstance(action, PathChanged):
            via = action.next_hop.hex(":") if action.next_hop else "none"
            self.events.append((self._since(), "path", f"{action.destination.hex(':')} via {via} "
                                f"metric {action.metric} sn {action.sn} hops {action.hop_count}"))
        elif isinstance(action, PathFailed):
            self.events.append((self._since(), "path-failed", action.destination.hex(":")))
        elif isinstance(action, Refused):
            self.events.append((self._since(), "refused", f"{action.reason} {action.detail}".strip()))
        elif isinstance(action, Transmit):
            self.transmitted[type(action.frame).__name__] += 1

    def _delivered(self, message: Deliver | DeliverData) -> None:
        if isinstance(message, Deliver):
            self.deliveries.append({"kind": "app", "source": message.source, "msg_type": message.payload.msg_type,
                                    "payload": message.payload.data, "at": self._since()})
        else:
            self.deliveries.append({"kind": "data", "source": message.source,
                                    "destination": message.destination, "body": message.body,
                                    "mesh_source": message.mesh_source,
                                    "at": self._since()})


# -- what the host calls (Guest.call("meshframes.hwsim.usernode:...")) -----------

def start(name: str, ifname: str, *, radio_netns: str | None = None, mesh_id: bytes = b"meshframes",
          passphrase: str | None = None, sae: bool = False, basic_rates: tuple[int, ...] = (2,),
          seed: int = 0, probe: bytes | None = None) -> str:
    """Start node `name` on monitor `ifname` of namespace `radio_netns`
    (Guest.call's own `netns` picks the interpreter); returns its MAC.
    `sae`: a secure mesh whose pairs authenticate with SAE first;
    `basic_rates`: the basic rate set its peers use (MeshConfig); `probe`:
    a station sent the Probe Request of an unheard neighbour as the node
    starts, before anything else it sends."""
    stop(name)
    config = MeshConfig(mesh_id=mesh_id, passphrase=passphrase, sae=sae, basic_rates=basic_rates)
    node = UserNode(ifname, radio_netns, config, seed)
    _nodes[name] = node
    node.start(probe)
    return node.node.mac.hex(":")


def stop(name: str) -> dict[str, Any] | None:
    """Stop node `name`; returns its final state (None if it was not running)."""
    node = _nodes.pop(name, None)
    if node is None:
        return None
    try:
        return node.state()
    finally:
        node.stop()


def state(name: str) -> dict[str, Any]:
    return _nodes[name].state()


def keys(name: str) -> dict[str, bytes]:
    return _nodes[name].keys()


def capture_keys(name: str) -> dict[str, Any]:
    return _nodes[name].capture_keys()


def send_app(name: str, dst: bytes, payloads: list[bytes], msg_type: int) -> None:
    """Send FastPay messages of `msg_type` to `dst`, each in one frame."""
    node = _nodes[name]
    for payload in payloads:
        node.message_id = (node.message_id + 1) & 0xFFFF
        fragment = FastPayFragment(msg_type, 0, node.message_id, 0, 1, payload)
        node.locked(partial(node.host.send_payload, dst, fragment))


def send_data(name: str, dst: bytes, bodies: list[bytes]) -> None:
    """Send mesh data frames carrying `bodies` (LLC onwards) to `dst`."""
    node = _nodes[name]
    for body in bodies:
        node.locked(partial(node.host.send_data, dst, body))


"""A mesh of MeshNodes on the simulated medium: building topologies,
scheduling scenario events (sends, failures, recoveries) and running
them in virtual time.

Each node is a MeshNode, with the application party it runs if any, on a
NodeHost over a SimRadio, exactly as it would be over a real radio; the
network only decides when each host is polled: when a frame or report
reaches it, or when its next timer is due.

A mesh is secure when its MeshConfig has a passphrase; each node then
draws its AMPE nonces, MGTK and SAE secrets from the run's seed (a real
node uses os.urandom), so a secure run replays bit for bit too. `add_radio` puts a
bare radio on the air, driven by the test itself: an attacker or a sniffer.
"""

from __future__ import annotations

import random
import struct
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from meshframes.analysis.verdict import kind_of
from meshframes.app.events import AppAction, Event
from meshframes.app.party import Party
from meshframes.codec import Frame
from meshframes.codec.fastpay import FastPayFragment, MessageType
from meshframes.hosts.base import Radio
from meshframes.hosts.node import FrameLayer, NodeHost
from meshframes.hosts.pcap import PcapWriter
from meshframes.mesh.constants import MeshConfig, RootMode
from meshframes.mesh.events import Action, Deliver, DeliverData
from meshframes.mesh.node import MeshNode
from meshframes.mesh.peers import PlinkState
from meshframes.seal.hop import GroupOpenings
from meshframes.seal.sae import SharedPwes
from meshframes.sim.medium import Medium, MediumConfig, SimRadio
from meshframes.sim.mobility import Mobility, Point, RandomWaypoint, Static
from meshframes.sim.scheduler import Scheduler, SimClock

# The processing time of a simulated device between hearing a frame it
# relays and sending it on: ns-3's mesh point ForwardingDelay, U(300, 400) us
# (src/mesh/model/mesh-point-device.cc), applied there to every relayed
# frame, group or individually addressed.
DEVICE_FORWARDING_DELAY = (300e-6, 400e-6)
# The run's air goes to its pcap as it is sent and is read only once the
# run is over: written a mebibyte at a time (a 120 s demo writes 9 MB).
_AIR_PCAP_BUFFER = 1 << 20


def sim_mac(index: int) -> bytes:
    """02:00:00:00:hh:ll, locally administered, like hwsim's addresses."""
    return bytes((0x02, 0, 0, 0)) + (index + 1).to_bytes(2, "big")


@dataclass(frozen=True, slots=True)
class Delivery:
    time: float
    node: int
    message: Deliver | DeliverData


@dataclass(slots=True)
class SimNode:
    index: int
    node: MeshNode
    host: NodeHost
    radio: SimRadio
    wake_at: float | None = None
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def mac(self) -> bytes:
        return self.node.mac


class SimNetwork:
    def __init__(self, seed: int = 1, *, mesh: MeshConfig | None = None, medium: MediumConfig | None = None,
                 pcap: str | Path | None = None,
                 observer: Callable[[int, float, Action], None] | None = None,
                 observed: Collection[type] | None = None,
                 forwarding_delay: tuple[float, float] = DEVICE_FORWARDING_DELAY) -> None:
        """`forwarding_delay` is the simulated devices' processing time for
        a relayed frame; it replaces the MeshConfig's (which is a real
        node's, none added) on every node of the network."""
        self.seed = seed
        self.forwarding_delay = forwarding_delay
        self.mesh_config = replace(mesh or MeshConfig(), forwarding_delay=forwarding_delay)
        self.scheduler = Scheduler()
        self.clock = SimClock(self.scheduler)
        self.medium = Medium(self.scheduler, medium, seed)
        # The secure stations' shared caches of group frames opened (each
        # broadcast is decrypted once, however many stations hear it) and
        # of SAE password elements (each pair's is worked out once).
        self.group_openings = GroupOpenings()
        self.shared_pwes = SharedPwes()
        self.medium.on_activity = self._activity
        self.nodes: list[SimNode] = []
        self.deliveries: list[Delivery] = []
        self.observer = observer
        # The action types `observer` is shown; None: every action.
        self.observed = observed
        self._seeds = random.Random(seed)
        self._started = False
        if pcap is not None:
            self.medium.pcap = PcapWriter(pcap, buffering=_AIR_PCAP_BUFFER)

    # -- building ----------------------------------------------------------

    def add_node(self, where: Point | Mobility, *, radio_range: float | None = None,
                 config: MeshConfig | None = None, layers: Sequence[FrameLayer] = (),
                 wrap_radio: Callable[[Radio], Radio] | None = None,
                 party: Callable[[bytes], Party] | None = None,
                 on_event: Callable[[int, Event], None] | None = None) -> SimNode:
        """`party` makes the application the node runs from its MAC (none:
        a relay); `on_event` sees its events with the node's index.
        `layers` go between the node and the air in its host (a secure
        mesh adds its link security below them); `wrap_radio` puts
        something between the host and the simulated radio, as a fault
        injector would sit on a real one."""
        index = len(self.nodes)
        if len(self.medium.radios) != index:
            raise ValueError("add bare radios after the nodes: a node's index is its radio's")
        mobility = Static(where) if isinstance(where, tuple) else where
        mac = sim_mac(index)
        radio = self.medium.add_radio(mac, mobility, radio_range)
        config = self.mesh_config if config is None else replace(config, forwarding_delay=self.forwarding_delay)
        seed = self._seeds.getrandbits(32)
        if config.secure:
            # A stream of its own per node, not a draw from the run's seeds:
            # the walks and timings drawn after this node are then the same
            # in a secure run and an open one, so the two compare on the
            # same field.
            secrets = random.Random(f"meshframes/sim/secure/{self.seed}/{index}")
            node = MeshNode(mac, config, seed=seed, random_bytes=secrets.randbytes,
                            group_openings=self.group_openings, shared_pwes=self.shared_pwes)
        else:
            node = MeshNode(mac, config, seed=seed)
        sim_node: SimNode
        # A partial, not a lambda: it is called for every action of every node.
        observer = None if self.observer is None else partial(self.observer, index)
        events = None
        if on_event is not None:
            events = lambda e: on_event(index, e)  # noqa: E731
        host = NodeHost(node, radio if wrap_radio is None else wrap_radio(radio), self.clock,
                        party=None if party is None else party(mac), layers=layers,
                        on_deliver=lambda d: self._delivered(sim_node, d),
                        on_data=lambda d: self._delivered(sim_node, d), on_event=events, observer=observer,
                        observed=self.observed,
                        on_transmit=lambda frame, _mpdu: self._label(radio, frame))
        sim_node = SimNode(index, node, host, radio)
        self.nodes.append(sim_node)
        if self._started:
            self._start_node(sim_node)
        return sim_node

    def observe_all(self) -> None:
        """From now on the observer sees every action, not only the types
        the network was built to show it."""
        self.observed = None
        for sim_node in self.nodes:
            sim_node.host.observed = None

    def add_radio(self, where: Point | Mobility, mac: bytes, *, radio_range: float | None = None) -> SimRadio:
        """A radio with no node behind it: what it hears waits in its
        receive queue and what it transmits goes on the air as given."""
        mobility = Static(where) if isinstance(where, tuple) else where
        return self.medium.add_radio(mac, mobility, radio_range)

    def random_waypoint(self, area: tuple[float, float], speed: tuple[float, float],
                        pause: float = 0.0) -> RandomWaypoint:
        rng = self._seeds
        start = (rng.uniform(0, area[0]), rng.uniform(0, area[1]))
        return RandomWaypoint(start, area, speed, rng.getrandbits(32), pause)

    # -- scenario events ---------------------------------------------------

    def at(self, when: float, callback: Callable[[], None]) -> None:
        self.scheduler.at(when, self._external, callback)

    def send_payload(self, src: int, dst: int | bytes, data: bytes, at: float,
                     msg_type: MessageType = MessageType.FASTPAY_ORDER) -> None:
        """Node `src` puts `data` on the mesh towards `dst` in one of our
        vendor frames (one fragment, unsealed), as a party's transport would."""
        target = dst if isinstance(dst, bytes) else self.nodes[dst].mac
        payload = FastPayFragment(msg_type, 0, 0, 0, 1, data)
        self._at_node(src, at, lambda: self.nodes[src].host.send_payload(target, payload))

    def command(self, node: int, command: Callable[[float], list[AppAction]], at: float) -> None:
        """Run a command of node `node`'s party at virtual time `at`."""
        self._at_node(node, at, lambda: self.nodes[node].host.command(command))

    def send_data(self, src: int, dst: int | bytes, body: bytes, at: float) -> None:
        target = dst if isinstance(dst, bytes) else self.nodes[dst].mac
        self._at_node(src, at, lambda: self.nodes[src].host.send_data(target, body))

    def set_root_mode(self, node: int, mode: RootMode, at: float) -> None:
        """Node `node` takes HWMP root mode `mode` at virtual time `at`, as
        an operator sets mesh_hwmp_rootmode on a running Linux mesh."""
        host = self.nodes[node].host
        self._at_node(node, at, lambda: host.set_root_mode(mode))

    def fail(self, index: int, at: float) -> None:
        self.at(at, lambda: self.medium.set_alive(index, False))

    def recover(self, index: int, at: float) -> None:
        self.at(at, lambda: self.medium.set_alive(index, True))

    # -- running -----------------------------------------------------------

    def start(self) -> None:
        if not self._started:
            self._started = True
            for sim_node in self.nodes:
                self._start_node(sim_node)

    def run(self, until: float) -> None:
        self.start()
        self.scheduler.run(until)

    @property
    def now(self) -> float:
        return self.scheduler.now

    def trace_digest(self) -> str:
        return self.medium.trace_digest()

    def close(self) -> None:
        if self.medium.pcap is not None:
            self.medium.pcap.close()
            self.medium.pcap = None

    # -- views -------------------------------------------------------------

    def established_links(self) -> int:
        """Peerings in ESTAB, each counted once per side."""
        return sum(n.node.peers.established_count for n in self.nodes)

    def counters(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for n in self.nodes:
            total.update(n.node.counters)
        return total

    def path_of(self, src: int, dst: int) -> list[int] | None:
        """Follow next hops from src to dst through the path tables now."""
        by_mac = {n.mac: n.index for n in self.nodes}
        hops = [src]
        target = self.nodes[dst].mac
        while hops[-1] != dst:
            nh = self.nodes[hops[-1]].node.next_hop(target, self.now)
            if nh is None or by_mac[nh] in hops or len(hops) > len(self.nodes):
                return None
            hops.append(by_mac[nh])
        return hops

    def peer_state(self, a: int, b: int) -> PlinkState | None:
        return self.nodes[a].node.peer_state(self.nodes[b].mac)

    # -- internals ---------------------------------------------------------

    def _start_node(self, sim_node: SimNode) -> None:
        sim_node.host.start()
        self._reschedule(sim_node)

    def _external(self, callback: Callable[[], None]) -> None:
        callback()
        for sim_node in self.nodes:
            self._reschedule(sim_node)

    def _at_node(self, index: int, when: float, callback: Callable[[], None]) -> None:
        """A scenario event that acts on node `index` alone (its host's
        command): only its timers can have changed, so only it is
        rescheduled; on ten thousand nodes rescheduling all of them for
        each of a hundred transfers costs more than the transfers."""
        self.scheduler.at(when, self._external_at, index, callback)

    def _external_at(self, index: int, callback: Callable[[], None]) -> None:
        callback()
        self._reschedule(self.nodes[index])

    def _activity(self, index: int) -> None:
        if index >= len(self.nodes):
            return  # a bare radio (add_radio): the test drains it
        sim_node = self.nodes[index]
        sim_node.host.poll()
        self._reschedule(sim_node)

    def _wake(self, sim_node: SimNode, when: float) -> None:
        if sim_node.wake_at != when:
            return  # superseded by an earlier wake-up
        sim_node.wake_at = None
        sim_node.host.poll()
        self._reschedule(sim_node)

    def _reschedule(self, sim_node: SimNode) -> None:
        deadline = sim_node.host.next_deadline()
        if deadline is None:
            return
        now = self.scheduler.now
        if deadline < now:
            deadline = now
        if sim_node.wake_at is None or deadline < sim_node.wake_at:
            sim_node.wake_at = deadline
            self.scheduler.at(deadline, self._wake, sim_node, deadline)

    def _label(self, radio: SimRadio, frame: Frame) -> None:
        # Only a medium that keeps a record of its air reads the labels.
        if self.medium.air is not None:
            radio.label = kind_of(frame)

    def _delivered(self, sim_node: SimNode, message: Deliver | DeliverData) -> None:
        delivery = Delivery(self.scheduler.now, sim_node.index, message)
        sim_node.deliveries.append(delivery)
        self.deliveries.append(delivery)
        body = message.payload.data if isinstance(message, Deliver) else message.body
        self.medium.note(b"deliver", struct.pack("<dI", delivery.time, sim_node.index), message.source, body)


def chain(n: int, spacing: float, seed: int = 1, **kwargs: Any) -> SimNetwork:
    """n nodes on a line, each in range of its neighbours only."""
    net = SimNetwork(seed, **kwargs)
    for i in range(n):
        net.add_node((i * spacing, 0.0))
    return net


def grid(rows: int, cols: int, spacing: float, seed: int = 1, **kwargs: Any) -> SimNetwork:
    """rows x cols nodes, index = row * cols + col."""
    net = SimNetwork(seed, **kwargs)
    for r in range(rows):
        for c in range(cols):
            net.add_node((c * spacing, r * spacing))
    return net

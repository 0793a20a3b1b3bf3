"""FastPay over a simulated 802.11s mesh: authorities, clients and plain
mesh points on the deterministic medium (meshframes.sim), each FastPay
party with its real engine, its real SQLite store in `workdir` and, by
default, end-to-end sealing. Used by the tests and by `meshframes demo`.

Everything is derived from the seed, keys included (an Ed25519 seed per
identity from SHA-256 of the seed, role and index), so a run is a function
of its seed: same seed, same air, same digest.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from meshframes.app.authority_node import AuthorityNode
from meshframes.app.client_node import ClientNode
from meshframes.app.events import Event
from meshframes.app.party import AppConfig, Party
from meshframes.codec import VendorAction
from meshframes.codec.header import is_group
from meshframes.fastpay.client_store import ClientStore
from meshframes.fastpay.committee import AuthorityInfo, Committee, FundedAccount, Identity
from meshframes.fastpay.ed25519 import KeyPair
from meshframes.fastpay.store import AuthorityStore
from meshframes.hosts.base import Radio
from meshframes.hosts.node import FrameLayer, NodeHost
from meshframes.mesh.constants import MeshConfig, RootMode, tu
from meshframes.mesh.events import Action, PeerChanged, Transmit
from meshframes.mesh.peers import PlinkState
from meshframes.seal.keyfile import CaptureKeys, LinkKey, TransmitterKey
from meshframes.sim.medium import MediumConfig
from meshframes.sim.mobility import Mobility, Point
from meshframes.sim.network import SimNetwork, SimNode

# A fresh simulated identity has never sealed anything: its end-to-end
# sequence can start at 1 (a real node starts from the clock, sealing.md).
SIM_INITIAL_E2E_SEQUENCE = 1
# Authorities announce themselves as roots every half beacon interval
# rather than Linux's default 5000 TU: stations walking 1-3 m/s with 25-30 m
# radios outrun a 5 s old path, and each root PREQ renews every station's
# path to the authority (and, with PREP, the authority's path back). When a
# quorum comes into reach, the client's path to the last authority it
# needs is most often the next root PREQ: at 1000 TU that wait put half
# the transfers slower than 1 s from reach there. The path to a root
# outlives three intervals, so one lost PREQ does not end it.
AUTHORITY_ROOT_INTERVAL = tu(500)
# Roots without PREP: a relay learns its path to each authority from the
# root PREQs and answers none of them; the clients do
# (MeshConfig.prep_to_root_preq), so the authorities learn the way back
# to them, the only stations their votes go to.
AUTHORITY_ROOT_MODE = RootMode.PROACTIVE_PREQ_NO_PREP
# The actions FastPayMesh._observe keeps a record of (unicast FastPay hops,
# peering changes).
_RECORDED = (Transmit, PeerChanged)


def _identity(seed: int, role: str, index: int) -> Identity:
    ed_seed = hashlib.sha256(f"meshframes/scenario/{seed}/{role}/{index}".encode()).digest()
    return Identity(role, KeyPair.from_seed(ed_seed))


def scenario_committee(seed: int, weights: Sequence[int],
                       balances: Sequence[int]) -> tuple[Committee, list[Identity], list[Identity]]:
    """A committee whose keys are derived from `seed`."""
    authorities = [_identity(seed, "authority", i) for i in range(len(weights))]
    accounts = [_identity(seed, "account", i) for i in range(len(balances))]
    committee = Committee(
        authorities=tuple(AuthorityInfo(name=a.public_key, weight=w, e2e_key=a.e2e_public_key)
                          for a, w in zip(authorities, weights, strict=False)),
        accounts=tuple(FundedAccount(address=a.public_key, balance=b) for a, b in zip(accounts, balances, strict=False)),
    )
    return committee, authorities, accounts


@dataclass(frozen=True, slots=True)
class Hop:
    """One transmission of a unicast FastPay frame, as the observer saw it."""

    time: float
    node: int
    receiver: bytes
    ttl: int


@dataclass(slots=True)
class Traced:
    """One unicast FastPay frame (one fragment) across the mesh: every
    transmission of it, from its originator to its mesh DA."""

    msg_type: int
    source: bytes
    destination: bytes
    hops: list[Hop] = field(default_factory=list)

    @property
    def arrived(self) -> bool:
        """Its last transmission was addressed to the destination itself."""
        return bool(self.hops) and self.hops[-1].receiver == self.destination


@dataclass(slots=True)
class Placed:
    """A FastPay party placed on a node."""

    node: int
    host: NodeHost
    role: str
    index: int  # authority or account number in the committee

    @property
    def app(self) -> Party:
        assert self.host.party is not None
        return self.host.party


@dataclass(slots=True)
class Timeline:
    """Every application event, in order, with the node it happened at."""

    events: list[tuple[int, Event]] = field(default_factory=list)

    def of(self, kind: type, node: int | None = None) -> list[tuple[int, Event]]:
        return [(n, e) for n, e in self.events if isinstance(e, kind) and (node is None or n == node)]


class FastPayMesh:
    def __init__(self, workdir: str | Path, *, seed: int, authorities: int = 4,
                 balances: Sequence[int] = (), weights: Sequence[int] | None = None,
                 app: AppConfig | None = None, mesh: MeshConfig | None = None,
                 medium: MediumConfig | None = None, pcap: str | Path | None = None,
                 authority_root_mode: RootMode = AUTHORITY_ROOT_MODE,
                 root_interval: float = AUTHORITY_ROOT_INTERVAL,
                 observer: Callable[[int, float, Action], None] | None = None) -> None:
        """Authorities are HWMP roots (`authority_root_mode`, docs/app.md):
        every station keeps a path to every authority without on-demand
        discovery, and each authority learns the way back to every client,
        which answers root PREQs with a PREP (`prep_to_root_preq`) where a
        relay does not. They announce every `root_interval` seconds, and
        the path to a root outlives three intervals."""
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.seed = seed
        self.app_config = app or AppConfig()
        self.committee, self.authority_ids, self.account_ids = scenario_committee(
            seed, list(weights) if weights is not None else [1] * authorities, balances)
        self._observers: list[Callable[[int, float, Action], None]] = [] if observer is None else [observer]
        # What the mesh's own record needs is all `_observe` is shown until
        # someone watches.
        self.net = SimNetwork(seed, mesh=mesh, medium=medium, pcap=pcap, observer=self._observe,
                              observed=None if self._observers else _RECORDED)
        self.authority_mesh_config = replace(self.net.mesh_config, dot11MeshHWMPRootMode=authority_root_mode,
                                             dot11MeshHWMProotInterval=root_interval,
                                             dot11MeshHWMPactivePathToRootTimeout=3 * root_interval)
        self.client_mesh_config = replace(self.net.mesh_config, prep_to_root_preq=True)
        self.parties: dict[int, Placed] = {}
        self.authorities: list[int] = []  # node index of authority i, in committee order
        self.clients: list[int] = []  # node index of account j
        self.failed: dict[int, float] = {}
        # (time, node, alive) of every failure and recovery, as scheduled.
        self.alive_changes: list[tuple[float, int, bool]] = []
        self.timeline = Timeline()
        # (mesh SA, mesh sequence number) -> that unicast frame's journey.
        self.traced: dict[tuple[bytes, int], Traced] = {}
        # (time, node, peer MAC, new state) of every peering transition, so
        # that who was peered with whom can be asked after the run.
        self.peer_changes: list[tuple[float, int, bytes, str]] = []
        # Every temporal key a secure mesh's nodes installed, kept as each
        # link reaches ESTAB: a link that peers again gets a new MTK and its
        # old one leaves the node, but the air still holds frames it sealed.
        self._link_keys: dict[LinkKey, None] = {}
        self._group_keys: dict[TransmitterKey, None] = {}

    # -- building ------------------------------------------------------------

    def add_authority(self, where: Point | Mobility, *, radio_range: float | None = None) -> int:
        i = len(self.authorities)
        identity = self.authority_ids[i]
        store = AuthorityStore(self.workdir / f"authority-{i}.db", self.committee)
        node = self._place(where, radio_range, "authority", i, lambda mac: AuthorityNode(
            identity.keypair, self.committee, store, mac, self.app_config, e2e_sequence=SIM_INITIAL_E2E_SEQUENCE),
            self.authority_mesh_config)
        self.authorities.append(node)
        return node

    def add_client(self, where: Point | Mobility, *, radio_range: float | None = None) -> int:
        j = len(self.clients)
        identity = self.account_ids[j]
        balance = self.committee.accounts[j].balance
        store = ClientStore(self.workdir / f"client-{j}.db", identity.public_key, balance)
        node = self._place(where, radio_range, "client", j, lambda mac: ClientNode(
            identity.keypair, self.committee, store, mac, self.app_config, e2e_sequence=SIM_INITIAL_E2E_SEQUENCE),
            self.client_mesh_config)
        self.clients.append(node)
        return node

    def add_relay(self, where: Point | Mobility, *, radio_range: float | None = None,
                  wrap_radio: Callable[[Radio], Radio] | None = None, layers: Sequence[FrameLayer] = ()) -> int:
        """A mesh point with no FastPay role: it only forwards (through
        `wrap_radio`, if given: a fault injector; `layers`: frame layers of
        its own, such as a rogue's sealer)."""
        return self.net.add_node(where, radio_range=radio_range, wrap_radio=wrap_radio, layers=layers).index

    def random_waypoint(self, area: tuple[float, float], speed: tuple[float, float]) -> Mobility:
        return self.net.random_waypoint(area, speed)

    def _place(self, where: Point | Mobility, radio_range: float | None, role: str, index: int,
               make: Callable[[bytes], Party], config: MeshConfig | None = None) -> int:
        sim_node = self.net.add_node(where, radio_range=radio_range, config=config, party=make,
                                     on_event=lambda n, e: self.timeline.events.append((n, e)))
        self.parties[sim_node.index] = Placed(sim_node.index, sim_node.host, role, index)
        return sim_node.index

    # -- scenario events -----------------------------------------------------

    def transfer(self, client: int, recipient: int | bytes, amount: int, at: float) -> None:
        """Client number `client` pays account number `recipient` (or a key)."""
        payer = self.parties[self.clients[client]]
        key = recipient if isinstance(recipient, bytes) else self.account_ids[recipient].public_key
        app = payer.app
        assert isinstance(app, ClientNode)
        self.net.command(payer.node, lambda now: app.transfer(key, amount, now), at)

    def fetch_received(self, client: int, authority: int, at: float) -> None:
        """Client number `client` fetches from authority number `authority`
        the certificates of transfers to it, page by page."""
        placed = self.parties[self.clients[client]]
        app = placed.app
        assert isinstance(app, ClientNode)
        name = self.authority_ids[authority].public_key
        self.net.command(placed.node, lambda now: app.fetch_received(name, now), at)

    def watch(self, observer: Callable[[int, float, Action], None]) -> None:
        """Show `observer` every action of every node from now on, as the
        constructor's `observer` sees them."""
        self._observers.append(observer)
        self.net.observe_all()

    def fail(self, node: int, at: float) -> None:
        self.net.fail(node, at)
        self.failed[node] = at
        self.alive_changes.append((at, node, False))

    def recover(self, node: int, at: float) -> None:
        self.net.recover(node, at)
        self.alive_changes.append((at, node, True))

    def run(self, until: float, *, step: float | None = None,
            progress: Callable[[float], None] | None = None) -> None:
        """Run to `until` (virtual seconds), reporting progress every `step`."""
        if step is None:
            self.net.run(until)
            return
        t = self.net.now
        while t < until:
            t = min(until, t + step)
            self.net.run(t)
            if progress is not None:
                progress(t)

    def close(self) -> None:
        for sim_node in self.net.nodes:
            self._keep_keys(sim_node.index)
        self.net.close()

    # -- views ---------------------------------------------------------------

    def node(self, index: int) -> SimNode:
        return self.net.nodes[index]

    def authority(self, i: int) -> AuthorityNode:
        app = self.parties[self.authorities[i]].app
        assert isinstance(app, AuthorityNode)
        return app

    def client(self, j: int) -> ClientNode:
        app = self.parties[self.clients[j]].app
        assert isinstance(app, ClientNode)
        return app

    def genesis_total(self) -> int:
        return sum(a.balance for a in self.committee.accounts)

    def honest_authorities(self) -> list[int]:
        """Authority numbers whose node never failed."""
        return [i for i, n in enumerate(self.authorities) if n not in self.failed]

    def executed_by(self, sender: bytes, sequence_number: int) -> list[int]:
        """Authority numbers whose store holds this transfer's certificate."""
        return [i for i in range(len(self.authorities))
                if self.authority(i).engine.store.confirmed_certificate(sender, sequence_number) is not None]

    def refusals(self) -> dict[str, Counter[str]]:
        """Every refusal of the run by the layer that refused it: the mesh
        engines, the parties' transports (end-to-end sealing and
        reassembly), the applications, and the FastPay engines
        (authorities' rejections by FastPayError variant, clients' ignored
        replies by reason)."""
        layers: dict[str, Counter[str]] = {"mesh": self.net.counters(), "end-to-end": Counter(),
                                           "application": Counter(), "fastpay": Counter()}
        for party in self.parties.values():
            app = party.app
            layers["application"].update(app.refused)
            layers["end-to-end"].update(app.transport.refusals())
            if isinstance(app, AuthorityNode):
                layers["fastpay"].update(app.engine.rejections)
            elif isinstance(app, ClientNode):
                layers["fastpay"].update({f"client ignored: {k}": v for k, v in app.engine.ignored.items()})
        return layers

    def capture_keys(self) -> CaptureKeys:
        """Every temporal key the nodes of a secure mesh held during the run
        (as `meshframes keys export` gives one node's, at one instant): with
        them `analyze --keys` opens every protected frame of the run's air.
        Empty for an open mesh."""
        return CaptureKeys(tuple(self._link_keys), tuple(self._group_keys))

    def _keep_keys(self, node: int) -> None:
        rsn = self.net.nodes[node].node.rsn
        if rsn is not None:
            keys = rsn.hop.keys.capture_keys(rsn.mac)
            self._link_keys.update(dict.fromkeys(keys.pairwise))
            self._group_keys.update(dict.fromkeys(keys.group))

    def hops_of(self, source: int, destination: int, msg_type: int | None = None) -> list[list[Hop]]:
        """The hop lists of unicast FastPay frames from node `source` that
        reached node `destination`, in the order they were sent."""
        src, dst = self.net.nodes[source].mac, self.net.nodes[destination].mac
        return [t.hops for t in self.traced.values()
                if t.source == src and t.destination == dst and t.arrived
                and (msg_type is None or t.msg_type == msg_type)]

    def established_at(self, t: float) -> set[tuple[int, int]]:
        """The (lower, higher) node pairs peered at time t: each side's
        link to the other in ESTAB. Entries leave a peer table silently only
        when not established, so the transitions tell every ESTAB spell."""
        by_mac = {n.mac: n.index for n in self.net.nodes}
        state: dict[tuple[int, int], str] = {}
        for when, node, peer, new in self.peer_changes:
            if when > t:
                break
            if peer in by_mac:  # a bare radio (a test's) has no node to draw
                state[(node, by_mac[peer])] = new
        estab = PlinkState.ESTAB.value
        return {(a, b) for (a, b), s in state.items() if a < b and s == estab and state.get((b, a)) == estab}

    def _observe(self, node: int, t: float, action: Action) -> None:
        # The actions of every node pass here (all of them once someone
        # watches): exact types (events and frames are final dataclasses).
        if type(action) is Transmit:
            frame = action.frame
            if type(frame) is VendorAction and frame.mesh_control.addr_ext and not is_group(frame.header.addr1):
                mc = frame.mesh_control
                destination, source = mc.addr_ext
                traced = self.traced.get((source, mc.seq))
                if traced is None:
                    traced = self.traced[(source, mc.seq)] = Traced(frame.payload.msg_type, source, destination)
                traced.hops.append(Hop(t, node, frame.header.addr1, mc.ttl))
        elif type(action) is PeerChanged and action.old != action.new:
            self.peer_changes.append((t, node, action.peer, action.new))
            if action.new == PlinkState.ESTAB.value:
                self._keep_keys(node)
        for observer in self._observers:
            observer(node, t, action)

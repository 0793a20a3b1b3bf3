"""One node as a process on one radio: what `meshframes node` runs.

`NodeService` builds, from `NodeSettings`, everything a node needs and the
engines must not touch: the radio, the party (an `AuthorityNode` or a
`ClientNode` with its SQLite store in the store directory; none for a
relay), the host that runs them, and the control socket (`ControlServer`).
Two transports: on `monitor` the radio is a monitor interface and a
`NodeHost` runs our `MeshNode` (peering, HWMP, forwarder) under the
party; on `mesh` it is a kernel mesh point, which peers, selects paths and
forwards by itself, and a `KernelMeshHost` hands the party's payloads
straight to it (meshframes.hosts.kernel_mesh); peers and paths are then
the kernel's. On `monitor` the mesh is secure when the settings hold a
passphrase (`mesh_config`: SAE per neighbour, AMPE, CCMP per hop); the
`mesh` transport has no say in the kernel mesh's security and refuses
one. `serve()` is the loop: select() on the radio, the
control sockets and a wake-up pipe until the host's next timer, until
SIGINT or SIGTERM; then everything is closed and the socket removed.

A restarted node resumes from its store directory. The SQLite stores keep
what FastPay needs (an authority's votes and executed certificates, a
client's pending order and certificate: no second vote, no lost
confirmation), and `SequenceReservation` keeps the end-to-end sequence
number from ever being reused (docs/sealing.md, "Freshness").

Every problem the user can fix (a missing interface, or one of the wrong kind for the transport, a key
not in the committee, a committee file that does not parse, no
permission for a raw socket, a store of another committee) is raised as
`NodeSetupError` with a one-line message naming the problem and the fix.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from types import FrameType

from meshframes.app.authority_node import AuthorityNode
from meshframes.app.client_node import ClientNode
from meshframes.app.events import Event
from meshframes.app.party import AppConfig, Party
from meshframes.app.transport import TransportConfig
from meshframes.fastpay.client_store import ClientStore, ClientStoreError
from meshframes.fastpay.committee import Committee, CommitteeFileError, Identity
from meshframes.fastpay.store import AuthorityStore, StoreError
from meshframes.mesh.constants import MeshConfig, RootMode
from meshframes.mesh.node import MeshNode

from .base import MonotonicClock
from .control import ControlServer, NodeControl
from .iw import IwError, iw
from .kernel_mesh import MAX_FRAGMENT_DATA, KernelMeshHost, KernelMeshView
from .meshif import MeshInterface
from .monitor import MonitorRadio
from .node import NodeHost, PartyHost

# The longest the loop sleeps with nothing due; a signal wakes it at once.
IDLE_WAIT = 1.0
SEQUENCE_FILE = "e2e-sequence"
# End-to-end sequence numbers reserved per write of the sequence file.
SEQUENCE_BLOCK = 1 << 20


class Role(StrEnum):
    AUTHORITY = "authority"
    CLIENT = "client"
    RELAY = "relay"


class Link(StrEnum):
    """What carries the node's FastPay payloads (`--transport`)."""

    # A monitor interface: our own peering, HWMP and forwarder.
    MONITOR = "monitor"
    # A kernel mesh point: the kernel peers, selects paths and forwards.
    MESH = "mesh"


class NodeSetupError(Exception):
    """A node cannot start; the message is one line for the user."""


# The mesh transport rides on a kernel mesh point that someone else joined
# (`iw ... mesh join`, or wpa_supplicant for a secure mesh); the node only
# sends and receives payloads on it and has no say in its link security.
SECURE_KERNEL_MESH_UNSUPPORTED = (
    "a secure mesh on --transport mesh is the kernel's, joined and keyed by wpa_supplicant (mode=5, "
    "key_mgmt=SAE), which meshframes node does not run or check: pass --open to carry payloads over the "
    "mesh point as it was joined, or use --transport monitor for our own SAE mesh")


@dataclass(frozen=True, slots=True)
class NodeSettings:
    role: Role
    iface: str
    committee: Path | None = None  # required for authorities and clients
    key: Path | None = None  # required for authorities and clients
    store: Path | None = None  # default: default_store(identity)
    control: Path | None = None  # no control socket when None
    mesh_id: bytes = b"meshframes"
    # A secure mesh when set: SAE per neighbour, AMPE keyed by its PMK,
    # CCMP per hop. None: an open mesh (`meshframes node --open`).
    passphrase: str | None = None
    transport: Link = Link.MONITOR


def default_store(public_key: bytes) -> Path:
    """Where a node keeps its state when --store is not given: one directory
    per identity, so two nodes of one user never share a store."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "meshframes" / public_key.hex()[:16]


class SequenceReservation:
    """The end-to-end sequence numbers a party may seal with, reserved on
    disk ahead of use.

    Why both a file and the clock: the first number of a run is the larger
    of the persisted ceiling and the time in microseconds since the epoch.
    The clock alone (sealing.md) fails when the wall clock steps back (no
    RTC, a wrong NTP answer); the file alone fails if the store directory
    is lost. The file holds a ceiling never reached: it is rewritten (and
    fsynced) before the first number of a run is used, and again whenever
    fewer than half a block remains, checked after every turn of the loop;
    one turn seals a few fragments, far fewer than half a block. So a
    restarted node always starts above every number it used, one write
    per `block` seals.
    """

    def __init__(self, path: Path, *, block: int = SEQUENCE_BLOCK) -> None:
        self.path = path
        self.block = block
        self.ceiling = self._read()

    def start(self, now_us: int) -> int:
        """The first sequence number of this run; reserves a block after it."""
        first = max(self.ceiling, now_us)
        self._write(first + self.block)
        return first

    def keep_ahead(self, next_sequence: int) -> None:
        if self.ceiling - next_sequence < self.block // 2:
            self._write(next_sequence + self.block)

    def _read(self) -> int:
        try:
            text = self.path.read_text("ascii").strip()
        except FileNotFoundError:
            return 0
        except (OSError, UnicodeDecodeError) as error:
            raise NodeSetupError(f"cannot read {self.path}: {error}") from None
        if not text.isdigit():
            raise NodeSetupError(f"{self.path} holds {text[:40]!r}, expected a decimal sequence number; "
                                 "restore it from a backup (deleting it is safe only if the clock is right)")
        return int(text)

    def _write(self, ceiling: int) -> None:
        # Write, fsync, rename, fsync the directory: after a crash the file
        # holds either the old ceiling or the new one, never a torn number.
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, f"{ceiling}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        self.ceiling = ceiling


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the committee and key files say about this node."""

    committee: Committee
    identity: Identity


def load_credentials(settings: NodeSettings) -> Credentials | None:
    """Read and check the committee and key files (None for a relay, which
    needs neither)."""
    if settings.role is Role.RELAY:
        return None
    if settings.committee is None or settings.key is None:
        raise NodeSetupError(f"a {settings.role} needs --committee and --key "
                             "(written by `meshframes keys generate DIR`)")
    try:
        committee = Committee.load(settings.committee)
    except CommitteeFileError as error:
        raise NodeSetupError(f"{error}; write one with `meshframes keys generate DIR`") from None
    try:
        identity = Identity.load(settings.key)
    except CommitteeFileError as error:
        raise NodeSetupError(f"{error}; use a key file from DIR/keys/ of `meshframes keys generate DIR`") from None
    key = identity.public_key.hex()
    if settings.role is Role.AUTHORITY and identity.public_key not in committee.names:
        raise NodeSetupError(f"{settings.key}: key {key[:16]}... is not an authority of committee "
                             f"{committee.committee_id.hex()} ({settings.committee}); "
                             "use one of its keys/authority-<i>.json")
    if settings.role is Role.CLIENT and identity.public_key not in {a.address for a in committee.accounts}:
        raise NodeSetupError(f"{settings.key}: key {key[:16]}... is not an account of committee "
                             f"{committee.committee_id.hex()} ({settings.committee}); "
                             "use one of its keys/account-<i>.json")
    return Credentials(committee, identity)


def mesh_config(settings: NodeSettings) -> MeshConfig:
    """The monitor transport's mesh: secure (SAE per neighbour, AMPE keyed
    by its PMK, CCMP per hop) with a passphrase, open without."""
    config = MeshConfig(mesh_id=settings.mesh_id, passphrase=settings.passphrase,
                        sae=settings.passphrase is not None)
    if settings.role is Role.AUTHORITY:
        # Authorities are HWMP roots, as in the simulations (docs/app.md:
        # every station keeps a path to every authority without on-demand
        # discovery bursts, and clients answer so that the authority's
        # path back is there before its vote).
        config = replace(config, dot11MeshHWMPRootMode=RootMode.PROACTIVE_PREQ_NO_PREP)
    elif settings.role is Role.CLIENT:
        config = replace(config, prep_to_root_preq=True)
    return config


def open_radio(iface: str) -> MonitorRadio:
    """The monitor transport's radio on `iface`, or a NodeSetupError that
    says what to do."""
    try:
        socket.if_nametoindex(iface)
    except OSError:
        raise NodeSetupError(f"no network interface named {iface!r} (`ip link` lists them; create a "
                             f"monitor with `iw phy PHY interface add {iface} type monitor`)") from None
    try:
        # addressed_only: frames for other stations are dropped before they
        # are decoded, as a station's receive filter would drop them.
        return MonitorRadio(iface, addressed_only=True)
    except PermissionError:
        raise NodeSetupError(f"no permission to open a raw packet socket on {iface}; run as root "
                             "or give the interpreter CAP_NET_RAW") from None
    except ValueError as error:
        raise NodeSetupError(str(error)) from None


def open_mesh_interface(iface: str) -> MeshInterface:
    """The mesh transport's interface on `iface` (a kernel mesh point that
    has joined its mesh), or a NodeSetupError that says what to do."""
    make = (f"make one with `iw dev {iface} set type mp`, `ip link set {iface} up` and "
            f"`iw dev {iface} mesh join ID`")
    try:
        socket.if_nametoindex(iface)
    except OSError:
        raise NodeSetupError(f"no network interface named {iface!r} (`ip link` lists them; {make})") from None
    try:
        interface = MeshInterface(iface)
    except PermissionError:
        raise NodeSetupError(f"no permission to open a packet socket on {iface}; run as root "
                             "or give the interpreter CAP_NET_RAW") from None
    except ValueError as error:
        raise NodeSetupError(str(error)) from None
    # An Ethernet-like interface may still be no mesh point (a station's).
    try:
        info = iw("dev", iface, "info")
    except IwError as error:
        interface.close()
        raise NodeSetupError(str(error)) from None
    if "type mesh point" not in info:
        interface.close()
        kind = next((line.strip() for line in info.splitlines() if line.strip().startswith("type ")), "type unknown")
        raise NodeSetupError(f"{iface} is not a mesh point interface ({kind}); {make}")
    return interface


def open_party(role: Role, credentials: Credentials, store: Path, mac: bytes,
               sequence: SequenceReservation, config: AppConfig | None = None) -> tuple[Party, Callable[[], None]]:
    """The party of an authority or client on its store directory, and
    the function that closes its store."""
    committee, identity = credentials.committee, credentials.identity
    try:
        if role is Role.AUTHORITY:
            authority_store = AuthorityStore(store / "authority.db", committee)
            first = sequence.start(time.time_ns() // 1000)
            return (AuthorityNode(identity.keypair, committee, authority_store, mac, config, e2e_sequence=first),
                    authority_store.close)
        balance = next(a.balance for a in committee.accounts if a.address == identity.public_key)
        client_store = ClientStore(store / "client.db", identity.public_key, balance)
        first = sequence.start(time.time_ns() // 1000)
        return (ClientNode(identity.keypair, committee, client_store, mac, config, e2e_sequence=first),
                client_store.close)
    except (StoreError, ClientStoreError, sqlite3.Error) as error:
        raise NodeSetupError(f"store {store}: {error}") from None


class NodeService:
    def __init__(self, settings: NodeSettings, *, on_event: Callable[[Event], None] | None = None) -> None:
        """Build the node; raises NodeSetupError (having closed whatever it
        opened) when it cannot. `on_event` sees every application event."""
        self.settings = settings
        self._closers: list[Callable[[], None]] = []
        self._on_event = on_event
        try:
            self._build(settings)
        except BaseException:
            self.close()
            raise

    def _build(self, settings: NodeSettings) -> None:
        credentials = load_credentials(settings)
        if settings.transport is Link.MESH:
            if settings.role is Role.RELAY:
                raise NodeSetupError("a relay on the mesh transport has nothing to do: the kernel's mesh "
                                     "point forwards by itself (use --transport monitor for our own relay)")
            if settings.passphrase is not None:
                raise NodeSetupError(SECURE_KERNEL_MESH_UNSUPPORTED)
        self.radio: MonitorRadio | MeshInterface
        if settings.transport is Link.MESH:
            self.radio = open_mesh_interface(settings.iface)
        else:
            self.radio = open_radio(settings.iface)
        self._closers.append(self.radio.close)
        party = self._open_party(settings, credentials)
        self.host: PartyHost
        if settings.transport is Link.MESH:
            assert isinstance(self.radio, MeshInterface)
            kernel = KernelMeshHost(self.radio, MonotonicClock(), party=party, on_event=self._event)
            view = KernelMeshView(settings.iface, kernel, settings.mesh_id.decode(errors="replace"))
            self.host = kernel
            self.control = NodeControl(kernel, str(settings.role), view)
        else:
            assert isinstance(self.radio, MonitorRadio)
            self.host = NodeHost(self._mesh_node(settings), self.radio, MonotonicClock(), party=party,
                                 on_event=self._event)
            self.control = NodeControl(self.host, str(settings.role))
        self.server: ControlServer | None = None
        if settings.control is not None:
            try:
                self.server = ControlServer(str(settings.control), self.control)
            except OSError as error:
                raise NodeSetupError(f"cannot serve the control socket {settings.control}: {error}") from None
            self._closers.append(self.server.close)

    def _mesh_node(self, settings: NodeSettings) -> MeshNode:
        """The monitor transport's MeshNode: our peering, HWMP and forwarder."""
        config = mesh_config(settings)
        # Protocol randomness (link ids, jitter, beacon phase) must differ
        # between nodes and runs; secrets come from os.urandom in MeshNode.
        return MeshNode(self.radio.mac, config, seed=int.from_bytes(os.urandom(8), "big"))

    def _open_party(self, settings: NodeSettings, credentials: Credentials | None) -> Party | None:
        """The party on its store directory (None for a relay); on the
        mesh transport its fragments fit the mesh interface's MTU."""
        self.sequence: SequenceReservation | None = None
        self.store: Path | None = None
        if credentials is None:
            return None
        self.store = settings.store or default_store(credentials.identity.public_key)
        try:
            self.store.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as error:
            raise NodeSetupError(f"cannot create the store directory {self.store}: {error}") from None
        self.sequence = SequenceReservation(self.store / SEQUENCE_FILE)
        config = None
        if settings.transport is Link.MESH:
            config = AppConfig(transport=TransportConfig(max_fragment_payload=MAX_FRAGMENT_DATA))
        party, close_store = open_party(settings.role, credentials, self.store, self.radio.mac, self.sequence,
                                        config)
        self._closers.append(close_store)
        return party

    def _event(self, event: Event) -> None:
        self.control.record(event)
        if self._on_event is not None:
            self._on_event(event)

    @property
    def mac(self) -> bytes:
        return self.radio.mac

    def serve(self) -> None:
        """Run until SIGINT or SIGTERM (main thread only), then close."""
        wake_read, wake_write = os.pipe()
        for fd in (wake_read, wake_write):
            os.set_blocking(fd, False)
        stopping: list[int] = []

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            stopping.append(signum)

        previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
        # The handler runs between bytecodes, perhaps only after select()
        # returns; the wake-up fd makes select() return at once.
        previous_fd = signal.set_wakeup_fd(wake_write)
        try:
            self.host.start()
            while not stopping:
                self.turn()
                deadline = self.host.next_deadline()
                wait = IDLE_WAIT if deadline is None else min(IDLE_WAIT, deadline - self.host.clock.now())
                if wait > 0:
                    waiting = [self.radio.fileno(), wake_read, *(self.server.sockets() if self.server else ())]
                    select.select(waiting, [], [], wait)
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_read, 4096)
        finally:
            signal.set_wakeup_fd(previous_fd)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            os.close(wake_read)
            os.close(wake_write)
            self.close()

    def turn(self) -> None:
        """One turn of the loop: frames and due timers, control requests,
        then the sequence reservation kept ahead of what was sealed."""
        self.host.poll()
        if self.server is not None:
            self.server.poll()
        party = self.host.party
        if self.sequence is not None and party is not None and party.transport.sealer is not None:
            self.sequence.keep_ahead(party.transport.sealer.next_sequence)

    def close(self) -> None:
        """Close the control socket (removing it), the stores and the radio;
        safe to call twice."""
        while self._closers:
            self._closers.pop()()

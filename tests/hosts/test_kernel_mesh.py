"""The mesh transport's host (meshframes.hosts.kernel_mesh) over an
in-memory stand-in for the kernel's mesh: every station reaches every
other, as the kernel's routing makes it look from above. Four authorities
and two clients, each a KernelMeshHost with its party on real stores: a
payment is certified by a quorum and executed everywhere; payloads go out
as the FastPay header and fragment, no larger than the interface's MTU;
what the kernel delivers reaches the party as a MeshNode's Deliver would;
a payload that is no FastPay fragment is counted, not fatal."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.app.authority_node import AuthorityNode
from meshframes.app.client_node import ClientNode
from meshframes.app.events import TransferCertified, TransferConfirmed
from meshframes.app.party import AppConfig
from meshframes.app.transport import TransportConfig
from meshframes.codec.fastpay import FastPayFragment, decode_fragment
from meshframes.fastpay.committee import generate_committee
from meshframes.hosts.kernel_mesh import MAX_FRAGMENT_DATA, KernelMeshHost
from meshframes.hosts.meshif import BROADCAST, MAX_PAYLOAD, MeshifMessage
from meshframes.hosts.service import Credentials, Role, SequenceReservation, open_party
from meshframes.mesh.events import Deliver

GENESIS = 100


class Clock:
    def __init__(self) -> None:
        self.time = 0.0

    def now(self) -> float:
        return self.time


class Kernel:
    """The kernel's mesh as the stations see it: each payload reaches its
    destination (or, broadcast, everyone else) with the sender as source."""

    def __init__(self) -> None:
        self.queues: dict[bytes, list[MeshifMessage]] = {}
        self.sent: list[tuple[bytes, bytes, bytes]] = []

    def link(self, mac: bytes) -> Link:
        self.queues[mac] = []
        return Link(self, mac)


class Link:
    def __init__(self, kernel: Kernel, mac: bytes) -> None:
        self.kernel = kernel
        self.mac = mac

    def send(self, dst: bytes, payload: bytes) -> None:
        if len(payload) > MAX_PAYLOAD:
            raise ValueError(f"payload of {len(payload)} bytes exceeds the mesh MTU")
        self.kernel.sent.append((self.mac, dst, payload))
        for station, queue in self.kernel.queues.items():
            if station != self.mac and dst in (station, BROADCAST):
                queue.append(MeshifMessage(self.mac, dst, payload, 0.0))

    def receive_messages(self) -> list[MeshifMessage]:
        queue = self.kernel.queues[self.mac]
        got, queue[:] = list(queue), []
        return got


@pytest.fixture
def mesh(tmp_path: Path) -> tuple[Kernel, Clock, list[KernelMeshHost]]:
    committee, authorities, accounts = generate_committee([1, 1, 1, 1], [GENESIS, GENESIS])
    kernel, clock = Kernel(), Clock()
    config = AppConfig(transport=TransportConfig(max_fragment_payload=MAX_FRAGMENT_DATA))
    hosts = []
    for index, (role, identity) in enumerate([*((Role.AUTHORITY, a) for a in authorities),
                                              *((Role.CLIENT, a) for a in accounts)]):
        mac = bytes([2, 0, 0, 0, index, 0])
        store = tmp_path / f"n{index}"
        store.mkdir()
        party, _ = open_party(role, Credentials(committee, identity), store, mac,
                              SequenceReservation(store / "seq"), config)
        hosts.append(KernelMeshHost(kernel.link(mac), clock, party=party))
    for host in hosts:
        host.start()
    return kernel, clock, hosts


def run(clock: Clock, hosts: list[KernelMeshHost], seconds: float, step: float = 0.05) -> None:
    end = clock.time + seconds
    while clock.time < end:
        clock.time += step
        for host in hosts:
            host.poll()


def test_payment_over_the_kernel_mesh_is_certified_and_executed_everywhere(
        mesh: tuple[Kernel, Clock, list[KernelMeshHost]]) -> None:
    """The payer learns the authorities from their flooded announcements,
    3 of 4 votes certify its order, every authority executes the
    confirmation and the recipient is credited; no payload exceeds the
    mesh interface's MTU."""
    kernel, clock, hosts = mesh
    payer, payee = hosts[4], hosts[5]
    run(clock, hosts, 5.0)
    assert isinstance(payer.party, ClientNode) and isinstance(payee.party, ClientNode)
    assert len([b for b in payer.party.directory.bindings() if b.weight > 0]) == 4
    recipient = payee.party.identity
    payer.command(lambda now: payer.party.transfer(recipient, 30, now))  # type: ignore[union-attr]
    run(clock, hosts, 5.0)
    certified = next(e for e in payer.events if isinstance(e, TransferCertified))
    assert certified.weight >= 3
    assert any(isinstance(e, TransferConfirmed) for e in payer.events)
    for host in hosts[:4]:
        assert isinstance(host.party, AuthorityNode)
        balances = {a: s.balance for a, s in host.party.engine.accounts().items()}
        assert balances == {payer.party.identity: GENESIS - 30, recipient: GENESIS + 30}
    assert payee.party.engine.balance == GENESIS + 30
    assert max(len(payload) for _, _, payload in kernel.sent) <= MAX_PAYLOAD
    assert all(host.refused == {} for host in hosts)


def test_what_the_kernel_delivers_reaches_the_party_as_a_mesh_node_would(
        mesh: tuple[Kernel, Clock, list[KernelMeshHost]]) -> None:
    """A broadcast payload arrives as a group Deliver from its mesh source,
    a unicast one as an individual Deliver to us, the fragment intact;
    bytes that are no FastPay fragment are counted and dropped."""
    kernel, clock, hosts = mesh
    sender, receiver = hosts[0], hosts[5]
    seen: list[Deliver] = []
    receiver.on_deliver = seen.append
    fragment = FastPayFragment(msg_type=8, flags=0, message_id=7, fragment_number=0, fragment_count=1,
                               data=b"x")
    sender.send_payload(BROADCAST, fragment)
    sender.send_payload(receiver.mac, fragment)
    kernel.queues[receiver.mac].append(MeshifMessage(sender.mac, receiver.mac, b"\x09junk", 0.0))
    receiver.poll()
    assert [(d.source, d.destination, d.group, d.payload) for d in seen] == [
        (sender.mac, BROADCAST, True, fragment), (sender.mac, receiver.mac, False, fragment)]
    assert decode_fragment(kernel.sent[-1][2], 0) == fragment
    assert receiver.refused == {"malformed-payload": 1}

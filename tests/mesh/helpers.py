"""Builders shared by the engine tests: frames as a peer would send them,
an RxFrame stamp, a radio whose air is two lists and a link taken as
established."""

from __future__ import annotations

from meshframes.codec import Frame, SelfProtected, decode
from meshframes.codec.elements import MeshConfiguration, MeshId
from meshframes.codec.ie import Element
from meshframes.codec.peering import MeshPeeringManagement
from meshframes.hosts.base import RxFrame
from meshframes.mesh.constants import MeshConfig
from meshframes.mesh.events import Action, Refused, SetTimer, Transmit
from meshframes.mesh.mbss import Mbss, action_header
from meshframes.mesh.peers import Peer, PeerTable, PlinkState
from meshframes.sim.replay import ManualClock, ObservedRadio

A = bytes.fromhex("020000000001")
B = bytes.fromhex("020000000002")
C = bytes.fromhex("020000000003")
D = bytes.fromhex("020000000004")
E = bytes.fromhex("020000000005")
RX = RxFrame(b"", 0.0, -40, 540)


class ListRadio(ObservedRadio):
    """The replay's radio, keeping every frame the node sends in `sent`
    with its time: frames put in `inbox` are received."""

    def __init__(self, mac: bytes, clock: ManualClock) -> None:
        self.sent: list[tuple[float, bytes]] = []
        super().__init__(mac, lambda frame: self.sent.append((clock.now(), frame)))

    def frames(self) -> list[tuple[float, Frame]]:
        return [(t, decode(data)) for t, data in self.sent]


def take_as_established(table: PeerTable, addr: bytes) -> Peer:
    """A peer whose link is ESTAB without running the FSM: for engine tests
    where peering is not what is being looked at."""
    peer = table.add(addr)
    if peer is None:
        raise ValueError("peer table full")
    table.set_state(peer, PlinkState.ESTAB)
    return peer


def peer_frame(src: bytes, dst: bytes, action: int, element: MeshPeeringManagement,
               mesh_id: bytes = b"meshframes", conf: MeshConfiguration | None = None,
               aid: int | None = None, extra: tuple[Element, ...] = ()) -> SelfProtected:
    """An Open (1), Confirm (2) or Close (3) as a standard peer sends it."""
    rates = Mbss(src, MeshConfig(mesh_id=mesh_id)).rates
    conf = conf or MeshConfiguration()
    if action == 3:
        elements: tuple[Element, ...] = (MeshId(mesh_id), element) + extra
        return SelfProtected(action_header(dst, src), 3, None, None, elements)
    elements = (rates, MeshId(mesh_id), conf, element) + extra
    return SelfProtected(action_header(dst, src), action, 0, (aid or 1) if action == 2 else None, elements)


def sent(actions: list[Action]) -> list:
    return [a.frame for a in actions if isinstance(a, Transmit)]


def refusals(actions: list[Action]) -> list[str]:
    return [a.reason for a in actions if isinstance(a, Refused)]


def timers(actions: list[Action]) -> dict:
    return {a.key: a.deadline for a in actions if isinstance(a, SetTimer)}

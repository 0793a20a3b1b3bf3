"""Builders shared by the engine tests: frames as a peer would send them
and an RxFrame stamp."""

from __future__ import annotations

from dataclasses import dataclass, field

from meshframes.codec import Frame, SelfProtected, decode
from meshframes.codec.elements import MeshConfiguration, MeshId
from meshframes.codec.ie import Element
from meshframes.codec.peering import MeshPeeringManagement
from meshframes.mesh.constants import MeshConfig
from meshframes.mesh.events import Action, Refused, SetTimer, Transmit
from meshframes.mesh.mbss import Mbss, action_header
from meshframes.mesh.peers import Peer, PeerTable, PlinkState
from meshframes.mesh.runtime import TxReport
from meshframes.radio.base import RxFrame

A = bytes.fromhex("020000000001")
B = bytes.fromhex("020000000002")
C = bytes.fromhex("020000000003")
D = bytes.fromhex("020000000004")
RX = RxFrame(b"", 0.0, -40, 540)


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


def take_as_established(table: PeerTable, addr: bytes) -> Peer:
    """A peer whose link is ESTAB without running the FSM: for engine tests
    and replays where peering is not what is being tested."""
    peer = table.add(addr)
    assert peer is not None, "peer table full"
    table.set_state(peer, PlinkState.ESTAB)
    return peer


def sent(actions: list[Action]) -> list:
    return [a.frame for a in actions if isinstance(a, Transmit)]


def refusals(actions: list[Action]) -> list[str]:
    return [a.reason for a in actions if isinstance(a, Refused)]


def timers(actions: list[Action]) -> dict:
    return {a.key: a.deadline for a in actions if isinstance(a, SetTimer)}


class ManualClock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t


@dataclass
class ListRadio:
    """A Radio whose air is two lists: frames put in `inbox` are received,
    frames the node sends are kept in `sent` with their time."""

    mac: bytes
    clock: ManualClock
    inbox: list[RxFrame] = field(default_factory=list)
    reports: list[TxReport] = field(default_factory=list)
    sent: list[tuple[float, bytes]] = field(default_factory=list)

    def transmit(self, frame: bytes) -> None:
        self.sent.append((self.clock.now(), frame))

    def frames(self) -> list[tuple[float, Frame]]:
        return [(t, decode(data)) for t, data in self.sent]

    def receive(self) -> list[RxFrame]:
        out, self.inbox = self.inbox, []
        return out

    def tx_reports(self) -> list[TxReport]:
        out, self.reports = self.reports, []
        return out

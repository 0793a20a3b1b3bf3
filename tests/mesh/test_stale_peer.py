"""Links that one side still holds: a station that sends us individually
addressed mesh frames while we hold no peering with it gets a Close, which
ends its stale ESTAB; and a neighbour whose beacon we know is re-opened on
the first frame of any kind heard from it, not only on its next beacon."""

from __future__ import annotations

from meshframes.codec import SelfProtected
from meshframes.codec.header import BROADCAST
from meshframes.codec.pathsel import Preq, PreqTarget
from meshframes.codec.peering import SP_MESH_PEERING_CLOSE, SP_MESH_PEERING_OPEN
from meshframes.mesh.constants import MeshConfig
from meshframes.mesh.events import MeshRefusal
from meshframes.mesh.mbss import Mbss, path_selection
from meshframes.mesh.node import MeshNode
from meshframes.mesh.peers import PlinkState

from .helpers import RX, A, B, C, D, refusals, sent
from .test_forward import LIFETIME, learn, node, vendor
from .test_plink import beacon_from
from .test_plink_backoff import unanswered_attempt

CFG = MeshConfig()


def closes(actions: list) -> list[SelfProtected]:
    return [f for f in sent(actions) if isinstance(f, SelfProtected) and f.action == SP_MESH_PEERING_CLOSE]


def test_frame_from_a_station_we_are_not_peered_with_gets_a_close() -> None:
    """A holds B as ESTAB, B holds nothing of A: A's frame to B is dropped
    and answered with a Close, which takes A's link to HOLDING and ends the
    paths it had through B."""
    a = node(A, peers=(B,))
    learn(a, B, D)
    assert a.next_hop(D, 0.0) == B
    b = MeshNode(B)
    actions = b.receive(vendor(A, B, D, A), RX, 0.1)
    assert refusals(actions) == [MeshRefusal.FRAME_FROM_NON_PEER, MeshRefusal.PEERING_CLOSED_STALE_PEER]
    [close] = closes(actions)
    assert close.header.addr1 == A
    a.receive(close, RX, 0.11)
    assert a.peer_state(B) is PlinkState.HOLDING
    assert a.next_hop(D, 0.11) is None


def test_close_for_a_stale_peer_is_rate_limited_and_follows_hwmp_too() -> None:
    """Frames that keep coming get one Close per dot11MeshHoldingTimeout;
    an individually addressed HWMP frame counts as much as data."""
    b = MeshNode(B)
    preq = Preq(0, 0, 31, 1, A, 5, LIFETIME, 0, (PreqTarget(0, D, 0),))
    assert len(closes(b.receive(path_selection(B, A, preq), RX, 1.0))) == 1
    assert closes(b.receive(vendor(A, B, D, A), RX, 1.0 + CFG.dot11MeshHoldingTimeout / 2)) == []
    assert len(closes(b.receive(vendor(A, B, D, A, seq=2), RX, 1.0 + CFG.dot11MeshHoldingTimeout))) == 1
    assert b.counters[MeshRefusal.PEERING_CLOSED_STALE_PEER] == 2


def test_no_close_for_group_frames_a_handshake_or_a_linux_replay() -> None:
    """A broadcast from a non-peer says nothing of its links; during our own
    handshake with A its Confirm may just be late; and with
    close_stale_peers off (a replay of a Linux node) nothing is sent."""
    b = MeshNode(B, MeshConfig(auto_open_plinks=False))
    preq = Preq(0, 0, 31, 1, A, 5, LIFETIME, 0, (PreqTarget(0, D, 0),))
    assert closes(b.receive(path_selection(BROADCAST, A, preq), RX, 0.0)) == []
    opening = MeshNode(B)
    assert [f.action for f in sent(opening.receive(beacon_from(Mbss(A, CFG)), RX, 0.0))] == [SP_MESH_PEERING_OPEN]
    assert opening.peer_state(A) is PlinkState.OPN_SNT
    assert closes(opening.receive(vendor(A, B, D, A), RX, 0.01)) == []
    linux = MeshNode(B, MeshConfig(close_stale_peers=False))
    actions = linux.receive(vendor(A, B, D, A), RX, 0.0)
    assert closes(actions) == [] and refusals(actions) == [MeshRefusal.FRAME_FROM_NON_PEER]


def flood_from(ta: bytes) -> object:
    return path_selection(BROADCAST, ta, Preq(0, 0, 31, 1, ta, 5, LIFETIME, 0, (PreqTarget(0, D, 0),)))


def opens(actions: list) -> list[SelfProtected]:
    return [f for f in sent(actions) if isinstance(f, SelfProtected) and f.action == SP_MESH_PEERING_OPEN]


def test_known_neighbour_is_opened_on_any_frame_it_sends() -> None:
    """C knows A's beacon and holds no link with it: a flooded frame from A
    opens the peering at once. A station whose beacon C never heard is not
    opened on frames, nor one C is backing off from."""
    c = MeshNode(C)
    assert opens(c.receive(flood_from(A), RX, 0.0)) == []
    assert len(opens(c.receive(beacon_from(Mbss(A, CFG)), RX, 0.1))) == 1
    c.close_peer(A, 0.2)
    c.on_timer(("plink", A), 0.2 + CFG.dot11MeshHoldingTimeout)
    assert c.peer_state(A) is PlinkState.IDLE
    assert len(opens(c.receive(flood_from(A), RX, 0.5))) == 1
    assert c.peer_state(A) is PlinkState.OPN_SNT
    a = MeshNode(A)
    idle_at = unanswered_attempt(a.peering, 0.0)
    held = a.peers.get(B)
    assert held is not None and held.reopen_after > idle_at
    assert opens(a.receive(flood_from(B), RX, held.reopen_after - 0.01)) == []
    assert len(opens(a.receive(flood_from(B), RX, held.reopen_after))) == 1


def test_frames_open_nothing_with_the_knob_off() -> None:
    """plink_open_on_frames off: only beacons open, as Linux's
    mesh_neighbour_update."""
    c = MeshNode(C, MeshConfig(plink_open_on_frames=False))
    c.receive(beacon_from(Mbss(A, CFG)), RX, 0.0)
    c.close_peer(A, 0.1)
    c.on_timer(("plink", A), 0.1 + CFG.dot11MeshHoldingTimeout)
    assert opens(c.receive(flood_from(A), RX, 0.5)) == []

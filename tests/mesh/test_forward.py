"""The forwarder and the node around it: TTL, forwarding along paths, PERR
on forwarding failure, duplicate suppression, the queue of frames waiting
for a path, payloads carried end to end unread, and refusals of bad input,
each counted by reason."""

from __future__ import annotations

from dataclasses import replace

from meshframes.codec import BlockAckAction, DataFrame, MacHeader, MeshControl, VendorAction, decode, encode
from meshframes.codec.blockack import AddbaRequest
from meshframes.codec.fastpay import FastPayFragment, MessageType, fragment
from meshframes.codec.frames import CATEGORY_VENDOR, ActionFrame, ManagementFrame
from meshframes.codec.header import BROADCAST, FC_PROTECTED, FC_RETRY
from meshframes.codec.meshctl import AE_A5_A6
from meshframes.codec.pathsel import Prep, Preq, PreqTarget
from meshframes.codec.peering import MeshPeeringManagement
from meshframes.codec.reason import ReasonCode
from meshframes.hosts.base import RxFrame
from meshframes.hosts.node import NodeHost
from meshframes.mesh.constants import MeshConfig
from meshframes.mesh.events import Action, Deliver, DeliverData, Refused
from meshframes.mesh.mbss import action_header, path_selection
from meshframes.mesh.node import MeshNode

from .helpers import RX, A, B, C, D, ListRadio, ManualClock, peer_frame, refusals, sent, take_as_established, timers

LIFETIME = 4882


def node(mac: bytes = B, peers: tuple[bytes, ...] = (A, C), **config: object) -> MeshNode:
    n = MeshNode(mac, MeshConfig(**config))  # type: ignore[arg-type]
    for addr in peers:
        take_as_established(n.peers, addr)
    return n


def learn(n: MeshNode, via: bytes, dst: bytes, sn: int = 5, now: float = 0.0,
          lifetime: int = LIFETIME) -> list[Action]:
    """Give n a path to dst through `via` the way HWMP learns one: a PREQ.
    Returns what n did on it."""
    element = Preq(0, 0, 31, 1, dst, sn, lifetime, 0, (PreqTarget(0, bytes(6), 0),))
    return n.receive(path_selection(BROADCAST, via, element), RX, now)


def vendor(ta: bytes, ra: bytes, mesh_da: bytes, mesh_sa: bytes, ttl: int = 31, seq: int = 1,
           payload: bytes = b"order") -> VendorAction:
    return VendorAction(action_header(ra, ta), CATEGORY_VENDOR,
                        MeshControl(AE_A5_A6, ttl, seq, (mesh_da, mesh_sa)), FastPayFragment(1, 0, seq, 0, 1, payload))


def one_fragment(data: bytes) -> FastPayFragment:
    return FastPayFragment(MessageType.FASTPAY_ORDER, 0, 1, 0, 1, data)


def delivered(actions: list[Action]) -> list:
    return [a for a in actions if isinstance(a, (Deliver, DeliverData))]


def test_relay_along_the_path() -> None:
    """A frame for D arrives from A: it leaves for the next hop toward D with
    TTL - 1, our address as transmitter and its Mesh Control intact."""
    n = node()
    learn(n, C, D)
    (out,) = sent(n.receive(vendor(A, B, D, A), RX, 0.1))
    assert out.header.addr1 == C and out.header.addr2 == out.header.addr3 == B
    assert out.mesh_control == MeshControl(AE_A5_A6, 30, 1, (D, A))
    assert n.path(D) is not None and A in n.path(D).precursors  # type: ignore[union-attr]


def test_relayed_frames_wait_out_the_forwarding_delay() -> None:
    """With a forwarding delay (the simulator's devices: ns-3's U(300, 400)
    us), a relayed frame leaves only when its timer fires, each frame after
    its own draw; a group frame is delivered at once and sent on later."""
    n = node(forwarding_delay=(300e-6, 400e-6))
    learn(n, C, D)
    held = n.receive(vendor(A, B, D, A), RX, 0.1)
    assert not sent(held)
    (key, deadline), = timers(held).items()
    assert 0.1 + 300e-6 <= deadline <= 0.1 + 400e-6
    (out,) = sent(n.on_timer(key, deadline))
    assert out.header.addr1 == C and out.mesh_control.ttl == 30
    group = n.receive(vendor(A, BROADCAST, BROADCAST, A, seq=2), RX, 0.2)
    assert len(delivered(group)) == 1 and not sent(group)
    (key2, deadline2), = timers(group).items()
    assert key2 != key and 0.2 + 300e-6 <= deadline2 <= 0.2 + 400e-6
    assert sent(n.on_timer(key2, deadline2))[0].header.addr1 == BROADCAST
    draws = {timers(n.receive(vendor(A, B, D, A, seq=s), RX, 1.0)).popitem()[1] for s in range(3, 23)}
    assert len(draws) == 20  # jitter, not one fixed delay
    assert refusals(n.on_timer(key, 1.0)) == ["unknown-timer"]  # released once only


def test_ttl_expiry() -> None:
    """TTL 1 for someone else: not forwarded; TTL 0: dropped even for us;
    a group frame with TTL 1 is delivered but not rebroadcast."""
    n = node()
    learn(n, C, D)
    assert refusals(n.receive(vendor(A, B, D, A, ttl=1), RX, 0.1)) == ["ttl-expired"]
    assert refusals(n.receive(vendor(A, B, B, A, ttl=0, seq=2), RX, 0.1)) == ["ttl-zero"]
    group = vendor(A, BROADCAST, BROADCAST, A, ttl=1, seq=3)
    actions = n.receive(group, RX, 0.1)
    assert refusals(actions) == ["ttl-expired"] and not sent(actions) and len(delivered(actions)) == 1


def test_forwarding_failure_sends_perr_to_the_transmitter() -> None:
    """No path to the mesh DA: dropped, and a PERR (no forwarding
    information, SN unknown) goes back to the transmitter, as Linux does."""
    n = node()
    actions = n.receive(vendor(A, B, D, A), RX, 0.1)
    assert "no-forwarding-information" in refusals(actions)
    (perr_frame,) = sent(actions)
    assert perr_frame.header.addr1 == A
    (dest,) = perr_frame.elements[0].destinations
    assert (dest.addr, dest.sn, dest.reason) == (D, 0, ReasonCode.MESH_PATH_ERROR_NO_FORWARDING_INFORMATION)


def test_perr_queue_is_bounded_and_holds_one_per_receiver_and_destination() -> None:
    """A peer floods frames for 200 destinations we have no path to: the
    first PERR leaves, 64 wait behind the rate limit, the rest are dropped
    and counted. The same flood again adds nothing: one waiting PERR per
    (receiver, destination). Draining sends exactly the queued ones, one
    per dot11MeshHWMPperrMinInterval."""
    from meshframes.mesh.hwmp import MAX_PERR_QUEUE_LEN, TIMER_PERR

    n = node()
    targets = [bytes([2, 0, 0, 1, i >> 8, i & 0xFF]) for i in range(200)]
    perrs = [sent(n.receive(vendor(A, B, t, A, seq=1 + k), RX, 0.1)) for k, t in enumerate(targets)]
    assert sum(map(len, perrs)) == 1
    assert n.counters["perr-queue-full"] == 200 - 1 - MAX_PERR_QUEUE_LEN
    for k, target in enumerate(targets[1:MAX_PERR_QUEUE_LEN + 1]):
        n.receive(vendor(A, B, target, A, seq=500 + k), RX, 0.1)
    assert n.counters["perr-already-queued"] == MAX_PERR_QUEUE_LEN
    interval = n.config.dot11MeshHWMPperrMinInterval
    drained = []
    for step in range(1, 2 * MAX_PERR_QUEUE_LEN):
        drained += [f.elements[0].destinations[0].addr for f in sent(n.on_timer(TIMER_PERR, 0.1 + step * interval))]
    assert drained == targets[1:MAX_PERR_QUEUE_LEN + 1]


def test_group_frames_flood_once() -> None:
    """A broadcast is delivered and rebroadcast once; the same (mesh SA,
    sequence number) again is a duplicate; our own flood coming back is
    recognised."""
    n = node()
    first = n.receive(vendor(A, BROADCAST, BROADCAST, A, seq=7), RX, 0.1)
    assert [f.header.addr1 for f in sent(first)] == [BROADCAST] and len(delivered(first)) == 1
    again = n.receive(vendor(C, BROADCAST, BROADCAST, A, seq=7), RX, 0.2)
    assert refusals(again) == ["duplicate"] and not sent(again)
    mine = n.receive(vendor(C, BROADCAST, BROADCAST, B, seq=1), RX, 0.3)
    assert refusals(mine) == ["own-frame-returned"]


def test_group_frame_naming_one_station_is_neither_delivered_nor_forwarded() -> None:
    """A1 broadcast with a unicast mesh DA (ours or another's): a group
    frame's destination is its group, so it is refused and counted, as
    Linux drops four-address data with a group A1; and a mesh data frame
    of that shape too."""
    n = node()
    learn(n, C, D)
    for mesh_da, seq in ((D, 1), (B, 2)):
        actions = n.receive(vendor(A, BROADCAST, mesh_da, A, seq=seq), RX, 0.1)
        assert refusals(actions) == ["group-frame-unicast-mesh-da"]
        assert not sent(actions) and not delivered(actions)
    header = MacHeader(0x0388, 0, BROADCAST, A, D, 0x10, addr4=A, qos_control=0x0100)
    data = decode(encode(DataFrame(header, MeshControl(0, 30, 4), b"\xaa\xaa\x03" + bytes(5))))
    actions = n.receive(data, RX, 0.1)
    assert refusals(actions) == ["group-frame-unicast-mesh-da"] and not sent(actions) and not delivered(actions)
    assert n.counters["group-frame-unicast-mesh-da"] == 3


def test_frames_wait_for_a_path_in_a_bounded_queue() -> None:
    """Sends to an unknown destination queue (frame_queue_len, oldest
    dropped) while a PREQ goes out; the PREP releases them to the next hop."""
    n = node()
    actions = n.send_payload(D, one_fragment(b"first"), 0.0)
    assert [type(f.elements[0]) for f in sent(actions)] == [Preq]
    for i in range(n.config.frame_queue_len):
        actions = n.send_payload(D, one_fragment(b"more %d" % i), 0.001)
    assert refusals(actions) == ["frame-queue-overflow"]
    prep = Prep(0, 1, 30, D, 9, LIFETIME, 100, B, n.hwmp.sn)
    released = sent(n.receive(path_selection(B, C, prep), RX, 0.01))
    assert len(released) == n.config.frame_queue_len
    assert {f.header.addr1 for f in released} == {C} and released[0].payload.data == b"more 0"


def test_failed_discovery_drops_the_queue() -> None:
    n = node()
    n.send_payload(D, one_fragment(b"lost"), 0.0)
    t = 0.1
    actions: list[Action] = []
    while "discovery-failed-frame-dropped" not in refusals(actions):
        actions = n.on_timer(("path", D), t)
        t *= 2
    assert n.forwarder.pending(D) == 0


def test_fragments_cross_a_relay_unread() -> None:
    """The three fragments of a 5 kB message go from A to C over B, frame
    by frame through the codec: C hands each one up as it was sent, and B
    delivers none of them."""
    a, b, c = node(A, (B,)), node(B, (A, C)), node(C, (B,))
    learn(a, B, C)
    learn(b, C, C)
    learn(b, A, A)
    message = bytes(range(256)) * 20
    parts = [FastPayFragment(MessageType.FASTPAY_CERTIFICATE, 0, 7, k, 3, part)
             for k, part in enumerate(fragment(message))]
    hops = {A: a, B: b, C: c}
    queue = [(A, f) for part in parts for f in sent(a.send_payload(C, part, 1.0))]
    assert len(queue) == 3
    got: dict[bytes, list] = {A: [], B: [], C: []}
    while queue:
        src, frame = queue.pop(0)
        frame = decode(encode(frame))
        target = hops[frame.header.addr1]
        actions = target.receive(frame, RX, 1.0)
        got[frame.header.addr1] += delivered(actions)
        queue += [(frame.header.addr1, f) for f in sent(actions)]
    assert got[C] == [Deliver(A, C, part) for part in parts] and not got[B]
    assert b"".join(d.payload.data for d in got[C]) == message


def test_linux_relayed_data_is_forwarded_with_the_bit_set() -> None:
    """A mesh data frame relayed Linux-style (QoS mesh-control bit clear) is
    understood and forwarded with the bit set, as the standard asks."""
    n = node()
    learn(n, C, D)
    header = MacHeader(0x0388, 60, B, A, D, 0x10, addr4=A, qos_control=0)
    frame = decode(encode(DataFrame(header, MeshControl(0, 30, 4), b"\xaa\xaa\x03" + bytes(5))))
    (out,) = sent(n.receive(frame, RX, 0.1))
    assert out.header.qos_control & 0x0100 and out.mesh_control.ttl == 29 and out.header.addr1 == C


def test_retransmission_duplicate_is_dropped() -> None:
    """802.11 duplicate detection: Retry set and the same Sequence Control
    from the same transmitter."""
    n = node()
    frame = replace(vendor(A, B, B, A), header=replace(vendor(A, B, B, A).header, seq_ctrl=0x50))
    assert len(delivered(n.receive(frame, RX, 0.1))) == 1
    retried = replace(frame, header=replace(frame.header, frame_control=frame.header.frame_control | FC_RETRY))
    assert refusals(n.receive(retried, RX, 0.1)) == ["duplicate-retransmission"]


def test_duplicate_detection_keeps_state_only_for_peer_table_entries() -> None:
    """As Linux keeps the last Sequence Control in the station entry: a
    transmitter without an entry (any made-up address, here thousands of
    them) leaves no state behind, and the state goes with the entry."""
    n = node()
    for i in range(2000):
        fake = bytes([6, 0, 0, 0, i >> 8, i & 0xFF])
        close = peer_frame(fake, B, 3, MeshPeeringManagement(1, None, 52))
        n.receive(replace(close, header=replace(close.header, seq_ctrl=0x10)), RX, 1.0)
    assert len(n.peers) == 2 and all(not p.last_seq_ctrl for p in n.peers)
    frame = replace(vendor(A, B, B, A), header=replace(vendor(A, B, B, A).header, seq_ctrl=0x50))
    n.receive(frame, RX, 1.0)
    assert n.peers.get(A).last_seq_ctrl == {16: 0x50}  # type: ignore[union-attr]


def run(frames: list[bytes], n: MeshNode) -> NodeHost:
    clock = ManualClock()
    radio = ListRadio(n.mac, clock)
    runtime = NodeHost(n, radio, clock)
    radio.inbox = [RxFrame(f, 0.0, -50, 60) for f in frames]
    runtime.poll()
    return runtime


def test_bad_input_is_refused_and_counted() -> None:
    """Malformed bytes, HWMP and data from non-peers, oversize element
    counts, stale sequence numbers, undecrypted and unknown frames: each is
    refused with its reason and counted; nothing crashes."""
    n = node(peers=(A,))
    learn(n, A, D, sn=10)
    stale = Preq(0, 0, 31, 2, D, 9, LIFETIME, 0, (PreqTarget(0, C, 0),))
    zero_targets = bytearray(encode(path_selection(BROADCAST, A, stale)))
    zero_targets[24 + 2 + 2 + 25] = 0  # Target Count 0
    oversize_perr = action_header(BROADCAST, A).encode() + bytes([13, 1, 132, 2, 31, 20])
    protected = replace(vendor(A, B, B, A), header=replace(vendor(A, B, B, A).header,
                                                           frame_control=0x00D0 | FC_PROTECTED))
    frames = [
        b"\x00",  # one byte
        encode(path_selection(BROADCAST, C, stale)),  # HWMP from a non-peer
        encode(vendor(C, B, B, C)),  # data from a non-peer
        bytes(zero_targets),
        encode(vendor(A, B, B, A))[:-9],  # truncated FastPay header
        oversize_perr,
        encode(path_selection(BROADCAST, A, stale)),  # stale SN from a peer
        encode(ManagementFrame(protected.header, b"\x00" * 16)),
        encode(ActionFrame(action_header(B, A), 200, b"\x01")),
        encode(ActionFrame(action_header(B, A), CATEGORY_VENDOR | 0x80, b"\x0a\x4d\x46")),
        # A Linux peer's ADDBA Request: we never aggregate.
        encode(BlockAckAction(action_header(B, A), AddbaRequest(1, 0x1003, 0, 0x10))),
    ]
    runtime = run([bytes(f) for f in frames], n)
    counted = runtime.node.counters
    assert counted["malformed"] == 4
    for reason in ("hwmp-from-non-peer", "frame-from-non-peer", "hwmp-stale-sn",
                   "protected-frame-not-unsealed", "action-returned-by-peer"):
        assert counted[reason] == 1, reason
    assert counted["action-category-unsupported"] == 2
    # The data from non-peer C came to B alone: C gets a Close for the
    # peering it believes it has.
    assert counted["peering-closed-stale-peer"] == 1
    assert sum(counted.values()) == 12


def test_refused_actions_carry_the_reason() -> None:
    n = node(peers=())
    actions = n.receive(vendor(C, B, B, C), RX, 0.0)
    assert [a for a in actions if isinstance(a, Refused)] == [Refused("frame-from-non-peer", C.hex(":")),
                                                              Refused("peering-closed-stale-peer", C.hex(":"))]
    # Nothing of C's frame is relayed; only the Close goes back to C.
    assert [(f.header.addr1, f.action) for f in sent(actions)] == [(C, 3)]


def test_silent_entries_never_established_expire_after_the_plink_timeout() -> None:
    """Housekeeping forgets entries not established and silent for
    plink_timeout (Linux: 1800 s), counted; recently heard ones and
    established peers stay."""
    from meshframes.mesh.mbss import Mbss
    from meshframes.mesh.node import TIMER_HOUSEKEEPING

    n = node(auto_open_plinks=False)
    strangers = [bytes([2, 0xFA, 0, 0, 0, i]) for i in range(5)]
    for mac in strangers:
        beacon = Mbss(mac, MeshConfig()).beacon(1.0, 0)
        n.receive(beacon, RX, 1.0)
    late = Mbss(D, MeshConfig()).beacon(100.0, 0)
    n.receive(late, RX, 100.0)
    for peer in (A, C):
        n.receive(Mbss(peer, MeshConfig()).beacon(1801.0, 0), RX, 1801.0)
    n.on_timer(TIMER_HOUSEKEEPING, 1801.5)
    assert n.counters["peer-expired"] == len(strangers)
    assert all(n.peers.get(m) is None for m in strangers)
    assert n.peers.get(D) is not None and n.peers.is_established(A) and n.peers.is_established(C)

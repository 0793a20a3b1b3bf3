"""A PREQ flood from one peer, 1,000 made-up originators a second: the path
table stays within its bound, the flood is not spread further, and real
paths are still learned in one discovery, during the flood and after it."""

from __future__ import annotations

import random

from meshframes.codec import MeshAction, decode, encode
from meshframes.codec.fastpay import FastPayFragment, MessageType
from meshframes.codec.header import BROADCAST
from meshframes.codec.pathsel import Prep, Preq, PreqTarget
from meshframes.mesh.constants import MeshConfig
from meshframes.mesh.events import MeshRefusal
from meshframes.mesh.hwmp import NEW_PATH_BURST, NEW_PATHS_PER_SECOND
from meshframes.mesh.mbss import path_selection
from meshframes.mesh.node import MeshNode
from meshframes.mesh.pathtable import MAX_PATHS

from .helpers import RX, A, B, C, D, E, refusals, sent, take_as_established

LIFETIME = 4882  # what Linux puts in its PREQs: 5 s
FLOOD_RATE = 1000
FLOOD_SECONDS = 8


def decoded(frame: MeshAction) -> MeshAction:
    """As the node gets it from the air."""
    got = decode(encode(frame))
    assert isinstance(got, MeshAction)
    return got


def preqs(actions: list) -> list[Preq]:
    return [e for f in sent(actions) for e in getattr(f, "elements", ()) if isinstance(e, Preq)]


def test_preq_flood_leaves_room_for_real_paths() -> None:
    """B floods 1,000 PREQs a second from fresh random originators. A keeps
    at most MAX_PATHS paths, forwards no more of B's PREQs than B's budget,
    and still learns: D's path from D's one PREQ via C, E's path from the
    one PREQ/PREP exchange A starts itself, a station behind B from its one
    PREQ, and after the flood a new originator at once (not 10 minutes
    later, when the flood's expired paths would have been forgotten)."""
    node = MeshNode(A, MeshConfig())
    for peer in (B, C):
        take_as_established(node.peers, peer)
    rng = random.Random(16)
    largest = forwarded = flooded = 0

    def flood_until(end: float, start: float) -> None:
        nonlocal largest, forwarded, flooded
        for k in range(round((end - start) * FLOOD_RATE)):
            flooded += 1
            now = start + k / FLOOD_RATE
            orig, target = b"\x02" + rng.randbytes(5), b"\x02" + rng.randbytes(5)
            element = Preq(0, 1, 31, k, orig, 1, LIFETIME, 100, (PreqTarget(0, target, 0),))
            forwarded += len(preqs(node.receive(decoded(path_selection(BROADCAST, B, element)), RX, now)))
            largest = max(largest, len(node.paths))

    flood_until(3.0, 0.0)
    assert len(node.paths) == MAX_PATHS
    # D, two hops away behind C, looks for A: one PREQ, and A answers it.
    actions = node.receive(decoded(path_selection(BROADCAST, C, Preq(
        0, 1, 31, 7, D, 20, LIFETIME, 100, (PreqTarget(0, A, 0),)))), RX, 3.0)
    assert MeshRefusal.PATH_TABLE_FULL not in refusals(actions)
    assert node.next_hop(D, 3.0) == C
    assert [type(e) for f in sent(actions) for e in f.elements] == [Prep]

    # A has a payload for E, unknown yet: one PREQ out, one PREP back via C.
    flood_until(4.0, 3.0)
    payload = FastPayFragment(MessageType.FASTPAY_ORDER, 0, 1, 0, 1, b"order")
    out = node.send_payload(E, payload, 4.0)
    assert [p.targets[0].addr for p in preqs(out)] == [E]
    prep = Prep(0, 0, 31, E, 9, LIFETIME, 100, A, preqs(out)[0].originator_sn)
    answer = node.receive(decoded(path_selection(A, C, prep)), RX, 4.004)
    assert node.next_hop(E, 4.004) == C
    assert [f.payload for f in sent(answer) if hasattr(f, "payload")] == [payload]

    # A station behind the flooding peer itself is learned too.
    flood_until(5.0, 4.004)
    behind_b = bytes.fromhex("020000000b0b")
    node.receive(decoded(path_selection(BROADCAST, B, Preq(
        0, 1, 31, 8, behind_b, 3, LIFETIME, 100, (PreqTarget(0, A, 0),)))), RX, 5.0)
    assert node.next_hop(behind_b, 5.0) == B
    # Our own traffic keeps E's path out of the flood's reach.
    node.send_payload(E, payload, 5.0)
    flood_until(FLOOD_SECONDS, 5.0)
    assert node.path(E) is not None and node.path(D) is not None

    # The flood is over; its paths have expired but are not yet forgotten.
    late = bytes.fromhex("020000000c0c")
    node.receive(decoded(path_selection(BROADCAST, C, Preq(
        0, 1, 31, 9, late, 4, LIFETIME, 100, (PreqTarget(0, A, 0),)))), RX, FLOOD_SECONDS + 10.0)
    assert node.next_hop(late, FLOOD_SECONDS + 10.0) == C

    assert largest == MAX_PATHS
    budget = NEW_PATH_BURST + NEW_PATHS_PER_SECOND * FLOOD_SECONDS
    assert forwarded <= budget
    over = node.counters[MeshRefusal.PREQ_OVER_BUDGET]
    assert over == flooded - forwarded
    assert node.paths.evicted >= flooded - MAX_PATHS - budget
    print(f"flood: {flooded} PREQs from B; largest table {largest}/{MAX_PATHS};"
          f" forwarded {forwarded}; not forwarded (over budget) {over}; evicted {node.paths.evicted}")

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from meshframes.seal.errors import SealError, SealReason
from meshframes.seal.hop import GroupOpenings, HopSealer
from meshframes.seal.keys import GroupKey, derive_mtk, derive_pmk, new_peering_nonce

MAC_A = bytes.fromhex("020000000100")
MAC_B = bytes.fromhex("020000000200")
MAC_C = bytes.fromhex("020000000300")
PMK = derive_pmk("meshframes test passphrase", b"meshframes")


def peer(one: HopSealer, other: HopSealer, link_ids: tuple[int, int] = (1, 2)) -> bytes:
    """Give two sealers a link key as a completed AMPE peering would: fresh
    nonces, link ids, the shared PMK. Returns the MTK."""
    nonce_one, nonce_other = new_peering_nonce(), new_peering_nonce()
    mtk = derive_mtk(
        PMK,
        local_mac=one.own_mac,
        peer_mac=other.own_mac,
        local_nonce=nonce_one,
        peer_nonce=nonce_other,
        local_link_id=link_ids[0],
        peer_link_id=link_ids[1],
    )
    assert mtk == derive_mtk(
        PMK,
        local_mac=other.own_mac,
        peer_mac=one.own_mac,
        local_nonce=nonce_other,
        peer_nonce=nonce_one,
        local_link_id=link_ids[1],
        peer_link_id=link_ids[0],
    )
    one.keys.install_pairwise(other.own_mac, mtk)
    other.keys.install_pairwise(one.own_mac, mtk)
    return mtk


@dataclass
class Mesh:
    a: HopSealer
    b: HopSealer
    c: HopSealer
    group_a: GroupKey


@pytest.fixture
def mesh() -> Mesh:
    """A - B - C: A and B peered, B and C peered; every node's MGTK given to
    its peers, as the AMPE exchange delivers it. The three share one cache
    of group frames opened, as the simulator's stations do."""
    openings = GroupOpenings()
    a, b, c = (HopSealer(mac, group_openings=openings) for mac in (MAC_A, MAC_B, MAC_C))
    peer(a, b)
    peer(b, c)
    group_keys = {}
    for node in (a, b, c):
        group_keys[node.own_mac] = GroupKey.generate()
        node.keys.install_group_tx(group_keys[node.own_mac])
    for node, peers in ((a, (b,)), (b, (a, c)), (c, (b,))):
        for other in peers:
            node.keys.install_group_rx(other.own_mac, group_keys[other.own_mac])
    return Mesh(a, b, c, group_keys[MAC_A])


def assert_counted_refusal(
    opener: Callable[[bytes], object], counter: Counter[SealReason], frame: bytes, error: type[SealError], reason: SealReason
) -> None:
    """`opener(frame)` raises `error` with `reason`, and `counter[reason]`
    moves by exactly one."""
    before = counter[reason]
    with pytest.raises(error) as caught:
        opener(frame)
    assert caught.value.reason is reason
    assert counter[reason] == before + 1

"""Attacks on the per-hop layer: each refused with its own reason and counted,
and the receiver keeps working afterwards."""

from __future__ import annotations

import pytest

from meshframes.seal import ccmp
from meshframes.seal.errors import (
    FrameTooShort,
    MicFailure,
    NoExtIV,
    NotProtectable,
    NotProtected,
    PnExhausted,
    PnRollback,
    Replayed,
    SealError,
    SealReason,
    UnknownKey,
    UnknownKeyId,
)
from meshframes.seal.hop import TK_MEMORY, GroupOpenings, HopSealer
from meshframes.seal.keys import GroupKey

from .conftest import MAC_A, MAC_B, MAC_C, assert_counted_refusal, peer
from .frames import BROADCAST, action, fastpay_body, fastpay_frame, mesh_data

PAYLOAD = b"FastPay TransferOrder: 100 units to bob" * 3


def order_frame(sequence: int = 0) -> bytes:
    return fastpay_frame(MAC_A, MAC_B, MAC_A, MAC_C, PAYLOAD, sequence=sequence)


def flip(frame: bytes, offset: int, bit: int = 0) -> bytes:
    return frame[:offset] + bytes((frame[offset] ^ (1 << bit),)) + frame[offset + 1 :]


def assert_refused(receiver: HopSealer, frame: bytes, error: type[SealError], reason: SealReason) -> None:
    assert_counted_refusal(receiver.open, receiver.rejected, frame, error, reason)


def assert_still_works(sender: HopSealer, receiver: HopSealer) -> None:
    """A refused frame must leave the receiver able to take genuine ones."""
    frame = order_frame(sequence=99)
    assert receiver.open(sender.seal(frame)) == frame


def test_genuine_frames_open_in_order(mesh):
    """Data and action frames sealed by A open at B and equal what A sealed."""
    for frame in (order_frame(1), mesh_data(MAC_A, MAC_B, MAC_A, MAC_C, b"ping", tid=5)):
        assert mesh.b.open(mesh.a.seal(frame)) == frame
    assert mesh.b.opened == 2 and not mesh.b.rejected


def test_replayed_frame_is_refused(mesh):
    """The same sealed frame twice: the second is a replay."""
    sealed = mesh.a.seal(order_frame())
    mesh.b.open(sealed)
    assert_refused(mesh.b, sealed, Replayed, SealReason.REPLAY)
    assert_still_works(mesh.a, mesh.b)


def test_pn_rollback_below_the_window_is_refused(mesh):
    """A frame kept back until the window moved past its PN is refused, even
    though B never saw it."""
    held_back = mesh.a.seal(order_frame())
    for _ in range(mesh.b.keys.replay_window + 1):
        mesh.b.open(mesh.a.seal(order_frame()))
    assert_refused(mesh.b, held_back, PnRollback, SealReason.PN_ROLLBACK)
    assert_still_works(mesh.a, mesh.b)


def test_late_frame_inside_the_window_is_accepted_once(mesh):
    """Reordering within the window is tolerated; the late frame counts once."""
    late = mesh.a.seal(order_frame(1))
    mesh.b.open(mesh.a.seal(order_frame(2)))
    assert mesh.b.open(late) == order_frame(1)
    assert_refused(mesh.b, late, Replayed, SealReason.REPLAY)


@pytest.mark.parametrize(
    ("offset", "bit", "what"),
    [(9, 0, "A1"), (15, 0, "A2"), (16, 0, "A3"), (22, 0, "fragment number"), (1, 2, "More Fragments bit")],
)
def test_flipped_header_bit_fails_the_mic(mesh, offset, bit, what):
    """A bit of the authenticated header (AAD) changed in flight."""
    sealed = mesh.a.seal(order_frame())
    tampered = flip(sealed, offset, bit)
    if what == "A2":
        # A2 names the transmitter, so B looks for another peer's key first;
        # keep the flip inside the address but aim it at a known transmitter.
        mesh.b.keys.install_pairwise(tampered[10:16], mesh.b.keys.tx_key(MAC_A).tk)
    assert_refused(mesh.b, tampered, MicFailure, SealReason.MIC_FAILURE)
    assert_still_works(mesh.a, mesh.b)


def test_flipped_body_bit_fails_the_mic(mesh):
    """A bit of the encrypted body changed in flight."""
    sealed = mesh.a.seal(order_frame())
    assert_refused(mesh.b, flip(sealed, 24 + 8 + 20, 3), MicFailure, SealReason.MIC_FAILURE)
    assert_still_works(mesh.a, mesh.b)


def test_flipped_pn_fails_the_mic(mesh):
    """The PN feeds the nonce: a raised PN passes the replay check but not the MIC,
    and the refused frame does not move the window."""
    sealed = mesh.a.seal(order_frame())
    assert_refused(mesh.b, flip(sealed, 24 + 5), MicFailure, SealReason.MIC_FAILURE)
    assert mesh.b.open(sealed) == order_frame()


def test_wrong_key_fails_the_mic(mesh):
    """A frame sealed under another key (a node that knows a different
    passphrase, or a stale key) under the right key id."""
    impostor = HopSealer(MAC_A)
    impostor.keys.install_pairwise(MAC_B, bytes(range(16)))
    assert_refused(mesh.b, impostor.seal(order_frame()), MicFailure, SealReason.MIC_FAILURE)
    assert_still_works(mesh.a, mesh.b)


def test_wrong_key_id_is_refused_before_decrypting(mesh):
    """A frame naming key id 1 when B holds only key id 0 for A."""
    sealed = mesh.a.seal(order_frame())
    key_octet = 24 + 3
    tampered = sealed[:key_octet] + bytes((sealed[key_octet] | 0x40,)) + sealed[key_octet + 1 :]
    assert_refused(mesh.b, tampered, UnknownKeyId, SealReason.UNKNOWN_KEY_ID)
    assert_still_works(mesh.a, mesh.b)


def test_unknown_transmitter_is_refused(mesh):
    """C is not A's peer: B-C's and A-B's keys are of no use to C for A's frames."""
    sealed = mesh.a.seal(order_frame())
    assert_refused(mesh.c, sealed, UnknownKey, SealReason.UNKNOWN_KEY)


@pytest.mark.parametrize("cut", [1, 4, 7])
def test_truncated_mic_fails_the_mic(mesh, cut):
    """Cutting octets off the MIC leaves a shorter frame whose MIC no longer
    verifies."""
    sealed = mesh.a.seal(order_frame())
    assert_refused(mesh.b, sealed[:-cut], MicFailure, SealReason.MIC_FAILURE)
    assert_still_works(mesh.a, mesh.b)


def test_frame_too_short_for_ccmp_header_and_mic(mesh):
    """A protected frame that cannot even hold the CCMP header and the MIC."""
    sealed = mesh.a.seal(order_frame())
    assert_refused(mesh.b, sealed[: 24 + 15], FrameTooShort, SealReason.TOO_SHORT)
    assert_refused(mesh.b, sealed[:20], FrameTooShort, SealReason.TOO_SHORT)


def test_cleared_protected_bit_and_ext_iv_are_refused(mesh):
    """A frame presented as unprotected, and a CCMP header without Ext IV."""
    sealed = mesh.a.seal(order_frame())
    assert_refused(mesh.b, flip(sealed, 1, 6), NotProtected, SealReason.NOT_PROTECTED)
    assert_refused(mesh.b, flip(sealed, 24 + 3, 5), NoExtIV, SealReason.NO_EXT_IV)


def test_non_robust_frames_are_not_sealed(mesh):
    """Category 127 is not robust (FastPay uses 126 when protected), and
    beacons and control frames are never protected."""
    vendor = action(MAC_B, MAC_A, MAC_A, fastpay_body(PAYLOAD, category=127))
    beacon = b"\x80\x00" + bytes(22) + bytes(12)
    ack = b"\xd4\x00\x00\x00" + MAC_A + bytes(14)
    for frame in (vendor, beacon, ack):
        with pytest.raises(NotProtectable):
            mesh.a.seal(frame)
    assert mesh.a.tx_refused[SealReason.NOT_PROTECTABLE] == 3


def test_pn_exhaustion_stops_sealing_until_rekeyed(mesh):
    """At PN 2^48 - 1 the key is spent: sealing refuses rather than wrap the
    PN around, and a new link key (re-peering) restores service."""
    mesh.a.keys.tx_key(MAC_B).next_pn = ccmp.PN_MAX
    mesh.b.open(mesh.a.seal(order_frame()))
    with pytest.raises(PnExhausted):
        mesh.a.seal(order_frame())
    assert mesh.a.tx_refused[SealReason.PN_EXHAUSTED] == 1
    peer(mesh.a, mesh.b)
    assert_still_works(mesh.a, mesh.b)


def test_repeering_rotates_the_key_and_resets_windows(mesh):
    """New nonces give a new MTK: frames under the old key stop opening, and
    the new key's PNs start again at 1 without being taken for rollbacks."""
    old_key = mesh.a.keys.tx_key(MAC_B).tk
    for _ in range(5):
        mesh.b.open(mesh.a.seal(order_frame()))
    in_flight = mesh.a.seal(order_frame())
    new_key = peer(mesh.a, mesh.b)
    assert new_key != old_key
    assert mesh.a.keys.tx_key(MAC_B).next_pn == 1
    assert_refused(mesh.b, in_flight, MicFailure, SealReason.MIC_FAILURE)
    assert_still_works(mesh.a, mesh.b)


def test_reinstalling_the_same_key_keeps_pn_and_windows(mesh):
    """Installing an identical key again (a retransmitted confirm) must not
    reset the PN or the replay windows: that would allow replays (KRACK)."""
    sealed = mesh.a.seal(order_frame())
    mesh.b.open(sealed)
    tk = mesh.a.keys.tx_key(MAC_B).tk
    assert mesh.a.keys.install_pairwise(MAC_B, tk) is False
    assert mesh.b.keys.install_pairwise(MAC_A, tk) is False
    assert mesh.a.keys.tx_key(MAC_B).next_pn == 2
    assert_refused(mesh.b, sealed, Replayed, SealReason.REPLAY)


def test_group_frames_use_the_transmitters_group_key(mesh):
    """A group-addressed frame from B opens at A and at C with B's MGTK and
    only with it."""
    frame = action(BROADCAST, MAC_B, MAC_B, fastpay_body(b"announce", mesh_da=BROADCAST, mesh_sa=MAC_B))
    sealed = mesh.b.seal(frame)
    assert mesh.a.open(sealed) == frame
    assert mesh.c.open(sealed) == frame
    from_a = mesh.a.seal(frame.replace(MAC_B, MAC_A))
    assert_refused(mesh.c, from_a, UnknownKey, SealReason.UNKNOWN_KEY)


def test_a_group_frame_opened_by_one_neighbour_is_still_checked_by_each(mesh):
    """Every neighbour hears a group frame as the same octets: each one
    still refuses it the second time (its own replay window), and one that
    holds another key under the transmitter's key id fails the MIC rather
    than taking the plaintext a neighbour opened."""
    frame = action(BROADCAST, MAC_B, MAC_B, fastpay_body(b"announce", mesh_da=BROADCAST, mesh_sa=MAC_B))
    sealed = mesh.b.seal(frame)
    assert mesh.a.open(sealed) == frame
    assert_refused(mesh.a, sealed, Replayed, SealReason.REPLAY)
    mesh.c.keys.install_group_rx(MAC_B, GroupKey.generate())
    assert_refused(mesh.c, sealed, MicFailure, SealReason.MIC_FAILURE)
    assert_still_works(mesh.a, mesh.b)


def test_group_openings_are_shared_only_where_given_and_stay_bounded():
    """A group frame opened by one sealer is reused by another that shares
    its GroupOpenings and holds the same key; a sealer without one opens
    every frame itself; the cache never holds more than `kept` frames."""
    openings = GroupOpenings(kept=2)
    sender = HopSealer(MAC_B)
    group = GroupKey.generate()
    sender.keys.install_group_tx(group)
    sharing = [HopSealer(mac, group_openings=openings) for mac in (MAC_A, MAC_C)]
    alone = HopSealer(MAC_C)
    for receiver in (*sharing, alone):
        receiver.keys.install_group_rx(MAC_B, group)
    frames = [action(BROADCAST, MAC_B, MAC_B, fastpay_body(b"announce %d" % i, mesh_da=BROADCAST, mesh_sa=MAC_B))
              for i in range(3)]
    sealed = [sender.seal(frame) for frame in frames]
    assert sharing[0].open(sealed[0]) == frames[0]
    assert openings.get(sealed[0]) is not None
    opened_by_first = openings.get(sealed[0])
    assert sharing[1].open(sealed[0]) == frames[0] and openings.get(sealed[0]) is opened_by_first
    assert alone.open(sealed[0]) == frames[0] and alone.group_openings is None
    for frame, on_air in zip(frames[1:], sealed[1:], strict=True):
        assert sharing[0].open(on_air) == frame
    assert openings.get(sealed[0]) is None and openings.get(sealed[2]) is not None


def test_group_key_rotation_keeps_the_old_key_id_until_replaced(mesh):
    """After A rotates its MGTK (key id 1 -> 2), B holds both: frames sealed
    under either id open."""
    frame = action(BROADCAST, MAC_A, MAC_A, fastpay_body(b"hello", mesh_da=BROADCAST, mesh_sa=MAC_A))
    before = mesh.a.seal(frame)
    rotated = mesh.group_a.rotated()
    mesh.a.keys.install_group_tx(rotated)
    mesh.b.keys.install_group_rx(MAC_A, rotated)
    after = mesh.a.seal(frame)
    assert after[24 + 3] >> 6 == 2 and before[24 + 3] >> 6 == 1
    assert mesh.b.open(after) == frame
    assert mesh.b.open(before) == frame


def test_relay_reseals_per_hop(mesh):
    """A -> B -> C: B opens with A's key, re-addresses, seals with C's key; C
    cannot open A's original frame but opens B's."""
    frame = order_frame()
    at_b = mesh.b.open(mesh.a.seal(frame))
    forwarded = at_b[:4] + MAC_C + MAC_B + MAC_B + at_b[22:]
    sealed = mesh.b.seal(forwarded)
    assert mesh.c.open(sealed) == forwarded


def test_closed_peering_forgets_keys(mesh):
    """After B removes A, A's frames are from an unknown transmitter."""
    sealed = mesh.a.seal(order_frame())
    mesh.b.keys.remove_peer(MAC_A)
    assert_refused(mesh.b, sealed, UnknownKey, SealReason.UNKNOWN_KEY)


def test_pn_never_goes_back_for_the_same_tk(mesh):
    """CCMP's nonce is (priority, A2, PN) without the key id: however a TK
    comes back (another key id, another peer, the group, after a rotation,
    after the peer was removed, after more keys than the store remembers),
    no PN is ever sealed twice under it."""
    tk = mesh.a.keys.tx_key(MAC_B).tk
    other = bytes(range(16))
    group_tk = mesh.group_a.tk
    used: set[tuple[bytes, int]] = set()

    def seal_some(receiver: bytes, count: int = 3) -> None:
        for _ in range(count):
            key = mesh.a.keys.tx_key(receiver)
            pn = ccmp.parse_protected(mesh.a.seal(fastpay_frame(MAC_A, receiver, MAC_A, MAC_C, PAYLOAD)))[4]
            assert (key.tk, pn) not in used
            used.add((key.tk, pn))

    seal_some(MAC_B)
    mesh.a.keys.install_pairwise(MAC_B, tk, key_id=1)  # same TK, other key id
    seal_some(MAC_B)
    mesh.a.keys.install_pairwise(MAC_B, other)  # rotated away and back
    seal_some(MAC_B)
    mesh.a.keys.install_pairwise(MAC_B, tk)
    seal_some(MAC_B)
    mesh.a.keys.remove_peer(MAC_B)  # forgotten with the peer, then again
    mesh.a.keys.install_pairwise(MAC_B, tk)
    seal_some(MAC_B)
    mesh.a.keys.install_pairwise(MAC_C, tk)  # the same TK for another peer
    seal_some(MAC_C)
    seal_some(MAC_B)
    mesh.a.keys.install_group_tx(mesh.group_a.rotated())  # the group key rotated and back
    mesh.a.keys.install_group_tx(GroupKey(group_tk, mesh.group_a.key_id))
    seal_some(BROADCAST)
    mesh.a.keys.install_pairwise(MAC_C, group_tk)  # the group TK as a pairwise one
    seal_some(MAC_C)
    mesh.a.keys.remove_peer(MAC_B)
    mesh.a.keys.remove_peer(MAC_C)
    for n in range(TK_MEMORY + 8):  # more keys than the store remembers
        mesh.a.keys.install_pairwise(MAC_C, n.to_bytes(16, "big"))
    mesh.a.keys.install_pairwise(MAC_B, tk)
    seal_some(MAC_B)
    assert len(used) == 30

"""Opening a capture's frames with a key file: which key a frame takes,
each refusal by reason, and a fuzz that damaged frames are only ever
counted, never a crash."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from meshframes.seal.capture import CaptureOpener, Undecryptable
from meshframes.seal.errors import SealReason
from meshframes.seal.hop import HopSealer
from meshframes.seal.keyfile import CaptureKeys, LinkKey, TransmitterKey
from meshframes.seal.keys import GroupKey

from .conftest import MAC_A, MAC_B, MAC_C
from .frames import BROADCAST, action, fastpay_body, mesh_data

OLD_TK, NEW_TK, GROUP_TK = bytes(range(16)), bytes(range(1, 17)), bytes(range(2, 18))


def sealed() -> tuple[list[bytes], list[bytes]]:
    """(plaintext, on the air): A to B under an old and, after re-peering,
    a new TK; A to C; a group frame under A's MGTK."""
    a = HopSealer(MAC_A)
    a.keys.install_group_tx(GroupKey(GROUP_TK, 1))
    plain = [mesh_data(MAC_A, MAC_B, MAC_A, MAC_C, b"before re-peering"),
             mesh_data(MAC_A, MAC_B, MAC_A, MAC_C, b"after re-peering"),
             mesh_data(MAC_A, MAC_C, MAC_A, MAC_B, b"to C"),
             action(BROADCAST, MAC_A, MAC_A, fastpay_body(b"announce", mesh_da=BROADCAST, mesh_sa=MAC_A))]
    a.keys.install_pairwise(MAC_B, OLD_TK)
    a.keys.install_pairwise(MAC_C, NEW_TK)
    air = [a.seal(plain[0])]
    a.keys.install_pairwise(MAC_B, NEW_TK)
    air += [a.seal(frame) for frame in plain[1:]]
    return plain, air


KEYS = CaptureKeys(
    pairwise=(LinkKey.of(MAC_B, MAC_A, NEW_TK), LinkKey.of(MAC_A, MAC_B, OLD_TK), LinkKey.of(MAC_C, MAC_A, NEW_TK)),
    group=(TransmitterKey(MAC_A, 1, GROUP_TK),),
)


def test_each_frame_opens_with_a_key_of_its_link_or_transmitter() -> None:
    """Both TKs of a re-peered link are tried; the group frame takes its
    transmitter's MGTK; unprotected frames pass as they are."""
    plain, air = sealed()
    opener = CaptureOpener(KEYS)
    assert [opener(frame, i) for i, frame in enumerate(air)] == plain
    assert opener(plain[0], 9) is plain[0]
    assert (opener.decrypted, opener.failures) == (4, [])


def test_refusals_are_counted_by_reason_and_frame() -> None:
    """No key for a link, a group key under another id, a key that does not
    verify, and a frame cut inside its CCMP header: each is counted with
    its frame index and the frame handed back still protected."""
    _, air = sealed()
    keys = CaptureKeys(pairwise=(LinkKey.of(MAC_A, MAC_B, GROUP_TK),), group=(TransmitterKey(MAC_A, 2, GROUP_TK),))
    opener = CaptureOpener(keys)
    out = [opener(frame, i) for i, frame in enumerate([*air, air[0][:28]])]
    assert out == [*air, air[0][:28]]
    assert opener.failures[0].reason is SealReason.MIC_FAILURE
    assert [(f.index, f.reason) for f in opener.failures] == [
        (0, SealReason.MIC_FAILURE), (1, SealReason.MIC_FAILURE), (2, SealReason.UNKNOWN_KEY),
        (3, SealReason.UNKNOWN_KEY_ID), (4, SealReason.TOO_SHORT)]
    assert opener.undecryptable == Counter({SealReason.MIC_FAILURE: 2, SealReason.UNKNOWN_KEY: 1,
                                            SealReason.UNKNOWN_KEY_ID: 1, SealReason.TOO_SHORT: 1})
    assert "02:00:00:00:01:00 - 02:00:00:00:03:00" in opener.failures[2].detail
    summary = opener.summary()
    assert summary["undecryptable"] == 5 and summary["decrypted"] == 0
    assert isinstance(opener.failures[0], Undecryptable)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(range(4)), st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255),
                                                     st.sampled_from("fid")), min_size=1, max_size=4))
def test_fuzz_damaged_frames_are_opened_or_counted(which: int, edits: list[tuple[int, int, str]]) -> None:
    """Sealed frames with octets flipped, inserted or deleted: each comes
    back opened or as it was, and every refusal is counted by reason."""
    _, air = sealed()
    data = bytearray(air[which])
    for pos, value, op in edits:
        pos %= len(data) + 1
        if op == "i":
            data[pos:pos] = bytes([value])
        elif pos < len(data):
            if op == "f":
                data[pos] ^= value or 1
            else:
                del data[pos]
    opener = CaptureOpener(KEYS)
    out = opener(bytes(data), 0)
    assert opener.decrypted + sum(opener.undecryptable.values()) <= 1
    if sum(opener.undecryptable.values()):
        assert out == bytes(data) and opener.failures[0].reason in SealReason


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_fuzz_arbitrary_bytes_never_crash(data: bytes) -> None:
    opener = CaptureOpener(KEYS)
    out = opener(data, 0)
    assert out == data or opener.decrypted == 1

"""Mesh key derivations: PMK vectors, MTK/AEK agreement, group key rotation."""

from __future__ import annotations

import pytest

from meshframes.seal.keys import (
    GroupKey,
    derive_aek,
    derive_mtk,
    derive_pmk,
    kdf_sha256,
    new_peering_nonce,
)

A = bytes.fromhex("020000000100")
B = bytes.fromhex("020000000200")


@pytest.mark.parametrize(
    ("passphrase", "mesh_id", "pmk"),
    [
        # IEEE 802.11-2020 J.4.2 (passphrase -> PSK), mesh ID in the SSID's place
        ("password", b"IEEE", "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"),
        ("ThisIsAPassword", b"ThisIsASSID", "0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af"),
    ],
)
def test_pmk_matches_the_standard_vectors(passphrase, mesh_id, pmk):
    """PBKDF2-SHA1 with 4096 rounds salted by the mesh ID gives J.4.2's PSKs."""
    assert derive_pmk(passphrase, mesh_id).hex() == pmk


@pytest.mark.parametrize(("passphrase", "mesh_id"), [("short", b"mesh"), ("x" * 64, b"mesh"), ("password", b"")])
def test_pmk_refuses_out_of_range_inputs(passphrase, mesh_id):
    """Passphrases outside 8..63 characters and empty mesh IDs are refused."""
    with pytest.raises(ValueError):
        derive_pmk(passphrase, mesh_id)


def _link(pmk, nonce_a, nonce_b, lid_a=0x1234, lid_b=0x0042):
    at_a = derive_mtk(
        pmk, local_mac=A, peer_mac=B, local_nonce=nonce_a, peer_nonce=nonce_b, local_link_id=lid_a, peer_link_id=lid_b
    )
    at_b = derive_mtk(
        pmk, local_mac=B, peer_mac=A, local_nonce=nonce_b, peer_nonce=nonce_a, local_link_id=lid_b, peer_link_id=lid_a
    )
    return at_a, at_b


def test_both_peers_derive_the_same_mtk():
    """Each side puts itself first, yet min/max ordering gives one key."""
    pmk = derive_pmk("correct horse", b"meshframes")
    at_a, at_b = _link(pmk, new_peering_nonce(), new_peering_nonce())
    assert at_a == at_b and len(at_a) == 16


def test_mtk_depends_on_every_input():
    """Changing any one input (PMK, either nonce, either link id) changes the key,
    so a re-peering with new nonces rotates it."""
    pmk = derive_pmk("correct horse", b"meshframes")
    nonce_a, nonce_b = new_peering_nonce(), new_peering_nonce()
    base, _ = _link(pmk, nonce_a, nonce_b)
    variants = [
        _link(derive_pmk("correct horse", b"other-mesh"), nonce_a, nonce_b)[0],
        _link(pmk, new_peering_nonce(), nonce_b)[0],
        _link(pmk, nonce_a, new_peering_nonce())[0],
        _link(pmk, nonce_a, nonce_b, lid_a=0x1235)[0],
        _link(pmk, nonce_a, nonce_b, lid_b=0x0043)[0],
    ]
    assert len({base, *variants}) == 6


def test_link_ids_are_ordered_as_numbers_not_octets():
    """0x0100 < 0x00ff as little-endian octets but not as numbers: swapping
    which side holds which id must not change the key (hostap's rule)."""
    pmk = derive_pmk("correct horse", b"meshframes")
    nonce_a, nonce_b = new_peering_nonce(), new_peering_nonce()
    at_a, at_b = _link(pmk, nonce_a, nonce_b, lid_a=0x0100, lid_b=0x00FF)
    assert at_a == at_b


def test_aek_is_shared_and_distinct_from_the_mtk():
    """The AEK is 256 bits, the same at both ends, and unrelated to the MTK."""
    pmk = derive_pmk("correct horse", b"meshframes")
    aek = derive_aek(pmk, local_mac=A, peer_mac=B)
    assert aek == derive_aek(pmk, local_mac=B, peer_mac=A)
    assert len(aek) == 32
    assert aek[:16] not in _link(pmk, new_peering_nonce(), new_peering_nonce())


def test_kdf_length_is_part_of_the_input():
    """12.7.1.7.2 hashes the output length in, so a longer output does not
    begin with the shorter one; a 384-bit output takes two HMAC blocks."""
    short = kdf_sha256(b"k" * 32, "label", b"context", 256)
    long = kdf_sha256(b"k" * 32, "label", b"context", 384)
    assert len(short) == 32 and len(long) == 48
    assert long[:32] != short


def test_group_key_rotation_alternates_key_ids():
    """Each rotation draws a new random MGTK under the other key id."""
    first = GroupKey.generate()
    second = first.rotated()
    third = second.rotated()
    assert (first.key_id, second.key_id, third.key_id) == (1, 2, 1)
    assert len({first.tk, second.tk, third.tk}) == 3


def test_group_key_refuses_bad_fields():
    """A group key is 16 octets under a 2-bit key id."""
    with pytest.raises(ValueError):
        GroupKey(b"\x00" * 15, 1)
    with pytest.raises(ValueError):
        GroupKey(b"\x00" * 16, 4)

"""The pieces secure peering adds to the seal layer: the AMPE element's
fields and its nonce rule, the Chosen PMK, a group key's Key RSC, and the
rule that a secure mesh refuses our FastPay frames in the clear."""

from __future__ import annotations

import hashlib
import hmac
import struct

import pytest

from meshframes.codec.elements import EID_AMPE
from meshframes.seal.ampe import ZERO_NONCE, AmpeElement, GtkData, IgtkData, check_nonces
from meshframes.seal.errors import (
    AmpeCipherMismatch,
    AmpeMalformed,
    AmpeNonceMismatch,
    NotProtected,
    PnRollback,
    Replayed,
    SealReason,
)
from meshframes.seal.hop import HopSealer
from meshframes.seal.keys import CIPHER_CCMP_128, GroupKey, derive_pmk, derive_pmkid
from meshframes.seal.radio import open_from_air, protect_for_air

from .conftest import MAC_A, MAC_B, PMK, assert_counted_refusal
from .frames import BROADCAST, fastpay_frame, mesh_control, qos_data

NONCE_A = bytes(range(1, 33))
NONCE_B = bytes(range(101, 133))
MGTK = bytes.fromhex("00112233445566778899aabbccddeeff")
IGTK = bytes.fromhex("f0e0d0c0b0a090807060504030201000")
GTKDATA = MGTK + struct.pack("<QI", 7, 0xFFFFFFFF)


def test_ampe_element_layout_is_the_standards() -> None:
    """9.4.2.116 as hostap writes it: cipher suite 00-0F-AC:4, local nonce,
    peer nonce, then GTKdata = MGTK, Key RSC (8, little-endian),
    GTKExpirationTime (4, little-endian); assembled here field by field."""
    expected_value = (bytes.fromhex("000fac04") + NONCE_A + NONCE_B + MGTK
                      + struct.pack("<Q", 0x0102030405) + struct.pack("<I", 0xFFFFFFFF))
    element = AmpeElement(NONCE_A, NONCE_B, GtkData(MGTK, 0x0102030405))
    assert element.encode() == bytes((EID_AMPE, 96)) + expected_value
    assert AmpeElement.parse(element.encode()) == element
    without_keys = AmpeElement(NONCE_A, ZERO_NONCE)
    assert without_keys.encode() == bytes((EID_AMPE, 68)) + CIPHER_CCMP_128 + NONCE_A + ZERO_NONCE
    assert AmpeElement.parse(without_keys.encode()) == without_keys


def test_igtkdata_follows_gtkdata() -> None:
    """With management frame protection an Open's element ends in IGTKdata:
    Key ID (2, little-endian), IPN (6, little-endian), IGTK (16), the
    fields wpa_supplicant's mesh reads after GTKdata."""
    element = AmpeElement(NONCE_A, NONCE_B, GtkData(MGTK, 7), igtk=IgtkData(4, 0x0A0B0C0D0E0F, IGTK))
    expected_value = (CIPHER_CCMP_128 + NONCE_A + NONCE_B + GTKDATA
                      + bytes.fromhex("0400") + bytes.fromhex("0f0e0d0c0b0a") + IGTK)
    assert element.encode() == bytes((EID_AMPE, 120)) + expected_value
    assert AmpeElement.parse(element.encode()) == element
    with pytest.raises(ValueError, match="IGTKdata follows GTKdata"):
        AmpeElement(NONCE_A, NONCE_B, igtk=IgtkData(4, 0, IGTK))
    with pytest.raises(ValueError, match="key id"):
        IgtkData(1, 0, IGTK)


@pytest.mark.parametrize(
    "value,error",
    [
        (CIPHER_CCMP_128 + NONCE_A + NONCE_B + MGTK, AmpeMalformed),  # GTKdata cut short
        (CIPHER_CCMP_128 + NONCE_A, AmpeMalformed),  # no peer nonce
        (bytes.fromhex("000fac02") + NONCE_A + NONCE_B, AmpeCipherMismatch),  # TKIP
        (CIPHER_CCMP_128 + NONCE_A + NONCE_B + MGTK + struct.pack("<QI", 1 << 48, 0), AmpeMalformed),  # RSC > PN
        (CIPHER_CCMP_128 + NONCE_A + NONCE_B + GTKDATA + bytes.fromhex("0400") + bytes(6) + IGTK[:8],
         AmpeMalformed),
        (CIPHER_CCMP_128 + NONCE_A + NONCE_B + GTKDATA + bytes.fromhex("0100") + bytes(6) + IGTK, AmpeMalformed),
    ],
    ids=["truncated GTKdata", "no peer nonce", "TKIP selected", "Key RSC beyond 48 bits", "truncated IGTKdata",
         "IGTK under a group data key id"],
)
def test_bad_ampe_elements_are_refused(value: bytes, error: type) -> None:
    """Each way the decrypted element can be wrong has its reason."""
    with pytest.raises(error):
        AmpeElement.parse(bytes((EID_AMPE, len(value))) + value)


# (what, element nonces (local, peer), our nonce, peer nonce we hold, peer must know ours, accepted)
NONCE_CASES = [
    ("first Open: peer nonce zero", (NONCE_B, ZERO_NONCE), NONCE_A, b"", False, True),
    ("Open answering ours", (NONCE_B, NONCE_A), NONCE_A, b"", False, True),
    ("Open before we started", (NONCE_B, ZERO_NONCE), b"", b"", False, True),
    ("Confirm naming our nonce", (NONCE_B, NONCE_A), NONCE_A, NONCE_B, True, True),
    ("Confirm with zero peer nonce", (NONCE_B, ZERO_NONCE), NONCE_A, NONCE_B, True, False),
    ("peer nonce of another peering", (NONCE_B, bytes(range(32))), NONCE_A, b"", False, False),
    ("peer nonce for a peering we never started", (NONCE_B, NONCE_A), b"", b"", False, False),
    ("sender's nonce changed mid-peering", (bytes(range(50, 82)), NONCE_A), NONCE_A, NONCE_B, False, False),
    ("zero local nonce", (ZERO_NONCE, NONCE_A), NONCE_A, b"", False, False),
    ("established link, old Open replayed", (NONCE_B, ZERO_NONCE), NONCE_A, NONCE_B, True, False),
]


@pytest.mark.parametrize("what,nonces,ours,theirs,knows,accepted", NONCE_CASES, ids=[c[0] for c in NONCE_CASES])
def test_nonce_rule(what: str, nonces: tuple[bytes, bytes], ours: bytes, theirs: bytes, knows: bool,
                    accepted: bool) -> None:
    """The AMPE nonces must belong to the current peering."""
    element = AmpeElement(*nonces)
    if accepted:
        check_nonces(element, our_nonce=ours, known_peer_nonce=theirs, peer_knows_ours=knows)
    else:
        with pytest.raises(AmpeNonceMismatch) as caught:
            check_nonces(element, our_nonce=ours, known_peer_nonce=theirs, peer_knows_ours=knows)
        assert caught.value.reason is SealReason.AMPE_NONCE_MISMATCH


def test_pmkid_is_the_psk_pmkid_with_ordered_macs() -> None:
    """12.7.1.3's PMKID for a PSK AKM, HMAC-SHA-1(PMK, "PMK Name" || AA ||
    SPA) truncated to 128 bits, with the smaller MAC in the AA place; both
    ends agree and another passphrase gives another PMKID."""
    assert MAC_A < MAC_B
    expected = hmac.new(PMK, b"PMK Name" + MAC_A + MAC_B, hashlib.sha1).digest()[:16]
    assert derive_pmkid(PMK, local_mac=MAC_A, peer_mac=MAC_B) == expected
    assert derive_pmkid(PMK, local_mac=MAC_B, peer_mac=MAC_A) == expected
    other = derive_pmk("some other passphrase", b"meshframes")
    assert derive_pmkid(other, local_mac=MAC_A, peer_mac=MAC_B) != expected


def test_group_key_rsc_refuses_what_was_sealed_before_we_learned_the_key() -> None:
    """A's MGTK has sealed 70 frames when B learns it with Key RSC 70: the
    recorded frames are refused (replay inside the window, rollback below
    it), the next one opens."""
    a, b = HopSealer(MAC_A), HopSealer(MAC_B)
    mgtk = GroupKey(MGTK, 1)
    a.keys.install_group_tx(mgtk)
    frame = qos_data(BROADCAST, MAC_A, MAC_A, mesh_control(31, 1) + b"flood", from_ds=True)
    recorded = [a.seal(frame) for _ in range(70)]
    assert a.keys.group_rsc() == 70
    b.keys.install_group_rx(MAC_A, mgtk, a.keys.group_rsc())
    assert_counted_refusal(b.open, b.rejected, recorded[-1], Replayed, SealReason.REPLAY)
    assert_counted_refusal(b.open, b.rejected, recorded[0], PnRollback, SealReason.PN_ROLLBACK)
    assert b.open(a.seal(frame)) == frame


def test_fastpay_in_the_clear_is_refused_in_a_secure_mesh() -> None:
    """Our FastPay frames leave a secure mesh STA only as protected 126
    frames, so a cleartext 127 FastPay frame is a forgery or a downgrade:
    refused and counted as not-protected. Another vendor's 127 frame is not
    ours to judge and passes."""
    hop = HopSealer(MAC_B)
    clear = fastpay_frame(MAC_A, MAC_B, MAC_A, MAC_B, b"forged order", category=127)
    assert_counted_refusal(lambda f: open_from_air(hop, f), hop.rejected, clear, NotProtected, SealReason.NOT_PROTECTED)
    other_vendor = clear[:25] + bytes.fromhex("0050f2") + clear[28:]
    assert open_from_air(hop, other_vendor) == other_vendor
    assert protect_for_air(hop, other_vendor) == other_vendor

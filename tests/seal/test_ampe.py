"""AMPE element protection between two peers sharing a passphrase."""

from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from meshframes.codec.elements import EID_AMPE
from meshframes.seal.ampe import open_ampe, seal_ampe
from meshframes.seal.errors import AmpeAuthFailure, AmpeMalformed, SealReason
from meshframes.seal.keys import CIPHER_CCMP_128, GroupKey, derive_aek, derive_pmk, new_peering_nonce

from .conftest import MAC_A, MAC_B, MAC_C

# Mesh Peering Open body up to the MIC element: category 15, action 1,
# capability, then Mesh ID and Mesh Peering Management (AMPE, local link id).
BODY = bytes.fromhex("0f01" "0000" "720a") + b"meshframes" + bytes.fromhex("7506" "0100" "079d") + bytes(2)


def ampe_element(mgtk: bytes) -> bytes:
    """AMPE (9.4.2.116): cipher suite, local nonce, peer nonce, GTKdata
    (MGTK, Key RSC, GTKExpirationTime), as hostap writes it."""
    value = CIPHER_CCMP_128 + new_peering_nonce() + bytes(32) + mgtk + bytes(8) + struct.pack("<I", 0xFFFFFFFF)
    return bytes((EID_AMPE, len(value))) + value


def keys(passphrase_a: str = "shared passphrase", passphrase_b: str = "shared passphrase") -> tuple[bytes, bytes]:
    aek_a = derive_aek(derive_pmk(passphrase_a, b"meshframes"), local_mac=MAC_A, peer_mac=MAC_B)
    aek_b = derive_aek(derive_pmk(passphrase_b, b"meshframes"), local_mac=MAC_B, peer_mac=MAC_A)
    return aek_a, aek_b


def test_peer_recovers_the_ampe_element_and_the_mgtk_stays_secret():
    """B opens A's AMPE element; the MGTK does not appear on the air."""
    aek_a, aek_b = keys()
    mgtk = GroupKey.generate().tk
    element = ampe_element(mgtk)
    protected = seal_ampe(aek_a, sender=MAC_A, receiver=MAC_B, body_before_mic=BODY, ampe_element=element)
    assert protected[:2] == bytes((140, 16)) and len(protected) == 2 + 16 + len(element)
    assert mgtk not in protected
    assert open_ampe(aek_b, sender=MAC_A, receiver=MAC_B, body_before_mic=BODY, protected=protected) == element


def test_layout_is_siv_over_sender_receiver_and_body():
    """The MIC element value is the SIV of RFC 5297 over (sender, receiver,
    body) computed independently with AESSIV."""
    aek_a, _ = keys()
    element = ampe_element(bytes(16))
    protected = seal_ampe(aek_a, sender=MAC_A, receiver=MAC_B, body_before_mic=BODY, ampe_element=element)
    assert protected[2:] == AESSIV(aek_a).encrypt(element, [MAC_A, MAC_B, BODY])


@pytest.mark.parametrize(
    "change",
    ["other passphrase", "body altered", "reflected to sender", "other receiver", "ciphertext flipped"],
)
def test_tampered_or_foreign_ampe_fails(change):
    """Each way the element can be wrong is refused as an AMPE MIC failure."""
    aek_a, aek_b = keys(passphrase_b="another passphrase") if change == "other passphrase" else keys()
    element = ampe_element(bytes(16))
    protected = seal_ampe(aek_a, sender=MAC_A, receiver=MAC_B, body_before_mic=BODY, ampe_element=element)
    sender, receiver, body = MAC_A, MAC_B, BODY
    if change == "body altered":
        body = BODY[:-1] + b"\x01"
    elif change == "reflected to sender":
        sender, receiver = MAC_B, MAC_A
    elif change == "other receiver":
        receiver = MAC_C
    elif change == "ciphertext flipped":
        protected = protected[:-1] + bytes((protected[-1] ^ 1,))
    with pytest.raises(AmpeAuthFailure) as caught:
        open_ampe(aek_b, sender=sender, receiver=receiver, body_before_mic=body, protected=protected)
    assert caught.value.reason is SealReason.AMPE_AUTH_FAILURE


def test_missing_mic_element_is_malformed():
    """A peering frame without the MIC element where protection should start."""
    _, aek_b = keys()
    with pytest.raises(AmpeMalformed):
        open_ampe(aek_b, sender=MAC_A, receiver=MAC_B, body_before_mic=BODY, protected=ampe_element(bytes(16)))

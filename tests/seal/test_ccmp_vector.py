"""CCMP against the published IEEE 802.11 Annex M.6.4 vector, both ways."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meshframes.seal import ccmp
from meshframes.seal.hop import HopSealer
from meshframes.seal.keys import GroupKey

VECTOR_PATH = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "ccmp-ieee80211-annex-m.json"


@pytest.fixture(scope="module")
def vector() -> dict[str, bytes | int]:
    raw = json.loads(VECTOR_PATH.read_text())
    fields: dict[str, bytes | int] = {k: bytes.fromhex(v) for k, v in raw.items() if k not in ("source", "key_id", "pn")}
    fields["pn"] = int(raw["pn"], 16)
    fields["key_id"] = raw["key_id"]
    return fields


def test_aad_nonce_and_ccmp_header_match_annex_m(vector):
    """The masked-header AAD, the CCM nonce and the CCMP header are the
    vector's octets."""
    frame = vector["header"] + vector["plaintext"]
    aad, nonce = ccmp.ccmp_aad_nonce(frame, vector["pn"])
    assert aad == vector["muted_header_aad"]
    assert nonce == vector["ccm_nonce"]
    assert ccmp.ccmp_header(vector["pn"], vector["key_id"]) == vector["ccmp_header"]


def test_encapsulation_produces_the_annex_m_mpdu(vector):
    """Sealing the vector's plaintext gives its encrypted MPDU octet for octet."""
    cipher = ccmp.new_cipher(vector["tk"])
    sealed = ccmp.encapsulate(cipher, vector["header"] + vector["plaintext"], vector["pn"], vector["key_id"])
    assert sealed == vector["encrypted_mpdu_without_fcs"]
    assert sealed[-16:-8] == vector["ciphertext"][-8:]
    assert sealed[-8:] == vector["mic"]


def test_decapsulation_recovers_the_annex_m_plaintext(vector):
    """Opening the vector's encrypted MPDU gives its plaintext and the header
    with only the Protected bit cleared."""
    cipher = ccmp.new_cipher(vector["tk"])
    mpdu = vector["encrypted_mpdu_without_fcs"]
    header_len, aad, flags, key_id, pn = ccmp.parse_protected(mpdu)
    assert (header_len, key_id, pn) == (24, vector["key_id"], vector["pn"])
    plain = ccmp.decapsulate(cipher, mpdu, header_len, aad, flags, pn)
    header = vector["header"]
    assert plain == bytes((header[0], header[1] & ~0x40)) + header[2:] + vector["plaintext"]


def test_hop_sealer_seals_and_opens_the_annex_m_frame(vector):
    """The stateful sealer, given the vector's TK and PN, emits and accepts the
    vector frame, so nothing in its key handling departs from CCMP. The
    vector's A1 is a group address, so the TK serves as the group key."""
    header = vector["header"]
    receiver, transmitter = header[4:10], header[10:16]
    assert receiver[0] & 0x01
    group_key = GroupKey(vector["tk"], vector["key_id"])
    sender = HopSealer(transmitter)
    sender.keys.install_group_tx(group_key)
    sender.keys.tx_key(receiver).next_pn = vector["pn"]
    assert sender.seal(header + vector["plaintext"]) == vector["encrypted_mpdu_without_fcs"]

    recipient = HopSealer(receiver)
    recipient.keys.install_group_rx(transmitter, group_key)
    plain = recipient.open(vector["encrypted_mpdu_without_fcs"])
    assert plain[24:] == vector["plaintext"]
    assert recipient.opened == 1 and not recipient.rejected

"""Mesh keys: passphrase -> PMK -> per-link MTK and AEK; per-transmitter MGTK.

Derivations (IEEE 802.11-2020 clause numbers):

* PMK = PBKDF2-HMAC-SHA1(passphrase, salt = mesh ID, 4096 iterations, 256
  bits): exactly WPA2-PSK's passphrase mapping (J.4.1) with the mesh ID in
  the SSID's place. Checked against the J.4.2 vectors.
* KDF-SHA-256 (12.7.1.7.2): KDF-Hash-Length(K, label, context) = the first
  Length bits of HMAC-SHA-256(K, i || label || context || Length) for
  i = 1, 2, ..., with i and Length as 16-bit little-endian integers.
* MTK, the per-link pairwise key (the AMPE derivation of 14.5.7 with our PMK):
  KDF-SHA-256-128(PMK, "Temporal Key Derivation",
  min(localNonce, peerNonce) || max(localNonce, peerNonce) ||
  min(localLinkID, peerLinkID) || max(localLinkID, peerLinkID) ||
  AKM suite || min(localMAC, peerMAC) || max(localMAC, peerMAC)).
  Nonces and MACs are ordered as octet strings, link IDs as numbers and
  written little-endian (as hostap's mesh_rsn.c does), so both ends derive
  the same key whichever of them is "local".
* AEK, which authenticates and encrypts the AMPE element of the peering
  frames (14.5.7): KDF-SHA-256-256(PMK, "AEK Derivation", AKM suite ||
  min(localMAC, peerMAC) || max(localMAC, peerMAC)).
* PMKID, the Chosen PMK of the Mesh Peering Management element (14.5.5):
  Truncate-128(HMAC-SHA-1(PMK, "PMK Name" || min(MACs) || max(MACs))):
  the PSK AKM's PMKID of 12.7.1.3 with the two MACs ordered as octet
  strings in place of AA || SPA, which a mesh link does not have.
* AKM suite: 00-0F-AC:2 (PSK). Our PMK comes from a passphrase as in
  WPA2-PSK; the standard's mesh uses SAE (00-0F-AC:8), so this selector also
  keeps our keys distinct from any SAE mesh's.

Where the inputs travel: each mesh STA picks a fresh 32-octet nonce per
peering and sends it in the Authenticated Mesh Peering Exchange element
(element ID 139, 9.4.2.116: selected pairwise cipher suite (4), local nonce
(32), peer nonce (32), then optional key replay counter, GTKdata and
IGTKdata) of its Mesh Peering Open and Confirm frames; the link IDs are the
Mesh Peering Management element's (117) local and peer link IDs. A new
peering draws new nonces and so a new MTK: keys rotate on every re-peering.

The MGTK (mesh group temporal key) protects the group-addressed frames a
mesh STA transmits. As in the standard, each STA generates its own random
MGTK and gives it to each peer in the AMPE element's GTKdata field; the
element travels encrypted and authenticated under the link's AEK (AES-SIV,
see `meshframes.seal.ampe`), so only a peer that knows the passphrase
learns it. A mesh STA keeps its MGTK for as long as it runs, under group
key id 1 as hostap does (meshframes.mesh.rsn), and a peer installs it once
per peering, on reaching ESTAB: the GTKdata of an Open received on an
established link is not taken, so a new MGTK reaches a peer only through a
new peering.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from dataclasses import dataclass

PMK_LEN = 32
NONCE_LEN = 32  # AMPE Local/Peer Nonce
MAC_LEN = 6
PMKID_LEN = 16
PBKDF2_ITERATIONS = 4096  # J.4.1
AKM_PSK = bytes.fromhex("000fac02")  # 9.4.2.24.3, Table 9-151
AKM_SAE = bytes.fromhex("000fac08")
CIPHER_CCMP_128 = bytes.fromhex("000fac04")  # 9.4.2.24.2: AMPE selected pairwise cipher suite
MTK_BITS = 128
AEK_BITS = 256  # AES-SIV-128 takes two AES-128 keys
GROUP_KEY_IDS = (1, 2)  # alternate on rotation; 0 stays the pairwise key id


def derive_pmk(passphrase: str | bytes, mesh_id: bytes) -> bytes:
    """PMK from the mesh passphrase, salted with the mesh ID (J.4.1)."""
    secret = passphrase.encode() if isinstance(passphrase, str) else passphrase
    if not 8 <= len(secret) <= 63:
        raise ValueError(f"passphrase must be 8..63 characters (J.4.1), got {len(secret)}")
    if not 0 < len(mesh_id) <= 32:
        raise ValueError(f"mesh ID must be 1..32 octets (9.4.2.99), got {len(mesh_id)}")
    return hashlib.pbkdf2_hmac("sha1", secret, mesh_id, PBKDF2_ITERATIONS, PMK_LEN)


def kdf_sha256(key: bytes, label: str, context: bytes, bits: int) -> bytes:
    """KDF-SHA-256-`bits` of 12.7.1.7.2."""
    if bits <= 0 or bits % 8:
        raise ValueError(f"KDF length must be a positive number of octets, got {bits} bits")
    length = struct.pack("<H", bits)
    blocks = []
    for i in range(1, -(-bits // 256) + 1):
        blocks.append(hmac.digest(key, struct.pack("<H", i) + label.encode() + context + length, "sha256"))
    return b"".join(blocks)[: bits // 8]


def _ordered(a: bytes, b: bytes) -> bytes:
    return a + b if a < b else b + a


def _check_mac(mac: bytes) -> None:
    if len(mac) != MAC_LEN:
        raise ValueError(f"MAC address is {MAC_LEN} octets, got {len(mac)}")


def derive_mtk(
    pmk: bytes,
    *,
    local_mac: bytes,
    peer_mac: bytes,
    local_nonce: bytes,
    peer_nonce: bytes,
    local_link_id: int,
    peer_link_id: int,
    akm: bytes = AKM_PSK,
) -> bytes:
    """The link's pairwise temporal key (MTK); both peers get the same."""
    _check_mac(local_mac)
    _check_mac(peer_mac)
    for name, nonce in (("local", local_nonce), ("peer", peer_nonce)):
        if len(nonce) != NONCE_LEN:
            raise ValueError(f"{name} nonce is {NONCE_LEN} octets, got {len(nonce)}")
    for name, link_id in (("local", local_link_id), ("peer", peer_link_id)):
        if not 0 <= link_id <= 0xFFFF:
            raise ValueError(f"{name} link ID must fit 16 bits, got {link_id}")
    low, high = sorted((local_link_id, peer_link_id))
    context = (
        _ordered(local_nonce, peer_nonce)
        + struct.pack("<HH", low, high)
        + akm
        + _ordered(local_mac, peer_mac)
    )
    return kdf_sha256(pmk, "Temporal Key Derivation", context, MTK_BITS)


def derive_aek(pmk: bytes, *, local_mac: bytes, peer_mac: bytes, akm: bytes = AKM_PSK) -> bytes:
    """The link's AMPE encryption key (AEK), for `meshframes.seal.ampe`."""
    _check_mac(local_mac)
    _check_mac(peer_mac)
    return kdf_sha256(pmk, "AEK Derivation", akm + _ordered(local_mac, peer_mac), AEK_BITS)


def derive_pmkid(pmk: bytes, *, local_mac: bytes, peer_mac: bytes) -> bytes:
    """The link's PMKID (Chosen PMK), the same at both ends."""
    _check_mac(local_mac)
    _check_mac(peer_mac)
    return hmac.digest(pmk, b"PMK Name" + _ordered(local_mac, peer_mac), "sha1")[:PMKID_LEN]


def new_peering_nonce() -> bytes:
    """A fresh AMPE local nonce: one per peering attempt, never reused."""
    return os.urandom(NONCE_LEN)


@dataclass(frozen=True, slots=True)
class GroupKey:
    """A transmitter's MGTK and the key id its frames carry."""

    tk: bytes
    key_id: int

    def __post_init__(self) -> None:
        if len(self.tk) != 16:
            raise ValueError(f"MGTK is 16 octets for CCMP-128, got {len(self.tk)}")
        if not 0 <= self.key_id <= 3:
            raise ValueError(f"key id is a 2-bit field (12.5.3.2), got {self.key_id}")

    @classmethod
    def generate(cls, key_id: int = GROUP_KEY_IDS[0]) -> GroupKey:
        return cls(os.urandom(16), key_id)

    def rotated(self) -> GroupKey:
        """A fresh random MGTK under the other group key id (1 <-> 2), so
        receivers can hold old and new side by side while the new one
        propagates."""
        return GroupKey.generate(GROUP_KEY_IDS[1] if self.key_id == GROUP_KEY_IDS[0] else GROUP_KEY_IDS[0])

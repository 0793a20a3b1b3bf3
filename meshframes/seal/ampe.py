"""Protection of the AMPE element in Mesh Peering Open/Confirm/Close frames
(802.11-2020 14.5.7, AES-SIV per RFC 5297), so that peering nonces and the
MGTK travel authenticated and, for the MGTK, encrypted.

The sender appends, after the frame's other elements, a MIC element (ID 140,
length 16) whose value is the 16-octet SIV, immediately followed by the AMPE
element (ID 139) encrypted under the link's AEK (`keys.derive_aek`). The
associated data are three strings, in this order: the sender's MAC, the
receiver's MAC, and the action frame body from the category octet up to
(not including) the MIC element. This is the layout hostap's mesh_rsn.c
produces, so the output can be compared with Linux/hostap secure mesh peering.

`seal_ampe`/`open_ampe` are the only functions that touch the AEK. The
plaintext AMPE element exists only inside this protection (on the air it is
ciphertext, which the codec keeps as bytes), so its fields are built and
parsed here too (`AmpeElement`), together with the rule that ties its
nonces to the current peering (`check_nonces`).

AMPE element (9.4.2.116) as peering frames carry it, all integers
little-endian:

    Selected Pairwise Cipher Suite (4) | Local Nonce (32) | Peer Nonce (32)
    | GTKdata: MGTK (16) | Key RSC (8) | GTKExpirationTime (4)
    | IGTKdata: Key ID (2) | IPN (6) | IGTK (16)

GTKdata and IGTKdata are in Mesh Peering Open frames only (14.5.5.3);
IGTKdata follows GTKdata when management frame protection is in use
(RSN Capabilities MFPC, 9.4.2.24.4), with the IGTK of BIP-CMAC-128
(12.5.4), the group management cipher a mesh RSNE implies when it names
none. wpa_supplicant's mesh with `ieee80211w` set sends both. The Key
Replay Counter field belongs to Mesh Group Key Inform/Acknowledge frames,
which we do not send.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from meshframes.codec.elements import EID_AMPE, EID_MIC, MIC_LEN
from meshframes.codec.ie import ELEMENT_HEADER_LEN, element_header
from meshframes.seal.errors import AmpeAuthFailure, AmpeCipherMismatch, AmpeMalformed, AmpeNonceMismatch
from meshframes.seal.keyfile import BIP_KEY_IDS, IGTK_LEN
from meshframes.seal.keys import CIPHER_CCMP_128, NONCE_LEN

SIV_LEN = MIC_LEN
MGTK_LEN = 16  # CCMP-128
KEY_RSC_LEN = 8
GTK_NEVER_EXPIRES = 0xFFFFFFFF  # seconds; an MGTK lives as long as its node
ZERO_NONCE = bytes(NONCE_LEN)
_FIXED_LEN = 4 + 2 * NONCE_LEN
_GTKDATA = struct.Struct(f"<{MGTK_LEN}sQI")
IPN_LEN = 6
_IGTKDATA_LEN = 2 + IPN_LEN + IGTK_LEN


@dataclass(frozen=True, slots=True)
class GtkData:
    """The sender's MGTK, the last PN it sealed with it, its lifetime."""

    mgtk: bytes
    rsc: int
    expiration: int = GTK_NEVER_EXPIRES

    def __post_init__(self) -> None:
        if len(self.mgtk) != MGTK_LEN:
            raise ValueError(f"MGTK is {MGTK_LEN} octets for CCMP-128, got {len(self.mgtk)}")
        if not 0 <= self.rsc < 1 << 48:
            raise ValueError(f"Key RSC carries a 48-bit PN, got {self.rsc}")
        if not 0 <= self.expiration <= 0xFFFFFFFF:
            raise ValueError(f"GTKExpirationTime is 32 bits, got {self.expiration}")


@dataclass(frozen=True, slots=True)
class IgtkData:
    """The sender's IGTK, its key id and the last IPN it used with it."""

    key_id: int
    ipn: int
    igtk: bytes

    def __post_init__(self) -> None:
        if self.key_id not in BIP_KEY_IDS:
            raise ValueError(f"IGTK key id is 4 or 5 (9.4.2.54), got {self.key_id}")
        if not 0 <= self.ipn < 1 << 48:
            raise ValueError(f"IPN is 48 bits, got {self.ipn}")
        if len(self.igtk) != IGTK_LEN:
            raise ValueError(f"IGTK is {IGTK_LEN} octets for BIP-CMAC-128, got {len(self.igtk)}")

    def encode(self) -> bytes:
        return self.key_id.to_bytes(2, "little") + self.ipn.to_bytes(IPN_LEN, "little") + self.igtk


@dataclass(frozen=True, slots=True)
class AmpeElement:
    """The plaintext AMPE element of one peering frame."""

    local_nonce: bytes
    peer_nonce: bytes
    gtk: GtkData | None = None
    pairwise_cipher: bytes = CIPHER_CCMP_128
    igtk: IgtkData | None = None

    def __post_init__(self) -> None:
        if self.igtk is not None and self.gtk is None:
            raise ValueError("IGTKdata follows GTKdata: an AMPE element without an MGTK has no IGTK")
        for name, nonce in (("local", self.local_nonce), ("peer", self.peer_nonce)):
            if len(nonce) != NONCE_LEN:
                raise ValueError(f"{name} nonce is {NONCE_LEN} octets, got {len(nonce)}")
        if len(self.pairwise_cipher) != 4:
            raise ValueError(f"cipher suite selector is 4 octets, got {len(self.pairwise_cipher)}")

    def encode(self) -> bytes:
        """The whole element, ID and length included, as `seal_ampe` takes it."""
        value = self.pairwise_cipher + self.local_nonce + self.peer_nonce
        if self.gtk is not None:
            value += _GTKDATA.pack(self.gtk.mgtk, self.gtk.rsc, self.gtk.expiration)
        if self.igtk is not None:
            value += self.igtk.encode()
        return bytes((EID_AMPE, len(value))) + value

    @classmethod
    def parse(cls, element: bytes) -> AmpeElement:
        """Read what `open_ampe` returned. GTKdata, and IGTKdata after it,
        are read when present; any other length is malformed, and a cipher
        other than CCMP-128 is refused."""
        value = element[ELEMENT_HEADER_LEN:]
        lengths = (_FIXED_LEN, _FIXED_LEN + _GTKDATA.size, _FIXED_LEN + _GTKDATA.size + _IGTKDATA_LEN)
        if len(value) not in lengths:
            raise AmpeMalformed(f"AMPE element of {len(value)} octets, expected one of {lengths}")
        cipher = value[:4]
        if cipher != CIPHER_CCMP_128:
            raise AmpeCipherMismatch(f"selected pairwise cipher {cipher.hex('-')}, we offer only CCMP-128")
        gtk = None
        if len(value) > _FIXED_LEN:
            mgtk, rsc, expiration = _GTKDATA.unpack_from(value, _FIXED_LEN)
            if rsc >= 1 << 48:
                raise AmpeMalformed(f"Key RSC {rsc:#x} does not fit a 48-bit PN")
            gtk = GtkData(mgtk, rsc, expiration)
        igtk = None
        if len(value) == lengths[2]:
            at = _FIXED_LEN + _GTKDATA.size
            key_id = int.from_bytes(value[at : at + 2], "little")
            if key_id not in BIP_KEY_IDS:
                raise AmpeMalformed(f"IGTK key id {key_id}, expected 4 or 5")
            igtk = IgtkData(key_id, int.from_bytes(value[at + 2 : at + 2 + IPN_LEN], "little"),
                            value[at + 2 + IPN_LEN :])
        return cls(value[4 : 4 + NONCE_LEN], value[4 + NONCE_LEN : _FIXED_LEN], gtk, cipher, igtk)


def check_nonces(element: AmpeElement, *, our_nonce: bytes, known_peer_nonce: bytes, peer_knows_ours: bool) -> None:
    """Tie a received AMPE element to the current peering (14.5.5-14.5.6).

    - The sender's local nonce is never all zero, and once we hold it for
      this peering it may not change.
    - The sender's peer nonce is ours. It may be all zero only while the
      sender cannot know ours yet: not in a Confirm (a Confirm answers our
      Open) and not once the link is established (`peer_knows_ours`).
      `our_nonce` is empty when we have not started a peering with the sender.
    """
    if element.local_nonce == ZERO_NONCE:
        raise AmpeNonceMismatch("local nonce is all zero")
    if known_peer_nonce and element.local_nonce != known_peer_nonce:
        raise AmpeNonceMismatch("local nonce differs from the one this peering started with")
    if element.peer_nonce == our_nonce:
        return
    if element.peer_nonce != ZERO_NONCE:
        raise AmpeNonceMismatch("peer nonce is not our nonce for this peering")
    if peer_knows_ours:
        raise AmpeNonceMismatch("peer nonce is zero where the sender must know ours")


def seal_ampe(aek: bytes, *, sender: bytes, receiver: bytes, body_before_mic: bytes, ampe_element: bytes) -> bytes:
    """The octets to append to the frame body: MIC element header, SIV, then
    the encrypted AMPE element (its ID and length included)."""
    if element_header(ampe_element) != (EID_AMPE, len(ampe_element) - ELEMENT_HEADER_LEN):
        raise ValueError("ampe_element must be one whole AMPE element (ID 139, length, value)")
    return bytes((EID_MIC, SIV_LEN)) + AESSIV(aek).encrypt(ampe_element, [sender, receiver, body_before_mic])


def open_ampe(aek: bytes, *, sender: bytes, receiver: bytes, body_before_mic: bytes, protected: bytes) -> bytes:
    """Verify and decrypt what `seal_ampe` appended (`protected` starts at the
    MIC element); returns the plaintext AMPE element."""
    mic_header = element_header(protected)
    if len(protected) < 2 * ELEMENT_HEADER_LEN + SIV_LEN or mic_header != (EID_MIC, SIV_LEN):
        raise AmpeMalformed(
            f"expected a MIC element ({EID_MIC}, length {SIV_LEN}) and an encrypted AMPE element,"
            f" got {bytes(mic_header or protected).hex()} in {len(protected)} octets"
        )
    try:
        element = AESSIV(aek).decrypt(protected[ELEMENT_HEADER_LEN:], [sender, receiver, body_before_mic])
    except InvalidTag:
        raise AmpeAuthFailure(f"AMPE MIC from {sender.hex(':')} does not verify") from None
    ampe_header = element_header(element)
    if ampe_header != (EID_AMPE, len(element) - ELEMENT_HEADER_LEN):
        raise AmpeMalformed(f"decrypted element {bytes(ampe_header or element).hex()} is not an AMPE element"
                            f" of {len(element)} octets")
    return element

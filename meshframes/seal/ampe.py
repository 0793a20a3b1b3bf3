"""Protection of the AMPE element in Mesh Peering Open/Confirm/Close frames
(802.11-2020 13.5.7, AES-SIV per RFC 5297), so that peering nonces and the
MGTK travel authenticated and, for the MGTK, encrypted.

The sender appends, after the frame's other elements, a MIC element (ID 140,
length 16) whose value is the 16-octet SIV, immediately followed by the AMPE
element (ID 139) encrypted under the link's AEK (`keys.derive_aek`). The
associated data are three strings, in this order: the sender's MAC, the
receiver's MAC, and the action frame body from the category octet up to
(not including) the MIC element. This is the layout hostap's mesh_rsn.c
produces, so the output can be compared with Linux/hostap secure mesh peering.

Only the two functions below touch the AEK; building and parsing the AMPE
element's fields belongs to the frame layer (element 139).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from meshframes.seal.errors import AmpeAuthFailure, AmpeMalformed

MIC_ELEMENT_ID = 140  # 9.4.2.118
AMPE_ELEMENT_ID = 139  # 9.4.2.116
SIV_LEN = 16


def seal_ampe(aek: bytes, *, sender: bytes, receiver: bytes, body_before_mic: bytes, ampe_element: bytes) -> bytes:
    """The octets to append to the frame body: MIC element header, SIV, then
    the encrypted AMPE element (its ID and length included)."""
    if len(ampe_element) < 2 or ampe_element[0] != AMPE_ELEMENT_ID or ampe_element[1] != len(ampe_element) - 2:
        raise ValueError("ampe_element must be one whole AMPE element (ID 139, length, value)")
    return bytes((MIC_ELEMENT_ID, SIV_LEN)) + AESSIV(aek).encrypt(ampe_element, [sender, receiver, body_before_mic])


def open_ampe(aek: bytes, *, sender: bytes, receiver: bytes, body_before_mic: bytes, protected: bytes) -> bytes:
    """Verify and decrypt what `seal_ampe` appended (`protected` starts at the
    MIC element); returns the plaintext AMPE element."""
    if len(protected) < 2 + SIV_LEN + 2 or protected[0] != MIC_ELEMENT_ID or protected[1] != SIV_LEN:
        raise AmpeMalformed(
            f"expected a MIC element (140, length {SIV_LEN}) and an encrypted AMPE element,"
            f" got {protected[:2].hex()} in {len(protected)} octets"
        )
    try:
        element = AESSIV(aek).decrypt(protected[2:], [sender, receiver, body_before_mic])
    except InvalidTag:
        raise AmpeAuthFailure(f"AMPE MIC from {sender.hex(':')} does not verify") from None
    if element[0] != AMPE_ELEMENT_ID or element[1] != len(element) - 2:
        raise AmpeMalformed(f"decrypted element {element[:2].hex()} is not an AMPE element of {len(element)} octets")
    return element

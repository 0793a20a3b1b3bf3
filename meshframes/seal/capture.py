"""Decrypt a capture's CCMP frames with the keys of a key file.

A listener is not a party to any link, so this is not `HopSealer`: no
replay windows (a capture holds retransmissions, and a monitor hears both
directions of every link) and no PN counters, only the choice of key and
CCMP itself (`meshframes.seal.ccmp`, the code that opens the kernel's
frames byte-identically):

* an individually addressed frame (A1 a station) opens with a pairwise TK
  of the link {A1, A2} under the frame's key id;
* a group-addressed frame opens with the group TK of its transmitter (A2)
  under the frame's key id.

Where several keys fit (a link peered more than once during the capture),
each is tried until the MIC verifies. A frame that does not open is
counted under its `SealReason` and kept encrypted; nothing raises past
`open`'s `HopError`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from meshframes.codec import mpdu
from meshframes.codec.mpdu import ADDR1, ADDR2
from meshframes.seal import ccmp
from meshframes.seal.errors import HopError, MicFailure, SealReason, UnknownKey, UnknownKeyId
from meshframes.seal.keyfile import CaptureKeys


@dataclass(frozen=True, slots=True)
class Undecryptable:
    """One protected frame the keys did not open."""

    index: int
    reason: SealReason
    detail: str


class CaptureOpener:
    """Opens protected MPDUs with a key file's keys and counts the outcome:
    `decrypted` frames, and `undecryptable` ones by `SealReason` (each also
    listed in `failures` with its frame index and why)."""

    def __init__(self, keys: CaptureKeys) -> None:
        self.keys = keys
        self._pairwise: dict[tuple[bytes, bytes], dict[int, list[AESCCM]]] = {}
        self._group: dict[bytes, dict[int, list[AESCCM]]] = {}
        for link in keys.pairwise:
            self._pairwise.setdefault(link.stations, {}).setdefault(link.key_id, []).append(
                ccmp.new_cipher(link.tk))
        for group in keys.group:
            self._group.setdefault(group.transmitter, {}).setdefault(group.key_id, []).append(
                ccmp.new_cipher(group.tk))
        self.decrypted = 0
        self.undecryptable: Counter[SealReason] = Counter()
        self.failures: list[Undecryptable] = []

    def _candidates(self, frame: bytes, key_id: int) -> list[AESCCM]:
        receiver, transmitter = frame[ADDR1], frame[ADDR2]
        if receiver[0] & 0x01:
            by_id = self._group.get(transmitter)
            what = f"group key of transmitter {transmitter.hex(':')}"
        else:
            low, high = sorted((receiver, transmitter))
            by_id = self._pairwise.get((low, high))
            what = f"pairwise key of link {low.hex(':')} - {high.hex(':')}"
        if not by_id:
            raise UnknownKey(f"no {what}")
        ciphers = by_id.get(key_id)
        if not ciphers:
            raise UnknownKeyId(f"{what} has key ids {sorted(by_id)}, the frame uses {key_id}")
        return ciphers

    def open(self, frame: bytes) -> bytes:
        """The plaintext MPDU (Protected bit clear) of protected `frame`.
        Raises `HopError`: `unknown-key`, `unknown-key-id`, `mic-failure`
        (no key that fits verifies), or what `ccmp.parse_protected` refuses."""
        header_len, aad, flags, key_id, pn = ccmp.parse_protected(frame)
        for cipher in self._candidates(frame, key_id):
            try:
                return ccmp.decapsulate(cipher, frame, header_len, aad, flags, pn)
            except MicFailure:
                continue
        raise MicFailure(f"no key of this link or transmitter verifies the MIC (PN {pn}, key id {key_id})")

    def __call__(self, frame: bytes, index: int) -> bytes:
        """`frame` decrypted when it is protected and the keys open it;
        otherwise `frame` itself, the refusal counted against `index`."""
        if len(frame) < mpdu.FRAME_CONTROL_LEN or not mpdu.is_protected(frame):
            return frame
        try:
            plain = self.open(frame)
        except HopError as error:
            self.undecryptable[error.reason] += 1
            self.failures.append(Undecryptable(index, error.reason, str(error)))
            return frame
        self.decrypted += 1
        return plain

    def summary(self) -> dict[str, object]:
        """The counts as plain JSON values."""
        return {
            "decrypted": self.decrypted,
            "undecryptable": sum(self.undecryptable.values()),
            "undecryptable_by_reason": {str(r): n for r, n in sorted(self.undecryptable.items())},
            "undecryptable_frames": [{"frame": f.index, "reason": str(f.reason), "detail": f.detail}
                                     for f in self.failures],
        }

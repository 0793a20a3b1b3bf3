"""A secure mesh's radio: seals what must be protected, opens what arrives.

`protect_for_air` and `open_from_air` are the per-hop rule of a secure mesh
STA, on MPDU bytes; the mesh engines' runtime applies them through its
protect/unprotect hooks (meshframes.mesh.rsn), and `SealedRadio` applies
them around any `meshframes.hosts.base.Radio` (simulated air, pcap replay,
a monitor interface) so that engines that know nothing of sealing can run
in a secure mesh:

* transmit: data frames and robust action frames are sealed with
  `HopSealer`; a FastPay frame in category 127 is first moved to 126, as
  docs/wire-format.md prescribes for protected FastPay frames. A frame that
  needs protection but has no key yet (peering not finished) is dropped, never
  sent in the clear, and counted in `hop.tx_refused`. Everything else
  (beacons, peering frames, other vendors' category 127) goes out as it is.
* receive: frames addressed to another station (a monitor interface hears
  the whole channel) are not ours to open: they are dropped and counted in
  `not_for_us`. Protected frames are opened; refusals are dropped and counted
  in `hop.rejected`. An unprotected frame that should have been protected is
  dropped and counted as `not-protected` (as 802.11w does for robust
  management frames); that includes our FastPay frames in category 127,
  which a secure mesh only ever sends as protected 126 frames. The rest is
  passed up unchanged.
"""

from __future__ import annotations

from dataclasses import replace

from meshframes.codec.elements import MESHFRAMES_OUI as FASTPAY_OUI
from meshframes.codec.frames import CATEGORY_VENDOR, CATEGORY_VENDOR_PROTECTED
from meshframes.hosts.base import Radio, RxFrame
from meshframes.seal import ccmp
from meshframes.seal.errors import HopError, NotProtected
from meshframes.seal.hop import HopSealer


def _clear_fastpay_body(frame: bytes) -> int:
    """Where the category octet of an unprotected category-127 FastPay
    action frame is; 0 for any other frame."""
    if len(frame) < ccmp.MAC_HEADER_MIN or frame[1] & ccmp.FC1_PROTECTED:
        return 0
    body = ccmp.MAC_HEADER_MIN + (ccmp.HT_CONTROL_LEN if frame[1] & ccmp.FC1_ORDER else 0)
    if (
        frame[0] in (ccmp.FC0_MGMT_ACTION, ccmp.FC0_MGMT_ACTION_NO_ACK)
        and len(frame) >= body + 4
        and frame[body] == CATEGORY_VENDOR
        and frame[body + 1 : body + 4] == FASTPAY_OUI
    ):
        return body
    return 0


def protect_for_air(hop: HopSealer, frame: bytes) -> bytes:
    """What a secure mesh STA transmits for the plaintext MPDU `frame`.
    Raises `HopError` (counted in `hop.tx_refused`) when the frame needs
    protection and cannot get it; it must then not be sent at all."""
    body = _clear_fastpay_body(frame)
    if body:
        frame = frame[:body] + bytes((CATEGORY_VENDOR_PROTECTED,)) + frame[body + 1 :]
    if not ccmp.needs_protection(frame):
        return frame
    return hop.seal(frame)


def open_from_air(hop: HopSealer, frame: bytes) -> bytes:
    """The plaintext of an MPDU addressed to us (or a group) in a secure
    mesh. Raises `HopError` (counted in `hop.rejected`) for a protected
    frame that does not open and for a cleartext frame that must be
    protected."""
    if len(frame) >= 2 and frame[1] & ccmp.FC1_PROTECTED:
        return hop.open(frame)
    if ccmp.needs_protection(frame) or _clear_fastpay_body(frame):
        error = NotProtected("frame arrived in the clear where a secure mesh requires protection")
        hop.rejected[error.reason] += 1
        raise error
    return frame


class SealedRadio:
    """`Radio` with CCMP applied per hop; `hop` holds keys and counters."""

    def __init__(self, radio: Radio, hop: HopSealer) -> None:
        if radio.mac != hop.own_mac:
            raise ValueError(f"radio {radio.mac.hex(':')} and sealer {hop.own_mac.hex(':')} differ")
        self.radio = radio
        self.hop = hop
        self.not_for_us = 0

    @property
    def mac(self) -> bytes:
        return self.radio.mac

    def transmit(self, frame: bytes) -> None:
        try:
            on_air = protect_for_air(self.hop, frame)
        except HopError:
            return
        self.radio.transmit(on_air)

    def receive(self) -> list[RxFrame]:
        delivered = []
        for rx in self.radio.receive():
            frame = rx.data
            receiver = frame[4:10]
            if len(receiver) == 6 and not receiver[0] & 0x01 and receiver != self.hop.own_mac:
                self.not_for_us += 1
                continue
            try:
                plain = open_from_air(self.hop, frame)
            except HopError:
                continue
            delivered.append(rx if plain is frame else replace(rx, data=plain))
        return delivered

    def tx_reports(self) -> list:
        """The wrapped radio's transmit reports (ACKed or not), unchanged:
        sealing does not change who received a frame."""
        reports = getattr(self.radio, "tx_reports", None)
        return reports() if reports is not None else []

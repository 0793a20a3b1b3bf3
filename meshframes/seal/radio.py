"""A secure mesh's radio: seals what must be protected, opens what arrives.

`SealedRadio` wraps any `meshframes.radio.base.Radio` (simulated air, pcap
replay, a monitor interface) and offers the same interface, so a node whose
mesh is configured secure wraps its radio and its engines stay unchanged:

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
  management frames). The rest is passed up unchanged.
"""

from __future__ import annotations

from dataclasses import replace

from meshframes.radio.base import Radio, RxFrame
from meshframes.seal import ccmp
from meshframes.seal.e2e import CATEGORY_VENDOR, CATEGORY_VENDOR_PROTECTED, FASTPAY_OUI
from meshframes.seal.errors import HopError, Reason
from meshframes.seal.hop import HopSealer


def _as_protected_fastpay(frame: bytes) -> bytes:
    """Category 127 -> 126 for our own FastPay action frames."""
    body = ccmp.MAC_HEADER_MIN + (ccmp.HT_CONTROL_LEN if frame[1] & ccmp.FC1_ORDER else 0)
    if (
        frame[0] in (ccmp.FC0_MGMT_ACTION, ccmp.FC0_MGMT_ACTION_NO_ACK)
        and len(frame) >= body + 4
        and frame[body] == CATEGORY_VENDOR
        and frame[body + 1 : body + 4] == FASTPAY_OUI
    ):
        return frame[:body] + bytes((CATEGORY_VENDOR_PROTECTED,)) + frame[body + 1 :]
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
        if len(frame) >= ccmp.MAC_HEADER_MIN:
            frame = _as_protected_fastpay(frame)
        if not ccmp.needs_protection(frame):
            self.radio.transmit(frame)
            return
        try:
            sealed = self.hop.seal(frame)
        except HopError:
            return
        self.radio.transmit(sealed)

    def receive(self) -> list[RxFrame]:
        delivered = []
        for rx in self.radio.receive():
            frame = rx.data
            receiver = frame[4:10]
            if len(receiver) == 6 and not receiver[0] & 0x01 and receiver != self.hop.own_mac:
                self.not_for_us += 1
            elif len(frame) >= 2 and frame[1] & ccmp.FC1_PROTECTED:
                try:
                    delivered.append(replace(rx, data=self.hop.open(frame)))
                except HopError:
                    pass
            elif ccmp.needs_protection(frame):
                self.hop.rejected[Reason.NOT_PROTECTED] += 1
            else:
                delivered.append(rx)
        return delivered

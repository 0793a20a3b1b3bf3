"""A secure mesh's radio: any `Radio` with CCMP applied per hop.

The rule itself (what is sealed, what must arrive protected) is the seal
engine's, `meshframes.seal.radio`; this wrapper only moves frames through
it, so that engines that know nothing of sealing can run in a secure mesh
over simulated air, pcap replay or a monitor interface. A frame that needs
protection but has no key yet is dropped, never sent in the clear, and
counted in `hop.tx_refused`; frames addressed to another station (a monitor
interface hears the whole channel) are dropped and counted in `not_for_us`;
refused receptions are dropped and counted in `hop.rejected`.
"""

from __future__ import annotations

from dataclasses import replace

from meshframes.codec import mpdu
from meshframes.hosts.base import Radio, RxFrame
from meshframes.seal.errors import HopError
from meshframes.seal.hop import HopSealer
from meshframes.seal.radio import open_from_air, protect_for_air


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
            if mpdu.addressed_elsewhere(frame, self.hop.own_mac):
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

"""A node whose mesh is secure wraps its radio in SealedRadio: frames on the
air are sealed, what the engines see is plaintext, and an open mesh (no
wrapper) is unaffected."""

from __future__ import annotations

import pytest

from meshframes.hosts.base import RxFrame
from meshframes.hosts.sealed import SealedRadio
from meshframes.seal.errors import SealReason
from meshframes.seal.hop import HopSealer

from .conftest import MAC_A, MAC_B, MAC_C, peer
from .frames import BROADCAST, action, fastpay_body, fastpay_frame, mesh_data


class Air:
    """A shared channel: every radio hears every other radio's frames."""

    def __init__(self) -> None:
        self.radios: list[AirRadio] = []
        self.log: list[bytes] = []

    def radio(self, mac: bytes) -> AirRadio:
        radio = AirRadio(self, mac)
        self.radios.append(radio)
        return radio


class AirRadio:
    def __init__(self, air: Air, mac: bytes) -> None:
        self.air = air
        self._mac = mac
        self.queue: list[RxFrame] = []

    @property
    def mac(self) -> bytes:
        return self._mac

    def transmit(self, frame: bytes) -> None:
        self.air.log.append(frame)
        for radio in self.air.radios:
            if radio is not self:
                radio.queue.append(RxFrame(frame, float(len(self.air.log))))

    def receive(self) -> list[RxFrame]:
        frames, self.queue = self.queue, []
        return frames


@pytest.fixture
def secure() -> tuple[Air, SealedRadio, SealedRadio, SealedRadio]:
    air = Air()
    a, b, c = HopSealer(MAC_A), HopSealer(MAC_B), HopSealer(MAC_C)
    peer(a, b)
    return air, SealedRadio(air.radio(MAC_A), a), SealedRadio(air.radio(MAC_B), b), SealedRadio(air.radio(MAC_C), c)


ORDER = fastpay_frame(MAC_A, MAC_B, MAC_A, MAC_C, b"order" * 30, category=127)


def test_fastpay_frame_is_sealed_on_air_and_plain_at_the_peer(secure):
    """A 127 FastPay frame leaves as a protected 126 frame; B's engines get it
    back in plaintext (as 126, the protected category)."""
    air, a, b, _ = secure
    a.transmit(ORDER)
    (on_air,) = air.log
    assert on_air[1] & 0x40 and b"order" not in on_air
    (received,) = b.receive()
    assert received.data == ORDER[:24] + b"\x7e" + ORDER[25:]


def test_data_frames_are_sealed(secure):
    """Mesh data is protected; the peer recovers it byte for byte."""
    air, a, b, _ = secure
    frame = mesh_data(MAC_A, MAC_B, MAC_A, MAC_C, b"payload", tid=6)
    a.transmit(frame)
    assert b"payload" not in air.log[0]
    assert [rx.data for rx in b.receive()] == [frame]


def test_peering_and_beacons_stay_in_the_clear(secure):
    """Frames that are never protected pass both ways unchanged."""
    air, a, b, _ = secure
    open_frame = action(BROADCAST, MAC_A, MAC_A, bytes.fromhex("0f010000"))
    a.transmit(open_frame)
    assert air.log == [open_frame]
    assert [rx.data for rx in b.receive()] == [open_frame]


def test_nothing_leaks_before_peering(secure):
    """A to C has no key yet: the frame is dropped and counted, not sent plain."""
    air, a, _, _ = secure
    a.transmit(fastpay_frame(MAC_A, MAC_C, MAC_A, MAC_C, b"secret", category=127))
    assert air.log == []
    assert a.hop.tx_refused[SealReason.UNKNOWN_KEY] == 1


def test_unprotected_frame_that_needs_protection_is_dropped(secure):
    """An attacker's cleartext 126 or data frame is refused in a secure mesh."""
    air, _, b, _ = secure
    attacker = air.radio(bytes.fromhex("02000000ee00"))
    attacker.transmit(action(MAC_B, MAC_A, MAC_A, fastpay_body(b"forged")))
    attacker.transmit(mesh_data(MAC_A, MAC_B, MAC_A, MAC_C, b"forged"))
    assert b.receive() == []
    assert b.hop.rejected[SealReason.NOT_PROTECTED] == 2


def test_frames_for_other_stations_are_not_opened(secure):
    """C overhears A->B traffic on the shared channel; it neither delivers nor
    counts it as an attack."""
    _, a, _, c = secure
    a.transmit(ORDER)
    assert c.receive() == []
    assert c.not_for_us == 1 and not c.hop.rejected


def test_open_mesh_without_wrapper_still_works():
    """Without SealedRadio the same frames travel in the clear."""
    air = Air()
    a, b = air.radio(MAC_A), air.radio(MAC_B)
    a.transmit(ORDER)
    assert [rx.data for rx in b.receive()] == [ORDER]


def test_transmit_reports_pass_through() -> None:
    """A radio that reports ACKs (the simulator, an active monitor) still
    does behind SealedRadio; one that cannot reports nothing."""

    class Reporting:
        mac = MAC_A

        def transmit(self, frame: bytes) -> None:
            pass

        def receive(self) -> list:
            return []

        def tx_reports(self) -> list:
            return ["acked-by-b"]

    class Silent(Reporting):
        tx_reports = None  # type: ignore[assignment]

    assert SealedRadio(Reporting(), HopSealer(MAC_A)).tx_reports() == ["acked-by-b"]
    assert SealedRadio(Silent(), HopSealer(MAC_A)).tx_reports() == []

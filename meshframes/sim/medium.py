"""A deterministic simulated wireless medium implementing
meshframes.hosts.base.Radio for every node on it.

Model, deliberately simple and stated:
- Disc range: a frame reaches every live node within the transmitter's
  range, each reception lost independently with the link's loss
  probability (per-link overrides, else the default).
- Airtime from frame length and rate (OFDM, sim.airtime); group frames go
  at the basic rate, individually addressed ones at the data rate.
- Each radio sends its queue one frame at a time, DIFS plus a random
  backoff before each attempt. There is no carrier sense between radios
  and no collision: loss is what the loss probability says.
- Individually addressed frames are retried (Retry bit set) until
  acknowledged or the retry limit is reached, then reported to the sender
  (TxStatusRadio). Their receiver filters on Address 1, so only the
  addressee gets them; traces record every transmission.
- A failed node neither sends nor hears; its engine keeps running.
Everything random comes from one seeded RNG, drawn in a fixed order, so
the same seed gives the same run, bit for bit (see `trace_digest`).
"""

from __future__ import annotations

import hashlib
import math
import random
import struct
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from meshframes.codec.header import FC_RETRY
from meshframes.codec.mpdu import addr1, is_protected, receiver_is_group, with_flags
from meshframes.hosts.base import RxFrame, TxReport
from meshframes.hosts.pcap import PcapWriter
from meshframes.sim import airtime
from meshframes.sim.mobility import Mobility, Point
from meshframes.sim.scheduler import Scheduler
from meshframes.sim.spatial import CellIndex

_LENGTH = struct.Struct("<I")
# A pair's remembered signal lapses this far (relative) inside the edge of
# its distance band: far above the float error of the distance and level.
_BAND_MARGIN = 1e-6
# Remembered signals per radio before they are all forgotten at once.
_SIGNALS_KEPT_PER_RADIO = 64
# A transmission's trace entry up to its frame, as `_mix` would frame its
# first three pieces: b"tx", the times and counts, the frame's length.
_TX_ENTRY = struct.Struct("<I2sIddIIII")


@dataclass(frozen=True, slots=True)
class MediumConfig:
    radio_range: float = 30.0
    loss: float = 0.0
    data_rate_100kbps: int = 540
    basic_rate_100kbps: int = 60
    # dot11ShortRetryLimit: attempts per individually addressed frame.
    retry_limit: int = 7
    # Log-distance path loss for the reported signal: 40 dB at 1 m, exponent 3.
    tx_power_dbm: float = 20.0
    path_loss_exponent: float = 3.0
    # Keep `Medium.trace_digest`, a SHA-256 over every transmission: a run
    # that never asks for it (the demo, whose capture is its record of the
    # air) is spared hashing every frame.
    trace: bool = True


@dataclass(slots=True)
class SimRadio:
    """One node's radio on the medium (implements Radio and TxStatusRadio)."""

    mac: bytes
    index: int
    medium: Medium
    radio_range: float
    mobility: Mobility
    alive: bool = True
    busy: bool = False
    sent: int = 0
    # What the next MPDU handed to `transmit` is, as its sender says (the
    # kind analyze names it); None where nobody says.
    label: str | None = None
    _queue: deque[bytes] = field(default_factory=deque)
    _labels: deque[str | None] = field(default_factory=deque)
    _rx: list[RxFrame] = field(default_factory=list)
    _reports: list[TxReport] = field(default_factory=list)

    def transmit(self, frame: bytes) -> None:
        self.medium.enqueue(self, frame)

    def receive(self) -> list[RxFrame]:
        out, self._rx = self._rx, []
        return out

    def tx_reports(self) -> list[TxReport]:
        out, self._reports = self._reports, []
        return out


@dataclass(slots=True)
class AirRecord:
    """The air as the medium sent it (MAC retries included), counted
    without reading a frame back: frames by the kind their senders said
    (None: a frame nobody labelled, a bare radio's), how many went
    CCMP-protected, and when `per_second` is a Counter, frames by the
    whole virtual second their transmission started in and their kind."""

    by_kind: Counter[str | None] = field(default_factory=Counter)
    protected: int = 0
    per_second: Counter[tuple[int, str | None]] | None = None

    def add(self, start: float, kind: str | None, frame: bytes) -> None:
        self.by_kind[kind] += 1
        if is_protected(frame):
            self.protected += 1
        if self.per_second is not None:
            self.per_second[(int(start), kind)] += 1


class Medium:
    def __init__(self, scheduler: Scheduler, config: MediumConfig | None = None, seed: int = 0) -> None:
        self.scheduler = scheduler
        self.config = config or MediumConfig()
        self.rng = random.Random(seed)
        self.radios: list[SimRadio] = []
        self._link_loss: dict[tuple[int, int], float] = {}
        self._index = CellIndex(self.config.radio_range)
        self._indexed = False
        # Neighbour lists of a field where nothing moves, filled as asked.
        self._still: dict[int, list[int]] | None = None
        # (transmitter, receiver) -> (when its reported signal was worked
        # out, for how long before or after it holds, the signal).
        self._signals: dict[tuple[int, int], tuple[float, float, int]] = {}
        # Signal (dBm) -> the distances between which the level rounds to it.
        self._bands: dict[int, tuple[float, float]] = {}
        self._digest = hashlib.sha256() if self.config.trace else None
        self.transmissions = 0
        self.receptions = 0
        self.pcap: PcapWriter | None = None
        # Called with a radio index after frames or reports were queued for it.
        self.on_activity: Callable[[int], None] = lambda index: None
        # Called with (start time, transmitter index, MPDU) for every
        # transmission that reaches the air, retries included.
        self.on_air: Callable[[float, int, bytes], None] | None = None
        # Kept when set: every transmission's kind, as its sender labelled it.
        self.air: AirRecord | None = None
        # Per-frame constants of the configuration, worked out once.
        self._ack_gap = airtime.ack_duration(self.config.basic_rate_100kbps)
        self._signal_at_1m = self.config.tx_power_dbm - 40
        self._signal_slope = 10 * self.config.path_loss_exponent

    # -- set-up ------------------------------------------------------------

    def add_radio(self, mac: bytes, mobility: Mobility, radio_range: float | None = None) -> SimRadio:
        radio = SimRadio(mac, len(self.radios), self, radio_range or self.config.radio_range, mobility)
        self.radios.append(radio)
        self._indexed = False
        return radio

    def set_mobility(self, index: int, mobility: Mobility) -> None:
        """Give a radio a new model of where it is (a node carried
        elsewhere); the spatial index starts again."""
        self.radios[index].mobility = mobility
        self._indexed = False
        self._mix(b"mobility", struct.pack("<dI", self.scheduler.now, index))

    def _reindex(self) -> None:
        """Cells as wide as the longest range, so that no reach spans more
        than the cells the index looks at."""
        widest = max(r.radio_range for r in self.radios)
        if self._index.cell != widest:
            self._index = CellIndex(widest)
        self._index.reset(self.radios)
        self._still = {} if all(r.mobility.max_speed == 0 for r in self.radios) else None
        self._signals = {}
        self._indexed = True

    def set_link_loss(self, a: int, b: int, probability: float) -> None:
        self._link_loss[(a, b)] = self._link_loss[(b, a)] = probability

    def set_alive(self, index: int, alive: bool) -> None:
        self.radios[index].alive = alive
        self._mix(b"alive", struct.pack("<dI?", self.scheduler.now, index, alive))

    def neighbours(self, index: int, t: float) -> list[int]:
        """Radios within range of `index`'s transmitter at time t (its
        range, their positions at t), by index; found through the spatial
        index (meshframes.sim.spatial)."""
        if not self._indexed:
            self._reindex()
        still = self._still
        if still is None:
            return self._index.within(index, self.radios[index].radio_range, t)
        found = still.get(index)
        if found is None:
            found = still[index] = self._index.within(index, self.radios[index].radio_range, 0.0)
        return found

    # -- transmission ------------------------------------------------------

    def enqueue(self, radio: SimRadio, frame: bytes) -> None:
        label, radio.label = radio.label, None
        if not radio.alive:
            return
        radio._queue.append(frame)
        radio._labels.append(label)
        if not radio.busy:
            radio.busy = True
            self._attempt(radio, 1, airtime.CW_MIN)

    def _attempt(self, radio: SimRadio, attempt: int, cw: int) -> None:
        frame = radio._queue[0]
        unicast = not receiver_is_group(frame)
        rate = self.config.data_rate_100kbps if unicast else self.config.basic_rate_100kbps
        if attempt > 1:
            frame = with_flags(frame, FC_RETRY)
        start = self.scheduler.now + airtime.DIFS + self.rng.randint(0, cw) * airtime.SLOT
        end = start + airtime.ppdu_duration(len(frame), rate)
        self.scheduler.at(end, self._end_of_frame, radio, frame, attempt, cw, start, rate, unicast)

    def _end_of_frame(self, radio: SimRadio, frame: bytes, attempt: int, cw: int, start: float,
                      rate: int, unicast: bool) -> None:
        now = self.scheduler.now
        if not radio.alive:
            # Switched off mid-frame: nothing reaches the air, nothing is reported.
            radio._queue.clear()
            radio._labels.clear()
            radio.busy = False
            return
        self.transmissions += 1
        radio.sent += 1
        if self.pcap is not None:
            self.pcap.write(start, frame, rate * 2 // 10)
        if self.on_air is not None:
            self.on_air(start, radio.index, frame)
        if self.air is not None:
            self.air.add(start, radio._labels[0], frame)
        # Address 1 once per transmission, not once per neighbour; the loss
        # draw stays per candidate receiver, in index order.
        ra = addr1(frame) if unicast else b""
        radios = self.radios
        draw = self.rng.random
        link_loss = self._link_loss
        loss = self.config.loss
        tx = radio.index
        receivers = []
        for j in self.neighbours(tx, start):
            other = radios[j]
            if not other.alive or (unicast and other.mac != ra):
                continue
            if draw() < (link_loss.get((tx, j), loss) if link_loss else loss):
                continue
            receivers.append(j)
        if self._digest is not None:
            count = len(receivers)
            self._digest.update(b"".join((
                _TX_ENTRY.pack(2, b"tx", 28, start, now, tx, attempt, count, len(frame)), frame,
                _LENGTH.pack(4 * count), struct.pack(f"<{count}I", *receivers))))
        activity = self.on_activity
        self.receptions += len(receivers)
        for j, signal in zip(receivers, self._signals_at(radio, receivers, start), strict=True):
            radios[j]._rx.append(RxFrame(frame, now, signal, rate))
            activity(j)
        if unicast and not receivers and attempt < self.config.retry_limit:
            # No ACK: wait for the ACK timeout, then retry with a doubled window.
            self.scheduler.at(now + self._ack_gap, self._attempt, radio, attempt + 1, min(2 * cw + 1, airtime.CW_MAX))
            return
        if unicast:
            radio._reports.append(TxReport(addr1(frame), bool(receivers), rate))
            self.on_activity(radio.index)
        radio._queue.popleft()
        radio._labels.popleft()
        gap = self._ack_gap if unicast else 0.0
        if radio._queue:
            self.scheduler.at(now + gap, self._attempt, radio, 1, airtime.CW_MIN)
        else:
            radio.busy = False

    def _signals_at(self, tx: SimRadio, receivers: list[int], t: float) -> list[int]:
        """The reported signal (dBm, rounded) of `tx` at each receiver at t,
        from the distance. Each pair's is remembered for as long as neither
        radio can have moved far enough to change it (for good where
        nothing moves): the value is what computing it anew would give."""
        known = self._signals
        index = tx.index
        here: Point | None = None
        out = []
        for j in receivers:
            kept = known.get((index, j))
            if kept is not None and abs(t - kept[0]) < kept[1]:
                out.append(kept[2])
                continue
            if here is None:
                here = tx.mobility.position(t)
            out.append(self._signal(tx, j, here, t))
        return out

    def _signal(self, tx: SimRadio, j: int, here: Point, t: float) -> int:
        receiver = self.radios[j].mobility
        distance = max(1.0, math.dist(here, receiver.position(t)))
        signal = round(self._signal_at_1m - self._signal_slope * math.log10(distance))
        v_tx, v_rx = tx.mobility.max_speed, receiver.max_speed
        if v_tx is None or v_rx is None:
            return signal  # no bound on how fast the distance changes
        if v_tx + v_rx == 0:
            holds = math.inf
        else:
            # The rounded level stays `signal` while the distance stays
            # strictly inside its half-dB band (less a margin far above
            # float error); it changes no faster than the radios close in.
            nearer, farther = self._band(signal)
            margin = min(distance - nearer, farther - distance) - _BAND_MARGIN * distance
            if margin <= 0:
                return signal
            holds = margin / (v_tx + v_rx)
        if len(self._signals) >= _SIGNALS_KEPT_PER_RADIO * len(self.radios):
            self._signals.clear()
        self._signals[(tx.index, j)] = (t, holds, signal)
        return signal

    def _band(self, signal: int) -> tuple[float, float]:
        """The distances (m) between which the level rounds to `signal`."""
        band = self._bands.get(signal)
        if band is None:
            at_1m, slope = self._signal_at_1m, self._signal_slope
            band = self._bands[signal] = (10 ** ((at_1m - signal - 0.5) / slope),
                                          10 ** ((at_1m - signal + 0.5) / slope))
        return band

    # -- determinism -------------------------------------------------------

    def _mix(self, *parts: bytes) -> None:
        if self._digest is None:
            return
        # One update of the joined pieces hashes what one update per piece would.
        pieces = []
        for part in parts:
            pieces.append(_LENGTH.pack(len(part)))
            pieces.append(part)
        self._digest.update(b"".join(pieces))

    def note(self, *parts: bytes) -> None:
        """Mix an outside event (e.g. an application delivery) into the trace."""
        self._mix(*parts)

    def trace_digest(self) -> str:
        """SHA-256 over every transmission, reception set and noted event
        so far; RuntimeError on a medium configured without a trace."""
        if self._digest is None:
            raise RuntimeError("this medium keeps no trace (MediumConfig.trace is off)")
        return self._digest.copy().hexdigest()

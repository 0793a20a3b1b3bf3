"""Guest-side helpers that tests call through Guest.call / Node.call.

They run in a node's persistent guest interpreter, so a transport opened by
one call is still open for the next: open a radio, inject, collect. Each
returns plain data (bytes, RxFrame, counters) that pickles back to the host.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from meshframes.hosts.base import RxFrame, TxReport
from meshframes.hosts.meshif import MeshifMessage, MeshifRadio, MeshInterface
from meshframes.hosts.monitor import MonitorRadio
from meshframes.hwsim.wait import scaled

T = TypeVar("T")

_open: dict[str, Any] = {}
_streams: dict[str, tuple[threading.Event, threading.Thread, list[int]]] = {}


def monitor_open(ifname: str, **options: Any) -> str:
    """Open a MonitorRadio on `ifname` (replacing one already open there)."""
    close(ifname)
    _open[ifname] = MonitorRadio(ifname, **options)
    return _open[ifname].mac.hex(":")


def close(ifname: str) -> None:
    radio = _open.pop(ifname, None)
    if radio is not None:
        radio.close()


def monitor_transmit(ifname: str, frames: list[bytes]) -> None:
    radio = _open[ifname]
    for frame in frames:
        radio.transmit(frame)


def monitor_collect(ifname: str, want: list[bytes] | None = None, *, count: int = 1,
                    timeout: float = 10.0) -> list[RxFrame]:
    """Receive until every frame in `want` has arrived (or, without `want`,
    until `count` frames have), or `timeout` (scaled) passes; return what arrived."""
    radio: MonitorRadio = _open[ifname]
    return _collect(radio.receive, radio.wait, want, lambda f: f.data, count, timeout)


def monitor_drain(ifname: str) -> dict[str, int]:
    """Throw away what is waiting; return the counters after that."""
    _open[ifname].receive()
    return stats(ifname)


def monitor_tx_reports(ifname: str) -> list[TxReport]:
    """Read what is waiting, then return the TX reports gathered so far."""
    radio: MonitorRadio = _open[ifname]
    radio.receive()
    return radio.tx_reports()


def stats(ifname: str) -> dict[str, int]:
    return dataclasses.asdict(_open[ifname].stats)


def meshif_open(ifname: str) -> str:
    close(ifname)
    _open[ifname] = MeshInterface(ifname)
    return _open[ifname].mac.hex(":")


def meshif_send(ifname: str, dst: bytes, payloads: list[bytes]) -> None:
    interface: MeshInterface = _open[ifname]
    for payload in payloads:
        interface.send(dst, payload)


def meshif_drain(ifname: str) -> int:
    return len(_open[ifname].receive_messages())


def meshif_stream_start(ifname: str, dst: bytes, payload: bytes, *, interval: float) -> None:
    """Send `payload` to `dst` every `interval` seconds from a thread until
    meshif_stream_stop (a steady stream, e.g. to make a vanished next hop
    show up as transmit failures)."""
    stop = threading.Event()
    sent = [0]

    def stream() -> None:
        while not stop.wait(interval):
            _open[ifname].send(dst, payload)
            sent[0] += 1

    thread = threading.Thread(target=stream, daemon=True)
    _streams[ifname] = (stop, thread, sent)
    thread.start()


def meshif_stream_stop(ifname: str) -> int:
    """Stop the stream; return how many payloads it sent."""
    stop, thread, sent = _streams.pop(ifname)
    stop.set()
    thread.join()
    return sent[0]


def meshif_collect(ifname: str, want: list[bytes] | None = None, *, count: int = 1,
                   timeout: float = 10.0) -> list[MeshifMessage]:
    interface: MeshInterface = _open[ifname]
    return _collect(interface.receive_messages, interface.wait, want,
                    lambda m: m.payload, count, timeout)


def meshif_radio_transmit(ifname: str, frames: list[bytes]) -> None:
    """Transmit MPDUs through the Radio adapter (FastPay action frames)."""
    radio = MeshifRadio(_open[ifname])
    for frame in frames:
        radio.transmit(frame)


def meshif_radio_collect(ifname: str, *, count: int = 1, timeout: float = 10.0) -> list[RxFrame]:
    radio = MeshifRadio(_open[ifname])
    return _collect(radio.receive, radio.interface.wait, None, lambda f: f.data, count, timeout)


def _collect(receive: Callable[[], list[T]], wait: Callable[[float], bool],
             want: list[bytes] | None, key: Callable[[T], bytes], count: int,
             timeout: float) -> list[T]:
    got: list[T] = []
    missing = Counter(want) if want is not None else None
    deadline = time.monotonic() + scaled(timeout)
    while (sum(missing.values()) if missing is not None else count - len(got)) > 0:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        wait(remaining)
        for item in receive():
            got.append(item)
            if missing is not None and missing[key(item)] > 0:
                missing[key(item)] -= 1
    return got

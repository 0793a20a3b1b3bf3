"""Guest-side helpers that tests call through Guest.call / Node.call.

They run in a node's persistent guest interpreter, so a transport opened by
one call is still open for the next: open a radio, inject, collect. Each
returns plain data (bytes, RxFrame, counters) that pickles back to the host.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from meshframes.radio.base import RxFrame
from meshframes.radio.meshif import MeshifMessage, MeshInterface
from meshframes.radio.monitor import MonitorRadio

_open: dict[str, Any] = {}


def monitor_open(ifname: str, **options: Any) -> str:
    """Open a MonitorRadio on `ifname` (replacing one already open there)."""
    monitor_close(ifname)
    _open[ifname] = MonitorRadio(ifname, **options)
    return _open[ifname].mac.hex(":")


def monitor_close(ifname: str) -> None:
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
    until `count` frames have), or `timeout` passes; return what arrived."""
    radio: MonitorRadio = _open[ifname]
    return _collect(radio.receive, radio.wait, want, lambda f: f.data, count, timeout)


def monitor_drain(ifname: str) -> int:
    return len(_open[ifname].receive())


def stats(ifname: str) -> dict[str, int]:
    return dataclasses.asdict(_open[ifname].stats)


def meshif_open(ifname: str) -> str:
    monitor_close(ifname)
    _open[ifname] = MeshInterface(ifname)
    return _open[ifname].mac.hex(":")


def meshif_send(ifname: str, dst: bytes, payloads: list[bytes]) -> None:
    interface: MeshInterface = _open[ifname]
    for payload in payloads:
        interface.send(dst, payload)


def meshif_send_paced(ifname: str, dst: bytes, payload: bytes, *, count: int,
                      interval: float) -> None:
    """Send `count` copies `interval` seconds apart (a steady stream, e.g.
    to make a vanished next hop visible through transmit failures)."""
    interface: MeshInterface = _open[ifname]
    for _ in range(count):
        interface.send(dst, payload)
        time.sleep(interval)


def meshif_collect(ifname: str, want: list[bytes] | None = None, *, count: int = 1,
                   timeout: float = 10.0) -> list[MeshifMessage]:
    interface: MeshInterface = _open[ifname]
    return _collect(interface.receive_messages, interface.wait, want,
                    lambda m: m.payload, count, timeout)


def _collect(receive, wait, want, key, count: int, timeout: float) -> list:
    got: list = []
    missing = list(want) if want is not None else None
    deadline = time.monotonic() + timeout
    while (missing if missing is not None else len(got) < count):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        wait(remaining)
        for item in receive():
            got.append(item)
            if missing is not None and key(item) in missing:
                missing.remove(key(item))
    return got

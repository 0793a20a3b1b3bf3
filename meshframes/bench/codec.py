"""The codec against the Scapy layers on the same frames: decode (bytes to
frame) and encode (frame back to the same bytes), rounds interleaved, with
every cache off (the codec's decode cache bypassed, Scapy's raw packet
cache cleared before each build). Only frames both give back byte for byte
are timed; the others are counted."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from meshframes.codec.errors import CodecError
from meshframes.codec.frames import Frame, decode, encode

_decode: Callable[[bytes], Frame] = decode.__wrapped__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Rounds:
    """Frames/s of each round, wall and CPU."""

    wall: tuple[float, ...]
    cpu: tuple[float, ...]

    def summary(self) -> dict[str, Any]:
        return {"median_per_s": round(statistics.median(self.wall)), "min_per_s": round(min(self.wall)),
                "max_per_s": round(max(self.wall)), "cpu_median_per_s": round(statistics.median(self.cpu))}


@dataclass(frozen=True, slots=True)
class Comparison:
    operation: str
    codec: Rounds
    scapy: Rounds

    @property
    def ratio(self) -> float:
        return statistics.median(self.codec.wall) / statistics.median(self.scapy.wall)

    @property
    def cpu_ratio(self) -> float:
        return statistics.median(self.codec.cpu) / statistics.median(self.scapy.cpu)


def timed(run: Callable[[], object], count: int) -> tuple[float, float]:
    """(wall, CPU) rates of `count` operations done by `run`."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return count / wall, count / max(cpu, 1e-9)


def interleaved(a: Callable[[], object], b: Callable[[], object], count: int, rounds: int,
                tick: Callable[[], None]) -> tuple[Rounds, Rounds]:
    """A B A B ...: both see the same machine over the same stretch."""
    results: list[list[tuple[float, float]]] = [[], []]
    for _ in range(rounds):
        for side, run in enumerate((a, b)):
            results[side].append(timed(run, count))
            tick()
    first, second = ([r for r, _ in side] for side in results), ([c for _, c in side] for side in results)
    (a_wall, b_wall), (a_cpu, b_cpu) = list(first), list(second)
    return Rounds(tuple(a_wall), tuple(a_cpu)), Rounds(tuple(b_wall), tuple(b_cpu))


def identical(mpdus: Sequence[bytes]) -> tuple[list[bytes], int]:
    """The frames both the codec and Scapy give back byte for byte, and how
    many were left out."""
    from scapy.layers.dot11 import Dot11

    import meshframes.layers  # noqa: F401  (registers the layers)

    kept = []
    for data in mpdus:
        try:
            ours = encode(_decode(data))
        except CodecError:
            continue
        packet = Dot11(data)
        packet.clear_cache()
        if ours == data and bytes(packet) == data:
            kept.append(data)
    return kept, len(mpdus) - len(kept)


def run(mpdus: Sequence[bytes], rounds: int = 5, tick: Callable[[], None] = lambda: None) -> list[Comparison]:
    """Decode and encode comparisons on `mpdus` (already byte-identical)."""
    from scapy.layers.dot11 import Dot11

    import meshframes.layers  # noqa: F401

    frames = [_decode(d) for d in mpdus]
    packets = [Dot11(d) for d in mpdus]

    def codec_decode() -> None:
        for d in mpdus:
            _decode(d)

    def scapy_decode() -> None:
        for d in mpdus:
            Dot11(d)

    def codec_encode() -> None:
        for f in frames:
            encode(f)

    def scapy_encode() -> None:
        for p in packets:
            p.clear_cache()
            bytes(p)

    out = []
    for operation, a, b in (("decode", codec_decode, scapy_decode), ("encode", codec_encode, scapy_encode)):
        codec, scapy = interleaved(a, b, len(mpdus), rounds, tick)
        out.append(Comparison(operation, codec, scapy))
    return out

"""Damaged captures through `analyze` and `replay`, as the CLI runs them:
seeded mutants of every capture in pcaps/ and ../shared/pcaps (bit flips,
truncation, inflated lengths, timestamp jumps, odd link types, damaged
pcapng blocks). Each must end with a result or a documented error (exit 0,
1 or 2, one message), never a traceback, within its time budget."""

from __future__ import annotations

import random
import signal
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshframes.cli import cli
from meshframes.hosts.pcap import CaptureError
from meshframes.sim.replay import transmitters

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = sorted([*ROOT.glob("pcaps/**/*.pcap"), *(ROOT.parent / "shared").glob("pcaps/**/*.pcap")])
SEED = 16
# Seconds one mutant may take through both verbs; the largest capture
# takes under 2 s undamaged on a busy machine.
BUDGET = 20


class Hang(Exception):
    pass


@contextmanager
def _budget(seconds: int) -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _records(data: bytes) -> list[int]:
    """Offsets of a classic pcap's record headers."""
    out, pos = [], 24
    while pos + 16 <= len(data):
        out.append(pos)
        pos += 16 + struct.unpack_from("<I", data, pos + 8)[0]
    return out


def _to_pcapng(data: bytes) -> bytes:
    """The same frames as pcapng: section header, interface, one enhanced
    packet block per record."""
    def block(kind: int, body: bytes) -> bytes:
        body += bytes(-len(body) % 4)
        return struct.pack("<II", kind, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))

    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", struct.unpack_from("<I", data, 20)[0] & 0xFFFF, 0, 0))
    for pos in _records(data):
        sec, usec, incl, orig = struct.unpack_from("<IIII", data, pos)
        stamp = sec * 1_000_000 + usec
        out += block(6, struct.pack("<IIIII", 0, stamp >> 32, stamp & 0xFFFFFFFF, incl, orig)
                     + data[pos + 16 : pos + 16 + incl])
    return out


def _flip_bits(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        bit = rng.randrange(len(out) * 8)
        out[bit // 8] ^= 1 << bit % 8
    return bytes(out)


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))]


def _inflate_length(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    pos = rng.choice(_records(data))
    incl = struct.unpack_from("<I", out, pos + 8)[0]
    struct.pack_into("<I", out, pos + 8, rng.choice([incl + 1, incl + rng.randint(2, 4096), 0xFFFFFFFF]))
    return bytes(out)


def _jump_time(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for pos in rng.sample(_records(data), k=min(3, len(_records(data)))):
        struct.pack_into("<I", out, pos, rng.choice([0, 86_400 * 365, 0x7FFFFFFF, 0xFFFFFFF0]))
    return bytes(out)


def _odd_linktype(rng: random.Random, data: bytes) -> bytes:
    odd = rng.choice([0, 1, 104, 119, 163, 192, 0xFFFF, 127 | 1 << 26 | 0xF << 28, rng.getrandbits(32)])
    return data[:20] + struct.pack("<I", odd) + data[24:]


def _damage_pcapng(rng: random.Random, data: bytes) -> bytes:
    ng = bytearray(_to_pcapng(data))
    # A block's type, length or trailer, or the section's byte-order magic.
    pos = rng.choice([0, 4, 8, 28, 32, rng.randrange(len(ng) - 4)])
    struct.pack_into("<I", ng, pos, rng.choice([0, 1, 3, 5, 6, 0x0A0D0D0A, 13, 0xFFFFFFFF, rng.getrandbits(32)]))
    return bytes(ng)


MUTATIONS: list[Callable[[random.Random, bytes], bytes]] = [
    _flip_bits, _truncate, _inflate_length, _jump_time, _odd_linktype, _damage_pcapng]


def _check(path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["analyze", str(path), "--json"], catch_exceptions=False)
    assert result.exit_code in (0, 1, 2), result.output
    try:
        counts = transmitters(path)
    except CaptureError:
        counts = {}
    node = max(counts, key=lambda a: counts[a]).hex(":") if counts else "02:00:00:00:00:01"
    result = runner.invoke(cli, ["replay", str(path), "--node", node, "--json"], catch_exceptions=False)
    assert result.exit_code in (0, 1, 2), result.output
    if result.exit_code:
        assert "Traceback" not in result.output and result.stderr.strip()


def _fuzz(tmp_path: Path, mutants: int) -> None:
    rng = random.Random(SEED)
    sources = [(p, p.read_bytes()) for p in CAPTURES]
    started = time.monotonic()
    for n in range(mutants):
        source, data = sources[n % len(sources)]
        mutate = MUTATIONS[(n // len(sources)) % len(MUTATIONS)] if n < len(sources) * len(MUTATIONS) \
            else rng.choice(MUTATIONS)
        path = tmp_path / f"mutant-{n}.pcap"
        path.write_bytes(mutate(rng, data))
        try:
            with _budget(BUDGET):
                _check(path)
        except Hang:
            pytest.fail(f"mutant {n} ({mutate.__name__} of {source.name}) hung")
        path.unlink()
    print(f"pcap fuzz: {mutants} mutants of {len(sources)} captures in {time.monotonic() - started:.1f} s")


def test_pcap_mutants_end_in_a_result_or_a_documented_error(tmp_path):
    """A fixed seed and a fixed number of mutants keep this in the fast suite."""
    assert len(CAPTURES) >= 10
    _fuzz(tmp_path, 240)


@pytest.mark.slow
def test_many_more_pcap_mutants(tmp_path):
    """The same, ten times over."""
    _fuzz(tmp_path, 2400)

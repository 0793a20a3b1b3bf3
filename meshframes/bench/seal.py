"""Seal/open throughput against raw AES-CCM on the same payload, same run;
SAE handshakes against the group's scalar multiplication, same run.

The baseline is `cryptography`'s AESCCM (OpenSSL) called directly on the
frame body with a precomputed nonce and AAD: the cost of the cipher alone.
Sealing adds what CCMP needs around it (header parse, AAD and nonce, PN,
key lookup, replay window, frame assembly), so the ratio sealed/raw says how
much of the cipher's speed survives that.

An SAE handshake is two engines (`SaeParent`) completing Commit and Confirm
both ways with a fresh pair of addresses each time, so hunting-and-pecking
hunts anew (hash-to-element's PT is derived once per password, as a station
keeps it). Its baseline is the group's scalar-op on a point that is not the
generator, the operation a handshake repeats: ecdsa's `PointJacobi * k`,
what the engine calls. The inverse ratio says how many scalar
multiplications one handshake costs, both sides together.

Rounds interleave baseline and
sealer so that load from other processes hits both alike, and each keeps its
best round, as timeit does.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from meshframes.codec import DataFrame, MacHeader, MeshControl, VendorAction, decode, encode
from meshframes.codec.action import CATEGORY_VENDOR_PROTECTED
from meshframes.codec.fastpay import FastPayFragment, MessageType
from meshframes.codec.frames import mesh_addresses
from meshframes.codec.header import (
    FC_FROM_DS,
    FC_TO_DS,
    QOS_MESH_CONTROL_PRESENT,
    SUBTYPE_ACTION,
    SUBTYPE_QOS_DATA,
    TYPE_DATA,
    TYPE_MGMT,
    frame_control,
)
from meshframes.codec.meshctl import AE_A5_A6, AE_NONE, LLC_SNAP
from meshframes.codec.mpdu import is_action
from meshframes.seal import ccmp
from meshframes.seal.e2e import E2E_TAG_LEN, SEALED_HEADER_LEN, E2EIdentity, E2ESealer
from meshframes.seal.hop import HopSealer
from meshframes.seal.sae import SaeAuthenticated, SaeConfig, SaeOutput, SaeParent, SaeTransmit
from meshframes.seal.sae_crypto import ecc_group

TRANSMITTER = bytes.fromhex("020000000100")
RECEIVER = bytes.fromhex("020000000200")
DESTINATION = bytes.fromhex("020000000300")
TK = bytes(range(16))


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    frame: bytes


@dataclass(frozen=True, slots=True)
class Measurement:
    workload: str
    layer: str  # "hop" (CCMP) or "e2e"
    operation: str  # "seal" or "open"
    octets: int  # payload the cipher processes
    rate: float  # frames per second, best round
    baseline_rate: float  # raw AESCCM on the same payload, best round

    @property
    def ratio(self) -> float:
        return self.rate / self.baseline_rate


def _action(payload: bytes) -> bytes:
    """A category-126 FastPay frame (docs/wire-format.md), A5/A6 extension."""
    header = MacHeader(frame_control(TYPE_MGMT, SUBTYPE_ACTION), 0, RECEIVER, TRANSMITTER, TRANSMITTER, 0)
    mesh_control = MeshControl(AE_A5_A6, 31, 1, (DESTINATION, TRANSMITTER))
    return encode(VendorAction(header, CATEGORY_VENDOR_PROTECTED, mesh_control,
                               FastPayFragment(MessageType.FASTPAY_ORDER, 0, 7, 0, 1, payload)))


def _mesh_data(msdu: bytes) -> bytes:
    """Four-address mesh QoS data with Mesh Control and LLC/SNAP."""
    fc = frame_control(TYPE_DATA, SUBTYPE_QOS_DATA, FC_TO_DS | FC_FROM_DS)
    header = MacHeader(fc, 0, RECEIVER, TRANSMITTER, DESTINATION, 0, addr4=TRANSMITTER,
                       qos_control=QOS_MESH_CONTROL_PRESENT | 5)
    return encode(DataFrame(header, MeshControl(AE_NONE, 31, 1), LLC_SNAP + bytes.fromhex("00000088b5") + msdu))


def workloads() -> list[Workload]:
    """Frames sized like what the mesh carries: a FastPay order (153 octets
    of bincode), a certificate with 4 and with 20 signatures (449 and 1505),
    and a 1500-octet MSDU in mesh data."""
    return [
        Workload("order (action)", _action(bytes(153))),
        Workload("cert q=4 (action)", _action(bytes(449))),
        Workload("cert q=20 (action)", _action(bytes(1505))),
        Workload("mesh data 1500", _mesh_data(bytes(1500))),
    ]


def _timed(run: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    run()
    return count / (time.perf_counter() - start)


@dataclass(slots=True)
class _Best:
    """Best rate per measured operation across rounds."""

    rates: dict[str, float] = field(default_factory=dict)

    def time(self, name: str, run: Callable[[], object], count: int) -> None:
        self.rates[name] = max(self.rates.get(name, 0.0), _timed(run, count))


def _hop(workload: Workload, count: int, best: _Best) -> int:
    """One round of CCMP seal/open and the raw cipher on the same body;
    returns the octets the cipher processes per frame."""
    frame = workload.frame
    header_len, aad, flags = ccmp.frame_layout(frame)
    body = frame[header_len:]
    raw = ccmp.new_cipher(TK)
    nonce = ccmp.ccmp_nonce(flags, frame, 1)
    raw_sealed = raw.encrypt(nonce, body, aad)
    sender, receiver = HopSealer(TRANSMITTER), HopSealer(RECEIVER)
    sender.keys.install_pairwise(RECEIVER, TK)
    receiver.keys.install_pairwise(TRANSMITTER, TK)
    frames = [frame] * count
    sealed: list[bytes] = []
    best.time("raw seal", lambda: [raw.encrypt(nonce, body, aad) for _ in frames], count)
    best.time("seal", lambda: sealed.extend(map(sender.seal, frames)), count)
    best.time("raw open", lambda: [raw.decrypt(nonce, raw_sealed, aad) for _ in frames], count)
    best.time("open", lambda: list(map(receiver.open, sealed)), count)
    return len(body)


def _e2e(workload: Workload, count: int, best: _Best) -> int:
    """One round of end-to-end seal/open of the FastPay payload and the raw
    cipher (16-octet tag) on the same payload and associated data size."""
    frame = decode(workload.frame)
    assert isinstance(frame, VendorAction)
    addresses = mesh_addresses(frame)
    assert addresses is not None
    destination, source = addresses
    fragment = frame.payload
    client_id, authority_id = E2EIdentity(bytes(32)), E2EIdentity(bytes(range(32)))
    client = E2ESealer(client_id, initial_sequence=1)
    authority = E2ESealer(authority_id, initial_sequence=1)
    raw = AESCCM(TK, E2E_TAG_LEN)
    nonce = bytes(13)
    context = bytes(len(client.fragment_context(fragment, 1, destination, source)) + SEALED_HEADER_LEN)
    raw_sealed = raw.encrypt(nonce, fragment.data, context)
    peer = authority_id.public
    fragments = [fragment] * count
    sealed: list[FastPayFragment] = []
    best.time("raw seal", lambda: [raw.encrypt(nonce, fragment.data, context) for _ in fragments], count)
    best.time("seal", lambda: sealed.extend(client.seal_fragment(peer, f, destination, source) for f in fragments),
              count)
    best.time("raw open", lambda: [raw.decrypt(nonce, raw_sealed, context) for _ in fragments], count)
    best.time("open", lambda: [authority.open_fragment(f, destination, source) for f in sealed], count)
    return len(fragment.data)


LAYERS: dict[str, Callable[[Workload, int, _Best], int]] = {"hop": _hop, "e2e": _e2e}


def cases() -> list[tuple[Workload, str]]:
    """(workload, layer) pairs measured; end to end applies to FastPay frames."""
    return [(w, layer) for w in workloads() for layer in LAYERS if layer == "hop" or is_action(w.frame)]


def run(count: int = 20_000, rounds: int = 5, tick: Callable[[], None] = lambda: None) -> list[Measurement]:
    """Measure every case; `tick` is called after each round (for progress)."""
    results = []
    for workload, layer in cases():
        best = _Best()
        for _ in range(rounds):
            octets = LAYERS[layer](workload, count, best)
            tick()
        for operation in ("seal", "open"):
            results.append(
                Measurement(workload.name, layer, operation, octets, best.rates[operation], best.rates[f"raw {operation}"])
            )
    return results


@dataclass(frozen=True, slots=True)
class SaeCase:
    group: int
    h2e: bool

    @property
    def name(self) -> str:
        return "hash-to-element" if self.h2e else "hunting-and-pecking"


@dataclass(frozen=True, slots=True)
class SaeMeasurement:
    case: str
    group: int
    handshake_rate: float  # completed handshakes (both sides) per second, best round
    scalar_mult_rate: float  # the group's scalar-op per second, best round

    @property
    def ratio(self) -> float:
        return self.handshake_rate / self.scalar_mult_rate

    @property
    def mults_per_handshake(self) -> float:
        return self.scalar_mult_rate / self.handshake_rate


SAE_PASSWORD = b"meshframes bench"
SAE_MESH_ID = b"meshframes"


def sae_cases() -> list[SaeCase]:
    return [SaeCase(group, h2e) for group in (19, 20) for h2e in (False, True)]


def _handshake(config: SaeConfig, index: int) -> bool:
    """Two engines from Nothing to Accepted, frames handed over directly."""
    a, b = bytes([2, 0, 0, 1]) + index.to_bytes(2, "big"), bytes([2, 0, 0, 2]) + index.to_bytes(2, "big")
    parents = {a: SaeParent(a, config), b: SaeParent(b, config)}
    queue: list[tuple[bytes, SaeOutput]] = [(a, o) for o in parents[a].initiate(b, 0.0)]
    done = 0
    while queue:
        source, output = queue.pop(0)
        if isinstance(output, SaeTransmit):
            queue += [(output.peer, o) for o in parents[output.peer].receive(source, output.body, 0.0)]
        done += isinstance(output, SaeAuthenticated)
    if done != 2:
        raise RuntimeError(f"SAE benchmark handshake {index} did not complete on both sides")
    return True


def _sae_round(case: SaeCase, count: int, best: _Best, start: int) -> None:
    group = ecc_group(case.group)
    config = SaeConfig(SAE_PASSWORD, ssid=SAE_MESH_ID, groups=(case.group,), h2e=case.h2e)
    point = group.scalar_op(0x5EED, group.generator)
    point = group.point(int(point.x()), int(point.y()))  # a plain point: no generator precomputation
    draw = random.Random(case.group + start)
    scalars = [draw.randrange(2, group.order) for _ in range(count)]
    best.time("scalar-op", lambda: [group.scalar_op(k, point) for k in scalars], count)
    best.time("handshake", lambda: all(_handshake(config, start + i) for i in range(count)), count)


def run_sae(count: int = 10, rounds: int = 3, tick: Callable[[], None] = lambda: None) -> list[SaeMeasurement]:
    """Handshakes per second and the group's scalar-op rate, per case;
    `tick` after each round."""
    results = []
    for case in sae_cases():
        best = _Best()
        for round_index in range(rounds):
            _sae_round(case, count, best, round_index * count)
            tick()
        results.append(SaeMeasurement(case.name, case.group, best.rates["handshake"], best.rates["scalar-op"]))
    return results

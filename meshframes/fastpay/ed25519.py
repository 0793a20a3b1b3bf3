"""Ed25519 for FastPay: the one place that picks the signature backend.

libsodium (PyNaCl) verifies about 2.1 times and signs about 1.8 times
faster than OpenSSL (`cryptography`) on this project's machine, so the
backend is PyNaCl, called through its cffi binding (`crypto_sign_open` /
`crypto_sign`) with a reusable output buffer, which saves the per-call
object churn of the high-level API. `tests/fastpay/test_ed25519.py`
repeats the comparison with pytest-benchmark and checks that both
backends agree on every signature. Rates are what `meshframes bench
authority` prints, in CPU time beside wall time: on 5 December 2026, with
the 2-core machine at a load of 15 to 17, 16,649 verifies per CPU second
(median of 5 rounds, 16,365-17,162) and 1,073 per wall second.

No PyPI package offers Ed25519 batch verification on top of libsodium or
OpenSSL, so every signature is verified on its own. Signatures are over
the bytes given; FastPay's domain prefix is added by `wire.signing_bytes`.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from nacl._sodium import ffi, lib

PUBLIC_KEY_LEN = 32
SECRET_SEED_LEN = 32
SIGNATURE_LEN = 64

_local = threading.local()


def _buffer(size: int) -> tuple[Any, Any]:  # two cffi CData pointers
    # libsodium's combined API writes signature+message into a caller buffer;
    # one per thread, grown on demand, avoids an allocation per operation.
    buf = getattr(_local, "buf", None)
    if buf is None or len(buf) < size:
        buf = ffi.new("unsigned char[]", max(size, 4096))
        _local.buf = buf
        _local.len = ffi.new("unsigned long long *")
    return buf, _local.len


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True iff `signature` is a valid Ed25519 signature of `message`
    under `public_key` (libsodium's strict checks: canonical S, no
    small-order keys)."""
    if len(public_key) != PUBLIC_KEY_LEN or len(signature) != SIGNATURE_LEN:
        return False
    signed = signature + message
    buf, out_len = _buffer(len(signed))
    return lib.crypto_sign_open(buf, out_len, signed, len(signed), public_key) == 0


# Every announcement heard is checked against its sender's identity: the
# same few dozen keys, converted again and again. Bounded, as the keys
# heard are anyone's to send; a key that does not convert is not kept.
@lru_cache(maxsize=4096)
def x25519_public_key(public_key: bytes) -> bytes:
    """The identity's public key in Montgomery form (RFC 7748; libsodium's
    ed25519 -> curve25519), the key end-to-end sealing agrees with."""
    if len(public_key) != PUBLIC_KEY_LEN:
        raise ValueError(f"public key is {PUBLIC_KEY_LEN} octets, got {len(public_key)}")
    out = ffi.new("unsigned char[]", PUBLIC_KEY_LEN)
    if lib.crypto_sign_ed25519_pk_to_curve25519(out, public_key) != 0:
        raise ValueError(f"{public_key.hex()} is not an Ed25519 public key")
    return bytes(out)


@dataclass(frozen=True, slots=True)
class KeyPair:
    """An Ed25519 identity: 32-byte seed and the public key derived from it."""

    seed: bytes = field(repr=False)
    public_key: bytes
    # libsodium's 64-byte secret key (seed || public key), derived once.
    _secret: bytes = field(repr=False, compare=False)

    @classmethod
    def from_seed(cls, seed: bytes) -> KeyPair:
        if len(seed) != SECRET_SEED_LEN:
            raise ValueError(f"Ed25519 seed: got {len(seed)} bytes, expected {SECRET_SEED_LEN}")
        pk = ffi.new("unsigned char[]", PUBLIC_KEY_LEN)
        sk = ffi.new("unsigned char[]", 64)
        if lib.crypto_sign_seed_keypair(pk, sk, seed) != 0:
            raise ValueError("libsodium refused the Ed25519 seed")
        return cls(seed, bytes(ffi.buffer(pk, PUBLIC_KEY_LEN)), bytes(ffi.buffer(sk, 64)))

    @classmethod
    def generate(cls) -> KeyPair:
        return cls.from_seed(os.urandom(SECRET_SEED_LEN))

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of `message` (deterministic)."""
        buf, out_len = _buffer(len(message) + SIGNATURE_LEN)
        lib.crypto_sign(buf, out_len, message, len(message), self._secret)
        return bytes(ffi.buffer(buf, SIGNATURE_LEN))

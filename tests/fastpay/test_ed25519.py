"""The Ed25519 backend: RFC 8032 vectors, agreement with OpenSSL (via
`cryptography`), and the speed comparison that chose it."""

from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from meshframes.fastpay import ed25519

# RFC 8032 section 7.1, TEST 1 and TEST 2: (secret seed, public key, message, signature).
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
]


@pytest.mark.parametrize("seed,public,message,signature", RFC8032)
def test_rfc8032_vectors(seed: str, public: str, message: str, signature: str) -> None:
    kp = ed25519.KeyPair.from_seed(bytes.fromhex(seed))
    assert kp.public_key.hex() == public
    assert kp.sign(bytes.fromhex(message)).hex() == signature
    assert ed25519.verify(kp.public_key, bytes.fromhex(message), bytes.fromhex(signature))


def test_agrees_with_openssl() -> None:
    for i in range(50):
        seed, message = os.urandom(32), os.urandom(i * 7)
        ours = ed25519.KeyPair.from_seed(seed)
        theirs = Ed25519PrivateKey.from_private_bytes(seed)
        assert ours.sign(message) == theirs.sign(message)
        bad = bytearray(ours.sign(message))
        bad[i % 64] ^= 1 << (i % 8)
        with pytest.raises(InvalidSignature):
            Ed25519PublicKey.from_public_bytes(ours.public_key).verify(bytes(bad), message)
        assert not ed25519.verify(ours.public_key, message, bytes(bad))
        assert ed25519.verify(ours.public_key, message, ours.sign(message))


def test_rejects_malformed_inputs() -> None:
    kp = ed25519.KeyPair.generate()
    sig = kp.sign(b"m")
    assert not ed25519.verify(kp.public_key[:31], b"m", sig)
    assert not ed25519.verify(kp.public_key, b"m", sig[:63])
    assert not ed25519.verify(b"\x00" * 32, b"m", sig)
    with pytest.raises(ValueError, match="got 31 bytes"):
        ed25519.KeyPair.from_seed(b"\x00" * 31)


_MSG = os.urandom(110)
_KP = ed25519.KeyPair.generate()
_SIG = _KP.sign(_MSG)
_OSSL_PUB = Ed25519PublicKey.from_public_bytes(_KP.public_key)


def test_bench_verify_libsodium(benchmark) -> None:  # type: ignore[no-untyped-def]
    assert benchmark.pedantic(ed25519.verify, (_KP.public_key, _MSG, _SIG), rounds=2000, iterations=1)


def test_bench_verify_openssl(benchmark) -> None:  # type: ignore[no-untyped-def]
    benchmark.pedantic(_OSSL_PUB.verify, (_SIG, _MSG), rounds=2000, iterations=1)

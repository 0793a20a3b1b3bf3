"""SAE's ECC group operations and password element derivations
(IEEE 802.11-2020 12.4.4.2): hunting-and-pecking (12.4.4.2.2), and
hash-to-element (12.4.4.2.3) with its simplified SWU map (RFC 9380 6.6.2).

Scalar-op is OpenSSL's (through `cryptography`): its ECDH gives the x
coordinate of k * P in a constant-time ladder, seven times faster here
than the `ecdsa` package's Jacobian arithmetic; y is the square root of the
curve equation at x whose sign makes x(k * P + P) equal OpenSSL's x of
(k + 1) * P (the two candidates give different sums on a curve of prime
order). Element-op, a point addition OpenSSL does not offer, is the `ecdsa`
package's (points over the NIST curves, with their parameters, on gmpy2's
integers). What stays here is field arithmetic: the curve equation, square
roots (every supported prime is 3 mod 4), Legendre symbols (gmpy2's: the
pure-Python Jacobi symbol was most of hunting-and-pecking's 40 iterations)
and the SSWU formulas, which no library offers in the form the standard
defines.

Python integers are not constant time. The loops still run the fixed number
of iterations the standard asks for (hunting-and-pecking's k = 40 whatever
the counter that found the point), so the iteration count reveals nothing,
but this is not a side-channel hardened implementation.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from functools import cache, lru_cache

import gmpy2
from cryptography.hazmat.primitives.asymmetric import ec
from ecdsa import curves
from ecdsa.ellipticcurve import INFINITY, CurveFp, PointJacobi

from meshframes.codec.sae import SAE_GROUPS

# 12.4.4.2.2: at least k iterations, whatever iteration finds the point.
HUNTING_AND_PECKING_ITERATIONS = 40
HUNT_LABEL = b"SAE Hunting and Pecking"
H2E_LABELS = (b"SAE Hash to Element u1 P1", b"SAE Hash to Element u2 P2")
KEYS_LABEL = b"SAE KCK and PMK"
PMK_LEN = 32
PMKID_LEN = 16

# ECC groups by IANA number: the curve, OpenSSL's name for it and, for
# SSWU, Z (RFC 9380 8.2-8.4; 802.11-2020 Table 12-2 uses the same values).
_CURVES = {19: (curves.NIST256p, ec.SECP256R1(), -10), 20: (curves.NIST384p, ec.SECP384R1(), -12),
           21: (curves.NIST521p, ec.SECP521R1(), -4)}


class SaeCryptoError(ValueError):
    """A scalar or element outside its group, or a derivation that failed."""


def _hash_name(prime_len: int) -> str:
    """12.4.2 Table 12-1: the hash H2E uses follows the prime's length."""
    if prime_len <= 32:
        return "sha256"
    return "sha384" if prime_len <= 48 else "sha512"


def kdf_hash(hash_name: str, key: bytes, label: bytes, context: bytes, bits: int) -> bytes:
    """KDF-Hash-Length of 12.7.1.7.2 over any hash; the output holds `bits`
    bits, the last octet's unused low bits cleared when `bits` is not a
    multiple of 8 (hunting-and-pecking over P-521 asks for 521)."""
    length = struct.pack("<H", bits)
    out = b"".join(hmac.digest(key, struct.pack("<H", i) + label + context + length, hash_name)
                   for i in range(1, -(-bits // (8 * hashlib.new(hash_name).digest_size)) + 1))
    out = out[: -(-bits // 8)]
    if bits % 8:
        out = out[:-1] + bytes([out[-1] & (0xFF << (8 - bits % 8)) & 0xFF])
    return out


def hkdf_extract(hash_name: str, salt: bytes, ikm: bytes) -> bytes:
    """RFC 5869 2.2."""
    return hmac.digest(salt, ikm, hash_name)


def hkdf_expand(hash_name: str, prk: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 2.3."""
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.digest(prk, block + info + bytes([counter]), hash_name)
        out += block
        counter += 1
    return out[:length]


def max_min(a: bytes, b: bytes) -> bytes:
    """max(a, b) || min(a, b): how SAE orders the two MAC addresses (12.4.4.2)."""
    return a + b if a > b else b + a


@dataclass(frozen=True, slots=True)
class EccGroup:
    """One ECC group of 12.4.4.2: its curve, order and SSWU constant."""

    number: int
    curve: CurveFp
    generator: PointJacobi
    order: int
    z: int
    openssl: ec.EllipticCurve

    @property
    def prime(self) -> int:
        return int(self.curve.p())

    @property
    def prime_len(self) -> int:
        return (self.prime.bit_length() + 7) // 8

    @property
    def order_len(self) -> int:
        return SAE_GROUPS[self.number][0]

    @property
    def h2e_hash(self) -> str:
        return _hash_name(self.prime_len)

    def _rhs(self, x: int) -> int:
        p = self.prime
        return (x * x * x + int(self.curve.a()) * x + int(self.curve.b())) % p

    def _is_square(self, v: int) -> bool:
        return v == 0 or gmpy2.legendre(v, self.prime) == 1

    def _sqrt(self, v: int) -> int:
        """A square root of the square v: v^((p+1)/4), as p = 3 mod 4 for
        every supported group."""
        p = self.prime
        root = int(gmpy2.powmod(v, (p + 1) // 4, p))
        if root * root % p != v % p:
            raise SaeCryptoError(f"{v:#x} has no square root modulo group {self.number}'s prime")
        return root

    def point(self, x: int, y: int) -> PointJacobi:
        """The point (x, y); SaeCryptoError if the coordinates are not field
        elements or the point is not on the curve (12.4.5.4)."""
        p = self.prime
        if not (0 <= x < p and 0 <= y < p):
            raise SaeCryptoError(f"element coordinate out of range for group {self.number}")
        if not self.curve.contains_point(x, y):
            raise SaeCryptoError(f"element is not a point on group {self.number}'s curve")
        return PointJacobi(self.curve, x, y, 1, self.order)

    def element_to_bytes(self, point: PointJacobi) -> bytes:
        """x || y, each as long as the prime (12.4.7.2.4)."""
        if point == INFINITY:
            raise SaeCryptoError("the point at infinity has no encoding")
        n = self.prime_len
        p = self.prime
        return (int(point.x()) % p).to_bytes(n, "big") + (int(point.y()) % p).to_bytes(n, "big")

    def element_from_bytes(self, data: bytes) -> PointJacobi:
        n = self.prime_len
        if len(data) != 2 * n:
            raise SaeCryptoError(f"element is {2 * n} octets for group {self.number}, got {len(data)}")
        return self.point(int.from_bytes(data[:n], "big"), int.from_bytes(data[n:], "big"))

    def scalar_to_bytes(self, scalar: int) -> bytes:
        return scalar.to_bytes(self.order_len, "big")

    def scalar_op(self, scalar: int, point: PointJacobi) -> PointJacobi:
        k = scalar % self.order
        if k == 0 or point == INFINITY:
            return INFINITY
        p = self.prime
        if k == self.order - 1:
            return self.point(int(point.x()), p - int(point.y()))
        public = self._public(point)
        x = int.from_bytes(self._x_of_product(k, public), "big")
        y = self._sqrt(self._rhs(x))
        product = self.point(x, y)
        if (product + point).x() != int.from_bytes(self._x_of_product(k + 1, public), "big"):
            product = self.point(x, p - y)
        return product

    def x_of_scalar_op(self, scalar: int, point: PointJacobi) -> bytes:
        """F(scalar-op(scalar, point)), without its y; SaeCryptoError when
        the product is the point at infinity."""
        k = scalar % self.order
        if k == 0 or point == INFINITY:
            raise SaeCryptoError("scalar-op gives the point at infinity")
        return self._x_of_product(k, self._public(point))

    def _public(self, point: PointJacobi) -> ec.EllipticCurvePublicKey:
        return _public_key(self.number, int(point.x()), int(point.y()))

    def _x_of_product(self, k: int, public: ec.EllipticCurvePublicKey) -> bytes:
        # ECDH's shared secret is x(k * P), as long as the prime (SEC 1 3.3.1).
        return ec.derive_private_key(k, self.openssl).exchange(ec.ECDH(), public)

    def element_op(self, a: PointJacobi, b: PointJacobi) -> PointJacobi:
        return a + b

    def x_of(self, point: PointJacobi) -> bytes:
        """F(P) of 12.4.4.2.1, the x coordinate, as long as the prime."""
        return int(point.x()).to_bytes(self.prime_len, "big")

    def hunting_and_pecking(self, password: bytes, mac_a: bytes, mac_b: bytes) -> PointJacobi:
        """PWE by hunting-and-pecking (12.4.4.2.2)."""
        key = max_min(mac_a, mac_b)
        p = self.prime
        bits = p.bit_length()
        prime_bytes = p.to_bytes(self.prime_len, "big")
        found_x, found_odd = -1, 0
        counter = 1
        while counter <= HUNTING_AND_PECKING_ITERATIONS or found_x < 0:
            if counter > 255:
                raise SaeCryptoError("no password element after 255 iterations")
            seed = hmac.digest(key, password + bytes([counter]), "sha256")
            value = int.from_bytes(kdf_hash("sha256", seed, HUNT_LABEL, prime_bytes, bits), "big")
            value >>= (8 - bits % 8) % 8
            if value < p and self._is_square(self._rhs(value)) and found_x < 0:
                found_x, found_odd = value, seed[-1] & 1
            counter += 1
        y = self._sqrt(self._rhs(found_x))
        return self.point(found_x, y if y & 1 == found_odd else p - y)

    def sswu(self, u: int) -> PointJacobi:
        """The simplified SWU map of 12.4.4.2.3 (RFC 9380 6.6.2), with the
        sign of y taken from u's least significant bit, as both define it."""
        p, a, b, z = self.prime, int(self.curve.a()), int(self.curve.b()), self.z % self.prime
        u2 = u * u % p
        m = (z * z * u2 * u2 + z * u2) % p
        # m = 0 only for the u the standard names exceptional (CEQ(m, 0)).
        x1 = b * pow(z * a, -1, p) % p if m == 0 else (-b) * pow(a, -1, p) * (1 + pow(m, -1, p)) % p
        gx1 = self._rhs(x1)
        x2 = z * u2 * x1 % p
        x, v = (x1, gx1) if self._is_square(gx1) else (x2, self._rhs(x2))
        y = self._sqrt(v)
        return self.point(x, y if (y & 1) == (u & 1) else p - y)

    def derive_pt(self, ssid: bytes, password: bytes, identifier: bytes | None = None) -> PointJacobi:
        """The password-derived point PT of hash-to-element (12.4.4.2.3),
        the same for every pair of stations."""
        h = self.h2e_hash
        seed = hkdf_extract(h, ssid, password + (identifier or b""))
        length = self.prime_len + (self.prime_len + 1) // 2
        points = [self.sswu(int.from_bytes(hkdf_expand(h, seed, label, length), "big") % self.prime)
                  for label in H2E_LABELS]
        pt = self.element_op(points[0], points[1])
        if pt == INFINITY:
            raise SaeCryptoError("PT is the point at infinity")
        return pt

    def pwe_from_pt(self, pt: PointJacobi, mac_a: bytes, mac_b: bytes) -> PointJacobi:
        """PWE = val * PT, val from the two MAC addresses (12.4.4.2.3)."""
        h = self.h2e_hash
        val = int.from_bytes(hkdf_extract(h, bytes(hashlib.new(h).digest_size), max_min(mac_a, mac_b)), "big")
        return self.scalar_op(val % (self.order - 1) + 1, pt)


# A pair's PWE is multiplied twice in each run of SAE, by each station:
# OpenSSL's key for it (checked on the curve as it is made) is made once.
@lru_cache(maxsize=256)
def _public_key(group: int, x: int, y: int) -> ec.EllipticCurvePublicKey:
    return ec.EllipticCurvePublicNumbers(x, y, _CURVES[group][1]).public_key()


@cache
def ecc_group(number: int) -> EccGroup:
    """The ECC group `number` (19, 20 or 21); KeyError for any other."""
    curve, openssl, z = _CURVES[number]
    return EccGroup(number, curve.curve, curve.generator, int(curve.order), z, openssl)


SUPPORTED_GROUPS = tuple(_CURVES)


@dataclass(frozen=True, slots=True)
class SaeKeys:
    """What a completed commit exchange yields (12.4.5.4)."""

    kck: bytes
    pmk: bytes
    pmkid: bytes


def key_hash(group: EccGroup, h2e: bool) -> str:
    """Hunting-and-pecking keeps SHA-256 whatever the group; hash-to-element
    takes the group's hash (12.4.2, Table 12-1), as hostap does."""
    return group.h2e_hash if h2e else "sha256"


def shared_secret(group: EccGroup, rand: int, pwe: PointJacobi, peer_scalar: int,
                  peer_element: PointJacobi) -> bytes:
    """k = F(scalar-op(rand, element-op(scalar-op(peer-commit-scalar, PWE),
    PEER-COMMIT-ELEMENT))); SaeCryptoError when K is the identity."""
    inner = group.element_op(group.scalar_op(peer_scalar, pwe), peer_element)
    try:
        return group.x_of_scalar_op(rand, inner)
    except SaeCryptoError:
        raise SaeCryptoError("K is the point at infinity") from None


def derive_keys(group: EccGroup, k: bytes, own_scalar: int, peer_scalar: int, *, h2e: bool,
                salt: bytes = b"") -> SaeKeys:
    """keyseed = H(salt, k); KCK || PMK = KDF-Hash-Length(keyseed, "SAE KCK
    and PMK", (commit-scalar + peer-commit-scalar) mod r); PMKID is that
    sum's first 128 bits (12.4.5.4). The salt is zeros unless H2E groups
    were rejected (then their list)."""
    h = key_hash(group, h2e)
    size = hashlib.new(h).digest_size
    keyseed = hmac.digest(salt or bytes(size), k, h)
    context = group.scalar_to_bytes((own_scalar + peer_scalar) % group.order)
    keys = kdf_hash(h, keyseed, KEYS_LABEL, context, (size + PMK_LEN) * 8)
    return SaeKeys(keys[:size], keys[size:], context[:PMKID_LEN])


def confirm_value(group: EccGroup, kck: bytes, send_confirm: int, scalar: int, element: PointJacobi,
                  peer_scalar: int, peer_element: PointJacobi, *, h2e: bool) -> bytes:
    """CN(KCK, send-confirm, scalar, element, peer-scalar, peer-element) of
    12.4.5.5: the sender's own commit first."""
    data = (struct.pack("<H", send_confirm) + group.scalar_to_bytes(scalar) + group.element_to_bytes(element)
            + group.scalar_to_bytes(peer_scalar) + group.element_to_bytes(peer_element))
    return hmac.digest(kck, data, key_hash(group, h2e))

"""The committee: who the authorities are, their voting weights, and the
accounts funded at genesis; plus the key files that hold the secrets.

Committee file (JSON, or TOML with the same structure), written by
`meshframes keys generate`:

    {
      "format": "meshframes-committee/1",
      "authorities": [
        {"name": "<64 hex: Ed25519 public key>", "weight": 1,
         "e2e_key": "<64 hex: X25519 form of the name, for end-to-end sealing>"},
        ...
      ],
      "accounts": [
        {"address": "<64 hex: Ed25519 public key>", "balance": 1000},
        ...
      ]
    }

It holds no secrets. Its canonical bytes are the JSON of its content with
sorted keys, no whitespace, UTF-8; the committee id carried in
`AuthorityAnnouncement` is the first 8 bytes of their SHA-256, so a TOML
and a JSON file with the same content have the same id.

Key file (one per identity, mode 0600, `keys/authority-<i>.json` or
`keys/account-<i>.json` beside the committee file):

    {"format": "meshframes-key/1", "role": "authority" | "account",
     "public_key": "<64 hex>", "seed": "<64 hex: Ed25519 seed>"}

An authority's `e2e_key` is its name mapped to X25519 (RFC 7748, libsodium's
ed25519 -> curve25519): the end-to-end sealing keys derive from the
identity itself (docs/sealing.md), so the file can only state it, and a
committee whose e2e_key disagrees with its name is refused.

Thresholds follow FastPay (committee.rs): with total weight T, a quorum is
2T/3 + 1 (integer division) and validity is (T + 2)/3, i.e. N - f and
f + 1 for N = 3f + 1 authorities of weight 1.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .ed25519 import KeyPair, x25519_public_key
from .messages import COMMITTEE_ID_LEN, I128_MAX, PUBLIC_KEY_LEN, U64_MAX, AuthorityAnnouncement

COMMITTEE_FORMAT = "meshframes-committee/1"
KEY_FORMAT = "meshframes-key/1"


class CommitteeFileError(ValueError):
    """A committee or key file that cannot be used, with where and why."""


@dataclass(frozen=True, slots=True)
class AuthorityInfo:
    name: bytes
    weight: int
    e2e_key: bytes


@dataclass(frozen=True, slots=True)
class FundedAccount:
    address: bytes
    balance: int


@dataclass(frozen=True, slots=True)
class Committee:
    authorities: tuple[AuthorityInfo, ...]
    accounts: tuple[FundedAccount, ...] = ()
    _weights: dict[bytes, int] = field(init=False, repr=False, compare=False)
    total_weight: int = field(init=False)
    # Checked against every announcement heard: hashed once, as the
    # committee never changes.
    _committee_id: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        weights: dict[bytes, int] = {}
        for a in self.authorities:
            if len(a.name) != PUBLIC_KEY_LEN or len(a.e2e_key) != PUBLIC_KEY_LEN:
                raise CommitteeFileError("authority name and e2e_key must be 32 bytes")
            try:
                expected_e2e = x25519_public_key(a.name)
            except ValueError as exc:
                raise CommitteeFileError(f"authority {a.name.hex()[:16]}: {exc}") from None
            if a.e2e_key != expected_e2e:
                raise CommitteeFileError(
                    f"authority {a.name.hex()[:16]}: e2e_key {a.e2e_key.hex()[:16]} is not the X25519 form of its name"
                )
            if a.name in weights:
                raise CommitteeFileError(f"authority {a.name.hex()} listed twice")
            if type(a.weight) is not int or not 1 <= a.weight <= U64_MAX:
                raise CommitteeFileError(f"authority {a.name.hex()}: weight {a.weight!r} is not in [1, 2^64-1]")
            weights[a.name] = a.weight
        if not weights:
            raise CommitteeFileError("a committee needs at least one authority")
        seen: set[bytes] = set()
        for acc in self.accounts:
            if len(acc.address) != PUBLIC_KEY_LEN:
                raise CommitteeFileError("account address must be 32 bytes")
            if acc.address in seen:
                raise CommitteeFileError(f"account {acc.address.hex()} listed twice")
            if type(acc.balance) is not int or not 0 <= acc.balance <= I128_MAX:
                raise CommitteeFileError(f"account {acc.address.hex()}: balance {acc.balance!r} out of range")
            seen.add(acc.address)
        object.__setattr__(self, "_weights", weights)
        object.__setattr__(self, "total_weight", sum(weights.values()))
        object.__setattr__(self, "_committee_id", hashlib.sha256(self.canonical_bytes()).digest()[:COMMITTEE_ID_LEN])

    def weight(self, name: bytes) -> int:
        """Voting weight of `name`; 0 for anyone outside the committee."""
        return self._weights.get(name, 0)

    @property
    def quorum_threshold(self) -> int:
        return 2 * self.total_weight // 3 + 1

    @property
    def validity_threshold(self) -> int:
        return (self.total_weight + 2) // 3

    @property
    def names(self) -> tuple[bytes, ...]:
        return tuple(a.name for a in self.authorities)

    def to_document(self) -> dict[str, Any]:
        return {
            "format": COMMITTEE_FORMAT,
            "authorities": [
                {"name": a.name.hex(), "weight": a.weight, "e2e_key": a.e2e_key.hex()} for a in self.authorities
            ],
            "accounts": [{"address": acc.address.hex(), "balance": acc.balance} for acc in self.accounts],
        }

    def canonical_bytes(self) -> bytes:
        return json.dumps(self.to_document(), sort_keys=True, separators=(",", ":")).encode("utf-8")

    @property
    def committee_id(self) -> bytes:
        return self._committee_id

    def announcement(self, name: bytes) -> AuthorityAnnouncement:
        """What authority `name` advertises on the mesh (docs/wire-format.md)."""
        info = next((a for a in self.authorities if a.name == name), None)
        if info is None:
            raise KeyError(f"authority {name.hex()} is not in committee {self.committee_id.hex()}")
        return AuthorityAnnouncement(
            name=info.name, weight=info.weight, e2e_key=info.e2e_key, committee_id=self.committee_id
        )

    @classmethod
    def from_document(cls, doc: Any, source: str = "committee") -> Committee:
        if not isinstance(doc, dict) or doc.get("format") != COMMITTEE_FORMAT:
            got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
            raise CommitteeFileError(f"{source}: format is {got!r}, expected {COMMITTEE_FORMAT!r}")
        authorities = tuple(
            AuthorityInfo(
                name=_hex32(entry, "name", f"{source}: authorities[{i}]"),
                weight=_int(entry, "weight", f"{source}: authorities[{i}]"),
                e2e_key=_hex32(entry, "e2e_key", f"{source}: authorities[{i}]"),
            )
            for i, entry in enumerate(_list(doc, "authorities", source))
        )
        accounts = tuple(
            FundedAccount(
                address=_hex32(entry, "address", f"{source}: accounts[{i}]"),
                balance=_int(entry, "balance", f"{source}: accounts[{i}]"),
            )
            for i, entry in enumerate(_list(doc, "accounts", source))
        )
        try:
            return cls(authorities=authorities, accounts=accounts)
        except CommitteeFileError as exc:
            raise CommitteeFileError(f"{source}: {exc}") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Committee:
        """Read a committee file; `.toml` is read as TOML, anything else as JSON."""
        p = Path(path)
        try:
            doc = tomllib.loads(p.read_text("utf-8")) if p.suffix == ".toml" else json.loads(p.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise CommitteeFileError(f"{p}: cannot read committee file: {exc}") from None
        return cls.from_document(doc, str(p))

    def save(self, path: str | os.PathLike[str]) -> None:
        _atomic_write(Path(path), json.dumps(self.to_document(), indent=2).encode() + b"\n", mode=0o644)


def _list(doc: dict[str, Any], key: str, where: str) -> list[Any]:
    value = doc.get(key)
    if not isinstance(value, list):
        raise CommitteeFileError(f"{where}: {key!r} must be a list")
    return value


def _hex32(entry: Any, key: str, where: str) -> bytes:
    value = entry.get(key) if isinstance(entry, dict) else None
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise CommitteeFileError(f"{where}: {key!r} is {value!r}, expected 64 hex digits")
    return raw


def _int(entry: Any, key: str, where: str) -> int:
    value = entry.get(key) if isinstance(entry, dict) else None
    if type(value) is not int:
        raise CommitteeFileError(f"{where}: {key!r} is {value!r}, expected an integer")
    return value


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    # Write-then-rename so a reader never sees half a file, and secrets are
    # never readable by others even for an instant.
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


@dataclass(frozen=True, slots=True)
class Identity:
    """The secrets of one authority or account, as kept in its key file."""

    role: str
    keypair: KeyPair

    @property
    def public_key(self) -> bytes:
        return self.keypair.public_key

    @property
    def e2e_public_key(self) -> bytes:
        return x25519_public_key(self.public_key)

    @classmethod
    def generate(cls, role: str) -> Identity:
        if role not in ("authority", "account"):
            raise ValueError(f"role: got {role!r}, expected 'authority' or 'account'")
        return cls(role, KeyPair.generate())

    def save(self, path: str | os.PathLike[str]) -> None:
        doc: dict[str, str] = {
            "format": KEY_FORMAT,
            "role": self.role,
            "public_key": self.public_key.hex(),
            "seed": self.keypair.seed.hex(),
        }
        _atomic_write(Path(path), json.dumps(doc, indent=2).encode() + b"\n", mode=0o600)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Identity:
        p = Path(path)
        try:
            doc = json.loads(p.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise CommitteeFileError(f"{p}: cannot read key file: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != KEY_FORMAT:
            raise CommitteeFileError(f"{p}: not a key file (format {KEY_FORMAT!r} expected)")
        role = doc.get("role")
        if role not in ("authority", "account"):
            raise CommitteeFileError(f"{p}: role is {role!r}, expected 'authority' or 'account'")
        keypair = KeyPair.from_seed(_hex32(doc, "seed", str(p)))
        if keypair.public_key != _hex32(doc, "public_key", str(p)):
            raise CommitteeFileError(f"{p}: public_key does not match the seed")
        return cls(role, keypair)


def generate_committee(
    weights: list[int], balances: list[int]
) -> tuple[Committee, list[Identity], list[Identity]]:
    """A fresh committee with one authority per weight and one funded
    account per balance, with the identities holding their secrets."""
    authorities = [Identity.generate("authority") for _ in weights]
    accounts = [Identity.generate("account") for _ in balances]
    committee = Committee(
        authorities=tuple(
            AuthorityInfo(name=a.public_key, weight=w, e2e_key=a.e2e_public_key)
            for a, w in zip(authorities, weights, strict=False)
        ),
        accounts=tuple(FundedAccount(address=a.public_key, balance=b) for a, b in zip(accounts, balances, strict=False)),
    )
    return committee, authorities, accounts


def write_committee_dir(
    directory: str | os.PathLike[str], committee: Committee, authorities: list[Identity], accounts: list[Identity]
) -> Path:
    """Write committee.json and keys/{authority,account}-<i>.json; return
    the committee file's path."""
    root = Path(directory)
    keys = root / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    os.chmod(keys, 0o700)
    for i, ident in enumerate(authorities):
        ident.save(keys / f"authority-{i}.json")
    for i, ident in enumerate(accounts):
        ident.save(keys / f"account-{i}.json")
    path = root / "committee.json"
    committee.save(path)
    return path

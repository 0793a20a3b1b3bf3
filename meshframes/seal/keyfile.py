"""Capture keys: the temporal keys that decrypt a recording, as a JSON file.

docs/keys.md documents the format. In short::

    {"format": "meshframes-keys", "version": 1,
     "pairwise": [{"stations": ["02:00:00:00:00:00", "02:00:00:00:01:00"],
                   "key_id": 0, "tk": "<32 hex digits>"}],
     "group": [{"transmitter": "02:00:00:00:00:00", "key_id": 1, "tk": "<32 hex digits>"}],
     "integrity": [{"transmitter": "02:00:00:00:00:00", "key_id": 4, "key": "<32 hex digits>"}]}

A link's pairwise TK (the MTK of a mesh link, 12.7.1.7.2 / 14.5.7) opens
the individually addressed frames both stations send each other, so it is
keyed by the unordered pair. A group TK (a mesh STA's MGTK) opens the
group-addressed frames of one transmitter, under the key id its frames
carry (12.5.3.2). Integrity group keys (IGTK, BIP: 12.5.4) only
authenticate group-addressed robust management frames, which travel in
the clear; the file keeps them because wpa_supplicant hands them out
beside the MGTK. The same pair may appear with several TKs (one per
peering): whoever decrypts tries each until one verifies.

Every refusal names its `KeyFileProblem`; nothing here reads files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from meshframes.seal.ccmp import TK_LEN

KEY_FILE_FORMAT = "meshframes-keys"
KEY_FILE_VERSION = 1
MAC_LEN = 6
# 12.5.3.2: the Key ID subfield of the CCMP header is two bits; BIP's
# key ids are 4 and 5 (12.5.4.3, the MMIE's Key ID).
CCMP_KEY_IDS = range(4)
BIP_KEY_IDS = range(4, 6)
IGTK_LEN = 16  # BIP-CMAC-128
# A key file far larger than any mesh's keys is refused before parsing.
MAX_KEY_FILE = 4 << 20

_SECTIONS = ("pairwise", "group", "integrity")


class KeyFileProblem(StrEnum):
    """Why a key file was refused."""

    TOO_LARGE = "too-large"
    NOT_JSON = "not-json"
    NOT_AN_OBJECT = "not-an-object"
    WRONG_FORMAT = "wrong-format"
    UNSUPPORTED_VERSION = "unsupported-version"
    UNKNOWN_FIELD = "unknown-field"
    MISSING_FIELD = "missing-field"
    BAD_MAC = "bad-mac"
    GROUP_ADDRESS = "group-address"
    SAME_STATION = "same-station"
    BAD_HEX = "bad-hex"
    BAD_KEY_LENGTH = "bad-key-length"
    BAD_KEY_ID = "bad-key-id"


class KeyFileError(ValueError):
    """A key file this module refuses; `problem` says why, `where` names
    the entry (``pairwise[2].tk``)."""

    def __init__(self, problem: KeyFileProblem, where: str, detail: str) -> None:
        super().__init__(f"{where}: {detail}" if where else detail)
        self.problem = problem
        self.where = where


def parse_mac(text: str, where: str = "") -> bytes:
    """`02:00:00:00:01:00` (or with dashes) as six octets."""
    parts = text.replace("-", ":").split(":") if isinstance(text, str) else []
    if len(parts) != MAC_LEN or not all(len(p) == 2 and _is_hex(p) for p in parts):
        raise KeyFileError(KeyFileProblem.BAD_MAC, where, f"got {text!r}, expected a MAC address like 02:00:00:00:01:00")
    return bytes(int(p, 16) for p in parts)


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def _station(text: str, where: str) -> bytes:
    mac = parse_mac(text, where)
    if mac[0] & 0x01:
        raise KeyFileError(KeyFileProblem.GROUP_ADDRESS, where, f"{text} is a group address, expected a station's")
    return mac


def _key(text: object, length: int, where: str) -> bytes:
    if not isinstance(text, str) or not _is_hex(text) or len(text) % 2:
        raise KeyFileError(KeyFileProblem.BAD_HEX, where, f"got {text!r}, expected hex digits")
    if len(text) != 2 * length:
        raise KeyFileError(KeyFileProblem.BAD_KEY_LENGTH, where,
                           f"got {len(text) // 2} octets, expected {length} (CCMP-128)")
    return bytes.fromhex(text)


def _key_id(value: object, allowed: range, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        raise KeyFileError(KeyFileProblem.BAD_KEY_ID, where,
                           f"got {value!r}, expected {allowed.start}..{allowed.stop - 1}")
    return value


def _check(what: str, key: bytes, length: int, key_id: int, key_ids: range, macs: tuple[bytes, ...]) -> None:
    """The invariants every key entry keeps, whoever built it."""
    for mac in macs:
        if len(mac) != MAC_LEN:
            raise ValueError(f"MAC address is {MAC_LEN} octets, got {len(mac)}")
    if len(key) != length:
        raise ValueError(f"{what} is {length} octets, got {len(key)}")
    if key_id not in key_ids:
        raise ValueError(f"{what} key id must be {key_ids.start}..{key_ids.stop - 1}, got {key_id}")


@dataclass(frozen=True, slots=True)
class LinkKey:
    """A link's pairwise TK; `stations` in ascending octet order."""

    stations: tuple[bytes, bytes]
    tk: bytes
    key_id: int = 0

    def __post_init__(self) -> None:
        _check("TK", self.tk, TK_LEN, self.key_id, CCMP_KEY_IDS, self.stations)
        if self.stations[0] >= self.stations[1]:
            raise ValueError("stations must be two different MACs in ascending order (use LinkKey.of)")

    @classmethod
    def of(cls, a: bytes, b: bytes, tk: bytes, key_id: int = 0) -> LinkKey:
        low, high = sorted((bytes(a), bytes(b)))
        return cls((low, high), bytes(tk), key_id)

    def to_json(self) -> dict[str, Any]:
        return {"stations": [m.hex(":") for m in self.stations], "key_id": self.key_id, "tk": self.tk.hex()}


@dataclass(frozen=True, slots=True)
class TransmitterKey:
    """One transmitter's group TK (MGTK) under the key id its frames carry."""

    transmitter: bytes
    key_id: int
    tk: bytes

    def __post_init__(self) -> None:
        _check("TK", self.tk, TK_LEN, self.key_id, CCMP_KEY_IDS, (self.transmitter,))

    def to_json(self) -> dict[str, Any]:
        return {"transmitter": self.transmitter.hex(":"), "key_id": self.key_id, "tk": self.tk.hex()}


@dataclass(frozen=True, slots=True)
class IntegrityKey:
    """One transmitter's IGTK (BIP-CMAC-128) under its key id (4 or 5)."""

    transmitter: bytes
    key_id: int
    key: bytes

    def __post_init__(self) -> None:
        _check("IGTK", self.key, IGTK_LEN, self.key_id, BIP_KEY_IDS, (self.transmitter,))

    def to_json(self) -> dict[str, Any]:
        return {"transmitter": self.transmitter.hex(":"), "key_id": self.key_id, "key": self.key.hex()}


@dataclass(frozen=True, slots=True)
class CaptureKeys:
    """Every key of a key file, without duplicates, in first-seen order."""

    pairwise: tuple[LinkKey, ...] = ()
    group: tuple[TransmitterKey, ...] = ()
    integrity: tuple[IntegrityKey, ...] = ()

    def __len__(self) -> int:
        return len(self.pairwise) + len(self.group) + len(self.integrity)

    def merged(self, other: CaptureKeys) -> CaptureKeys:
        """These keys and `other`'s: both ends of a link log its MTK, so
        merging two nodes' keys keeps it once."""
        return CaptureKeys(
            tuple(dict.fromkeys(self.pairwise + other.pairwise)),
            tuple(dict.fromkeys(self.group + other.group)),
            tuple(dict.fromkeys(self.integrity + other.integrity)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": KEY_FILE_FORMAT,
            "version": KEY_FILE_VERSION,
            "pairwise": [k.to_json() for k in self.pairwise],
            "group": [k.to_json() for k in self.group],
            "integrity": [k.to_json() for k in self.integrity],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"

    def wireshark_entries(self) -> list[str]:
        """Wireshark's 802.11 key table (the `80211_keys` UAT file) for the
        same keys: one `"tk","<hex>"` record per distinct TK, pairwise and
        group alike (Wireshark tries every TK on every protected frame).
        IGTKs have no record type there and are left out."""
        tks = dict.fromkeys([k.tk for k in self.pairwise] + [k.tk for k in self.group])
        return [f'"tk","{tk.hex()}"' for tk in tks]


def _fields(entry: object, where: str, required: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise KeyFileError(KeyFileProblem.NOT_AN_OBJECT, where, f"got {type(entry).__name__}, expected an object")
    unknown = sorted(set(entry) - set(required))
    if unknown:
        raise KeyFileError(KeyFileProblem.UNKNOWN_FIELD, where, f"unknown field {unknown[0]!r}, expected {list(required)}")
    missing = [name for name in required if name not in entry]
    if missing:
        raise KeyFileError(KeyFileProblem.MISSING_FIELD, where, f"no {missing[0]!r}, expected {list(required)}")
    return entry


def _link_key(entry: object, where: str) -> LinkKey:
    fields = _fields(entry, where, ("stations", "key_id", "tk"))
    stations = fields["stations"]
    if not isinstance(stations, list) or len(stations) != 2:
        raise KeyFileError(KeyFileProblem.BAD_MAC, f"{where}.stations",
                           f"got {stations!r}, expected a list of two MAC addresses")
    a, b = (_station(s, f"{where}.stations[{i}]") for i, s in enumerate(stations))
    if a == b:
        raise KeyFileError(KeyFileProblem.SAME_STATION, f"{where}.stations",
                           f"both stations are {a.hex(':')}, expected the two ends of a link")
    return LinkKey.of(a, b, _key(fields["tk"], TK_LEN, f"{where}.tk"),
                      _key_id(fields["key_id"], CCMP_KEY_IDS, f"{where}.key_id"))


def _transmitter_key(entry: object, where: str) -> TransmitterKey:
    fields = _fields(entry, where, ("transmitter", "key_id", "tk"))
    return TransmitterKey(_station(fields["transmitter"], f"{where}.transmitter"),
                          _key_id(fields["key_id"], CCMP_KEY_IDS, f"{where}.key_id"),
                          _key(fields["tk"], TK_LEN, f"{where}.tk"))


def _integrity_key(entry: object, where: str) -> IntegrityKey:
    fields = _fields(entry, where, ("transmitter", "key_id", "key"))
    return IntegrityKey(_station(fields["transmitter"], f"{where}.transmitter"),
                        _key_id(fields["key_id"], BIP_KEY_IDS, f"{where}.key_id"),
                        _key(fields["key"], IGTK_LEN, f"{where}.key"))


_READERS = {"pairwise": _link_key, "group": _transmitter_key, "integrity": _integrity_key}


def loads(text: str | bytes) -> CaptureKeys:
    """Parse a key file; raises `KeyFileError` naming the first problem."""
    if len(text) > MAX_KEY_FILE:
        raise KeyFileError(KeyFileProblem.TOO_LARGE, "", f"{len(text)} octets, at most {MAX_KEY_FILE} accepted")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise KeyFileError(KeyFileProblem.NOT_JSON, "", f"not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise KeyFileError(KeyFileProblem.NOT_AN_OBJECT, "", f"got {type(document).__name__}, expected an object")
    if document.get("format") != KEY_FILE_FORMAT:
        raise KeyFileError(KeyFileProblem.WRONG_FORMAT, "format",
                           f"got {document.get('format')!r}, expected {KEY_FILE_FORMAT!r}")
    if document.get("version") != KEY_FILE_VERSION:
        raise KeyFileError(KeyFileProblem.UNSUPPORTED_VERSION, "version",
                           f"got {document.get('version')!r}, expected {KEY_FILE_VERSION}")
    unknown = sorted(set(document) - {"format", "version", *_SECTIONS})
    if unknown:
        raise KeyFileError(KeyFileProblem.UNKNOWN_FIELD, "", f"unknown field {unknown[0]!r}")
    sections: dict[str, tuple[Any, ...]] = {}
    for name in _SECTIONS:
        entries = document.get(name, [])
        if not isinstance(entries, list):
            raise KeyFileError(KeyFileProblem.NOT_AN_OBJECT, name, f"got {type(entries).__name__}, expected a list")
        sections[name] = tuple(dict.fromkeys(_READERS[name](e, f"{name}[{i}]") for i, e in enumerate(entries)))
    return CaptureKeys(sections["pairwise"], sections["group"], sections["integrity"])

"""SAE Authentication frame layout (IEEE 802.11-2020 9.3.3.12, 12.4.7): the
one rule the struct codec and the Scapy layers (meshframes.layers.sae)
share for where a Commit's fields end, and the parsed and built bodies the
SAE engine (meshframes.seal.sae) exchanges.

A Commit's field lengths follow from its Finite Cyclic Group (12.4.4): the
scalar is as long as the group's order, the element is a point (two
coordinates) for an elliptic curve and one number for a finite field. An
Anti-Clogging Token, when present without H2E's container element, is what
lies between the group and the scalar.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from meshframes.codec.elements import tiling_problem
from meshframes.codec.errors import DecodeError

AUTH_ALGORITHM_SAE = 3  # 9.4.1.1
SAE_COMMIT = 1  # 9.4.1.2: Authentication Transaction Sequence Number
SAE_CONFIRM = 2
STATUS_SUCCESS = 0  # 9.4.1.9
STATUS_ANTI_CLOGGING_TOKEN_REQUIRED = 76
STATUS_UNSUPPORTED_FINITE_CYCLIC_GROUP = 77
STATUS_SAE_HASH_TO_ELEMENT = 126
STATUS_SAE_PK = 127
# Statuses whose Commit and Confirm carry the full SAE fields (12.4.7.4).
SAE_FULL_STATUSES = frozenset({STATUS_SUCCESS, STATUS_SAE_HASH_TO_ELEMENT, STATUS_SAE_PK})
# Commits refused with these carry the group (and for 76 the token).
SAE_REFUSED_STATUSES = frozenset({STATUS_ANTI_CLOGGING_TOKEN_REQUIRED, STATUS_UNSUPPORTED_FINITE_CYCLIC_GROUP})
ELEMENT_ID_EXTENSION = 255  # 9.4.2.1
# Element ID Extensions of the elements an H2E Commit may carry (9.4.2.1, Table 9-92).
EXT_PASSWORD_IDENTIFIER = 33  # 9.4.2.216
EXT_REJECTED_GROUPS = 92  # 9.4.2.246
EXT_ANTI_CLOGGING_TOKEN_CONTAINER = 93  # 9.4.2.247
SEND_CONFIRM_MAX = 0xFFFF  # 12.4.7.5: a 16-bit counter; Accepted answers with it

# 12.4.4.2 (ECC) and 12.4.4.3 (FFC), numbered as IANA's "Group Description"
# registry: group -> (order length, element length) in octets.
SAE_GROUPS: dict[int, tuple[int, int]] = {
    19: (32, 64), 20: (48, 96), 21: (66, 132),  # NIST P-256, P-384, P-521
    25: (24, 48), 26: (28, 56),  # NIST P-192, P-224
    27: (28, 56), 28: (32, 64), 29: (48, 96), 30: (64, 128),  # brainpool 224, 256, 384, 512
    1: (96, 96), 2: (128, 128), 5: (192, 192), 14: (256, 256), 15: (384, 384),  # MODP
    16: (512, 512), 17: (768, 768), 18: (1024, 1024),
    22: (20, 128), 23: (28, 256), 24: (32, 256),  # MODP with prime order subgroups
}
GROUP_NAMES = {19: "NIST P-256", 20: "NIST P-384", 21: "NIST P-521", 25: "NIST P-192",
               26: "NIST P-224", 27: "brainpoolP224r1", 28: "brainpoolP256r1",
               29: "brainpoolP384r1", 30: "brainpoolP512r1"}

_U16 = struct.Struct("<H")


class SaeLayoutError(ValueError):
    """A Commit whose fields cannot be where its group puts them."""


def _is_extension_elements(data: bytes) -> bool:
    """Whether `data` is one or more whole extension elements (H2E's
    Password Identifier, Rejected Groups, Anti-Clogging Token Container)."""
    pos = 0
    while pos < len(data):
        if data[pos] != ELEMENT_ID_EXTENSION or pos + 2 > len(data):
            return False
        pos += 2 + data[pos + 1]
    return pos == len(data) and pos > 0


def commit_lengths(group: int, rest: bytes) -> tuple[int, int, int]:
    """(token, scalar, element) lengths of a Commit for `group` whose bytes
    after the group are `rest`; raises SaeLayoutError when they cannot fit."""
    if group not in SAE_GROUPS:
        raise SaeLayoutError(f"Finite Cyclic Group {group} is not a group SAE defines (12.4.4)")
    scalar, element = SAE_GROUPS[group]
    extra = len(rest) - scalar - element
    if extra < 0:
        raise SaeLayoutError(f"{len(rest)} octets after the group, the group's scalar and "
                             f"element need {scalar + element}")
    token = 0 if extra and _is_extension_elements(rest[scalar + element:]) else extra
    return token, scalar, element


def check_body(seq: int, status: int, body: bytes, offset: int) -> None:
    """Raise DecodeError if an SAE Authentication body (after algorithm,
    sequence and status) does not hold what its sequence and status say."""
    what = "SAE Commit" if seq == SAE_COMMIT else "SAE Confirm"
    full = status in SAE_FULL_STATUSES
    needs_two = (seq == SAE_COMMIT and (full or status in SAE_REFUSED_STATUSES)) or (seq == SAE_CONFIRM and full)
    if needs_two and len(body) < 2:
        field = "Finite Cyclic Group" if seq == SAE_COMMIT else "Send-Confirm"
        raise DecodeError(f"{what} {field}", offset, f"{len(body)} bytes", "2 bytes")
    if seq == SAE_COMMIT and full:
        try:
            commit_lengths(_U16.unpack_from(body)[0], body[2:])
        except SaeLayoutError as exc:
            raise DecodeError(what, offset + 2, str(exc), "the group's layout") from exc
    if not needs_two:
        # A status that carries no SAE fields (a refused Confirm, status 1,
        # as wpa_supplicant sends one) leaves only elements, if anything.
        problem = tiling_problem(body)
        if problem is not None:
            raise DecodeError(f"{what} elements", offset, problem,
                              f"whole elements after status {status}, which carries no SAE fields")


_AUTH_FIXED = struct.Struct("<HHH")  # 9.3.3.12: algorithm, transaction sequence, status


@dataclass(frozen=True, slots=True)
class SaeCommitBody:
    """A Commit with its SAE fields (status 0, 126 or 127). `scalar` and
    `element` are the octets as sent; the engine checks their values."""

    status: int
    group: int
    scalar: bytes
    element: bytes
    token: bytes = b""
    password_identifier: bytes | None = None
    rejected_groups: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class SaeConfirmBody:
    status: int
    send_confirm: int
    confirm: bytes


@dataclass(frozen=True, slots=True)
class SaeCommitRefused:
    """A Commit that carries a refusal: 76 with the token to send back, 77
    with the group refused, any other status with whatever followed."""

    status: int
    group: int | None
    token: bytes = b""


@dataclass(frozen=True, slots=True)
class SaeConfirmRefused:
    """Transaction 2 with a failure status: how hostapd rejects a Confirm
    (or anything else it would not take) in the peer's handshake."""

    status: int


SaeBody = SaeCommitBody | SaeConfirmBody | SaeCommitRefused | SaeConfirmRefused


def _extension_elements(data: bytes, offset: int) -> dict[int, bytes]:
    """Extension elements by Element ID Extension; DecodeError on anything else."""
    found: dict[int, bytes] = {}
    pos = 0
    while pos < len(data):
        if pos + 3 > len(data) or data[pos] != ELEMENT_ID_EXTENSION or data[pos + 1] < 1:
            raise DecodeError("SAE Commit extension element", offset + pos, data[pos:pos + 3].hex(),
                              "Element ID 255 with an extension ID")
        end = pos + 2 + data[pos + 1]
        if end > len(data):
            raise DecodeError("SAE Commit extension element length", offset + pos + 1, data[pos + 1],
                              f"<= {len(data) - pos - 2}")
        found[data[pos + 2]] = data[pos + 3:end]
        pos = end
    return found


def parse_sae(body: bytes) -> SaeBody:
    """An SAE Authentication frame body (from the Authentication Algorithm
    Number on) as the engine reads it; DecodeError when it is not one."""
    if len(body) < _AUTH_FIXED.size:
        raise DecodeError("Authentication fixed fields", 0, f"{len(body)} bytes", f"{_AUTH_FIXED.size} bytes")
    algorithm, seq, status = _AUTH_FIXED.unpack_from(body)
    if algorithm != AUTH_ALGORITHM_SAE:
        raise DecodeError("Authentication Algorithm Number", 0, algorithm, AUTH_ALGORITHM_SAE)
    if seq not in (SAE_COMMIT, SAE_CONFIRM):
        raise DecodeError("SAE Authentication Transaction Sequence Number", 2, seq, "1 or 2")
    rest = body[_AUTH_FIXED.size:]
    check_body(seq, status, rest, _AUTH_FIXED.size)
    if seq == SAE_CONFIRM:
        if status not in SAE_FULL_STATUSES:
            return SaeConfirmRefused(status)
        return SaeConfirmBody(status, _U16.unpack_from(rest)[0], rest[2:])
    group = _U16.unpack_from(rest)[0] if len(rest) >= 2 else None
    if status not in SAE_FULL_STATUSES:
        return SaeCommitRefused(status, group, rest[2:] if status == STATUS_ANTI_CLOGGING_TOKEN_REQUIRED else b"")
    assert group is not None  # check_body saw the two octets
    token_len, scalar_len, element_len = commit_lengths(group, rest[2:])
    pos = 2 + token_len
    scalar, element = rest[pos:pos + scalar_len], rest[pos + scalar_len:pos + scalar_len + element_len]
    elements = _extension_elements(rest[pos + scalar_len + element_len:],
                                   _AUTH_FIXED.size + pos + scalar_len + element_len)
    rejected = elements.get(EXT_REJECTED_GROUPS, b"")
    if len(rejected) % 2:
        raise DecodeError("Rejected Groups element", _AUTH_FIXED.size, f"{len(rejected)} octets",
                          "a whole number of 2-octet groups")
    token = rest[2:2 + token_len] or elements.get(EXT_ANTI_CLOGGING_TOKEN_CONTAINER, b"")
    return SaeCommitBody(status, group, scalar, element, token, elements.get(EXT_PASSWORD_IDENTIFIER),
                         tuple(_U16.unpack_from(rejected, i)[0] for i in range(0, len(rejected), 2)))


def _extension(ext_id: int, data: bytes) -> bytes:
    return bytes([ELEMENT_ID_EXTENSION, len(data) + 1, ext_id]) + data


def build_sae(message: SaeBody) -> bytes:
    """The Authentication frame body of an SAE message (12.4.7.4, 12.4.7.5).
    An H2E Commit carries its token in the container element, the others
    between group and scalar (12.4.7.4)."""
    if isinstance(message, SaeConfirmBody):
        return (_AUTH_FIXED.pack(AUTH_ALGORITHM_SAE, SAE_CONFIRM, message.status)
                + _U16.pack(message.send_confirm) + message.confirm)
    if isinstance(message, SaeConfirmRefused):
        return _AUTH_FIXED.pack(AUTH_ALGORITHM_SAE, SAE_CONFIRM, message.status)
    head = _AUTH_FIXED.pack(AUTH_ALGORITHM_SAE, SAE_COMMIT, message.status)
    if isinstance(message, SaeCommitRefused):
        return head + (b"" if message.group is None else _U16.pack(message.group)) + message.token
    in_container = message.status != STATUS_SUCCESS
    tail = b""
    if message.password_identifier is not None:
        tail += _extension(EXT_PASSWORD_IDENTIFIER, message.password_identifier)
    if message.rejected_groups:
        tail += _extension(EXT_REJECTED_GROUPS, b"".join(_U16.pack(g) for g in message.rejected_groups))
    if message.token and in_container:
        tail += _extension(EXT_ANTI_CLOGGING_TOKEN_CONTAINER, message.token)
    return (head + _U16.pack(message.group) + (b"" if in_container else message.token)
            + message.scalar + message.element + tail)

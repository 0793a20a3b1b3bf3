"""SAE Authentication frame layout (IEEE 802.11-2020 9.3.3.12, 12.4.7): the
one rule the struct codec and the Scapy layers (meshframes.layers.sae)
share for where a Commit's fields end.

A Commit's field lengths follow from its Finite Cyclic Group (12.4.4): the
scalar is as long as the group's order, the element is a point (two
coordinates) for an elliptic curve and one number for a finite field. An
Anti-Clogging Token, when present without H2E's container element, is what
lies between the group and the scalar.
"""

from __future__ import annotations

import struct

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

"""Our FastPay header in vendor-specific action frames, and fragmentation of
FastPay messages across frames (docs/wire-format.md).

The payload stays opaque bytes here: the FastPay core owns the bincode of
the messages.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

from meshframes.codec.errors import DecodeError, EncodeError, need
from meshframes.codec.frozen import quick_init

FASTPAY_VERSION = 1
HEADER_LEN = 7  # version, type, flags, message id (u16), fragment number, count
FLAG_E2E_SEALED = 0x01
# A payload sealed end to end (FLAG_E2E_SEALED; meshframes.seal.e2e,
# docs/sealing.md): the sender's identity and sequence number, then the
# ciphertext and its tag.
IDENTITY_LEN = 32
SEQUENCE_LEN = 8
E2E_TAG_LEN = 16
SEALED_HEADER_LEN = IDENTITY_LEN + SEQUENCE_LEN
SEALED_OVERHEAD = SEALED_HEADER_LEN + E2E_TAG_LEN
_HEADER = struct.Struct("<BBBHBB")

# 802.11-2020 9.2.4.7.1: a management frame body holds at most 2304 octets.
MAX_MGMT_BODY = 2304
# Category + OUI + Mesh Control with A5/A6 + our header.
MAX_FRAGMENT_PAYLOAD = MAX_MGMT_BODY - (1 + 3 + 18 + HEADER_LEN)
MAX_FRAGMENTS = 255
# The ethertype of FastPay over a kernel's mesh interface (docs/wire-format.md,
# "FastPay over the kernel's mesh"): IEEE 802 local experimental ethertype 1.
ETHERTYPE_FASTPAY = 0x88B5


class MessageType(enum.IntEnum):
    FASTPAY_ORDER = 1
    FASTPAY_VOTE = 2
    FASTPAY_CERTIFICATE = 3
    FASTPAY_CONFIRMATION = 4
    FASTPAY_INFO_REQUEST = 5
    FASTPAY_INFO_RESPONSE = 6
    FASTPAY_ERROR = 7
    FASTPAY_ANNOUNCE = 8


_MESSAGE_TYPES = frozenset(MessageType)
_MESSAGE_TYPES_TEXT = f"{min(_MESSAGE_TYPES)}..{max(_MESSAGE_TYPES)}"


@quick_init
@dataclass(frozen=True, slots=True)
class FastPayFragment:
    """What our vendor frame carries after its Mesh Control field: the
    FastPay header and one fragment of a message. The mesh moves it without
    reading it; the application's transport fragments, seals and
    reassembles (docs/wire-format.md)."""

    msg_type: int
    flags: int
    message_id: int
    fragment_number: int
    fragment_count: int
    data: bytes
    version: int = FASTPAY_VERSION

    def header(self, flags: int | None = None) -> bytes:
        """The header octets, with `flags` in place of the fragment's own
        if given (end-to-end sealing authenticates the header it will
        carry)."""
        return _HEADER.pack(self.version, self.msg_type, self.flags if flags is None else flags,
                            self.message_id, self.fragment_number, self.fragment_count)


def decode_fragment(data: bytes, pos: int) -> FastPayFragment:
    """The FastPay header and payload from `pos` to the end of `data`."""
    if len(data) - pos < HEADER_LEN:
        need(data, pos, HEADER_LEN, "FastPay header")
    version, msg_type, flags, message_id, number, count = _HEADER.unpack_from(data, pos)
    if version != FASTPAY_VERSION:
        raise DecodeError("FastPay header version", pos, version, FASTPAY_VERSION)
    if msg_type not in _MESSAGE_TYPES:
        raise DecodeError("FastPay message type", pos + 1, msg_type, _MESSAGE_TYPES_TEXT)
    if flags & ~FLAG_E2E_SEALED:
        raise DecodeError("FastPay flags", pos + 2, f"0x{flags:02x}", "bit 0 (sealed) only")
    if count == 0 or number >= count:
        raise DecodeError("FastPay fragment number", pos + 5, f"{number} of {count}",
                          "number < count, count >= 1")
    if len(data) - (pos + HEADER_LEN) < 1:
        need(data, pos + HEADER_LEN, 1, "FastPay payload")
    return FastPayFragment(msg_type, flags, message_id, number, count, data[pos + HEADER_LEN:], version)


def encode_fragment(f: FastPayFragment) -> bytes:
    if not 1 <= f.fragment_count <= MAX_FRAGMENTS or not 0 <= f.fragment_number < f.fragment_count:
        raise EncodeError("FastPay fragment number", (f.fragment_number, f.fragment_count),
                          f"0 <= number < count <= {MAX_FRAGMENTS}")
    if f.msg_type not in _MESSAGE_TYPES:
        raise EncodeError("FastPay message type", f.msg_type, _MESSAGE_TYPES_TEXT)
    if f.flags & ~FLAG_E2E_SEALED:
        raise EncodeError("FastPay flags", f.flags, "bit 0 (sealed) only")
    if not f.data:
        raise EncodeError("FastPay payload", "0 bytes", ">= 1 byte")
    try:
        return _HEADER.pack(f.version, f.msg_type, f.flags, f.message_id, f.fragment_number,
                            f.fragment_count) + f.data
    except struct.error as exc:
        raise EncodeError("FastPay header fields", str(exc), "u8/u16 values") from None


def fragment(message: bytes, max_payload: int = MAX_FRAGMENT_PAYLOAD) -> list[bytes]:
    """Split message bytes into the payloads of fragments 0..count-1."""
    if max_payload < 1:
        raise EncodeError("fragment payload size", max_payload, ">= 1")
    count = max(1, -(-len(message) // max_payload))
    if count > MAX_FRAGMENTS:
        raise EncodeError("message size", len(message),
                          f"<= {MAX_FRAGMENTS * max_payload} bytes ({MAX_FRAGMENTS} fragments)")
    return [message[i * max_payload:(i + 1) * max_payload] for i in range(count)]


class ReassemblyError(enum.StrEnum):
    """Why a fragment was not taken (each counted by the caller)."""

    COUNT_MISMATCH = "fragment-count-mismatch"
    DUPLICATE = "duplicate-fragment"
    TYPE_MISMATCH = "fragment-type-mismatch"
    # A set's flags (bit 0: sealed end to end) are the same on every
    # fragment; a mixed set would let a cleartext fragment ride under the
    # sealed label of the others.
    FLAGS_MISMATCH = "fragment-flags-mismatch"
    TOO_MANY_PENDING = "reassembly-table-full"


@dataclass(slots=True)
class _Partial:
    msg_type: int
    flags: int
    count: int
    deadline: float
    parts: dict[int, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reassembled:
    source: bytes
    message_id: int
    msg_type: int
    flags: int
    message: bytes


class Reassembler:
    """Collects fragments by (mesh SA, message id); a set that is not
    complete by its deadline is dropped (and reported by `expire`)."""

    def __init__(self, timeout: float = 2.0, max_pending: int = 256) -> None:
        self.timeout = timeout
        self.max_pending = max_pending
        self._partials: dict[tuple[bytes, int], _Partial] = {}

    def add(self, source: bytes, message_id: int, msg_type: int, flags: int,
            number: int, count: int, payload: bytes,
            now: float) -> Reassembled | ReassemblyError | None:
        """Take one fragment: the whole message once complete, an error for a
        fragment that contradicts its set, None while waiting for more."""
        if count == 1:
            return Reassembled(source, message_id, msg_type, flags, payload)
        key = (source, message_id)
        partial = self._partials.get(key)
        if partial is None:
            if len(self._partials) >= self.max_pending:
                return ReassemblyError.TOO_MANY_PENDING
            partial = self._partials[key] = _Partial(msg_type, flags, count, now + self.timeout)
        if partial.count != count:
            return ReassemblyError.COUNT_MISMATCH
        if partial.msg_type != msg_type:
            return ReassemblyError.TYPE_MISMATCH
        if partial.flags != flags:
            return ReassemblyError.FLAGS_MISMATCH
        if number in partial.parts:
            return ReassemblyError.DUPLICATE
        partial.parts[number] = payload
        if len(partial.parts) < count:
            return None
        del self._partials[key]
        return Reassembled(source, message_id, msg_type, partial.flags,
                           b"".join(partial.parts[i] for i in range(count)))

    def expire(self, now: float) -> list[tuple[bytes, int]]:
        """Drop incomplete sets past their deadline; return their keys."""
        gone = [key for key, p in self._partials.items() if p.deadline <= now]
        for key in gone:
            del self._partials[key]
        return gone

    def next_deadline(self) -> float | None:
        return min((p.deadline for p in self._partials.values()), default=None)

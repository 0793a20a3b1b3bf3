"""Block Ack action frames, category 3 (802.11-2020 9.6.4): ADDBA Request,
ADDBA Response and DELBA.

Linux sets up a Block Ack agreement per peer and TID before aggregating
(mac80211 agg-tx.c / agg-rx.c), so a capture of a mesh carrying traffic
holds these; in a secure mesh they are robust and travel CCMP-protected.

Layouts after Category and Block Ack Action (each field little-endian):

* ADDBA Request (9.6.4.2): Dialog Token (1), Block Ack Parameter Set (2),
  Block Ack Timeout Value (2), Block Ack Starting Sequence Control (2),
  then optional elements (GCR Group Address, ADDBA Extension, ...).
* ADDBA Response (9.6.4.3): Dialog Token (1), Status Code (2), Block Ack
  Parameter Set (2), Block Ack Timeout Value (2), then optional elements.
* DELBA (9.6.4.4): DELBA Parameter Set (2), Reason Code (2), then optional
  elements.

Block Ack Parameter Set (9.4.1.9): A-MSDU Supported (bit 0), Block Ack
Policy (bit 1), TID (bits 2-5), Buffer Size (bits 6-15). DELBA Parameter
Set (9.4.1.16): reserved (bits 0-10), Initiator (bit 11), TID (bits 12-15).
Starting Sequence Control: Fragment Number (bits 0-3), Starting Sequence
Number (bits 4-15).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from meshframes.codec.errors import EncodeError, need
from meshframes.codec.ie import Element, decode_elements, encode_elements

# Table 9-344: Block Ack Action field values.
BA_ACTION_ADDBA_REQUEST = 0
BA_ACTION_ADDBA_RESPONSE = 1
BA_ACTION_DELBA = 2
BLOCK_ACK_ACTION_NAMES = {
    BA_ACTION_ADDBA_REQUEST: "ADDBA Request",
    BA_ACTION_ADDBA_RESPONSE: "ADDBA Response",
    BA_ACTION_DELBA: "DELBA",
}

# Fixed fields after the Block Ack Action field, in octets.
ADDBA_REQUEST_FIXED_LEN = 7
ADDBA_RESPONSE_FIXED_LEN = 7
DELBA_FIXED_LEN = 4

# 9.4.1.9 Block Ack Parameter Set subfields.
BA_PARAM_AMSDU = 0x0001
BA_PARAM_POLICY = 0x0002
BA_PARAM_TID_SHIFT = 2
BA_PARAM_TID_MASK = 0x003C
BA_PARAM_BUFFER_SHIFT = 6
# 9.4.1.16 DELBA Parameter Set subfields.
DELBA_INITIATOR = 0x0800
DELBA_TID_SHIFT = 12
# Block Ack Starting Sequence Control: as the MAC header's Sequence Control.
SSC_FRAGMENT_MASK = 0x000F
SSC_SEQUENCE_SHIFT = 4

_ADDBA_REQUEST = struct.Struct("<BHHH")
_ADDBA_RESPONSE = struct.Struct("<BHHH")
_DELBA = struct.Struct("<HH")


def ba_tid(parameters: int) -> int:
    """The TID of a Block Ack Parameter Set."""
    return (parameters & BA_PARAM_TID_MASK) >> BA_PARAM_TID_SHIFT


def ba_buffer_size(parameters: int) -> int:
    return parameters >> BA_PARAM_BUFFER_SHIFT


@dataclass(frozen=True, slots=True)
class AddbaRequest:
    dialog_token: int
    parameters: int
    timeout: int
    starting_sequence_control: int
    elements: tuple[Element, ...] = ()

    @property
    def tid(self) -> int:
        return ba_tid(self.parameters)

    @property
    def starting_sequence_number(self) -> int:
        return self.starting_sequence_control >> SSC_SEQUENCE_SHIFT


@dataclass(frozen=True, slots=True)
class AddbaResponse:
    dialog_token: int
    status: int
    parameters: int
    timeout: int
    elements: tuple[Element, ...] = ()

    @property
    def tid(self) -> int:
        return ba_tid(self.parameters)


@dataclass(frozen=True, slots=True)
class Delba:
    parameters: int
    reason: int
    elements: tuple[Element, ...] = ()

    @property
    def initiator(self) -> bool:
        return bool(self.parameters & DELBA_INITIATOR)

    @property
    def tid(self) -> int:
        return self.parameters >> DELBA_TID_SHIFT


BlockAckBody = AddbaRequest | AddbaResponse | Delba


def decode_block_ack(data: bytes, offset: int) -> BlockAckBody | None:
    """The Block Ack action body that starts at `offset` (the Block Ack
    Action field); None for a reserved action value (3-255), whose layout
    the standard does not give."""
    need(data, offset, 1, "Block Ack Action")
    action = data[offset]
    pos = offset + 1
    if action == BA_ACTION_ADDBA_REQUEST:
        need(data, pos, ADDBA_REQUEST_FIXED_LEN, "ADDBA Request fixed fields")
        token, params, timeout, ssc = _ADDBA_REQUEST.unpack_from(data, pos)
        return AddbaRequest(token, params, timeout, ssc, _elements(data, pos + ADDBA_REQUEST_FIXED_LEN))
    if action == BA_ACTION_ADDBA_RESPONSE:
        need(data, pos, ADDBA_RESPONSE_FIXED_LEN, "ADDBA Response fixed fields")
        token, status, params, timeout = _ADDBA_RESPONSE.unpack_from(data, pos)
        return AddbaResponse(token, status, params, timeout, _elements(data, pos + ADDBA_RESPONSE_FIXED_LEN))
    if action == BA_ACTION_DELBA:
        need(data, pos, DELBA_FIXED_LEN, "DELBA fixed fields")
        params, reason = _DELBA.unpack_from(data, pos)
        # The reserved bits 0-10 are kept in `parameters` as sent (mac80211
        # ignores them too), so the frame encodes back exactly.
        return Delba(params, reason, _elements(data, pos + DELBA_FIXED_LEN))
    return None


def _elements(data: bytes, offset: int) -> tuple[Element, ...]:
    return decode_elements(data, offset)[0] if offset < len(data) else ()


def encode_block_ack(body: BlockAckBody) -> bytes:
    """Block Ack Action field onwards (the Category is the caller's)."""
    try:
        if isinstance(body, AddbaRequest):
            fixed = bytes((BA_ACTION_ADDBA_REQUEST,)) + _ADDBA_REQUEST.pack(
                body.dialog_token, body.parameters, body.timeout, body.starting_sequence_control)
        elif isinstance(body, AddbaResponse):
            fixed = bytes((BA_ACTION_ADDBA_RESPONSE,)) + _ADDBA_RESPONSE.pack(
                body.dialog_token, body.status, body.parameters, body.timeout)
        else:
            fixed = bytes((BA_ACTION_DELBA,)) + _DELBA.pack(body.parameters, body.reason)
    except struct.error as exc:
        raise EncodeError(f"{type(body).__name__} fixed fields", str(exc), "values that fit their octets") from None
    return fixed + encode_elements(body.elements)

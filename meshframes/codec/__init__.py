"""Struct-based 802.11s codec: MPDU bytes <-> frozen frame events.

`decode(mpdu)` -> frame event, `encode(event)` -> the same bytes. Decoding
raises `DecodeError` (what, offset, got, expected) and nothing else.
"""

from meshframes.codec.errors import CodecError, DecodeError, EncodeError
from meshframes.codec.frames import (
    ActionFrame,
    Beacon,
    BlockAckAction,
    ControlFrame,
    DataFrame,
    ExtensionFrame,
    Frame,
    ManagementFrame,
    MeshAction,
    MeshControlRule,
    MultihopAction,
    SelfProtected,
    VendorAction,
    decode,
    encode,
)
from meshframes.codec.header import MacHeader
from meshframes.codec.meshctl import MeshControl

__all__ = [
    "ActionFrame", "Beacon", "BlockAckAction", "CodecError", "ControlFrame", "DataFrame", "DecodeError",
    "EncodeError", "ExtensionFrame", "Frame", "MacHeader", "ManagementFrame", "MeshAction",
    "MeshControl", "MeshControlRule", "MultihopAction", "SelfProtected", "VendorAction", "decode", "encode",
]

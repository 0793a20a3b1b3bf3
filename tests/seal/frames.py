"""Plaintext MPDUs of every kind meshframes seals, built with struct so that
these tests do not depend on the Scapy layers they help to secure."""

from __future__ import annotations

import struct

BROADCAST = b"\xff" * 6
OUI = bytes.fromhex("0a4d46")


def mesh_control(ttl: int, sequence: int, extension: tuple[bytes, ...] = ()) -> bytes:
    """802.11-2020 9.2.4.7.3: flags (address extension mode), TTL, le32
    sequence number, then 0, 1 or 2 addresses."""
    return struct.pack("<BBI", len(extension), ttl, sequence) + b"".join(extension)


def qos_data(
    a1: bytes,
    a2: bytes,
    a3: bytes,
    body: bytes,
    *,
    a4: bytes | None = None,
    tid: int = 0,
    qos_high: int = 0x01,  # mesh control present (0x0100) by default
    sequence: int = 0,
    retry: bool = False,
    order: bool = False,
    from_ds: bool = False,
) -> bytes:
    """A QoS data frame (subtype 8); four addresses when `a4` is given, as
    mesh data is; otherwise three, with FromDS set for group-addressed mesh
    data (9.3.5) or clear for a single-hop frame."""
    ds = 0x03 if a4 is not None else (0x02 if from_ds else 0x00)
    fc1 = ds | (0x08 if retry else 0) | (0x80 if order else 0)
    header = struct.pack("<BBH", 0x88, fc1, 0) + a1 + a2 + a3 + struct.pack("<H", sequence << 4)
    if a4 is not None:
        header += a4
    header += bytes((tid & 0x0F, qos_high))
    if order:
        header += b"\x00\x00\x00\x00"
    return header + body


def action(a1: bytes, a2: bytes, a3: bytes, body: bytes, *, sequence: int = 0, order: bool = False) -> bytes:
    """A management frame of subtype Action carrying `body` (category first)."""
    header = struct.pack("<BBH", 0xD0, 0x80 if order else 0, 0) + a1 + a2 + a3 + struct.pack("<H", sequence << 4)
    if order:
        header += b"\x00\x00\x00\x00"
    return header + body


def fastpay_body(
    payload: bytes,
    *,
    category: int = 126,
    mesh_da: bytes | None = None,
    mesh_sa: bytes | None = None,
    ttl: int = 31,
    mesh_sequence: int = 1,
    msg_type: int = 1,
    flags: int = 0,
    msg_id: int = 7,
    fragment: int = 0,
    fragments: int = 1,
) -> bytes:
    """docs/wire-format.md: category, OUI, Mesh Control, FastPay header, payload."""
    extension = (mesh_da, mesh_sa) if mesh_da is not None and mesh_sa is not None else ()
    return (
        bytes((category,))
        + OUI
        + mesh_control(ttl, mesh_sequence, extension)
        + struct.pack("<BBBHBB", 1, msg_type, flags, msg_id, fragment, fragments)
        + payload
    )


def fastpay_frame(
    transmitter: bytes, receiver: bytes, origin: bytes, target: bytes, payload: bytes, *, sequence: int = 0, **fields
) -> bytes:
    """A multi-hop FastPay action frame: A1 next hop, A2 = A3 transmitter,
    A5/A6 the end-to-end destination and source."""
    body = fastpay_body(payload, mesh_da=target, mesh_sa=origin, **fields)
    return action(receiver, transmitter, transmitter, body, sequence=sequence)


def mesh_data(
    transmitter: bytes, receiver: bytes, origin: bytes, target: bytes, msdu: bytes, *, tid: int = 0
) -> bytes:
    """Four-address mesh QoS data: A1 next hop, A2 transmitter, A3 mesh DA,
    A4 mesh SA, Mesh Control without extension, then an LLC/SNAP MSDU."""
    body = mesh_control(31, 1) + bytes.fromhex("aaaa03000000") + struct.pack(">H", 0x88B5) + msdu
    return qos_data(receiver, transmitter, target, body, a4=origin, tid=tid)

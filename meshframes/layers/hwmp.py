"""HWMP path selection elements (IEEE 802.11-2020 9.4.2.110-114).

Field names follow the standard (originator_hwmp_sn for "Originator HWMP
Sequence Number"); the Address Extension flag (bit 6) inserts the external
address that the standard places right after the address it extends.
"""

from __future__ import annotations

from scapy.fields import (
    ByteField,
    ConditionalField,
    FieldLenField,
    FlagsField,
    LEIntField,
    LEShortEnumField,
    LEShortField,
    MACField,
    PacketListField,
)
from scapy.packet import Packet

from meshframes.layers._strict import MalformedLayer, MeshElement, StrictSubPacket
from meshframes.layers.elements import (
    ELEMENT_GANN,
    ELEMENT_PERR,
    ELEMENT_PREP,
    ELEMENT_PREQ,
    ELEMENT_RANN,
    MESH_REASON_CODES,
    _id_field,
    _len_field,
)

# 9.4.2.112: a PREQ names 1 to 20 targets; 9.4.2.114: a PERR 1 to 19
# destinations (the maxima keep the element within 255 octets).
PREQ_MAX_TARGETS = 20
PERR_MAX_DESTINATIONS = 19

# Flags octets, bit 0 first (9.4.2.112).
PREQ_FLAGS = [
    "gate_announcement",
    "addressing_mode",
    "proactive_prep",
    "reserved3",
    "reserved4",
    "reserved5",
    "address_extension",
    "reserved7",
]
# Bit 1 is reserved in 802.11-2020; the 802.11s drafts (and ns-3) use it as
# "reply and forward", so it keeps that name for display.
PREQ_TARGET_FLAGS = [
    "target_only",
    "reply_and_forward",
    "unknown_target_hwmp_sn",
    "reserved3",
    "reserved4",
    "reserved5",
    "reserved6",
    "reserved7",
]
AE_FLAG_ONLY = ["reserved0", "reserved1", "reserved2", "reserved3", "reserved4", "reserved5",
                "address_extension", "reserved7"]
RANN_FLAGS = ["gate_announcement"] + [f"reserved{i}" for i in range(1, 8)]
GANN_FLAGS = [f"reserved{i}" for i in range(8)]

FLAG_AE = 0x40  # bit 6 in PREQ, PREP and per-destination PERR flags


def _ae(p: Packet) -> bool:
    return bool(int(p.flags) & FLAG_AE)


class PREQTarget(StrictSubPacket):
    name = "PREQ Target"
    fields_desc = [
        FlagsField("flags", 0, 8, PREQ_TARGET_FLAGS),
        MACField("target_address", "00:00:00:00:00:00"),
        LEIntField("target_hwmp_sn", 0),
    ]


# 9.4.2.112
class PREQ(MeshElement):
    name = "PREQ"
    fields_desc = [
        _id_field(ELEMENT_PREQ),
        _len_field(),
        FlagsField("flags", 0, 8, PREQ_FLAGS),
        ByteField("hop_count", 0),
        ByteField("element_ttl", 31),
        LEIntField("path_discovery_id", 0),
        MACField("originator_address", "00:00:00:00:00:00"),
        LEIntField("originator_hwmp_sn", 0),
        ConditionalField(MACField("originator_external_address", None), _ae),
        LEIntField("lifetime", 0),
        LEIntField("metric", 0),
        FieldLenField("target_count", None, count_of="targets", fmt="B"),
        PacketListField("targets", [], PREQTarget, count_from=lambda p: p.target_count),
    ]

    def expected_length(self, body: bytes) -> int | None:
        if not body:
            return None
        fixed = 26 + (6 if body[0] & FLAG_AE else 0)
        if len(body) < fixed:
            return fixed
        count = body[fixed - 1]
        if not 1 <= count <= PREQ_MAX_TARGETS:
            raise MalformedLayer(f"PREQ: Target Count {count}, expected 1..{PREQ_MAX_TARGETS}")
        return fixed + 11 * count


# 9.4.2.113
class PREP(MeshElement):
    name = "PREP"
    fields_desc = [
        _id_field(ELEMENT_PREP),
        _len_field(),
        FlagsField("flags", 0, 8, AE_FLAG_ONLY),
        ByteField("hop_count", 0),
        ByteField("element_ttl", 31),
        MACField("target_address", "00:00:00:00:00:00"),
        LEIntField("target_hwmp_sn", 0),
        ConditionalField(MACField("target_external_address", None), _ae),
        LEIntField("lifetime", 0),
        LEIntField("metric", 0),
        MACField("originator_address", "00:00:00:00:00:00"),
        LEIntField("originator_hwmp_sn", 0),
    ]

    def expected_length(self, body: bytes) -> int | None:
        if not body:
            return None
        return 37 if body[0] & FLAG_AE else 31


class PERRDestination(StrictSubPacket):
    name = "PERR Destination"
    fields_desc = [
        FlagsField("flags", 0, 8, AE_FLAG_ONLY),
        MACField("destination_address", "00:00:00:00:00:00"),
        LEIntField("hwmp_sn", 0),
        ConditionalField(MACField("destination_external_address", None), _ae),
        LEShortEnumField("reason_code", 63, MESH_REASON_CODES),
    ]


# 9.4.2.114
class PERR(MeshElement):
    name = "PERR"
    fields_desc = [
        _id_field(ELEMENT_PERR),
        _len_field(),
        ByteField("element_ttl", 31),
        FieldLenField("number_of_destinations", None, count_of="destinations", fmt="B"),
        PacketListField(
            "destinations", [], PERRDestination, count_from=lambda p: p.number_of_destinations
        ),
    ]

    def expected_length(self, body: bytes) -> int | None:
        if len(body) < 2:
            return 2
        count = body[1]
        if not 1 <= count <= PERR_MAX_DESTINATIONS:
            raise MalformedLayer(
                f"PERR: Number of Destinations {count}, expected 1..{PERR_MAX_DESTINATIONS}"
            )
        # Each destination is 13 octets, 19 with the external address; the
        # flags octet of each says which, so walk them.
        offset = 2
        for _ in range(count):
            if offset >= len(body):
                return offset + 13
            offset += 19 if body[offset] & FLAG_AE else 13
        return offset


# 9.4.2.111
class RANN(MeshElement):
    name = "RANN"
    fields_desc = [
        _id_field(ELEMENT_RANN),
        _len_field(),
        FlagsField("flags", 0, 8, RANN_FLAGS),
        ByteField("hop_count", 0),
        ByteField("element_ttl", 31),
        MACField("root_mesh_sta_address", "00:00:00:00:00:00"),
        LEIntField("hwmp_sn", 0),
        LEIntField("interval", 5000),
        LEIntField("metric", 0),
    ]

    def expected_length(self, body: bytes) -> int:
        return 21


# 9.4.2.110
class GANN(MeshElement):
    name = "GANN"
    fields_desc = [
        _id_field(ELEMENT_GANN),
        _len_field(),
        FlagsField("flags", 0, 8, GANN_FLAGS),
        ByteField("hop_count", 0),
        ByteField("element_ttl", 31),
        MACField("mesh_gate_address", "00:00:00:00:00:00"),
        LEIntField("gann_sequence_number", 0),
        LEShortField("interval", 1000),
    ]

    def expected_length(self, body: bytes) -> int:
        return 15

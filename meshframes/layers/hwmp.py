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

from meshframes.codec.elements import EID_GANN, EID_PERR, EID_PREP, EID_PREQ, EID_RANN
from meshframes.codec.pathsel import (
    EXTERNAL_ADDRESS_LEN,
    FLAGS_OFFSET,
    GANN_LEN,
    HWMP_FLAG_AE,
    PERR_COUNT_OFFSET,
    PERR_DESTINATION_LEN,
    PERR_FIXED_LEN,
    PERR_MAX_DESTINATIONS,
    PREP_LEN,
    PREQ_FIXED_LEN,
    PREQ_MAX_TARGETS,
    PREQ_TARGET_LEN,
    RANN_LEN,
    TARGET_COUNT_LEN,
)
from meshframes.layers._strict import MalformedLayer, MeshElement, StrictSubPacket
from meshframes.layers.elements import MESH_REASON_CODES, _id_field, _len_field

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


def _ae(p: Packet) -> bool:
    return bool(int(p.flags) & HWMP_FLAG_AE)


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
        _id_field(EID_PREQ),
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
        fixed = PREQ_FIXED_LEN + (EXTERNAL_ADDRESS_LEN if body[FLAGS_OFFSET] & HWMP_FLAG_AE else 0)
        if len(body) < fixed:
            return fixed
        count = body[fixed - TARGET_COUNT_LEN]
        if not 1 <= count <= PREQ_MAX_TARGETS:
            raise MalformedLayer(f"PREQ: Target Count {count}, expected 1..{PREQ_MAX_TARGETS}")
        return fixed + PREQ_TARGET_LEN * count


# 9.4.2.113
class PREP(MeshElement):
    name = "PREP"
    fields_desc = [
        _id_field(EID_PREP),
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
        return PREP_LEN + (EXTERNAL_ADDRESS_LEN if body[FLAGS_OFFSET] & HWMP_FLAG_AE else 0)


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
        _id_field(EID_PERR),
        _len_field(),
        ByteField("element_ttl", 31),
        FieldLenField("number_of_destinations", None, count_of="destinations", fmt="B"),
        PacketListField(
            "destinations", [], PERRDestination, count_from=lambda p: p.number_of_destinations
        ),
    ]

    def expected_length(self, body: bytes) -> int | None:
        if len(body) < PERR_FIXED_LEN:
            return PERR_FIXED_LEN
        count = body[PERR_COUNT_OFFSET]
        if not 1 <= count <= PERR_MAX_DESTINATIONS:
            raise MalformedLayer(
                f"PERR: Number of Destinations {count}, expected 1..{PERR_MAX_DESTINATIONS}"
            )
        # Each destination's flags octet says whether it carries the
        # external address, so walk them.
        offset = PERR_FIXED_LEN
        for _ in range(count):
            if offset >= len(body):
                return offset + PERR_DESTINATION_LEN
            offset += PERR_DESTINATION_LEN + (EXTERNAL_ADDRESS_LEN if body[offset] & HWMP_FLAG_AE else 0)
        return offset


# 9.4.2.111
class RANN(MeshElement):
    name = "RANN"
    fields_desc = [
        _id_field(EID_RANN),
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
        return RANN_LEN


# 9.4.2.110
class GANN(MeshElement):
    name = "GANN"
    fields_desc = [
        _id_field(EID_GANN),
        _len_field(),
        FlagsField("flags", 0, 8, GANN_FLAGS),
        ByteField("hop_count", 0),
        ByteField("element_ttl", 31),
        MACField("mesh_gate_address", "00:00:00:00:00:00"),
        LEIntField("gann_sequence_number", 0),
        LEShortField("interval", 1000),
    ]

    def expected_length(self, body: bytes) -> int:
        return GANN_LEN

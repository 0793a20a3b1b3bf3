"""Reason codes (802.11-2020 9.4.1.7, Table 9-49) that mesh peering, HWMP
and mesh channel switching put on the air."""

from __future__ import annotations

import enum


class ReasonCode(enum.IntEnum):
    """Reason codes of the mesh, 802.11-2020 Table 9-49."""

    UNSPECIFIED = 1
    MESH_PEERING_CANCELLED = 52
    MESH_MAX_PEERS = 53
    MESH_CONFIGURATION_POLICY_VIOLATION = 54
    MESH_CLOSE_RCVD = 55
    MESH_MAX_RETRIES = 56
    MESH_CONFIRM_TIMEOUT = 57
    MESH_INVALID_GTK = 58
    MESH_INCONSISTENT_PARAMETERS = 59
    MESH_INVALID_SECURITY_CAPABILITY = 60
    MESH_PATH_ERROR_NO_PROXY_INFORMATION = 61
    MESH_PATH_ERROR_NO_FORWARDING_INFORMATION = 62
    MESH_PATH_ERROR_DESTINATION_UNREACHABLE = 63
    MAC_ADDRESS_ALREADY_EXISTS_IN_MBSS = 64
    MESH_CHANNEL_SWITCH_REGULATORY_REQUIREMENTS = 65
    MESH_CHANNEL_SWITCH_UNSPECIFIED = 66


# Table 9-49's own spelling (one L in CANCELED), as tshark shows them.
REASON_NAMES = {code: code.name.replace("_", "-") for code in ReasonCode}
REASON_NAMES[ReasonCode.MESH_PEERING_CANCELLED] = "MESH-PEERING-CANCELED"

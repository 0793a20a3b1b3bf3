"""The Category and Action fields of Action frames (802.11-2020 9.4.1.11,
9.6): category values, the mesh and self-protected action values, and
which categories are robust (12.2.8)."""

from __future__ import annotations

# 9.4.1.11: the Category field is one octet, and so is the Action field
# that follows it in every category but the vendor-specific ones (9.6).
CATEGORY_LEN = 1
ACTION_LEN = 1

# Table 9-51: Category values.
CATEGORY_BLOCK_ACK = 3
CATEGORY_PUBLIC = 4
CATEGORY_HT = 7
CATEGORY_UNPROTECTED_WNM = 11
CATEGORY_MESH = 13
CATEGORY_MULTIHOP = 14
CATEGORY_SELF_PROTECTED = 15
CATEGORY_UNPROTECTED_DMG = 20
CATEGORY_VHT = 21
CATEGORY_UNPROTECTED_S1G = 22
CATEGORY_VENDOR_PROTECTED = 126
CATEGORY_VENDOR = 127
# Names for the categories Scapy 2.8 does not list itself.
CATEGORY_NAMES = {
    CATEGORY_VENDOR_PROTECTED: "Vendor-specific Protected",
    CATEGORY_VENDOR: "Vendor-specific",
}
# The categories whose frames meshframes.codec.frames lays out; an action
# frame of any other category keeps its body as bytes.
CATEGORIES_LAID_OUT = frozenset({
    CATEGORY_BLOCK_ACK, CATEGORY_MESH, CATEGORY_MULTIHOP, CATEGORY_SELF_PROTECTED, CATEGORY_VENDOR_PROTECTED,
    CATEGORY_VENDOR,
})
# 9.4.1.11: a STA returns an action frame whose category it does not know
# with the category's top bit set (Linux: ieee80211_rx_h_action_return).
CATEGORY_ERROR_BIT = 0x80

# Table 9-51's "Robust" column: the categories that are not (the same set
# mac80211 refuses to protect). CCMP protects every other category.
NON_ROBUST_CATEGORIES = frozenset({
    CATEGORY_PUBLIC, CATEGORY_HT, CATEGORY_UNPROTECTED_WNM, CATEGORY_SELF_PROTECTED,
    CATEGORY_UNPROTECTED_DMG, CATEGORY_VHT, CATEGORY_UNPROTECTED_S1G, CATEGORY_VENDOR,
})

# 9.6.16.1, Table 9-470: Mesh Action field values; 0-8 carry elements only.
MESH_ACTION_LINK_METRIC_REPORT = 0
MESH_ACTION_HWMP_PATH_SELECTION = 1
MESH_ACTION_GATE_ANNOUNCEMENT = 2
MESH_ACTION_NAMES = {
    MESH_ACTION_LINK_METRIC_REPORT: "Mesh Link Metric Report",
    MESH_ACTION_HWMP_PATH_SELECTION: "HWMP Mesh Path Selection",
    MESH_ACTION_GATE_ANNOUNCEMENT: "Gate Announcement",
    3: "Congestion Control Notification",
    4: "MCCA Setup Request",
    5: "MCCA Setup Reply",
    6: "MCCA Advertisement Request",
    7: "MCCA Advertisement",
    8: "MCCA Teardown",
    9: "TBTT Adjustment Request",
    10: "TBTT Adjustment Response",
}
MESH_ACTIONS_WITH_ELEMENTS = range(0, 9)

# 9.6.17.1, Table 9-482: Multihop Action field values. Both frames carry
# Mesh Control, then their element (9.6.17.2, 9.6.17.3).
MULTIHOP_ACTION_PROXY_UPDATE = 0
MULTIHOP_ACTION_PROXY_UPDATE_CONFIRMATION = 1
MULTIHOP_ACTION_NAMES = {
    MULTIHOP_ACTION_PROXY_UPDATE: "Proxy Update",
    MULTIHOP_ACTION_PROXY_UPDATE_CONFIRMATION: "Proxy Update Confirmation",
}
# Values 2-255 are reserved: their body is kept as it came.
MULTIHOP_ACTIONS_WITH_ELEMENTS = frozenset(MULTIHOP_ACTION_NAMES)

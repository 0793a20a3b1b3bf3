"""SAE Authentication frames (IEEE 802.11-2020 9.3.3.12, 12.4.7): the
Commit and Confirm that secure mesh peers (wpa_supplicant, Linux) exchange
before AMPE. Bound to Scapy's Dot11Auth for algorithm 3 so that a secure
mesh capture dissects completely; where a Commit's fields end is
meshframes.codec.sae's rule, shared with the struct codec.
"""

from __future__ import annotations

from scapy.fields import LEShortEnumField, LEShortField, StrField, StrLenField
from scapy.layers.dot11 import Dot11Auth, Dot11Elt
from scapy.packet import Packet, bind_layers

from meshframes.codec.sae import (
    AUTH_ALGORITHM_SAE,
    GROUP_NAMES,
    SAE_COMMIT,
    SAE_CONFIRM,
    SAE_FULL_STATUSES,
    SAE_GROUPS,
    SAE_REFUSED_STATUSES,
    SaeLayoutError,
    commit_lengths,
)
from meshframes.layers._strict import MalformedLayer, StrictPacket


def _lengths(pkt: Packet, rest: bytes) -> tuple[int, int, int]:
    try:
        return commit_lengths(pkt.finite_cyclic_group, rest)
    except SaeLayoutError as exc:
        raise MalformedLayer(f"{pkt.name}: {exc}") from exc


class _TokenField(StrLenField):
    """The Anti-Clogging Token: whatever the group's scalar and element (and
    trailing extension elements) leave between them and the group."""

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, bytes]:
        length = _lengths(pkt, s)[0]
        return s[length:], s[:length]


class SAECommit(StrictPacket):
    """SAE Commit (transaction sequence 1)."""

    name = "SAE Commit"
    fields_desc = [
        LEShortEnumField("finite_cyclic_group", 19, GROUP_NAMES),
        _TokenField("anti_clogging_token", b""),
        StrLenField("scalar", b"", length_from=lambda p: SAE_GROUPS[p.finite_cyclic_group][0]),
        StrLenField("element", b"", length_from=lambda p: SAE_GROUPS[p.finite_cyclic_group][1]),
    ]


class SAECommitRejected(StrictPacket):
    """A Commit refused with status 76 (the token the peer must echo follows
    the group) or 77 (the group alone)."""

    name = "SAE Commit (not accepted)"
    fields_desc = [
        LEShortEnumField("finite_cyclic_group", 19, GROUP_NAMES),
        StrField("anti_clogging_token", b""),
    ]


class SAEConfirm(StrictPacket):
    """SAE Confirm (transaction sequence 2): Send-Confirm counter and the
    Confirm value, as long as the group's hash."""

    name = "SAE Confirm"
    fields_desc = [
        LEShortField("send_confirm", 0),
        StrField("confirm", b""),
    ]


# The last binding sets the fields a built frame gets: status 0 (success).
for _status in sorted(SAE_FULL_STATUSES, reverse=True):
    bind_layers(Dot11Auth, SAECommit, algo=AUTH_ALGORITHM_SAE, seqnum=SAE_COMMIT, status=_status)
    bind_layers(Dot11Auth, SAEConfirm, algo=AUTH_ALGORITHM_SAE, seqnum=SAE_CONFIRM, status=_status)
for _status in sorted(SAE_REFUSED_STATUSES):
    bind_layers(Dot11Auth, SAECommitRejected, algo=AUTH_ALGORITHM_SAE, seqnum=SAE_COMMIT, status=_status)
bind_layers(SAECommit, Dot11Elt)
# Scapy takes the first binding that matches, and Dot11Auth's own catch-all
# (elements, for Open System) was registered first: conditional ones go ahead.
Dot11Auth.payload_guess.sort(key=lambda guess: not guess[0])

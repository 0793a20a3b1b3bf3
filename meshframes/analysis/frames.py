"""A frame's verdict (`FrameDecode`) and a capture's totals (`Analysis`).

A frame ends in one of three states:
- decoded: every 802.11 layer parsed and consumed its bytes exactly;
- undecoded: it parsed, but some 802.11-level bytes have no layer (an
  unknown action category or vendor OUI); application payload inside an
  MSDU (after LLC/SNAP) is not ours to decode and does not count;
- malformed: the bytes break their format; the reason says where and how.
Encrypted bodies are counted apart: without a key they cannot be decoded.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

KINDS = (
    "beacon",
    "probe-req",
    "probe-resp",
    "peering-open",
    "peering-confirm",
    "peering-close",
    "preq",
    "prep",
    "perr",
    "rann",
    "gate-ann",
    "addba-request",
    "addba-response",
    "delba",
    "mesh-data",
    "fastpay-order",
    "fastpay-vote",
    "fastpay-certificate",
    "fastpay-confirmation",
    "fastpay-info-request",
    "fastpay-info-response",
    "fastpay-announce",
    "fastpay-error",
    # An action frame sent back with the Category's bit 7 set (9.4.1.11).
    "returned-action",
    # An Ethernet frame a Linux mesh point delivered (`sniff` on a mesh
    # interface): the MSDU of a mesh data frame, 802.11 framing removed.
    "msdu",
    "other",
)


@dataclass(slots=True)
class FrameDecode:
    index: int
    kind: str
    # The dissected packet when Scapy made the verdict (for `show()`); None
    # when the codec did.
    packet: Any = None
    malformed: str | None = None
    undecoded: str | None = None
    encrypted: bool = False
    mesh_control_rule: str | None = None
    hwmp: list[dict[str, Any]] = field(default_factory=list)
    # The FastPay message kind an MSDU of ethertype 0x88B5 carries (FastPay
    # over a kernel's mesh interface), from its clear FastPay header.
    msdu_fastpay: str | None = None


@dataclass(slots=True)
class Analysis:
    path: str
    frames: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    undecoded: list[dict[str, Any]] = field(default_factory=list)
    malformed: list[dict[str, Any]] = field(default_factory=list)
    encrypted: int = 0
    hwmp: list[dict[str, Any]] = field(default_factory=list)
    mesh_control_rules: Counter[str] = field(default_factory=Counter)
    # FastPay messages inside mesh data (ethertype 0x88B5), by kind; the
    # frames themselves count as mesh-data in by_kind, as tshark counts them.
    fastpay_in_msdus: Counter[str] = field(default_factory=Counter)
    linktypes: Counter[int] = field(default_factory=Counter)
    fcs: str = "none"
    # pcapng frames of interfaces whose link type is not 802.11.
    skipped_other_linktypes: int = 0
    capture_error: str | None = None

    def count(self, result: FrameDecode) -> None:
        """Add one decoded frame to the totals (a capture's or a live sniff's)."""
        self.frames += 1
        self.by_kind[result.kind] += 1
        if result.msdu_fastpay is not None:
            self.fastpay_in_msdus[result.msdu_fastpay] += 1
        if result.malformed:
            self.malformed.append({"frame": result.index, "kind": result.kind, "reason": result.malformed})
        elif result.undecoded:
            self.undecoded.append({"frame": result.index, "kind": result.kind, "reason": result.undecoded})
        if result.encrypted:
            self.encrypted += 1
        if result.mesh_control_rule:
            self.mesh_control_rules[result.mesh_control_rule] += 1
        self.hwmp.extend(result.hwmp)

    def absorb(self, other: Analysis) -> None:
        """Add the totals of `other`, the same capture's other frames (each
        frame counted by one of the two): lists stay in frame order."""
        self.frames += other.frames
        self.by_kind.update(other.by_kind)
        self.undecoded = _in_frame_order(self.undecoded, other.undecoded)
        self.malformed = _in_frame_order(self.malformed, other.malformed)
        self.encrypted += other.encrypted
        self.hwmp = _in_frame_order(self.hwmp, other.hwmp)
        self.mesh_control_rules.update(other.mesh_control_rules)
        self.fastpay_in_msdus.update(other.fastpay_in_msdus)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "frames": self.frames,
            "by_kind": dict(sorted(self.by_kind.items())),
            "undecoded": len(self.undecoded),
            "undecoded_frames": self.undecoded,
            "malformed": self.malformed,
            "encrypted": self.encrypted,
            "hwmp": self.hwmp,
            "mesh_control_rules": dict(self.mesh_control_rules),
            "fastpay_in_msdus": dict(sorted(self.fastpay_in_msdus.items())),
            "linktypes": {str(k): v for k, v in self.linktypes.items()},
            "skipped_other_linktypes": self.skipped_other_linktypes,
            "fcs": self.fcs,
            "capture_error": self.capture_error,
        }


def _in_frame_order(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not b:
        return a
    if not a:
        return b
    return list(heapq.merge(a, b, key=lambda row: row["frame"]))

"""One analysis over one or more captures of the same run: every frame's
verdict into the totals, and the decoded frames into the sections.

Frames are taken one at a time and nothing per frame is kept, so memory
follows the sessions and flows on the air, not the size of the capture.
Several captures (one per node, say) are merged by time, and a frame two
of them heard is counted once: the same octets from another capture
within `DUPLICATE_WINDOW` seconds.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from meshframes.analysis.frames import Analysis, FrameDecode
from meshframes.analysis.sections import Discoveries, Nodes, PaymentFlows, PeeringSessions
from meshframes.analysis.verdict import Verdicts
from meshframes.codec.frames import Frame, MeshAction, SelfProtected, VendorAction
from meshframes.codec.radiotap import Radiotap

# A transmission reaches every capturing radio within its own air time
# (at most a few milliseconds); captures of one run share a clock.
DUPLICATE_WINDOW = 0.05


class Captured(Protocol):
    """One captured MPDU (meshframes.hosts.pcap.Mpdu has these)."""

    @property
    def index(self) -> int: ...
    @property
    def timestamp(self) -> float: ...
    @property
    def data(self) -> bytes: ...
    @property
    def radiotap(self) -> Radiotap | None: ...
    @property
    def problem(self) -> str | None: ...


def merged(captures: Sequence[Iterable[Captured]]) -> Iterator[tuple[int, Captured]]:
    """(capture number, frame) of several captures in time order."""
    if len(captures) == 1:
        # One capture is already in its order: paired in C, no generator
        # of ours resumed per frame.
        return zip(itertools.repeat(0), captures[0])
    return _merged(captures)


def _merged(captures: Sequence[Iterable[Captured]]) -> Iterator[tuple[int, Captured]]:
    streams = [_numbered(n, capture) for n, capture in enumerate(captures)]
    for _, n, item in heapq.merge(*streams, key=lambda entry: (entry[0], entry[1])):
        yield n, item


def _numbered(n: int, capture: Iterable[Captured]) -> Iterator[tuple[float, int, Captured]]:
    for item in capture:
        yield item.timestamp, n, item


class DuplicateFilter:
    """Whether the same octets were heard by another capture within
    DUPLICATE_WINDOW: one transmission recorded twice. Holds only the
    frames of the last window."""

    def __init__(self) -> None:
        self._recent: dict[bytes, tuple[float, int]] = {}

    def heard_before(self, data: bytes, t: float, capture: int) -> bool:
        while self._recent:
            oldest = next(iter(self._recent))
            if self._recent[oldest][0] >= t - DUPLICATE_WINDOW:
                break
            del self._recent[oldest]
        seen = self._recent.get(data)
        if seen is not None and seen[1] != capture and abs(t - seen[0]) <= DUPLICATE_WINDOW:
            return True
        self._recent.pop(data, None)
        self._recent[data] = (t, capture)
        return False


class Share(StrEnum):
    """Which sections an analyzer feeds, when two analyzers share one
    capture's frames (meshframes.hosts.analyze): one takes the mesh action
    frames (`is_mesh_action`) and the HWMP discoveries, the other every
    other frame and the peering sessions and FastPay flows. Each section
    then sees all of its frames, in order, in one analyzer."""

    ALL = "all"
    MESH_ACTIONS = "mesh-actions"
    THE_REST = "the-rest"


@dataclass(frozen=True, slots=True)
class Handover:
    """One share's totals and sections, for the other share's analyzer
    (pickled from process to process: no verdict cache, no dissector)."""

    share: Share
    analysis: Analysis
    nodes: Nodes
    strays: int
    # Verdicts by the codec, by the dissector, and dissector verdicts reused.
    decoded_by: tuple[int, int, int]
    discoveries: Discoveries
    peering: PeeringSessions
    payments: PaymentFlows


class Analyzer:
    """Totals (`analysis`) and sections of the frames it is given in time
    order. `unprotect`, when given, turns each MPDU into what is decoded
    (a decrypting step sits there); `verdicts` is how a frame is judged;
    `share` which sections it feeds (a frame of a section it does not
    feed is counted in `strays`)."""

    def __init__(self, path: str, verdicts: Verdicts,
                 unprotect: Callable[[bytes, int], bytes] | None = None, share: Share = Share.ALL) -> None:
        self.analysis = Analysis(path)
        self.verdicts = verdicts
        self._unprotect = unprotect
        self.share = share
        self.peering = PeeringSessions()
        self.discoveries = Discoveries()
        self.payments = PaymentFlows()
        self.nodes = Nodes()
        self.duplicates = 0
        self.strays = 0
        self._recent = DuplicateFilter()

    def add(self, item: Captured, index: int | None = None, capture: int = 0,
            dedup: bool = False) -> FrameDecode | None:
        """Judge and count one frame (numbered `index`, else its own);
        None when `dedup` finds another capture already counted it."""
        if dedup and self._recent.heard_before(item.data, item.timestamp, capture):
            self.duplicates += 1
            return None
        number = item.index if index is None else index
        # A decrypting step (meshframes.seal.capture.CaptureOpener) sees
        # intact frames only and counts what it cannot open against `number`.
        data = item.data if self._unprotect is None or item.problem else self._unprotect(item.data, number)
        result, frame = self.verdicts.decode(data, number)
        if item.problem:
            # The capture's reason comes first: what the decoder then says
            # (an empty MPDU, a cut element) follows from it.
            result.malformed = item.problem if result.malformed is None else f"{item.problem}; {result.malformed}"
        self.analysis.count(result)
        if frame is not None and result.malformed is None:
            self._sections(number, item, frame, result.kind, len(data))
        return result

    def _sections(self, number: int, item: Captured, frame: Frame, kind: str, octets: int) -> None:
        self.nodes.add(kind, octets, frame, item.radiotap)
        # The codec's frame classes have no subclasses: their exact type
        # says which section reads them.
        if type(frame) is MeshAction:
            if self.share is Share.THE_REST:
                self.strays += 1
            else:
                self.discoveries.add(number, item.timestamp, frame)
        elif type(frame) is SelfProtected or type(frame) is VendorAction:
            if self.share is Share.MESH_ACTIONS:
                self.strays += 1
            elif isinstance(frame, SelfProtected):
                self.peering.add(number, item.timestamp, frame)
            else:
                self.payments.add(number, item.timestamp, frame)

    def handover(self) -> Handover:
        """What this share hands the analyzer of the other share."""
        verdicts = self.verdicts
        return Handover(self.share, self.analysis, self.nodes, self.strays,
                        (verdicts.by_codec, verdicts.by_dissector, verdicts.reused),
                        self.discoveries, self.peering, self.payments)

    def absorb(self, other: Handover) -> None:
        """Take in the other share of the same capture: totals added, and
        the sections this analyzer does not feed taken from it whole."""
        if {self.share, other.share} != {Share.MESH_ACTIONS, Share.THE_REST}:
            raise ValueError(f"shares {self.share} and {other.share} do not split one capture")
        self.analysis.absorb(other.analysis)
        self.nodes.absorb(other.nodes)
        self.strays += other.strays
        by_codec, by_dissector, reused = other.decoded_by
        self.verdicts.by_codec += by_codec
        self.verdicts.by_dissector += by_dissector
        self.verdicts.reused += reused
        if other.share is Share.MESH_ACTIONS:
            self.discoveries = other.discoveries
        else:
            self.peering, self.payments = other.peering, other.payments

    def sections(self) -> dict[str, Any]:
        return {
            "peering_sessions": self.peering.report(),
            "hwmp_discoveries": self.discoveries.report(),
            "fastpay_flows": self.payments.report(),
            "nodes": self.nodes.report(),
            "duplicates": self.duplicates,
            "decoded_by": {"codec": self.verdicts.by_codec, "dissector": self.verdicts.by_dissector,
                           "dissector_verdict_reused": self.verdicts.reused},
        }

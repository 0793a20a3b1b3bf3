"""What happened on the air, from decoded frames: peering sessions, HWMP
discoveries, FastPay payment flows and each node's share of the air.

Each tracker takes frames in time order (`add`) and reports plain data
(`report`); its state grows with the sessions, discoveries and transfers
it sees, never with the number of frames.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

from meshframes.analysis.verdict import read_message
from meshframes.app.errors import AppRefusal
from meshframes.codec.fastpay import FLAG_E2E_SEALED, MessageType
from meshframes.codec.frames import (
    ControlFrame,
    DataFrame,
    Frame,
    MeshAction,
    SelfProtected,
    VendorAction,
    mesh_addresses,
)
from meshframes.codec.pathsel import HWMP_FLAG_AE, PREQ_FLAG_PROACTIVE_PREP, Perr, Prep, Preq, Rann
from meshframes.codec.peering import (
    PROTOCOL_AMPE,
    SP_MESH_PEERING_CLOSE,
    SP_MESH_PEERING_CONFIRM,
    SP_MESH_PEERING_OPEN,
)
from meshframes.codec.radiotap import Radiotap
from meshframes.fastpay.messages import (
    CertifiedTransferOrder,
    ConfirmationOrder,
    SignedTransferOrder,
    TransferOrder,
)

BROADCAST = b"\xff" * 6
# 802.11-2020 14.10.10.4 (HWMP root modes, dot11MeshHWMPRootMode): 2 sends
# proactive PREQs without asking for PREPs, 3 asks for them, 4 sends RANNs.
ROOT_MODE_PROACTIVE_PREQ_NO_PREP = 2
ROOT_MODE_PROACTIVE_PREQ_WITH_PREP = 3
ROOT_MODE_RANN = 4
_FCS_LEN = 4
# 802.11-2020 15.3.3 (DSSS, long PLCP preamble and header, 192 us) for 1
# and 2 Mb/s and CCK (16.3.4) at 5.5 and 11; 17.4.3 (OFDM) otherwise:
# 20 us of preamble and SIGNAL, then 4 us symbols of SERVICE (16 bits),
# the PSDU and the tail (6 bits).
_DSSS_RATES_100KBPS = frozenset({10, 20, 55, 110})
_DSSS_PREAMBLE_US = 192
_OFDM_PREAMBLE_US = 20
_OFDM_SYMBOL_US = 4
_OFDM_SERVICE_TAIL_BITS = 22
# Message copies remembered to count each relayed message once.
_COPIES_REMEMBERED = 65536


def airtime_us(octets: int, rate_100kbps: int) -> float:
    """Time on the air of a PSDU of `octets` (FCS included) at a legacy rate."""
    if rate_100kbps in _DSSS_RATES_100KBPS:
        return _DSSS_PREAMBLE_US + octets * 8 * 10 / rate_100kbps
    bits_per_symbol = rate_100kbps * _OFDM_SYMBOL_US / 10
    symbols = -(-(_OFDM_SERVICE_TAIL_BITS + 8 * octets) // bits_per_symbol)
    return _OFDM_PREAMBLE_US + symbols * _OFDM_SYMBOL_US


def _ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start) * 1000, 3)


# -- peering ----------------------------------------------------------------

_T = TypeVar("_T")
# Frames of one kind kept per sender and session: the first ones, which
# a finding quotes; past this a flood is counted, not kept.
MAX_MARKS = 4096


class FrameMarks(list[_T]):
    """The first MAX_MARKS frames of one kind, and how many there were."""

    total = 0

    def add(self, item: _T) -> None:
        self.total += 1
        if len(self) < MAX_MARKS:
            self.append(item)


@dataclass(slots=True)
class PeeringSession:
    """One run of mesh peering on a link, from the Open that started it to
    the Close that ended it (frame numbers as the capture numbers them)."""

    link: tuple[str, str]
    opened: float
    first_frame: int
    # Per sender, its Opens; and the senders whose Opens were AMPE's (14.5:
    # Mesh Peering Protocol Identifier 1, 9.4.2.102).
    opens: dict[str, FrameMarks[int]] = field(default_factory=dict)
    ampe_from: set[str] = field(default_factory=set)
    confirms: set[str] = field(default_factory=set)
    # Per sender, the Local Link ID of its latest Open or Confirm, and the
    # Peer Link ID its latest Confirm answered, with that Confirm's frame.
    link_ids: dict[str, int] = field(default_factory=dict)
    answered: dict[str, tuple[int, int]] = field(default_factory=dict)
    established: float | None = None
    established_frame: int | None = None
    closed: float | None = None
    closed_frame: int | None = None
    closed_by: str | None = None
    reason: int | None = None

    def report(self) -> dict[str, Any]:
        return {"link": list(self.link), "first_frame": self.first_frame, "opened": self.opened,
                "open_from": sorted(self.opens), "confirm_from": sorted(self.confirms),
                "established": self.established, "open_to_estab_ms": _ms(self.opened, self.established),
                "closed": self.closed, "closed_by": self.closed_by, "close_reason": self.reason}


@dataclass(slots=True)
class StrayCloses:
    """Closes on a link with no session open: how many, and the first."""

    frame: int
    sender: str
    reason: int | None
    count: int = 1


class PeeringSessions:
    """Mesh peering per link (an unordered pair of addresses), read from
    the air as 14.3 runs it: a session starts with an Open, and ends with a
    Close from either side; the next Open starts a new session. It is
    ESTAB at the Confirm that completes the crossing: each side has sent a
    Confirm answering the other's link ID (14.3.6.2: Peer Link ID equal to
    the peer's Local Link ID), as a mesh STA accepts a Confirm only when
    its link IDs match its own (mac80211's CNF_ACPT). A Confirm for a link
    ID the peer has since replaced establishes nothing."""

    def __init__(self) -> None:
        self._sessions: dict[tuple[str, str], list[PeeringSession]] = {}
        self._stray: dict[tuple[str, str], StrayCloses] = {}

    def add(self, index: int, t: float, frame: SelfProtected) -> None:
        action = frame.action
        if action not in (SP_MESH_PEERING_OPEN, SP_MESH_PEERING_CONFIRM, SP_MESH_PEERING_CLOSE):
            return
        sender, receiver = frame.header.addr2.hex(":"), frame.header.addr1.hex(":")
        link = (sender, receiver) if sender < receiver else (receiver, sender)
        sessions = self._sessions.get(link)
        session = sessions[-1] if sessions else None
        if session is not None and session.closed is not None:
            session = None
        peering = frame.peering
        if action == SP_MESH_PEERING_OPEN:
            if session is None:
                session = PeeringSession(link, t, index)
                self._sessions.setdefault(link, []).append(session)
            marks = session.opens.get(sender)
            if marks is None:
                marks = session.opens[sender] = FrameMarks()
            marks.add(index)
            if peering is not None:
                session.link_ids[sender] = peering.local_link_id
                if peering.protocol_id == PROTOCOL_AMPE:
                    session.ampe_from.add(sender)
            elif frame.sealed:
                session.ampe_from.add(sender)
        elif session is None:
            if action == SP_MESH_PEERING_CLOSE:
                stray = self._stray.get(link)
                if stray is None:
                    self._stray[link] = StrayCloses(index, sender, peering.reason if peering is not None else None)
                else:
                    stray.count += 1
        elif action == SP_MESH_PEERING_CONFIRM:
            session.confirms.add(sender)
            if peering is not None and peering.peer_link_id is not None:
                session.link_ids[sender] = peering.local_link_id
                session.answered[sender] = (peering.peer_link_id, index)
                if session.established is None and self._crossed(session, sender, receiver):
                    session.established, session.established_frame = t, index
        else:
            session.closed, session.closed_frame, session.closed_by = t, index, sender
            session.reason = peering.reason if peering is not None else None

    @staticmethod
    def _crossed(session: PeeringSession, a: str, b: str) -> bool:
        answered, ids = session.answered, session.link_ids
        return b in answered and answered[a][0] == ids.get(b) and answered[b][0] == ids.get(a)

    def links(self) -> list[tuple[str, str]]:
        """Every link with a session or a Close, in address order."""
        return sorted({*self._sessions, *self._stray})

    def sessions(self, link: tuple[str, str]) -> list[PeeringSession]:
        """The sessions of `link` (its addresses in order), oldest first."""
        return self._sessions.get(link, [])

    def stray_closes(self, link: tuple[str, str]) -> StrayCloses | None:
        return self._stray.get(link)

    def report(self) -> dict[str, Any]:
        sessions = sorted([s for found in self._sessions.values() for s in found], key=lambda s: (s.opened, s.link))
        links: dict[tuple[str, str], dict[str, Any]] = {}
        for s in sessions:
            entry = links.setdefault(s.link, {"link": list(s.link), "sessions": 0, "established": 0,
                                              "closed": 0, "estab_lost": 0, "close_reasons": {}})
            entry["sessions"] += 1
            entry["established"] += s.established is not None
            if s.closed is not None:
                entry["closed"] += 1
                entry["estab_lost"] += s.established is not None
                key = str(s.reason)
                entry["close_reasons"][key] = entry["close_reasons"].get(key, 0) + 1
        for link, stray in self._stray.items():
            links.setdefault(link, {"link": list(link), "sessions": 0, "established": 0, "closed": 0,
                                    "estab_lost": 0, "close_reasons": {}})["closes_without_session"] = stray.count
        return {"sessions": [s.report() for s in sessions],
                "never_established": sum(s.established is None for s in sessions),
                "links": sorted(links.values(), key=lambda e: e["link"])}


# -- HWMP ---------------------------------------------------------------------


@dataclass(slots=True)
class _Discovery:
    originator: str
    path_discovery_id: int
    targets: tuple[str, ...]
    started: float
    first_frame: int
    preq_frames: int = 1
    first_prep: float | None = None
    answered: float | None = None
    answered_by: str | None = None
    hop_count: int | None = None
    metric: int | None = None
    next_hop: str | None = None

    def report(self) -> dict[str, Any]:
        return {"originator": self.originator, "path_discovery_id": self.path_discovery_id,
                "targets": list(self.targets), "first_frame": self.first_frame, "started": self.started,
                "preq_frames": self.preq_frames, "first_prep": self.first_prep,
                "prep_reached_originator": self.answered, "answered_by": self.answered_by,
                "latency_ms": _ms(self.started, self.answered if self.answered is not None else self.first_prep),
                "hop_count": self.hop_count, "metric": self.metric, "next_hop": self.next_hop}


class Discoveries:
    """HWMP path discoveries (14.10.9): a PREQ, named by its originator and
    Path Discovery ID however often it is re-broadcast, answered by the
    PREP its target sends back; the PREP's Hop Count and Metric are those
    it carries into the originator, the next hop is who handed it over.
    PERRs and root announcements (proactive PREQs, RANNs) are listed apart."""

    def __init__(self) -> None:
        self._by_id: dict[tuple[str, int], _Discovery] = {}
        self._latest: dict[tuple[str, str], _Discovery] = {}
        self._order: list[_Discovery] = []
        self.perrs: list[dict[str, Any]] = []
        self.roots: dict[str, dict[str, Any]] = {}
        self.preps_unmatched = 0

    def add(self, index: int, t: float, frame: MeshAction) -> None:
        for element in frame.elements:
            if isinstance(element, Preq):
                self._preq(index, t, element)
            elif isinstance(element, Prep):
                self._prep(t, frame, element)
            elif isinstance(element, Perr):
                self.perrs.append({"frame": index, "time": t, "transmitter": frame.header.addr2.hex(":"),
                                   "destinations": [{"address": d.addr.hex(":"), "hwmp_sn": d.sn, "reason": d.reason}
                                                    for d in element.destinations]})
            elif isinstance(element, Rann):
                self._root(element.root_addr.hex(":"), ROOT_MODE_RANN, t)

    def _root(self, address: str, mode: int, t: float) -> None:
        entry = self.roots.setdefault(address, {"root": address, "mode": mode, "announcements": 0,
                                                     "first": t})
        entry["announcements"] += 1

    def _preq(self, index: int, t: float, e: Preq) -> None:
        originator = e.originator_addr.hex(":")
        if all(target.addr == BROADCAST for target in e.targets):
            mode = (ROOT_MODE_PROACTIVE_PREQ_WITH_PREP if e.flags & PREQ_FLAG_PROACTIVE_PREP
                    else ROOT_MODE_PROACTIVE_PREQ_NO_PREP)
            if (originator, e.path_discovery_id) not in self._by_id:
                self._by_id[(originator, e.path_discovery_id)] = _Discovery(originator, e.path_discovery_id,
                                                                             (), t, index)
                self._root(originator, mode, t)
            return
        key = (originator, e.path_discovery_id)
        known = self._by_id.get(key)
        if known is not None:
            known.preq_frames += 1
            return
        targets = tuple(target.addr.hex(":") for target in e.targets)
        discovery = self._by_id[key] = _Discovery(originator, e.path_discovery_id, targets, t, index)
        self._order.append(discovery)
        for target in targets:
            self._latest[(originator, target)] = discovery

    def _prep(self, t: float, frame: MeshAction, e: Prep) -> None:
        originator, target = e.originator_addr.hex(":"), e.target_addr.hex(":")
        if e.flags & HWMP_FLAG_AE and e.target_external_addr is not None:
            target = e.target_external_addr.hex(":")
        discovery = self._latest.get((originator, target))
        if discovery is None:
            self.preps_unmatched += 1
            return
        if discovery.first_prep is None:
            discovery.first_prep, discovery.answered_by = t, target
        if discovery.answered is None and frame.header.addr1 == e.originator_addr:
            discovery.answered = t
            discovery.hop_count, discovery.metric = e.hop_count, e.metric
            discovery.next_hop = frame.header.addr2.hex(":")

    def report(self) -> dict[str, Any]:
        changes: dict[str, dict[str, Any]] = {}
        for d in self._order:
            for target in d.targets:
                entry = changes.setdefault(target, {"destination": target, "discoveries": 0, "answered": 0,
                                                    "next_hops": {}, "path_changes": 0, "perrs": 0})
                entry["discoveries"] += 1
                if d.next_hop is None:
                    continue
                entry["answered"] += 1
                last = entry["next_hops"].get(d.originator)
                if last is not None and last != d.next_hop:
                    entry["path_changes"] += 1
                entry["next_hops"][d.originator] = d.next_hop
        for perr in self.perrs:
            for dest in perr["destinations"]:
                changes.setdefault(dest["address"], {"destination": dest["address"], "discoveries": 0,
                                                     "answered": 0, "next_hops": {}, "path_changes": 0,
                                                     "perrs": 0})["perrs"] += 1
        return {"discoveries": [d.report() for d in self._order],
                "unanswered": sum(d.first_prep is None for d in self._order),
                "preps_unmatched": self.preps_unmatched,
                "perrs": self.perrs,
                "destinations": sorted(changes.values(), key=lambda e: e["destination"]),
                "root_modes": sorted(self.roots.values(), key=lambda e: e["root"])}


# -- FastPay ------------------------------------------------------------------


def _key(key: bytes) -> str:
    """An account or authority key as shown: its first 8 octets in hex."""
    return key[:8].hex()


@dataclass(slots=True)
class _Flow:
    sender: str
    sequence_number: int
    recipient: str | None = None
    amount: int | None = None
    ordered: float | None = None
    first_frame: int | None = None
    votes: dict[str, float] = field(default_factory=dict)
    # When the certified order first crossed the air: inside a
    # confirmation to an authority, or handed to the recipient.
    certificate: float | None = None
    signers: tuple[str, ...] = ()
    confirmations: dict[str, float] = field(default_factory=dict)
    delivered: float | None = None

    def why_incomplete(self) -> str | None:
        if self.ordered is None:
            return "no order on the air (only later messages of the transfer were seen)"
        if not self.votes:
            return "order seen, no vote"
        if self.certificate is None:
            return f"votes from {len(self.votes)} authorities, no certificate"
        if not self.confirmations:
            return "certificate seen, no confirmation to an authority"
        if self.delivered is None:
            return "confirmed, certificate not handed to the recipient"
        return None

    def report(self) -> dict[str, Any]:
        first_vote = min(self.votes.values()) if self.votes else None
        last_vote = max(self.votes.values()) if self.votes else None
        return {"sender": self.sender, "recipient": self.recipient, "amount": self.amount,
                "sequence_number": self.sequence_number, "first_frame": self.first_frame,
                "ordered": self.ordered, "voters": sorted(self.votes), "certificate": self.certificate,
                "signers": list(self.signers), "confirmed_to": sorted(self.confirmations),
                "delivered": self.delivered,
                "order_to_first_vote_ms": _ms(self.ordered, first_vote),
                "order_to_last_vote_ms": _ms(self.ordered, last_vote),
                "last_vote_to_certificate_ms": _ms(last_vote, self.certificate),
                "certificate_to_delivery_ms": _ms(self.certificate, self.delivered),
                "order_to_delivery_ms": _ms(self.ordered, self.delivered),
                "incomplete": self.why_incomplete()}


class PaymentFlows:
    """FastPay transfers as their messages cross the air: order, votes
    (one per authority), the certificate the client puts together from
    them, confirmations carrying it (one per authority), and the
    certificate handed to the recipient. A message is read once however many hops
    relay it (its mesh SA and sequence number name it); fragments are put
    back together; sealed messages are counted, not read."""

    def __init__(self) -> None:
        self._flows: dict[tuple[str, int], _Flow] = {}
        self._seen: dict[bytes, None] = {}
        self._fragments: dict[tuple[bytes, int, int], dict[int, bytes]] = {}
        self.sealed = 0
        self.unreadable: dict[str, int] = {}
        self.messages: dict[str, int] = {}

    def add(self, index: int, t: float, frame: VendorAction) -> None:
        fragment = frame.payload
        addresses = mesh_addresses(frame)
        da, sa = addresses if addresses is not None else (frame.header.addr1, frame.header.addr3)
        copy = hashlib.blake2b(b"".join((sa, da, frame.mesh_control.seq.to_bytes(4, "little"), fragment.header(),
                                         fragment.data)), digest_size=16).digest()
        if copy in self._seen:
            return
        if len(self._seen) >= _COPIES_REMEMBERED:
            # Relayed copies follow within seconds: forget the oldest.
            del self._seen[next(iter(self._seen))]
        self._seen[copy] = None
        if fragment.flags & FLAG_E2E_SEALED:
            self.sealed += 1
            return
        data = fragment.data
        if fragment.fragment_count > 1:
            key = (sa, fragment.message_id, fragment.msg_type)
            parts = self._fragments.setdefault(key, {})
            parts[fragment.fragment_number] = data
            if len(parts) < fragment.fragment_count:
                return
            del self._fragments[key]
            data = b"".join(parts[n] for n in sorted(parts))
        message = read_message(fragment.msg_type, data)
        if isinstance(message, AppRefusal):
            self.unreadable[message.reason.value] = self.unreadable.get(message.reason.value, 0) + 1
            return
        name = MessageType(fragment.msg_type).name.removeprefix("FASTPAY_").lower()
        self.messages[name] = self.messages.get(name, 0) + 1
        self._message(index, t, message, da.hex(":"))

    def _flow(self, order: TransferOrder, index: int) -> _Flow:
        transfer = order.transfer
        key = (_key(transfer.sender), transfer.sequence_number)
        flow = self._flows.get(key)
        if flow is None:
            flow = self._flows[key] = _Flow(*key, first_frame=index)
        flow.recipient, flow.amount = _key(transfer.recipient.key), transfer.amount
        return flow

    def _message(self, index: int, t: float, message: object, destination: str) -> None:
        if isinstance(message, TransferOrder):
            flow = self._flow(message, index)
            flow.ordered = t if flow.ordered is None else flow.ordered
        elif isinstance(message, SignedTransferOrder):
            self._flow(message.value, index).votes.setdefault(_key(message.authority), t)
        elif isinstance(message, CertifiedTransferOrder):
            flow = self._certified(message, t, index)
            flow.delivered = t if flow.delivered is None else flow.delivered
        elif isinstance(message, ConfirmationOrder):
            self._certified(message.transfer_certificate, t, index).confirmations.setdefault(destination, t)

    def _certified(self, certificate: CertifiedTransferOrder, t: float, index: int) -> _Flow:
        flow = self._flow(certificate.value, index)
        if flow.certificate is None:
            flow.certificate = t
            flow.signers = tuple(sorted(_key(name) for name, _ in certificate.signatures))
        return flow

    def report(self) -> dict[str, Any]:
        flows = sorted(self._flows.values(), key=lambda f: (f.ordered is None, f.ordered or 0.0, f.sender,
                                                             f.sequence_number))
        return {"flows": [f.report() for f in flows],
                "incomplete": sum(f.why_incomplete() is not None for f in flows),
                "messages": dict(sorted(self.messages.items())), "sealed_messages": self.sealed,
                "unreadable_messages": dict(sorted(self.unreadable.items())),
                "fragment_sets_unfinished": len(self._fragments)}


# -- nodes --------------------------------------------------------------------


def transmitter(frame: Frame) -> bytes | None:
    """The transmitter address, if the frame carries one."""
    header = getattr(frame, "header", None)
    if header is not None:
        return header.addr2
    if isinstance(frame, ControlFrame):
        return frame.rest[:6] if len(frame.rest) >= 6 else None
    return None


# A transmitter's totals, by position.
_FRAMES, _OCTETS, _DATA_FRAMES, _AIRTIME_NS, _WITHOUT_RATE = range(5)


class Nodes:
    """Per transmitter: frames and octets sent by kind, and air time where
    the capture gives the rate (radiotap); frames with no transmitter
    address (ACK, CTS) are counted apart."""

    def __init__(self) -> None:
        # Per transmitter: its totals (a list indexed as above, bumped
        # for every frame), and its frames by kind.
        self._nodes: dict[bytes, tuple[list[int], Counter[str]]] = {}
        self.without_transmitter = 0

    def add(self, kind: str, octets: int, frame: Frame | None, radiotap: Radiotap | None) -> None:
        if frame is None:
            ta = None
        else:
            # Most frames have a MAC header: its Address 2 without a call.
            header = getattr(frame, "header", None)
            ta = header.addr2 if header is not None else transmitter(frame)
        if ta is None:
            self.without_transmitter += 1
            return
        found = self._nodes.get(ta)
        if found is None:
            found = self._nodes[ta] = ([0, 0, 0, 0, 0], Counter())
        totals, by_kind = found
        totals[_FRAMES] += 1
        totals[_OCTETS] += octets
        by_kind[kind] += 1
        if type(frame) is DataFrame:
            totals[_DATA_FRAMES] += 1
        rate = radiotap.rate_100kbps if radiotap is not None else None
        if rate:
            totals[_AIRTIME_NS] += _airtime_ns(octets + _FCS_LEN, rate)
        else:
            totals[_WITHOUT_RATE] += 1

    def absorb(self, other: Nodes) -> None:
        """Add the totals `other` counted (the same capture's other frames)."""
        self.without_transmitter += other.without_transmitter
        for ta, (totals, by_kind) in other._nodes.items():
            found = self._nodes.get(ta)
            if found is None:
                self._nodes[ta] = (list(totals), Counter(by_kind))
                continue
            for i, value in enumerate(totals):
                found[0][i] += value
            found[1].update(by_kind)

    def report(self) -> dict[str, Any]:
        nodes = [{"address": ta.hex(":"), "frames": totals[_FRAMES], "octets": totals[_OCTETS],
                  "airtime_us": round(totals[_AIRTIME_NS] / 1000, 1), "frames_without_rate": totals[_WITHOUT_RATE],
                  "by_kind": dict(sorted(by_kind.items())), "data_frames": totals[_DATA_FRAMES]}
                 for ta, (totals, by_kind) in sorted(self._nodes.items())]
        return {"nodes": nodes, "frames_without_transmitter": self.without_transmitter}


@lru_cache(maxsize=4096)
def _airtime_ns(octets: int, rate_100kbps: int) -> int:
    """`airtime_us` in whole nanoseconds, remembered: frames repeat a few
    lengths at a few rates."""
    return round(airtime_us(octets, rate_100kbps) * 1000)

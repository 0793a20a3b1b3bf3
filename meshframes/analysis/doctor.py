"""Why two mesh stations did or did not peer and carry data, from what a
capture shows: the first place where a link departs from the way mesh
peering goes (14.2 mesh discovery, 14.3 MPM, 12.4 SAE, 14.5 AMPE), with
the frame numbers that show it (numbered from 1, as tshark does).

A capture is a third party's view: it holds what one radio heard, not
what each station received or decided. Each finding therefore says what
the frames show and the cause they point to, not more; for instance a
station that ignores another's Opens is blocking it, or full, or deaf to
it, and the finding says which of those its own beacons rule out.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from meshframes.analysis.sections import FrameMarks, PeeringSession, PeeringSessions
from meshframes.codec.errors import DecodeError
from meshframes.codec.frames import (
    Beacon,
    DataFrame,
    ManagementFrame,
    MeshAction,
    SelfProtected,
    VendorAction,
    decode,
    read_authentication_fields,
)
from meshframes.codec.header import SUBTYPE_AUTHENTICATION, SUBTYPE_BEACON, TYPE_MGMT
from meshframes.codec.pathsel import Prep, Preq
from meshframes.codec.reason import REASON_NAMES, ReasonCode
from meshframes.codec.sae import (
    AUTH_ALGORITHM_SAE,
    SAE_COMMIT,
    SAE_CONFIRM,
    STATUS_ANTI_CLOGGING_TOKEN_REQUIRED,
    STATUS_SUCCESS,
    STATUS_UNSUPPORTED_FINITE_CYCLIC_GROUP,
)

# An anti-clogging token demanded this many times on one link without a
# Confirm ever following is a loop, not load: hostap answers a commit that
# carries a valid token, so a peer that keeps being asked never got one
# through.
ANTI_CLOGGING_LOOP = 3
# Bounds on what a capture can make the doctor hold, whatever its size: a
# flood keeps the first frames of each kind per link (the ones that show
# the divergence; sections.MAX_MARKS) and counts the rest.
MAX_STATIONS = 4096
MAX_DIRECTIONS = 65536
# Data subtypes with this bit set carry no body (Null, QoS Null; 9.2.4.1.3,
# Table 9-1): power-save signalling, not traffic.
DATA_SUBTYPE_NO_BODY = 0x4
# Frame numbers quoted per finding: enough to find the frames in a
# dissector, short enough to read.
QUOTED_FRAMES = 6


class Cause(enum.Enum):
    """What a link's frames point to, in the order a link gets there: the
    first that applies is the finding."""

    MESH_ID_MISMATCH = "mesh-id-mismatch"
    PROFILE_MISMATCH = "profile-mismatch"
    NOT_ACCEPTING = "not-accepting-peerings"
    SAE_GROUP_REFUSED = "sae-group-refused"
    SAE_ANTI_CLOGGING_LOOP = "sae-anti-clogging-loop"
    SAE_CONFIRM_FAILED = "sae-confirm-failed"
    AMPE_UNANSWERED = "ampe-unanswered"
    OPENS_IGNORED = "opens-ignored"
    PEERING_CLOSED = "peering-closed"
    NOT_CONFIRMED = "not-confirmed"
    NEITHER_OPENED = "neither-opened"
    PEER_LEFT = "peer-left"
    PEER_SILENT = "peer-silent"
    ESTAB_NO_DATA = "estab-no-data"
    OK = "ok"


@dataclass(slots=True)
class _Station:
    """What one transmitter showed of itself."""

    first: int | None
    last: int | None
    mesh_id: bytes | None = None
    mesh_id_frame: int | None = None
    profile: tuple[int, ...] | None = None
    profile_frame: int | None = None
    accepting: bool | None = None
    accepting_frame: int | None = None


@dataclass(slots=True)
class _Direction:
    """Frames one station sent to another (a -> b), peering aside: SAE's
    Authentication frames and unicast data. Peering is PeeringSessions'."""

    commits: FrameMarks[tuple[int, int]] = field(default_factory=FrameMarks)
    sae_confirms: FrameMarks[tuple[int, int]] = field(default_factory=FrameMarks)
    data: FrameMarks[int] = field(default_factory=FrameMarks)
    last: int | None = None


@dataclass(slots=True)
class _Peering:
    """One link's peering as its sessions show it, summed per sender."""

    sessions: list[PeeringSession]
    opens: dict[str, FrameMarks[int]]
    ampe_opens: dict[str, list[int]]
    confirmed: set[str]
    # The Close that ended each session: (frame, reason, sender).
    closes: list[tuple[int, int | None, str]]

    @classmethod
    def of(cls, sessions: list[PeeringSession]) -> _Peering:
        opens: dict[str, FrameMarks[int]] = {}
        ampe: dict[str, list[int]] = {}
        for session in sessions:
            for sender, marks in session.opens.items():
                mine = opens.setdefault(sender, FrameMarks())
                for number in marks:
                    mine.add(number)
                mine.total += marks.total - len(marks)
                if sender in session.ampe_from:
                    ampe.setdefault(sender, []).extend(marks)
        closes = [(s.closed_frame, s.reason, s.closed_by) for s in sessions
                  if s.closed_frame is not None and s.closed_by is not None]
        return cls(sessions, opens, ampe, {c for s in sessions for c in s.confirms}, closes)

    def opens_from(self, sender: str) -> FrameMarks[int]:
        return self.opens.get(sender, FrameMarks())


@dataclass(frozen=True, slots=True)
class LinkFinding:
    """The verdict on the link between stations `a` and `b` (MAC strings,
    a < b)."""

    a: str
    b: str
    cause: Cause
    detail: str
    frames: tuple[int, ...]
    established: bool


class _Found(Protocol):
    """How a link's finding is made once its stations are named."""

    def __call__(self, cause: Cause, detail: str, frames: Iterable[int | None],
                 established: bool = False) -> LinkFinding: ...


@dataclass(frozen=True, slots=True)
class PathFinding:
    """PREQs of `originator` for `target` that no PREP answered (those
    after the last answer: the first few and the last)."""

    originator: str
    target: str
    preqs: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Diagnosis:
    links: tuple[LinkFinding, ...]
    paths: tuple[PathFinding, ...]
    frames: int
    # Frames the codec refused: they are left out of every finding.
    undecodable: int
    # Frames of transmitters past MAX_STATIONS: read, not tracked.
    untracked: int = 0



def _text(mesh_id: bytes) -> str:
    return repr(mesh_id.decode("utf-8", errors="backslashreplace"))


def _reason(code: int | None) -> str:
    if code is None:
        return "none given"
    try:
        return f"{code} {REASON_NAMES[ReasonCode(code)]}"
    except ValueError:
        return str(code)


def _quote(frames: Iterable[int | None]) -> tuple[int, ...]:
    return tuple(sorted({n for n in frames if n is not None}))[:QUOTED_FRAMES]


class Doctor:
    """Feed it a capture's MPDUs in order (`add`), then ask `diagnosis()`.
    State grows with the stations and links heard, not with the frames.
    Peering (sessions, ESTAB instants, closes) is read by `peering`, the
    analysis' one record of it; the doctor keeps what stations show of
    themselves, SAE, data and discoveries."""

    def __init__(self) -> None:
        self._stations: dict[bytes, _Station] = {}
        self._links: dict[tuple[bytes, bytes], _Direction] = {}
        self.peering = PeeringSessions()
        # PREQs of each (originator, target) discovery since its last PREP.
        self._preqs: dict[tuple[bytes, bytes], list[int]] = {}
        self._frames = 0
        self._undecodable = 0
        self._untracked = 0

    def _direction(self, src: bytes, dst: bytes) -> _Direction:
        key = (src, dst)
        direction = self._links.get(key)
        if direction is None:
            direction = _Direction()
            # Past the bound, frames on new links are read and forgotten.
            if len(self._links) < MAX_DIRECTIONS:
                self._links[key] = direction
        return direction

    def add(self, number: int, mpdu: bytes, t: float) -> None:
        """One captured MPDU (Frame Control to the end of the body, no FCS),
        `number` its frame number in the capture (from 1), `t` its time."""
        self._frames += 1
        try:
            frame = decode(mpdu)
        except DecodeError:
            self._undecodable += 1
            return
        header = getattr(frame, "header", None)
        if header is None:
            return
        src, dst = header.addr2, header.addr1
        station = self._stations.get(src)
        if station is None:
            if len(self._stations) >= MAX_STATIONS:
                self._untracked += 1
                return
            station = self._stations[src] = _Station(number, number)
        station.last = number
        group = bool(dst[0] & 1)
        if not group:
            self._direction(src, dst).last = number
        if isinstance(frame, Beacon) and header.ftype == TYPE_MGMT and header.subtype == SUBTYPE_BEACON:
            self._beacon(station, frame, number)
        elif isinstance(frame, SelfProtected) and not group:
            self.peering.add(number, t, frame)
        elif isinstance(frame, ManagementFrame) and header.subtype == SUBTYPE_AUTHENTICATION and not group:
            self._authentication(self._direction(src, dst), frame.body, number)
        elif isinstance(frame, VendorAction) and not group or (
                isinstance(frame, DataFrame) and not group and not header.subtype & DATA_SUBTYPE_NO_BODY):
            self._direction(src, dst).data.add(number)
        elif isinstance(frame, MeshAction):
            self._path_selection(frame, number)

    def _beacon(self, station: _Station, frame: Beacon, number: int) -> None:
        mesh_id, config = frame.mesh_id, frame.mesh_config
        if mesh_id is None:
            return
        # Each value is quoted from the first beacon that showed it.
        if station.mesh_id != mesh_id.mesh_id:
            station.mesh_id, station.mesh_id_frame = mesh_id.mesh_id, number
        if config is not None:
            if station.profile != config.profile():
                station.profile, station.profile_frame = config.profile(), number
            if station.accepting != config.accepting_peerings:
                station.accepting, station.accepting_frame = config.accepting_peerings, number

    @staticmethod
    def _authentication(direction: _Direction, body: bytes, number: int) -> None:
        if len(body) < 6:
            return
        algorithm, sequence, status = read_authentication_fields(body, 0)
        if algorithm != AUTH_ALGORITHM_SAE:
            return
        if sequence == SAE_COMMIT:
            direction.commits.add((number, status))
        elif sequence == SAE_CONFIRM:
            direction.sae_confirms.add((number, status))

    def _path_selection(self, frame: MeshAction, number: int) -> None:
        for element in frame.elements:
            if isinstance(element, Preq):
                for target in element.targets:
                    pending = self._preqs.setdefault((element.originator_addr, target.addr), [])
                    if len(pending) < QUOTED_FRAMES:
                        pending.append(number)
                    else:
                        pending[-1] = number
            elif isinstance(element, Prep):
                # A PREP answers the discovery of its target by its
                # originator; ns-3 fills the two the other way round.
                self._preqs.pop((element.originator_addr, element.target_addr), None)
                self._preqs.pop((element.target_addr, element.originator_addr), None)

    def diagnosis(self) -> Diagnosis:
        pairs = {tuple(sorted(key)) for key in self._links}
        mesh = [mac for mac, s in self._stations.items() if s.mesh_id is not None]
        pairs |= {(a, b) for a in mesh for b in mesh if a < b}
        links = [self._finding(a, b) for a, b in sorted(pairs) if not (a[0] & 1 or b[0] & 1)]
        paths = [PathFinding(originator.hex(":"), target.hex(":"), _quote(numbers))
                 for (originator, target), numbers in sorted(self._preqs.items()) if numbers]
        return Diagnosis(tuple(f for f in links if f is not None), tuple(paths), self._frames,
                         self._undecodable, self._untracked)

    def _finding(self, a: bytes, b: bytes) -> LinkFinding | None:
        # A station frames were sent to but that the capture never heard.
        sa, sb = (self._stations.get(mac) or _Station(None, None) for mac in (a, b))
        ab, ba = self._links.get((a, b), _Direction()), self._links.get((b, a), _Direction())
        name_a, name_b = a.hex(":"), b.hex(":")
        peering = _Peering.of(self.peering.sessions((name_a, name_b)))

        def found(cause: Cause, detail: str, frames: Iterable[int | None], established: bool = False) -> LinkFinding:
            return LinkFinding(name_a, name_b, cause, detail, _quote(frames), established)

        peering_frames = peering.opens or ab.commits or ba.commits
        if (sa.mesh_id is None or sb.mesh_id is None) and not peering_frames:
            # Not two mesh stations as far as the capture shows: nothing to judge.
            return None
        if sa.mesh_id is not None and sb.mesh_id is not None and sa.mesh_id != sb.mesh_id:
            return found(Cause.MESH_ID_MISMATCH,
                         f"{name_a} beacons Mesh ID {_text(sa.mesh_id)}, {name_b} beacons {_text(sb.mesh_id)}: "
                         "stations peer only within one MBSS (14.2.2)",
                         (sa.mesh_id_frame, sb.mesh_id_frame))
        if sa.profile is not None and sb.profile is not None and sa.profile != sb.profile:
            return found(Cause.PROFILE_MISMATCH,
                         f"mesh profiles differ: {name_a} {sa.profile}, {name_b} {sb.profile} (path selection, "
                         "metric, congestion control, synchronization, authentication; 14.2.3)",
                         (sa.profile_frame, sb.profile_frame))
        sae = self._sae(name_a, name_b, ab, ba, peering, found)
        if sae is not None:
            return sae
        established = [(n, s.established_frame, s) for n, s in enumerate(peering.sessions)
                       if s.established_frame is not None]
        if not established:
            return self._never_established(name_a, name_b, sa, sb, peering, found)
        # Judged on the last session that reached ESTAB; every session
        # before it on the link was closed.
        (first, first_at, _), (last, established_at, last_session) = established[0], established[-1]
        closed = last - first
        churn = (f" (again, after {closed} session{'s' if closed > 1 else ''} closed since frame {first_at})"
                 if closed else "")
        if last_session.closed_frame is not None:
            number = last_session.closed_frame
            after = [n for n in ab.data + ba.data if established_at < n < number]
            carried = (f"; {len(after)} data frames while established" if after
                       else "; no data while established")
            return found(Cause.PEER_LEFT, f"established at frame {established_at}{churn}, then "
                         f"{last_session.closed_by} closed the link (reason {_reason(last_session.reason)}){carried}",
                         (established_at, number), established=True)
        after = [n for n in ab.data + ba.data if n > established_at]
        silent = self._silent(name_a, name_b, sa, sb, ab, ba, peering)
        if silent is not None:
            detail, frames = silent
            return found(Cause.PEER_SILENT, f"established at frame {established_at}{churn}; {detail}",
                         (established_at, *frames), established=True)
        if not after:
            return found(Cause.ESTAB_NO_DATA, f"established at frame {established_at}{churn} (each side's Confirm "
                         "answered the other's link ID) but no unicast data or FastPay frame between them after "
                         "it: nothing to send, or no path uses the link", (established_at,), established=True)
        return found(Cause.OK, f"established at frame {established_at}{churn}; {len(after)} unicast data frames after it",
                     (established_at, *after), established=True)

    @staticmethod
    def _sae(name_a: str, name_b: str, ab: _Direction, ba: _Direction, peering: _Peering,
             found: _Found) -> LinkFinding | None:
        commits = ab.commits + ba.commits
        if not commits:
            return None
        refused = [n for n, status in commits if status == STATUS_UNSUPPORTED_FINITE_CYCLIC_GROUP]
        if refused and not (ab.sae_confirms or ba.sae_confirms):
            return found(Cause.SAE_GROUP_REFUSED, "SAE Commits refused with status 77 (finite cyclic group not "
                         "supported): the two sides share no SAE group (12.4.8.6.3)", refused)
        tokens = [n for n, status in commits if status == STATUS_ANTI_CLOGGING_TOKEN_REQUIRED]
        if len(tokens) >= ANTI_CLOGGING_LOOP and not (ab.sae_confirms or ba.sae_confirms):
            return found(Cause.SAE_ANTI_CLOGGING_LOOP, f"{len(tokens)} anti-clogging token demands (status 76) and "
                         "no SAE Confirm: the token never came back in a Commit (12.4.6)", tokens)
        confirms = ab.sae_confirms + ba.sae_confirms
        failed = [n for n, status in confirms if status != STATUS_SUCCESS]
        if confirms and not peering.opens:
            statuses = sorted({status for _, status in confirms})
            return found(Cause.SAE_CONFIRM_FAILED,
                         f"SAE Commits and Confirms exchanged ({len(commits)} and {len(confirms)}, Confirm statuses "
                         f"{statuses}) but no peering Open followed: a Confirm did not verify, which a wrong "
                         "password gives (12.4.8.6.4)", failed or [n for n, _ in confirms])
        ampe_a, ampe_b = peering.ampe_opens.get(name_a), peering.ampe_opens.get(name_b)
        if ampe_a and ampe_b and not peering.confirmed:
            return found(Cause.AMPE_UNANSWERED,
                         "after SAE, AMPE Opens went both ways and neither side confirmed: each side's MIC "
                         "check failed, which a different PMK (or AMPE key) gives (14.5.5)", ampe_a + ampe_b)
        return None

    def _never_established(self, name_a: str, name_b: str, sa: _Station, sb: _Station, peering: _Peering,
                           found: _Found) -> LinkFinding:
        for src, dst, s_dst in ((name_a, name_b, sb), (name_b, name_a, sa)):
            forward = peering.opens_from(src)
            if forward and not peering.opens_from(dst) and dst not in peering.confirmed:
                if s_dst.accepting is False:
                    return found(Cause.NOT_ACCEPTING, f"{dst}'s beacons clear Accepting Additional Mesh Peerings "
                                 f"(9.4.2.97.7) and it never answered {src}'s {forward.total} Opens",
                                 (s_dst.accepting_frame, *forward))
                gave_up = [n for n, reason, by in peering.closes if by == src and reason == ReasonCode.MESH_MAX_RETRIES]
                heard = f"{dst} is heard (last frame {s_dst.last})" if s_dst.last else f"{dst} is never heard"
                accepting = " and its beacons say it accepts peerings" if s_dst.accepting else ""
                return found(Cause.OPENS_IGNORED,
                             f"{src} sent {forward.total} Opens, {dst} never answered; {heard}{accepting}: "
                             f"{dst} holds {src} back (Linux's plink_action block, or a policy), or does not hear it"
                             + (f"; {src} gave up {len(gave_up)} times (reason 56 MESH-MAX-RETRIES)"
                                if gave_up else ""), [*forward, *gave_up])
        stray = self.peering.stray_closes((name_a, name_b))
        closes = sorted([*peering.closes, *([(stray.frame, stray.reason, stray.sender)] if stray else [])])
        if closes and peering.opens:
            number, reason, src = closes[0]
            return found(Cause.PEERING_CLOSED, f"{src} closed the peering before it was established "
                         f"(reason {_reason(reason)})", (number,))
        if peering.opens:
            return self._not_confirmed(name_a, name_b, peering.sessions[-1], found)
        accepting = " and accept peerings" if sa.accepting and sb.accepting else ""
        later = f"; {closes[0][2]} later sent a Close (reason {_reason(closes[0][1])})" if closes else ""
        return found(Cause.NEITHER_OPENED,
                     f"both beacon the same Mesh ID and profile{accepting}, but neither sent an Open to the "
                     f"other: each holds the other back (blocked both ways, auto-open off) or they do not hear "
                     f"each other{later}", (sa.mesh_id_frame, sb.mesh_id_frame))

    @staticmethod
    def _not_confirmed(name_a: str, name_b: str, session: PeeringSession, found: _Found) -> LinkFinding:
        """Both sides took part, no Close, no ESTAB: the Confirms did not
        cross, or one answered a link ID its peer no longer uses."""
        said = []
        for src, dst in ((name_a, name_b), (name_b, name_a)):
            answered, uses = session.answered.get(src), session.link_ids.get(dst)
            if answered is None:
                said.append(f"{src} sent no Confirm")
            elif uses is not None and answered[0] != uses:
                said.append(f"{src}'s Confirm answered link ID {answered[0]}, {dst} uses {uses}")
        return found(Cause.NOT_CONFIRMED,
                     "peering frames went both ways and nothing closed, but no Confirm of one side answered the "
                     f"other's link ID as the other's Confirm answered its own (14.3.6.2): "
                     f"{'; '.join(said) or 'their link IDs changed after the last Confirm'}",
                     (session.first_frame, *(frame for _, frame in session.answered.values())))

    @staticmethod
    def _silent(name_a: str, name_b: str, sa: _Station, sb: _Station, ab: _Direction, ba: _Direction,
                peering: _Peering) -> tuple[str, tuple[int | None, ...]] | None:
        """A station whose own frames stop while the other keeps sending to it."""
        for quiet, other, s_quiet, to_quiet in ((name_b, name_a, sb, ab), (name_a, name_b, sa, ba)):
            later = [n for n in [*to_quiet.data, *peering.opens_from(other)] if n > (s_quiet.last or 0)]
            if later:
                return (f"{quiet} fell silent after frame {s_quiet.last} while {other} kept sending to it "
                        f"({len(later)} frames): it left without a Close", (s_quiet.last, *later))
        return None

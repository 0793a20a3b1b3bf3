"""Mesh Peering Management (802.11-2020 14.3), as mac80211's mesh_plink.c
splits it: `classify` turns a received peering frame plus what we know of
the sender into an FSM event (mesh_plink_get_event), and the transition
table says, per state and event, the next state and what to do. The FSM
sends at most the frames the table names and arms one timer per peer.

Where Linux departs from the standard we follow Linux (we meet it on
hwsim) and say so at the place.

In a secure mesh (`rsn` given) every peering frame is authenticated before
it is classified: its AMPE MIC must verify (`MeshRsn.open_peering`) and its
nonces must belong to the current peering (`check_nonces`). A frame that
fails is refused with the seal layer's reason and moves no state: unlike
hostap, which answers an Open whose MIC fails with OPN_RJCT, we let no
unauthenticated frame take a link to HOLDING, so a forged Open cannot tear
down an established link. Entering ESTAB installs the link's keys, leaving
it removes them.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from meshframes.codec import Beacon, MacHeader, SelfProtected
from meshframes.codec.elements import EID_RSN, EID_SUPPORTED_RATES
from meshframes.codec.header import is_group
from meshframes.codec.ie import find_raw
from meshframes.codec.peering import (
    PROTOCOL_AMPE,
    PROTOCOL_MPM,
    SP_MESH_PEERING_CLOSE,
    SP_MESH_PEERING_CONFIRM,
    SP_MESH_PEERING_OPEN,
    MeshPeeringManagement,
)
from meshframes.codec.reason import ReasonCode
from meshframes.mesh.constants import MeshConfig
from meshframes.mesh.events import Action, CancelTimer, MeshRefusal, PeerChanged, Refused, RxFrame, SetTimer, Transmit
from meshframes.mesh.mbss import Mbss, action_header
from meshframes.mesh.peers import Peer, PeerTable, PlinkState
from meshframes.mesh.rsn import MeshRsn
from meshframes.seal.ampe import AmpeElement, check_nonces
from meshframes.seal.errors import AmpeError


class PlinkEvent(enum.Enum):
    """14.3.8.2 events, plus Linux's IGNR refinements."""

    CNCL = "CNCL"
    ACTOPN = "ACTOPN"
    OPN_ACPT = "OPN_ACPT"
    OPN_RJCT = "OPN_RJCT"
    OPN_IGNR = "OPN_IGNR"
    CNF_ACPT = "CNF_ACPT"
    CNF_RJCT = "CNF_RJCT"
    CNF_IGNR = "CNF_IGNR"
    CLS_ACPT = "CLS_ACPT"
    CLS_IGNR = "CLS_IGNR"
    TOR1 = "TOR1"
    TOR2 = "TOR2"
    TOC = "TOC"
    TOH = "TOH"


class Do(enum.Enum):
    """14.3.8.3 actions."""

    NEW_LLID = "new local link id"
    SND_OPN = "sndOPN"
    SND_CNF = "sndCNF"
    SND_CLS = "sndCLS"
    SET_R = "setR"
    SET_C = "setC"
    SET_H = "setH"
    CLR_T = "clear timer"
    RESTART = "forget link ids"


S, E = PlinkState, PlinkEvent
_CLOSE = (S.HOLDING, (Do.SND_CLS, Do.SET_H))
_REJECTED = {E.OPN_RJCT: _CLOSE, E.CNF_RJCT: _CLOSE, E.CLS_ACPT: _CLOSE, E.CNCL: _CLOSE}

# TRANSITIONS[state][event] = (next state, actions). A missing entry means
# the event is ignored in that state (logged and counted, never an error).
TRANSITIONS: dict[PlinkState, dict[PlinkEvent, tuple[PlinkState, tuple[Do, ...]]]] = {
    S.IDLE: {
        E.ACTOPN: (S.OPN_SNT, (Do.NEW_LLID, Do.SET_R, Do.SND_OPN)),
        # Linux answers an Open from IDLE with its own Open and a Confirm.
        E.OPN_ACPT: (S.OPN_RCVD, (Do.NEW_LLID, Do.SET_R, Do.SND_OPN, Do.SND_CNF)),
        E.CLS_ACPT: (S.IDLE, (Do.RESTART,)),
    },
    S.OPN_SNT: {
        **_REJECTED,
        # The retry timer keeps running (Linux: "retry timer is left untouched").
        E.OPN_ACPT: (S.OPN_RCVD, (Do.SND_CNF,)),
        E.CNF_ACPT: (S.CNF_RCVD, (Do.SET_C,)),
        E.TOR1: (S.OPN_SNT, (Do.SET_R, Do.SND_OPN)),
        E.TOR2: _CLOSE,
    },
    S.OPN_RCVD: {
        **_REJECTED,
        E.OPN_ACPT: (S.OPN_RCVD, (Do.SND_CNF,)),
        E.CNF_ACPT: (S.ESTAB, (Do.CLR_T,)),
        E.TOR1: (S.OPN_RCVD, (Do.SET_R, Do.SND_OPN)),
        E.TOR2: _CLOSE,
    },
    S.CNF_RCVD: {
        **_REJECTED,
        E.OPN_ACPT: (S.ESTAB, (Do.CLR_T, Do.SND_CNF)),
        E.TOC: _CLOSE,
    },
    S.ESTAB: {
        E.OPN_ACPT: (S.ESTAB, (Do.SND_CNF,)),
        E.CLS_ACPT: _CLOSE,
        E.CNCL: _CLOSE,
    },
    S.HOLDING: {
        E.CLS_ACPT: (S.IDLE, (Do.CLR_T, Do.RESTART)),
        E.TOH: (S.IDLE, (Do.RESTART,)),
        E.OPN_ACPT: (S.HOLDING, (Do.SND_CLS,)),
        E.CNF_ACPT: (S.HOLDING, (Do.SND_CLS,)),
        E.OPN_RJCT: (S.HOLDING, (Do.SND_CLS,)),
        E.CNF_RJCT: (S.HOLDING, (Do.SND_CLS,)),
    },
}

# Reason carried by the Close sent when an event moves a link to HOLDING.
CLOSE_REASONS = {
    E.CLS_ACPT: ReasonCode.MESH_CLOSE_RCVD,
    E.OPN_RJCT: ReasonCode.MESH_CONFIGURATION_POLICY_VIOLATION,
    E.CNF_RJCT: ReasonCode.MESH_CONFIGURATION_POLICY_VIOLATION,
    E.TOR2: ReasonCode.MESH_MAX_RETRIES,
    E.TOC: ReasonCode.MESH_CONFIRM_TIMEOUT,
    E.CNCL: ReasonCode.MESH_PEERING_CANCELLED,
}


@dataclass(frozen=True, slots=True)
class Classified:
    """What a received peering frame means: an event for a known or new
    peer, or a refusal with its reason. `plid` is the sender's local link
    id (our peer link id), `llid` the id it says is ours."""

    event: PlinkEvent | None
    plid: int = 0
    llid: int = 0
    refusal: MeshRefusal | None = None


def check_frame(frame: SelfProtected, mbss: Mbss) -> MeshRefusal | None:
    """Frame-level checks before any peer state is consulted
    (mesh_process_plink_frame, and hostap's MPM parser for rates).
    Returns a refusal reason, or None for a frame worth classifying."""
    peering = frame.peering
    if is_group(frame.header.addr1):
        return MeshRefusal.PEERING_FRAME_GROUP_ADDRESSED
    if peering is None:
        return MeshRefusal.MISSING_PEERING_ELEMENT
    if mbss.secure:
        if peering.protocol_id != PROTOCOL_AMPE:
            # MPM (or ns-3's draft layout) without AMPE: an open-mesh peer.
            return MeshRefusal.OPEN_PEER_IN_SECURE_MESH
    elif find_raw(frame.elements, EID_RSN) is not None:
        return MeshRefusal.SECURE_PEER_IN_OPEN_MESH
    if peering.is_ns3_draft:
        if peering.ns3_subtype != frame.action:
            return MeshRefusal.PEERING_SUBTYPE_MISMATCH
    elif not mbss.secure and peering.protocol_id != PROTOCOL_MPM:
        return MeshRefusal.PEERING_PROTOCOL_UNSUPPORTED
    if mbss.secure and frame.action != SP_MESH_PEERING_CLOSE and not mbss.security_matches(frame.elements):
        return MeshRefusal.RSN_MISMATCH
    if frame.action != SP_MESH_PEERING_CLOSE:
        if frame.mesh_id is None or frame.mesh_config is None:
            return MeshRefusal.MISSING_MESH_ID_OR_CONFIGURATION
        rates = find_raw(frame.elements, EID_SUPPORTED_RATES)
        if rates is None:
            return MeshRefusal.MISSING_SUPPORTED_RATES
        if not 1 <= len(rates.data) <= 8:
            return MeshRefusal.SUPPORTED_RATES_LENGTH
    return None


def classify(frame: SelfProtected, peer: Peer | None, mbss: Mbss, free_links: int) -> Classified:
    """mesh_plink_get_event: the FSM event for a frame that passed check_frame."""
    peering = frame.peering
    assert peering is not None
    ftype = frame.action
    plid = peering.local_link_id
    llid = peering.peer_link_id or 0
    matches = ftype == SP_MESH_PEERING_CLOSE or mbss.matches_local(frame.mesh_id, frame.mesh_config)
    if peer is None:
        # Linux (mesh_plink_get_event, 6.1 to 6.18) rejects any frame from
        # a station it does not know whose profile differs, Confirm
        # included, and mesh_process_plink_frame answers that OPN_RJCT with
        # a Close (WLAN_REASON_MESH_CONFIG); only a matching Confirm or
        # Close from an unknown station is ignored.
        if not matches:
            return Classified(E.OPN_RJCT, plid, llid)
        if ftype != SP_MESH_PEERING_OPEN:
            return Classified(None, plid, llid, MeshRefusal.CONFIRM_OR_CLOSE_FROM_UNKNOWN_PEER)
        if free_links <= 0:
            return Classified(None, plid, llid, MeshRefusal.NO_FREE_PEER_LINKS)
        return Classified(E.OPN_ACPT, plid, llid)
    if ftype == SP_MESH_PEERING_OPEN:
        if not matches:
            return Classified(E.OPN_RJCT, plid, llid)
        if free_links <= 0 or (peer.plid and peer.plid != plid):
            return Classified(E.OPN_IGNR, plid, llid)
        return Classified(E.OPN_ACPT, plid, llid)
    if ftype == SP_MESH_PEERING_CONFIRM:
        if not matches:
            return Classified(E.CNF_RJCT, plid, llid)
        if free_links <= 0 or peer.llid != llid or (peer.plid and peer.plid != plid):
            return Classified(E.CNF_IGNR, plid, llid)
        return Classified(E.CNF_ACPT, plid, llid)
    # A Close from an established peer is accepted without checking the
    # link ids, as Linux does, to avoid a livelock when the other side
    # restarted or timed out while we still think the link is up.
    if peer.state is S.ESTAB:
        return Classified(E.CLS_ACPT, plid, llid)
    if peer.plid != plid or (peering.peer_link_id is not None and peer.llid != llid):
        return Classified(E.CLS_IGNR, plid, llid)
    return Classified(E.CLS_ACPT, plid, llid)


class Peering:
    """The MPM engine of one mesh STA: one FSM per neighbour."""

    def __init__(self, mbss: Mbss, config: MeshConfig, peers: PeerTable, rng: random.Random,
                 rsn: MeshRsn | None = None) -> None:
        self.mbss = mbss
        self.config = config
        self.peers = peers
        self.rng = rng
        self.rsn = rsn

    @property
    def free_links(self) -> int:
        return self.config.dot11MeshMaxPeerLinks - self.peers.established_count

    def on_beacon(self, beacon: Beacon, rx: RxFrame, now: float) -> list[Action]:
        """mesh_neighbour_update: a matching mesh beacon makes a candidate;
        if both sides accept peerings we open (ACTOPN)."""
        conf = beacon.mesh_config
        if not self.mbss.matches_local(beacon.mesh_id, conf):
            return [Refused(MeshRefusal.BEACON_PROFILE_MISMATCH)]
        assert conf is not None
        addr = beacon.header.addr2
        if not self.mbss.security_matches(beacon.elements):
            return [Refused(MeshRefusal.BEACON_SECURITY_MISMATCH, addr.hex(":"))]
        peer, actions = self._entry(addr, now)
        if peer is None:
            return actions
        peer.mesh_config = conf
        peer.beacon_interval = beacon.beacon_interval * 1024e-6
        if self.rsn is not None and not self.rsn.has_pmk(addr):
            # An SAE mesh authenticates the pair first; `authenticated`
            # opens the peering when SAE completes.
            return actions + self.rsn.start_sae(addr, now)
        return actions + self._open_if_willing(peer, now)

    def _open_if_willing(self, peer: Peer, now: float) -> list[Action]:
        conf = peer.mesh_config
        if (self.config.auto_open_plinks and peer.state is S.IDLE and conf is not None
                and conf.accepting_peerings and self.free_links > 0):
            if now < peer.reopen_after:
                return [Refused(MeshRefusal.PEERING_BACKING_OFF, f"{peer.addr.hex(':')} until"
                                                                 f" {peer.reopen_after:.3f}")]
            return self._step(peer, E.ACTOPN, now)
        return []

    def authenticated(self, addr: bytes, now: float) -> list[Action]:
        """SAE with `addr` completed: open the peering if its beacon said it
        accepts one (a station that opens to us first is answered as usual)."""
        peer = self.peers.get(addr)
        return [] if peer is None else self._open_if_willing(peer, now)

    def _entry(self, addr: bytes, now: float) -> tuple[Peer | None, list[Action]]:
        """The peer table entry for `addr`, made (room made by evicting an
        IDLE entry if need be) if it is new."""
        peer = self.peers.get(addr)
        if peer is not None:
            return peer, []
        actions: list[Action] = []
        if self.peers.full:
            evicted = self.peers.evict_idle()
            if evicted is None:
                return None, [Refused(MeshRefusal.PEER_TABLE_FULL, addr.hex(":"))]
            actions.append(Refused(MeshRefusal.PEER_EVICTED_IDLE, f"{evicted.hex(':')} for {addr.hex(':')}"))
        peer = self.peers.add(addr)
        assert peer is not None
        peer.last_seen = now
        return peer, actions

    def on_frame(self, frame: SelfProtected, now: float) -> list[Action]:
        if frame.action not in (SP_MESH_PEERING_OPEN, SP_MESH_PEERING_CONFIRM, SP_MESH_PEERING_CLOSE):
            return [Refused(MeshRefusal.SELF_PROTECTED_ACTION_UNSUPPORTED, str(frame.action))]
        refusal = check_frame(frame, self.mbss)
        if refusal is not None:
            return [Refused(refusal, self._describe(frame))]
        sender = frame.header.addr2
        peer = self.peers.get(sender)
        ampe = None
        if self.rsn is not None:
            try:
                ampe = self._authenticate(frame, peer)
            except AmpeError as error:
                return [Refused(error.reason, f"{self._describe(frame)}: {error}")]
        got = classify(frame, peer, self.mbss, self.free_links)
        if got.event is None:
            assert got.refusal is not None
            return [Refused(got.refusal, self._describe(frame))]
        if peer is None and got.event is E.OPN_RJCT:
            # Not one of ours: say why in a Close without keeping any state.
            local_nonce = self.rsn.new_nonce() if self.rsn is not None else b""
            return [Refused(MeshRefusal.PEERING_PROFILE_MISMATCH, self._describe(frame)),
                    Transmit(self._close_frame(sender, 0, got.plid,
                                               ReasonCode.MESH_CONFIGURATION_POLICY_VIOLATION,
                                               local_nonce, ampe.local_nonce if ampe else b""))]
        made: list[Action] = []
        if peer is None:
            peer, made = self._entry(sender, now)
            if peer is None:
                return made
        if got.event is E.OPN_ACPT:
            peer.plid = got.plid
            if ampe is not None and peer.state is not S.ESTAB:
                # An established link keeps the MGTK it installed: keys are
                # agreed once per peering (a new MGTK needs a new peering).
                peer.peer_nonce = ampe.local_nonce
                peer.peer_gtk = ampe.gtk
                peer.peer_igtk = ampe.igtk
        elif got.event is E.CNF_ACPT:
            # 802.11-2020 14.3.6.2: learn the peer link id from a Confirm if unset.
            peer.plid = peer.plid or got.plid
            peer.peer_aid = frame.aid or 0
            if ampe is not None:
                peer.peer_nonce = peer.peer_nonce or ampe.local_nonce
        return made + self._step(peer, got.event, now)

    def _authenticate(self, frame: SelfProtected, peer: Peer | None) -> AmpeElement:
        """The AMPE element of a secure peering frame whose MIC verifies and
        whose nonces belong to this peering; raises AmpeError otherwise.
        A Close for a peering we no longer hold (we are back in IDLE) has no
        nonce of ours to match and changes nothing: it is authenticated
        and left to the FSM, which ignores it."""
        assert self.rsn is not None
        ampe = self.rsn.open_peering(frame)
        our_nonce = peer.local_nonce if peer is not None else b""
        if frame.action == SP_MESH_PEERING_CLOSE and not our_nonce:
            return ampe
        check_nonces(ampe, our_nonce=our_nonce, known_peer_nonce=peer.peer_nonce if peer is not None else b"",
                     peer_knows_ours=frame.action == SP_MESH_PEERING_CONFIRM
                     or (peer is not None and peer.state is S.ESTAB))
        return ampe

    def on_timer(self, addr: bytes, now: float) -> list[Action]:
        peer = self.peers.get(addr)
        if peer is None:
            return []
        if peer.state in (S.OPN_SNT, S.OPN_RCVD):
            event = E.TOR1 if peer.retries < self.config.dot11MeshMaxRetries else E.TOR2
        elif peer.state is S.CNF_RCVD:
            event = E.TOC
        elif peer.state is S.HOLDING:
            event = E.TOH
        else:
            return []
        return self._step(peer, event, now)

    def cancel(self, addr: bytes, now: float,
               reason: ReasonCode = ReasonCode.MESH_PEERING_CANCELLED) -> list[Action]:
        """Local close (CNCL): leaving, or the peer was lost."""
        peer = self.peers.get(addr)
        if peer is None or peer.state in (S.IDLE, S.HOLDING):
            return []
        return self._step(peer, E.CNCL, now, reason)

    def _step(self, peer: Peer, event: PlinkEvent, now: float,
              reason: ReasonCode | None = None) -> list[Action]:
        old = peer.state
        transition = TRANSITIONS[old].get(event)
        if transition is None:
            return [Refused(MeshRefusal.PLINK_EVENT_IGNORED, f"peer {peer.addr.hex(':')} in state {old.value} "
                                                   f"got event {event.value}")]
        new, todo = transition
        if new is S.HOLDING and old is not S.HOLDING:
            peer.reason = reason or CLOSE_REASONS[event]
        if event is E.TOR2:
            self._back_off(peer, now)
        elif new is S.ESTAB:
            peer.failed_attempts = 0
            peer.reopen_after = float("-inf")
        if self.rsn is not None and (old is S.ESTAB) != (new is S.ESTAB):
            # Keys live exactly as long as the link is established.
            if new is S.ESTAB:
                self.rsn.install(peer)
            else:
                self.rsn.remove(peer.addr)
        actions: list[Action] = []
        for do in todo:
            actions.extend(self._do(peer, do, event, now))
        self.peers.set_state(peer, new)
        actions.append(PeerChanged(peer.addr, old.value, event.value, new.value))
        return actions

    def _back_off(self, peer: Peer, now: float) -> None:
        """Every Open of an attempt went unanswered: the peer does not hear
        us (radio ranges differ, so we may hear its beacons all the same).
        Linux starts the next attempt at the first beacon after the
        holding timer, four Opens per beacon interval for as long as the
        one-way link lasts; we hold off plink_backoff_min, doubling per
        failed attempt up to plink_backoff_max. A peering that reaches
        ESTAB clears the count; the peer's own Opens are answered
        whatever the hold (only our ACTOPN waits)."""
        cfg = self.config
        peer.failed_attempts += 1
        hold = min(cfg.plink_backoff_min * 2 ** (peer.failed_attempts - 1), cfg.plink_backoff_max)
        peer.reopen_after = now + cfg.dot11MeshHoldingTimeout + hold

    def _do(self, peer: Peer, do: Do, event: PlinkEvent, now: float) -> list[Action]:
        key = ("plink", peer.addr)
        cfg = self.config
        if do is Do.NEW_LLID:
            peer.llid = self._new_llid()
            if self.rsn is not None:
                peer.local_nonce = self.rsn.new_nonce()
            if not peer.aid:
                peer.aid = self.peers.free_aid()
        elif do is Do.SND_OPN:
            return [Transmit(self._open_frame(peer))]
        elif do is Do.SND_CNF:
            return [Transmit(self._confirm_frame(peer))]
        elif do is Do.SND_CLS:
            return [Transmit(self._close_frame(peer.addr, peer.llid, peer.plid, peer.reason,
                                               peer.local_nonce, peer.peer_nonce))]
        elif do is Do.SET_R:
            if event is E.TOR1:
                # mesh_plink_timer: timeout + rand % timeout, one more retry.
                peer.retries += 1
                peer.retry_timeout += self.rng.randrange(max(1, round(peer.retry_timeout * 1000))) / 1000
            else:
                peer.retries = 0
                peer.retry_timeout = cfg.dot11MeshRetryTimeout
            return [SetTimer(key, now + peer.retry_timeout)]
        elif do is Do.SET_C:
            return [SetTimer(key, now + cfg.dot11MeshConfirmTimeout)]
        elif do is Do.SET_H:
            return [SetTimer(key, now + cfg.dot11MeshHoldingTimeout)]
        elif do is Do.CLR_T:
            return [CancelTimer(key)]
        elif do is Do.RESTART:
            peer.llid = peer.plid = peer.reason = peer.retries = 0
            peer.local_nonce = peer.peer_nonce = b""
            peer.peer_gtk = None
            peer.peer_igtk = None
        return []

    def _new_llid(self) -> int:
        while True:
            llid = self.rng.randrange(1, 0x10000)
            if not self.peers.llid_in_use(llid):
                return llid

    def _header(self, da: bytes) -> MacHeader:
        return action_header(da, self.mbss.mac)

    def _element(self, da: bytes, llid: int, plid: int | None = None,
                 reason: int | None = None) -> MeshPeeringManagement:
        if self.rsn is not None:
            return self.rsn.peering_element(da, llid, plid, reason)
        return MeshPeeringManagement(llid, plid, reason)

    def _sealed(self, frame: SelfProtected, local_nonce: bytes, peer_nonce: bytes) -> SelfProtected:
        if self.rsn is None:
            return frame
        return self.rsn.seal_peering(frame, local_nonce, peer_nonce)

    def _open_frame(self, peer: Peer) -> SelfProtected:
        mbss = self.mbss
        conf = mbss.mesh_configuration(self.peers.established_count)
        frame = SelfProtected(self._header(peer.addr), SP_MESH_PEERING_OPEN, mbss.capability, None,
                              (mbss.rates, mbss.extended_rates, *mbss.security_elements, mbss.mesh_id, conf,
                               self._element(peer.addr, peer.llid)))
        return self._sealed(frame, peer.local_nonce, peer.peer_nonce)

    def _confirm_frame(self, peer: Peer) -> SelfProtected:
        mbss = self.mbss
        conf = mbss.mesh_configuration(self.peers.established_count)
        frame = SelfProtected(self._header(peer.addr), SP_MESH_PEERING_CONFIRM, mbss.capability, peer.aid,
                              (mbss.rates, mbss.extended_rates, *mbss.security_elements, mbss.mesh_id, conf,
                               self._element(peer.addr, peer.llid, peer.plid)))
        return self._sealed(frame, peer.local_nonce, peer.peer_nonce)

    def _close_frame(self, da: bytes, llid: int, plid: int, reason: int, local_nonce: bytes,
                     peer_nonce: bytes) -> SelfProtected:
        # Linux includes the peer link id only when it knows one.
        frame = SelfProtected(self._header(da), SP_MESH_PEERING_CLOSE, None, None,
                              (self.mbss.mesh_id, self._element(da, llid, plid or None, reason)))
        return self._sealed(frame, local_nonce, peer_nonce)

    @staticmethod
    def _describe(frame: SelfProtected) -> str:
        return f"action {frame.action} from {frame.header.addr2.hex(':')}"

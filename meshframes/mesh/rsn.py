"""Mesh RSN: what makes a mesh STA's links secure, sans-IO (the part of
hostap's mesh_rsn.c and mac80211's key handling a userspace node needs).

A mesh is secure when its MeshConfig has a passphrase. It then runs AMPE
(802.11-2020 14.5) with authentication protocol "none" and the PSK AKM:

- PMK = PBKDF2-SHA1(passphrase, mesh ID, 4096) (`derive_pmk`). No SAE or
  IEEE 802.1X exchange precedes peering, so the Mesh Configuration's
  Authentication Protocol Identifier stays 0 ("no authentication method is
  required", Table 9-227); a station proves it holds the PMK inside AMPE,
  by the MIC of each peering frame. The RSNE of beacons and Open/Confirm
  frames says AKM 00-0F-AC:2 and CCMP-128, and Capability Information has
  Privacy set (`Mbss`).
- Peering frames stay in the clear, as the standard requires, but in each
  one the Mesh Peering Management element names protocol 1 (AMPE) and the
  link's Chosen PMK (`derive_pmkid`), and a MIC element (140) and the
  AMPE element (139) encrypted under the link's AEK follow the other
  elements (`seal_ampe`). The AMPE element carries CCMP-128 as the selected
  pairwise cipher, both peering nonces and, in an Open, the sender's MGTK
  with its Key RSC and, because our RSNE sets MFPC and MFPR, its IGTK
  (BIP-CMAC-128) with its key id and IPN, as wpa_supplicant's mesh sends
  them. The peer's IGTK is kept with its MGTK.
- When the peering FSM reaches ESTAB, the link's MTK (`derive_mtk` over both
  nonces, both link ids and both MACs) becomes the pairwise key and the
  peer's MGTK its group key; leaving ESTAB removes both. Every peering
  draws new nonces, so every peering has a new MTK whose PNs start at 1.
- `protect` and `unprotect` are the node host's hooks: every frame that must
  be protected (data, our FastPay frames moved from category 127 to 126,
  HWMP) is CCMP-sealed on the way out, with the next hop's MTK or, when
  group addressed, our MGTK, and opened on the way in; a cleartext frame
  that should have been protected is refused.

With `MeshConfig.sae` the PMK is not the passphrase's: each pair first
runs SAE (12.4, `meshframes.seal.sae`) in Authentication frames, with the
passphrase as its password, and AMPE is keyed by the PMK that pair's SAE
yielded, as wpa_supplicant's mesh does (14.5.7 with AKM 00-0F-AC:8): the
Chosen PMK is SAE's PMKID, the AEK and MTK take the SAE AKM, and the Mesh
Configuration names Authentication Protocol 1. A neighbour's beacon starts
SAE; peering opens once it has completed (`Authenticated`). A peering
frame from a station without a completed SAE is refused like one whose
PMK is wrong.

SAE attempts are paced as wpa_supplicant's mesh paces them (mesh_rsn.c,
mesh_mpm.c). Only the first beacon of a station we have no PMK with
starts an attempt; later beacons never restart it, whether it is under
way or has failed (`SAE_BACKING_OFF`). An attempt not accepted within
`MESH_AUTH_TIMEOUT` plus a random part of as much again counts as
`SAE_ATTEMPT_FAILED` and is retried, at most `MESH_AUTH_RETRY` times; then
the peer is blocked (`SAE_PEER_BLOCKED`) and its beacons are ignored
(`SAE_BLOCKED`) for `MESH_AUTH_BLOCK_DURATION`, after which the next beacon
starts afresh. Like wpa_supplicant, a blocked peer's own Commit is still
answered (the standard lets either side start SAE at any time), and SAE
completing lifts the block. Two departures, both measured with `meshframes
bench latency` (docs/sealing.md): a retry waits for the neighbour's next
beacon after its timer, and a Commit is answered even just after our
instance with that peer gave up, where hostapd discards Commits for 10 s.
The table of attempts holds at most the SAE engine's instance bound,
oldest dropped.

Every refusal is a `Refused` with the seal layer's reason, so the node
counts it by that reason.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

from meshframes.codec import ManagementFrame, SelfProtected, encode
from meshframes.codec.elements import EID_MIC, ELEMENT_HEADER_LEN, Mic
from meshframes.codec.header import SUBTYPE_AUTHENTICATION, TYPE_MGMT, frame_control
from meshframes.codec.mpdu import addressed_elsewhere
from meshframes.codec.peering import PROTOCOL_AMPE, SP_MESH_PEERING_OPEN, MeshPeeringManagement
from meshframes.mesh.constants import MeshConfig
from meshframes.mesh.events import Action, Authenticated, MeshRefusal, Refused, SetTimer, Transmit
from meshframes.mesh.mbss import mgmt_header
from meshframes.mesh.peers import Peer
from meshframes.seal.ampe import (
    SIV_LEN,
    ZERO_NONCE,
    AmpeElement,
    GtkData,
    IgtkData,
    open_ampe,
    seal_ampe,
)
from meshframes.seal.errors import AmpeMalformed, AmpePmkMismatch, HopError, SealReason
from meshframes.seal.hop import GroupOpenings, HopSealer
from meshframes.seal.keyfile import BIP_KEY_IDS, IGTK_LEN, CaptureKeys, IntegrityKey
from meshframes.seal.keys import (
    AKM_PSK,
    AKM_SAE,
    NONCE_LEN,
    GroupKey,
    derive_aek,
    derive_mtk,
    derive_pmk,
    derive_pmkid,
)
from meshframes.seal.radio import open_from_air, protect_for_air
from meshframes.seal.sae import (
    SaeAuthenticated,
    SaeConfig,
    SaeExpired,
    SaeFailed,
    SaeOutput,
    SaeParent,
    SaeSetTimer,
    SaeState,
    SaeTransmit,
    SharedPwes,
)

_TX_REFUSAL = {
    SealReason.TOO_SHORT: MeshRefusal.TX_TOO_SHORT,
    SealReason.NOT_PROTECTABLE: MeshRefusal.TX_NOT_PROTECTABLE,
    SealReason.UNKNOWN_KEY: MeshRefusal.TX_UNKNOWN_KEY,
    SealReason.UNKNOWN_KEY_ID: MeshRefusal.TX_UNKNOWN_KEY_ID,
    SealReason.PN_EXHAUSTED: MeshRefusal.TX_PN_EXHAUSTED,
}
# The AMPE element does not carry the MGTK's key id; hostap always uses 1,
# and so do we (an MGTK lives as long as its node, it is never rotated).
MGTK_KEY_ID = 1
RandomBytes = Callable[[int], bytes]
TIMER_SAE = "sae"
TIMER_MESH_AUTH = "mesh-auth"
# wpa_supplicant's mesh (wpa_supplicant/mesh_rsn.c, mesh_mpm.c): an attempt
# is retried MESH_AUTH_TIMEOUT + rand() % MESH_AUTH_TIMEOUT seconds after it
# started unless it was accepted, MESH_AUTH_RETRY times; then the station is
# PLINK_BLOCKED until its entry is freed, mesh_max_inactivity later
# (DEFAULT_MESH_MAX_INACTIVITY, wpa_supplicant/config.h).
MESH_AUTH_TIMEOUT = 10.0
MESH_AUTH_RETRY = 3
MESH_AUTH_BLOCK_DURATION = 300.0
FC_AUTHENTICATION = frame_control(TYPE_MGMT, SUBTYPE_AUTHENTICATION)


@dataclass(slots=True)
class _SaeAttempt:
    """SAE with one neighbour that has given us no PMK yet: how often it
    was retried, when its retry timer fires, whether a retry waits for the
    neighbour's next beacon, and until when it is blocked."""

    retries: int = 0
    deadline: float = 0.0
    retry_due: bool = False
    blocked_until: float | None = None


class MeshRsn:
    """Keys and AMPE of one secure mesh STA; `hop` seals its frames."""

    def __init__(self, mac: bytes, config: MeshConfig, random_bytes: RandomBytes = os.urandom,
                 group_openings: GroupOpenings | None = None, shared_pwes: SharedPwes | None = None) -> None:
        """`random_bytes` draws nonces and the MGTK. It is `os.urandom`
        except in the simulator, which seeds it so that a run replays bit
        for bit."""
        if config.passphrase is None:
            raise ValueError("an open mesh (no passphrase) has no RSN")
        self.mac = mac
        self.akm = AKM_SAE if config.sae else AKM_PSK
        # A PSK mesh has one PMK for every link; an SAE mesh one per peer,
        # with its PMKID, once that pair's SAE has completed.
        self.pmk = None if config.sae else derive_pmk(config.passphrase, config.mesh_id)
        self.sae = SaeParent(mac, SaeConfig(config.passphrase.encode(), ssid=config.mesh_id,
                                            groups=config.sae_groups), random_bytes, shared_pwes) if config.sae else None
        self.sae_pmks: dict[bytes, tuple[bytes, bytes]] = {}
        self.sae_attempts: OrderedDict[bytes, _SaeAttempt] = OrderedDict()
        # SAE's Authentication frames handed to the node to send (Commit,
        # Confirm, refusals) and its runs that ended with a PMK.
        self.sae_frames_sent = 0
        self.sae_completed = 0
        self.random_bytes = random_bytes
        self.hop = HopSealer(mac, group_openings=group_openings)
        self.mgtk = GroupKey(random_bytes(16), MGTK_KEY_ID)
        self.hop.keys.install_group_tx(self.mgtk)
        # We protect no group-addressed management frame with BIP (mesh
        # action frames go under the MGTK, 12.5.4 leaves them to CCMP),
        # so our IPN stays 0. Key id 4, as hostap's mesh.
        self.igtk = IgtkData(BIP_KEY_IDS[0], 0, random_bytes(IGTK_LEN))
        self.peer_igtks: dict[bytes, IgtkData] = {}

    # -- peering (AMPE) ----------------------------------------------------

    def new_nonce(self) -> bytes:
        """Our local nonce for a new peering."""
        return self.random_bytes(NONCE_LEN)

    def peering_element(self, da: bytes, llid: int, plid: int | None = None,
                        reason: int | None = None) -> MeshPeeringManagement:
        """The Mesh Peering Management element of a secure peering frame."""
        return MeshPeeringManagement(llid, plid, reason, protocol_id=PROTOCOL_AMPE, pmkid=self.pmkid(da))

    def seal_peering(self, frame: SelfProtected, local_nonce: bytes, peer_nonce: bytes) -> SelfProtected:
        """`frame` with the MIC element and the encrypted AMPE element
        appended; an Open also gives the receiver our MGTK and Key RSC.
        `peer_nonce` is empty while we do not know the peer's."""
        receiver = frame.header.addr1
        opening = frame.action == SP_MESH_PEERING_OPEN
        gtk = GtkData(self.mgtk.tk, self.hop.keys.group_rsc()) if opening else None
        element = AmpeElement(local_nonce, peer_nonce or ZERO_NONCE, gtk, igtk=self.igtk if opening else None)
        protected = seal_ampe(self._aek(receiver), sender=self.mac, receiver=receiver,
                              body_before_mic=_body(frame), ampe_element=element.encode())
        mic_end = ELEMENT_HEADER_LEN + SIV_LEN
        return replace(frame, elements=frame.elements + (Mic(protected[ELEMENT_HEADER_LEN:mic_end]),), sealed=protected[mic_end:])

    def open_peering(self, frame: SelfProtected) -> AmpeElement:
        """Authenticate a peering frame and return its AMPE element. Raises
        `AmpeError`: Chosen PMK not ours for this link (another passphrase
        or mesh ID), no MIC element, MIC failure, malformed element, cipher
        other than CCMP-128, an Open without the sender's MGTK. Whether the
        nonces fit our peering is the peering engine's check."""
        sender, receiver = frame.header.addr2, frame.header.addr1
        peering = frame.peering
        if peering is None or not self.has_pmk(sender) or peering.pmkid != self.pmkid(sender):
            raise AmpePmkMismatch(f"Chosen PMK from {sender.hex(':')} is not this link's")
        mic = frame.elements[-1]
        if not isinstance(mic, Mic):
            raise AmpeMalformed("no MIC element after the peering elements")
        plain = replace(frame, elements=frame.elements[:-1], sealed=b"")
        element = open_ampe(self._aek(sender), sender=sender, receiver=receiver, body_before_mic=_body(plain),
                            protected=bytes((EID_MIC, len(mic.mic))) + mic.mic + frame.sealed)
        ampe = AmpeElement.parse(element)
        if frame.action == SP_MESH_PEERING_OPEN and ampe.gtk is None:
            raise AmpeMalformed("Mesh Peering Open without GTKdata: the sender's MGTK is missing")
        return ampe

    def install(self, peer: Peer) -> None:
        """The link reached ESTAB: derive its MTK and install it with the
        peer's MGTK. Both were agreed in this peering, so they are new keys
        with fresh PNs and replay windows."""
        if peer.peer_gtk is None or not peer.local_nonce or not peer.peer_nonce:
            raise ValueError(f"peer {peer.addr.hex(':')} reached ESTAB without a complete AMPE exchange")
        mtk = derive_mtk(self._pmk(peer.addr), local_mac=self.mac, peer_mac=peer.addr, local_nonce=peer.local_nonce,
                         peer_nonce=peer.peer_nonce, local_link_id=peer.llid, peer_link_id=peer.plid, akm=self.akm)
        self.hop.keys.install_pairwise(peer.addr, mtk)
        self.hop.keys.install_group_rx(peer.addr, GroupKey(peer.peer_gtk.mgtk, MGTK_KEY_ID), peer.peer_gtk.rsc)
        if peer.peer_igtk is not None:
            self.peer_igtks[peer.addr] = peer.peer_igtk

    def remove(self, addr: bytes) -> None:
        """The link left ESTAB: nothing more is sealed for it or opened from it."""
        self.hop.keys.remove_peer(addr)
        self.peer_igtks.pop(addr, None)

    def link_key(self, addr: bytes) -> bytes | None:
        """The MTK installed for a peer, None when the link has none."""
        try:
            return self.hop.keys.tx_key(addr).tk
        except HopError:
            return None

    def capture_keys(self) -> CaptureKeys:
        """Every key this station holds now, as a capture key file has
        them: the seal's MTKs and MGTKs, our IGTK and our peers'."""
        integrity = (IntegrityKey(self.mac, self.igtk.key_id, self.igtk.igtk),
                     *(IntegrityKey(peer, igtk.key_id, igtk.igtk) for peer, igtk in self.peer_igtks.items()))
        return self.hop.keys.capture_keys(self.mac).merged(CaptureKeys(integrity=integrity))

    def _aek(self, peer: bytes) -> bytes:
        return derive_aek(self._pmk(peer), local_mac=self.mac, peer_mac=peer, akm=self.akm)

    # -- the PMK of a link ---------------------------------------------------

    def has_pmk(self, peer: bytes) -> bool:
        return self.pmk is not None or peer in self.sae_pmks

    def _pmk(self, peer: bytes) -> bytes:
        if self.pmk is not None:
            return self.pmk
        if peer not in self.sae_pmks:
            raise AmpePmkMismatch(f"no SAE with {peer.hex(':')} has completed")
        return self.sae_pmks[peer][0]

    def pmkid(self, peer: bytes) -> bytes:
        """The link's Chosen PMK: SAE's PMKID, or the PSK PMK's name."""
        if self.pmk is not None:
            return derive_pmkid(self.pmk, local_mac=self.mac, peer_mac=peer)
        if peer not in self.sae_pmks:
            raise AmpePmkMismatch(f"no SAE with {peer.hex(':')} has completed")
        return self.sae_pmks[peer][1]

    # -- SAE (12.4) ----------------------------------------------------------

    def start_sae(self, peer: bytes, now: float) -> list[Action]:
        """Authenticate with a neighbour whose beacon matched, unless SAE
        with it has completed, is under way, backs off or is blocked."""
        if self.sae is None or peer in self.sae_pmks:
            return []
        attempt = self.sae_attempts.get(peer)
        if attempt is not None:
            if attempt.retry_due:
                attempt.retry_due = False
                return self._attempt(self.sae, peer, attempt, now)
            if attempt.blocked_until is None:
                if self.sae.state(peer) != SaeState.NOTHING:
                    return []
                return [Refused(MeshRefusal.SAE_BACKING_OFF, f"{peer.hex(':')} until {attempt.deadline:.3f}")]
            if now < attempt.blocked_until:
                return [Refused(MeshRefusal.SAE_BLOCKED, f"{peer.hex(':')} until {attempt.blocked_until:.3f}")]
            del self.sae_attempts[peer]
        if len(self.sae_attempts) >= self.sae.config.max_instances:
            self.sae_attempts.popitem(last=False)
        attempt = self.sae_attempts[peer] = _SaeAttempt()
        return self._attempt(self.sae, peer, attempt, now)

    def _attempt(self, sae: SaeParent, peer: bytes, attempt: _SaeAttempt, now: float) -> list[Action]:
        """Initiate SAE (nothing if the peer's instance still runs, as
        wpa_supplicant does) and arm the retry timer."""
        actions = self._sae_actions(sae, lambda sae: sae.initiate(peer, now))
        jitter = int.from_bytes(self.random_bytes(2), "big") / 65536
        attempt.deadline = now + MESH_AUTH_TIMEOUT * (1 + jitter)
        return actions + [SetTimer((TIMER_MESH_AUTH, peer), attempt.deadline)]

    def on_mesh_auth_timer(self, peer: bytes, now: float) -> list[Action]:
        """An attempt's retry timer: unless SAE completed, the neighbour's
        next beacon retries it, or the peer is blocked once the retries are
        used up. Stale calls do nothing."""
        attempt = self.sae_attempts.get(peer)
        if (self.sae is None or attempt is None or attempt.blocked_until is not None or attempt.retry_due
                or now < attempt.deadline):
            return []
        actions: list[Action] = [Refused(MeshRefusal.SAE_ATTEMPT_FAILED, f"{peer.hex(':')} try {attempt.retries + 1}")]
        if attempt.retries < MESH_AUTH_RETRY:
            # wpa_supplicant retries here; we wait for the neighbour's next
            # beacon, so a neighbour that has moved away is not sent Commits
            # no one hears (each one the MAC then sends up to its retry limit).
            attempt.retries += 1
            attempt.retry_due = True
            return actions
        attempt.blocked_until = now + MESH_AUTH_BLOCK_DURATION
        self.sae.remove(peer)
        return actions + [Refused(MeshRefusal.SAE_PEER_BLOCKED, f"{peer.hex(':')} until {attempt.blocked_until:.3f}")]

    def on_authentication(self, frame: ManagementFrame, now: float) -> list[Action]:
        """An Authentication frame for us: SAE's, in an SAE mesh."""
        if self.sae is None:
            return [Refused(MeshRefusal.MANAGEMENT_SUBTYPE_UNSUPPORTED, "Authentication outside an SAE mesh")]
        return self._sae_actions(self.sae, lambda sae: sae.receive(frame.header.addr2, frame.body, now))

    def on_sae_timer(self, peer: bytes, now: float) -> list[Action]:
        if self.sae is None:
            return []
        return self._sae_actions(self.sae, lambda sae: sae.on_timer(peer, now))

    def _sae_actions(self, sae: SaeParent, step: Callable[[SaeParent], list[SaeOutput]]) -> list[Action]:
        """Run one SAE input and turn its outputs into the node's actions;
        what SAE dropped comes back as `Refused`, so the node counts it."""
        before = sae.refused.copy()
        outputs = step(sae)
        actions: list[Action] = []
        for output in outputs:
            if isinstance(output, SaeTransmit):
                header = mgmt_header(FC_AUTHENTICATION, output.peer, self.mac)
                actions.append(Transmit(ManagementFrame(header, output.body)))
                self.sae_frames_sent += 1
            elif isinstance(output, SaeSetTimer):
                actions.append(SetTimer((TIMER_SAE, output.peer), output.at))
            elif isinstance(output, SaeAuthenticated):
                self.sae_pmks[output.peer] = (output.pmk, output.pmkid)
                self.sae_attempts.pop(output.peer, None)
                actions.append(Authenticated(output.peer, output.pmkid))
                self.sae_completed += 1
            elif isinstance(output, SaeFailed):
                actions.append(Refused(output.reason, output.peer.hex(":")))
            elif isinstance(output, SaeExpired):
                self.sae_pmks.pop(output.peer, None)
                actions.append(Refused(MeshRefusal.PMK_EXPIRED, output.peer.hex(":")))
        for reason, count in (sae.refused - before).items():
            actions += [Refused(reason)] * count
        return actions

    def forget(self, peer: bytes) -> None:
        """The station is gone: a new peering starts with a new SAE."""
        self.sae_pmks.pop(peer, None)
        self.sae_attempts.pop(peer, None)
        if self.sae is not None:
            self.sae.remove(peer)

    # -- frames (CCMP per hop) ---------------------------------------------

    def protect(self, mpdu: bytes) -> bytes | Refused:
        """The host's transmit hook: the frame as it goes on the air, or a
        refusal when it needs protection and has no key (never sent plain)."""
        try:
            return protect_for_air(self.hop, mpdu)
        except HopError as error:
            return Refused(_TX_REFUSAL.get(error.reason, MeshRefusal.TX_NOT_PROTECTABLE), str(error))

    def unprotect(self, mpdu: bytes) -> bytes | Refused:
        """The host's receive hook: the plaintext of a frame for us or a
        group, or a refusal. Frames for other stations pass unopened; the
        node counts them as not for us."""
        if addressed_elsewhere(mpdu, self.mac):
            return mpdu
        try:
            return open_from_air(self.hop, mpdu)
        except HopError as error:
            return Refused(error.reason, str(error))


def _body(frame: SelfProtected) -> bytes:
    """The action body from the category octet on, as the AMPE MIC covers it."""
    return encode(frame)[len(frame.header.encode()):]

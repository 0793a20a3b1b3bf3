"""Secure peering (AMPE, 802.11-2020 14.5) in the peering engine: what the
frames carry, the keys both ends install, and every way a peering frame is
refused without moving any link state (wrong passphrase, altered frame,
replayed frame, open/secure mismatch)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from meshframes.codec import Beacon, DataFrame, MacHeader, MeshControl, SelfProtected, decode, encode
from meshframes.codec.elements import CAPAB_ACCEPTING_PEERINGS, EID_RSN, Mic
from meshframes.codec.header import BROADCAST, QOS_MESH_CONTROL_PRESENT
from meshframes.codec.ie import RawElement
from meshframes.codec.meshctl import AE_NONE
from meshframes.codec.peering import PROTOCOL_AMPE
from meshframes.codec.reason import ReasonCode
from meshframes.mesh.constants import MeshConfig
from meshframes.mesh.forward import FC_MESH_DATA
from meshframes.mesh.mbss import CAPABILITY_PRIVACY, RSNE_BODY, Mbss
from meshframes.mesh.peers import PeerTable, PlinkState
from meshframes.mesh.plink import Peering
from meshframes.mesh.rsn import MGTK_KEY_ID, MeshRsn
from meshframes.seal.ampe import ZERO_NONCE, AmpeElement, seal_ampe
from meshframes.seal.errors import UnknownKey
from meshframes.seal.keys import GroupKey, derive_aek, derive_mtk, derive_pmk, derive_pmkid

from .helpers import RX, A, B, refusals, sent
from .test_plink import exchange

S = PlinkState
PASSPHRASE = "correct horse battery staple"


def engine(mac: bytes, passphrase: str | None = PASSPHRASE, seed: int = 1) -> Peering:
    """A peering engine of a secure mesh (or an open one, passphrase None)."""
    cfg = MeshConfig(passphrase=passphrase)
    rsn = MeshRsn(mac, cfg, random.Random(seed).randbytes) if passphrase is not None else None
    return Peering(Mbss(mac, cfg), cfg, PeerTable(cfg.default_rate_100kbps, cfg.link_fail_threshold),
                   random.Random(seed), rsn)


def beacon(peering: Peering) -> Beacon:
    return decode(encode(peering.mbss.beacon(0.0, 0)))  # type: ignore[return-value]


def peer_up(a: Peering, b: Peering, now: float = 0.0) -> list[SelfProtected]:
    """A hears B's beacon and opens; the frames are carried until quiet."""
    return exchange(a, b, a.on_beacon(beacon(b), RX, now), now)


def state(engine_: Peering, addr: bytes) -> PlinkState | None:
    peer = engine_.peers.get(addr)
    return peer.state if peer is not None else None


def wire(frame: SelfProtected) -> SelfProtected:
    return decode(encode(frame))  # type: ignore[return-value]


def test_secure_peering_frames_carry_ampe() -> None:
    """Open, Confirm and (later) Close name AMPE and the link's Chosen PMK
    and end in a MIC element and the encrypted AMPE element; Open and
    Confirm add our RSNE and the Privacy capability; the Mesh Configuration
    keeps authentication protocol 0 ("none", our PMK is the PSK's)."""
    a, b = engine(A), engine(B, seed=2)
    frames = peer_up(a, b)
    assert sorted(f.action for f in frames) == [1, 1, 2, 2]
    for frame in frames:
        pmk = derive_pmk(PASSPHRASE, b"meshframes")
        assert frame.peering is not None and frame.peering.protocol_id == PROTOCOL_AMPE
        assert frame.peering.pmkid == derive_pmkid(pmk, local_mac=A, peer_mac=B)
        assert isinstance(frame.elements[-1], Mic) and len(frame.elements[-1].mic) == 16
        # The AMPE element's ciphertext: an Open adds GTKdata (28) and IGTKdata (24).
        assert len(frame.sealed) == 2 + 68 + (28 + 24 if frame.action == 1 else 0)
        assert frame.capability is not None and frame.capability & CAPABILITY_PRIVACY
        assert RawElement(EID_RSN, RSNE_BODY) in frame.elements
        assert frame.mesh_config is not None and frame.mesh_config.authentication_protocol == 0
    on_air = b"".join(encode(f) for f in frames)
    assert a.rsn is not None and b.rsn is not None
    assert a.rsn.mgtk.tk not in on_air and b.rsn.mgtk.tk not in on_air
    assert a.rsn.igtk.igtk not in on_air and b.rsn.igtk.igtk not in on_air


def test_estab_installs_the_same_mtk_at_both_ends_and_each_peers_mgtk() -> None:
    """Both ends derive one MTK from the nonces and link ids of this
    peering and install it; each installs the other's MGTK, learned from
    its Open, under key id 1 with the Key RSC it announced."""
    a, b = engine(A), engine(B, seed=2)
    peer_up(a, b)
    assert state(a, B) is S.ESTAB and state(b, A) is S.ESTAB
    assert a.rsn is not None and b.rsn is not None
    pa, pb = a.peers.get(B), b.peers.get(A)
    assert pa is not None and pb is not None
    assert pa.local_nonce == pb.peer_nonce and pa.peer_nonce == pb.local_nonce and pa.local_nonce != pb.local_nonce
    mtk = derive_mtk(derive_pmk(PASSPHRASE, b"meshframes"), local_mac=A, peer_mac=B, local_nonce=pa.local_nonce,
                     peer_nonce=pa.peer_nonce, local_link_id=pa.llid, peer_link_id=pa.plid)
    assert a.rsn.link_key(B) == b.rsn.link_key(A) == mtk
    assert a.rsn.hop.keys.rx_key(BROADCAST, B, MGTK_KEY_ID).tk == b.rsn.mgtk.tk
    assert b.rsn.hop.keys.rx_key(BROADCAST, A, MGTK_KEY_ID).tk == a.rsn.mgtk.tk
    assert a.rsn.peer_igtks[B] == b.rsn.igtk and b.rsn.peer_igtks[A] == a.rsn.igtk


def test_an_open_on_an_established_link_changes_no_key() -> None:
    """MGTKs are installed once per peering: an authentic Open on the
    established link (here from a peer that drew a new MGTK) is answered
    with a Confirm, and the MGTK it carries is neither installed nor
    recorded for later."""
    a, b = engine(A), engine(B, seed=2)
    peer_up(a, b)
    assert a.rsn is not None and b.rsn is not None
    installed = a.rsn.hop.keys.rx_key(BROADCAST, B, MGTK_KEY_ID).tk
    b.rsn.mgtk = GroupKey(bytes(range(16)), MGTK_KEY_ID)
    again = b._open_frame(b.peers.get(A))  # type: ignore[arg-type]  # what such a peer would send
    reply = a.on_frame(wire(again), 1.0)
    assert [f.action for f in sent(reply)] == [2] and state(a, B) is S.ESTAB
    assert a.rsn.hop.keys.rx_key(BROADCAST, B, MGTK_KEY_ID).tk == installed
    assert a.peers.get(B).peer_gtk.mgtk == installed  # type: ignore[union-attr]


def test_wrong_passphrase_never_reaches_estab() -> None:
    """A peer with another passphrase: each side refuses the other's frames
    (their Chosen PMK is not this link's) and keeps no state for them; the
    opener retries dot11MeshMaxRetries times, then closes with
    MESH-MAX-RETRIES."""
    a, b = engine(A), engine(B, passphrase="another passphrase", seed=2)
    opened = a.on_beacon(beacon(b), RX, 0.0)
    now = 0.0
    while state(a, B) is not S.HOLDING:
        for frame in sent(opened):
            reply = b.on_frame(wire(frame), now)
            assert refusals(reply) == ["ampe-pmk-mismatch"] and sent(reply) == []
        now += 1.0
        opened = a.on_timer(B, now)
    (close,) = sent(opened)
    assert close.peering.reason == ReasonCode.MESH_MAX_RETRIES
    assert refusals(b.on_frame(wire(close), now)) == ["ampe-pmk-mismatch"]
    assert a.rsn is not None
    assert len(b.peers) == 0 and a.peers.established_count == 0 and a.rsn.link_key(B) is None


@pytest.mark.parametrize("where", ["element before the MIC", "encrypted AMPE element", "MIC itself"])
def test_altered_peering_frame_fails_the_mic(where: str) -> None:
    """Any change to an Open from a peer that knows the passphrase is an
    AMPE MIC failure: refused, counted by reason, no state kept."""
    a, b = engine(A), engine(B, seed=2)
    (open_frame,) = sent(a.on_beacon(beacon(b), RX, 0.0))
    if where == "element before the MIC":
        elements = tuple(replace(e, capability=CAPAB_ACCEPTING_PEERINGS) if e.element_id == 113 else e
                         for e in open_frame.elements)
        open_frame = replace(open_frame, elements=elements)
    elif where == "encrypted AMPE element":
        open_frame = replace(open_frame, sealed=open_frame.sealed[:-1] + bytes((open_frame.sealed[-1] ^ 1,)))
    else:
        mic = open_frame.elements[-1]
        assert isinstance(mic, Mic)
        open_frame = replace(open_frame, elements=open_frame.elements[:-1] + (Mic(bytes(16)),))
    reply = b.on_frame(wire(open_frame), 0.0)
    assert refusals(reply) == ["ampe-auth-failure"] and sent(reply) == [] and len(b.peers) == 0


def test_missing_mic_is_malformed() -> None:
    """hostap's test_mesh_missing_mic: the MIC element and what follows
    stripped from an Open."""
    a, b = engine(A), engine(B, seed=2)
    (open_frame,) = sent(a.on_beacon(beacon(b), RX, 0.0))
    stripped = replace(open_frame, elements=open_frame.elements[:-1], sealed=b"")
    assert refusals(b.on_frame(wire(stripped), 0.0)) == ["ampe-malformed"]


def test_forged_and_replayed_frames_do_not_touch_an_established_link() -> None:
    """With the link ESTAB, B is sent the Open A used to start it (its MIC
    still verifies: the AEK is the same for every peering of the pair) and
    a Close with a broken MIC: both are refused, nothing is sent, the link
    and its key stay."""
    a, b = engine(A), engine(B, seed=2)
    frames = peer_up(a, b)
    first_open = next(f for f in frames if f.action == 1 and f.header.addr2 == A)
    assert b.rsn is not None
    key = b.rsn.link_key(A)
    replay = b.on_frame(first_open, 1.0)
    assert refusals(replay) == ["ampe-nonce-mismatch"] and sent(replay) == []
    close = sent(a.cancel(B, 1.0))[0]
    forged = replace(close, sealed=bytes(len(close.sealed)))
    assert refusals(b.on_frame(wire(forged), 1.0)) == ["ampe-auth-failure"]
    assert state(b, A) is S.ESTAB and b.rsn.link_key(A) == key


def repeer(a: Peering, b: Peering, now: float) -> list[SelfProtected]:
    """A closes the link, both sides hold and return to IDLE, then A hears
    B's beacon again and they peer anew."""
    carried = exchange(a, b, a.cancel(B, now), now)
    for engine_, addr in ((a, B), (b, A)):
        # Leaving ESTAB removed the link's keys at once, before IDLE.
        assert engine_.rsn is not None and engine_.rsn.link_key(addr) is None
        with pytest.raises(UnknownKey):
            engine_.rsn.hop.keys.rx_key(BROADCAST, addr, MGTK_KEY_ID)
        engine_.on_timer(addr, now + 1.0)
    assert state(a, B) is S.IDLE and state(b, A) is S.IDLE
    return carried + peer_up(a, b, now + 2.0)


def test_repeering_rotates_the_link_key_and_restarts_its_pns() -> None:
    """A new peering draws new nonces, hence a new MTK whose PNs start at
    1 again; a frame sealed under the old MTK no longer opens, and the old
    peering's Close replayed into the new one is refused by its nonces."""
    a, b = engine(A), engine(B, seed=2)
    peer_up(a, b)
    assert a.rsn is not None and b.rsn is not None
    old_key = a.rsn.link_key(B)
    data = encode(DataFrame(MacHeader(FC_MESH_DATA, 60, B, A, B, 0, addr4=A, qos_control=QOS_MESH_CONTROL_PRESENT),
                            MeshControl(AE_NONE, 31, 1), b"payload"))
    old_frames = [a.rsn.protect(data) for _ in range(5)]
    assert a.rsn.hop.keys.tx_key(B).next_pn == 6
    carried = repeer(a, b, 1.0)
    old_close = next(f for f in carried if f.action == 3 and f.header.addr2 == A)
    assert state(a, B) is S.ESTAB and state(b, A) is S.ESTAB
    new_key = a.rsn.link_key(B)
    assert new_key is not None and new_key not in (old_key, None) and b.rsn.link_key(A) == new_key
    assert a.rsn.hop.keys.tx_key(B).next_pn == 1
    stale = b.rsn.unprotect(old_frames[-1])  # type: ignore[arg-type]
    assert not isinstance(stale, bytes) and stale.reason == "mic-failure"
    fresh = a.rsn.protect(data)
    assert b.rsn.unprotect(fresh) == data  # type: ignore[arg-type]
    assert refusals(b.on_frame(old_close, 3.0)) == ["ampe-nonce-mismatch"] and state(b, A) is S.ESTAB


def test_open_and_secure_meshes_do_not_peer() -> None:
    """Each side recognises the other's security from its beacon and does
    not open; peering frames that reach it anyway are refused by reason."""
    secure, open_ = engine(A), engine(B, passphrase=None)
    assert refusals(secure.on_beacon(beacon(open_), RX, 0.0)) == ["beacon-security-mismatch"]
    assert refusals(open_.on_beacon(beacon(secure), RX, 0.0)) == ["beacon-security-mismatch"]
    (secure_open,) = sent(engine(A).on_beacon(beacon(engine(B)), RX, 0.0))
    (open_open,) = sent(engine(B, passphrase=None).on_beacon(beacon(engine(A, passphrase=None)), RX, 0.0))
    assert refusals(open_.on_frame(wire(secure_open), 0.0)) == ["secure-peer-in-open-mesh"]
    assert refusals(secure.on_frame(wire(open_open), 0.0)) == ["open-peer-in-secure-mesh"]
    assert len(secure.peers) == 0 and len(open_.peers) == 0


def test_other_rsne_is_refused() -> None:
    """An Open whose RSNE differs from ours (here: no management frame
    protection) is refused before any cryptography."""
    a, b = engine(A), engine(B, seed=2)
    (open_frame,) = sent(a.on_beacon(beacon(b), RX, 0.0))
    other = RawElement(EID_RSN, RSNE_BODY[:-2] + bytes(2))
    elements = tuple(other if e.element_id == EID_RSN else e for e in open_frame.elements)
    assert refusals(b.on_frame(wire(replace(open_frame, elements=elements)), 0.0)) == ["rsn-mismatch"]


def test_open_without_gtkdata_is_malformed() -> None:
    """An Open must give the receiver the sender's MGTK: a correctly
    protected Open whose AMPE element lacks GTKdata is refused."""
    a, b = engine(A), engine(B, seed=2)
    (open_frame,) = sent(a.on_beacon(beacon(b), RX, 0.0))
    peer = a.peers.get(B)
    assert peer is not None
    plain = replace(open_frame, elements=open_frame.elements[:-1], sealed=b"")
    aek = derive_aek(derive_pmk(PASSPHRASE, b"meshframes"), local_mac=A, peer_mac=B)
    protected = seal_ampe(aek, sender=A, receiver=B, body_before_mic=encode(plain)[24:],
                          ampe_element=AmpeElement(peer.local_nonce, ZERO_NONCE).encode())
    no_gtk = replace(plain, elements=plain.elements + (Mic(protected[2:18]),), sealed=protected[18:])
    assert refusals(b.on_frame(wire(no_gtk), 0.0)) == ["ampe-malformed"] and len(b.peers) == 0


def test_authentic_open_with_another_profile_gets_an_authenticated_close() -> None:
    """A peer that knows the passphrase but runs another mesh profile (here
    another path selection metric) is rejected as in an open mesh, with a
    Close (MESH-CONFIGURATION-POLICY-VIOLATION) and no state kept; the Close
    is itself AMPE-protected, names the opener's nonce, and the opener
    accepts it."""
    a, b = engine(A), engine(B, seed=2)
    (open_frame,) = sent(a.on_beacon(beacon(b), RX, 0.0))
    peer = a.peers.get(B)
    assert a.rsn is not None and peer is not None
    plain = replace(open_frame, elements=tuple(
        replace(e, path_selection_metric=2) if e.element_id == 113 else e for e in open_frame.elements[:-1]),
        sealed=b"")
    other_profile = a.rsn.seal_peering(plain, peer.local_nonce, b"")
    reply = b.on_frame(wire(other_profile), 0.0)
    (close,) = sent(reply)
    assert close.action == 3 and close.peering.reason == ReasonCode.MESH_CONFIGURATION_POLICY_VIOLATION
    assert len(b.peers) == 0
    assert refusals(a.on_frame(wire(close), 0.0)) == [] and state(a, B) is S.HOLDING


def test_configuration_repr_does_not_show_the_passphrase() -> None:
    """Logging a secure mesh's configuration does not leak its secret."""
    config = MeshConfig(passphrase=PASSPHRASE)
    assert config.secure and PASSPHRASE not in repr(config) and PASSPHRASE not in str(config)

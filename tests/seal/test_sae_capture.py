"""Real SAE bytes: the Commits and Confirms wpa_supplicant 2.10 sent on
Linux's secure mesh (pcaps/linux-kernel-sae.pcap, group 19,
hunting-and-pecking, passphrase from the recording scenario) go through
the engine's input path as they are; and in pcaps/linux-sae-interop.pcap,
where wpa_supplicant (n0) met our node (u1), both sides' AMPE names the
PMKID their two Commits define."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.codec import ManagementFrame, SelfProtected, decode
from meshframes.codec.header import SUBTYPE_AUTHENTICATION
from meshframes.codec.peering import SP_MESH_PEERING_OPEN
from meshframes.codec.sae import SaeCommitBody, SaeConfirmBody, build_sae, parse_sae
from meshframes.hosts import tshark
from meshframes.hosts.pcap import mpdus
from meshframes.hwsim.scenarios import SAE_PASSPHRASE
from meshframes.seal.sae import SaeConfig, SaeParent, SaeState, SaeTransmit
from meshframes.seal.sae_crypto import PMKID_LEN, ecc_group

PCAPS = Path(__file__).resolve().parents[2] / "pcaps"
CAPTURE = PCAPS / "linux-kernel-sae.pcap"
INTEROP = PCAPS / "linux-sae-interop.pcap"
WPA_SUPPLICANT, OURS = bytes.fromhex("020000000000"), bytes.fromhex("020000000100")


def sae_frames(path: Path = CAPTURE) -> list[tuple[bytes, bytes, bytes]]:
    """(source, destination, Authentication body) of every SAE frame."""
    found = []
    for _, mpdu, _ in mpdus(path):
        frame = decode(mpdu)
        if isinstance(frame, ManagementFrame) and frame.header.subtype == SUBTYPE_AUTHENTICATION:
            found.append((frame.header.addr2, frame.header.addr1, frame.body))
    return found


@pytest.mark.tshark
def test_every_sae_frame_parses_and_builds_back_byte_for_byte() -> None:
    frames = sae_frames()
    kinds = [type(parse_sae(body)) for _, _, body in frames]
    # As many successful Commits and Confirms as tshark counts (transaction
    # 1 or 2, status 0).
    rows = tshark.fields(CAPTURE, ["wlan.fixed.auth_seq", "wlan.fixed.status_code"])
    seqs = [int(r["wlan.fixed.auth_seq"][0], 0) for r in rows
            if r["wlan.fixed.auth_seq"] and int(r["wlan.fixed.status_code"][0], 0) == 0]
    assert kinds.count(SaeCommitBody) == seqs.count(1) > 0
    assert kinds.count(SaeConfirmBody) == seqs.count(2) > 0
    for _, _, body in frames:
        assert build_sae(parse_sae(body)) == body


def test_wpa_supplicants_commits_are_accepted_and_answered() -> None:
    """Each of wpa_supplicant's Commits, given to an engine in its
    receiver's place, passes every check (scalar range, point on the curve,
    group, mode) and is answered with a Commit and a Confirm."""
    for source, destination, body in sae_frames():
        if not isinstance(parse_sae(body), SaeCommitBody):
            continue
        parent = SaeParent(destination, SaeConfig(SAE_PASSPHRASE.encode()))
        outputs = parent.receive(source, body, 0.0)
        sent = [parse_sae(o.body) for o in outputs if isinstance(o, SaeTransmit)]
        assert [type(m) for m in sent] == [SaeCommitBody, SaeConfirmBody]
        assert parent.state(source) == SaeState.CONFIRMED and not parent.refused


def test_wpa_supplicant_and_our_node_open_ampe_with_the_pmkid_of_their_commits() -> None:
    """PMKID = L((commit-scalar + peer-commit-scalar) mod r, 0, 128)
    (12.4.5.4) for one Commit of each side, and a side opens AMPE only once
    its SAE accepted the other's Confirm. wpa_supplicant's Opens name such
    a PMKID, and ours name the same one: both completed that handshake.
    (The recording also shows the slow guest's cost: wpa_supplicant's
    40 ms retransmissions outrun our first answers, it rejects them and
    starts over, and only its retry some seconds later completes.)"""
    scalars: dict[bytes, set[int]] = {WPA_SUPPLICANT: set(), OURS: set()}
    for source, _, body in sae_frames(INTEROP):
        message = parse_sae(body)
        if isinstance(message, SaeCommitBody):
            scalars[source].add(int.from_bytes(message.scalar, "big"))
    order = ecc_group(19).order
    possible = {((a + b) % order).to_bytes(32, "big")[:PMKID_LEN]
                for a in scalars[WPA_SUPPLICANT] for b in scalars[OURS]}
    chosen: dict[bytes, set[bytes]] = {WPA_SUPPLICANT: set(), OURS: set()}
    for _, mpdu, _ in mpdus(INTEROP):
        frame = decode(mpdu)
        if isinstance(frame, SelfProtected) and frame.action == SP_MESH_PEERING_OPEN and frame.peering is not None:
            chosen[frame.header.addr2].add(frame.peering.pmkid or b"")
    assert chosen[WPA_SUPPLICANT] and chosen[WPA_SUPPLICANT] <= possible
    assert chosen[WPA_SUPPLICANT] <= chosen[OURS]

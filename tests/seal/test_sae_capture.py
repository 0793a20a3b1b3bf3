"""Real SAE bytes: the Commits and Confirms wpa_supplicant 2.10 sent on
Linux's secure mesh (pcaps/linux-kernel-sae.pcap, group 19,
hunting-and-pecking, passphrase from the recording scenario) go through
the engine's input path as they are."""

from __future__ import annotations

from pathlib import Path

from meshframes.codec import ManagementFrame, decode
from meshframes.codec.header import SUBTYPE_AUTHENTICATION
from meshframes.codec.sae import SaeCommitBody, SaeConfirmBody, build_sae, parse_sae
from meshframes.hosts.pcap import mpdus
from meshframes.hwsim.scenarios import SAE_PASSPHRASE
from meshframes.seal.sae import SaeConfig, SaeParent, SaeState, SaeTransmit

CAPTURE = Path(__file__).resolve().parents[2] / "pcaps" / "linux-kernel-sae.pcap"


def sae_frames() -> list[tuple[bytes, bytes, bytes]]:
    """(source, destination, Authentication body) of every SAE frame."""
    found = []
    for _, mpdu, _ in mpdus(CAPTURE):
        frame = decode(mpdu)
        if isinstance(frame, ManagementFrame) and frame.header.subtype == SUBTYPE_AUTHENTICATION:
            found.append((frame.header.addr2, frame.header.addr1, frame.body))
    return found


def test_every_sae_frame_parses_and_builds_back_byte_for_byte() -> None:
    frames = sae_frames()
    kinds = [type(parse_sae(body)) for _, _, body in frames]
    assert kinds.count(SaeCommitBody) == 4 and kinds.count(SaeConfirmBody) == 4
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

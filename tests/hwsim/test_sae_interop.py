"""Our SAE engine against wpa_supplicant's on real hwsim radios: n0 is a
wpa_supplicant 2.10 mesh point (mode 5, key_mgmt SAE, user_mpm, PMF), u1
is our MeshNode with `sae=True` and the same passphrase. SAE must complete
on both sides: our engine accepts n0's Confirm (so n0 derived the keys
ours did), and n0 opens AMPE naming our PMKID as its Chosen PMK, which
wpa_supplicant does only after it accepted our Confirm."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.codec import ManagementFrame, SelfProtected, decode
from meshframes.codec.header import SUBTYPE_AUTHENTICATION
from meshframes.codec.peering import SP_MESH_PEERING_OPEN
from meshframes.codec.sae import SaeCommitBody, SaeConfirmBody, parse_sae
from meshframes.hosts.pcap import mpdus
from meshframes.hwsim.scenarios import Recording, sae_interop
from meshframes.layers.dissect import analyze

from . import recorded

pytestmark = pytest.mark.hwsim
interop = recorded(sae_interop)


def test_sae_completes_with_wpa_supplicant_on_both_sides(interop: tuple[Recording, Path]) -> None:
    recording, pcap = interop
    n0, u1, _ = recording.nodes
    pmkid = recording.states["u1"]["sae"]["pmkids"][n0.mac]
    frames = [decode(mpdu) for _, mpdu, _ in mpdus(pcap)]
    sae = [(f.header.addr2, f.header.addr1, type(parse_sae(f.body))) for f in frames
           if isinstance(f, ManagementFrame) and f.header.subtype == SUBTYPE_AUTHENTICATION]
    for a, b in ((n0, u1), (u1, n0)):
        for kind in (SaeCommitBody, SaeConfirmBody):
            assert (a.mac_bytes, b.mac_bytes, kind) in sae, f"no {kind.__name__} from {a.mac} to {b.mac}: {sae}"
    opens = [f for f in frames if isinstance(f, SelfProtected) and f.action == SP_MESH_PEERING_OPEN
             and f.header.addr2 == n0.mac_bytes and f.header.addr1 == u1.mac_bytes]
    assert opens, "wpa_supplicant never opened AMPE: its SAE did not accept ours"
    assert all(f.peering is not None and f.peering.pmkid == pmkid for f in opens)


def test_the_sae_interop_capture_decodes_completely(interop: tuple[Recording, Path]) -> None:
    result, _ = analyze(interop[1])
    assert result.undecoded == [] and result.malformed == []

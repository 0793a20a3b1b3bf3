"""Linux's own secure mesh on hwsim radios: three mesh points run by
wpa_supplicant (SAE, AMPE, protected management frames) in a chain, a
fourth radio recording. The kernel must reach ESTAB over SAE and carry
traffic two hops; our decoder must read every frame of it (SAE Commit and
Confirm, AMPE peering behind a MIC, protected action and data frames) and
count kinds as tshark does, and the keys wpa_supplicant logs must decrypt it."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.dot11 import Dot11

from meshframes.hosts import tshark
from meshframes.hosts.pcap import mpdus
from meshframes.hwsim.scenarios import Recording, kernel_sae
from meshframes.layers import MIC, AMPEEncrypted, SAECommit, SAEConfirm
from meshframes.layers.dissect import analyze
from meshframes.seal.capture import CaptureOpener
from meshframes.seal.keyfile import CaptureKeys
from meshframes.seal.wpalog import import_wpa_log

from . import recorded

pytestmark = pytest.mark.hwsim
sae = recorded(kernel_sae)


def test_kernel_peers_over_sae_and_carries_traffic(sae: tuple[Recording, Path]) -> None:
    recording, _ = sae
    assert recording.delivered == {"n0->n2": 3, "n2->n0": 3}
    n0, n1, n2, _ = recording.nodes
    for node, peers in (("n0", [n1]), ("n1", [n0, n2]), ("n2", [n1])):
        stations = recording.states[node]["stations"]
        assert all(stations[p.mac].plink == "ESTAB" for p in peers), stations


def test_every_frame_decodes_and_counts_match_tshark(sae: tuple[Recording, Path]) -> None:
    result, _ = analyze(sae[1])
    assert result.undecoded == [] and result.malformed == []
    assert dict(result.by_kind) == tshark.counts_by_kind(sae[1])


def test_sae_then_ampe_then_protected_frames(sae: tuple[Recording, Path]) -> None:
    """Each link: SAE Commit and Confirm both ways, then peering frames whose
    AMPE element is encrypted behind a MIC; HWMP and data go protected."""
    recording, pcap = sae
    n0, n1, n2, _ = recording.nodes
    packets = [Dot11(m) for _, m, _ in mpdus(pcap)]
    for a, b in ((n0, n1), (n1, n0), (n1, n2), (n2, n1)):
        for layer in (SAECommit, SAEConfirm):
            assert any(p.haslayer(layer) and p.addr2 == a.mac and p.addr1 == b.mac for p in packets), \
                f"no {layer.__name__} from {a.mac} to {b.mac}"
    peering = [p for p in packets if p.type == 0 and p.subtype == 13 and not p.FCfield.protected
               and bytes(p)[24] == 15]
    assert peering and all(p.haslayer(MIC) and p.haslayer(AMPEEncrypted) for p in peering)
    data = [p for p in packets if p.type == 2 and p.subtype == 8]
    assert data and all(p.FCfield.protected for p in data)


def test_wpa_supplicant_keys_decrypt_every_protected_frame(sae: tuple[Recording, Path]) -> None:
    """The keys the three wpa_supplicants logged (-d -K) open every
    protected frame of the recording, and the plaintext decodes whole."""
    recording, pcap = sae
    keys = CaptureKeys()
    for text in recording.wpa_logs.values():
        keys = keys.merged(import_wpa_log(text))
    assert len(recording.wpa_logs) == 3 and len(keys.pairwise) >= 2 and len(keys.group) == 3
    opener = CaptureOpener(keys)
    result, _ = analyze(pcap, unseal=opener)
    assert opener.decrypted > 0 and dict(opener.undecryptable) == {}
    assert (result.encrypted, result.undecoded, result.malformed) == (0, [], [])

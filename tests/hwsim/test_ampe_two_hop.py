"""Linux forwards our FastPay frames across a secure two-hop mesh: u0 - n1
- u2 on hwsim radios, n1 a wpa_supplicant 2.10 mesh point (SAE, AMPE,
PMF), u0 and u2 our nodes, u0 and u2 out of each other's range. Our
nodes peer with n1 over SAE and AMPE, find each other with HWMP through
n1, and the kernel on n1 relays their mesh data, every hop under CCMP."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.codec import DataFrame, decode
from meshframes.codec.mpdu import is_protected
from meshframes.hosts.pcap import mpdus
from meshframes.hwsim.scenarios import Recording, ampe_two_hop
from meshframes.layers.dissect import analyze
from meshframes.seal.capture import CaptureOpener
from meshframes.seal.wpalog import import_wpa_log

from . import recorded

pytestmark = pytest.mark.hwsim
two_hop = recorded(ampe_two_hop)


def test_both_links_reach_estab_on_both_sides(two_hop: tuple[Recording, Path]) -> None:
    recording, _ = two_hop
    u0, n1, u2, _ = recording.nodes
    for name in ("u0", "u2"):
        assert recording.states[name]["peers"][n1.mac]["state"] == "ESTAB"
    stations = recording.states["n1"]["stations"]
    assert all(stations[u.mac].plink == "ESTAB" and stations[u.mac].fields["MFP"] == "yes" for u in (u0, u2))


def test_the_kernel_relays_our_data_both_ways(two_hop: tuple[Recording, Path]) -> None:
    """Every envelope arrives; our nodes reach each other only through n1,
    each hop's frames protected on the air."""
    recording, pcap = two_hop
    u0, n1, u2, _ = recording.nodes
    assert recording.delivered == {"u0->u2": 3, "u2->u0": 3}
    for a, b in ((u0, u2), (u2, u0)):
        path = recording.states[f"u{a.index}"]["paths"][b.mac]
        assert (path["next_hop"], path["hop_count"]) == (n1.mac, 2), path
    hops = [(f.header.addr2, f.header.addr1, m) for _, m, _ in mpdus(pcap)
            if isinstance(f := decode(m), DataFrame) and f.body]
    pairs = {(a, b) for a, b, _ in hops}
    for a, b in ((u0, n1), (n1, u2), (u2, n1), (n1, u0)):
        assert (a.mac_bytes, b.mac_bytes) in pairs, f"no data frame from {a.mac} to {b.mac}"
    assert (u0.mac_bytes, u2.mac_bytes) not in pairs and (u2.mac_bytes, u0.mac_bytes) not in pairs
    assert all(is_protected(m) for _, _, m in hops)


def test_both_sides_keys_open_every_protected_frame(two_hop: tuple[Recording, Path]) -> None:
    """Our nodes' exported keys with wpa_supplicant's logged ones open every
    protected frame, and the plaintext decodes whole."""
    recording, pcap = two_hop
    assert recording.capture_keys is not None
    opener = CaptureOpener(recording.capture_keys.merged(import_wpa_log(recording.wpa_logs["n1"])))
    result, _ = analyze(pcap, unseal=opener)
    assert opener.decrypted > 0 and dict(opener.undecryptable) == {}
    assert (result.encrypted, result.undecoded, result.malformed) == (0, [], [])

"""Our secure mesh against wpa_supplicant's on real hwsim radios: n0 is a
wpa_supplicant 2.10 mesh point (mode 5, key_mgmt SAE, user_mpm, PMF), u1
our MeshNode with `sae=True`. With the same passphrase, SAE then AMPE
bring the link to ESTAB on both sides, whichever starts first, and CCMP
data flows both ways; with another passphrase SAE fails on both sides and
nothing peers. wpa_supplicant's own key log (-dd -K) is the independent
check on what our AMPE exchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.codec import Beacon, DataFrame, SelfProtected, decode
from meshframes.codec.mpdu import is_protected
from meshframes.hosts.pcap import mpdus
from meshframes.hwsim.scenarios import (
    WPA_CONFIRM_MISMATCH,
    Recording,
    ampe_ours_first,
    ampe_theirs_first,
    ampe_wrong_password,
)
from meshframes.layers.dissect import analyze
from meshframes.seal.capture import CaptureOpener
from meshframes.seal.errors import SaeRefusal
from meshframes.seal.keyfile import IntegrityKey, LinkKey
from meshframes.seal.wpalog import import_wpa_log

from . import recorded

pytestmark = pytest.mark.hwsim
theirs_first = recorded(ampe_theirs_first)
ours_first = recorded(ampe_ours_first)
wrong_password = recorded(ampe_wrong_password)


@pytest.fixture(params=["theirs_first", "ours_first"])
def interop(request: pytest.FixtureRequest) -> tuple[Recording, Path]:
    recording: tuple[Recording, Path] = request.getfixturevalue(request.param)
    return recording


def beacon_senders(pcap: Path) -> list[bytes]:
    return [f.header.addr2 for f in (decode(m) for _, m, _ in mpdus(pcap)) if isinstance(f, Beacon)]


def test_the_orders_differ_on_the_air(theirs_first: tuple[Recording, Path],
                                      ours_first: tuple[Recording, Path]) -> None:
    """Ours first: u1 had sent two beacons before wpa_supplicant started,
    so those lead the capture. Theirs first: n0 had joined its mesh before
    u1 started, so its first beacon (due within one beacon interval of
    joining) comes before u1's second; u1 beacons as soon as it starts, so
    it may still be heard first."""
    recording, pcap = ours_first
    n0, u1, _ = recording.nodes
    beacons = beacon_senders(pcap)
    assert beacons[:2] == [u1.mac_bytes] * 2 and n0.mac_bytes in beacons, recording.timeline.render()
    recording, pcap = theirs_first
    n0, u1, _ = recording.nodes
    beacons = beacon_senders(pcap)
    u1_second = [index for index, sender in enumerate(beacons) if sender == u1.mac_bytes][1]
    assert beacons.index(n0.mac_bytes) < u1_second, recording.timeline.render()


def test_both_sides_reach_estab(interop: tuple[Recording, Path]) -> None:
    recording, _ = interop
    n0, u1, _ = recording.nodes
    assert recording.states["u1"]["peers"][n0.mac]["state"] == "ESTAB"
    assert recording.states["n0"]["stations"][u1.mac].plink == "ESTAB"
    assert recording.states["n0"]["stations"][u1.mac].fields["MFP"] == "yes"


def test_ccmp_data_both_ways(interop: tuple[Recording, Path]) -> None:
    """Every envelope arrives, and every data frame between the two went
    protected on the air."""
    recording, pcap = interop
    n0, u1, _ = recording.nodes
    assert recording.delivered == {"n0->u1": 3, "u1->n0": 3}
    data = [(f.header.addr2, m) for _, m, _ in mpdus(pcap) if isinstance(f := decode(m), DataFrame) and f.body]
    for a, b in ((n0, u1), (u1, n0)):
        assert any(sender == a.mac_bytes for sender, _ in data), f"no data frame from {a.mac} to {b.mac}"
    assert all(is_protected(m) for _, m in data)


def test_both_sides_hold_the_same_keys(interop: tuple[Recording, Path]) -> None:
    """What wpa_supplicant logged is what our engine holds: one MTK for the
    link, each side's MGTK and IGTK as the other learned it from AMPE."""
    recording, _ = interop
    n0, u1, _ = recording.nodes
    theirs = import_wpa_log(recording.wpa_logs["n0"])
    ours = recording.capture_keys
    assert ours is not None
    link = LinkKey.of(n0.mac_bytes, u1.mac_bytes, next(k.tk for k in ours.pairwise))
    assert set(theirs.pairwise) == set(ours.pairwise) == {link}
    assert {k.transmitter for k in ours.group} == {n0.mac_bytes, u1.mac_bytes}
    assert set(ours.group) == set(theirs.group)
    assert {(k.transmitter, k.key_id) for k in ours.integrity} == {(n0.mac_bytes, 4), (u1.mac_bytes, 4)}
    assert set(ours.integrity) == set(theirs.integrity)
    assert all(isinstance(k, IntegrityKey) for k in theirs.integrity)


def test_wpa_supplicant_keys_open_every_protected_frame(interop: tuple[Recording, Path]) -> None:
    recording, pcap = interop
    opener = CaptureOpener(import_wpa_log(recording.wpa_logs["n0"]))
    result, _ = analyze(pcap, unseal=opener)
    assert opener.decrypted > 0 and dict(opener.undecryptable) == {}
    assert (result.encrypted, result.undecoded, result.malformed) == (0, [], [])


def test_a_wrong_password_fails_on_both_sides(wrong_password: tuple[Recording, Path]) -> None:
    """Our engine counts the Confirm mismatch, wpa_supplicant logs its own,
    no peering frame passes between them and neither lists a link."""
    recording, pcap = wrong_password
    n0, u1, _ = recording.nodes
    u1_state = recording.states["u1"]
    assert u1_state["counters"].get(str(SaeRefusal.CONFIRM_MISMATCH), 0) > 0
    assert n0.mac not in u1_state["sae"]["pmkids"]
    assert WPA_CONFIRM_MISMATCH in recording.wpa_logs["n0"]
    assert u1_state["peers"].get(n0.mac, {}).get("state") != "ESTAB"
    station = recording.states["n0"]["stations"].get(u1.mac)
    assert station is None or station.plink != "ESTAB"
    peering = [f for f in (decode(m) for _, m, _ in mpdus(pcap)) if isinstance(f, SelfProtected)]
    assert peering == []

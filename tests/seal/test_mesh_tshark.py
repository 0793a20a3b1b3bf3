"""tshark decrypts the capture of a secure simulated mesh given the keys the
stations agreed: the MTK of one link opens exactly that link's frames, the
MGTK of one station exactly its group-addressed frames. An independent
check that the keys AMPE installs are used as IEEE 802.11 CCMP keys."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from meshframes.codec.header import BROADCAST
from meshframes.hosts.pcap import mpdus
from meshframes.mesh.constants import MeshConfig
from meshframes.seal import ccmp
from meshframes.sim.network import SimNetwork, chain, sim_mac

from .test_tshark import run_tshark

pytestmark = pytest.mark.tshark


@pytest.fixture(scope="module")
def secure_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimNetwork]:
    pcap = tmp_path_factory.mktemp("secure") / "secure.pcap"
    net = chain(3, 20.0, mesh=MeshConfig(passphrase="tshark knows this key"), pcap=pcap)
    net.send_payload(0, 2, b"order for tshark", at=3.0)
    net.send_data(0, BROADCAST, bytes.fromhex("aaaa03000000" "88b5") + b"flood for tshark", at=3.2)
    net.run(4.0)
    net.close()
    assert [d.node for d in net.deliveries if d.message.source == sim_mac(0)] == [2, 1, 2]
    return pcap, net


def our_plaintext(frame: bytes, tk: bytes) -> bytes:
    header_len, aad, flags, _, pn = ccmp.parse_protected(frame)
    return ccmp.decapsulate(ccmp.new_cipher(tk), frame, header_len, aad, flags, pn)[header_len:]


def test_tshark_decrypts_one_link_with_its_mtk(secure_run: tuple[Path, SimNetwork]) -> None:
    """With the MTK of link 0-1, tshark decrypts every protected frame on
    that link, in both directions, to the body we opened, and no frame of
    another link or of a group."""
    pcap, net = secure_run
    rsn = net.nodes[0].node.rsn
    assert rsn is not None
    mtk = rsn.link_key(sim_mac(1))
    assert mtk is not None
    frames = [mpdu for _, mpdu, _ in mpdus(pcap)]
    decrypted = run_tshark(pcap, mtk)
    assert len(decrypted) == len(frames)
    link = {(sim_mac(0), sim_mac(1)), (sim_mac(1), sim_mac(0))}
    opened = []
    for frame, body in zip(frames, decrypted, strict=True):
        if frame[1] & ccmp.FC1_PROTECTED and (frame[10:16], frame[4:10]) in link:
            assert body is not None and body == our_plaintext(frame, mtk)
            opened.append(body)
        else:
            assert body is None
    # Station 1's PREP to 0 (HWMP, category 13) and the order 0 sends to 1
    # (FastPay, category 126 and our OUI).
    assert any(body[:2] == bytes((13, 1)) for body in opened)
    assert any(body[:4] == bytes.fromhex("7e0a4d46") and b"order for tshark" in body for body in opened)


def test_tshark_decrypts_a_stations_group_frames_with_its_mgtk(secure_run: tuple[Path, SimNetwork]) -> None:
    """With station 0's MGTK, tshark decrypts the group-addressed frames
    station 0 sent (its PREQ flood, its broadcast data) and nothing else."""
    pcap, net = secure_run
    rsn = net.nodes[0].node.rsn
    assert rsn is not None
    frames = [mpdu for _, mpdu, _ in mpdus(pcap)]
    decrypted = run_tshark(pcap, rsn.mgtk.tk)
    ours = [f[1] & ccmp.FC1_PROTECTED and f[4:10] == BROADCAST and f[10:16] == sim_mac(0) for f in frames]
    assert sum(ours) >= 2
    for frame, mine, body in zip(frames, ours, decrypted, strict=True):
        assert (body == our_plaintext(frame, rsn.mgtk.tk)) if mine else body is None
    assert any(b"flood for tshark" in body for body in decrypted if body)


def test_tshark_reads_secure_beacons_and_ampe_peering_frames(secure_run: tuple[Path, SimNetwork]) -> None:
    """tshark, the format oracle, on the same capture: beacons and peering
    Open/Confirm say authentication protocol 0, AKM PSK and Privacy; every
    peering frame names protocol 1 (AMPE), has a 16-octet MIC and the
    encrypted AMPE element (2 + 96 octets in an Open, 2 + 68 in a Confirm);
    no frame is malformed."""
    pcap, _ = secure_run
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.fail("tshark is not installed: run tools/bootstrap (Debian package tshark)")
    fields = ["wlan.fc.type_subtype", "wlan.fixed.selfprot_action", "wlan.peering.proto",
              "wlan.mesh.config.auth_protocol", "wlan.rsn.akms.type", "wlan.fixed.capabilities.privacy",
              "wlan.mesh.mic", "wlan.mesh.ampe.encrypted_data", "_ws.malformed"]
    out = subprocess.run(
        [tshark, "-r", str(pcap), "-Y", "wlan.fc.type_subtype == 8 || wlan.fixed.category_code == 15",
         "-T", "fields", *[arg for field in fields for arg in ("-e", field)]],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout
    rows = [dict(zip(fields, line.split("\t"), strict=True)) for line in out.splitlines()]
    peering = [r for r in rows if r["wlan.fixed.selfprot_action"]]
    assert len(peering) >= 4 and len(rows) > len(peering)
    for row in rows:
        assert row["_ws.malformed"] == ""
        assert (row["wlan.mesh.config.auth_protocol"], row["wlan.rsn.akms.type"],
                row["wlan.fixed.capabilities.privacy"]) == ("0x00", "2", "1")
    for row in peering:
        assert int(row["wlan.peering.proto"], 16) == 1
        assert len(bytes.fromhex(row["wlan.mesh.mic"])) == 16
        ampe_len = {"0x01": 2 + 120, "0x02": 2 + 68}[row["wlan.fixed.selfprot_action"]]
        assert len(bytes.fromhex(row["wlan.mesh.ampe.encrypted_data"])) == ampe_len

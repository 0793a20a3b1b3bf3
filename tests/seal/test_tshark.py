"""tshark, given our TK, decrypts what we seal: an independent check that our
CCMP is the standard's, on every kind of frame we send."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from scapy.utils import RawPcapWriter

from meshframes.seal import ccmp
from meshframes.seal.hop import HopSealer
from meshframes.seal.keys import GroupKey

from .conftest import MAC_A, MAC_B, MAC_C
from .frames import BROADCAST, action, fastpay_body, fastpay_frame, mesh_control, mesh_data, qos_data

pytestmark = pytest.mark.tshark

TK = bytes.fromhex("c0ffee00112233445566778899aabbcc")
LINKTYPE_IEEE802_11 = 105
_HEX_LINE = re.compile(r"^[0-9a-f]{4}  ")


def plaintext_frames() -> dict[str, bytes]:
    return {
        "mesh data, 4 addresses, TID 5": mesh_data(MAC_A, MAC_B, MAC_A, MAC_C, b"FastPay over mesh data", tid=5),
        "FastPay action, category 126, A5/A6": fastpay_frame(MAC_A, MAC_B, MAC_A, MAC_C, b"order:" + bytes(range(150))),
        "group FastPay action": action(BROADCAST, MAC_A, MAC_A, fastpay_body(b"announce", mesh_da=BROADCAST, mesh_sa=MAC_A)),
        "group mesh data, A4 in Mesh Control": qos_data(
            BROADCAST, MAC_A, MAC_A, mesh_control(31, 9, (MAC_C,)) + bytes.fromhex("aaaa03000000" "88b5") + b"flood"
        ),
        "mesh data with HT Control": qos_data(MAC_B, MAC_A, MAC_C, mesh_control(31, 2) + b"htc", a4=MAC_A, order=True),
    }


def run_tshark(pcap: Path, tk: bytes) -> list[bytes | None]:
    """The "Decrypted CCMP data" of each frame tshark could decrypt, in order
    (None where it could not)."""
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.fail("tshark is not installed: run tools/bootstrap (Debian package tshark)")
    out = subprocess.run(
        [tshark, "-r", str(pcap), "-o", "wlan.enable_decryption:TRUE", "-o", f'uat:80211_keys:"tk","{tk.hex()}"', "-x"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    # With -x, tshark prints one blank-line separated block per frame; a
    # frame it decrypted has a second data source, "Decrypted CCMP data".
    decrypted: list[bytes | None] = []
    for block in out.strip("\n").split("\n\n"):
        _, found, rest = block.partition("Decrypted CCMP data")
        lines = rest.splitlines()[1:]
        decrypted.append(bytes.fromhex("".join(line[6:54] for line in lines if _HEX_LINE.match(line))) if found else None)
    return decrypted


def write_pcap(path: Path, frames: list[bytes]) -> None:
    with RawPcapWriter(str(path), linktype=LINKTYPE_IEEE802_11, sync=True) as writer:
        for frame in frames:
            writer.write(frame)


@pytest.fixture
def sealed(tmp_path) -> tuple[Path, dict[str, bytes]]:
    sealer = HopSealer(MAC_A)
    sealer.keys.install_pairwise(MAC_B, TK)
    sealer.keys.install_group_tx(GroupKey(TK, 1))
    plain = plaintext_frames()
    pcap = tmp_path / "sealed.pcap"
    write_pcap(pcap, [sealer.seal(frame) for frame in plain.values()])
    return pcap, plain


def test_tshark_decrypts_what_we_sealed(sealed):
    """Every sealed data and protected action frame decrypts in tshark to the
    exact frame body we sealed."""
    pcap, plain = sealed
    decrypted = run_tshark(pcap, TK)
    assert len(decrypted) == len(plain)
    for (kind, frame), body in zip(plain.items(), decrypted, strict=True):
        header_len, _, _ = ccmp.frame_layout(frame)
        assert body == frame[header_len:], kind


def test_tshark_decrypts_nothing_with_another_key(sealed):
    """Negative control: with a different TK tshark recovers no plaintext."""
    pcap, plain = sealed
    assert run_tshark(pcap, bytes(16)) == [None] * len(plain)

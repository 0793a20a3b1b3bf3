"""Importing a mesh's keys from wpa_supplicant's debug log (-d -K): the
lines wpa_supplicant 2.10 prints, each way a log is refused, and a fuzz
that a log of any shape gives keys or a named refusal."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshframes.seal.keyfile import CaptureKeys, IntegrityKey, LinkKey, TransmitterKey
from meshframes.seal.wpalog import WpaLogError, WpaLogProblem, import_wpa_log

N0 = bytes.fromhex("020000000000")
N1 = bytes.fromhex("020000000100")
P2P = bytes.fromhex("420000000000")
MTK = bytes.fromhex("841672bf89d0c9e99844aefe55af6aae")
OWN_MGTK = bytes.fromhex("7f4debb5dee249fd56dc7b5dca1789ab")
OWN_IGTK = bytes.fromhex("27a0373ff46208b8474ca38f623dd66e")
PEER_MGTK = bytes.fromhex("041295ce0640ef27e0d5b95a98740b1f")
PEER_IGTK = bytes.fromhex("91ebb5dbdab9a05c570361e8a8575da9")


def _hex(key: bytes) -> str:
    return " ".join(f"{b:02x}" for b in key)


# Lines as wpa_supplicant 2.10 writes them with -d -K -t (taken from the
# logs recorded beside pcaps/linux-kernel-sae.pcap), with others between.
LOG = f"""1796473924.985595: wlan0: Own MAC address: 02:00:00:00:00:00
1796473933.477453: p2p-dev-wlan0: Own MAC address: 42:00:00:00:00:00
1796473943.157350: Using interface wlan0 with hwaddr 02:00:00:00:00:00 and ssid ""
1796473943.266904: mesh: Own TX IGTK - hexdump(len=16): {_hex(OWN_IGTK)}
1796473943.277140: wpa_driver_nl80211_set_key: ifindex=2 (wlan0) alg=4 addr=0x55f0380d74c0 key_idx=4 set_tx=1
1796473947.322947: mesh: Own TX MGTK - hexdump(len=16): {_hex(OWN_MGTK)}
1796473956.287968: mesh: GTKdata - MGTK - hexdump(len=16): {_hex(PEER_MGTK)}
1796473956.294488: mesh: IGTKdata - Key ID 5
1796474019.903013: wlan0: mesh plink with 02:00:00:00:01:00 established
1796474019.907718: mesh: MTK - hexdump(len=16): {_hex(MTK)}
1796474019.908000: mesh: RX MGTK Key RSC - hexdump(len=8): 00 00 00 00 00 00 00 00
1796474019.908100: mesh: RX MGTK - hexdump(len=16): {_hex(PEER_MGTK)}
1796474019.908200: mesh: RX IGTK Key RSC - hexdump(len=6): 00 00 00 00 00 00
1796474019.908300: mesh: RX IGTK - hexdump(len=16): {_hex(PEER_IGTK)}
1796474020.528088: wlan0: mesh plink with 02:00:00:00:01:00 closed with reason 55
"""


def test_a_log_gives_the_link_key_and_both_ends_group_keys() -> None:
    """Our MGTK and IGTK under hostap's key ids 1 and 4, the link's MTK
    for us and the peer named by the line before it, the peer's MGTK
    (key id 1) and IGTK (the key id its IGTKdata named); the P2P device's
    address is not taken for ours."""
    assert import_wpa_log(LOG) == CaptureKeys(
        pairwise=(LinkKey.of(N0, N1, MTK),),
        group=(TransmitterKey(N0, 1, OWN_MGTK), TransmitterKey(N1, 1, PEER_MGTK)),
        integrity=(IntegrityKey(N0, 4, OWN_IGTK), IntegrityKey(N1, 5, PEER_IGTK)),
    )


def test_without_timestamps_and_without_the_bss_line() -> None:
    """A log without -t reads the same; without the BSS setup line, the
    address of the interface whose link was established is ours."""
    lines = [line.partition(": ")[2] for line in LOG.splitlines() if "Using interface" not in line]
    keys = import_wpa_log("\n".join(line for line in lines if "Own TX" not in line))
    assert keys.pairwise == (LinkKey.of(N0, N1, MTK),)
    assert P2P not in {k.transmitter for k in keys.group}


REFUSED = [
    (LOG.replace(_hex(MTK), "[REMOVED]"), WpaLogProblem.KEYS_REMOVED, 10),
    ("\n".join(line for line in LOG.splitlines() if "Own MAC" not in line and "Using" not in line),
     WpaLogProblem.NO_OWN_ADDRESS, 1),
    ("\n".join(line for line in LOG.splitlines() if "established" not in line), WpaLogProblem.NO_PEER, 9),
    (LOG.replace(f"MTK - hexdump(len=16): {_hex(MTK)}", f"MTK - hexdump(len=16): {_hex(MTK[:8])}"),
     WpaLogProblem.BAD_HEXDUMP, 10),
    (LOG.replace(f"MTK - hexdump(len=16): {_hex(MTK)}", f"MTK - hexdump(len=32): {_hex(MTK * 2)}"),
     WpaLogProblem.BAD_KEY, 10),
    ("wlan0: Own MAC address: 02:00:00:00:00:00\nnothing else\n", WpaLogProblem.NO_KEYS, 0),
    ("x" * ((256 << 20) + 1), WpaLogProblem.TOO_LARGE, 0),
]


@pytest.mark.parametrize("text, problem, line", REFUSED, ids=[str(p) for _, p, _ in REFUSED])
def test_each_refusal_names_its_problem_and_line(text: str, problem: WpaLogProblem, line: int) -> None:
    with pytest.raises(WpaLogError) as refused:
        import_wpa_log(text)
    assert (refused.value.problem, refused.value.line) == (problem, line), str(refused.value)


def test_every_problem_has_a_case() -> None:
    assert {p for _, p, _ in REFUSED} == set(WpaLogProblem)


_LINES = st.sampled_from(LOG.splitlines()) | st.sampled_from([
    "mesh: MTK - hexdump(len=16): 00 11",
    "mesh: MTK - hexdump(len=99999999999999999999): 00",
    "mesh: RX MGTK - hexdump(len=0):",
    "mesh: IGTKdata - Key ID 99",
    "mesh: IGTKdata - Key ID 4",
    "wlan0: mesh plink with ff:ff:ff:ff:ff:ff established",
    "Using interface wlan0 with hwaddr 03:00:00:00:00:00 and ssid \"\"",
    "mesh: Own TX MGTK - hexdump(len=16): [REMOVED]",
]) | st.text(max_size=60)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINES, max_size=25))
def test_fuzz_any_log_gives_keys_or_a_named_refusal(lines: list[str]) -> None:
    """Real lines, damaged lines and junk in any order: the importer returns
    keys that make a valid key file or refuses with a WpaLogProblem."""
    try:
        keys = import_wpa_log("\n".join(lines))
    except WpaLogError as refused:
        assert refused.problem in WpaLogProblem
    else:
        assert len(keys) > 0

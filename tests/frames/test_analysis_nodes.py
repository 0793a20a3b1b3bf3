"""Per-node frames and air time in `analyze`."""

from __future__ import annotations

from pathlib import Path

from meshframes.analysis.sections import airtime_us
from meshframes.hosts import tshark
from meshframes.hosts.analyze import analyze_captures
from meshframes.layers.dissect import decode_mpdu

CHAIN = Path(__file__).resolve().parents[2] / "pcaps" / "linux-kernel-chain-perr.pcap"


def test_air_time_of_an_ack_is_the_standards() -> None:
    """An ACK (14 octets with FCS): 304 us at 1 Mb/s (DSSS, long preamble:
    192 us + 112 bits), 44 us at 6 Mb/s (OFDM: 20 us + 6 symbols of 24
    bits for 134), 28 us at 24 Mb/s (2 symbols of 96), 24 us at 54 Mb/s
    (1 symbol of 216)."""
    assert airtime_us(14, 10) == 304
    assert airtime_us(14, 60) == 44
    assert airtime_us(14, 240) == 28
    assert airtime_us(14, 540) == 24


def test_frames_per_transmitter_match_tshark() -> None:
    """Each node's frame count is the number of frames tshark gives its
    transmitter address; frames without one are counted apart."""
    nodes = analyze_captures([CHAIN], decode_mpdu).sections()["nodes"]
    theirs: dict[str, int] = {}
    without = 0
    for frame in tshark.fields(CHAIN, ["wlan.ta"]):
        if frame["wlan.ta"]:
            theirs[frame["wlan.ta"][0]] = theirs.get(frame["wlan.ta"][0], 0) + 1
        else:
            without += 1
    assert {n["address"]: n["frames"] for n in nodes["nodes"]} == theirs
    assert nodes["frames_without_transmitter"] == without
    assert all(n["airtime_us"] > 0 and n["frames_without_rate"] == 0 for n in nodes["nodes"])

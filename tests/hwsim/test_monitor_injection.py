"""Frames injected on one hwsim radio's monitor interface arrive unchanged on
another radio's monitor, through the real mac80211 and mac80211_hwsim
(meshframes.hosts.monitor on both ends).

One field is not ours to keep: like real hardware, mac80211 sets the
Duration/ID of every frame it transmits, injected ones included
(net/mac80211/tx.c, ieee80211_tx_h_calculate_duration): 0 for group-addressed
and control frames, the time of the ACK plus SIFS for unicast ones. The test
compares every other byte and checks the Duration against that rule.
"""

from __future__ import annotations

import pytest

from meshframes.hosts.base import RxFrame
from meshframes.hwsim import Guest
from meshframes.hwsim.framesets import InjectCase, fastpay_frame, inject_cases, kind_of
from meshframes.hwsim.radios import Node
from meshframes.hwsim.wait import wait_for

pytestmark = pytest.mark.hwsim
CASES = inject_cases()
PROBES = "meshframes.hwsim.probes"


@pytest.fixture(scope="module")
def monitor_pair(hwsim_guest: Guest) -> tuple[Node, Node]:
    sender, receiver = hwsim_guest.reset_radios(2)
    for node in (sender, receiver):
        node.add_monitor("mon0")
        node.call(f"{PROBES}:monitor_open", "mon0")
    return sender, receiver


@pytest.fixture(scope="module")
def injected(monitor_pair: tuple[Node, Node]) -> dict[str, object]:
    """Every case injected once, in one burst; what each side then saw."""
    sender, receiver = monitor_pair
    frames = [case.frame for case in CASES]
    receiver.call(f"{PROBES}:monitor_drain", "mon0")
    sender.call(f"{PROBES}:monitor_transmit", "mon0", frames)
    # Counted, not matched: unicast frames come back with a new Duration.
    received = receiver.call(f"{PROBES}:monitor_collect", "mon0", count=len(frames),
                             timeout=20.0)

    def echoes_counted() -> dict[str, int] | None:
        counters = sender.call(f"{PROBES}:monitor_drain", "mon0")
        return counters if counters["own_echo"] >= len(frames) else None

    sender_stats = wait_for(echoes_counted, "the sender's monitor reports a TX status for "
                            "each injected frame", timeout=10.0)
    return {
        "received": received,
        "sender": sender_stats,
        "receiver": receiver.call(f"{PROBES}:stats", "mon0"),
    }


def _without_duration(frame: bytes) -> bytes:
    """The frame without what the transmitting kernel rewrites: Duration/ID
    always (mac80211 computes it), and the Timestamp of a Probe Response,
    which mac80211_hwsim_tx() stamps with its TSF ("fake header transmission
    time") whatever the frame carried."""
    if frame[0] == 0x50 and len(frame) >= 32:  # management, subtype 5
        return frame[:2] + frame[4:24] + frame[32:]
    return frame[:2] + frame[4:]


def _received(injected: dict[str, object], case: InjectCase) -> RxFrame:
    received: list[RxFrame] = injected["received"]
    for frame in received:
        if _without_duration(frame.data) == _without_duration(case.frame):
            return frame
    same_kind = [f.data.hex() for f in received if kind_of(f.data) == kind_of(case.frame)]
    pytest.fail(f"{case.name} ({len(case.frame)} bytes) did not arrive unchanged; sent "
                f"{case.frame.hex()}, frames of the same kind that arrived: {same_kind}")


def expected_duration(frame: bytes, rate_100kbps: int) -> int:
    """Duration/ID (microseconds) mac80211 gives a frame it transmits."""
    is_control = (frame[0] >> 2) & 0x3 == 1
    if is_control or frame[4] & 0x01:
        return 0
    # DSSS/CCK rates, long preamble (802.11-2020 15.3.3, 16.3.2): 192 us of
    # preamble and header, then the 14-octet ACK, after one 10 us SIFS.
    if rate_100kbps not in (10, 20, 55, 110):
        pytest.fail(f"no Duration rule written down for rate {rate_100kbps / 10} Mb/s")
    return 10 + 192 + -(-14 * 8 * 10 // rate_100kbps)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_injected_frame_arrives_unchanged(injected: dict[str, object],
                                          case: InjectCase) -> None:
    """An injected frame reaches the other radio's monitor byte for byte but
    for the Duration its transmitter sets, with the signal and rate its
    radiotap header reported."""
    frame = _received(injected, case)
    assert frame.signal_dbm is not None and frame.signal_dbm < 0
    assert frame.rate_100kbps is not None and frame.rate_100kbps > 0
    duration = int.from_bytes(frame.data[2:4], "little")
    assert duration == expected_duration(case.frame, frame.rate_100kbps)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_received_frame_decodes_with_our_layers(injected: dict[str, object],
                                                case: InjectCase) -> None:
    """What came off the air decodes with our layers: nothing malformed,
    nothing left undecoded."""
    frame = _received(injected, case)
    from meshframes.layers.dissect import decode_mpdu

    decoded = decode_mpdu(frame.data)
    assert decoded.malformed is None, decoded.malformed
    assert decoded.undecoded is None, decoded.undecoded


def test_sender_drops_its_own_echoes(injected: dict[str, object]) -> None:
    """The sending monitor hears mac80211's report of each of its frames
    and counts it as an own echo instead of delivering it."""
    sender = injected["sender"]
    assert sender["transmitted"] == len(CASES)
    assert sender["own_echo"] == len(CASES)
    assert sender["delivered"] == 0
    assert injected["receiver"]["own_echo"] == 0


def test_addressed_only_keeps_frames_for_us_and_group(monitor_pair: tuple[Node, Node]) -> None:
    """With addressed_only, a radio keeps unicast frames for its own address
    and group-addressed frames, and counts the rest as not addressed."""
    sender, receiver = monitor_pair
    ours = bytes.fromhex(receiver.mac.replace(":", ""))
    other = bytes.fromhex("02aabbccddee")
    frames = {name: fastpay_frame(a1=a1, a2=sender.mac_bytes, message_type=8,
                                  payload=name.encode())
              for name, a1 in (("ours", ours), ("other", other), ("group", b"\xff" * 6))}
    receiver.call(f"{PROBES}:monitor_open", "mon0", addressed_only=True)
    try:
        sender.call(f"{PROBES}:monitor_transmit", "mon0", list(frames.values()))
        got = receiver.call(f"{PROBES}:monitor_collect", "mon0", count=2, timeout=10.0)
        stats = receiver.call(f"{PROBES}:monitor_drain", "mon0")
    finally:
        receiver.call(f"{PROBES}:monitor_open", "mon0")
    kept = sorted(_without_duration(f.data) for f in got)
    assert kept == sorted(_without_duration(frames[name]) for name in ("ours", "group"))
    assert stats["not_addressed"] == 1


def test_burst_arrives_without_loss(monitor_pair: tuple[Node, Node]) -> None:
    """A burst of 1,000 frames sent back to back all arrive: the receive
    buffer holds a burst that Scapy's sniffer would mostly lose."""
    sender, receiver = monitor_pair
    burst = [fastpay_frame(a1=b"\xff" * 6, a2=sender.mac_bytes, message_type=8,
                           payload=index.to_bytes(4, "little") * 40, mesh_sequence=index)
             for index in range(1000)]
    receiver.call(f"{PROBES}:monitor_drain", "mon0")
    sender.call(f"{PROBES}:monitor_transmit", "mon0", burst)
    got = receiver.call(f"{PROBES}:monitor_collect", "mon0", burst, timeout=30.0)
    sent = sender.call(f"{PROBES}:stats", "mon0")
    assert sent["tx_dropped"] == 0
    missing = len(set(burst) - {f.data for f in got})
    assert missing == 0, f"{missing} of {len(burst)} frames lost"

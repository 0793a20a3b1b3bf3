"""Our own hwsim recordings (pcaps/*.pcap, pcaps/README.md), checked
against tshark without booting anything: every frame decodes, the kinds
are counted as tshark counts them, and the HWMP elements, RANN included,
carry tshark's field values."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.codec import decode
from meshframes.codec.fastpay import MessageType
from meshframes.hosts import tshark
from meshframes.hosts.pcap import mpdus
from meshframes.layers.dissect import analyze
from meshframes.sim.replay import replay

PCAPS = Path(__file__).resolve().parents[2] / "pcaps"
RECORDINGS = sorted(PCAPS.glob("*.pcap"))

pytestmark = pytest.mark.tshark


def test_the_recordings_are_there() -> None:
    names = {p.name for p in RECORDINGS}
    assert {"linux-kernel-chain-perr.pcap", "linux-kernel-root.pcap", "linux-kernel-sae.pcap",
            "linux-meshframes-interop.pcap", "meshframes-userspace-chain.pcap",
            "linux-kernel-bridge.pcap", "meshframes-node-payment.pcap",
            "meshframes-node-payment-kernel.pcap"} <= names


def test_node_payment_recording_carries_every_fastpay_kind() -> None:
    """The air of three payments between `meshframes node` processes
    (pcaps/README.md): all eight FastPay message kinds, none undecoded,
    and nothing tshark calls malformed."""
    path = PCAPS / "meshframes-node-payment.pcap"
    result, _ = analyze(path)
    assert result.undecoded == [] and result.malformed == []
    kinds = {kind for kind in result.by_kind if kind.startswith("fastpay-")}
    assert len(kinds) == len(MessageType), sorted(kinds)
    assert tshark.malformed_frames(path) == []


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.name)
def test_recording_decodes_completely_with_tshark_counts(path: Path) -> None:
    """tshark cannot name our FastPay payloads: to it they are "other"."""
    result, _ = analyze(path)
    assert result.undecoded == [] and result.malformed == []
    folded: dict[str, int] = {}
    for kind, count in result.by_kind.items():
        key = "other" if kind.startswith("fastpay-") else kind
        folded[key] = folded.get(key, 0) + count
    assert folded == tshark.counts_by_kind(path)


def test_rann_fields_equal_tshark_s() -> None:
    """Linux's RANNs (root mode 4, gate announcements on) frame by frame."""
    path = PCAPS / "linux-kernel-root.pcap"
    result, _ = analyze(path)
    names = ["wlan.rann.flags", "wlan.rann.root_sta", "wlan.rann.rann_sn", "wlan.rann.interval",
             "wlan.hwmp.hopcount", "wlan.hwmp.ttl", "wlan.hwmp.metric"]
    theirs = tshark.fields(path, names)
    ranns = [r for r in result.hwmp if r["element"] == "RANN"]
    assert len(ranns) == tshark.counts_by_kind(path)["rann"]
    for record in ranns:
        frame = theirs[record["frame"]]
        assert [int(v, 0) for v in frame["wlan.rann.flags"]] == [record["flags"]]
        assert frame["wlan.rann.root_sta"] == [record["root_mesh_sta_address"]]
        assert [int(v) for v in frame["wlan.rann.rann_sn"]] == [record["hwmp_sn"]]
        assert [int(v) for v in frame["wlan.rann.interval"]] == [record["interval"]]
        assert [int(v) for v in frame["wlan.hwmp.hopcount"]] == [record["hop_count"]]
        assert [int(v) for v in frame["wlan.hwmp.ttl"]] == [record["element_ttl"]]
        assert [int(v) for v in frame["wlan.hwmp.metric"]] == [record["metric"]]
    assert {r["flags"] & 0x01 for r in ranns} == {1}  # the gate announcement bit


def test_linux_root_modes_replayed_at_the_relay_agree() -> None:
    """The relay n1 of a Linux chain whose end n0 is a root in modes 4, 3
    and 2 in turn (it hears every frame of the chain): our engine forwards
    the same RANNs and PREQs, answers with the same PREPs, starts the same
    discovery and sends data to the same next hop."""
    result = replay(PCAPS / "linux-kernel-root.pcap", bytes.fromhex("020000000100"))
    ours, captured = result.ours, result.captured
    assert captured.forwarded_ranns and captured.forwarded_preqs and captured.preps
    assert result.data_checked > 0 and result.next_hop_mismatches == []
    assert ours.forwarded_ranns == captured.forwarded_ranns
    assert ours.forwarded_preqs == captured.forwarded_preqs
    assert ours.preps == captured.preps
    assert ours.perr_destinations == captured.perr_destinations
    assert {t for _, t in ours.originated} == {t for _, t in captured.originated}


def test_linux_address_extension_equals_tshark_s() -> None:
    """Linux bridging hosts through the mesh: Mesh Control with A4 (mode 1,
    group) and A5/A6 (mode 2, unicast) as the kernel wrote them, frame by
    frame, against tshark; the proxied hosts are where they should be."""
    path = PCAPS / "linux-kernel-bridge.pcap"
    theirs = tshark.fields(path, ["wlan.fixed.mesh_flags", "wlan.fixed.mesh_addr4", "wlan.fixed.mesh_addr5",
                                  "wlan.fixed.mesh_addr6", "wlan.fixed.mesh_ttl"])
    modes: set[int] = set()
    for index, (_, mpdu, _) in enumerate(mpdus(path)):
        frame = decode(mpdu)
        control = getattr(frame, "mesh_control", None)
        if control is None:
            assert theirs[index]["wlan.fixed.mesh_ttl"] == []
            continue
        row = theirs[index]
        assert [int(v, 0) for v in row["wlan.fixed.mesh_flags"]] == [control.flags]
        assert [int(v, 0) for v in row["wlan.fixed.mesh_ttl"]] == [control.ttl]
        extension = [a.hex(":") for a in control.addr_ext]
        assert row["wlan.fixed.mesh_addr4"] + row["wlan.fixed.mesh_addr5"] + row["wlan.fixed.mesh_addr6"] == extension
        modes.add(control.flags & 0x03)
        if control.flags & 0x03:
            assert set(extension) & {"0a:00:00:00:00:11", "0a:00:00:00:00:22"}
    assert modes == {0, 1, 2}


def test_linux_bridged_frames_replayed_at_the_relay_agree() -> None:
    """The relay of the bridged chain forwards 6-address frames by their
    mesh DA: ours picks the same next hop for each and joins in the same
    discovery."""
    result = replay(PCAPS / "linux-kernel-bridge.pcap", bytes.fromhex("020000000100"))
    assert result.data_checked > 0 and result.next_hop_mismatches == []
    assert result.ours.forwarded_preqs == result.captured.forwarded_preqs
    assert result.ours.preps == result.captured.preps


def test_kernel_node_payment_recording_carries_every_fastpay_kind() -> None:
    """The same payments on the mesh transport (pcaps/README.md): every
    FastPay message rides in mesh data (ethertype 0x88B5) that Linux
    relays; all eight kinds are read from their clear FastPay header,
    nothing is undecoded, and nothing tshark calls malformed."""
    path = PCAPS / "meshframes-node-payment-kernel.pcap"
    result, _ = analyze(path)
    assert result.undecoded == [] and result.malformed == []
    assert len(result.fastpay_in_msdus) == len(MessageType), sorted(result.fastpay_in_msdus)
    assert not any(kind.startswith("fastpay-") for kind in result.by_kind)
    assert tshark.malformed_frames(path) == []


def test_fastpay_in_kernel_mesh_data_is_counted_apart_from_frame_kinds() -> None:
    """Linux and us exchanging FastPay envelopes as mesh data: the frames
    stay mesh data, as tshark counts them, and the 12 envelopes' FastPay
    header (announce) is counted beside."""
    result, _ = analyze(PCAPS / "linux-meshframes-interop.pcap")
    assert result.by_kind["mesh-data"] == 12
    assert dict(result.fastpay_in_msdus) == {"fastpay-announce": 12}

"""`meshframes inject` and `meshframes sniff` on Linux mesh point
interfaces, on hwsim radios: n0 and n1 are kernel mesh points peered with
each other, a third radio records the air. What `inject` hands to n0's
mesh interface is seen on the air by the recorder's monitor as the mesh
data n0's kernel made of it, and is delivered by n1's kernel, the Linux
peer, where `sniff` on n1's mesh interface decodes it. A managed interface
is refused by both verbs in one line."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from meshframes.codec import DataFrame, decode
from meshframes.codec.ethernet import msdu_of
from meshframes.codec.fastpay import ETHERTYPE_FASTPAY
from meshframes.hosts import tshark
from meshframes.hosts.pcap import mpdus
from meshframes.hwsim import Guest
from meshframes.hwsim.radios import mesh_chain
from meshframes.hwsim.wait import wait_for
from meshframes.layers.dissect import analyze

pytestmark = pytest.mark.hwsim
# This checkout's CLI (the guest's working directory is the checkout).
CLI = [sys.executable, "-c", "import sys; from meshframes.cli import main; sys.exit(main())"]
BROADCAST = "ff:ff:ff:ff:ff:ff"
# A host behind n0 that is no mesh station: what n0's kernel proxies.
PROXIED = "0a:00:00:00:00:33"


@pytest.fixture(scope="module")
def exchanged(hwsim_guest: Guest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """n1's sniffer starts on its mesh interface; n0 injects a FastPay order
    to n1, a FastPay announcement to everyone, a mesh data frame to n1 and
    one from a proxied source on its own mesh interface; the sniffer stops
    by itself after four."""
    n0, n1, recorder = hwsim_guest.reset_radios(3)
    refusals = {verb: recorder.run([*CLI, *argv, "--iface", recorder.wlan], check=False) for verb, argv in
                (("inject", ["inject", "fastpay-order"]), ("sniff", ["sniff", "--count", "1"]))}
    mesh_chain([n0, n1])
    capture = recorder.start_capture("mesh-point-air.pcap")
    sniffed_host, sniffed_guest = hwsim_guest.io_path("mesh-point-sniffed.pcap")
    sniffer = n1.spawn([*CLI, "sniff", "--iface", n1.wlan, "--count", "4", "--json", "--pcap", sniffed_guest])
    sniffer.expect(r"listening on", timeout=120.0)
    injections = [n0.run([*CLI, "inject", kind, "--iface", n0.wlan, "--dst", dst, *more], timeout=120.0,
                         check=False)
                  for kind, dst, more in (("fastpay-order", n1.mac, []), ("fastpay-announce", BROADCAST, []),
                                          ("mesh-data", n1.mac, []), ("mesh-data", n1.mac, ["--src", PROXIED]))]
    beacon = n0.run([*CLI, "inject", "beacon", "--iface", n0.wlan], timeout=120.0, check=False)
    wait_for(lambda: sniffer.output()[0] is not None, "the sniffer on n1's mesh interface has 4 frames",
             timeout=120.0, interval=0.5, describe=lambda _: repr(sniffer.output()))
    sniffed = sniffer.stop()
    air = capture.stop()
    keep = tmp_path_factory.mktemp("mesh-point")
    shutil.copy(air, keep / "air.pcap")
    shutil.copy(sniffed_host, keep / "sniffed.pcap")
    return {"n0": n0, "n1": n1, "recorder": recorder, "refusals": refusals, "injections": injections,
            "beacon": beacon, "sniffed": sniffed, "air": keep / "air.pcap", "pcap": keep / "sniffed.pcap"}


def test_injections_on_a_mesh_point_are_handed_to_the_kernel(exchanged: dict[str, object]) -> None:
    """Each inject exits 0 and says it handed one MSDU to n0's mesh point
    (the last as a proxy); a beacon is refused there with status 2, naming
    the kinds it takes."""
    n0 = exchanged["n0"]
    for result in exchanged["injections"]:
        assert result.returncode == 0, (result.argv, result.stdout, result.stderr)
        assert f"to the mesh point {n0.wlan}" in result.stderr
    assert f"as a proxy for {PROXIED}" in exchanged["injections"][-1].stderr
    beacon = exchanged["beacon"]
    assert beacon.returncode == 2 and f"beacon cannot be sent on mesh point {n0.wlan}" in beacon.stderr
    assert "mesh-data, fastpay-order" in beacon.stderr


def test_sniff_on_the_peer_s_mesh_point_decodes_what_its_kernel_delivers(exchanged: dict[str, object]) -> None:
    """n1's kernel delivers the four MSDUs from n0, with 802.11 framing
    removed: the FastPay order and announcement named from their header,
    the mesh data's payload (no FastPay header) counted as undecoded, the
    proxied one from its proxied source, and nothing else: no beacon,
    peering or HWMP frame comes up a mesh point."""
    n0, n1 = exchanged["n0"], exchanged["n1"]
    result = exchanged["sniffed"]
    assert result.returncode == 0, (result.stdout, result.stderr)
    report = json.loads(result.stdout)
    assert (report["iface"], report["iface_kind"], report["stopped"]) == (n1.wlan, "mesh point", "count")
    assert report["by_kind"] == {"msdu": 4} and report["malformed"] == []
    assert report["fastpay_in_msdus"] == {"fastpay-announce": 1, "fastpay-order": 1}
    assert [u["reason"].startswith("ethertype 0x88b5 without a FastPay header") for u in report["undecoded_frames"]] \
        == [True, True]
    assert sorted((m["src"], m["dst"], m["ethertype"], m["group"], m["fastpay"] or "") for m in report["msdus"]) \
        == sorted([(PROXIED, n1.mac, "0x88b5", False, ""), (n0.mac, n1.mac, "0x88b5", False, ""),
                   (n0.mac, n1.mac, "0x88b5", False, "fastpay-order"),
                   (n0.mac, BROADCAST, "0x88b5", True, "fastpay-announce")])
    assert report["transport"]["delivered"] == 4 and report["transport"]["group"] == 1


def test_the_sniffed_pcap_holds_the_ethernet_frames(exchanged: dict[str, object]) -> None:
    """The sniffer's pcap (link type 1) reads in tshark as the same four
    Ethernet frames."""
    rows = tshark.fields(exchanged["pcap"], ["eth.src", "eth.dst", "eth.type"])
    n0, n1 = exchanged["n0"], exchanged["n1"]
    report = json.loads(exchanged["sniffed"].stdout)
    assert [(r["eth.src"], r["eth.dst"], r["eth.type"]) for r in rows] == [
        ([m["src"]], [m["dst"]], ["0x88b5"]) for m in report["msdus"]]
    assert {r["eth.src"][0] for r in rows} == {n0.mac, PROXIED}
    assert {r["eth.dst"][0] for r in rows} == {n1.mac, BROADCAST}


def test_the_monitor_sees_what_the_kernel_made_of_each_msdu(exchanged: dict[str, object]) -> None:
    """On the air, n0's kernel sent each MSDU as mesh data with Mesh
    Control, the proxied one with address extension (A6 the proxied
    source): the MSDUs of n0's frames are exactly those n1 delivered."""
    n0 = exchanged["n0"]
    report = json.loads(exchanged["sniffed"].stdout)
    sent = []
    proxied = []
    for _, mpdu, _ in mpdus(exchanged["air"]):
        frame = decode(mpdu)
        if isinstance(frame, DataFrame) and frame.header.addr2 == n0.mac_bytes and frame.mesh_control is not None \
                and frame.body:
            msdu = msdu_of(frame)
            if frame.mesh_control.addr6 is not None:
                proxied.append((frame.mesh_control.addr5, frame.mesh_control.addr6, frame.header.addr4))
            if msdu.ethertype == ETHERTYPE_FASTPAY:
                sent.append((msdu.src.hex(":"), msdu.dst.hex(":"), len(msdu.payload)))
    assert sorted(sent) == sorted((m["src"], m["dst"], m["length"]) for m in report["msdus"])
    assert proxied == [(exchanged["n1"].mac_bytes, bytes.fromhex(PROXIED.replace(":", "")), n0.mac_bytes)]
    analysis, _ = analyze(exchanged["air"])
    assert analysis.fastpay_in_msdus["fastpay-order"] == 1
    assert analysis.fastpay_in_msdus["fastpay-announce"] >= 1  # n0's, and n1's if it floods it on
    assert analysis.malformed == []


def test_a_managed_interface_is_refused_in_one_line(exchanged: dict[str, object]) -> None:
    """The recorder's radio, before it recorded, had the managed interface
    hwsim makes: neither verb takes it, each says so in one line."""
    wlan = exchanged["recorder"].wlan
    inject, sniff = exchanged["refusals"]["inject"], exchanged["refusals"]["sniff"]
    assert (inject.returncode, inject.stdout) == (1, "")
    assert inject.stderr.strip().splitlines() == [
        f"error: --iface {wlan}: a wireless interface of type managed, neither a monitor nor a mesh point; "
        f"make a monitor (`iw phy PHY interface add {wlan} type monitor`) or a mesh point "
        f"(`iw dev {wlan} set type mp`, `iw dev {wlan} mesh join ID`)"]
    assert (sniff.returncode, sniff.stdout) == (1, "")
    assert len(sniff.stderr.strip().splitlines()) == 1
    assert f"cannot capture on {wlan}: a wireless interface of type managed" in sniff.stderr

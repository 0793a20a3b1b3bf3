"""Our userspace nodes on real radios: three MeshNodes, each driven by
NodeHost over an active monitor of its own hwsim radio, in a chain
u0 - u1 - u2 shaped in the medium (hwsim groups: u0 and u2 never hear each
other), recorded by a fourth radio. They peer, HWMP finds the two-hop path
and a signed FastPay order crosses it both ways; tshark and our analyzer
read the recording independently of the nodes' own tables. Then the same
over a secure mesh (AMPE peering, every frame CCMP-sealed per hop), which
tshark decrypts with the keys the nodes agreed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from meshframes.codec.mpdu import is_protected
from meshframes.fastpay.checks import check_order
from meshframes.fastpay.messages import TransferOrder
from meshframes.fastpay.wire import decode_message
from meshframes.hosts import tshark as hosts_tshark
from meshframes.hosts.pcap import mpdus
from meshframes.hwsim import Guest, tshark
from meshframes.hwsim.scenarios import Recording, kept, transfer_order, userspace_chain
from meshframes.layers.dissect import analyze
from meshframes.seal import ccmp
from meshframes.seal.capture import CaptureOpener

pytestmark = pytest.mark.hwsim
BROADCAST = "ff:ff:ff:ff:ff:ff"
PASSPHRASE = "hwsim secure chain"
CATEGORY_VENDOR, CATEGORY_VENDOR_PROTECTED = 127, 126


def _run(guest: Guest, tmp_path_factory: pytest.TempPathFactory, name: str,
         passphrase: str | None) -> tuple[Recording, Path]:
    return kept(userspace_chain(guest, passphrase=passphrase), tmp_path_factory.mktemp(name))


@pytest.fixture(scope="module")
def chain(hwsim_guest: Guest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Recording, Path]:
    return _run(hwsim_guest, tmp_path_factory, "userspace-chain", None)


@pytest.fixture(scope="module")
def frames(chain: tuple[Recording, Path]) -> list[dict[str, str]]:
    return tshark.rows(chain[1])


def _macs(recording: Recording) -> tuple[str, str, str]:
    u0, u1, u2, _ = recording.nodes
    return u0.mac, u1.mac, u2.mac



def test_chain_links_are_estab_in_our_peer_tables(chain: tuple[Recording, Path]) -> None:
    """u1 is ESTAB with both ends; each end is ESTAB with u1 and has never
    even heard the other end."""
    recording = chain[0]
    u0, u1, u2 = _macs(recording)
    peers = {name: {mac: peer["state"] for mac, peer in state["peers"].items()}
             for name, state in recording.states.items()}
    assert peers == {"u0": {u1: "ESTAB"}, "u1": {u0: "ESTAB", u2: "ESTAB"}, "u2": {u1: "ESTAB"}}


def test_order_crosses_two_hops_and_its_signature_verifies(chain: tuple[Recording, Path]) -> None:
    """The order u0 sent reaches u2, through u1, byte for byte: it decodes
    as a FastPay TransferOrder whose sender's signature verifies; u2's
    answer reaches u0 the same way."""
    recording = chain[0]
    u0, u1, u2 = _macs(recording)
    assert recording.delivered == {"u0->u2": 1, "u2->u0": 1}
    (delivery,) = recording.states["u2"]["deliveries"]
    assert delivery["payload"] == transfer_order(250)
    order = decode_message(delivery["payload"])
    assert isinstance(order, TransferOrder) and order.transfer.amount == 250
    check_order(order)
    for name, far, near in (("u0", u2, u1), ("u2", u0, u1)):
        path = recording.states[name]["paths"][far]
        assert (path["next_hop"], path["hop_count"]) == (near, 2)


def test_path_discovery_is_on_the_air(chain: tuple[Recording, Path],
                                      frames: list[dict[str, str]]) -> None:
    """tshark sees u0's PREQ for u2 broadcast by u0 and again by u1, and
    u2's PREP come back hop by hop, u2 to u1 to u0."""
    u0, u1, u2 = _macs(chain[0])
    # At least once: under a loaded TCG guest a PREP may come back after
    # the 100 ms discovery timeout, and the PREQ is rightly sent again.
    for transmitter in (u0, u1):
        assert tshark.count(frames, "preq", ta=transmitter, ra=BROADCAST,
                            **{"hwmp.orig_sta": u0, "hwmp.targ_sta": u2}) >= 1
    assert tshark.count(frames, "prep", ta=u2, ra=u1) >= 1
    assert tshark.count(frames, "prep", ta=u1, ra=u0) >= 1


def test_relay_forwards_the_fastpay_frames(chain: tuple[Recording, Path],
                                           frames: list[dict[str, str]]) -> None:
    """Each order is on the air twice: from its origin to u1, and from u1
    on to the far end, as category-127 action frames."""
    u0, u1, u2 = _macs(chain[0])
    vendor = Counter((row["wlan.ta"], row["wlan.ra"]) for row in frames
                     if row["wlan.fixed.category_code"] == str(CATEGORY_VENDOR))
    assert vendor == {(u0, u1): 1, (u1, u2): 1, (u2, u1): 1, (u1, u0): 1}


def test_analyzer_agrees_with_tshark_and_finds_nothing_malformed(
        chain: tuple[Recording, Path], frames: list[dict[str, str]]) -> None:
    """tshark and our analyzer read every frame our nodes sent, and count
    each kind alike; the analyzer names the FastPay orders."""
    from meshframes.layers.dissect import analyze

    assert [row["frame.number"] for row in frames if row["_ws.malformed"]] == []
    analysis, _ = analyze(chain[1])
    assert analysis.malformed == [] and analysis.undecoded == []
    kinds = ("beacon", "peering-open", "peering-confirm", "preq", "prep", "perr")
    theirs = tshark.kinds(chain[1])
    assert {kind: analysis.by_kind[kind] for kind in kinds} == {kind: theirs[kind] for kind in kinds}
    assert analysis.by_kind["fastpay-order"] == 4
    preqs = [record for record in analysis.hwmp if record["element"] == "PREQ"]
    assert {(record["originator_address"], record["hop_count"]) for record in preqs} == {
        (chain[0].nodes[0].mac, 0), (chain[0].nodes[0].mac, 1)}


@pytest.fixture(scope="module")
def secure_chain(hwsim_guest: Guest,
                 tmp_path_factory: pytest.TempPathFactory) -> tuple[Recording, Path]:
    return _run(hwsim_guest, tmp_path_factory, "userspace-secure-chain", PASSPHRASE)


def test_secure_chain_peers_with_ampe_and_delivers(secure_chain: tuple[Recording, Path]) -> None:
    """With a passphrase the same chain peers with AMPE (protocol 1 in every
    peering frame tshark reads) and the orders still cross both ways."""
    recording, pcap = secure_chain
    u0, u1, u2 = _macs(recording)
    assert recording.delivered == {"u0->u2": 1, "u2->u0": 1}
    assert {mac: peer["state"] for mac, peer in recording.states["u1"]["peers"].items()} == {
        u0: "ESTAB", u2: "ESTAB"}
    peering = tshark.rows(pcap, ("wlan.fixed.category_code", "wlan.peering.proto"))
    protocols = Counter(int(row["wlan.peering.proto"], 0) for row in peering
                        if row["wlan.fixed.category_code"] == "15")
    assert set(protocols) == {1} and protocols[1] >= 8  # Open and Confirm, both ways, both links


def test_secure_chain_sends_nothing_in_the_clear(secure_chain: tuple[Recording, Path]) -> None:
    """No HWMP or FastPay frame of a secure mesh is on the air unprotected:
    tshark sees neither category 13 nor 127 in clear text, only protected
    frames besides beacons and peering."""
    rows = tshark.rows(secure_chain[1], ("wlan.fc.protected", "wlan.fixed.category_code",
                                         "wlan.fc.type_subtype"))
    clear = Counter(row["wlan.fixed.category_code"] for row in rows if row["wlan.fc.protected"] in ("0", "False"))
    assert set(clear) == {"", "15"}  # beacons (no category) and peering
    assert sum(row["wlan.fc.protected"] in ("1", "True") for row in rows) >= 8


def test_tshark_decrypts_the_secure_chain_with_the_agreed_keys(
        secure_chain: tuple[Recording, Path]) -> None:
    """With u0's MGTK tshark opens u0's PREQ flood (and no other frame);
    with the MTK of link u1-u2 it opens u2's PREP to u1 and the order u1
    relays to u2 (category 126). Both nodes of the link hold the same MTK:
    the keys AMPE agreed on real radios are IEEE 802.11 CCMP keys."""
    recording, pcap = secure_chain
    u0, u1, u2 = _macs(recording)
    mtk = recording.keys["u1"][u2]
    assert recording.keys["u2"][u1] == mtk
    group = tshark.rows(pcap, temporal_key=recording.keys["u0"]["mgtk"])
    assert tshark.count(group, "preq", ta=u0, ra=BROADCAST, **{"hwmp.targ_sta": u2}) >= 1
    assert tshark.count(group, "preq", ta=u1) == 0
    link = tshark.rows(pcap, temporal_key=mtk)
    assert tshark.count(link, "prep", ta=u2, ra=u1) >= 1
    assert tshark.count(link, "prep", ta=u1, ra=u0) == 0
    assert tshark.count(link, "other", ta=u1, ra=u2,
                        **{"fixed.category_code": str(CATEGORY_VENDOR_PROTECTED)}) == 1


def test_our_nodes_exported_keys_decrypt_the_secure_chain(secure_chain: tuple[Recording, Path]) -> None:
    """What each node's seal holds (the key file `meshframes keys export`
    asks a running node for) opens every protected frame of the recording;
    the plaintext equals tshark's given the same keys, and decodes whole,
    the FastPay orders among it."""
    recording, pcap = secure_chain
    keys = recording.capture_keys
    assert keys is not None and len(keys.pairwise) == 2 and len(keys.group) == 3
    opener = CaptureOpener(keys)
    result, _ = analyze(pcap, unseal=opener)
    protected = [frame for _, frame, _ in mpdus(pcap) if is_protected(frame)]
    assert len(protected) >= 8 and (opener.decrypted, dict(opener.undecryptable)) == (len(protected), {})
    assert (result.encrypted, result.undecoded, result.malformed) == (0, [], [])
    assert result.by_kind["fastpay-order"] == 4  # two orders, each over two hops, as in the open chain
    theirs = [body for body in hosts_tshark.decrypted_bodies(pcap, hosts_tshark.key_options(keys.wireshark_entries()))
              if body is not None]
    ours = []
    for frame in protected:
        plain = CaptureOpener(keys).open(frame)
        ours.append(plain[ccmp.frame_layout(plain)[0]:])
    assert ours == theirs

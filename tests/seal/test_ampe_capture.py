"""Our node and wpa_supplicant 2.10 in one secure mesh, as recorded:
pcaps/linux-ampe-interop.pcap (`meshframes hwsim record ampe-theirs-first`),
with the key file our node exported beside it and the key lines of
wpa_supplicant's own log (-dd -K). The two sides agreed on every key, as
each logged it, and those keys open every protected frame: HWMP and the
envelopes each way, every frame of the exchange under CCMP."""

from __future__ import annotations

from pathlib import Path

from meshframes.codec import DataFrame, decode
from meshframes.codec.mpdu import is_protected
from meshframes.hosts.pcap import mpdus
from meshframes.layers.dissect import analyze
from meshframes.seal.capture import CaptureOpener
from meshframes.seal.keyfile import loads
from meshframes.seal.wpalog import import_wpa_log

PCAPS = Path(__file__).resolve().parents[2] / "pcaps"
CAPTURE = PCAPS / "linux-ampe-interop.pcap"
OURS = loads((PCAPS / "linux-ampe-interop.keys.json").read_text())
THEIRS = import_wpa_log((PCAPS / "linux-ampe-interop.wpa-n0.log").read_text())
WPA_SUPPLICANT, OUR_NODE = bytes.fromhex("020000000000"), bytes.fromhex("020000000100")
# The FastPay envelope the scenario sends, from its version octet on
# (meshframes.hwsim.scenarios.ENVELOPE), behind LLC/SNAP with ethertype 0x88B5.
ENVELOPE_START = bytes.fromhex("aaaa0300000088b5") + bytes([1, 8, 0, 2, 1, 0, 1]) + b"meshframes-hwsim"


def test_both_sides_hold_the_same_keys() -> None:
    """One MTK; each side's MGTK and IGTK (key id 4) as both logged them."""
    assert set(OURS.pairwise) == set(THEIRS.pairwise) and len(OURS.pairwise) == 1
    assert set(OURS.group) == set(THEIRS.group)
    assert {k.transmitter for k in OURS.group} == {WPA_SUPPLICANT, OUR_NODE}
    assert set(OURS.integrity) == set(THEIRS.integrity)
    assert {(k.transmitter, k.key_id) for k in OURS.integrity} == {(WPA_SUPPLICANT, 4), (OUR_NODE, 4)}


def test_every_protected_frame_opens_and_carries_the_envelopes_both_ways() -> None:
    frames = [mpdu for _, mpdu, _ in mpdus(CAPTURE)]
    protected = [f for f in frames if is_protected(f)]
    opener = CaptureOpener(THEIRS)
    result, _ = analyze(CAPTURE, unseal=opener)
    assert (opener.decrypted, dict(opener.undecryptable)) == (len(protected), {})
    assert (result.encrypted, result.undecoded, result.malformed) == (0, [], [])
    senders = []
    for frame in protected:
        plain = decode(opener.open(frame))
        if isinstance(plain, DataFrame):
            assert plain.body.startswith(ENVELOPE_START), plain
            senders.append(plain.header.addr2)
    assert senders.count(WPA_SUPPLICANT) == senders.count(OUR_NODE) == 3

"""SAE Authentication frames (9.3.3.12): our layers against the frames
wpa_supplicant and Linux exchanged on hwsim radios (pcaps/linux-kernel-sae.pcap)
and against tshark, and the layout rules on frames built by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.dot11 import Dot11, Dot11Auth, Dot11Elt
from scapy.packet import Raw

import meshframes  # noqa: F401  (registers the layers)
from meshframes.codec import DecodeError, decode
from meshframes.hosts import tshark
from meshframes.hosts.pcap import mpdus
from meshframes.layers import MalformedLayer, SAECommit, SAECommitRejected, SAEConfirm
from meshframes.layers.dissect import analyze, decode_mpdu

CAPTURE = Path(__file__).resolve().parents[2] / "pcaps" / "linux-kernel-sae.pcap"
HEADER = Dot11(type=0, subtype=11, addr1="02:00:00:00:01:00", addr2="02:00:00:00:00:00",
               addr3="02:00:00:00:01:00")
SCALAR, ELEMENT = bytes(range(1, 33)), bytes(range(100, 164))


def auth(seq: int, status: int, body: bytes) -> bytes:
    return bytes(HEADER / Dot11Auth(algo=3, seqnum=seq, status=status)) + body


def test_linux_secure_mesh_capture_decodes_completely() -> None:
    """SAE, AMPE peering, protected HWMP and CCMP data from wpa_supplicant
    on Linux: nothing undecoded, nothing malformed, tshark's counts."""
    result, _ = analyze(CAPTURE)
    assert result.undecoded == [] and result.malformed == []
    assert dict(result.by_kind) == tshark.counts_by_kind(CAPTURE)


@pytest.mark.tshark
def test_sae_fields_equal_tshark_s() -> None:
    names = ["wlan.fixed.auth.alg", "wlan.fixed.auth_seq", "wlan.fixed.finite_cyclic_group",
             "wlan.fixed.scalar", "wlan.fixed.finite_field_element", "wlan.fixed.send_confirm",
             "wlan.fixed.confirm", "wlan.fixed.status_code"]
    theirs = tshark.fields(CAPTURE, names)
    commits = confirms = refusals = 0
    for index, (_, mpdu, _) in enumerate(mpdus(CAPTURE)):
        frame = theirs[index]
        if frame["wlan.fixed.auth.alg"] != ["3"]:
            continue
        packet = Dot11(mpdu)
        if packet.haslayer(SAECommit):
            commit = packet[SAECommit]
            assert [str(commit.finite_cyclic_group)] == frame["wlan.fixed.finite_cyclic_group"]
            assert [commit.scalar.hex()] == [v.replace(":", "") for v in frame["wlan.fixed.scalar"]]
            assert [commit.element.hex()] == [v.replace(":", "") for v in frame["wlan.fixed.finite_field_element"]]
            commits += 1
        elif frame["wlan.fixed.status_code"] != ["0x0000"]:
            # A refusal (wpa_supplicant's "Unspecified failure" to a
            # Confirm it no longer expects) carries no SAE fields (9.3.3.12);
            # tshark 4.0 calls the empty body malformed, we read none.
            assert not packet.haslayer(SAEConfirm) and not packet.haslayer(SAECommit)
            refusals += 1
        else:
            confirm = packet[SAEConfirm]
            assert [str(confirm.send_confirm)] == frame["wlan.fixed.send_confirm"]
            assert [confirm.confirm.hex()] == [v.replace(":", "") for v in frame["wlan.fixed.confirm"]]
            confirms += 1
    assert commits >= 4 and confirms >= 4  # each way on both links
    assert refusals == sum(1 for f in theirs if f["wlan.fixed.auth.alg"] == ["3"]) - commits - confirms


def test_commit_layout_follows_the_group() -> None:
    """P-256: a 32-octet scalar and a 64-octet point; what lies between the
    group and the scalar is an Anti-Clogging Token; extension elements
    after the element (H2E's Password Identifier) stay elements."""
    plain = Dot11(auth(1, 0, b"\x13\x00" + SCALAR + ELEMENT))[SAECommit]
    assert (plain.scalar, plain.element, plain.anti_clogging_token) == (SCALAR, ELEMENT, b"")
    token = Dot11(auth(1, 0, b"\x13\x00" + b"T" * 7 + SCALAR + ELEMENT))[SAECommit]
    assert (token.anti_clogging_token, token.scalar, token.element) == (b"T" * 7, SCALAR, ELEMENT)
    password_id = bytes([255, 4, 33]) + b"abc"
    h2e = Dot11(auth(1, 126, b"\x13\x00" + SCALAR + ELEMENT + password_id))
    assert h2e[SAECommit].anti_clogging_token == b"" and h2e[SAECommit].element == ELEMENT
    assert bytes(h2e[Dot11Elt]) == password_id and not h2e.haslayer(Raw)
    p384 = Dot11(auth(1, 0, b"\x14\x00" + bytes(48) + bytes(96)))[SAECommit]
    assert (len(p384.scalar), len(p384.element)) == (48, 96)


def test_confirm_and_refusals() -> None:
    confirm = Dot11(auth(2, 0, b"\x01\x00" + bytes(range(32))))[SAEConfirm]
    assert (confirm.send_confirm, confirm.confirm) == (1, bytes(range(32)))
    clogging = Dot11(auth(1, 76, b"\x13\x00" + b"token"))[SAECommitRejected]
    assert (clogging.finite_cyclic_group, clogging.anti_clogging_token) == (19, b"token")
    unsupported = Dot11(auth(1, 77, b"\x15\x00"))[SAECommitRejected]
    assert unsupported.finite_cyclic_group == 21


def test_built_frames_dissect_back() -> None:
    built = HEADER / Dot11Auth(algo=3, seqnum=1) / SAECommit(finite_cyclic_group=19, scalar=SCALAR,
                                                           element=ELEMENT)
    assert bytes(built) == auth(1, 0, b"\x13\x00" + SCALAR + ELEMENT)
    assert Dot11(bytes(built))[SAECommit].element == ELEMENT


@pytest.mark.parametrize("body,reason", [
    (b"\x63\x00" + bytes(96), "Finite Cyclic Group 99 is not a group SAE defines"),
    (b"\x13\x00" + bytes(95), "95 octets after the group, the group's scalar and element need 96"),
])
def test_bad_commits_are_malformed_with_the_reason(body: bytes, reason: str) -> None:
    decoded = decode_mpdu(auth(1, 0, body), 0)
    assert decoded.malformed is not None and reason in decoded.malformed
    with pytest.raises(MalformedLayer):
        SAECommit(body)


@pytest.mark.parametrize("seq,status,body", [
    (1, 0, b""), (1, 0, b"\x13"), (1, 126, b"\x13\x00" + bytes(10)), (2, 0, b"\x01"), (1, 76, b""),
])
def test_both_decoders_refuse_a_short_sae_body(seq: int, status: int, body: bytes) -> None:
    """The struct codec and the analyzer apply one rule (codec.sae): an SAE
    body without the fields its sequence and status promise is refused,
    including an empty one that Scapy would not even hand to a layer."""
    frame = auth(seq, status, body)
    with pytest.raises(DecodeError):
        decode(frame)
    assert decode_mpdu(frame, 0).malformed is not None


def test_refused_commits_without_fields_are_fine() -> None:
    """Statuses other than success, H2E, SAE-PK, 76 and 77 promise nothing."""
    frame = auth(1, 1, b"")
    decode(frame)
    assert decode_mpdu(frame, 0).malformed is None

"""The Wireshark dissector generated from our layers, run in tshark
(`-X lua_script:`) on a committed capture and checked field by field
against the codec and FastPay's own bincode decoder, which never saw the
Lua: every message type with its amounts, sequence numbers, senders and
signer counts, fragments named, fragmented messages reassembled, and
damaged payloads flagged with the field that ran short instead of a Lua
error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from meshframes.cli import cli
from meshframes.codec import VendorAction, decode
from meshframes.codec.errors import DecodeError
from meshframes.codec.fastpay import HEADER_LEN, MessageType, Reassembled, Reassembler, ReassemblyError
from meshframes.codec.meshctl import AE_A4, AE_RESERVED
from meshframes.fastpay.messages import (
    AccountInfoRequest,
    AccountInfoResponse,
    CertifiedTransferOrder,
    FastPayError,
    SignedTransferOrder,
    TransferOrder,
)
from meshframes.fastpay.wire import BincodeError, decode_announcement, decode_message
from meshframes.hosts import tshark
from meshframes.hosts.pcap import LINKTYPE_IEEE802_11, mpdus, write_pcap
from meshframes.layers.wireshark import PLUGIN_PATH, GenerationError, render

from .clear_air import record

PCAPS = Path(__file__).resolve().parents[2] / "pcaps"
CLEAR = PCAPS / "meshframes-sim-clear-payment.pcap"
LUA = ("-X", f"lua_script:{PLUGIN_PATH}")

pytestmark = pytest.mark.tshark

FIELDS = ["frame.number", "_ws.col.Info", "fastpay.malformed", "fastpay.trailing", "fastpay.message_type", "fastpay.message_id",
          "fastpay.fragment_number", "fastpay.fragment_count", "fastpay.message.variant",
          "fastpay.order.sender", "fastpay.order.amount", "fastpay.order.sequence_number",
          "fastpay.vote.authority", "fastpay.cert.signature_count", "fastpay.cert.authority",
          "fastpay.info_request.sender", "fastpay.info_response.sender", "fastpay.info_response.balance",
          "fastpay.info_response.next_sequence_number", "fastpay.error.error_variant",
          "fastpay.announce.name", "fastpay.announce.weight"]
COMPARED = FIELDS[8:]


def test_shipped_plugin_is_generated_from_the_layers() -> None:
    """The Lua in the package is what the generator writes from today's
    layers (`python -m meshframes.layers.wireshark` refreshes it)."""
    assert PLUGIN_PATH.read_text() == render()


def test_generator_refuses_a_condition_it_cannot_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A layer whose optional field hangs on a lambda cannot be translated:
    generation stops and says where, rather than dropping the field."""
    from scapy.fields import ByteField, ConditionalField

    from meshframes.layers import fastpay as layer_fastpay

    fields = [*layer_fastpay.FastPayAuthorityAnnouncement.fields_desc,
              ConditionalField(ByteField("extra", 0), lambda p: p.weight > 1)]
    monkeypatch.setattr(layer_fastpay.FastPayAuthorityAnnouncement, "fields_desc", fields)
    with pytest.raises(GenerationError, match="FastPayAuthorityAnnouncement: a condition"):
        render()


def test_clear_payment_capture_is_its_recipe(tmp_path: Path) -> None:
    """The committed capture is byte for byte what its recipe records
    (tests/frames/clear_air.py), so what the dissector is checked on can
    be made again."""
    again = tmp_path / "again.pcap"
    record(again)
    assert again.read_bytes() == CLEAR.read_bytes()


def _orders(message: Any) -> list[TransferOrder]:
    """Every transfer order inside a message, in wire order."""
    if isinstance(message, TransferOrder):
        return [message]
    if isinstance(message, SignedTransferOrder | CertifiedTransferOrder):
        return [message.value]
    if isinstance(message, FastPayError):
        return [] if message.pending_confirmation is None else [message.pending_confirmation]
    if isinstance(message, AccountInfoResponse):
        inner = [message.pending_confirmation, message.requested_certificate, *message.requested_received_transfers]
        return [o for m in inner if m is not None for o in _orders(m)]
    return []


def _certificates(message: Any) -> list[CertifiedTransferOrder]:
    if isinstance(message, CertifiedTransferOrder):
        return [message]
    if isinstance(message, AccountInfoResponse):
        inner = [message.requested_certificate, *message.requested_received_transfers]
        return [c for c in inner if c is not None]
    return []


def expected_fields(msg_type: int, message_bytes: bytes) -> dict[str, list[str]]:
    """What tshark should show for one whole message, from the bincode
    decoder of the FastPay core."""
    out: dict[str, list[str]] = {name: [] for name in COMPARED}
    if msg_type == MessageType.FASTPAY_ANNOUNCE:
        announcement = decode_announcement(message_bytes)
        out["fastpay.announce.name"] = [announcement.name.hex()]
        out["fastpay.announce.weight"] = [str(announcement.weight)]
        return out
    message = decode_message(message_bytes)
    out["fastpay.message.variant"] = [str(int.from_bytes(message_bytes[:4], "little"))]
    orders = _orders(message)
    out["fastpay.order.sender"] = [o.transfer.sender.hex() for o in orders]
    out["fastpay.order.amount"] = [str(o.transfer.amount) for o in orders]
    out["fastpay.order.sequence_number"] = [str(o.transfer.sequence_number) for o in orders]
    certificates = _certificates(message)
    out["fastpay.cert.signature_count"] = [str(len(c.signatures)) for c in certificates]
    out["fastpay.cert.authority"] = [a.hex() for c in certificates for a, _ in c.signatures]
    if isinstance(message, SignedTransferOrder):
        out["fastpay.vote.authority"] = [message.authority.hex()]
    if isinstance(message, AccountInfoResponse):
        if message.pending_confirmation is not None:
            out["fastpay.vote.authority"] = [message.pending_confirmation.authority.hex()]
        out["fastpay.info_response.sender"] = [message.sender.hex()]
        out["fastpay.info_response.balance"] = [str(message.balance)]
        out["fastpay.info_response.next_sequence_number"] = [str(message.next_sequence_number)]
    if isinstance(message, AccountInfoRequest):
        out["fastpay.info_request.sender"] = [message.sender.hex()]
    if isinstance(message, FastPayError):
        out["fastpay.error.error_variant"] = [str(int(message.kind))]
    return out


@pytest.fixture(scope="module")
def dissected() -> tuple[list[VendorAction], list[dict[str, list[str]]]]:
    """Our FastPay frames by the codec, and tshark's view of them with the
    plugin, frame for frame."""
    ours = []
    for _, mpdu, _ in mpdus(CLEAR):
        frame = decode(mpdu)
        ours.append(frame if isinstance(frame, VendorAction) else None)
    theirs = tshark.fields(CLEAR, FIELDS, LUA)
    assert len(theirs) == len(ours)
    pairs = [(o, t) for o, t in zip(ours, theirs, strict=True) if o is not None]
    return [o for o, _ in pairs], [t for _, t in pairs]


def test_every_message_type_is_shown_with_its_fields(dissected: Any) -> None:
    """Every FastPay message type is in the capture and tshark names it;
    each whole message's amounts, sequence numbers, senders, signer counts,
    balances, error kinds and announcements equal the core's decoding."""
    ours, theirs = dissected
    assert {f.payload.msg_type for f in ours} == set(MessageType)
    for frame, shown in zip(ours, theirs, strict=True):
        payload = frame.payload
        assert shown["fastpay.message_type"] == [str(payload.msg_type)]
        assert shown["fastpay.message_id"] == [str(payload.message_id)]
        assert shown["fastpay.malformed"] == shown["fastpay.trailing"] == [], shown
        if payload.fragment_count == 1:
            expected = expected_fields(payload.msg_type, payload.data)
            assert {name: shown[name] for name in COMPARED} == expected, shown["frame.number"]


def test_fragments_are_named_and_reassembled(dissected: Any) -> None:
    """A fragment shows its number, count and message id; the frame that
    completes a set carries the reassembled message, whose fields equal
    what our reassembler and the core decode from the same frames."""
    ours, theirs = dissected
    reassembler = Reassembler(timeout=60.0)
    completed = 0
    kinds = set()
    for frame, shown in zip(ours, theirs, strict=True):
        p = frame.payload
        if p.fragment_count == 1:
            continue
        info = shown["_ws.col.Info"][0]
        assert f"fragment {p.fragment_number + 1} of {p.fragment_count}, message id {p.message_id}" in info
        source = frame.mesh_control.addr6 or frame.header.addr2
        whole = reassembler.add(source, p.message_id, p.msg_type, p.flags, p.fragment_number,
                                p.fragment_count, p.data, 0.0)
        # A fragment heard again (a retry, or the next hop's copy) completes
        # nothing, in our reassembler as in the plugin.
        if whole is None or whole is ReassemblyError.DUPLICATE:
            assert "reassembled" not in info
            assert {name: shown[name] for name in COMPARED} == {name: [] for name in COMPARED}
            continue
        assert isinstance(whole, Reassembled), whole
        assert info.endswith("reassembled")
        assert {name: shown[name] for name in COMPARED} == expected_fields(p.msg_type, whole.message)
        completed += 1
        kinds.add(p.msg_type)
    assert completed >= 10
    assert MessageType.FASTPAY_CERTIFICATE in kinds


def test_reassembly_holds_in_two_pass_reading() -> None:
    """tshark -2 (as Wireshark's GUI reads a file: dissection again on
    every click) shows the same reassembled messages as one pass."""
    one = tshark.fields(CLEAR, ["_ws.col.Info", "fastpay.cert.signature_count"], LUA)
    two = tshark.fields(CLEAR, ["_ws.col.Info", "fastpay.cert.signature_count"], (*LUA, "-2"))
    assert sum("reassembled" in f["_ws.col.Info"][0] for f in two) >= 10
    assert one == two


def test_damaged_payloads_are_flagged_by_field_not_a_lua_error(tmp_path: Path) -> None:
    """An order cut short at every length, one whose Option tag is 2, and
    ones whose Mesh Control uses address extension mode 1 or 3: the codec
    refuses each, and tshark flags each with the plugin's own
    malformed-payload note (the field, what was found, what was expected),
    never a Lua error."""
    order = next(mpdu for _, mpdu, _ in mpdus(CLEAR)
                 if isinstance(f := decode(mpdu), VendorAction) and f.payload.msg_type == MessageType.FASTPAY_ORDER
                 and f.payload.fragment_count == 1)
    frame = decode(order)
    assert isinstance(frame, VendorAction)
    body_at = len(order) - len(frame.payload.data)
    cases = [order[:body_at + n] for n in range(1, len(frame.payload.data))]
    tag_at = body_at + 4 + 32 + 4 + 32 + 8 + 8
    cases.append(order[:tag_at] + b"\x02" + order[tag_at + 1:])
    for case in cases:
        with pytest.raises(BincodeError):
            decode_message(case[body_at:])
    # Mesh Control address extension modes a management frame may not use:
    # 1 (A4) and 3 (reserved); the codec refuses both.
    flags_at = len(order) - len(frame.payload.data) - HEADER_LEN - (6 + 6 * len(frame.mesh_control.addr_ext))
    refused = [order[:flags_at] + bytes((mode,)) + order[flags_at + 1:] for mode in (AE_A4, AE_RESERVED)]
    for case in refused:
        with pytest.raises(DecodeError):
            decode(case)
    cases += refused
    path = tmp_path / "damaged.pcap"
    write_pcap(path, [(float(i), c) for i, c in enumerate(cases)], LINKTYPE_IEEE802_11)
    shown = tshark.fields(path, ["_ws.expert.message", "fastpay.malformed", "fastpay.message_type"], LUA)
    assert len(shown) == len(cases)
    for number, frame_fields in enumerate(shown):
        messages = frame_fields["_ws.expert.message"]
        assert frame_fields["fastpay.message_type"] == ([] if number >= len(cases) - len(refused) else ["1"]), number
        assert len(frame_fields["fastpay.malformed"]) == 1, number
        assert len(messages) == 1, (number, messages)
        assert ": got " in messages[0] and ", expected " in messages[0], messages
        assert ".lua" not in messages[0], messages
    assert "expected 0 (None) or 1 (Some)" in shown[-3]["_ws.expert.message"][0]
    assert shown[-2]["_ws.expert.message"][0].startswith("Mesh Control address extension mode: got 1, expected 0 or 2")
    assert shown[-1]["_ws.expert.message"][0].startswith("Mesh Control address extension mode: got 3, expected 0 or 2")


def test_sealed_and_kernel_transport_captures_dissect_clean() -> None:
    """On the recordings of real `meshframes node` processes, sealed end to
    end (vendor action frames) and over the kernel's mesh (ethertype
    0x88B5), the plugin names every FastPay frame our analyzer counts and
    flags nothing."""
    for name, expected in (("meshframes-node-payment.pcap", 329 + 48 + 33 + 18 + 40 + 3 + 57 + 6),
                           ("meshframes-node-payment-kernel.pcap", 752 + 81 + 63 + 12 + 51 + 3 + 60 + 6)):
        shown = tshark.fields(PCAPS / name, ["fastpay.message_type", "_ws.expert.message"], LUA)
        fastpay = [f for f in shown if f["fastpay.message_type"]]
        assert len(fastpay) == expected, name
        assert not any(f["_ws.expert.message"] for f in fastpay), name


def test_install_writes_the_plugin_and_print_shows_it(tmp_path: Path) -> None:
    """`meshframes wireshark install --dir` puts the shipped plugin where
    asked; `--print` writes the same text to stdout; an unwritable folder
    is refused with status 1 and the fix."""
    runner = CliRunner()
    result = runner.invoke(cli, ["wireshark", "install", "--dir", str(tmp_path / "plugins")],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "plugins" / "meshframes_fastpay.lua").read_text() == PLUGIN_PATH.read_text()
    printed = runner.invoke(cli, ["wireshark", "install", "--print"], catch_exceptions=False)
    assert printed.exit_code == 0 and printed.stdout == PLUGIN_PATH.read_text()
    blocked = tmp_path / "file"
    blocked.write_text("")
    refused = runner.invoke(cli, ["wireshark", "install", "--dir", str(blocked / "sub")], catch_exceptions=False)
    assert refused.exit_code == 1 and "--dir" in refused.output


def test_wireshark_loads_the_installed_plugin_from_its_personal_folder(tmp_path: Path) -> None:
    """`meshframes wireshark install` in a fresh home puts the plugin in the
    folder tshark reports, and tshark then dissects our frames by itself
    (no -X)."""
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / ".config"),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    install = subprocess.run([sys.executable, "-c", "from meshframes.cli import main; main()",
                              "wireshark", "install"], env=env, capture_output=True, text=True, timeout=120)
    assert install.returncode == 0, install.stderr
    assert str(tmp_path) in install.stderr
    out = subprocess.run([tshark.binary(), "-r", str(CLEAR), "-Y", "fastpay.order.amount == 20", "-T", "fields",
                          "-e", "fastpay.order.amount"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() and set(out.stdout.split()) == {"20"}

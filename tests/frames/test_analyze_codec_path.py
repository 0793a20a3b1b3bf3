"""`analyze` on the codec: the same report as on Scapy alone, frame for frame.

`data/analyze-before-codec.json.gz` holds what `meshframes analyze` (text
and --json) printed for every capture in pcaps/ and ../shared/pcaps when it
dissected every frame with Scapy, generated from commit 24f0a5a before the
switch (key "commit" in the file); captures added since were recorded by
the same commit's analyze when they were committed. Today's output must
contain it
unchanged: the same JSON keys with the same values, and the same text
before the tables that came later.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshframes.analysis.verdict import Verdicts, codec_verdict, kind_of
from meshframes.cli import cli
from meshframes.codec import Beacon, DecodeError, SelfProtected, decode
from meshframes.hosts.pcap import CaptureStream, read_capture, strip_link
from meshframes.layers.dissect import decode_mpdu

ROOT = Path(__file__).resolve().parents[2]
BEFORE = json.loads(gzip.decompress((Path(__file__).parent / "data" / "analyze-before-codec.json.gz").read_bytes()))
CAPTURES = sorted(BEFORE["captures"])


def _path(name: str) -> Path:
    return (ROOT / name).resolve()


def _verdict(decode: object) -> dict[str, object]:
    fields = {f.name: getattr(decode, f.name) for f in dataclasses.fields(decode)}  # type: ignore[arg-type]
    del fields["packet"]
    return fields


def test_every_capture_we_have_is_recorded() -> None:
    """The recorded outputs cover every capture on disk today."""
    on_disk = sorted([*ROOT.glob("pcaps/**/*.pcap"), *(ROOT.parent / "shared").glob("pcaps/**/*.pcap")])
    assert sorted(_path(name) for name in CAPTURES) == [p.resolve() for p in on_disk]


@pytest.mark.parametrize("name", CAPTURES)
def test_json_is_unchanged_by_the_switch(name: str) -> None:
    """Every key the Scapy-only analyze printed, with the same value."""
    path = _path(name)
    result = CliRunner().invoke(cli, ["analyze", "--json", str(path)], catch_exceptions=False)
    before = json.loads(BEFORE["captures"][name]["json"].replace("{path}", str(path)))
    now = json.loads(result.stdout)
    assert result.exit_code == BEFORE["captures"][name]["json_exit"]
    assert {key: now[key] for key in before} == before
    # Every frame has exactly one judge (a capture of beacons, SAE and
    # peering only, as linux-sae-interop.pcap, is all the dissector's).
    assert sum(now["decoded_by"].values()) == now["frames"]


@pytest.mark.parametrize("name", CAPTURES)
def test_text_is_unchanged_by_the_switch(name: str) -> None:
    """The tables the Scapy-only analyze printed come first, unchanged."""
    path = _path(name)
    result = CliRunner().invoke(cli, ["analyze", str(path)], catch_exceptions=False)
    before = BEFORE["captures"][name]["text"].replace("{path}", str(path))
    assert result.exit_code == BEFORE["captures"][name]["text_exit"]
    assert result.stdout.startswith(before)


def _mutant(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    way = rng.randrange(3)
    if way == 0:
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(out))
            out[i] ^= 1 << rng.randrange(8)
    elif way == 1:
        del out[rng.randrange(len(out) + 1):]
    else:
        i = rng.randrange(len(out) + 1)
        out[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
    return bytes(out)


def test_codec_verdicts_equal_the_dissectors_on_damaged_frames() -> None:
    """Where the codec gives a verdict on its own, Scapy gives the same one,
    on seeded mutants of frames from every capture (bit flips, cuts,
    insertions); elsewhere the codec leaves the frame to Scapy."""
    rng = random.Random(15)
    by_codec = 0
    for name in CAPTURES:
        for mpdu in rng.sample(strip_link(list(read_capture(_path(name))))[0], 12):
            if not mpdu.data:
                continue
            data = _mutant(rng, mpdu.data)
            ours, _ = codec_verdict(data, 0)
            if ours is not None:
                by_codec += 1
                assert _verdict(ours) == _verdict(decode_mpdu(data, 0)), data.hex()
    assert by_codec > 100


def test_reused_verdicts_equal_fresh_ones() -> None:
    """A management body's verdict, kept and reused for a later frame, is
    the one Scapy gives that frame."""
    verdicts = Verdicts(decode_mpdu)
    for name in CAPTURES[:12]:
        for mpdu in CaptureStream(_path(name)):
            ours = verdicts(mpdu.data, mpdu.index)
            assert _verdict(ours) == _verdict(decode_mpdu(mpdu.data, mpdu.index))
    assert verdicts.reused > 100 and verdicts.by_codec > 100


def test_codec_verdicts_on_beacons_and_peering_frames_equal_the_dissectors() -> None:
    """Beacons and peering frames of every capture, as captured and with
    seeded damage: where the codec judges one alone, Scapy's verdict is the
    same; and it does judge our own plain mesh's, which the dissector
    would otherwise read one body at a time."""
    rng = random.Random(16)
    bodies: dict[bytes, bytes] = {}
    for name in CAPTURES:
        for mpdu in CaptureStream(_path(name)):
            try:
                frame = decode(mpdu.data)
            except DecodeError:
                continue
            if isinstance(frame, (Beacon, SelfProtected)):
                bodies.setdefault(mpdu.data[24:], mpdu.data)
    judged = damaged = 0
    for data in bodies.values():
        for candidate in (data, *(_mutant(rng, data) for _ in range(6))):
            ours, _ = codec_verdict(candidate, 0)
            if ours is None:
                continue
            judged += 1
            damaged += candidate != data
            assert _verdict(ours) == _verdict(decode_mpdu(candidate, 0)), candidate.hex()
    ours_alone = [codec_verdict(m.data, 0)[0] for m in CaptureStream(_path("pcaps/meshframes-sim-clear-payment.pcap"))]
    assert {v.kind for v in ours_alone if v is not None} >= {"beacon", "peering-open", "peering-confirm"}
    assert judged > 100 and damaged > 20


def test_a_senders_label_is_the_kind_analyze_reads() -> None:
    """kind_of, which labels a frame as its sender built it (the demo's
    record of its air), names every well-formed unprotected frame of every
    capture as the dissector's verdict does; and each beacon again as a
    probe response (the same body under subtype 5, 9.3.3.10), which no
    capture here holds."""
    seen: set[str] = set()
    for name in CAPTURES:
        for mpdu in CaptureStream(_path(name)):
            variants = [mpdu.data]
            if mpdu.data[:1] == b"\x80":
                variants.append(b"\x50" + mpdu.data[1:])
            for data in variants:
                try:
                    frame = decode(data)
                except DecodeError:
                    continue
                verdict = decode_mpdu(data, mpdu.index)
                if verdict.malformed or verdict.undecoded or verdict.encrypted:
                    continue
                assert kind_of(frame) == verdict.kind, (name, mpdu.index, data[:1].hex())
                seen.add(verdict.kind)
    assert {"beacon", "probe-resp", "preq", "prep", "peering-open", "mesh-data"} <= seen


def test_codec_verdicts_on_probe_frames_equal_the_dissectors(tmp_path: Path) -> None:
    """Probe Requests and Responses, which our stations send to a
    neighbour they have not heard beaconing (MeshConfig.
    probe_unknown_neighbours): those of a short demo's clear air and of
    every capture, as sent and with seeded damage. Where the codec judges
    one alone, Scapy's verdict is the same; and it does judge our own
    plain ones, so that a capture of our air never needs Scapy."""
    from meshframes.bench.analyze import our_air

    rng = random.Random(17)
    ours_sent = [m.data for m in CaptureStream(our_air(tmp_path)) if m.data[:1] in (b"\x40", b"\x50")]
    probes = set(ours_sent) | {m.data for name in CAPTURES for m in CaptureStream(_path(name))
                               if m.data[:1] in (b"\x40", b"\x50")}
    judged: dict[str, int] = {"probe-req": 0, "probe-resp": 0}
    damaged = 0
    for data in sorted(probes):
        for candidate in (data, *(_mutant(rng, data) for _ in range(4))):
            ours, _ = codec_verdict(candidate, 0)
            if ours is None:
                continue
            assert _verdict(ours) == _verdict(decode_mpdu(candidate, 0)), candidate.hex()
            damaged += candidate != data
            if candidate == data:
                judged[ours.kind] = judged.get(ours.kind, 0) + 1
    assert judged["probe-req"] > 10 and judged["probe-resp"] > 10 and damaged > 10
    assert ours_sent and all(codec_verdict(data, 0)[0] is not None for data in ours_sent)

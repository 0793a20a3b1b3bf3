"""`meshframes demo`: the richest real thing the package does today.

It reads the ns-3 6-node chain capture (node 3 removed at 5 s), tells the
story its HWMP frames tell, then builds one frame of every kind we know,
writes them to a radiotap pcap and has our decoder and tshark read it back.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click
from rich.table import Table

from meshframes.cli import console

_SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "pcaps" / "ns3"


@click.command(short_help="Decode a real ns-3 mesh capture and every frame kind we build.")
@click.option("--capture", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Capture to tell the HWMP story of (default: ns-3 6-node chain, node 2's view).")
@click.option("--out", type=click.Path(file_okay=False), default="out", show_default=True,
              help="Directory for the pcap of every frame kind.")
def demo(capture: str | None, out: str) -> None:
    """Decode a real ns-3 mesh capture, then build, write and re-read one
    frame of every kind (tshark cross-checks the counts when installed)."""
    from meshframes.build import BUILDERS, FrameOptions, build
    from meshframes.capture import LINKTYPE_IEEE802_11_RADIOTAP, radiotap_header, read_capture, write_pcap
    from meshframes.dissect import analyze

    path = Path(capture) if capture else _SHARED / "hwmp-reactive-regression-test-2-1.pcap"
    if not path.exists():
        console.error(f"{path} not found; pass --capture PCAP (the default lives in ../shared/pcaps/ns3)")
        raise SystemExit(1)
    result, decodes = analyze(path)
    stamps = [f.timestamp for f in read_capture(path)]
    console.out.print(f"{path.name}: {result.frames} frames, {len(result.malformed)} malformed, "
                      f"{len(result.undecoded)} undecoded", soft_wrap=True)
    story = Table(title="HWMP as the capture tells it")
    for column in ("time (s)", "frame", "element", "what happened"):
        story.add_column(column)
    for record in result.hwmp:
        story.add_row(f"{stamps[record['frame']]:.6f}", str(record["frame"]), record["element"],
                      _explain(record))
    console.out.print(story)

    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    pcap = target / "every-kind.pcap"
    frames = [radiotap_header() + bytes(build(kind, FrameOptions(seq=n + 1))) for n, kind in enumerate(BUILDERS)]
    write_pcap(pcap, ((n * 0.01, f) for n, f in enumerate(frames)), LINKTYPE_IEEE802_11_RADIOTAP)
    ours, _ = analyze(pcap)
    table = Table(title=f"every kind we build, written to {pcap} and decoded back")
    table.add_column("kind")
    table.add_column("ours", justify="right")
    theirs = None
    if shutil.which("tshark"):
        from tools import tshark

        theirs = tshark.counts_by_kind(pcap)
        table.add_column("tshark", justify="right")
    for kind in BUILDERS:
        row = [kind, str(ours.by_kind.get(kind, 0))]
        if theirs is not None:
            row.append(str(theirs.get(kind, "-")) if not kind.startswith("fastpay") else "vendor 127")
        table.add_row(*row)
    console.out.print(table)
    if theirs is None:
        console.warning("tshark is not installed, so nothing cross-checked the frames; run tools/bootstrap")
    if ours.malformed or ours.undecoded:
        console.error("our own frames did not decode cleanly")
        raise SystemExit(1)


def _explain(record: dict) -> str:
    element = record["element"]
    if element == "PREQ":
        targets = ", ".join(t["target_address"] for t in record["targets"])
        return (f"{record['originator_address']} looks for {targets} "
                f"(hop {record['hop_count']}, metric {record['metric']})")
    if element == "PREP":
        return (f"{record['originator_address']} answers {record['target_address']} "
                f"(hop {record['hop_count']}, metric {record['metric']})")
    if element == "PERR":
        lost = ", ".join(d["destination_address"] for d in record["destinations"])
        return f"path error: {lost} unreachable"
    return element

"""`meshframes analyze PCAP`: decode every frame and report what is there."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.progress import Progress
from rich.table import Table

from meshframes.cli import console

if TYPE_CHECKING:  # the dissector imports Scapy: only when a command runs
    from meshframes.layers.dissect import Analysis

_HWMP_COLUMNS = {
    "PREQ": ("flags", "hop_count", "element_ttl", "path_discovery_id", "originator_address",
             "originator_hwmp_sn", "lifetime", "metric", "targets"),
    "PREP": ("flags", "hop_count", "element_ttl", "target_address", "target_hwmp_sn",
             "lifetime", "metric", "originator_address", "originator_hwmp_sn"),
    "PERR": ("element_ttl", "destinations"),
    "RANN": ("flags", "hop_count", "element_ttl", "root_mesh_sta_address", "hwmp_sn",
             "interval", "metric"),
    "GANN": ("flags", "hop_count", "element_ttl", "mesh_gate_address", "gann_sequence_number",
             "interval"),
}


def _describe(record: dict[str, Any]) -> str:
    parts = []
    for name in _HWMP_COLUMNS.get(record["element"], ()):
        value = record.get(name)
        if isinstance(value, list):
            value = "; ".join(" ".join(f"{k}={v}" for k, v in item.items()) for item in value)
        parts.append(f"{name}={value}")
    return " ".join(parts)


@click.command(short_help="Decode every frame of a capture and count what is there.")
@click.argument("pcap", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option(
    "--fcs",
    type=click.Choice(["auto", "yes", "no"]),
    default="auto",
    show_default=True,
    help="Whether raw 802.11 frames (link type 105) end in an FCS; auto decides per file. "
    "Radiotap frames say so in their own Flags field, which always wins.",
)
@click.option("--max-rows", default=50, show_default=True, help="Rows per table (0: all).")
@click.option("--keys", "key_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Decrypt CCMP frames with this key file (docs/keys.md; `meshframes keys import-wpa` or "
                   "`export` make one) before decoding them. Repeatable.")
def analyze(pcap: str, as_json: bool, fcs: str, max_rows: int, key_files: tuple[Path, ...]) -> None:
    """Decode every frame of PCAP (pcap or pcapng; raw 802.11 or radiotap).

    Reports total frames, frame counts by kind, every HWMP element with its
    fields, undecoded frames, and malformed frames with their index and the
    precise reason. A damaged capture is reported up to the damage, then
    the damage is named and the exit status is 1.
    """
    from meshframes.cli.keys import decryption_report, load_capture_keys
    from meshframes.layers.dissect import analyze as run
    from meshframes.seal.capture import CaptureOpener

    opener = CaptureOpener(load_capture_keys(key_files)) if key_files else None
    if as_json:
        result, _ = run(pcap, fcs=fcs, unseal=opener)
        document = result.to_json() | ({"decryption": opener.summary()} if opener else {})
        sys.stdout.write(json.dumps(document, indent=None) + "\n")
    else:
        with Progress(console=console.err, transient=True) as bar:
            task = bar.add_task("decoding", total=None)
            result, _ = run(pcap, fcs=fcs, progress=lambda done, total: bar.update(task, completed=done, total=total),
                            unseal=opener)
        _print(result, max_rows)
        if opener is not None:
            decryption_report(opener, max_rows or None)
    if result.capture_error:
        console.error(f"{pcap}: {result.capture_error}; frames before it are reported above")
        raise SystemExit(1)


def _print(result: Analysis, max_rows: int) -> None:
    limit = max_rows or None
    print_analysis(result, f"{result.path}: {result.frames} frames, FCS {result.fcs}, "
                   f"{len(result.undecoded)} undecoded, {len(result.malformed)} malformed, "
                   f"{result.encrypted} encrypted",
                   result.hwmp[:limit], f"HWMP elements ({len(result.hwmp)})", limit)


def print_analysis(result: Analysis, header: str, hwmp: list[dict[str, Any]], hwmp_title: str,
                   limit: int | None) -> None:
    """The totals of a meshframes.layers.dissect.Analysis as tables on stdout
    (shared with `meshframes sniff`)."""
    out = console.out
    out.print(header, soft_wrap=True)
    out.print(kinds_table(result.by_kind))
    if result.fastpay_in_msdus:
        out.print("FastPay in mesh data (ethertype 0x88B5, kernel mesh transport): " + ", ".join(
            f"{kind} ({count})" for kind, count in sorted(result.fastpay_in_msdus.items())), soft_wrap=True)
    if result.mesh_control_rules:
        out.print("mesh control detected by: " + ", ".join(
            f"{rule} ({count})" for rule, count in sorted(result.mesh_control_rules.items())), soft_wrap=True)
    if hwmp:
        out.print(hwmp_table(hwmp, hwmp_title))
    for table in problem_tables(result, limit):
        out.print(table)


def kinds_table(by_kind: Mapping[str, int]) -> Table:
    """Frame counts by kind (shared with `meshframes sniff`)."""
    kinds = Table(title="frames by kind")
    kinds.add_column("kind")
    kinds.add_column("frames", justify="right")
    for kind, count in sorted(by_kind.items()):
        kinds.add_row(kind, str(count))
    return kinds


def hwmp_table(records: list[dict[str, Any]], title: str) -> Table:
    """One row per HWMP element record of meshframes.layers.dissect."""
    hwmp = Table(title=title)
    hwmp.add_column("frame", justify="right")
    hwmp.add_column("element")
    hwmp.add_column("fields")
    for record in records:
        hwmp.add_row(str(record["frame"]), record["element"], _describe(record))
    return hwmp


def problem_tables(result: Analysis, limit: int | None) -> list[Table]:
    """Malformed and undecoded frames, with their reasons."""
    tables = []
    for title, rows in (("malformed", result.malformed), ("undecoded", result.undecoded)):
        if rows:
            table = Table(title=f"{title} ({len(rows)})")
            table.add_column("frame", justify="right")
            table.add_column("kind")
            table.add_column("reason")
            for row in rows[:limit]:
                table.add_row(str(row["frame"]), row["kind"], row["reason"])
            tables.append(table)
    return tables

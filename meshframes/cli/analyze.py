"""`meshframes analyze PCAP...`: decode every frame and report what is there:
totals, then peering sessions, HWMP discoveries, FastPay flows and nodes."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from meshframes.cli import console

if TYPE_CHECKING:  # rich's tables and bars load only when drawn (not for --json)
    from rich.table import Table

    from meshframes.analysis.frames import Analysis, FrameDecode

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


# Captures from this size up show a progress bar with --json too (about
# 40k frames), when stderr is a terminal to draw it on.
_BAR_FOR_JSON_OCTETS = 4 << 20


@click.command(short_help="Decode every frame of captures: totals, sessions, discoveries, payments, nodes.")
@click.argument("pcaps", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
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
def analyze(pcaps: tuple[str, ...], as_json: bool, fcs: str, max_rows: int, key_files: tuple[Path, ...]) -> None:
    """Decode every frame of PCAPS (pcap or pcapng; raw 802.11 or radiotap).

    Reports total frames, frame counts by kind, every HWMP element with its
    fields, undecoded frames, and malformed frames with their index and the
    precise reason; then peering sessions per link, HWMP discoveries and
    PERRs, FastPay payments (order, votes, certificate, confirmations) and
    each node's frames and air time. Several captures of one run are merged
    by time, a frame heard by two of them counted once. A damaged capture
    is reported up to the damage, then the damage is named and the exit
    status is 1.
    """
    from meshframes.hosts.analyze import analyze_captures
    from meshframes.hosts.collector import fewer_collections

    opener = None
    if key_files:
        from meshframes.cli.keys import load_capture_keys
        from meshframes.seal.capture import CaptureOpener

        opener = CaptureOpener(load_capture_keys(key_files))

    # Tables always come after a bar on stderr; --json only after a big
    # capture's, so a script reading small files sees nothing but its JSON,
    # and one that sends stderr elsewhere does not pay for a bar nobody sees.
    # The collector looks less often through the decoding and the JSON
    # built from it; the bar is gone before anything is printed.
    with fewer_collections():
        with contextlib.ExitStack() as stack:
            progress = None
            if not as_json or (console.err.is_terminal
                               and sum(Path(p).stat().st_size for p in pcaps) >= _BAR_FOR_JSON_OCTETS):
                from rich.progress import Progress

                bar = stack.enter_context(Progress(console=console.err, transient=True))
                task = bar.add_task("decoding", total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

            analyzer = analyze_captures(pcaps, dissect, fcs=fcs, progress=progress, unprotect=opener)
        result = analyzer.analysis
        if as_json:
            document = result.to_json() | analyzer.sections() | ({"decryption": opener.summary()} if opener else {})
            sys.stdout.flush()
            sys.stdout.buffer.write(console.json_bytes(document) + b"\n")
            sys.stdout.buffer.flush()
    if not as_json:
        _print(result, max_rows)
        print_sections(analyzer.sections(), max_rows or None)
        if opener is not None:
            from meshframes.cli.keys import decryption_report

            decryption_report(opener, max_rows or None)
    if result.capture_error:
        where = pcaps[0] if len(pcaps) == 1 else "captures"
        console.error(f"{where}: {result.capture_error}; frames before it are reported above")
        raise SystemExit(1)


def dissect(data: bytes, index: int) -> FrameDecode:
    """The Scapy dissector's verdict (meshframes.layers.dissect), Scapy
    imported on the first frame the codec leaves to it: a capture the
    codec judges alone never loads it."""
    from meshframes.layers.dissect import decode_mpdu

    return decode_mpdu(data, index)


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
    from rich.table import Table

    kinds = Table(title="frames by kind")
    kinds.add_column("kind")
    kinds.add_column("frames", justify="right")
    for kind, count in sorted(by_kind.items()):
        kinds.add_row(kind, str(count))
    return kinds


def hwmp_table(records: list[dict[str, Any]], title: str) -> Table:
    """One row per HWMP element record of meshframes.layers.dissect."""
    from rich.table import Table

    hwmp = Table(title=title)
    hwmp.add_column("frame", justify="right")
    hwmp.add_column("element")
    hwmp.add_column("fields")
    for record in records:
        hwmp.add_row(str(record["frame"]), record["element"], _describe(record))
    return hwmp


def problem_tables(result: Analysis, limit: int | None) -> list[Table]:
    """Malformed and undecoded frames, with their reasons."""
    from rich.table import Table

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


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def _table(title: str, columns: list[tuple[str, str]], rows: list[dict[str, Any]], limit: int | None) -> Table:
    """A table of `rows` (dicts), one column per (heading, key)."""
    from rich.table import Table

    table = Table(title=f"{title} ({len(rows)})")
    for heading, _ in columns:
        table.add_column(heading)
    for row in rows[:limit]:
        table.add_row(*(_cell(row.get(key)) for _, key in columns))
    return table


def print_sections(sections: dict[str, Any], limit: int | None) -> None:
    """Peering sessions, HWMP discoveries, FastPay flows and nodes of
    meshframes.analysis.run.Analyzer.sections, as tables on stdout."""
    out = console.out
    peering, hwmp, flows, nodes = (sections["peering_sessions"], sections["hwmp_discoveries"],
                                   sections["fastpay_flows"], sections["nodes"])
    if peering["sessions"]:
        out.print(_table("peering sessions", [
            ("link", "link"), ("opened", "opened"), ("open from", "open_from"), ("confirm from", "confirm_from"),
            ("ESTAB after ms", "open_to_estab_ms"), ("closed", "closed"), ("closed by", "closed_by"),
            ("reason", "close_reason")], peering["sessions"], limit))
        out.print(_table("peering per link", [
            ("link", "link"), ("sessions", "sessions"), ("ESTAB", "established"), ("closed", "closed"),
            ("ESTAB lost", "estab_lost"), ("close reasons", "close_reasons")], peering["links"], limit))
    if hwmp["discoveries"]:
        out.print(_table("HWMP discoveries", [
            ("originator", "originator"), ("id", "path_discovery_id"), ("targets", "targets"),
            ("started", "started"), ("PREQ frames", "preq_frames"), ("PREQ->PREP ms", "latency_ms"),
            ("hop count", "hop_count"), ("metric", "metric"), ("next hop", "next_hop")],
            hwmp["discoveries"], limit))
        out.print(_table("paths per destination", [
            ("destination", "destination"), ("discoveries", "discoveries"), ("answered", "answered"),
            ("path changes", "path_changes"), ("PERRs naming it", "perrs")], hwmp["destinations"], limit))
    if hwmp["perrs"]:
        rows = [dict(p, destinations=[f"{d['address']} reason {d['reason']}" for d in p["destinations"]])
                for p in hwmp["perrs"]]
        out.print(_table("PERRs", [("frame", "frame"), ("time", "time"), ("transmitter", "transmitter"),
                                   ("destinations", "destinations")], rows, limit))
    if hwmp["root_modes"]:
        out.print(_table("HWMP roots", [("root", "root"), ("root mode", "mode"),
                                        ("announcements", "announcements")], hwmp["root_modes"], limit))
    if flows["flows"]:
        out.print(_table("FastPay flows", [
            ("sender", "sender"), ("seq", "sequence_number"), ("recipient", "recipient"), ("amount", "amount"),
            ("voters", "voters"), ("signers", "signers"), ("order->vote ms", "order_to_first_vote_ms"),
            ("vote->cert ms", "last_vote_to_certificate_ms"), ("cert->recipient ms", "certificate_to_delivery_ms"),
            ("confirmed to", "confirmed_to"), ("incomplete", "incomplete")], flows["flows"], limit))
    if flows["sealed_messages"]:
        out.print(f"FastPay messages sealed end to end (not read): {flows['sealed_messages']}", soft_wrap=True)
    if nodes["nodes"]:
        out.print(_table("nodes", [("address", "address"), ("frames", "frames"), ("octets", "octets"),
                                   ("air time us", "airtime_us"), ("without rate", "frames_without_rate"),
                                   ("data frames", "data_frames")], nodes["nodes"], limit))
    if sections["duplicates"]:
        out.print(f"frames heard by more than one capture, counted once: {sections['duplicates']}", soft_wrap=True)

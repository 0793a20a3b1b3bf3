"""`meshframes doctor CAPTURE...`: per link, why two mesh stations did or
did not peer and carry data, from captures alone."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from meshframes.analysis.doctor import Cause, Diagnosis, Doctor
from meshframes.cli import console
from meshframes.hosts.captures import merged_mpdus

# How a cause is shown: healthy links in green, ones that never peered in red.
_STYLE = {Cause.OK: "green", Cause.ESTAB_NO_DATA: "yellow", Cause.PEER_LEFT: "yellow",
          Cause.PEER_SILENT: "yellow"}


def _label(capture: int, number: int, several: bool) -> str:
    return f"{capture + 1}:{number}" if several else str(number)


def merged(paths: list[Path], fcs: str) -> tuple[list[tuple[int, int, float, bytes]], list[str]]:
    """meshframes.hosts.captures.merged_mpdus, an unreadable file named as
    a usage error."""
    try:
        return merged_mpdus(paths, fcs)
    except OSError as exc:
        raise click.BadParameter(f"{exc.filename}: {exc.strerror}", param_hint="CAPTURE") from exc


def diagnose(paths: list[Path], fcs: str = "auto") -> tuple[Diagnosis, list[tuple[int, int]], list[str]]:
    """The diagnosis of the captures merged by time, the (capture, frame
    number) of each merged frame (findings quote merged positions), and
    each file's damage. A frame heard by two captures counts once."""
    frames, damage = merged(paths, fcs)
    doctor = Doctor()
    for position, (_, _, t, mpdu) in enumerate(frames, 1):
        doctor.add(position, mpdu, t)
    return doctor.diagnosis(), [(capture, number) for capture, number, _, _ in frames], damage


@click.command(short_help="Why mesh stations did or did not peer and carry data.")
@click.argument("captures", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option("--fcs", type=click.Choice(["auto", "yes", "no"]), default="auto", show_default=True,
              help="Whether raw 802.11 frames (link type 105) end in an FCS.")
@click.option("--all", "show_all", is_flag=True, help="List healthy links too (ESTAB and carrying data).")
def doctor(captures: tuple[Path, ...], as_json: bool, fcs: str, show_all: bool) -> None:
    """Read CAPTURE... (one run, one file per radio or one for all, merged
    by time) and name, for every pair of mesh stations heard, the first
    place where their link departs from mesh peering: Mesh ID or profile
    mismatch, peerings not accepted, SAE refused, looping on anti-clogging
    or failing its Confirm (a wrong password), AMPE unanswered (a wrong
    key), Opens ignored (blocked), closed with a reason, a peer that left
    or fell silent, ESTAB with no data after it; then discoveries whose
    PREQs no PREP answered. Frame numbers are tshark's (CAPTURE:FRAME when
    several files are given). Exit status 1 when a file is damaged (its
    frames before the damage are used)."""
    paths = list(captures)
    diagnosis, where, damage = diagnose(paths, fcs)
    several = len(paths) > 1

    def labels(frames: tuple[int, ...]) -> list[str]:
        return [_label(*where[n - 1], several) for n in frames if 0 < n <= len(where)]

    if as_json:
        out: dict[str, Any] = {
            "captures": [str(p) for p in paths], "frames": diagnosis.frames, "undecodable": diagnosis.undecodable,
            "links": [{**asdict(f), "cause": f.cause.value, "frames": labels(f.frames)} for f in diagnosis.links],
            "paths": [{**asdict(p), "preqs": labels(p.preqs)} for p in diagnosis.paths],
            "damage": damage,
        }
        click.echo(json.dumps(out))
    elif diagnosis.frames or not damage:
        # Whole MACs and reasons: a pipe or file gets the wide console.
        out_console = console.out if console.out.is_terminal else console.out_wide
        shown = [f for f in diagnosis.links if show_all or f.cause is not Cause.OK]
        table = Table(title=f"links ({len(diagnosis.links)} heard, {len(shown)} shown)")
        for column in ("station", "station", "cause"):
            table.add_column(column, no_wrap=True)
        table.add_column("what the frames show", overflow="fold", ratio=1)
        table.add_column("frames", overflow="fold")
        for finding in shown:
            style = _STYLE.get(finding.cause, "red")
            table.add_row(finding.a, finding.b, Text(finding.cause.value, style=style), finding.detail,
                          " ".join(labels(finding.frames)))
        out_console.print(table)
        if diagnosis.paths:
            paths_table = Table(title="discoveries no PREP answered")
            for column in ("originator", "target", "PREQ frames"):
                paths_table.add_column(column)
            for path in diagnosis.paths:
                paths_table.add_row(path.originator, path.target, " ".join(labels(path.preqs)))
            out_console.print(paths_table)
        out_console.print(f"{diagnosis.frames} frames, {diagnosis.undecodable} the codec could not decode")
    for problem in damage:
        console.error(problem)
    if damage:
        raise SystemExit(1)

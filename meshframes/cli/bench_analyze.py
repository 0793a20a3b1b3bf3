"""`meshframes bench analyze`: `analyze --json` against `tshark -T fields`
on one capture of our own frames, the same counts required."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click


@click.command("analyze", short_help="analyze --json against tshark -T fields (same capture, same counts).")
@click.option("--frames", default=100_000, show_default=True, type=click.IntRange(min=1000),
              help="Frames in the capture built from a short demo's air.")
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(min=1), help="Rounds of each side.")
@click.option("--seed", default=3, show_default=True, help="Seed of the demo whose air is repeated.")
@click.option("--json", "as_json", is_flag=True, help="Print the measurements as JSON.")
def bench_analyze(*, frames: int, rounds: int, seed: int, as_json: bool) -> None:
    """Build a capture of FRAMES of our own frames, then run `meshframes
    analyze --json` and tshark extracting the fields analyze reads, each as
    its own process, A B A B; reports median frames/s with their spread,
    CPU time beside wall, peak memory, and the ratio analyze/tshark.
    analyze shares a capture of 4 MiB or more with a second process: its
    CPU time counts too; the peak is the larger process's."""
    from rich.progress import Progress
    from rich.table import Table

    from meshframes.bench import analyze as benchmark
    from meshframes.cli.console import err, out

    with Progress(console=err, transient=True) as progress, tempfile.TemporaryDirectory() as tmp:
        task = progress.add_task("building the capture", total=None)
        capture = Path(tmp) / "air-repeated.pcap"
        benchmark.repeated(benchmark.our_air(Path(tmp), seed), capture, frames)
        progress.update(task, description="timing", total=2 * rounds, completed=0)
        result = benchmark.run(capture, rounds, tick=lambda: progress.advance(task))
    if as_json:
        click.echo(json.dumps(result))
        return
    table = Table(title=f"analyze --json vs tshark -T fields, {result['frames']:,} frames, "
                        f"{rounds} interleaved rounds (same counts by kind)")
    for column in ("", "frames/s (median)", "spread", "CPU frames/s", "wall s", "CPU s", "peak MiB"):
        table.add_column(column, justify="left" if not column else "right")
    for name in ("analyze", "tshark"):
        m = result[name]
        table.add_row(name, f"{m['median_frames_per_s']:,}", f"{m['min_frames_per_s']:,}-{m['max_frames_per_s']:,}",
                      f"{m['cpu_median_frames_per_s']:,}", str(m["median_wall_s"]), str(m["median_cpu_s"]),
                      str(m["peak_mib"]))
    out.print(table)
    out.print(f"ratio analyze/tshark: {result['ratio']:.2f} (wall), {result['cpu_ratio']:.2f} (CPU)")

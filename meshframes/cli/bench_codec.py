"""`meshframes bench codec`: the codec against the Scapy layers, decode and
encode of the same frames, rounds interleaved, caches off."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import click


@click.command("codec", short_help="Codec decode/encode against the Scapy layers (same frames, same run).")
@click.option("--rounds", default=5, show_default=True, type=click.IntRange(min=1), help="Rounds of each side.")
@click.option("--seed", default=3, show_default=True, help="Seed of the demo whose air is measured.")
@click.option("--frames", "limit", default=None, type=click.IntRange(min=10),
              help="Time only the first N byte-identical frames [default: all of the air].")
@click.option("--json", "as_json", is_flag=True, help="Print the measurements as JSON.")
def bench_codec(*, rounds: int, seed: int, limit: int | None, as_json: bool) -> None:
    """Decode and encode every frame of a short demo's air (our own frames,
    those both give back byte for byte) with the codec and with Scapy,
    A B A B; reports medians with their spread, CPU time beside wall, and
    the ratio codec/Scapy."""
    from rich.progress import Progress
    from rich.table import Table

    from meshframes.bench import analyze as air
    from meshframes.bench import codec as benchmark
    from meshframes.cli.console import err, out
    from meshframes.hosts.pcap import mpdus

    with Progress(console=err, transient=True) as progress, tempfile.TemporaryDirectory() as tmp:
        task = progress.add_task("simulating the air", total=None)
        frames = [data for _, data, _ in mpdus(air.our_air(Path(tmp), seed))]
        progress.update(task, description="checking byte identity")
        kept, left_out = benchmark.identical(frames[:limit])
        progress.update(task, description="timing", total=4 * rounds, completed=0)
        results = benchmark.run(kept, rounds, tick=lambda: progress.advance(task))
    rows: list[dict[str, Any]] = [{"operation": c.operation, "frames": len(kept), "codec": c.codec.summary(), "scapy": c.scapy.summary(),
             "ratio": round(c.ratio, 2), "cpu_ratio": round(c.cpu_ratio, 2)} for c in results]
    if as_json:
        click.echo(json.dumps({"frames": len(kept), "not_byte_identical": left_out, "rounds": rounds,
                               "operations": rows, "ratio": min(r["ratio"] for r in rows)}))
        return
    table = Table(title=f"codec vs Scapy, {len(kept)} frames ({left_out} not byte-identical, left out), "
                        f"{rounds} interleaved rounds")
    for column in ("operation", "codec/s (median)", "spread", "Scapy/s (median)", "spread", "ratio", "CPU ratio"):
        table.add_column(column, justify="left" if column == "operation" else "right")
    for r in rows:
        table.add_row(r["operation"], f"{r['codec']['median_per_s']:,}",
                      f"{r['codec']['min_per_s']:,}-{r['codec']['max_per_s']:,}", f"{r['scapy']['median_per_s']:,}",
                      f"{r['scapy']['min_per_s']:,}-{r['scapy']['max_per_s']:,}", f"{r['ratio']:.1f}",
                      f"{r['cpu_ratio']:.1f}")
    out.print(table)

"""`meshframes bench seal`: CCMP and end-to-end sealing throughput as a ratio
of raw AES-CCM on the same payload, measured in the same run."""

from __future__ import annotations

import json

import click


@click.command("seal", short_help="Seal/open throughput against raw AES-CCM (same payload, same run).")
@click.option("--frames", "count", default=20_000, show_default=True, type=click.IntRange(min=100), help="Frames per round.")
@click.option("--rounds", default=5, show_default=True, type=click.IntRange(min=1), help="Rounds; each rate keeps its best.")
@click.option("--json", "as_json", is_flag=True, help="Print the measurements as JSON.")
def bench_seal(*, count: int, rounds: int, as_json: bool) -> None:
    """Time CCMP seal/open (per hop) and end-to-end seal/open of FastPay
    payloads against cryptography's AESCCM called directly on the same
    octets; reports frames/s and the ratio sealed/raw."""
    from rich.progress import Progress
    from rich.table import Table

    from meshframes.bench import seal as benchmark
    from meshframes.cli.console import err, out

    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("sealing", total=len(benchmark.cases()) * rounds)
        results = benchmark.run(count, rounds, tick=lambda: progress.advance(task))
    if as_json:
        rows = [
            {
                "workload": m.workload,
                "layer": m.layer,
                "operation": m.operation,
                "octets": m.octets,
                "frames_per_s": round(m.rate),
                "raw_aesccm_per_s": round(m.baseline_rate),
                "ratio": round(m.ratio, 3),
            }
            for m in results
        ]
        out.print_json(json.dumps(rows))
        return
    table = Table(title=f"seal/open vs raw AESCCM, best of {rounds} rounds x {count} frames")
    for column in ("workload", "layer", "op", "octets", "frames/s", "raw AESCCM/s", "ratio"):
        table.add_column(column, justify="left" if column in ("workload", "layer", "op") else "right")
    for m in results:
        table.add_row(
            m.workload, m.layer, m.operation, str(m.octets), f"{m.rate:,.0f}", f"{m.baseline_rate:,.0f}", f"{m.ratio:.2f}"
        )
    out.print(table)

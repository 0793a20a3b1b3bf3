"""`meshframes bench seal`: CCMP and end-to-end sealing throughput as a ratio
of raw AES-CCM on the same payload, and SAE handshakes as a ratio of the
group's scalar multiplication, each measured in the same run."""

from __future__ import annotations

import json

import click


@click.command("seal", short_help="Seal/open vs raw AES-CCM, SAE handshakes vs scalar-op (same run).")
@click.option("--frames", "count", default=20_000, show_default=True, type=click.IntRange(min=100), help="Frames per round.")
@click.option("--rounds", default=5, show_default=True, type=click.IntRange(min=1), help="Rounds; each rate keeps its best.")
@click.option("--handshakes", default=10, show_default=True, type=click.IntRange(min=1),
              help="SAE handshakes (and as many scalar multiplications) per round.")
@click.option("--sae-rounds", default=3, show_default=True, type=click.IntRange(min=1),
              help="Rounds of SAE handshakes per group and mode; each rate keeps its best.")
@click.option("--json", "as_json", is_flag=True, help="Print the measurements as JSON.")
def bench_seal(*, count: int, rounds: int, handshakes: int, sae_rounds: int, as_json: bool) -> None:
    """Time CCMP seal/open (per hop) and end-to-end seal/open of FastPay
    payloads against cryptography's AESCCM called directly on the same
    octets; reports frames/s and the ratio sealed/raw. Then time complete
    SAE handshakes between two engines (groups 19 and 20, hunting-and-pecking
    and hash-to-element) against the group's scalar multiplication on the
    same curve; reports handshakes/s, scalar-ops/s and how many
    scalar-ops one handshake costs."""
    from rich.progress import Progress
    from rich.table import Table

    from meshframes.bench import seal as benchmark
    from meshframes.cli.console import err, out

    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("sealing", total=len(benchmark.cases()) * rounds)
        results = benchmark.run(count, rounds, tick=lambda: progress.advance(task))
        sae_task = progress.add_task("SAE handshakes", total=len(benchmark.sae_cases()) * sae_rounds)
        sae = benchmark.run_sae(handshakes, sae_rounds, tick=lambda: progress.advance(sae_task))
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
        sae_rows = [
            {
                "case": m.case,
                "group": m.group,
                "handshakes_per_s": round(m.handshake_rate, 2),
                "scalar_ops_per_s": round(m.scalar_mult_rate, 1),
                "ratio": round(m.ratio, 5),
                "scalar_ops_per_handshake": round(m.mults_per_handshake, 2),
            }
            for m in sae
        ]
        out.print_json(json.dumps({"ccmp": rows, "sae": sae_rows}))
        return
    table = Table(title=f"seal/open vs raw AESCCM, best of {rounds} rounds x {count} frames")
    for column in ("workload", "layer", "op", "octets", "frames/s", "raw AESCCM/s", "ratio"):
        table.add_column(column, justify="left" if column in ("workload", "layer", "op") else "right")
    for m in results:
        table.add_row(
            m.workload, m.layer, m.operation, str(m.octets), f"{m.rate:,.0f}", f"{m.baseline_rate:,.0f}", f"{m.ratio:.2f}"
        )
    out.print(table)
    sae_table = Table(title=f"SAE handshakes (both sides) vs the group's scalar-op, best of {sae_rounds} rounds "
                            f"x {handshakes}",
                      caption="hs: a handshake; ratio: hs/s over scalar-op/s; op/hs: scalar-ops one handshake costs")
    for column in ("group", "PWE", "hs/s", "scalar-op/s", "ratio", "op/hs"):
        sae_table.add_column(column, justify="left" if column == "PWE" else "right",
                             no_wrap=column == "PWE")
    for s in sae:
        sae_table.add_row(str(s.group), s.case, f"{s.handshake_rate:,.1f}", f"{s.scalar_mult_rate:,.0f}",
                          f"{s.ratio:.4f}", f"{s.mults_per_handshake:.1f}")
    out.print(sae_table)

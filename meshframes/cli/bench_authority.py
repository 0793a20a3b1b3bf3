"""`meshframes bench authority`: one authority's orders/s and
confirmations/s as ratios of the Ed25519 verify rate measured batch by
batch beside them (the measuring is meshframes.bench.authority's)."""

from __future__ import annotations

import json

import click

from meshframes.cli.params import output_directory


@click.command(short_help="Authority orders/s and confirmations/s vs the Ed25519 verify rate.")
@click.option("--orders", default=5000, show_default=True, type=click.IntRange(10, 10**6))
@click.option("--batch", default=256, show_default=True, type=click.IntRange(1, 10**5),
              help="Messages per SQLite transaction (group commit).")
@click.option("--authorities", default=4, show_default=True, type=click.IntRange(1, 1000))
@click.option("--dir", "directory", default=None, type=click.Path(file_okay=False), callback=output_directory,
              help="Where to put the authority's database (default: the system temp dir).")
@click.option("--repeat", default=3, show_default=True, type=click.IntRange(1, 100),
              help="Rounds; each measure is reported as the median of the rounds with its range.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def authority(
    *, orders: int, batch: int, authorities: int, directory: str | None, repeat: int, as_json: bool
) -> None:
    """Measure one authority against raw Ed25519 verification, same run."""
    from rich.progress import Progress, TaskID
    from rich.table import Table

    from meshframes.bench.authority import Spread, measure_authority
    from meshframes.cli import console

    with Progress(console=console.err, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        r = measure_authority(orders, batch, authorities, directory, repeat, progress)
    if as_json:
        console.out.print(json.dumps(r.as_dict(), separators=(",", ":")), soft_wrap=True)
        return
    table = Table("measure", "median /s", "range /s", "ratio (median, range)")

    def rate(spread: Spread) -> tuple[str, str]:
        return f"{spread.median:,.0f}", f"{spread.low:,.0f}-{spread.high:,.0f}"

    def ratio(spread: Spread, of: str) -> str:
        return f"{spread.median:.2f} ({spread.low:.2f}-{spread.high:.2f}) of {of}"

    per_confirmation = f"verify/{r.verifies_per_confirmation}"
    table.add_row("Ed25519 verify (baseline)", *rate(r.verify_per_s), "1.00")
    table.add_row("Ed25519 verify, CPU time", *rate(r.verify_cpu_per_s), "1.00")
    table.add_row("Ed25519 sign", *rate(r.sign_per_s), "")
    table.add_row("orders", *rate(r.orders_per_s), ratio(r.orders_vs_verify, "verify"))
    table.add_row("", "", "", ratio(r.orders_vs_verify_plus_sign, "verify+sign"))
    table.add_row("orders, CPU time", *rate(r.orders_cpu_per_s), ratio(r.orders_vs_verify_cpu, "verify, CPU"))
    table.add_row("confirmations", *rate(r.confirmations_per_s), ratio(r.confirmations_vs_verify, per_confirmation))
    table.add_row("confirmations, CPU time", *rate(r.confirmations_cpu_per_s),
                  ratio(r.confirmations_vs_verify_cpu, f"{per_confirmation}, CPU"))
    console.out.print(table)
    console.out.print(
        f"{r.orders} orders, {r.authorities} authorities, {r.batch} messages per commit (fsync);"
        f" {r.repeat} rounds, each batch timed right after its baseline (A B A B); ratios within a round"
    )

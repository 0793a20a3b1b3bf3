"""`meshframes bench authority`: one authority's orders/s and
confirmations/s as ratios of the Ed25519 verify rate measured in the same
run (the measuring is meshframes.bench.authority's)."""

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
              help="Interleaved runs; the best rate of each measure is kept.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def authority(
    *, orders: int, batch: int, authorities: int, directory: str | None, repeat: int, as_json: bool
) -> None:
    """Measure one authority against raw Ed25519 verification, same run."""
    from rich.progress import Progress, TaskID
    from rich.table import Table

    from meshframes.bench.authority import measure_authority
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
    table = Table("measure", "rate /s", "ratio")
    table.add_row("Ed25519 verify (baseline)", f"{r.verify_per_s:,.0f}", "1.00")
    table.add_row("Ed25519 sign", f"{r.sign_per_s:,.0f}", "")
    table.add_row("orders", f"{r.orders_per_s:,.0f}", f"{r.orders_vs_verify:.2f} of verify")
    table.add_row("", "", f"{r.orders_vs_verify_plus_sign:.2f} of verify+sign")
    table.add_row(
        "confirmations",
        f"{r.confirmations_per_s:,.0f}",
        f"{r.confirmations_vs_verify:.2f} of verify/{r.verifies_per_confirmation}",
    )
    console.out.print(table)
    console.out.print(
        f"{r.orders} orders, {r.authorities} authorities, {r.batch} messages per commit (fsync),"
        f" best of {r.repeat} interleaved runs"
    )

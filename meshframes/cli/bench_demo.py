"""`meshframes bench demo`: the default demo against an earlier revision's."""

from __future__ import annotations

import json

import click

from meshframes.bench.demo import BASELINE_REVISION


@click.command("demo", short_help="The demo's wall time against an earlier revision's (same seed, interleaved).")
@click.option("--against", "revision", default=BASELINE_REVISION, show_default=True,
              help="The earlier revision (any git revision of this checkout's history).")
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(min=1), help="Rounds of each side.")
@click.option("--seed", default=21, show_default=True, help="The demo's seed, the same on both sides.")
@click.option("--duration", type=click.FloatRange(min=10.0), default=None,
              help="Virtual seconds, the same on both sides [default: the demo's own].")
@click.option("--json", "as_json", is_flag=True, help="Print the measurements as JSON.")
def bench_demo(*, revision: str, rounds: int, seed: int, duration: float | None, as_json: bool) -> None:
    """Run `meshframes demo` (pictures on) as REVISION had it and as this
    tree has it, each as its own process, earlier then current, ROUNDS
    times; report median wall time with its range, CPU time beside it, and
    the ratio earlier/current. Needs this project's git history."""
    from rich.progress import Progress
    from rich.table import Table

    from meshframes.bench import demo as benchmark
    from meshframes.cli.console import err, out

    with Progress(console=err, transient=True) as progress:
        task = progress.add_task(f"checking out {revision} and compiling both trees", total=2 * rounds + 1)

        def tick(what: str) -> None:
            progress.update(task, advance=1, description=f"demo rounds (last: {what})")

        try:
            result = benchmark.run(rounds, seed, revision, duration, tick)
        except benchmark.BenchError as error:
            raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps(result))
        return
    table = Table(title=f"meshframes demo, seed {seed}, {rounds} interleaved rounds"
                        + (f", {duration:g} virtual s" if duration is not None else ""))
    for column in ("", "revision", "wall s (median)", "range", "CPU s (median)"):
        table.add_column(column, justify="left" if column in ("", "revision") else "right")
    for name, label in (("baseline", result["commit"][:10]), ("current", "this tree")):
        side = result[name]
        table.add_row(name, label, str(side["median_wall_s"]), f"{side['min_wall_s']}-{side['max_wall_s']}",
                      str(side["median_cpu_s"]))
    out.print(table)
    if result["baseline_without"]:
        out.print(f"baseline run without {', '.join(result['baseline_without'])}, as that revision was installed")
    out.print(f"ratio earlier/current: {result['ratio']:.2f} (wall), {result['cpu_ratio']:.2f} (CPU); "
              f"round by round {', '.join(f'{r:.2f}' for r in result['round_ratios'])}")

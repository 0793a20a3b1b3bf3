"""`meshframes bench latency`: how long FastPay transfers take over the
simulated mesh, from the order leaving and from the first instant the
geometry put a quorum of live authorities in the client's reach, over a
range of seeds (meshframes.bench.latency measures, this module presents)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from meshframes.cli.params import output_file
from meshframes.cli.sim_options import MAX_DURATION, Finite, SeedRange

if TYPE_CHECKING:
    from meshframes.bench.latency import Summary

SCENARIO_NAMES = ("default", "seed", "large")
MEASURES = (("certified", "start"), ("certified", "reach"), ("confirmed", "start"), ("confirmed", "reach"))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f} ms" if abs(seconds) < 1 else f"{seconds:.2f} s"


@click.command("latency", short_help="Transfer latency over the simulated mesh, from start and from reach.")
@click.option("--seeds", type=SeedRange(), default=None,
              help="Seeds to run, A or A-B inclusive [default: 1-5; the seed scenario: 42].")
@click.option("--scenario", type=click.Choice(SCENARIO_NAMES), default="default", show_default=True,
              help="default: the demo's mesh; seed: the seed brief's 5 authorities and 3 clients; large: 110 nodes.")
@click.option("--duration", type=Finite(10.0, MAX_DURATION), default=None,
              help="Virtual seconds per run [default: the scenario's own, 120 (large: 60)].")
@click.option("--settle", type=Finite(0.0, MAX_DURATION), default=None,
              help="Virtual seconds a run may go on after its duration, no new transfer asked for, until every"
                   " live authority has executed every certificate [default: 300].")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Seeds run in parallel processes (no progress bar per seed then).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None, callback=output_file(),
              help="Draw the latency CDFs into this PNG (needs matplotlib, the plot extra).")
def latency(*, seeds: tuple[int, int] | None, scenario: str, duration: float | None, settle: float | None,
            jobs: int, as_json: bool, plot: Path | None) -> None:
    """Run the scenario for each seed and report, in virtual time, the
    percentiles (p50/p90/p95/max) of latency to certified and confirmed,
    from the order leaving and from the first instant a quorum of live
    authorities was in the client's reach over links in range both ways
    (computed from the simulator's geometry, not the protocol), overall
    and by the hops that reach needed; the transfers that never had reach,
    those left unconfirmed although a quorum was in reach for the run's
    last 10 s; how long each transfer's reach held, and how many of those
    certified more than 1 s after reach had one that held less than 1 s;
    the frames on the air per transfer by kind; and, per run,
    whether money was conserved and balances agree at the live
    authorities, and for each certificate a live authority lacks, how
    long its payer or recipient had a path there. A run goes on after its
    duration, with no new transfer, until every live authority has
    executed every certificate (or --settle more seconds): an authority
    the walks cut off from every holder at the end is caught up by the
    protocol once they meet again; each run says when it ended. Exits 1
    if money was not conserved."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from meshframes.bench import latency as bench
    from meshframes.cli import console

    about = bench.SCENARIOS[scenario]
    low, high = seeds if seeds is not None else about.default_seeds
    seed_list = list(range(low, high + 1))
    settle = bench.SETTLE_S if settle is None else settle
    spec = bench.scenario_spec(scenario, low, duration)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console.err, disable=as_json) as bar:
        seeds_task = bar.add_task("seeds", total=len(seed_list), status="")
        run_task = bar.add_task("virtual s", total=spec.duration + settle, status="", visible=jobs == 1)

        def progress(seed: int, t: float) -> None:
            bar.update(run_task, completed=round(t), status=f"seed {seed}")

        def finished(run: Any) -> None:
            bar.update(seeds_task, advance=1, status=f"seed {run.seed}: {run.wall_s:.0f} s wall")

        summary = bench.run(scenario, seed_list, jobs=jobs, duration=duration, settle=settle,
                            progress=progress if jobs == 1 else None, finished=finished)
    data = summary.as_dict() | {"scenario": scenario, "about": f"{about.about}: {bench.describe(spec)}",
                                "duration_s": spec.duration, "settle_up_to_s": settle, "relays": spec.relays}
    data = _rounded(data)
    if plot is not None:
        try:
            from meshframes.cli.bench_latency_plot import cdf_png
        except ImportError as exc:
            console.warning(f"no picture: {exc}. Install the plot extra (`make setup` does).")
        else:
            cdf_png(summary, plot, title=f"{scenario} scenario, seeds {low}-{high}, {spec.duration:g} s per run")
            data["plot"] = str(plot)
    if as_json:
        click.echo(json.dumps(data))
    else:
        _tables(data, summary)
    for run in data["runs"]:
        if not run["balances_equal_at_live_authorities"]:
            reached = [g for g in run["lagging"] if g["in_reach"]]
            why = (f"{len(reached)} missing certificate(s) had a holder in reach of the authority for"
                   f" {bench.IN_REACH_AT_END_S:g} s" if reached else
                   f"no missing certificate had a holder in reach of its authority for {bench.IN_REACH_AT_END_S:g} s")
            console.warning(f"seed {run['seed']}: balances differ between live authorities at the end"
                            f" ({run['ended_s']:g} s) for {len(run['balance_disagreements'])} account(s); {why}")
    broken = [run["seed"] for run in data["runs"] if not run["money_conserved"]]
    if broken:
        console.error(f"money was not conserved at every authority in seed(s) {broken}: this is a bug,"
                      " please report it")
        raise SystemExit(1)


def _rounded(value: Any) -> Any:
    """Floats to the microsecond, the rest as is (JSON keys as strings)."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {str(k): _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def _tables(data: dict[str, Any], summary: Summary) -> None:
    from rich.table import Table

    from meshframes.cli import console

    out = console.out
    tr = data["transfers"]
    out = out if out.is_terminal else console.out_wide
    out.print(f"{data['scenario']} scenario, {data['about']}; seeds {', '.join(map(str, data['seeds']))}.",
              soft_wrap=True)
    out.print(f"transfers: {tr['planned']} planned, {tr['started']} started, {tr['certified']} certified,"
              f" {tr['confirmed']} confirmed; {tr['certified_within_1s_of_reach']} certified within 1 s of"
              f" reach.", soft_wrap=True)
    slow = data["certified_over_1s_from_reach"]
    out.print(f"certified more than 1 s after reach: {slow['transfers']}, of which {slow['reach_held_under_1s']}"
              " had a quorum in reach for less than 1 s from that instant.", soft_wrap=True)
    table = Table(title="latency (virtual time); reach = the first instant a quorum was in the client's reach")
    for column in ("measure", "n", "p50", "p90", "p95", "max"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    for what, origin in MEASURES:
        values = summary.latencies(what, origin)
        stats = data["latency_s"][f"{what}_from_{origin}"] or {}
        table.add_row(f"{what} from {origin}", str(len(values)),
                      *(_duration(stats.get(k)) for k in ("p50", "p90", "p95", "max")))
    out.print(table)
    hops = Table(title="by hops to a quorum at the instant of reach (fewest hops whose authorities weigh a quorum)")
    for column in ("hops", "transfers", "measure", "n", "p50", "p90", "p95", "max"):
        hops.add_column(column, justify="left" if column == "measure" else "right", no_wrap=True)
    for h, by in data["latency_by_hops_s"].items():
        for k, (what, origin) in enumerate(MEASURES):
            stats = by[f"{what}_from_{origin}"] or {}
            hops.add_row(h if k == 0 else "", str(by["transfers"]) if k == 0 else "", f"{what} from {origin}",
                         str(len(summary.latencies(what, origin, int(h)))),
                         *(_duration(stats.get(key)) for key in ("p50", "p90", "p95", "max")),
                         end_section=k == len(MEASURES) - 1)
    out.print(hops)
    for key, title in (("never_in_reach", "never had a quorum in reach (from start to the end of the run)"),
                       ("incomplete_with_quorum_in_reach",
                        "left unconfirmed although a quorum was in reach for the last 10 s"),
                       ("certified_before_reach",
                        "certified before a quorum was in reach all at once (votes gathered one by one)")):
        rows = data[key]
        listing = Table(title=f"{title}: {len(rows)}")
        for column in ("seed", "payer", "to", "requested", "started", "reach", "certified", "confirmed"):
            listing.add_column(column, justify="right")
        for row in rows:
            listing.add_row(str(row["seed"]), f"C{row['payer']}", f"C{row['recipient']}",
                            *(("-" if row[k] is None else f"{row[k]:.2f}")
                              for k in ("requested", "started", "reach", "certified", "confirmed")))
        out.print(listing if rows else listing.title)
    air = data["air"]
    frames = Table(title=f"frames on the air (retries included): {air['frames']}, {air['per_transfer']} per"
                         f" planned transfer")
    for column in ("kind", "frames", "per transfer"):
        frames.add_column(column, justify="left" if column == "kind" else "right")
    for kind, count in sorted(air["by_kind"].items(), key=lambda kv: -kv[1]):
        frames.add_row(kind, f"{count:,}", f"{air['by_kind_per_transfer'][kind]:,.1f}")
    out.print(frames)
    runs = Table(title="runs")
    for column in ("seed", "transfers", "failed", "money conserved", "balances equal (live)", "ended", "frames",
                   "wall"):
        runs.add_column(column, justify="right")
    for run in data["runs"]:
        runs.add_row(str(run["seed"]), str(run["transfers"]),
                     " ".join(f"A{i}" for i in run["failed_authorities"]) or "-",
                     "yes" if run["money_conserved"] else "NO", "yes" if run["balances_equal_at_live_authorities"]
                     else f"no ({len(run['balance_disagreements'])}; {_unreached(run)})", f"{run['ended_s']:g} s",
                     f"{run['frames']:,}",
                     f"{run['wall_s']:.1f} s")
    out.print(runs)
    if "plot" in data:
        out.print(f"picture: {data['plot']}")


def _unreached(run: dict[str, Any]) -> str:
    """How many of a run's missing certificates no holder could bring."""
    lagging = run["lagging"]
    return f"{sum(not g['in_reach'] for g in lagging)} of {len(lagging)} missing out of a holder's reach"

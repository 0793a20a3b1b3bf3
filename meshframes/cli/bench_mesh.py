"""`meshframes bench mesh`: the seed's five figures over the simulated
mesh (meshframes.bench.figures runs them, this module presents): latency
per hop count from start and from reach, routing convergence, healing
after a relay fails against Linux's timers, FastPay's scalability with the
node count, and throughput under a saturating load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from meshframes.cli.params import output_directory
from meshframes.cli.sim_options import SeedRange


class Sizes(click.ParamType[tuple[int, ...]]):
    """N[,N...]: node counts from 30 to 20,000."""

    name = "sizes"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        try:
            sizes = tuple(int(v) for v in str(value).split(","))
        except ValueError:
            sizes = ()
        if not sizes or not all(30 <= n <= 20_000 for n in sizes):
            self.fail(f"got {value!r}, expected node counts from 30 to 20000, comma-separated", param, ctx)
        return sizes


@click.command("mesh", short_help="The five mesh figures: latency per hop, convergence, healing, scale, throughput.")
@click.option("--nodes", type=click.IntRange(30, 20_000), multiple=True, default=(1000,), show_default=True,
              help="Static fields to measure figures 1, 2, 3 and 5 on (repeat for several).")
@click.option("--demo/--no-demo", default=True, show_default=True,
              help="Measure figures 1, 2, 3 and 5 on the demo's walking mesh too.")
@click.option("--figures/--no-figures", default=True, show_default=True,
              help="Figures 1, 2, 3 and 5 (--no-figures: only the scale run, figure 4).")
@click.option("--seeds", type=SeedRange(), default=(1, 1), show_default=True, help="Seeds, A or A-B inclusive.")
@click.option("--scale", "scale_sizes", type=Sizes(), default="100,250,500,1000", show_default=True,
              help="Node counts of the FastPay scale run (figure 4), e.g. 100,250,500,1000,2000,5000,10000.")
@click.option("--transfers", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="Certified transfers each scale run makes.")
@click.option("--loads", type=str, default="1,2,4,8,16", show_default=True,
              help="Paying clients at each throughput step.")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Work units run in parallel processes; the results are the same whatever the count.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option("--plot", type=click.Path(file_okay=False, path_type=Path), default=None, callback=output_directory,
              help="Draw the figures into this directory (PNG; needs matplotlib, the plot extra).")
def mesh(*, nodes: tuple[int, ...], demo: bool, figures: bool, seeds: tuple[int, int], scale_sizes: tuple[int, ...],
         transfers: int, loads: str, jobs: int, as_json: bool, plot: Path | None) -> None:
    """Measure, in virtual time, for the demo's mesh and for each static
    field of NODES: transfer latency by hops to a quorum (from start and
    from reach), convergence (power-on until every node with a physical
    path to each authority has an HWMP path; again after a relay fails),
    healing after the relay on most client-authority paths fails
    (detection, rediscovery, first delivery, against the bound Linux's
    timers give) and certified transfers per second as paying clients
    double; and, for each scale size, a FastPay run to full peering,
    paths to the authorities (root mode taken once peered) and TRANSFERS
    certified transfers asked for at once, with its
    wall time, CPU time and peak memory on this machine and their growth
    exponents. The "results" part of the JSON depends only on the seeds;
    "costs" is this machine's."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from meshframes.bench.figures import DEMO, Unit, run_units
    from meshframes.bench.scale import growth_exponent
    from meshframes.cli import console

    try:
        load_steps = tuple(int(v) for v in loads.split(","))
    except ValueError:
        load_steps = ()
    if not load_steps or not all(1 <= v <= 1000 for v in load_steps):
        raise click.BadParameter(f"got {loads!r}, expected client counts from 1 to 1000, comma-separated",
                                 param_hint="--loads")
    seed_list = list(range(seeds[0], seeds[1] + 1))
    scenarios = (([DEMO] if demo else []) + [str(n) for n in nodes]) if figures else []
    units = [Unit("figures", s, seed, transfers, load_steps) for s in scenarios for seed in seed_list]
    units += [Unit("scale", str(n), seed, transfers) for n in scale_sizes for seed in seed_list]
    done: dict[Unit, tuple[dict[str, Any], dict[str, Any]]] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[last]}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console.err, disable=as_json) as bar:
        task = bar.add_task("work units", total=len(units), last="")

        def finished(unit: Unit, results: dict[str, Any], costs: dict[str, Any]) -> None:
            done[unit] = (results, costs)
            bar.update(task, advance=1, last=unit.label)

        run_units(units, jobs, finished)

    by_scenario = {s: {str(seed): done[Unit("figures", s, seed, transfers, load_steps)][0] for seed in seed_list}
                   for s in scenarios}
    scale = {str(n): {str(seed): done[Unit("scale", str(n), seed, transfers)][0] for seed in seed_list}
             for n in scale_sizes}
    costs: dict[str, Any] = {
        "figures": {s: {str(seed): done[Unit("figures", s, seed, transfers, load_steps)][1] for seed in seed_list}
                    for s in scenarios},
        "scale": {str(n): {str(seed): done[Unit("scale", str(n), seed, transfers)][1] for seed in seed_list}
                  for n in scale_sizes}}
    first = str(seed_list[0])
    sizes = list(scale_sizes)
    costs["growth_exponent"] = {
        measure: growth_exponent(sizes, [costs["scale"][str(n)][first][key]["total"] if key != "peak_rss_mib"
                                         else costs["scale"][str(n)][first][key] for n in sizes])
        for measure, key in (("wall", "wall_s"), ("cpu", "cpu_s"), ("peak_rss", "peak_rss_mib"))}
    costs["growth_exponent"]["frames"] = growth_exponent(sizes, [scale[str(n)][first]["frames"] for n in sizes])
    data: dict[str, Any] = {"results": {"figures": by_scenario, "scale": scale}, "costs": costs}
    if plot is not None:
        try:
            from meshframes.cli.bench_mesh_plot import draw
        except ImportError as exc:
            console.warning(f"no pictures: {exc}. Install the plot extra (`make setup` does).")
        else:
            data["plots"] = [str(p) for p in draw(data, plot)]
    if as_json:
        click.echo(json.dumps(data, sort_keys=True))
        return
    _tables(data)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.1f} ms"


def _tables(data: dict[str, Any]) -> None:
    from rich.table import Table

    from meshframes.bench.scale import SCALE_SCENARIO
    from meshframes.cli import console

    out = console.out if console.out.is_terminal else console.out_wide
    results, costs = data["results"], data["costs"]
    for scenario, by_seed in results["figures"].items():
        # The static fields and the scale runs keep an open mesh: SAE costs
        # about 13 ms of CPU per link, more than the whole run's CPU at
        # 10,000 nodes (README, "The mesh benchmark").
        name = ("the demo's mesh (secure: SAE, AMPE, CCMP per hop)" if scenario == "demo"
                else f"{scenario}-node static field (open mesh)")
        for seed, fig in by_seed.items():
            lat = fig["latency"]
            table = Table(title=f"{name}, seed {seed}: 1. latency to certified by hops to a quorum")
            for column in ("hops", "transfers", "from start p50", "p90", "max", "from reach p50", "p90", "max"):
                table.add_column(column, justify="right")
            if "by_hops_s" in lat:
                for h, by in lat["by_hops_s"].items():
                    start, reach = by["certified_from_start"] or {}, by["certified_from_reach"] or {}
                    table.add_row(h, str(by["transfers"]), *(_ms(start.get(k)) for k in ("p50", "p90", "max")),
                                  *(_ms(reach.get(k)) for k in ("p50", "p90", "max")))
            else:
                for h, by in lat["by_hops_ms"].items():
                    cells = [f"{by[k]:,.1f} ms" for k in ("p50", "p90", "max")]
                    table.add_row(h, str(by["transfers"]), *cells, *cells)
            out.print(table)
            conv, heal, tp = fig["convergence"], fig["healing"], fig["throughput"]
            out.print(f"2. convergence: power-on to every node's path to every authority"
                      f" {conv['power_on_s']} s (root interval {conv['root_interval_s']} s); after the relay"
                      f" failed {conv['after_relay_failure_s']} s", soft_wrap=True)
            bound = heal["bound"]
            terms = ", ".join(f"{k} {v} s" for k, v in bound.items() if k != "total")
            out.print(f"3. healing: relay {heal['relay']} on {heal['flows']} client-authority flows failed at"
                      f" {heal['failed_at']} s: detected after {heal['detection_s']} s, rediscovered after"
                      f" {heal['rediscovery_s']} s, every flow delivering again after {heal['first_delivery_s']} s;"
                      f" Linux's bound {bound['total']} s ({terms})", soft_wrap=True)
            rates = ", ".join(f"{p['clients']} clients {p['per_s']}/s" for p in tp["points"])
            out.print(f"5. throughput (certified transfers per virtual second): {rates}; saturates at"
                      f" {tp['saturated_at_clients']} clients, peak {tp['peak_per_s']}/s; {tp['limited_by']}",
                      soft_wrap=True)
    table = Table(title="4. FastPay at scale (open mesh): full peering, paths to the authorities, certified"
                        " transfers", caption=SCALE_SCENARIO)
    for column in ("nodes", "seed", "peered s", "converged s", "certified", "latency p50", "p99", "frames/transfer",
                   "wall s", "CPU s", "peak MiB"):
        table.add_column(column, justify="right")
    for n, by_seed in results["scale"].items():
        for seed, r in by_seed.items():
            c = costs["scale"][n][seed]
            lat = r["latency_ms"] or {}
            table.add_row(n, seed, str(r["peering_done_s"]), str(r["converged_s"]),
                          f"{r['certified']}/{r['transfers']}", f"{lat.get('p50', '-')} ms", f"{lat.get('p99', '-')} ms",
                          str(r["air_frames_per_transfer"]), f"{c['wall_s']['total']:,.1f}",
                          f"{c['cpu_s']['total']:,.1f}", f"{c['peak_rss_mib']:,.0f}")
    out.print(table)
    growth = costs["growth_exponent"]
    out.print("growth exponents (value ~ nodes^k): " + ", ".join(f"{k} {v}" for k, v in growth.items()))
    for path in data.get("plots", []):
        out.print(f"picture: {path}")

"""`meshframes bench mesh`: the 1,000-node simulated mesh (peering, then
path discovery and delivery between random pairs), with wall time, peak
memory and the simulator's frame rate as a ratio to the codec's bare
decode rate measured in the same process."""

from __future__ import annotations

import inspect
import json
import time

import click


def _decode_baseline(seconds: float = 0.5) -> float:
    """Decodes per second of distinct PREQ frames, uncached: the floor any
    reception in the simulator pays."""
    from meshframes.codec import frames
    from meshframes.codec.pathsel import Preq, PreqTarget
    from meshframes.mesh.mbss import path_selection

    # The uncached decoder behind the cache (codec.frames sets __wrapped__).
    raw_decode = inspect.unwrap(frames.decode)
    samples = [frames.encode(path_selection(b"\xff" * 6, bytes([2, 0, 0, 0, i >> 8, i & 0xFF]),
                                            Preq(0, 1, 30, i, b"\x02" * 6, i, 4882, 100,
                                                 (PreqTarget(0, b"\x02\x00\x00\x00\x00\x09", 0),))))
               for i in range(256)]
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for data in samples:
            raw_decode(data)
        count += len(samples)
    return count / (time.perf_counter() - start)


@click.command(short_help="1,000-node simulated mesh: peering, discovery, delivery.")
@click.option("--nodes", type=click.IntRange(2), default=1000, show_default=True)
@click.option("--pairs", type=click.IntRange(1), default=100, show_default=True,
              help="Random source/destination pairs to discover paths between.")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON and nothing else.")
def mesh(*, nodes: int, pairs: int, seed: int, as_json: bool) -> None:
    """Simulate NODES mesh STAs placed at random, wait until every neighbour
    pair has peered, then discover paths and deliver a message between
    PAIRS random pairs. Reports virtual-time results, wall time, peak RSS,
    and simulated receptions per wall second against a same-run baseline
    of bare frame decodes per second."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from meshframes.bench.scale import run_scale
    from meshframes.cli.console import err, out

    baseline = _decode_baseline()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, disable=as_json) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        result = run_scale(nodes, pairs, seed, progress=progress)
    rate = result.receptions / result.wall_s if result.wall_s else 0.0
    data = result.as_dict() | {"decode_baseline_per_s": round(baseline),
                               "receptions_per_wall_s": round(rate),
                               "ratio_to_decode_baseline": round(rate / baseline, 4)}
    if as_json:
        click.echo(json.dumps(data))
        return
    table = Table(title=f"mesh scale: {nodes} nodes, {pairs} pairs, seed {seed}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in data.items():
        table.add_row(key, str(value))
    out.print(table)

"""`meshframes bench NAME`: benchmarks reported against a baseline measured
beside the work, batch by batch (e.g. authority orders/s against raw
Ed25519 verifies/s), as medians with their range and CPU time beside wall
time; the simulator's figures are in virtual time."""

from __future__ import annotations

import importlib

import click

# benchmark -> "module:click_command"; each area adds its own line.
BENCHES: dict[str, str] = {
    "seal": "meshframes.cli.bench_seal:bench_seal",
    "authority": "meshframes.cli.bench_authority:authority",
    "mesh": "meshframes.cli.bench_mesh:mesh",
    "latency": "meshframes.cli.bench_latency:latency",
    "payment": "meshframes.cli.bench_payment:payment",
    "codec": "meshframes.cli.bench_codec:bench_codec",
    "analyze": "meshframes.cli.bench_analyze:bench_analyze",
    "demo": "meshframes.cli.bench_demo:bench_demo",
}
# Benchmarks that boot the hwsim guest (minutes), or need the project's git
# history (a clone, not an installed package): not part of `all`.
NOT_IN_ALL = {"payment", "demo"}


class _LazyBenches(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(BENCHES) + ["all"]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name == "all":
            return _all
        target = BENCHES.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=_LazyBenches, short_help="Run benchmarks (baselines measured beside the work; virtual-time figures).")
def bench() -> None:
    """Run a benchmark; each reports its rate next to a baseline measured in
    the same run and the ratio between them."""


@click.command("all", short_help="Run every benchmark with its defaults (not the hwsim ones, not demo), one after "
                                 "the other.")
@click.pass_context
def _all(ctx: click.Context) -> None:
    """Run every registered benchmark with its default options, except
    those that boot the hwsim guest and `demo`, which needs the project's
    git history."""
    for name in sorted(BENCHES.keys() - NOT_IN_ALL):
        command = bench.get_command(ctx, name)
        if command is not None:
            ctx.invoke(command)

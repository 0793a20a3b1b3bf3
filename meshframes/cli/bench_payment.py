"""`meshframes bench payment`: the latency of a FastPay payment between
`meshframes node` processes on hwsim radios (order -> certificate ->
confirmation, on the payer's clock), on the monitor and on the mesh
transport, beside the kernel's own 2-hop PREQ -> PREP time measured in the
same guest (meshframes.bench.payment). It boots the hwsim guest and takes
minutes; `meshframes bench all` leaves it out."""

from __future__ import annotations

import json
from dataclasses import asdict

import click


@click.command(short_help="FastPay payment latency on hwsim radios vs the kernel's 2-hop discovery.")
@click.option("--rounds", type=click.IntRange(1), default=5, show_default=True,
              help="Kernel 2-hop discoveries to time.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON and nothing else.")
def payment(*, rounds: int, as_json: bool) -> None:
    """Run the node payment scenarios (three payments each: all
    authorities up, one killed, a restarted one caught up) on both
    transports and time each payment from the payer's history; then time
    Linux's own path discovery over two hops (n0 - n1 - n2, kernel mesh
    points) from a recording, as the baseline of what one discovery costs
    in this guest."""
    from rich.table import Table

    from meshframes.bench import payment as bench
    from meshframes.cli.console import err, out
    from meshframes.cli.hwsim import _guest

    with _guest(None) as guest, err.status("measuring") as status:
        result = bench.run(guest, rounds=rounds, progress=lambda what: status.update(f"measuring {what}"))
    baseline = result.discovery.median_s
    if as_json:
        click.echo(json.dumps({"payments": [asdict(p) for p in result.payments],
                               "kernel_2hop_preq_to_prep_s": list(result.discovery.preq_to_prep_s),
                               "kernel_2hop_median_s": baseline, "boot_s": result.boot_s}))
        return
    table = Table(title="FastPay payment on hwsim radios (3 hops; payer's clock)")
    for column in ("transport", "phase", "seq", "order->certificate", "order->confirmation",
                   "x kernel 2-hop PREQ->PREP"):
        table.add_column(column, justify="right" if column[0] in "osx" else "left")
    for p in result.payments:
        ratio = f"{p.confirmed_s / baseline:.0f}x" if baseline else "-"
        table.add_row(p.transport, p.phase, str(p.sequence_number), f"{p.certified_s * 1000:.0f} ms",
                      f"{p.confirmed_s * 1000:.0f} ms", ratio)
    out.print(table)
    times = ", ".join(f"{t * 1000:.1f}" for t in result.discovery.preq_to_prep_s)
    median = f"{baseline * 1000:.1f} ms" if baseline is not None else "none seen"
    out.print(f"kernel 2-hop PREQ->PREP (n0 - n1 - n2, {len(result.discovery.preq_to_prep_s)} of "
              f"{result.discovery.rounds} rounds seen): median {median} [{times} ms]", soft_wrap=True)

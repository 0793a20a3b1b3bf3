"""`meshframes bench latency --plot`: the latency CDFs (matplotlib, Agg
backend: a file, no display).

Every curve counts against all planned transfers, so a curve that stops
below 1 says how many never got there. The time axis is logarithmic (from
milliseconds to a minute); a latency from reach that is not positive (a
transfer certified before the quorum was in reach all at once) cannot sit
on it, so such transfers are drawn at the left edge (as are any under
0.1 ms) and their number is written in the legend.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from meshframes.bench.latency import Summary  # noqa: E402

_STYLE = {("certified", "start"): ("#1f4e9c", "-"), ("certified", "reach"): ("#d0312d", "-"),
          ("confirmed", "start"): ("#1f4e9c", ":"), ("confirmed", "reach"): ("#d0312d", ":")}
LEFT_EDGE = 1e-4  # s


def cdf_png(summary: Summary, path: Path, *, title: str) -> None:
    planned = len(summary.transfers)
    fig, ax = plt.subplots(figsize=(8, 5))
    right = LEFT_EDGE * 10
    curves = []
    for (what, origin), (colour, style) in _STYLE.items():
        values = sorted(summary.latencies(what, origin))
        clipped = (sum(1 for v in values if v <= 0), sum(1 for v in values if 0 < v <= LEFT_EDGE))
        xs = [max(v, LEFT_EDGE) for v in values]
        if xs:
            right = max(right, xs[-1])
        curves.append(((what, origin), colour, style, xs, clipped, len(values)))
    edge = max(right * 1.5, 2.0)  # the 1 s bar always in the picture
    for (what, origin), colour, style, xs, clipped, count in curves:
        # A step up by 1/planned at each latency, from 0 at the left edge,
        # flat to the right edge at the share that got there at all.
        steps_x = [LEFT_EDGE, *xs, edge]
        steps_y = [0.0, *((k + 1) / planned for k in range(len(xs))), len(xs) / planned]
        label = f"{what} from {origin} ({count} of {planned})"
        negative, tiny = clipped
        if negative:
            label += f"; {negative} certified before reach (negative), at the left edge"
        if tiny:
            label += f"; {tiny} under {LEFT_EDGE * 1000:g} ms, at the left edge"
        # From start drawn wider, underneath: where reach was at the start
        # the two curves are the same and both stay visible.
        ax.step(steps_x, steps_y, where="post", color=colour, linestyle=style, label=label,
                linewidth=3.0 if origin == "start" else 1.3, alpha=0.55 if origin == "start" else 1.0,
                zorder=1 if origin == "start" else 2)
    for bar, name in ((0.1, "100 ms"), (1.0, "1 s")):
        ax.axvline(bar, color="#888888", linewidth=0.8)
        ax.text(bar, 1.01, name, color="#555555", fontsize=8, ha="center", va="bottom",
                transform=ax.get_xaxis_transform())
    ax.set_xscale("log")
    ax.set_xlim(LEFT_EDGE, edge)
    ax.set_ylim(0, 1.0)
    ax.text(0.01, 0.98, "a curve's height at the right edge is the share of planned transfers that got there",
            transform=ax.transAxes, fontsize=8, color="#555555", va="top")
    ax.set_xlabel("latency, virtual seconds (log scale)")
    ax.set_ylabel(f"fraction of the {planned} planned transfers")
    ax.set_title(title, fontsize=10, pad=14)
    ax.grid(True, which="major", linewidth=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

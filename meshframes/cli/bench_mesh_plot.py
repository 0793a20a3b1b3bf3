"""`meshframes bench mesh --plot DIR`: the figures as pictures (matplotlib,
Agg backend: files, no display): latency CDFs, latency against hops to a
quorum, the scale curve and the healing timeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402


def _name(scenario: str) -> str:
    return "demo mesh" if scenario == "demo" else f"{scenario}-node field"


def draw(data: dict[str, Any], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    results, costs = data["results"], data["costs"]
    figures = results["figures"]
    made = []

    fig, ax = plt.subplots(figsize=(8, 5))
    for scenario, by_seed in figures.items():
        for origin, style in (("start", "-"), ("reach", ":")):
            values = sorted(v for fig_ in by_seed.values() for v in fig_["latency"].get(f"certified_from_{origin}_s", ())
                            if v > 0)
            if values:
                ax.step([v * 1000 for v in values], [(k + 1) / len(values) for k in range(len(values))],
                        style, where="post", label=f"{_name(scenario)}: certified from {origin}")
    ax.set_xscale("log")
    made.append(_finish(fig, ax, ("latency (virtual ms)", "share of certified transfers", "latency to certified: CDF"),
                        directory / "latency-cdf.png"))

    fig, ax = plt.subplots(figsize=(8, 5))
    for scenario, by_seed in figures.items():
        for seed, fig_ in by_seed.items():
            lat = fig_["latency"]
            rows: list[tuple[int, float, float]] = []
            if "by_hops_s" in lat:
                for h, b in lat["by_hops_s"].items():
                    stats = b["certified_from_start"]
                    if stats is not None:
                        rows.append((int(h), stats["p50"] * 1000, stats["p90"] * 1000))
            else:
                rows = [(int(h), b["p50"], b["p90"]) for h, b in lat["by_hops_ms"].items()]
            rows.sort()
            if rows:
                hops = [r[0] for r in rows]
                ax.plot(hops, [r[1] for r in rows], "o-", label=f"{_name(scenario)} seed {seed}: p50")
                ax.plot(hops, [r[2] for r in rows], "x:", label=f"{_name(scenario)} seed {seed}: p90")
    ax.set_yscale("log")
    made.append(_finish(fig, ax, ("hops to a quorum", "latency to certified from start (virtual ms)",
                                  "latency against hops"), directory / "latency-hops.png"))

    fig, ax = plt.subplots(figsize=(8, 5))
    sizes = sorted(int(n) for n in results["scale"])
    if sizes:
        seed = next(iter(results["scale"][str(sizes[0])]))
        for key, label in (("wall_s", "wall s"), ("cpu_s", "CPU s")):
            ax.plot(sizes, [costs["scale"][str(n)][seed][key]["total"] for n in sizes], "o-", label=label)
        ax.plot(sizes, [costs["scale"][str(n)][seed]["peak_rss_mib"] for n in sizes], "s--", label="peak MiB")
        ax.plot(sizes, [results["scale"][str(n)][seed]["frames"] / 1000 for n in sizes], "^:",
                label="frames on the air (thousands)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    growth = ", ".join(f"{k} {v}" for k, v in costs["growth_exponent"].items())
    made.append(_finish(fig, ax, ("nodes", "", f"FastPay at scale; growth exponents {growth}"),
                        directory / "scale.png"))

    fig, ax = plt.subplots(figsize=(8, 1 + 0.8 * sum(len(b) for b in figures.values())))
    row = 0
    labels = []
    named: set[str] = set()
    for scenario, by_seed in figures.items():
        for seed, fig_ in by_seed.items():
            heal = fig_["healing"]
            marks = [("detection", heal["detection_s"], "#d0312d"), ("rediscovery", heal["rediscovery_s"], "#1f4e9c"),
                     ("every flow delivers", heal["first_delivery_s"], "#2a9d3c"),
                     ("Linux bound", heal["bound"]["total"], "#777777")]
            for name, value, colour in marks:
                if value is not None:
                    ax.plot([value], [row], "o" if name != "Linux bound" else "|", color=colour, markersize=12,
                            label=None if name in named else name)
                    named.add(name)
            ax.hlines(row, 0, max(v for _, v, _ in marks if v is not None), color="#cccccc", zorder=0)
            labels.append(f"{_name(scenario)} seed {seed}")
            row += 1
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("virtual s after the relay failed")
    ax.set_title("healing timeline")
    # Outside the axes: inside, it would hide a mark wherever one falls.
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    made.append(_save(fig, directory / "healing.png"))
    return made


def _finish(fig: Any, ax: Any, labels: tuple[str, str, str], path: Path) -> Path:
    """Label the axes (x, y, title), add the legend and save."""
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(labels[2])
    ax.legend(fontsize=8)
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

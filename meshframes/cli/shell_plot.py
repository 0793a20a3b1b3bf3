"""The shell's `topology FILE.png` (matplotlib, Agg backend: a file, no
display): every node where it is and the links its peer table holds
established. A simulated mesh knows where its nodes are; running nodes do
not, so they are drawn on a ring, and peers no connected node is known
by are drawn by their MAC.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from meshframes.hosts.control_client import NodeView  # noqa: E402
from meshframes.mesh.peers import PlinkState  # noqa: E402

ESTAB = PlinkState.ESTAB.value
_ROLE_STYLE = {"authority": ("s", "#1f4e9c", 110), "client": ("o", "#2a9d4b", 80)}
_OTHER_STYLE = (".", "#888888", 60)


def topology_png(views: list[NodeView], path: Path, title: str) -> None:
    names = {v.mac: v.name for v in views if v.mac is not None}
    roles = {v.mac: v.role for v in views if v.mac is not None}
    # A link is drawn once, solid when both ends hold it established, dashed
    # when only one does (the other has not confirmed yet, or is not ours).
    held: dict[frozenset[str], int] = {}
    for v in views:
        for p in v.peers:
            if v.mac is not None and p["state"] == ESTAB:
                pair = frozenset((v.mac, p["mac"]))
                held[pair] = held.get(pair, 0) + 1
                roles.setdefault(p["mac"], p["role"])
    macs = sorted({mac for pair in held for mac in pair} | set(names))
    if all(v.position is not None for v in views) and set(macs) <= set(names):
        where = {v.mac: v.position for v in views if v.mac is not None and v.position is not None}
    else:
        where = {mac: (math.cos(2 * math.pi * k / len(macs)), math.sin(2 * math.pi * k / len(macs)))
                 for k, mac in enumerate(macs)}
    fig, ax = plt.subplots(figsize=(10, 7))
    for pair, sides in held.items():
        a, b = sorted(pair)
        ax.plot(*zip(where[a], where[b], strict=True), color="#4a78b5", lw=1.2,
                linestyle="-" if sides == 2 else "--", zorder=1)
    down = {v.mac for v in views if not v.alive}
    for mac, (x, y) in where.items():
        marker, colour, size = _ROLE_STYLE.get(roles.get(mac) or "", _OTHER_STYLE)
        ax.scatter([x], [y], marker=marker, c=colour, s=size, zorder=3, edgecolors="white", linewidths=0.8)
        ax.annotate(names.get(mac, mac), (x, y), xytext=(5, 5), textcoords="offset points", fontsize=9, zorder=4)
        if mac in down:
            ax.scatter([x], [y], marker="x", c="#d62728", s=220, linewidths=3, zorder=5)
    for role, (marker, colour, size) in _ROLE_STYLE.items():
        ax.scatter([], [], marker=marker, c=colour, s=size, label=role)
    ax.scatter([], [], marker=_OTHER_STYLE[0], c=_OTHER_STYLE[1], s=_OTHER_STYLE[2], label="relay or unknown")
    ax.plot([], [], color="#4a78b5", label="peer link, established at both ends")
    ax.plot([], [], color="#4a78b5", linestyle="--", label="established at one end")
    if down:
        ax.scatter([], [], marker="x", c="#d62728", s=120, linewidths=3, label="failed")
    if all(v.position is not None for v in views):
        ax.set_aspect("equal")
        ax.set_xlabel("x (m)")
        ax.set_ylabel("y (m)")
    else:
        ax.set_axis_off()
    ax.set_title(f"{title}: peer links")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

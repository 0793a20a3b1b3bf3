"""The demo's pictures (matplotlib, Agg backend: files, no display):

- topology: where every node was when one transfer started, who could
  hear whom then and who was peered, where each node walked over the run, the paths that
  transfer's orders took to the authorities, and the failed authorities;
- timeline: every transfer from start to certificate to confirmation to
  the recipient's credit against virtual time, the latencies, and the air's
  frames per second by kind (from the run's record of what it sent), with
  the failure marked on each.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from meshframes.codec.fastpay import MessageType  # noqa: E402
from meshframes.sim.demo import Demo, Snapshot, TransferRecord  # noqa: E402

_ROLE_STYLE = {"authority": ("s", "#1f4e9c", 110), "client": ("o", "#2a9d4b", 80), None: (".", "#888888", 40)}
_KIND_GROUPS = {"beacon": "beacons", "peering-open": "peering", "peering-confirm": "peering",
                "peering-close": "peering", "preq": "HWMP", "prep": "HWMP", "perr": "HWMP", "rann": "HWMP",
                "fastpay-announce": "FastPay announce"}


def _highlight(demo: Demo) -> TransferRecord | None:
    """The transfer whose orders crossed the most hops, among those
    certified within a second (so the picture of one instant is true to
    every hop: nobody walks more than 3 m meanwhile)."""
    best, most = None, 0
    for record in demo.transfers():
        if record.certified is None or record.started is None or record.certified - record.started > 1.0:
            continue
        hops = max((len(h) for h in _order_paths(demo, record).values()), default=0)
        if hops > most:
            best, most = record, hops
    return best


def _order_paths(demo: Demo, record: TransferRecord) -> dict[int, list[tuple[float, int]]]:
    """Authority number -> (time, node) of each transmission of the first
    order of this transfer that reached it."""
    mesh = demo.mesh
    if record.started is None or record.certified is None:
        return {}
    payer = mesh.node(mesh.clients[record.payer]).mac
    where = {mesh.node(n).mac: i for i, n in enumerate(mesh.authorities)}
    paths: dict[int, list[tuple[float, int]]] = {}
    for traced in mesh.traced.values():
        if (traced.source != payer or traced.msg_type != MessageType.FASTPAY_ORDER or not traced.arrived
                or traced.destination not in where):
            continue
        sent = traced.hops[0].time
        if record.started <= sent <= record.certified:
            paths.setdefault(where[traced.destination], [(h.time, h.node) for h in traced.hops])
    return paths


def topology_png(demo: Demo, path: Path) -> Snapshot:
    """Draw the mesh at the instant the highlighted transfer started (the
    middle of the run if none is), from that instant's snapshot and
    nothing else; the snapshot drawn."""
    mesh, spec = demo.mesh, demo.spec
    record = _highlight(demo)  # certified, so its start and certificate times are known
    snap = demo.snapshot(record.started if record is not None and record.started is not None else spec.duration / 2)
    here = snap.positions
    roles = {p.node: p.role for p in mesh.parties.values()}
    fig, ax = plt.subplots(figsize=(12, 7.6))
    for walk in snap.walks.values():
        ax.plot([p[0] for p in walk], [p[1] for p in walk], color="#cccccc", lw=0.6, zorder=1)
    for link in snap.links:
        ax.plot(*zip(here[link.a], here[link.b], strict=False), color="#9bb7d4", zorder=2,
                lw=1.2 if link.peered else 0.8, ls="-" if link.peered else ":")
    colours = plt.get_cmap("tab10")
    if record is not None:
        for i, hops in sorted(_order_paths(demo, record).items()):
            points = [here[n] for _, n in hops] + [here[mesh.authorities[i]]]
            ax.annotate("", xy=points[-1], xytext=points[-2],
                        arrowprops={"arrowstyle": "-|>", "color": colours(i), "lw": 2.2}, zorder=4)
            ax.plot([p[0] for p in points], [p[1] for p in points], color=colours(i), lw=2.2, zorder=3,
                    label=f"order to authority {i}: {len(hops)} hop{'s' * (len(hops) != 1)}")
    for index, (x, y) in here.items():
        marker, colour, size = _ROLE_STYLE[roles.get(index)]
        ax.scatter([x], [y], marker=marker, c=colour, s=size, zorder=5, edgecolors="white", linewidths=0.8)
        party = mesh.parties.get(index)
        if party is not None:
            ax.annotate(f"{'A' if party.role == 'authority' else 'C'}{party.index}", (x, y), xytext=(5, 5),
                        textcoords="offset points", fontsize=9, zorder=6)
        if index not in snap.alive:
            ax.scatter([x], [y], marker="x", c="#d62728", s=260, linewidths=3, zorder=7)
    for role, label in (("authority", "authority"), ("client", "client"), (None, "relay")):
        marker, colour, size = _ROLE_STYLE[role]
        ax.scatter([], [], marker=marker, c=colour, s=size, label=label)
    if len(snap.alive) < len(here):
        ax.scatter([], [], marker="x", c="#d62728", s=120, linewidths=3,
                   label=f"failed (at {spec.fail_at:g} s)")
    ax.plot([], [], color="#9bb7d4", lw=1.2, label="peered, in radio range now")
    ax.plot([], [], color="#9bb7d4", lw=0.8, ls=":", label="in radio range now, not peered")
    ax.plot([], [], color="#cccccc", label="where nodes walked")
    ax.set_xlim(-5, spec.area[0] + 5)
    ax.set_ylim(-5, spec.area[1] + 5)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    title = f"FastPay over 802.11s, seed {spec.seed}: the mesh at t = {snap.at:.2f} s (virtual)"
    if record is not None and record.started is not None and record.certified is not None:
        title += (f"\nclient C{record.payer} pays C{record.recipient} {record.amount}: the paths its orders took"
                  f" (certified {1000 * (record.certified - record.started):.1f} ms later)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return snap


def timeline_png(demo: Demo, path: Path) -> None:
    spec = demo.spec
    records = [r for r in demo.transfers() if r.started is not None]
    fig, (lanes, delays, air) = plt.subplots(3, 1, figsize=(11, 10), sharex=True,
                                             gridspec_kw={"height_ratios": [3, 2, 2]})
    for y, r in enumerate(records):
        lanes.plot([r.requested, r.started], [y, y], color="#dddddd", lw=3)
        if r.certified is not None:
            lanes.plot([r.started, r.certified], [y, y], color="#1f77b4", lw=3)
            # A tick too: most transfers certify within milliseconds, too
            # short for a visible bar at this scale.
            lanes.scatter([r.certified], [y], marker="|", color="#1f77b4", s=60, zorder=3)
        if r.certified is not None and r.confirmed is not None:
            lanes.plot([r.certified, r.confirmed], [y, y], color="#2ca02c", lw=3)
            lanes.scatter([r.confirmed], [y], marker="|", color="#2ca02c", s=60, zorder=3)
        if r.credited is not None:
            lanes.scatter([r.credited], [y], marker="D", color="#ff7f0e", s=22, zorder=3)
    lanes.plot([], [], color="#dddddd", lw=3, label="waiting for the previous transfer")
    lanes.plot([], [], color="#1f77b4", lw=3, label="voting (order -> quorum certificate)")
    lanes.plot([], [], color="#2ca02c", lw=3, label="confirming (-> quorum executed)")
    lanes.scatter([], [], marker="D", color="#ff7f0e", label="recipient credited")
    lanes.set_yticks(range(len(records)), [f"C{r.payer}->C{r.recipient}" for r in records], fontsize=7)
    security = "secure (SAE, AMPE, CCMP per hop)" if spec.secure else "open"
    lanes.set_title(f"{len(records)} transfers over a moving {security} mesh (seed {spec.seed})")
    lanes.legend(fontsize=8, loc="lower right")
    for name, attr, colour in (("certified", "certified", "#1f77b4"), ("confirmed", "confirmed", "#2ca02c"),
                               ("credited", "credited", "#ff7f0e")):
        points = [(r.started, getattr(r, attr) - r.started) for r in records if getattr(r, attr) is not None]
        delays.scatter([p[0] for p in points], [max(p[1], 1e-4) for p in points], s=18, color=colour,
                       label=f"time to {name}")
    if any(r.certified is not None for r in records):
        delays.set_yscale("log")
        delays.legend(fontsize=8)
    else:
        delays.text(0.5, 0.5, "no transfer certified yet", transform=delays.transAxes, ha="center")
    delays.set_ylabel("latency (virtual s)")
    bins = int(math.ceil(spec.duration))
    per_second: dict[str, list[int]] = {}
    # analyze names SAE's Authentication frames "other"; in a secure mesh
    # they are most of them.
    other = "other, SAE included" if spec.secure else "other"
    assert demo.air.times is not None
    for t, kind in demo.air.times:
        kind = kind or other
        group = _KIND_GROUPS.get(kind, "FastPay messages" if kind.startswith("fastpay") else other)
        per_second.setdefault(group, [0] * bins)[min(bins - 1, int(t))] += 1
    groups = sorted(per_second)
    air.stackplot(range(bins), *(per_second[g] for g in groups), labels=groups, step="post")
    air.set_ylabel("frames per second")
    air.set_xlabel("virtual time (s)")
    air.legend(fontsize=8, loc="upper right", ncol=3)
    if demo.failed:
        for ax in (lanes, delays, air):
            ax.axvline(spec.fail_at, color="#d62728", ls="--", lw=1)
        lanes.text(spec.fail_at, len(records) - 0.5, f" {', '.join(f'A{i}' for i in demo.failed)} fails",
                   color="#d62728", fontsize=8, va="top")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


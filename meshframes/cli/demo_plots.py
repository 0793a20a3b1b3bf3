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

import io
import os
import pickle
import sys
import traceback
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from meshframes.cli.demo_pictures import TimelinePicture, TopologyPicture  # noqa: E402

Segment = tuple[tuple[float, float], tuple[float, float]]
_ROLE_STYLE = {"authority": ("s", "#1f4e9c", 110), "client": ("o", "#2a9d4b", 80), None: (".", "#888888", 40)}


def draw_topology(picture: TopologyPicture, path: Path) -> None:
    """Draw the mesh of `picture` (its snapshot and nothing else) into `path`."""
    spec, snap, record = picture.spec, picture.snapshot, picture.record
    here = snap.positions
    fig, ax = plt.subplots(figsize=(12, 7.6))
    # One collection per style: hundreds of lines as three artists.
    ax.add_collection(LineCollection(list(snap.walks.values()), colors="#cccccc", linewidths=0.6, zorder=1))
    for peered, width, style in ((True, 1.2, "-"), (False, 0.8, ":")):
        segments = [(here[link.a], here[link.b]) for link in snap.links if link.peered is peered]
        if segments:
            ax.add_collection(LineCollection(segments, colors="#9bb7d4", linewidths=width, linestyles=style,
                                             zorder=2))
    colours = plt.get_cmap("tab10")
    if record is not None:
        for i, hops in sorted(picture.order_paths.items()):
            points = [here[n] for _, n in hops] + [here[picture.authorities[i]]]
            ax.annotate("", xy=points[-1], xytext=points[-2],
                        arrowprops={"arrowstyle": "-|>", "color": colours(i), "lw": 2.2}, zorder=4)
            ax.plot([p[0] for p in points], [p[1] for p in points], color=colours(i), lw=2.2, zorder=3,
                    label=f"order to authority {i}: {len(hops)} hop{'s' * (len(hops) != 1)}")
    for role, label in (("authority", "authority"), ("client", "client"), (None, "relay")):
        marker, colour, size = _ROLE_STYLE[role]
        nodes = [index for index in here if picture.roles.get(index) == role]
        ax.scatter([here[n][0] for n in nodes], [here[n][1] for n in nodes], marker=marker, c=colour, s=size,
                   zorder=5, edgecolors="white", linewidths=0.8, label=label)
    for index, text in picture.labels.items():
        ax.annotate(text, here[index], xytext=(5, 5), textcoords="offset points", fontsize=9, zorder=6)
    failed = [here[index] for index in here if index not in snap.alive]
    if failed:
        ax.scatter([p[0] for p in failed], [p[1] for p in failed], marker="x", c="#d62728", s=260, linewidths=3,
                   zorder=7)
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
    fig.savefig(path, dpi=110, pil_kwargs={"compress_level": 1})
    plt.close(fig)


def draw_timeline(picture: TimelinePicture, path: Path) -> None:
    """Draw the transfers and the air of `picture` into `path`."""
    spec, records = picture.spec, picture.records
    fig, (lanes, delays, air) = plt.subplots(3, 1, figsize=(11, 10), sharex=True,
                                             gridspec_kw={"height_ratios": [3, 2, 2]})
    # One collection per phase and one scatter per mark, not artists per
    # transfer: what the drawing costs follows the artists' count.
    # A transfer never started has no bar (a line to nowhere draws nothing).
    waiting: list[Segment] = [((r.requested, y), (r.started, y)) for y, r in enumerate(records)
                              if r.started is not None]
    voting: list[Segment] = [((r.started, y), (r.certified, y)) for y, r in enumerate(records)
                             if r.started is not None and r.certified is not None]
    confirming: list[Segment] = [((r.certified, y), (r.confirmed, y)) for y, r in enumerate(records)
                                 if r.certified is not None and r.confirmed is not None]
    for segments, colour in ((waiting, "#dddddd"), (voting, "#1f77b4"), (confirming, "#2ca02c")):
        lanes.add_collection(LineCollection(segments, colors=colour, linewidths=3, capstyle="projecting"))
    # Ticks too: most transfers certify within milliseconds, too short for
    # a visible bar at this scale.
    for ends, colour in ((voting, "#1f77b4"), (confirming, "#2ca02c")):
        lanes.scatter([end[0] for _, end in ends], [end[1] for _, end in ends], marker="|", color=colour, s=60,
                      zorder=3)
    credited = [(r.credited, y) for y, r in enumerate(records) if r.credited is not None]
    lanes.scatter([c[0] for c in credited], [c[1] for c in credited], marker="D", color="#ff7f0e", s=22, zorder=3)
    lanes.autoscale_view()
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
    per_second = picture.per_second
    bins = len(next(iter(per_second.values()), []))
    groups = sorted(per_second)
    air.stackplot(range(bins), *(per_second[g] for g in groups), labels=groups, step="post")
    air.set_ylabel("frames per second")
    air.set_xlabel("virtual time (s)")
    air.legend(fontsize=8, loc="upper right", ncol=3)
    if picture.failed:
        for ax in (lanes, delays, air):
            ax.axvline(spec.fail_at, color="#d62728", ls="--", lw=1)
        lanes.text(spec.fail_at, len(records) - 0.5, f" {', '.join(f'A{i}' for i in picture.failed)} fails",
                   color="#d62728", fontsize=8, va="top")
    # Fixed margins rather than tight_layout, which lays out every text
    # once more before the drawing: the tick labels here are short
    # ("C12->C3", powers of ten) and the legends sit inside the axes.
    fig.subplots_adjust(left=0.09, right=0.98, top=0.96, bottom=0.05, hspace=0.12)
    fig.savefig(path, dpi=110, pil_kwargs={"compress_level": 1})
    plt.close(fig)


def _draw(picture: TopologyPicture | TimelinePicture, path: Path) -> None:
    if isinstance(picture, TopologyPicture):
        draw_topology(picture, path)
    else:
        draw_timeline(picture, path)


def _warm_up() -> None:
    """Draw and encode a throwaway figure with the artists the pictures
    use, while the run still goes on the other core: the first drawing
    of a process loads the fonts and the PNG writer, and each fork would
    otherwise pay for it again after the run."""
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.add_collection(LineCollection([((0.0, 0.0), (1.0, 1.0))], linestyles=":"))
    ax.scatter([0.5], [0.5], marker="D", label="x")
    ax.stackplot(range(2), [1, 2], step="post")
    ax.set_yscale("log")
    ax.annotate("x", (0.5, 0.5), arrowprops={"arrowstyle": "-|>"})
    ax.set_title("x")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(io.BytesIO(), format="png", dpi=20, pil_kwargs={"compress_level": 1})
    plt.close(fig)


def _draw_all() -> int:
    """The demo Painter's drawing process: the (picture, path) pairs
    pickled on stdin by the parent, each drawn by its own fork of this
    process (matplotlib already loaded and warmed up) at the same time.
    The exit status is 1 if any drawing failed; each failure's traceback
    is on stderr."""
    _warm_up()
    jobs = pickle.load(sys.stdin.buffer)
    children = []
    for picture, path in jobs[1:]:
        pid = os.fork()
        if pid == 0:
            try:
                _draw(picture, path)
            except BaseException:
                traceback.print_exc()
                os._exit(1)
            os._exit(0)
        children.append(pid)
    failed = False
    try:
        _draw(*jobs[0])
    except Exception:
        traceback.print_exc()
        failed = True
    for pid in children:
        failed |= os.waitpid(pid, 0)[1] != 0
    return 1 if failed else 0


if __name__ == "__main__":
    status = _draw_all()
    # The pictures are written and closed; the parent waits for this exit,
    # and the interpreter's own teardown with matplotlib loaded costs it
    # about 0.15 s more.
    sys.stderr.flush()
    os._exit(status)

"""The demo's topology picture is true to its instant: node positions,
links and peerings read after the run are what the mesh had at that
virtual time, and the picture is drawn from exactly that data."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from meshframes.mesh.peers import PlinkState
from meshframes.sim.demo import Demo, DemoSpec
from meshframes.sim.mobility import Point

INSTANTS = (5.3, 12.7, 20.1)  # before and after the failure at 8 s


def _run(tmp_path: Path) -> tuple[Demo, dict[float, tuple[dict[int, Point], set[tuple[int, int]], set[tuple[int, int]]]]]:
    """A small demo, with what the mesh looked like at each instant noted
    while it ran: positions, pairs that hear each other, peered pairs."""
    run = Demo(tmp_path, DemoSpec(seed=3, clients=3, relays=4, duration=25.0, transfers_per_client=1,
                                  area=(80.0, 60.0), fail_at=8.0))
    net = run.mesh.net
    seen = {}

    def note(t: float) -> None:
        nodes = [n.index for n in net.nodes]
        alive = {i for i in nodes if net.medium.radios[i].alive}
        hears = {i: set(net.medium.neighbours(i, t)) for i in alive}
        seen[t] = ({i: net.nodes[i].radio.mobility.position(t) for i in nodes},
                   {(a, b) for a in alive for b in hears[a] if a < b and b in alive and a in hears[b]},
                   {(a, b) for a in nodes for b in nodes if a < b and net.peer_state(a, b) is PlinkState.ESTAB
                    and net.peer_state(b, a) is PlinkState.ESTAB})

    for t in INSTANTS:
        net.scheduler.at(t, note, t)
    run.run()
    return run, seen


def test_snapshot_is_the_mesh_as_it_was(tmp_path: Path) -> None:
    """Read after the run, each instant's snapshot has every node where it
    was then, a link for exactly the live pairs in each other's range
    (each no longer than either range), peered as they were; each walk
    passes through every position the node held."""
    run, seen = _run(tmp_path)
    ranges = {n.index: n.radio.radio_range for n in run.mesh.net.nodes}
    for t in INSTANTS:
        positions, hearing, peered = seen[t]
        snap = run.snapshot(t)
        assert snap.positions == positions
        assert {(link.a, link.b) for link in snap.links} == hearing
        for link in snap.links:
            assert link.length == math.dist(positions[link.a], positions[link.b])
            assert link.length <= min(ranges[link.a], ranges[link.b])
        assert {(link.a, link.b) for link in snap.links if link.peered} == peered & hearing
        assert any(link.peered for link in snap.links)
        for index, where in positions.items():
            walk = snap.walks[index]
            assert min(_to_segment(where, p, q) for p, q in zip(walk, walk[1:], strict=False)) < 1e-6
    assert run.mesh.authorities[run.failed[0]] not in run.snapshot(12.7).alive


def test_topology_png_draws_its_snapshot(tmp_path: Path) -> None:
    """The picture's geometry is the snapshot of the instant it shows."""
    from meshframes.cli.demo_pictures import topology_picture
    from meshframes.cli.demo_plots import draw_topology

    run, _ = _run(tmp_path)
    png = tmp_path / "topology.png"
    picture = topology_picture(run)
    assert picture.snapshot == run.snapshot(picture.snapshot.at)
    draw_topology(picture, png)
    assert png.read_bytes()[:4] == b"\x89PNG"


def _to_segment(p: Point, a: Point, b: Point) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    k = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2))
    return math.dist(p, (a[0] + k * dx, a[1] + k * dy))


def test_painter_draws_both_and_names_a_failure(tmp_path: Path) -> None:
    """The painter's one process draws both pictures (the second in a fork
    of it); when a drawing fails, `finish` raises PictureError ending with
    the line the failing drawing said last, not a traceback."""
    from meshframes.cli.demo_pictures import Painter, PictureError

    run, _ = _run(tmp_path / "run")
    out = tmp_path / "out"
    out.mkdir()
    painter = Painter()
    try:
        painter.start(run, out)
        assert painter.finish() == {"topology": str(out / "topology.png"), "timeline": str(out / "timeline.png")}
    finally:
        painter.close()
    assert all((out / name).read_bytes()[:4] == b"\x89PNG" for name in ("topology.png", "timeline.png"))
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    painter = Painter()
    try:
        with pytest.raises(PictureError, match=r"exit 1\): NotADirectoryError: .*file/"):
            painter.start(run, not_a_directory)
            painter.finish()
    finally:
        painter.close()

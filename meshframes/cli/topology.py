"""`meshframes topology CAPTURE... [-o FILE]`: the mesh's stations, who
hears whom, established links and the paths data took, from captures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import networkx as nx
from rich.table import Table

from meshframes.analysis.topology import MeshTopology, TopologyReader
from meshframes.cli import console
from meshframes.cli.doctor import merged

FORMATS = (".png", ".svg", ".dot", ".graphml")


def read_topology(paths: list[Path], fcs: str = "auto") -> tuple[MeshTopology, list[str]]:
    """The topology of the captures merged by time, and each file's damage."""
    reader = TopologyReader()
    frames, damage = merged(paths, fcs)
    for number, (_, _, t, mpdu) in enumerate(frames, 1):
        reader.add(number, mpdu, t)
    return reader.topology(), damage


def _dot(topology: MeshTopology) -> str:
    """Graphviz: stations, established links (solid, undirected), hears
    (dotted, directed) and flow hops (bold, labelled with the flow)."""
    lines = ["digraph mesh {", "  node [shape=box, fontname=monospace];"]
    for station, mesh_id in topology.stations.items():
        label = f"{station}\\n{mesh_id}" if mesh_id else station
        lines.append(f'  "{station}" [label="{label}"];')
    for link in topology.links:
        if link.established:
            lines.append(f'  "{link.a}" -> "{link.b}" [dir=none, penwidth=2, label="{link.cause.value}"];')
    for (a, b), frames in topology.hears.items():
        lines.append(f'  "{a}" -> "{b}" [style=dotted, label="{frames}"];')
    for flow in topology.flows:
        for tx, rx, frames in flow.hops:
            lines.append(f'  "{tx}" -> "{rx}" [color=blue, penwidth=2, '
                         f'label="{flow.source[-5:]}>{flow.destination[-5:]} ({frames})"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def graph_of(topology: MeshTopology) -> nx.MultiDiGraph:
    """Stations as nodes; edges of kind "hears" (a sent to b, with
    `frames`), "estab" (both directions, with the doctor's `cause`) and
    "flow" (a hop of a flow, with its `source`, `destination`, `frames`)."""
    graph = nx.MultiDiGraph()
    for station, mesh_id in topology.stations.items():
        graph.add_node(station, mesh_id=mesh_id or "")
    for (a, b), frames in topology.hears.items():
        graph.add_edge(a, b, kind="hears", frames=frames)
    for link in topology.links:
        if link.established:
            graph.add_edge(link.a, link.b, kind="estab", cause=link.cause.value)
            graph.add_edge(link.b, link.a, kind="estab", cause=link.cause.value)
    for flow in topology.flows:
        for transmitter, receiver, frames in flow.hops:
            graph.add_edge(transmitter, receiver, kind="flow", source=flow.source,
                           destination=flow.destination, frames=frames)
    return graph


def _graphml(topology: MeshTopology, path: Path) -> None:
    graph = graph_of(topology)
    for _, _, data in graph.edges(data=True):
        for key, value in list(data.items()):
            if value is None:
                del data[key]
    nx.write_graphml(graph, path)


def _picture(topology: MeshTopology, path: Path) -> None:
    """Stations placed by a force layout (seed 1): a capture has no
    positions, so distance in the picture means nothing, and the title
    says so."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    graph = nx.Graph()
    graph.add_nodes_from(topology.stations)
    heard = [(a, b) for a, b in topology.hears]
    estab = [(link.a, link.b) for link in topology.links if link.established]
    graph.add_edges_from(heard + estab)
    positions = nx.spring_layout(graph, seed=1)
    figure, axes = plt.subplots(figsize=(9, 7))
    nx.draw_networkx_nodes(graph, positions, ax=axes, node_color="#dde6f5", node_size=900)
    nx.draw_networkx_labels(graph, positions, ax=axes, font_size=7,
                            labels={s: s[-8:] + (f"\n{m}" if m else "") for s, m in topology.stations.items()})
    nx.draw_networkx_edges(graph, positions, ax=axes, edgelist=heard, style="dotted", edge_color="#999999")
    nx.draw_networkx_edges(graph, positions, ax=axes, edgelist=estab, width=2.5, edge_color="#2a7a2a")
    hops = {(tx, rx) for flow in topology.flows for tx, rx, _ in flow.hops}
    directed = nx.DiGraph()
    directed.add_nodes_from(topology.stations)
    nx.draw_networkx_edges(directed, positions, ax=axes, edgelist=sorted(hops), edge_color="#1f4fbf", width=1.5,
                           arrows=True, arrowstyle="-|>", connectionstyle="arc3,rad=0.15")
    axes.set_title("established links (green), addressed frames (dotted), data hops (blue arrows)\n"
                   "from the capture alone; placement is a force layout, not geometry", fontsize=9)
    axes.axis("off")
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)


def as_json(topology: MeshTopology) -> dict[str, Any]:
    return {
        "frames": topology.frames,
        "stations": [{"mac": s, "mesh_id": m} for s, m in topology.stations.items()],
        "hears": [{"from": a, "to": b, "frames": n} for (a, b), n in topology.hears.items()],
        "links": [{"a": link.a, "b": link.b, "established": link.established, "cause": link.cause.value}
                  for link in topology.links],
        "flows": [{"source": f.source, "destination": f.destination, "frames": f.frames,
                   "path": list(f.path) if f.path else None,
                   "hops": [{"from": tx, "to": rx, "frames": n} for tx, rx, n in f.hops]} for f in topology.flows],
    }


@click.command(short_help="Stations, who hears whom, links and data paths from captures.")
@click.argument("captures", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the graph: .png or .svg (a picture), .dot (Graphviz) or .graphml.")
@click.option("--json", "as_json_flag", is_flag=True, help="Print one JSON object instead of tables.")
@click.option("--fcs", type=click.Choice(["auto", "yes", "no"]), default="auto", show_default=True,
              help="Whether raw 802.11 frames (link type 105) end in an FCS.")
def topology(captures: tuple[Path, ...], output: Path | None, as_json_flag: bool, fcs: str) -> None:
    """Read CAPTURE... (one run, merged by time, a frame heard twice counted
    once) and show the mesh as the frames prove it: every station with the
    Mesh ID it beacons; who sent unicast frames to whom (it heard them);
    which pairs reached ESTAB (Open and Confirm each way); and for each
    flow of mesh data (mesh SA to mesh DA) the hops that carried it, in
    order when they chain. Exit status 1 when a file is damaged (its
    frames before the damage are used)."""
    if output is not None and output.suffix not in FORMATS:
        raise click.BadParameter(f"{output.name}: the format follows the suffix, one of {', '.join(FORMATS)}",
                                 param_hint="--output")
    if output is not None and not output.parent.is_dir():
        raise click.BadParameter(f"{output.parent} is not a directory", param_hint="--output")
    result, damage = read_topology(list(captures), fcs)
    if as_json_flag:
        click.echo(json.dumps(as_json(result)))
    else:
        _print(result)
    if output is not None:
        try:
            if output.suffix == ".dot":
                output.write_text(_dot(result))
            elif output.suffix == ".graphml":
                _graphml(result, output)
            else:
                _picture(result, output)
        except OSError as exc:
            raise click.BadParameter(f"{output}: {exc.strerror}", param_hint="--output") from exc
        console.success(f"wrote {output}")
    for problem in damage:
        console.error(problem)
    if damage:
        raise SystemExit(1)


def _print(result: MeshTopology) -> None:
    out = console.out if console.out.is_terminal else console.out_wide
    peers: dict[str, list[str]] = {s: [] for s in result.stations}
    for link in result.links:
        if link.established:
            peers.setdefault(link.a, []).append(link.b)
            peers.setdefault(link.b, []).append(link.a)
    stations = Table(title=f"stations ({len(result.stations)})")
    for column in ("station", "mesh id", "established with", "sends to"):
        stations.add_column(column, overflow="fold")
    for station, mesh_id in result.stations.items():
        sends = sorted(b for a, b in result.hears if a == station)
        stations.add_row(station, mesh_id or "", " ".join(sorted(peers.get(station, []))), " ".join(sends))
    out.print(stations)
    flows = Table(title=f"data flows ({len(result.flows)})")
    for column in ("mesh SA", "mesh DA", "frames", "path (or hops)"):
        flows.add_column(column, overflow="fold")
    for flow in result.flows:
        route = " > ".join(flow.path) if flow.path else " ".join(f"{tx}>{rx}" for tx, rx, _ in flow.hops)
        flows.add_row(flow.source, flow.destination, str(flow.frames), route)
    out.print(flows)

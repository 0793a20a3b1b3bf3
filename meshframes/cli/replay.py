"""`meshframes replay PCAP --node MAC`: play one node's capture into our
engine and compare what it does with what the captured node did."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

import click
from rich.table import Table

from meshframes.cli import console


def _mac(text: str) -> bytes:
    try:
        value = bytes.fromhex(text.replace(":", "").replace("-", ""))
    except ValueError:
        value = b""
    if len(value) != 6:
        raise click.BadParameter(f"{text!r} is not a MAC address", param_hint="--node")
    return value


def _macs(items: Iterable[bytes]) -> list[str]:
    return sorted(a.hex(":") for a in items)


@click.command(short_help="Play a node's capture into our HWMP engine and compare.")
@click.argument("pcap", type=click.Path(exists=True, dir_okay=False))
@click.option("--node", "node_mac", default=None, help="The MAC the capture was taken at.")
@click.option("--mesh-id", default=None, help="Mesh ID (default: from the capture's beacons).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def replay(pcap: str, node_mac: str | None, mesh_id: str | None, as_json: bool) -> None:
    """Feed what the node at --node heard into our engine and compare: the
    next hop of every data frame it sent, the PREQs it forwarded, the PREPs
    it answered, the PERR destinations and the discoveries it started.

    Its links are its own peering frames (a Confirm each way: established;
    a Close: ended), not the beacons it heard. Its ACKs become transmit
    reports only in a capture that holds ACKs: hwsim's monitors record
    none, and a frame without one is then no loss. A node whose PERRs were
    all broadcast is run as Linux runs, PERRs broadcast without
    precursors. A MAC that sends nothing in the capture is refused."""
    from meshframes.hosts.pcap import CaptureError
    from meshframes.sim.replay import NodeNotInCapture, NothingToReplay, transmitters
    from meshframes.sim.replay import replay as run

    try:
        if node_mac is None:
            candidates = ", ".join(f"{a.hex(':')} ({n})" for a, n in
                                   sorted(transmitters(pcap).items(), key=lambda kv: -kv[1]))
            if not candidates:
                raise click.UsageError("give --node MAC; no frame in the capture names its transmitter")
            raise click.UsageError(f"give --node MAC; transmitters in the capture: {candidates}")
        result = run(pcap, _mac(node_mac), mesh_id.encode() if mesh_id else None)
    except NodeNotInCapture as exc:
        raise click.UsageError(f"{pcap}: {exc}") from exc
    except (CaptureError, NothingToReplay) as exc:
        console.error(f"{pcap}: {exc}")
        raise SystemExit(1) from exc
    if not result.linked:
        console.warning(f"{node_mac} completes no peering in this capture (a Confirm each way), so our engine "
                        "has no link to forward on: a capture must start before the node's links form")
    rows = {
        "PREQs forwarded (originator, target)": (
            {f"{o.hex(':')}->{t.hex(':')}" for o, t in result.captured.forwarded_preqs},
            {f"{o.hex(':')}->{t.hex(':')}" for o, t in result.ours.forwarded_preqs}),
        "PREPs sent (to, pair)": (
            {f"{r.hex(':')}:{'/'.join(_macs(p))}" for r, p in result.captured.preps},
            {f"{r.hex(':')}:{'/'.join(_macs(p))}" for r, p in result.ours.preps}),
        "PERR destinations": (set(_macs(result.captured.perr_destinations)),
                              set(_macs(result.ours.perr_destinations))),
        "RANNs forwarded (root)": (set(_macs(result.captured.forwarded_ranns)),
                                   set(_macs(result.ours.forwarded_ranns))),
        "discoveries started (target)": ({t.hex(":") for _, t in result.captured.originated},
                                         {t.hex(":") for _, t in result.ours.originated}),
    }
    paths = [{"destination": p.dst.hex(":"), "next_hop": p.next_hop.hex(":") if p.next_hop else None,
              "metric": p.metric, "hop_count": p.hop_count, "sn": p.sn}
             for p in sorted(result.node.paths, key=lambda p: p.dst)]
    if as_json:
        sys.stdout.write(json.dumps({
            "node": node_mac, "data_frames_checked": result.data_checked,
            "links": _macs(result.linked), "acks_captured": result.acks_captured, "perr_broadcast": result.node.config.perr_broadcast,
            "skipped": len(result.skipped),
            "skipped_frames": [{"frame": s.frame, "reason": s.reason} for s in result.skipped],
            "clock_jumps": [{"frame": j.frame, "kind": j.kind.value, "before": j.before, "after": j.after,
                             "played": j.played} for j in result.clock_jumps],
            "next_hop_mismatches": result.next_hop_mismatches,
            "comparisons": {k: {"captured": sorted(a), "ours": sorted(b)} for k, (a, b) in rows.items()},
            "paths": paths, "counters": dict(result.node.counters),
        }) + "\n")
        return
    out = console.out
    out.print(f"{pcap} at {node_mac}: {result.data_checked} data frames checked, "
              f"{len(result.next_hop_mismatches)} next-hop mismatches, "
              f"{len(result.skipped)} frames skipped", soft_wrap=True)
    out.print("  links (from its peering): " + (", ".join(_macs(result.linked)) or "none"), soft_wrap=True)
    out.print("  transmit failures: " + ("from the capture's ACKs" if result.acks_captured
                                         else "none taken (the capture holds no ACKs)")
              + "; PERRs: " + ("broadcast, as the captured node sent them" if result.node.config.perr_broadcast
                               else "to precursors"), soft_wrap=True)
    for line in result.next_hop_mismatches:
        out.print(f"  {line}", soft_wrap=True)
    for jump in result.clock_jumps:
        out.print(f"  the capture's clock jumps {jump.kind.value} at frame {jump.frame}, from {jump.before:.6f} "
                  f"to {jump.after:.6f} s: played as {jump.played:g} s", soft_wrap=True)
    table = Table(title="captured node vs our engine")
    for column in ("behaviour", "captured", "ours", "agree"):
        table.add_column(column)
    for name, (captured, ours) in rows.items():
        table.add_row(name, "\n".join(sorted(captured)) or "-", "\n".join(sorted(ours)) or "-",
                      "yes" if captured == ours else "no")
    out.print(table)
    if result.skipped:
        table = Table(title=f"frames skipped ({len(result.skipped)}): not decodable or not trusted as captured")
        table.add_column("frame", justify="right")
        table.add_column("reason")
        for skipped in result.skipped:
            table.add_row(str(skipped.frame), skipped.reason)
        out.print(table)
    table = Table(title="our path table at the end")
    for column in ("destination", "next hop", "metric", "hops", "sn"):
        table.add_column(column)
    for p in paths:
        table.add_row(str(p["destination"]), str(p["next_hop"]), str(p["metric"]), str(p["hop_count"]), str(p["sn"]))
    out.print(table)

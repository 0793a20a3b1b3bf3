"""`meshframes demo`: FastPay payments over a moving, failing 802.11s mesh,
in simulation, end to end.

Authorities and clients (and plain mesh points) walk around a field
(random waypoint); they peer, find paths with HWMP, discover each other by
flooded announcements, and clients pay each other: order, votes, quorum
certificate, confirmations, certificate to the recipient, all sealed end to
end, all on our frames. The mesh is secure unless --open: every pair of
neighbours authenticates with SAE, peers with AMPE and protects every frame
of the hop with CCMP. An authority fails mid-run. The air is written to a
pcap, with the run's link keys beside it in a key file when the mesh is
secure. The demo counts its air from its own record of what it sent (each
frame's kind said by its sender); --verify-air also reads the capture back
with the keys (`analyze --keys`: the codec path, whose verdicts are the
Scapy layers') and checks the two agree. The run ends with tables and two
pictures.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from meshframes.cli import console
from meshframes.cli.params import output_directory
from meshframes.cli.sim_options import AREA_SIDE, MAX_DURATION, Area, Finite

if TYPE_CHECKING:
    from meshframes.analysis.frames import Analysis
    from meshframes.cli.demo_pictures import Painter
    from meshframes.seal.capture import CaptureOpener
    from meshframes.seal.keyfile import CaptureKeys
    from meshframes.sim.demo import Demo, DemoSpec, Shortfall, TransferRecord


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


@click.command(short_help="FastPay over a moving, failing 802.11s mesh (simulated), with pictures.")
@click.option("--seed", default=21, show_default=True, help="Everything (keys, walks, timing) follows from it.")
@click.option("--duration", default=120.0, show_default=True, type=Finite(10.0, MAX_DURATION),
              help="Virtual seconds to simulate.")
@click.option("--authorities", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--clients", default=6, show_default=True, type=click.IntRange(2, 200))
@click.option("--relays", default=14, show_default=True, type=click.IntRange(0, 500),
              help="Mesh points that only forward.")
@click.option("--transfers", default=3, show_default=True, type=click.IntRange(1, 100),
              help="Payments each client makes.")
@click.option("--area", default="150x120", show_default=True, type=Area(),
              help=f"Field size in metres, WIDTHxHEIGHT, each side from {AREA_SIDE[0]:g} to {AREA_SIDE[1]:g}.")
@click.option("--failing", default=1, show_default=True, type=click.IntRange(0),
              help="Authorities switched off mid-run (at most f = (N-1)/3).")
@click.option("--fail-at", type=Finite(0.0), default=None,
              help="Virtual time of the failure [default: a quarter of the duration].")
@click.option("--no-seal", is_flag=True, help="Turn end-to-end sealing off (it is on by default).")
@click.option("--open", "open_mesh", is_flag=True,
              help="An open mesh: no SAE, no AMPE, no CCMP per hop (the mesh is secure by default).")
@click.option("--passphrase", default=None, envvar="MESHFRAMES_PASSPHRASE",
              help="The secure mesh's passphrase, 8 to 63 characters [default: the demo's own, printed; "
              "env var: MESHFRAMES_PASSPHRASE].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/demo"),
              callback=output_directory,
              show_default=True, help="Directory for air.pcap, topology.png, timeline.png and the SQLite stores.")
@click.option("--no-pictures", is_flag=True, help="Skip the PNGs (no matplotlib needed).")
@click.option("--verify-air", is_flag=True,
              help="Also read air.pcap back (with the run's keys) and check it against the run's record of its"
              " air: the same frames by kind, every protected frame opened (slower).")
@click.option("--tshark", "with_tshark", is_flag=True,
              help="Also count the air's frames by kind with tshark, the independent oracle (slower).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def demo(*, seed: int, duration: float, authorities: int, clients: int, relays: int, transfers: int,
         area: tuple[float, float], failing: int, fail_at: float | None, no_seal: bool, open_mesh: bool,
         passphrase: str | None, out: Path, no_pictures: bool, verify_air: bool, with_tshark: bool,
         as_json: bool) -> None:
    """Run FastPay over a simulated 802.11s mesh in which every node moves
    and authorities fail, then report transfers, latency in virtual time,
    hops, frames on the air by kind and every refusal by reason, and draw
    the topology and a timeline. The mesh is secure (SAE, AMPE, CCMP on
    every hop) unless --open; its link keys are written beside the pcap.
    Exits 1 if the air read back (--verify-air) differs from the run's
    record of it, or if a transfer was not credited to its recipient by the end of
    the run, with one line on stderr for each saying where it stopped and
    why."""
    from meshframes.sim.demo import DEMO_PASSPHRASE, DemoSpec

    if open_mesh and passphrase is not None:
        raise click.UsageError("--open and a passphrase (--passphrase or MESHFRAMES_PASSPHRASE) contradict"
                               " each other: give one of them")
    try:
        spec = DemoSpec(seed=seed, authorities=authorities, clients=clients, relays=relays, duration=duration,
                        transfers_per_client=transfers, failing=failing, area=area,
                        fail_at=duration / 4 if fail_at is None else fail_at, seal=not no_seal,
                        passphrase=None if open_mesh else passphrase or DEMO_PASSPHRASE)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    out.mkdir(parents=True, exist_ok=True)
    stores = out / "stores"
    # The stores are this command's own: a previous run's accounts would not
    # match the fresh genesis, so they are replaced, never reused.
    shutil.rmtree(stores, ignore_errors=True)
    pcap, key_file = out / "air.pcap", out / "air.keys.json"
    # A previous secure run's keys open nothing of this run's air.
    key_file.unlink(missing_ok=True)
    painter = None
    if not no_pictures:
        from meshframes.cli.demo_pictures import Painter

        painter = Painter()
        if painter.missing is not None:
            console.warning(f"no pictures: {painter.missing}. Install the plot extra (`make setup` does), or pass"
                            " --no-pictures.")
    try:
        _run(spec, stores, pcap, key_file, out, painter, verify_air=verify_air, with_tshark=with_tshark,
             as_json=as_json)
    finally:
        if painter is not None:
            painter.close()
        from meshframes.hosts.collector import leave_heap_to_exit

        leave_heap_to_exit()


def _run(spec: DemoSpec, stores: Path, pcap: Path, key_file: Path, out: Path, painter: Painter | None, *,
         verify_air: bool, with_tshark: bool, as_json: bool) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from meshframes.app.events import TransferConfirmed
    from meshframes.hosts.collector import fewer_collections
    from meshframes.sim.demo import Demo

    run = Demo(stores, spec, pcap=pcap)
    total = len(run.plan)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[status]}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console.err, disable=as_json) as bar:
        task = bar.add_task("virtual time", total=spec.duration, status="")

        # The timeline only grows: each update reads the events new since the last.
        read = confirmed = 0

        def progress(t: float) -> None:
            nonlocal read, confirmed
            events = run.mesh.timeline.events
            confirmed += sum(type(e) is TransferConfirmed for _, e in events[read:])
            read = len(events)
            bar.update(task, completed=t, status=f"{t:6.1f} s, {confirmed}/{total} transfers confirmed")

        with fewer_collections(keep_frozen=True):
            run.run(progress)
        drawing = painter if painter is not None and painter.missing is None else None
        if drawing is not None:
            # The pictures are drawn on the other core while the rest of
            # the summary is put together here.
            drawing.start(run, out)
        keys = None
        if spec.secure:
            keys = run.mesh.capture_keys()
            key_file.write_text(keys.dumps())
            key_file.chmod(0o600)
        # Every frame the simulator sent carries its sender's label.
        by_kind = {str(kind): n for kind, n in run.air.by_kind.items()}
        verified: tuple[Analysis, CaptureOpener | None] | None = None
        if verify_air:
            verified = _read_back(pcap, keys, bar)
    records = run.transfers()
    money = run.money()
    genesis = run.mesh.genesis_total()
    summary = _summary(run, records, run.shortfalls(), by_kind, money, genesis, pcap)
    summary["security"] = _security(run, by_kind, keys, key_file, pcap)
    if drawing is not None:
        from meshframes.cli.demo_pictures import PictureError

        try:
            summary["pictures"] = drawing.finish()
        except PictureError as error:
            console.warning(f"no pictures: {error}")
    problems = [_shortfall_line(s) for s in summary["transfers"]["incomplete"]]
    if verified is not None:
        problems += _verify(run, by_kind, *verified, summary)
    if with_tshark:
        from meshframes.hosts import tshark

        summary["air"]["tshark_by_kind"] = tshark.counts_by_kind(pcap)
    if as_json:
        click.echo(json.dumps(summary))
    else:
        _tables(summary, records)
    if any(v != genesis for v in money.values()):
        problems.append("money was not conserved at every authority: this is a bug, please report it")
    for problem in problems:
        console.error(problem)
    if problems:
        raise SystemExit(1)


def _read_back(pcap: Path, keys: CaptureKeys | None, bar: Any) -> tuple[Analysis, CaptureOpener | None]:
    """The air as `analyze --keys` reads it from the capture, and the
    opener that decrypted it (None for an open mesh)."""
    from meshframes.hosts.analyze import analyze_captures
    from meshframes.layers.dissect import decode_mpdu
    from meshframes.seal.capture import CaptureOpener

    opener = CaptureOpener(keys) if keys is not None else None
    decoding = bar.add_task("reading the air back", total=None, status="")
    analysis = analyze_captures([pcap], decode_mpdu, progress=lambda done, n: bar.update(
        decoding, completed=done, total=n, status=f"{done:,} of {n:,} octets"), unprotect=opener).analysis
    return analysis, opener


def _verify(run: Demo, by_kind: dict[str, int], analysis: Analysis, opener: CaptureOpener | None,
            summary: dict[str, Any]) -> list[str]:
    """Put what the capture read back says beside the run's record (in
    the summary) and say where they differ."""
    air, sent = run.air, run.mesh.net.medium.transmissions
    read = {"frames": analysis.frames, "by_kind": dict(sorted(analysis.by_kind.items())),
            "malformed": analysis.malformed, "undecoded": len(analysis.undecoded)}
    problems = []
    if analysis.malformed or analysis.frames != sent:
        problems.append(f"the air did not decode cleanly: {len(analysis.malformed)} malformed,"
                        f" {analysis.frames} decoded of {sent} sent")
    if dict(analysis.by_kind) != by_kind:
        differ = sorted(k for k in set(by_kind) | set(analysis.by_kind)
                        if by_kind.get(k, 0) != analysis.by_kind.get(k, 0))
        problems.append("the air read back differs from the run's record of it: " + ", ".join(
            f"{k} {analysis.by_kind.get(k, 0)} read, {by_kind.get(k, 0)} sent" for k in differ))
    if opener is not None:
        read["protected_opened"] = opener.decrypted
        read["undecryptable_with_keys"] = sum(opener.undecryptable.values())
        if opener.undecryptable:
            problems.append(f"the run's own keys left {sum(opener.undecryptable.values())} protected frames of the"
                            f" air undecryptable ({', '.join(f'{r} {n}' for r, n in opener.undecryptable.items())}):"
                            " this is a bug, please report it")
        if opener.decrypted != air.protected:
            problems.append(f"{opener.decrypted} protected frames opened from the capture, the run sent"
                            f" {air.protected}")
    summary["air"]["read_back"] = read
    return problems


def _shortfall_line(shortfall: dict[str, Any]) -> str:
    """One line for a transfer that did not complete (from its --json entry)."""
    seq = shortfall["sequence_number"]
    return (f"transfer C{shortfall['payer']} -> C{shortfall['recipient']} of {shortfall['amount']}"
            f" ({'no sequence number' if seq is None else f'sequence number {seq}'})"
            f" not {shortfall['missing']}: {shortfall['why']}")

def _security(run: Demo, by_kind: dict[str, int], keys: CaptureKeys | None, key_file: Path,
              pcap: Path) -> dict[str, Any]:
    """The mesh's link security and what it did: SAE runs, AMPE peerings,
    CCMP-protected frames on the air and every refusal of the seal's."""
    from meshframes.seal.errors import SaeRefusal, SealReason

    spec = run.spec
    if not spec.secure:
        return {"mesh": "open"}
    refused = run.mesh.net.counters()
    sae_refusals = {str(r): refused[r] for r in SaeRefusal if refused[r]}
    assert keys is not None
    return {
        "mesh": "secure", "passphrase": spec.passphrase, "group": spec.mesh_config().sae_groups[0],
        "sae": {"frames": run.sae_frames,
                "completed": run.sae_completed, "refused": sae_refusals},
        # Every peering AMPE completed derived a link MTK of its own.
        "ampe": {"peerings": len(keys.pairwise),
                 "frames": sum(by_kind.get(k, 0) for k in ("peering-open", "peering-confirm", "peering-close")),
                 "refused": {str(r): refused[r] for r in SealReason if r.startswith("ampe-") and refused[r]}},
        "ccmp": {"frames_protected": run.air.protected,
                 "mic_failures": refused[SealReason.MIC_FAILURE],
                 "replays": refused[SealReason.REPLAY]},
        "keys": str(key_file),
        "analyze": f"meshframes analyze {pcap} --keys {key_file}",
    }


def _summary(run: Demo, records: list[TransferRecord], shortfalls: list[Shortfall], by_kind: dict[str, int],
             money: dict[int, int], genesis: int, pcap: Path) -> dict[str, Any]:
    from meshframes.sim.demo import latency_summary

    spec = run.spec
    started = [r for r in records if r.started is not None]
    return {
        "spec": {"seed": spec.seed, "duration_s": spec.duration, "authorities": spec.authorities,
                 "clients": spec.clients, "relays": spec.relays, "area_m": list(spec.area), "sealed": spec.seal,
                 "failed_authorities": run.failed, "fail_at_s": spec.fail_at},
        "transfers": {
            "planned": len(records), "started": len(started),
            "certified": sum(r.certified is not None for r in records),
            "confirmed": sum(r.confirmed is not None for r in records),
            "credited": sum(r.credited is not None for r in records),
            "latency_s": {
                what: latency_summary([getattr(r, what) - r.started for r in started
                                       if getattr(r, what) is not None])
                for what in ("certified", "confirmed", "credited")},
            "list": [{"payer": r.payer, "recipient": r.recipient, "amount": r.amount, "requested": r.requested,
                      "sequence_number": r.sequence_number, "started": r.started, "certified": r.certified,
                      "confirmed": r.confirmed, "credited": r.credited, "signers": list(r.signers)}
                     for r in records],
            "incomplete": [{"payer": s.record.payer, "recipient": s.record.recipient, "amount": s.record.amount,
                            "sequence_number": s.record.sequence_number, "missing": s.missing, "why": s.why}
                           for s in shortfalls],
        },
        "hops": {kind: dict(sorted(counts.items())) for kind, counts in run.hops_by_kind().items()},
        # Counted from the run's record of what it sent, retries included.
        "air": {"pcap": str(pcap), "frames": sum(by_kind.values()),
                "sent_by_simulator": run.mesh.net.medium.transmissions,
                "by_kind": dict(sorted(by_kind.items()))},
        "refusals": {layer: dict(sorted(c.items())) for layer, c in run.mesh.refusals().items()},
        "money": {"genesis": genesis, "by_authority": money},
        "pictures": {},  # filled in once they are drawn
    }


def _tables(summary: dict[str, Any], records: list[TransferRecord]) -> None:
    from rich.table import Table

    out = console.out
    spec, tr = summary["spec"], summary["transfers"]
    out.print(f"FastPay over 802.11s, seed {spec['seed']}: {spec['authorities']} authorities, {spec['clients']}"
              f" clients, {spec['relays']} relays, all moving in {spec['area_m'][0]:g} x {spec['area_m'][1]:g} m;"
              f" {len(spec['failed_authorities'])} authority"
              f" failing at {spec['fail_at_s']:g} s; end-to-end sealing {'on' if spec['sealed'] else 'off'};"
              f" {spec['duration_s']:g} s of virtual time.", soft_wrap=True)
    security = summary["security"]
    if security["mesh"] == "secure":
        out.print(f"Secure mesh: SAE (group {security['group']}) with passphrase {security['passphrase']!r}, AMPE,"
                  f" CCMP on every hop (--open for an open mesh). Link keys: {security['keys']}; decrypt the air"
                  f" with `{security['analyze']}`.", soft_wrap=True)
    else:
        out.print("Open mesh (--open): no SAE, no AMPE, frames in the clear on every hop.", soft_wrap=True)
    table = Table(title="transfers (latency from the order leaving, virtual time)")
    for column in ("payer", "to", "amount", "started (s)", "certified", "confirmed", "credited", "signers"):
        table.add_column(column, justify="right" if column != "signers" else "left")
    for r in records:
        since = (lambda t, r=r: _duration(t - r.started) if t is not None else "-")  # noqa: E731
        table.add_row(f"C{r.payer}", f"C{r.recipient}", str(r.amount),
                      "-" if r.started is None else f"{r.started:.2f}", since(r.certified), since(r.confirmed),
                      since(r.credited), " ".join(f"A{i}" for i in r.signers))
    out.print(table)
    totals = Table(title="summary")
    totals.add_column("measure")
    totals.add_column("value")
    totals.add_row("transfers", f"{tr['planned']} planned, {tr['started']} started, {tr['certified']} certified,"
                                f" {tr['confirmed']} confirmed, {tr['credited']} credited to the recipient")
    for what, stats in tr["latency_s"].items():
        if stats is not None:
            totals.add_row(f"time to {what}", f"min {_duration(stats['min'])}, median {_duration(stats['median'])},"
                                              f" max {_duration(stats['max'])}")
    for kind, counts in summary["hops"].items():
        totals.add_row(f"hops: {kind}", ", ".join(f"{h} hop{'s' * (h != 1)}: {n}" for h, n in counts.items()))
    air = summary["air"]
    read = air.get("read_back")
    totals.add_row("air", f"{air['frames']} frames sent, written to {air['pcap']}" + (
        "" if read is None else f"; read back: {read['frames']} frames, {len(read['malformed'])} malformed,"
        f" {'the same' if read['by_kind'] == air['by_kind'] else 'NOT the same'} counts by kind"))
    theirs = air.get("tshark_by_kind")
    for kind, count in air["by_kind"].items():
        # tshark has no FastPay dissector: our vendor frames are its "other".
        oracle = "" if theirs is None else (
            f" (tshark: {theirs.get(kind, 0)})" if not kind.startswith("fastpay") else " (tshark: other)")
        totals.add_row(f"  {kind}", f"{count}{oracle}")
    if theirs is not None:
        ours = sum(v for k, v in air["by_kind"].items() if k.startswith("fastpay") or k == "other")
        totals.add_row("  tshark: other", f"{theirs.get('other', 0)} (ours: {ours} FastPay and other)")
    if security["mesh"] == "secure":
        sae, ampe, ccmp = security["sae"], security["ampe"], security["ccmp"]
        totals.add_row("SAE", f"{sae['completed']} runs completed (each station counts its own),"
                              f" {sae['frames']} Commit/Confirm frames sent (the air's \"other\": with MAC"
                              f" retries); " + (", ".join(f"{k} {v}" for k, v in sae["refused"].items())
                                                 or "nothing refused"))
        totals.add_row("AMPE", f"{ampe['peerings']} peerings keyed (one MTK each), {ampe['frames']} peering"
                               f" frames; " + (", ".join(f"{k} {v}" for k, v in ampe["refused"].items())
                                                or "nothing refused"))
        opened = "" if read is None else (f", {read['protected_opened']} opened from the capture with the run's"
                                          f" keys, {read['undecryptable_with_keys']} not")
        totals.add_row("CCMP", f"{ccmp['frames_protected']} frames protected on the air{opened}; at the"
                               f" receivers {ccmp['mic_failures']} MIC failures, {ccmp['replays']} replays")
    for layer, reasons in summary["refusals"].items():
        totals.add_row(f"refused: {layer}", ", ".join(f"{k} {v}" for k, v in reasons.items()) or "none")
        if layer == "mesh":
            totals.add_row("", "(duplicate, own-frame-returned and hwmp-no-better-metric are the copies every"
                               " flood brings: dropped and counted, nothing wrong)")
            if security["mesh"] == "secure":
                totals.add_row("", "(unknown-key: a protected frame from a station with no link to the"
                                   " receiver, the open mesh's frame-from-non-peer)")
    money = summary["money"]
    totals.add_row("money", ", ".join(f"A{i}: {v}{'' if v == money['genesis'] else ' (!)'}"
                                      for i, v in money["by_authority"].items())
                   + f" (genesis {money['genesis']})")
    for name, path in summary["pictures"].items():
        totals.add_row(f"picture: {name}", path)
    out.print(totals)

"""`meshframes sniff --iface MON`: capture live on a monitor interface.

Frames come off the air through the monitor transport's raw packet socket
(meshframes.hosts.monitor: bytes only, with a receive buffer large enough
that a burst waits in the kernel while frames are decoded) and are decoded
by the analyzer of `meshframes analyze` (meshframes.layers.dissect). While it
runs, a live table of frames by kind and of the latest HWMP elements is
drawn on stderr; at the end the totals go to stdout, as tables or as one
JSON object (--json: the keys of `analyze --json`, plus the interface, the
capture's length, why it stopped and the transport's counters).

The socket opens before the analyzer loads (Scapy takes seconds to import
on a slow machine), so nothing sent after "listening on IFACE" is lost.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from meshframes.cli import console
from meshframes.cli.params import output_file

if TYPE_CHECKING:
    from meshframes.hosts.monitor import MonitorRadio
    from meshframes.hosts.pcap import PcapWriter
    from meshframes.layers.dissect import Analysis

# How long one wait for frames may last: how soon a deadline or a signal
# is noticed, and how often the live table is redrawn when the air is busy.
_WAIT = 0.25


@click.command(short_help="Capture live on a monitor interface and decode every frame.")
@click.option("--iface", required=True, help="Monitor interface (radiotap), e.g. mon0.")
@click.option("--count", type=click.IntRange(min=1), default=None,
              help="Stop after this many frames.")
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop after this many seconds.")
@click.option("--pcap", "pcap_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=output_file(),
              help="Also write every frame to this pcap (radiotap, link type 127).")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object at the end instead of tables (no live display).")
@click.option("--max-rows", default=10, show_default=True,
              help="HWMP elements shown live and in the final table (0: all at the end).")
def sniff(*, iface: str, count: int | None, seconds: float | None, pcap_out: Path | None,
          as_json: bool, max_rows: int) -> None:
    """Capture on monitor interface IFACE until --count frames or --seconds
    have passed (or Ctrl-C, or SIGTERM), decoding each frame as `analyze`
    does; needs root for the raw packet socket."""
    radio = _open(iface)
    with radio:
        console.err.print(f"listening on {iface}", soft_wrap=True)
        from meshframes.hosts.pcap import PcapWriter
        from meshframes.layers.dissect import Analysis

        analysis = Analysis(iface)
        started = time.monotonic()
        deadline = None if seconds is None else started + seconds
        writer = PcapWriter(pcap_out) if pcap_out is not None else None
        try:
            if as_json:
                stopped = _capture(radio, analysis, writer, count, deadline, lambda: None)
            else:
                stopped = _capture_live(radio, analysis, writer, count, deadline, max_rows)
        finally:
            if writer is not None:
                writer.close()
        elapsed = time.monotonic() - started
    summary = {"iface": iface, "seconds": round(elapsed, 3), "stopped": stopped,
               "pcap": str(pcap_out) if pcap_out is not None else None,
               "transport": dataclasses.asdict(radio.stats)}
    if as_json:
        sys.stdout.write(json.dumps({**analysis.to_json(), **summary}) + "\n")
    else:
        _print(analysis, summary, max_rows)
    if pcap_out is not None:
        console.success(f"wrote {analysis.frames} frames to {pcap_out}")


def _open(iface: str) -> MonitorRadio:
    """The monitor transport on `iface`, or exit 1 saying what is wrong."""
    from meshframes.hosts.monitor import MonitorRadio

    try:
        radio = MonitorRadio(iface)
    except PermissionError:
        _abort(f"capturing on {iface} needs root: a raw packet socket requires CAP_NET_RAW "
               "(run it with sudo)")
    except ValueError as error:  # the interface is not a radiotap monitor; says which it is
        _abort(f"cannot capture on {iface}: {error}")
    except OSError as error:
        if error.errno == errno.ENODEV:
            _abort(f"no network interface named {iface} (see `ip link`); make a monitor with "
                   f"`iw phy PHY interface add {iface} type monitor`")
        _abort(f"cannot capture on {iface}: {error}")
    if not _is_up(iface):
        console.warning(f"{iface} is down and hears nothing; bring it up with `ip link set {iface} up`")
    return radio


def _is_up(iface: str) -> bool:
    IFF_UP = 0x1  # linux/if.h
    try:
        return bool(int(Path(f"/sys/class/net/{iface}/flags").read_text(), 16) & IFF_UP)
    except (OSError, ValueError):
        return True  # nothing to say where sysfs does not tell


def _abort(text: str) -> NoReturn:
    console.error(text)
    raise SystemExit(1)


def _capture(radio: MonitorRadio, analysis: Analysis, writer: PcapWriter | None, count: int | None,
             deadline: float | None, redraw: Callable[[], None]) -> str:
    """Receive, record and decode until a limit or a signal; returns why it
    stopped ("count", "seconds", "signal")."""
    from meshframes.layers.dissect import decode_mpdu

    # Frames are stamped on CLOCK_MONOTONIC; a pcap wants wall-clock time.
    wall_offset = time.time() - time.monotonic()
    signalled: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda number, _: signalled.append(number))
    try:
        while True:
            if signalled:
                return "signal"
            if deadline is not None and time.monotonic() >= deadline:
                return "seconds"
            wait = _WAIT if deadline is None else max(0.0, min(_WAIT, deadline - time.monotonic()))
            radio.wait(wait)
            for rx in radio.receive():
                if writer is not None:
                    rate = None if rx.rate_100kbps is None else rx.rate_100kbps // 5
                    writer.write(rx.timestamp + wall_offset, rx.data, rate, rx.signal_dbm)
                analysis.count(decode_mpdu(rx.data, analysis.frames))
                if count is not None and analysis.frames >= count:
                    redraw()
                    return "count"
            redraw()
    except KeyboardInterrupt:
        return "signal"
    finally:
        signal.signal(signal.SIGTERM, previous)


def _capture_live(radio: MonitorRadio, analysis: Analysis, writer: PcapWriter | None,
                  count: int | None, deadline: float | None, max_rows: int) -> str:
    from rich.live import Live

    with Live(_live_view(analysis, max_rows), console=console.err, refresh_per_second=4,
              transient=True) as live:
        return _capture(radio, analysis, writer, count, deadline,
                        lambda: live.update(_live_view(analysis, max_rows)))


def _live_view(analysis: Analysis, max_rows: int) -> Any:
    from rich.console import Group

    from meshframes.cli.analyze import hwmp_table, kinds_table

    latest = analysis.hwmp[-(max_rows or 10):]
    return Group(kinds_table(analysis.by_kind),
                 hwmp_table(latest, f"latest HWMP elements ({len(analysis.hwmp)} so far)"))


def _print(analysis: Analysis, summary: dict[str, Any], max_rows: int) -> None:
    from meshframes.cli.analyze import print_analysis

    shown = analysis.hwmp[-max_rows:] if max_rows else analysis.hwmp
    print_analysis(analysis, f"{summary['iface']}: {analysis.frames} frames in {summary['seconds']:.1f} s "
                   f"(stopped by {summary['stopped']}), {len(analysis.undecoded)} undecoded, "
                   f"{len(analysis.malformed)} malformed, {analysis.encrypted} encrypted",
                   shown, f"HWMP elements ({len(analysis.hwmp)}, last {len(shown)} shown)", max_rows or None)

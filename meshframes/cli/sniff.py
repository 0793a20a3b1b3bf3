"""`meshframes sniff --iface IFACE`: capture live on a monitor interface or
on a Linux mesh point interface.

Frames come through the transport's raw packet socket (bytes only, with a
receive buffer large enough that a burst waits in the kernel while frames
are decoded). On a monitor (meshframes.hosts.monitor) they are the air,
decoded by the analyzer of `meshframes analyze`
(meshframes.layers.dissect). On a mesh point (meshframes.hosts.meshif
MeshPointTap) they are what the kernel delivers: MSDUs as Ethernet frames,
each named `msdu` and, in ethertype 0x88B5, by the FastPay message its
header names. While it runs, a live table of frames by kind and of the
latest HWMP elements is drawn on stderr; at the end the totals go to
stdout, as tables or as one JSON object (--json: the keys of `analyze
--json`, plus the interface and its kind, the capture's length, why it
stopped and the transport's counters, and on a mesh point every MSDU's
addresses).

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
from meshframes.cli.analyze import dissect
from meshframes.cli.params import output_file
from meshframes.hosts.meshif import MeshPointTap

if TYPE_CHECKING:
    from meshframes.hosts.monitor import MonitorRadio
    from meshframes.hosts.pcap import PcapWriter
    from meshframes.layers.dissect import Analysis, FrameDecode

# How long one wait for frames may last: how soon a deadline or a signal
# is noticed, and how often the live table is redrawn when the air is busy.
_WAIT = 0.25


@click.command(short_help="Capture live on a monitor or mesh point interface and decode every frame.")
@click.option("--iface", required=True, help="A radiotap monitor (e.g. mon0) or a Linux mesh point (e.g. mesh0).")
@click.option("--count", type=click.IntRange(min=1), default=None,
              help="Stop after this many frames.")
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop after this many seconds.")
@click.option("--pcap", "pcap_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=output_file(),
              help="Also write every frame to this pcap (monitor: radiotap, link type 127; "
                   "mesh point: Ethernet, link type 1).")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object at the end instead of tables (no live display).")
@click.option("--max-rows", default=10, show_default=True,
              help="HWMP elements shown live and in the final table (0: all at the end).")
def sniff(*, iface: str, count: int | None, seconds: float | None, pcap_out: Path | None,
          as_json: bool, max_rows: int) -> None:
    """Capture on IFACE until --count frames or --seconds have passed (or
    Ctrl-C, or SIGTERM), decoding each frame; needs root for the raw
    packet socket.

    \b
    What each kind of interface lets through:
    - a monitor: every frame on its channel, with radiotap, decoded as
      `analyze` does (beacons, peering, HWMP, data, FastPay, control);
    - a Linux mesh point: only what the kernel delivers up, the MSDUs for
      this station and the group-addressed ones, as Ethernet frames (the
      802.11 header, Mesh Control and LLC/SNAP removed; source and
      destination are the mesh SA and DA, or the proxied ends). Beacons,
      peering, HWMP and the frames it only forwards stay in the kernel.
    Any other interface is refused."""
    radio = _open(iface)
    with radio:
        console.err.print(f"listening on {iface}", soft_wrap=True)
        from meshframes.hosts.pcap import LINKTYPE_ETHERNET, LINKTYPE_IEEE802_11_RADIOTAP, PcapWriter
        from meshframes.layers.dissect import Analysis

        mesh_point = isinstance(radio, MeshPointTap)
        analysis = Analysis(iface)
        msdus: list[dict[str, Any]] = []
        started = time.monotonic()
        deadline = None if seconds is None else started + seconds
        writer = None if pcap_out is None else PcapWriter(
            pcap_out, LINKTYPE_ETHERNET if mesh_point else LINKTYPE_IEEE802_11_RADIOTAP)
        try:
            if as_json:
                stopped = _capture(radio, analysis, msdus, writer, count, deadline, lambda: None)
            else:
                stopped = _capture_live(radio, analysis, msdus, writer, count, deadline, max_rows)
        finally:
            if writer is not None:
                writer.close()
        elapsed = time.monotonic() - started
    summary: dict[str, Any] = {
        "iface": iface, "iface_kind": "mesh point" if mesh_point else "monitor",
        "seconds": round(elapsed, 3), "stopped": stopped,
        "pcap": str(pcap_out) if pcap_out is not None else None,
        "transport": dataclasses.asdict(radio.stats)}
    if mesh_point:
        summary["msdus"] = msdus
    if as_json:
        sys.stdout.write(json.dumps({**analysis.to_json(), **summary}) + "\n")
    else:
        _print(analysis, summary, max_rows)
    if pcap_out is not None:
        console.success(f"wrote {analysis.frames} frames to {pcap_out}")


def _open(iface: str) -> MonitorRadio | MeshPointTap:
    """The transport for `iface` (a monitor or a mesh point), or exit 1
    saying what is wrong in one line."""
    from meshframes.hosts.meshif import InterfaceKind, NotARadioInterface, interface_kind
    from meshframes.hosts.monitor import MonitorRadio
    from meshframes.hosts.packet import may_open_packet_sockets

    if not may_open_packet_sockets():
        _abort(f"capturing on {iface} needs root: a raw packet socket requires CAP_NET_RAW "
               "(run it with sudo)")
    try:
        kind = interface_kind(iface)
        radio: MonitorRadio | MeshPointTap = (
            MonitorRadio(iface) if kind is InterfaceKind.MONITOR else MeshPointTap(iface))
    except NotARadioInterface as error:
        _abort(f"cannot capture on {iface}: {error}")
    except PermissionError:
        _abort(f"capturing on {iface} needs root: a raw packet socket requires CAP_NET_RAW "
               "(run it with sudo)")
    except ValueError as error:  # the interface changed kind under us; says which it is
        _abort(f"cannot capture on {iface}: {error}")
    except OSError as error:
        if error.errno == errno.ENODEV:
            _abort(f"no network interface named {iface} (see `ip link`); make a monitor with "
                   f"`iw phy PHY interface add {iface} type monitor` or a mesh point with "
                   f"`iw dev {iface} set type mp`")
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


def _capture(radio: MonitorRadio | MeshPointTap, analysis: Analysis, msdus: list[dict[str, Any]],
             writer: PcapWriter | None, count: int | None, deadline: float | None,
             redraw: Callable[[], None]) -> str:
    """Receive, record and decode until a limit or a signal; returns why it
    stopped ("count", "seconds", "signal")."""
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
            for stamp, data, rate, signal_dbm, group in _received(radio):
                if writer is not None:
                    writer.write(stamp + wall_offset, data, rate, signal_dbm)
                if group is None:
                    analysis.count(dissect(data, analysis.frames))
                else:
                    decoded = _decode_msdu(data, analysis.frames)
                    analysis.count(decoded)
                    msdus.append(_msdu_record(decoded.index, data, group, decoded.msdu_fastpay))
                if count is not None and analysis.frames >= count:
                    redraw()
                    return "count"
            redraw()
    except KeyboardInterrupt:
        return "signal"
    finally:
        signal.signal(signal.SIGTERM, previous)


def _received(radio: MonitorRadio | MeshPointTap) -> list[tuple[float, bytes, int | None, int | None, bool | None]]:
    """(time, bytes, rate in 500 kb/s, signal, group) of every frame waiting;
    group is None for a monitor's MPDUs, set for a mesh point's MSDUs."""
    if isinstance(radio, MeshPointTap):
        return [(m.timestamp, m.data, None, None, m.group) for m in radio.receive()]
    return [(rx.timestamp, rx.data, None if rx.rate_100kbps is None else rx.rate_100kbps // 5, rx.signal_dbm, None)
            for rx in radio.receive()]


def _decode_msdu(data: bytes, index: int) -> FrameDecode:
    from meshframes.layers.dissect import decode_msdu

    return decode_msdu(data, index)


def _msdu_record(index: int, data: bytes, group: bool, fastpay: str | None) -> dict[str, Any]:
    from meshframes.codec import DecodeError
    from meshframes.codec.ethernet import decode_ethernet

    try:
        frame = decode_ethernet(data)
    except DecodeError:
        return {"frame": index, "length": len(data), "group": group}
    return {"frame": index, "dst": frame.dst.hex(":"), "src": frame.src.hex(":"),
            "ethertype": f"0x{frame.ethertype:04x}", "length": len(frame.payload), "group": group,
            "fastpay": fastpay}


def _capture_live(radio: MonitorRadio | MeshPointTap, analysis: Analysis, msdus: list[dict[str, Any]],
                  writer: PcapWriter | None, count: int | None, deadline: float | None, max_rows: int) -> str:
    from rich.live import Live

    with Live(_live_view(analysis, max_rows), console=console.err, refresh_per_second=4,
              transient=True) as live:
        return _capture(radio, analysis, msdus, writer, count, deadline,
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
    if "msdus" in summary:
        from rich.table import Table

        rows = summary["msdus"][-max_rows:] if max_rows else summary["msdus"]
        table = Table(title=f"MSDUs the kernel delivered ({len(summary['msdus'])}, last {len(rows)} shown)")
        for column in ("frame", "source", "destination", "ethertype", "octets", "FastPay"):
            table.add_column(column)
        for row in rows:
            table.add_row(str(row["frame"]), row.get("src", "-"), row.get("dst", "-"), row.get("ethertype", "-"),
                          str(row["length"]), row.get("fastpay") or "-")
        console.out.print(table)

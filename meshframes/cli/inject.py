"""`meshframes inject KIND`: build a frame of any kind and send it on a
monitor interface or write it to a radiotap pcap."""

from __future__ import annotations

import re
import time
from typing import Any

import click

from meshframes.cli import console
from meshframes.cli.params import monitor_interface, output_file
from meshframes.codec.elements import MESH_ID_MAX

_KINDS = (
    "beacon", "probe-req", "probe-resp", "peering-open", "peering-confirm", "peering-close",
    "preq", "prep", "perr", "rann", "gate-ann", "mesh-data", "fastpay-order", "fastpay-vote",
    "fastpay-certificate", "fastpay-confirmation", "fastpay-info-request",
    "fastpay-info-response", "fastpay-announce", "fastpay-error",
)


def _value(text: str) -> Any:
    if text.startswith("hex:"):
        try:
            return bytes.fromhex(text[4:])
        except ValueError:
            raise click.BadParameter(f"{text!r}: hex: takes pairs of hex digits", param_hint="--set") from None
    try:
        return int(text, 0)
    except ValueError:
        return text


_MAC = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")


def _mac(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not _MAC.fullmatch(value):
        raise click.BadParameter(f"{value!r} is not a MAC address (six hex octets, colon-separated)")
    return value.lower() if value is not None else None


def _mesh_id(ctx: click.Context, param: click.Parameter, value: str) -> bytes:
    encoded = value.encode()
    if len(encoded) > MESH_ID_MAX:
        raise click.BadParameter(f"{len(encoded)} octets; a Mesh ID has at most {MESH_ID_MAX} (9.4.2.98)")
    return encoded


def _assignments(values: tuple[str, ...]) -> dict[str, Any]:
    fields = {}
    for item in values:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not FIELD=VALUE", param_hint="--set")
        fields[name] = _value(text)
    return fields


@click.command(short_help="Build a frame of any kind and send it or write it to a pcap.")
@click.argument("kind", type=click.Choice(_KINDS))
@click.option("--src", default="02:00:00:00:01:00", show_default=True, callback=_mac, help="Transmitter (A2).")
@click.option("--dst", default=None, callback=_mac,
              help="Receiver (A1); broadcast for beacons and HWMP floods; a group makes mesh data group-addressed.")
@click.option("--mesh-id", default="meshframes", show_default=True, callback=_mesh_id, help="At most 32 octets.")
@click.option("--ttl", default=31, show_default=True, help="Element or Mesh Control TTL.")
@click.option("--seq", default=1, show_default=True, help="Sequence numbers (HWMP SN, mesh seq).")
@click.option("--ae", is_flag=True, help="Use address extension / optional fields (PMK, user data).")
@click.option("--count", default=1, show_default=True, type=click.IntRange(min=1),
              help="PREQ targets (1-20), PERR destinations (1-19, 1-13 with --ae), signatures.")
@click.option("--originator", default=None, callback=_mac, help="HWMP originator / mesh SA.")
@click.option("--target", default=None, callback=_mac, help="HWMP target / mesh DA.")
@click.option("--metric", default=0, show_default=True)
@click.option("--lifetime", default=5000, show_default=True, help="HWMP lifetime (TU).")
@click.option("--llid", default=0x1234, show_default=True, help="Local link ID.")
@click.option("--plid", default=0x4321, show_default=True, help="Peer link ID.")
@click.option("--reason", default=55, show_default=True, help="Reason code (close, PERR).")
@click.option("--amount", default=10, show_default=True, help="FastPay amount.")
@click.option("--sequence-number", default=0, show_default=True, help="FastPay sequence number.")
@click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE",
              help="Set any layer field (ints, or hex:.. for bytes); repeatable.")
@click.option("--iface", default=None, callback=monitor_interface, help="Monitor interface to send on.")
@click.option("--pcap", "pcap_out", default=None, type=click.Path(dir_okay=False), callback=output_file(),
              help="Write radiotap frames to this file instead of sending.")
@click.option("--repeat", default=1, show_default=True, help="Frames to send (sequence numbers advance).")
@click.option("--interval", default=0.1, show_default=True, help="Seconds between frames on --iface.")
def inject(kind: str, src: str, dst: str | None, mesh_id: bytes, ttl: int, seq: int, ae: bool,
           count: int, originator: str | None, target: str | None, metric: int, lifetime: int,
           llid: int, plid: int, reason: int, amount: int, sequence_number: int,
           assignments: tuple[str, ...], iface: str | None, pcap_out: str | None, repeat: int,
           interval: float) -> None:
    """Build a KIND frame from the options (every field has a sane default)
    and send it on a monitor interface (--iface) or write it, with a radiotap
    header, to a pcap (--pcap)."""
    if (iface is None) == (pcap_out is None):
        raise click.UsageError("give exactly one of --iface IFACE or --pcap OUT")
    from meshframes.hosts.pcap import LINKTYPE_IEEE802_11_RADIOTAP, radiotap_header, write_pcap
    from meshframes.layers.build import FrameOptions, build

    fields = _assignments(assignments)
    frames = []
    for n in range(repeat):
        opts = FrameOptions(
            src=src, dst=dst, mesh_id=mesh_id, ttl=ttl, seq=seq + n, ae=ae, count=count,
            originator=originator, target=target, metric=metric, lifetime=lifetime, llid=llid,
            plid=plid, reason=reason, amount=amount, sequence_number=sequence_number, fields=fields,
        )
        try:
            frames.append(radiotap_header() + bytes(build(kind, opts)))
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
    if pcap_out is not None:
        write_pcap(pcap_out, ((n * interval, f) for n, f in enumerate(frames)), LINKTYPE_IEEE802_11_RADIOTAP)
        console.success(f"wrote {len(frames)} {kind} frame(s) to {pcap_out}")
        return
    from scapy.config import conf
    from scapy.packet import Raw

    try:
        sock = conf.L2socket(iface=iface)
    except OSError as exc:
        console.error(f"cannot open {iface}: {exc}; it must be a monitor interface and we need root")
        raise SystemExit(1) from exc
    with sock:
        for n, frame in enumerate(frames):
            if n:
                time.sleep(interval)
            sock.send(Raw(frame))  # the frame is built already: its bytes go out as they are
    console.success(f"sent {len(frames)} {kind} frame(s) on {iface}")

"""`meshframes inject KIND`: build a frame of any kind and send it on a
monitor interface or write it to a radiotap pcap."""

from __future__ import annotations

import time
from typing import Any

import click

from meshframes.cli import console

_KINDS = (
    "beacon", "probe-req", "probe-resp", "peering-open", "peering-confirm", "peering-close",
    "preq", "prep", "perr", "rann", "gate-ann", "mesh-data", "fastpay-order", "fastpay-vote",
    "fastpay-certificate", "fastpay-confirmation", "fastpay-info-request",
    "fastpay-info-response", "fastpay-announce", "fastpay-error",
)


def _value(text: str) -> Any:
    if text.startswith("hex:"):
        return bytes.fromhex(text[4:])
    try:
        return int(text, 0)
    except ValueError:
        return text


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
@click.option("--src", default="02:00:00:00:01:00", show_default=True, help="Transmitter (A2).")
@click.option("--dst", default=None, help="Receiver (A1); broadcast for beacons and HWMP floods.")
@click.option("--mesh-id", default="meshframes", show_default=True)
@click.option("--ttl", default=31, show_default=True, help="Element or Mesh Control TTL.")
@click.option("--seq", default=1, show_default=True, help="Sequence numbers (HWMP SN, mesh seq).")
@click.option("--ae", is_flag=True, help="Use address extension / optional fields (PMK, user data).")
@click.option("--count", default=1, show_default=True, help="PREQ targets, PERR destinations, signatures.")
@click.option("--originator", default=None, help="HWMP originator / mesh SA.")
@click.option("--target", default=None, help="HWMP target / mesh DA.")
@click.option("--metric", default=0, show_default=True)
@click.option("--lifetime", default=5000, show_default=True, help="HWMP lifetime (TU).")
@click.option("--llid", default=0x1234, show_default=True, help="Local link ID.")
@click.option("--plid", default=0x4321, show_default=True, help="Peer link ID.")
@click.option("--reason", default=55, show_default=True, help="Reason code (close, PERR).")
@click.option("--amount", default=10, show_default=True, help="FastPay amount.")
@click.option("--sequence-number", default=0, show_default=True, help="FastPay sequence number.")
@click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE",
              help="Set any layer field (ints, or hex:.. for bytes); repeatable.")
@click.option("--iface", default=None, help="Monitor interface to send on.")
@click.option("--pcap", "pcap_out", default=None, type=click.Path(dir_okay=False),
              help="Write radiotap frames to this file instead of sending.")
@click.option("--repeat", default=1, show_default=True, help="Frames to send (sequence numbers advance).")
@click.option("--interval", default=0.1, show_default=True, help="Seconds between frames on --iface.")
def inject(kind: str, src: str, dst: str | None, mesh_id: str, ttl: int, seq: int, ae: bool,
           count: int, originator: str | None, target: str | None, metric: int, lifetime: int,
           llid: int, plid: int, reason: int, amount: int, sequence_number: int,
           assignments: tuple[str, ...], iface: str | None, pcap_out: str | None, repeat: int,
           interval: float) -> None:
    """Build a KIND frame from the options (every field has a sane default)
    and send it on a monitor interface (--iface) or write it, with a radiotap
    header, to a pcap (--pcap)."""
    if (iface is None) == (pcap_out is None):
        raise click.UsageError("give exactly one of --iface IFACE or --pcap OUT")
    from meshframes.build import FrameOptions, build
    from meshframes.capture import LINKTYPE_IEEE802_11_RADIOTAP, radiotap_header, write_pcap

    fields = _assignments(assignments)
    frames = []
    for n in range(repeat):
        opts = FrameOptions(
            src=src, dst=dst, mesh_id=mesh_id.encode(), ttl=ttl, seq=seq + n, ae=ae, count=count,
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

    try:
        sock = conf.L2socket(iface=iface)
    except OSError as exc:
        console.error(f"cannot open {iface}: {exc}; it must be a monitor interface and we need root")
        raise SystemExit(1) from exc
    with sock:
        for n, frame in enumerate(frames):
            if n:
                time.sleep(interval)
            sock.send(frame)
    console.success(f"sent {len(frames)} {kind} frame(s) on {iface}")

"""`meshframes inject KIND`: build a frame of any kind and send it on a
monitor interface or write it to a radiotap pcap; or hand the MSDU of a
mesh data or FastPay frame to a Linux mesh point, which sends it over its
own mesh."""

from __future__ import annotations

import re
import time
from typing import Any

import click

from meshframes.cli import console
from meshframes.cli.params import output_file, radio_interface
from meshframes.codec.elements import MESH_ID_MAX

_KINDS = (
    "beacon", "probe-req", "probe-resp", "peering-open", "peering-confirm", "peering-close",
    "preq", "prep", "perr", "rann", "gate-ann", "mesh-data", "fastpay-order", "fastpay-vote",
    "fastpay-certificate", "fastpay-confirmation", "fastpay-info-request",
    "fastpay-info-response", "fastpay-announce", "fastpay-error",
)
# What a mesh point takes: MSDUs only, so the kinds that are one.
_MESH_POINT_KINDS = tuple(k for k in _KINDS if k == "mesh-data" or k.startswith("fastpay-"))


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
@click.option("--iface", default=None, callback=radio_interface,
              help="Monitor or Linux mesh point interface to send on (what each takes: above).")
@click.option("--pcap", "pcap_out", default=None, type=click.Path(dir_okay=False), callback=output_file(),
              help="Write radiotap frames to this file instead of sending.")
@click.option("--repeat", default=1, show_default=True, help="Frames to send (sequence numbers advance).")
@click.option("--interval", default=0.1, show_default=True, help="Seconds between frames on --iface.")
@click.pass_context
def inject(ctx: click.Context, kind: str, src: str, dst: str | None, mesh_id: bytes, ttl: int, seq: int, ae: bool,
           count: int, originator: str | None, target: str | None, metric: int, lifetime: int,
           llid: int, plid: int, reason: int, amount: int, sequence_number: int,
           assignments: tuple[str, ...], iface: str | None, pcap_out: str | None, repeat: int,
           interval: float) -> None:
    """Build a KIND frame from the options (every field has a sane default)
    and send it on an interface (--iface) or write it, with a radiotap
    header, to a pcap (--pcap).

    \b
    What each kind of interface lets through:
    - a monitor: any KIND, on the air exactly as built (mac80211 sets only
      Duration/ID);
    - a Linux mesh point: only MSDUs. mesh-data and the fastpay-* kinds are
      handed to the kernel as Ethernet frames (FastPay as ethertype 0x88B5,
      as `node --transport mesh` sends it), to the mesh DA they were built
      with; the kernel finds the path with its own HWMP and writes the
      802.11 header, Mesh Control and sequence numbers itself. The source is
      the interface's address, unless --src is given: then the kernel sends
      the frame as a proxy for it (address extension). Beacons, peering and
      HWMP kinds are refused there.
    Any other interface is refused."""
    if (iface is None) == (pcap_out is None):
        raise click.UsageError("give exactly one of --iface IFACE or --pcap OUT")
    from meshframes.hosts.meshif import InterfaceKind, interface_kind
    from meshframes.hosts.pcap import LINKTYPE_IEEE802_11_RADIOTAP, radiotap_header, write_pcap
    from meshframes.layers.build import FrameOptions, build

    mesh_point = iface is not None and interface_kind(iface) is InterfaceKind.MESH_POINT
    if mesh_point and kind not in _MESH_POINT_KINDS:
        raise click.UsageError(f"{kind} cannot be sent on mesh point {iface}: the kernel takes only MSDUs there "
                               f"({', '.join(_MESH_POINT_KINDS)}); send it on a monitor interface")
    fields = _assignments(assignments)
    frames = []
    for n in range(repeat):
        opts = FrameOptions(
            src=src, dst=dst, mesh_id=mesh_id, ttl=ttl, seq=seq + n, ae=ae, count=count,
            originator=originator, target=target, metric=metric, lifetime=lifetime, llid=llid,
            plid=plid, reason=reason, amount=amount, sequence_number=sequence_number, fields=fields,
        )
        try:
            frames.append(bytes(build(kind, opts)))
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
    if pcap_out is not None:
        write_pcap(pcap_out, ((n * interval, radiotap_header() + f) for n, f in enumerate(frames)),
                   LINKTYPE_IEEE802_11_RADIOTAP)
        console.success(f"wrote {len(frames)} {kind} frame(s) to {pcap_out}")
        return
    assert iface is not None  # exactly one of --iface and --pcap, checked above
    if mesh_point:
        proxied = ctx.get_parameter_source("src") is not click.core.ParameterSource.DEFAULT
        _send_on_mesh_point(iface, kind, frames, bytes.fromhex(src.replace(":", "")) if proxied else None,
                            interval)
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
            sock.send(Raw(radiotap_header() + frame))  # the frame is built already: its bytes go out as they are
    console.success(f"sent {len(frames)} {kind} frame(s) on {iface}")


def _send_on_mesh_point(iface: str, kind: str, frames: list[bytes], src: bytes | None, interval: float) -> None:
    """Hand each frame's MSDU to the kernel's mesh on `iface`; from `src`
    (sent proxied) or, None, from the interface's own address."""
    from meshframes.codec import DataFrame, decode
    from meshframes.codec.ethernet import EthernetFrame, msdu_of
    from meshframes.codec.fastpay import ETHERTYPE_FASTPAY
    from meshframes.hosts.meshif import MeshPointTap, fastpay_destination

    try:
        tap = MeshPointTap(iface)
    except PermissionError as exc:
        console.error(f"sending on {iface} needs root: a raw packet socket requires CAP_NET_RAW (run it with sudo)")
        raise SystemExit(1) from exc
    with tap:
        for n, frame in enumerate(frames):
            if kind == "mesh-data" and isinstance(data := decode(frame), DataFrame):
                msdu = msdu_of(data)
            else:
                carried = fastpay_destination(frame)
                if isinstance(carried, str):
                    raise click.UsageError(f"{kind} frame cannot go through the mesh point: {carried}")
                msdu = EthernetFrame(carried[0], b"", ETHERTYPE_FASTPAY, carried[1])
            if n:
                time.sleep(interval)
            tap.send(EthernetFrame(msdu.dst, src or tap.interface_mac, msdu.ethertype, msdu.payload).encode())
        stats = tap.stats
    if stats.send_dropped:
        console.warning(f"{stats.send_dropped} of {len(frames)} frame(s) dropped: the interface queue was full")
    console.success(f"handed {stats.sent} {kind} MSDU(s) to the mesh point {iface}"
                    f"{' as a proxy for ' + src.hex(':') if src else ''}")

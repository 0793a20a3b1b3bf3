"""A party on the kernel's mesh: the mesh transport of `meshframes node`.

The kernel's mesh point (`iw dev X set type mp`, `mesh join ID`) does
peering, HWMP and forwarding, so no MeshNode of ours decides anything
here. `KernelMeshHost` runs the party alone against its clock and timer
heap (those of every host, `PartyHost`): each `SendPayload` goes straight
to the mesh interface (destination MAC, the FastPay header and fragment
as an ethertype 0x88B5 payload, docs/wire-format.md), and each payload
the kernel delivers becomes the party's `Deliver` (mesh SA, our address
or broadcast, the fragment, group or not), as a MeshNode would deliver
it. The kernel's hops are invisible from above.

`KernelMeshView` answers a person's `peers`, `paths` and `status` from
the kernel's own tables (`iw dev X station dump`, `mpath dump`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from meshframes.app.party import Party
from meshframes.codec import DecodeError, EncodeError
from meshframes.codec.fastpay import HEADER_LEN, FastPayFragment, decode_fragment, encode_fragment
from meshframes.codec.header import is_group
from meshframes.mesh.events import Deliver

from .base import Clock
from .control import ControlError, ControlRefusal
from .iw import IwError, dump_mpaths, dump_stations
from .meshif import MAX_PAYLOAD, MeshifMessage
from .node import DeliverHandler, EventHandler, PartyHost

# The largest fragment payload the party may put in one message: the mesh
# interface's MTU less our FastPay header (meshframes.app.transport).
MAX_FRAGMENT_DATA = MAX_PAYLOAD - HEADER_LEN
T = TypeVar("T")


class PayloadLink(Protocol):
    """What the host needs of the kernel's mesh interface
    (meshframes.hosts.meshif.MeshInterface)."""

    @property
    def mac(self) -> bytes: ...

    def send(self, dst: bytes, payload: bytes) -> None: ...

    def receive_messages(self) -> list[MeshifMessage]: ...


class KernelMeshHost(PartyHost):
    def __init__(self, link: PayloadLink, clock: Clock, *, party: Party | None = None,
                 on_deliver: DeliverHandler | None = None, on_event: EventHandler | None = None) -> None:
        """`on_deliver` sees every payload delivered (before the party
        takes it), `on_event` every event of the party."""
        super().__init__(link.mac, clock, party, on_event)
        self.link = link
        self.on_deliver = on_deliver
        # Payloads not carried either way, by reason (`status` sums them).
        self.refused: Counter[str] = Counter()
        self.last_refusal = ""

    def send_payload(self, dst: bytes, payload: FastPayFragment) -> None:
        """Put one payload on the mesh towards `dst`, as a party would."""
        self._send_payload(dst, payload)

    def poll(self) -> None:
        """Handle every payload that arrived and every timer that is due."""
        now = self.clock.now()
        for message in self.link.receive_messages():
            self._receive(message, now)
        self._run_due_timers(now)

    def _receive(self, message: MeshifMessage, now: float) -> None:
        try:
            payload = decode_fragment(message.payload, 0)
        except DecodeError as error:
            self.refused["malformed-payload"] += 1
            self.last_refusal = f"from {message.src.hex(':')}: {error}"
            return
        delivery = Deliver(message.src, message.dst, payload, group=is_group(message.dst))
        if self.on_deliver is not None:
            self.on_deliver(delivery)
        self._deliver_to_party(delivery, now)

    def _send_payload(self, destination: bytes, payload: FastPayFragment) -> None:
        try:
            self.link.send(destination, encode_fragment(payload))
        except (EncodeError, ValueError) as error:
            # An oversized fragment is the party's configuration error
            # (AppConfig.transport.max_fragment_payload); counted, not fatal.
            self.refused["unsendable-payload"] += 1
            self.last_refusal = f"to {destination.hex(':')}: {error}"


@dataclass(slots=True)
class KernelMeshView:
    """peers, paths and status from the kernel's mesh on `ifname`."""

    ifname: str
    host: KernelMeshHost
    mesh_id: str

    def status(self, now: float) -> dict[str, Any]:
        stations, paths = self._read(dump_stations), self._read(dump_mpaths)
        return {
            "mesh_id": self.mesh_id,
            "secure": False,
            "peers_established": sum(1 for s in stations.values() if s.plink == "ESTAB"),
            "paths_active": sum(1 for p in paths.values() if p.active),
            "refusals": sum(self.host.refused.values()),
        }

    def peers(self, now: float) -> list[dict[str, Any]]:
        paths = self._read(dump_mpaths)
        rows = []
        for mac, station in self._read(dump_stations).items():
            path = paths.get(mac)
            inactive_ms = station.number("inactive time")
            rows.append({
                "mac": mac,
                "state": station.plink,
                "signal_dbm": station.number("signal"),
                "last_seen_s": None if inactive_ms is None else inactive_ms / 1000,
                "metric": station.number("mesh airtime link metric"),
                "hops": path.hop_count if path is not None and path.active else None,
            })
        return rows

    def paths(self, now: float) -> list[dict[str, Any]]:
        return [{
            "destination": p.dst,
            "next_hop": p.next_hop,
            "metric": p.metric,
            "hops": p.hop_count,
            "sn": p.sn,
            "expires_in_s": None if p.expires_ms is None else p.expires_ms / 1000,
            "active": p.active,
        } for p in self._read(dump_mpaths).values()]

    def gates(self, now: float) -> list[dict[str, Any]]:
        # nl80211 reports no gate list (mac80211 keeps it internally).
        raise ControlError(ControlRefusal.MESH_UNAVAILABLE,
                           "the kernel does not report its known mesh gates (nl80211 has no gate dump)")

    def _read(self, dump: Callable[[str], T]) -> T:
        try:
            return dump(self.ifname)
        except IwError as error:
            raise ControlError(ControlRefusal.MESH_UNAVAILABLE, str(error)) from None

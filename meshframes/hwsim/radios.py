"""mac80211_hwsim radios in the guest: one node per radio, each in its own
network namespace (otherwise traffic between two local interfaces would go
over loopback instead of the air), plus the `iw` chores a test needs.

All radios share one medium across namespaces, so topology is shaped the
way hostap's hwsim tests do it: `plink_action block` on the links that must
not exist.
"""

from __future__ import annotations

import shlex
import signal
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meshframes.hosts.iw import MeshPath, Station, parse_mpath_dump, parse_station_dump
from meshframes.hwsim.agent import RunResult
from meshframes.hwsim.wait import wait_for

if TYPE_CHECKING:
    from meshframes.hwsim.guest import Background, Guest

DEFAULT_FREQ = 2412
DEFAULT_MESH_ID = "meshframes"
# 802.11-2020 9.2.4.7: a management or data frame body carries at most 2304
# octets; with the MAC header and radiotap a frame stays under this.
MONITOR_MTU = 2400

# One shell round trip for the whole reset (each round trip costs ~0.2 s).
# IPv6 is switched off in every namespace so captures carry only what a test
# sends, not router solicitations and MLD reports.
_RESET_SCRIPT = """
set -e
for ns in $(ip netns list | cut -d' ' -f1); do ip netns delete "$ns"; done
if [ -d /sys/module/mac80211_hwsim ]; then rmmod mac80211_hwsim; fi
modprobe mac80211_hwsim radios={radios}
for phy in /sys/class/ieee80211/*; do
    name=$(basename "$phy")
    for dev in "$phy"/device/net/*; do
        echo "$name $(basename "$dev") $(cat "$dev"/address)"
    done
done
"""
_NETNS_SCRIPT = """
set -e
ip netns add {netns}
iw phy {phy} set netns name {netns}
ip netns exec {netns} ip link set lo up
ip netns exec {netns} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1
"""


@dataclass(frozen=True, slots=True)
class Node:
    """One hwsim radio in its own network namespace."""

    index: int
    netns: str
    phy: str
    wlan: str
    mac: str
    guest: Guest = field(repr=False, compare=False)

    @property
    def mac_bytes(self) -> bytes:
        return bytes.fromhex(self.mac.replace(":", ""))

    def run(self, cmd: str | Sequence[str], **kwargs: Any) -> RunResult:
        return self.guest.run(cmd, netns=self.netns, **kwargs)

    def spawn(self, cmd: str | Sequence[str]) -> Background:
        return self.guest.spawn(cmd, netns=self.netns)

    def python(self, source: str, *, timeout: float = 60.0, **inputs: Any) -> Any:
        return self.guest.python(source, netns=self.netns, timeout=timeout, **inputs)

    def call(self, target: str, *args: Any, call_timeout: float = 120.0, **kwargs: Any) -> Any:
        return self.guest.call(target, *args, netns=self.netns, call_timeout=call_timeout,
                               **kwargs)

    # -- interfaces -----------------------------------------------------------

    def add_monitor(self, name: str = "mon0", *, freq: int = DEFAULT_FREQ,
                    active: bool = False) -> str:
        """Add a monitor interface on this radio, up and tuned. An active
        monitor makes hwsim acknowledge unicast frames to the radio's address,
        as a real station would; a passive one only listens. Its MTU is
        raised from Ethernet's 1500 so that injected frames may carry the
        2304-octet bodies 802.11 allows (a full FastPay fragment)."""
        flags = " flags active" if active else ""
        self.run(f"iw phy {self.phy} interface add {name} type monitor{flags} && "
                 f"ip link set {name} mtu {MONITOR_MTU} up && iw dev {name} set freq {freq}")
        return name

    def make_userspace(self, name: str = "mon0", *, freq: int = DEFAULT_FREQ) -> str:
        """Prepare the radio for a node whose 802.11 stack is ours: the
        kernel's own interface goes (it would answer frames itself, e.g.
        return unknown action frames), and an active monitor takes its
        place, so hwsim acknowledges frames for the radio's address as a
        real station would and kernel peers see their frames to us succeed."""
        self.remove_wlan()
        return self.add_monitor(name, freq=freq, active=True)

    def remove_wlan(self) -> None:
        """Delete the radio's default interface so the kernel never transmits
        on this radio by itself (for recorders and userspace nodes)."""
        self.run(f"iw dev {self.wlan} del")

    def mesh_join(self, mesh_id: str = DEFAULT_MESH_ID, *, freq: int = DEFAULT_FREQ,
                  beacon_interval: int | None = None, **mesh_params: int) -> None:
        """Make the radio a kernel mesh point (open mesh) and join `mesh_id`;
        `beacon_interval` in TU (the kernel's own when None); mesh_params
        are mesh_param=value pairs given to `iw mesh join`."""
        params = " ".join(f"{key}={value}" for key, value in mesh_params.items())
        beacons = "" if beacon_interval is None else f"beacon-interval {beacon_interval} "
        self.run(f"iw dev {self.wlan} set type mp && ip link set {self.wlan} up && "
                 f"iw dev {self.wlan} mesh join {shlex.quote(mesh_id)} freq {freq} {beacons}{params}")

    def set_mesh_param(self, name: str, value: int) -> None:
        self.run(f"iw dev {self.wlan} set mesh_param {name} {value}")

    def block(self, peer: Node) -> None:
        """Refuse peering with `peer` (the station entry must exist: the peer
        has been heard at least once)."""
        self.run(f"iw dev {self.wlan} station set {peer.mac} plink_action block")

    def set_group(self, groups: int) -> None:
        """Put the radio in the hwsim groups whose bits are set: it hears,
        and is heard by, only radios sharing a group with it (the medium
        itself is shaped, below mac80211: no frame, ACK or TX status crosses
        between radios without a common group). Every radio starts in group 1."""
        self.guest.run(f"echo {groups} > /sys/kernel/debug/ieee80211/{self.phy}/hwsim/group")

    def vanish(self) -> None:
        """Leave the medium silently: no close frame, no further frame sent or
        received. hwsim delivers a frame only between radios whose `group`
        bitmaps intersect; every radio starts in group 1."""
        self.set_group(2)

    # -- kernel state ---------------------------------------------------------

    def stations(self) -> dict[str, Station]:
        return parse_station_dump(self.run(f"iw dev {self.wlan} station dump").stdout)

    def mpaths(self) -> dict[str, MeshPath]:
        return parse_mpath_dump(self.run(f"iw dev {self.wlan} mpath dump").stdout)

    def wait_plink(self, peer: Node, state: str = "ESTAB", *, timeout: float = 15.0) -> Station:
        def probe() -> Station | None:
            station = self.stations().get(peer.mac)
            return station if station and station.plink == state else None

        return wait_for(probe, f"node {self.index} ({self.mac}) shows mesh plink {state} "
                        f"with node {peer.index} ({peer.mac})", timeout=timeout,
                        interval=0.2, describe=lambda _: repr(self.stations().get(peer.mac)))

    def wait_station(self, peer: Node, *, timeout: float = 15.0) -> Station:
        return wait_for(lambda: self.stations().get(peer.mac),
                        f"node {self.index} ({self.mac}) hears node {peer.index} ({peer.mac})",
                        timeout=timeout, interval=0.2)

    def wait_mpath(self, dst: Node, *, next_hop: Node | None = None,
                   timeout: float = 15.0) -> MeshPath:
        def probe() -> MeshPath | None:
            path = self.mpaths().get(dst.mac)
            if path and path.active and (next_hop is None or path.next_hop == next_hop.mac):
                return path
            return None

        via = f" via node {next_hop.index} ({next_hop.mac})" if next_hop else ""
        return wait_for(probe, f"node {self.index} has an active path to node {dst.index} "
                        f"({dst.mac}){via}", timeout=timeout, interval=0.2,
                        describe=lambda _: repr(self.mpaths()))

    # -- recording ------------------------------------------------------------

    def start_capture(self, name: str, *, freq: int = DEFAULT_FREQ) -> Capture:
        """Turn this radio into a recorder: its own interface goes away, a
        monitor hears the channel and meshframes.hwsim.recorder writes a pcap
        (radiotap, link type 127) into the guest's writable share."""
        self.remove_wlan()
        monitor = self.add_monitor("rec0", freq=freq)
        host_path, guest_path = self.guest.io_path(name)
        process = self.spawn([sys.executable, "-S", "-m", "meshframes.hwsim.recorder",
                              monitor, guest_path])
        process.expect(r"recording on", timeout=30.0)
        return Capture(process, host_path)


@dataclass(frozen=True, slots=True)
class Capture:
    process: Background
    path: Path

    def stop(self) -> Path:
        """Stop the recorder (it drains its socket first) and return the host
        path of the pcap."""
        result = self.process.stop(signal.SIGTERM)
        if result.returncode != 0 or not self.path.exists():
            raise RuntimeError(f"the recorder failed ({result.returncode}): {result.stderr}")
        return self.path


def reset(guest: Guest, radios: int) -> list[Node]:
    """Fresh radios: end every guest process (one left inside a namespace
    would keep its radio there), delete the namespaces, reload
    mac80211_hwsim with `radios` radios and put radio i into namespace n<i>.
    The pace is measured again first, so each scenario's budgets follow
    the load of the moment (meshframes.hwsim.wait)."""
    guest.stop_all()
    guest.measure_pace()
    listing = guest.run(_RESET_SCRIPT.format(radios=radios), timeout=60.0).stdout
    found = sorted((line.split() for line in listing.splitlines()),
                   key=lambda words: int(words[0].removeprefix("phy")))
    if len(found) != radios:
        raise RuntimeError(f"asked mac80211_hwsim for {radios} radios, found: {listing!r}")
    nodes = [Node(index, f"n{index}", phy, wlan, mac, guest)
             for index, (phy, wlan, mac) in enumerate(found)]
    guest.run("".join(_NETNS_SCRIPT.format(netns=node.netns, phy=node.phy) for node in nodes))
    return nodes


def mesh_topology(nodes: Sequence[Node], links: Iterable[tuple[int, int]], *,
                  mesh_id: str = DEFAULT_MESH_ID, freq: int = DEFAULT_FREQ,
                  timeout: float = 20.0) -> None:
    """Join every node to an open kernel mesh in which only `links` (pairs
    of node indexes) peer. Peering starts only after every other pair is
    blocked, so no unwanted link is ever established, even briefly."""
    wanted = {frozenset(link) for link in links}
    for node in nodes:
        node.mesh_join(mesh_id, freq=freq, mesh_auto_open_plinks=0)
    for a, b in combinations(nodes, 2):
        if frozenset((a.index, b.index)) not in wanted:
            for near, far in ((a, b), (b, a)):
                near.wait_station(far, timeout=timeout)
                near.block(far)
    for node in nodes:
        node.set_mesh_param("mesh_auto_open_plinks", 1)
    for a, b in combinations(nodes, 2):
        if frozenset((a.index, b.index)) in wanted:
            a.wait_plink(b, timeout=timeout)
            b.wait_plink(a, timeout=timeout)


def mesh_chain(nodes: Sequence[Node], **kwargs: Any) -> None:
    """node 0 - node 1 - ... - node n-1, each hearing only its neighbours."""
    mesh_topology(nodes, [(i, i + 1) for i in range(len(nodes) - 1)], **kwargs)


def medium_chain(nodes: Sequence[Node], *, listeners: Sequence[Node] = ()) -> None:
    """Shape the medium itself into a chain nodes[0] - nodes[1] - ... : link
    i (between nodes[i] and nodes[i+1]) is hwsim group bit i, each node is in the
    groups of its two links, so it hears only its neighbours; `listeners`
    (recorders, sniffers) are in every group and hear all. Unlike
    `plink_action block`, this needs no cooperation from the stack on the
    radio, so it shapes userspace nodes as well as kernel ones."""
    for position, node in enumerate(nodes):
        node.set_group(sum(1 << link for link in (position - 1, position)
                           if 0 <= link < len(nodes) - 1))
    for listener in listeners:
        listener.set_group((1 << max(1, len(nodes) - 1)) - 1)

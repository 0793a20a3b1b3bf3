"""Recorded scenarios on kernel mesh points and on our own userspace nodes:
what `meshframes hwsim record` writes to pcaps/ and what the hwsim tests
check with tshark and our analyzer.

Each scenario keeps a timeline (seconds since the recorder started, what
happened) so a capture's README line can say when each phase begins.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshframes.codec.fastpay import MessageType
from meshframes.fastpay.committee import Identity
from meshframes.hwsim.guest import Guest
from meshframes.hwsim.nodes import NODE_DIR, CommitteeFiles, NodeProcess, prepare, write_committee
from meshframes.hwsim.radios import DEFAULT_FREQ, DEFAULT_MESH_ID, Capture, Node, medium_chain, mesh_chain
from meshframes.hwsim.wait import wait_for
from meshframes.mesh.mbss import WPA_SUPPLICANT_BASIC_RATES
from meshframes.seal.errors import SaeRefusal
from meshframes.seal.keyfile import CaptureKeys, loads
from meshframes.seal.wpalog import import_wpa_log

PROBES = "meshframes.hwsim.probes"
USERNODE = "meshframes.hwsim.usernode"
# A FastPay-over-mesh payload as docs/wire-format.md lays it out from
# `version` on: version 1, type 8 (announce), flags 0, message id,
# fragment 0 of 1, then a recognisable body.
ENVELOPE = bytes([1, 8, 0]) + (0x0102).to_bytes(2, "little") + bytes([0, 1]) + b"meshframes-hwsim"


@dataclass
class Timeline:
    started: float = field(default_factory=time.monotonic)
    events: list[tuple[float, str]] = field(default_factory=list)

    def mark(self, what: str) -> None:
        self.events.append((round(time.monotonic() - self.started, 1), what))

    def render(self) -> str:
        return "; ".join(f"{offset:g} s {what}" for offset, what in self.events)


@dataclass(frozen=True, slots=True)
class Recording:
    pcap: Path
    nodes: tuple[Node, ...]
    timeline: Timeline
    # How many FastPay messages each phase sent and saw delivered.
    delivered: dict[str, int]
    # Userspace nodes: each one's final state (meshframes.hwsim.usernode.state)
    # and, in a secure mesh, its keys, by node name.
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, dict[str, bytes]] = field(default_factory=dict)
    # wpa_supplicant-run nodes: each one's debug log with keys (-d -K), by
    # node name, from which the capture's keys are imported.
    wpa_logs: dict[str, str] = field(default_factory=dict)
    # A secure mesh's capture keys (docs/keys.md): what our nodes' seals
    # export, or what the wpa_supplicant logs give.
    capture_keys: CaptureKeys | None = None


def kept(recording: Recording, directory: Path) -> tuple[Recording, Path]:
    """The recording with its pcap copied out of the guest's share (which
    the next scenario reuses) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    pcap = directory / recording.pcap.name
    shutil.copy(recording.pcap, pcap)
    return recording, pcap


def transfer_order(amount: int, sequence_number: int = 0) -> bytes:
    """A real FastPay order: SerializedMessage::Order of a transfer signed
    by a fixed test account (its signature verifies at the far end)."""
    from meshframes.fastpay.ed25519 import KeyPair
    from meshframes.fastpay.messages import Address, Transfer, TransferOrder
    from meshframes.fastpay.wire import encode_message, signing_bytes

    sender, recipient = KeyPair.from_seed(b"\x01" * 32), KeyPair.from_seed(b"\x02" * 32)
    transfer = Transfer(sender=sender.public_key, recipient=Address.fastpay(recipient.public_key),
                        amount=amount, sequence_number=sequence_number)
    return encode_message(TransferOrder(transfer=transfer, signature=sender.sign(signing_bytes(transfer))))


def kernel_chain_perr(guest: Guest, *, messages: int = 3,
                      stream_interval: float = 0.05) -> Recording:
    """Three kernel mesh points in a chain n0 - n1 - n2 (open mesh, the
    n0-n2 link blocked) and a fourth radio recording the channel.

    Phases: beacons and peering; n0 sends `messages` FastPay payloads to n2
    over the mesh interface (PREQ/PREP, data forwarded by n1) and n2 answers
    as many; n2 then leaves the medium silently while n0 keeps sending every
    `stream_interval` s, until n1's transmit failures to n2 break the link
    and its PERR makes n0 drop the path."""
    n0, n1, n2, recorder = guest.reset_radios(4)
    capture = recorder.start_capture("kernel-chain-perr.pcap")
    timeline = Timeline()
    timeline.mark("recorder up")
    mesh_chain([n0, n1, n2])
    timeline.mark("n0-n1 and n1-n2 peered (ESTAB), n0-n2 blocked")
    delivered = _exchange_both_ways(n0, n2, messages, timeline)
    n0.wait_mpath(n2, next_hop=n1)
    timeline.mark("n0 has an active path to n2 via n1")
    n2.vanish()
    timeline.mark(f"n2 vanished silently; n0 streams to n2 every {stream_interval:g} s")
    n0.call(f"{PROBES}:meshif_stream_start", n0.wlan, n2.mac_bytes, ENVELOPE,
            interval=stream_interval)
    _wait_path_dropped(n0, n2)
    timeline.mark("n0's path to n2 inactive (n1's PERR)")
    sent = n0.call(f"{PROBES}:meshif_stream_stop", n0.wlan)
    timeline.mark(f"stream stopped after {sent} messages")
    path = capture.stop()
    timeline.mark("recorder stopped")
    return Recording(path, (n0, n1, n2, recorder), timeline, delivered)


def _exchange_both_ways(a: Node, b: Node, messages: int, timeline: Timeline) -> dict[str, int]:
    """Open both ends' mesh-interface transport, send `messages` each way;
    how many arrived, by direction."""
    for node in (a, b):
        node.call(f"{PROBES}:meshif_open", node.wlan)
    return {f"n{a.index}->n{b.index}": _exchange(a, b, messages, timeline),
            f"n{b.index}->n{a.index}": _exchange(b, a, messages, timeline)}


def _exchange(src: Node, dst: Node, messages: int, timeline: Timeline) -> int:
    payloads = [ENVELOPE + bytes([index]) for index in range(messages)]
    dst.call(f"{PROBES}:meshif_drain", dst.wlan)
    timeline.mark(f"n{src.index} sends {messages} messages to n{dst.index}")
    src.call(f"{PROBES}:meshif_send", src.wlan, dst.mac_bytes, payloads)
    got = dst.call(f"{PROBES}:meshif_collect", dst.wlan, payloads, timeout=20.0)
    arrived = [m for m in got if m.payload in payloads and m.src == src.mac_bytes]
    timeline.mark(f"n{dst.index} received {len(arrived)} of them")
    return len(arrived)


def _wait_path_dropped(node: Node, dst: Node) -> None:
    def dropped() -> bool:
        path = node.mpaths().get(dst.mac)
        return path is None or not path.active

    wait_for(dropped, f"node {node.index}'s path to node {dst.index} ({dst.mac}) is dropped "
             "after its far end vanished (n1 should send a PERR)", timeout=60.0,
             interval=0.3, describe=lambda _: repr(node.mpaths()))


def monitor_injection(guest: Guest) -> Recording:
    """Every frame of meshframes.hwsim.framesets injected by n0's monitor and
    collected by n1's, heard by a third radio: the shared captures' frames
    and our FastPay frames as they travel on a real radio (with the
    Duration mac80211 gives each)."""
    from meshframes.hwsim.framesets import inject_cases

    sender, receiver, recorder = guest.reset_radios(3)
    capture = recorder.start_capture("monitor-injection.pcap")
    timeline = Timeline()
    timeline.mark("recorder up")
    for node in (sender, receiver):
        node.add_monitor("mon0")
        node.call(f"{PROBES}:monitor_open", "mon0")
    frames = [case.frame for case in inject_cases()]
    timeline.mark(f"n0 injects {len(frames)} frames, one of each kind")
    sender.call(f"{PROBES}:monitor_transmit", "mon0", frames)
    got = receiver.call(f"{PROBES}:monitor_collect", "mon0", count=len(frames), timeout=20.0)
    timeline.mark(f"n1 received {len(got)}")
    path = capture.stop()
    timeline.mark("recorder stopped")
    return Recording(path, (sender, receiver, recorder), timeline,
                     {"injected": len(frames), "received": len(got)})


def userspace_chain(guest: Guest, *, passphrase: str | None = None,
                    timeout: float = 30.0) -> Recording:
    """Our own nodes, a MeshNode per radio driven by a NodeHost over an
    active monitor, in a chain u0 - u1 - u2 shaped in the medium itself
    (hwsim groups: u0 and u2 never hear each other), a fourth radio
    recording in every group. They peer (AMPE when `passphrase` is given),
    u0 sends a signed FastPay order to u2, which HWMP routes through u1,
    and u2 answers with one of its own."""
    (u0, u1, u2, recorder), capture, timeline = recorded_user_chain(guest, "userspace-chain.pcap", (0, 1, 2))
    users = (u0, u1, u2)
    for node in users:
        guest.call(f"{USERNODE}:start", f"u{node.index}", "mon0", radio_netns=node.netns,
                   passphrase=passphrase, seed=node.index)
    timeline.mark("u0, u1, u2 started" + (" (secure mesh)" if passphrase else ""))
    _wait_estab(guest, {"u0": [u1], "u1": [u0, u2], "u2": [u1]}, timeout)
    timeline.mark("u0-u1 and u1-u2 ESTAB in our peer tables")
    delivered = {
        "u0->u2": _user_exchange(guest, u0, u2, transfer_order(250), timeline, timeout),
        "u2->u0": _user_exchange(guest, u2, u0, transfer_order(40), timeline, timeout),
    }
    keys = {f"u{n.index}": guest.call(f"{USERNODE}:keys", f"u{n.index}") for n in users} if passphrase else {}
    exported = None
    if passphrase:
        exported = CaptureKeys()
        for node in users:
            exported = exported.merged(loads(json.dumps(guest.call(f"{USERNODE}:capture_keys", f"u{node.index}"))))
    states = {f"u{n.index}": guest.call(f"{USERNODE}:stop", f"u{n.index}") for n in users}
    timeline.mark("nodes stopped")
    path = capture.stop()
    timeline.mark("recorder stopped")
    return Recording(path, (*users, recorder), timeline, delivered, states, keys, capture_keys=exported)


def _user_state(guest: Guest, name: str) -> dict[str, Any]:
    return guest.call(f"{USERNODE}:state", name)


def _wait_estab(guest: Guest, links: dict[str, list[Node]], timeout: float) -> None:
    def missing() -> list[str]:
        gaps = []
        for name, peers in links.items():
            table = _user_state(guest, name)["peers"]
            gaps += [f"{name}-{peer.mac}: {table.get(peer.mac, {}).get('state')}" for peer in peers
                     if table.get(peer.mac, {}).get("state") != "ESTAB"]
        return gaps

    wait_for(lambda: not missing(), "every chain link ESTAB in our peer tables", timeout=timeout,
             interval=0.3, describe=lambda _: repr(missing()))


def _user_exchange(guest: Guest, src: Node, dst: Node, message: bytes, timeline: Timeline,
                   timeout: float) -> int:
    timeline.mark(f"u{src.index} sends a FastPay order ({len(message)} bytes) to u{dst.index}")
    guest.call(f"{USERNODE}:send_app", f"u{src.index}", dst.mac_bytes, [message], MessageType.FASTPAY_ORDER)

    def arrived() -> list[dict[str, Any]]:
        return [d for d in _user_state(guest, f"u{dst.index}")["deliveries"]
                if d["source"] == src.mac_bytes and d["payload"] == message]

    got = wait_for(arrived, f"u{dst.index} delivers the order from u{src.index}", timeout=timeout,
                   interval=0.2, describe=lambda _: repr(_user_state(guest, f"u{dst.index}")["counters"]))
    timeline.mark(f"u{dst.index} delivered it")
    return len(got)


# LLC/SNAP header of an Ethernet frame of type 0x88B5 (IEEE 802.1H): what
# a mesh data frame's body starts with when the kernel's mesh interface
# carries FastPay (docs/wire-format.md).
LLC_SNAP_FASTPAY = bytes.fromhex("aaaa03000000" "88b5")


def kernel_interop(guest: Guest, *, messages: int = 3, timeout: float = 30.0) -> Recording:
    """Linux and us on one mesh: kernel mesh points n0 - n1 and our node u2
    (MeshNode over an active monitor) in a chain shaped by hwsim groups (n0
    and u2 never hear each other), a fourth radio recording. n1 peers with
    u2; n0 sends FastPay envelopes to u2 through its mesh interface, so the
    kernel must discover u2 with HWMP (our PREP answers its PREQ) and n1
    must forward the data to us; u2 answers with mesh data of its own,
    which n1 forwards to n0's mesh interface."""
    (n0, n1, u2, recorder), capture, timeline = recorded_user_chain(guest, "kernel-interop.pcap", (2,))
    for node in (n0, n1):
        node.mesh_join(DEFAULT_MESH_ID)
    _user_chain_estab(guest, (n0, n1, u2), timeline, "n0 and n1 joined the mesh (kernel), u2 started (ours)",
                      timeout)
    timeline.mark("n0-n1 ESTAB; n1 shows u2 as mesh plink ESTAB, u2 shows n1 ESTAB")
    got = _kernel_to_user(guest, n0, u2, messages, timeline, timeout)
    # The kernel's paths as the envelopes left them: a path lives 5000 TU
    # from its last refresh (mesh_hwmp_active_path_timeout), which on a
    # busy host the rest of the scenario can outlast.
    mpaths = {"n0": n0.mpaths(), "n1": n1.mpaths()}
    back = _user_to_kernel(guest, u2, n0, messages, timeline, timeout)
    states = {
        "u2": guest.call(f"{USERNODE}:stop", "u2"),
        "n0": {"mpaths": mpaths["n0"]},
        "n1": {"mpaths": mpaths["n1"], "stations": n1.stations()},
    }
    timeline.mark("u2 stopped")
    path = capture.stop()
    timeline.mark("recorder stopped")
    return Recording(path, (n0, n1, u2, recorder), timeline, {"n0->u2": got, "u2->n0": back}, states)


def _kernel_to_user(guest: Guest, kernel: Node, user: Node, messages: int, timeline: Timeline,
                    timeout: float) -> int:
    """`kernel` sends `messages` FastPay envelopes to our node `user`
    through its mesh interface (HWMP finds the path first); how many `user`
    delivered, once all of them are there."""
    src, dst = f"n{kernel.index}", f"u{user.index}"
    kernel.call(f"{PROBES}:meshif_open", kernel.wlan)
    envelopes = [ENVELOPE + f" to {dst} ".encode() + bytes([index]) for index in range(messages)]
    timeline.mark(f"{src} sends {messages} FastPay envelopes to {dst} through its mesh interface")
    kernel.call(f"{PROBES}:meshif_send", kernel.wlan, user.mac_bytes, envelopes)
    bodies = {LLC_SNAP_FASTPAY + e for e in envelopes}

    def arrived() -> list[dict[str, Any]] | None:
        """The user node's deliveries of the envelopes, once all of them are there."""
        delivered = [d for d in _user_state(guest, dst)["deliveries"]
                     if d["source"] == kernel.mac_bytes and d["body"] in bodies]
        return delivered if len(delivered) == messages else None

    got = wait_for(arrived, f"{dst} delivers the {messages} envelopes {src} sent", timeout=timeout, interval=0.3,
                   describe=lambda _: repr(_user_state(guest, dst)["counters"]))
    timeline.mark(f"{dst} delivered {len(got)} of them")
    return len(got)


def _user_to_kernel(guest: Guest, user: Node, kernel: Node, messages: int, timeline: Timeline,
                    timeout: float) -> int:
    """Our node `user` sends `messages` envelopes to `kernel` as mesh data;
    how many of them `kernel`'s mesh interface received from it."""
    src, dst = f"u{user.index}", f"n{kernel.index}"
    replies = [ENVELOPE + f" from {src} ".encode() + bytes([index]) for index in range(messages)]
    timeline.mark(f"{src} sends {messages} envelopes back to {dst} as mesh data")
    guest.call(f"{USERNODE}:send_data", src, kernel.mac_bytes, [LLC_SNAP_FASTPAY + r for r in replies])
    back = kernel.call(f"{PROBES}:meshif_collect", kernel.wlan, replies, timeout=timeout)
    timeline.mark(f"{dst}'s mesh interface received {len(back)}")
    return sum(1 for m in back if m.src == user.mac_bytes and m.payload in replies)


# n0's beacon interval in `kernel_probe` (TU): long enough that our node,
# started between two of its beacons, hears none before it peers.
PROBE_BEACON_INTERVAL_TU = 5000


def kernel_probe(guest: Guest, *, timeout: float = 30.0) -> Recording:
    """A kernel mesh point n0 beaconing every PROBE_BEACON_INTERVAL_TU, and
    our node u1, which as it starts sends n0 the Probe Request it sends a
    neighbour whose beacon it never heard (MeshConfig.probe_unknown_neighbours).
    The kernel answers with a Probe Response carrying its mesh elements
    (ieee80211_mesh_rx_probe_req), which u1 takes as a beacon: it opens
    the peering, and both sides reach ESTAB well before n0's next beacon
    could have told u1 of it."""
    (n0, u1, recorder), capture, timeline = recorded_pair(guest, "linux-kernel-probe.pcap")
    n0.mesh_join(DEFAULT_MESH_ID, beacon_interval=PROBE_BEACON_INTERVAL_TU)
    timeline.mark(f"n0 joined (kernel), beacons every {PROBE_BEACON_INTERVAL_TU} TU")
    guest.call(f"{USERNODE}:start", "u1", "mon0", radio_netns=u1.netns, seed=1, probe=n0.mac_bytes)
    timeline.mark("u1 started (ours), its first frame a Probe Request to n0")
    _wait_estab(guest, {"u1": [n0]}, timeout)
    n0.wait_plink(u1, timeout=timeout)
    timeline.mark("u1-n0 ESTAB on both sides")
    return _pair_stopped(guest, (n0, u1, recorder), capture, timeline)


SAE_PASSPHRASE = "meshframes-sae-passphrase"
# What wpa_supplicant's debug log says when a peer's SAE Confirm does not
# verify (its SAE confirm check).
WPA_CONFIRM_MISMATCH = "SAE: Confirm mismatch"
# ... and when its mesh interface has joined the MBSS.
WPA_MESH_STARTED = "MESH-GROUP-STARTED"
# wpa_supplicant's secure mesh (mode 5): SAE authenticates each pair, its
# userspace MPM runs AMPE, and management frames are protected (PMF).
_WPA_MESH_CONF = """user_mpm=1
network={{
    ssid="{mesh_id}"
    mode=5
    frequency={freq}
    key_mgmt=SAE
    psk="{passphrase}"
    ieee80211w=2
}}
"""


def _pair_stopped(guest: Guest, pair: tuple[Node, Node, Node], capture: Capture, timeline: Timeline) -> Recording:
    """Stop our node u1 and the recorder of a `recorded_pair`: the
    recording, with u1's final state and n0's station table."""
    n0, u1, recorder = pair
    states = {"u1": guest.call(f"{USERNODE}:stop", "u1"), "n0": {"stations": n0.stations()}}
    timeline.mark("u1 stopped")
    path = capture.stop()
    timeline.mark("recorder stopped")
    return Recording(path, (n0, u1, recorder), timeline, {}, states)


def recorded_pair(guest: Guest, name: str) -> tuple[tuple[Node, Node, Node], Capture, Timeline]:
    """n0 for a kernel mesh point, u1 for our node (an active monitor, the
    engines loaded in the guest's interpreter) and a recorder, recording
    into `name`."""
    n0, u1, recorder = guest.reset_radios(3)
    u1.make_userspace("mon0")
    # The engines load once, before the recording starts.
    guest.call(f"{USERNODE}:stop", "none")
    capture = recorder.start_capture(name)
    timeline = Timeline()
    timeline.mark("recorder up")
    return (n0, u1, recorder), capture, timeline


def sae_interop(guest: Guest, *, timeout: float = 60.0) -> Recording:
    """wpa_supplicant's secure mesh point (mode 5, SAE, AMPE, PMF) on n0
    and our node u1 (MeshNode over an active monitor, `sae=True`, the same
    passphrase), a third radio recording. Each side's beacon makes the
    other start SAE: Commit and Confirm both ways. Done when our engine
    has accepted n0's Confirm (so n0 derived our keys) and n0 has sent a
    Mesh Peering Open, which wpa_supplicant does only after its own SAE
    accepted ours; the Open's Chosen PMK is its PMKID."""
    (n0, u1, recorder), capture, timeline = recorded_pair(guest, "sae-interop.pcap")
    host_conf, guest_conf = guest.io_path(f"wpa-{n0.netns}.conf")
    host_conf.write_text(_WPA_MESH_CONF.format(mesh_id=DEFAULT_MESH_ID, freq=DEFAULT_FREQ,
                                               passphrase=SAE_PASSPHRASE))
    n0.run(f"wpa_supplicant -B -D nl80211 -i {n0.wlan} -c {guest_conf}")
    guest.call(f"{USERNODE}:start", "u1", "mon0", radio_netns=u1.netns, passphrase=SAE_PASSPHRASE,
               sae=True, basic_rates=WPA_SUPPLICANT_BASIC_RATES, seed=1)
    timeline.mark("wpa_supplicant started on n0 (SAE), u1 started (ours, SAE)")

    def accepted() -> str | None:
        return _user_state(guest, "u1")["sae"].get("pmkids", {}).get(n0.mac)

    wait_for(accepted, "u1's SAE accepts n0's Confirm", timeout=timeout, interval=0.3,
             describe=lambda _: repr(_user_state(guest, "u1")["sae"]))
    timeline.mark("u1: SAE with n0 accepted")

    def heard_open() -> list[Any]:
        """u1's record of a Mesh Peering Open from n0: taken by the peering
        FSM, or refused (and counted) on its way there."""
        return [e for e in _user_state(guest, "u1")["events"]
                if n0.mac in e[2] and ("OPN_ACPT" in e[2] or e[2].startswith("ampe-"))]

    wait_for(heard_open, "u1 hears a Mesh Peering Open from n0", timeout=timeout, interval=0.3,
             describe=lambda _: repr(_user_state(guest, "u1")["events"][-5:]))
    timeline.mark("u1 heard n0's Mesh Peering Open")
    return _pair_stopped(guest, (n0, u1, recorder), capture, timeline)


def ampe_interop(guest: Guest, *, ours_first: bool, messages: int = 3, timeout: float = 60.0) -> Recording:
    """wpa_supplicant's secure mesh point on n0 (as in `sae_interop`) and
    our node u1 with the same passphrase, a third radio recording, one of
    them started first (`ours_first`: u1 beacons before n0 joins; else the
    other way round). SAE, then AMPE: both must reach ESTAB, ours in our
    peer table, n0's in the kernel's station table where wpa_supplicant
    sets it. Then CCMP data both ways: n0 sends `messages` FastPay
    envelopes to u1 through its mesh interface (HWMP first: a protected
    group-addressed PREQ our node must open with n0's MGTK, our protected
    PREP), and u1 sends as many back as mesh data. wpa_supplicant logs
    with -dd -K (its keys, for an independent decryption)."""
    order = "ours" if ours_first else "theirs"
    (n0, u1, recorder), capture, timeline = recorded_pair(guest, f"ampe-interop-{order}-first.pcap")
    log = ""
    if not ours_first:
        log = _start_wpa_mesh(guest, n0, SAE_PASSPHRASE)
        _wait_wpa_mesh_up(n0, log, timeout)
    guest.call(f"{USERNODE}:start", "u1", "mon0", radio_netns=u1.netns, passphrase=SAE_PASSPHRASE,
               sae=True, basic_rates=WPA_SUPPLICANT_BASIC_RATES, seed=1)
    if ours_first:
        wait_for(lambda: _user_state(guest, "u1")["transmitted"].get("Beacon", 0) >= 2,
                 "u1 sends its first beacons", timeout=timeout, interval=0.3)
        log = _start_wpa_mesh(guest, n0, SAE_PASSPHRASE)
    timeline.mark(f"{'u1 (ours), then n0 (wpa_supplicant)' if ours_first else 'n0 (wpa_supplicant), then u1'}"
                  " started, both with SAE")
    _wait_estab(guest, {"u1": [n0]}, timeout)
    n0.wait_plink(u1, timeout=timeout)
    timeline.mark("u1-n0 ESTAB on both sides after SAE and AMPE")
    delivered = {"n0->u1": _kernel_to_user(guest, n0, u1, messages, timeline, timeout),
                 "u1->n0": _user_to_kernel(guest, u1, n0, messages, timeline, timeout)}
    keys = guest.call(f"{USERNODE}:capture_keys", "u1")
    states = {"u1": guest.call(f"{USERNODE}:stop", "u1"), "n0": {"stations": n0.stations()}}
    timeline.mark("u1 stopped")
    path = capture.stop()
    timeline.mark("recorder stopped")
    wpa_log = guest.copy_out(log, guest.io_path(f"wpa-{n0.netns}.log")[0]).read_text(errors="replace")
    return Recording(path, (n0, u1, recorder), timeline, delivered, states, wpa_logs={"n0": wpa_log},
                     capture_keys=loads(json.dumps(keys)))


def ampe_theirs_first(guest: Guest) -> Recording:
    """`ampe_interop` with wpa_supplicant's mesh point up first."""
    return ampe_interop(guest, ours_first=False)


def ampe_ours_first(guest: Guest) -> Recording:
    """`ampe_interop` with our node beaconing first."""
    return ampe_interop(guest, ours_first=True)


def ampe_wrong_password(guest: Guest, *, timeout: float = 60.0) -> Recording:
    """wpa_supplicant's secure mesh point on n0 with SAE_PASSPHRASE and our
    node u1 with WRONG_PASSPHRASE, a third radio recording. Each side's
    Commit is answered, each side's Confirm fails at the other: done when
    our engine has counted a Confirm mismatch and wpa_supplicant has
    logged one. Nothing may peer."""
    (n0, u1, recorder), capture, timeline = recorded_pair(guest, "ampe-wrong-password.pcap")
    log = _start_wpa_mesh(guest, n0, SAE_PASSPHRASE)
    guest.call(f"{USERNODE}:start", "u1", "mon0", radio_netns=u1.netns, passphrase=WRONG_PASSPHRASE,
               sae=True, basic_rates=WPA_SUPPLICANT_BASIC_RATES, seed=1)
    timeline.mark("n0 (wpa_supplicant, the mesh's password) and u1 (ours, another) started")
    wait_for(lambda: _user_state(guest, "u1")["counters"].get(str(SaeRefusal.CONFIRM_MISMATCH), 0) > 0,
             "u1 counts a Confirm mismatch", timeout=timeout, interval=0.3,
             describe=lambda _: repr(_user_state(guest, "u1")["counters"]))
    timeline.mark("u1 refused n0's Confirm")
    wait_for(lambda: _logged(n0, log, WPA_CONFIRM_MISMATCH), "wpa_supplicant logs a Confirm mismatch",
             timeout=timeout, interval=0.5)
    timeline.mark("n0 refused u1's Confirm")
    states = {"u1": guest.call(f"{USERNODE}:stop", "u1"), "n0": {"stations": n0.stations()}}
    timeline.mark("u1 stopped")
    path = capture.stop()
    timeline.mark("recorder stopped")
    wpa_log = guest.copy_out(log, guest.io_path(f"wpa-{n0.netns}.log")[0]).read_text(errors="replace")
    return Recording(path, (n0, u1, recorder), timeline, {}, states, wpa_logs={"n0": wpa_log})


def ampe_two_hop(guest: Guest, *, messages: int = 3, timeout: float = 90.0) -> Recording:
    """Linux forwarding between our nodes in a secure mesh: u0 - n1 - u2 in
    a chain shaped by hwsim groups (u0 and u2 never hear each other), n1 a
    wpa_supplicant mesh point (SAE, AMPE, PMF), u0 and u2 our nodes with
    the same passphrase, a fourth radio recording. Each of ours peers with
    n1 over SAE and AMPE; u0 sends `messages` FastPay envelopes to u2 as
    mesh data, so HWMP must find u2 through n1 (PREQ under u0's and then
    n1's MGTK, PREP under the MTKs) and n1 must forward each frame, opened
    with one link's MTK and sealed with the other's; u2 answers as many."""
    (u0, n1, u2, recorder), capture, timeline = recorded_user_chain(guest, "ampe-two-hop.pcap", (0, 2))
    users = (u0, u2)
    log = _start_wpa_mesh(guest, n1, SAE_PASSPHRASE)
    _wait_wpa_mesh_up(n1, log, timeout)
    for node in users:
        guest.call(f"{USERNODE}:start", f"u{node.index}", "mon0", radio_netns=node.netns,
                   passphrase=SAE_PASSPHRASE, sae=True, basic_rates=WPA_SUPPLICANT_BASIC_RATES,
                   seed=node.index)
    timeline.mark("n1 (wpa_supplicant) up, then u0 and u2 (ours) started, all with SAE")
    _wait_estab(guest, {"u0": [n1], "u2": [n1]}, timeout)
    for node in users:
        n1.wait_plink(node, timeout=timeout)
    timeline.mark("u0-n1 and n1-u2 ESTAB on both sides")
    delivered = {"u0->u2": _user_data_exchange(guest, u0, u2, messages, timeline, timeout),
                 "u2->u0": _user_data_exchange(guest, u2, u0, messages, timeline, timeout)}
    keys = CaptureKeys()
    for node in users:
        keys = keys.merged(loads(json.dumps(guest.call(f"{USERNODE}:capture_keys", f"u{node.index}"))))
    states = {f"u{n.index}": guest.call(f"{USERNODE}:stop", f"u{n.index}") for n in users}
    states["n1"] = {"stations": n1.stations(), "mpaths": n1.mpaths()}
    timeline.mark("u0 and u2 stopped")
    path = capture.stop()
    timeline.mark("recorder stopped")
    wpa_log = guest.copy_out(log, guest.io_path(f"wpa-{n1.netns}.log")[0]).read_text(errors="replace")
    return Recording(path, (u0, n1, u2, recorder), timeline, delivered, states, wpa_logs={"n1": wpa_log},
                     capture_keys=keys)


def _user_data_exchange(guest: Guest, src: Node, dst: Node, messages: int, timeline: Timeline,
                        timeout: float) -> int:
    """Our node `src` sends `messages` FastPay envelopes to our node `dst`
    as mesh data; how many `dst` delivered, once all of them are there."""
    sender, receiver = f"u{src.index}", f"u{dst.index}"
    bodies = [LLC_SNAP_FASTPAY + ENVELOPE + f" {sender} to {receiver} ".encode() + bytes([index])
              for index in range(messages)]
    timeline.mark(f"{sender} sends {messages} FastPay envelopes to {receiver} as mesh data")
    guest.call(f"{USERNODE}:send_data", sender, dst.mac_bytes, bodies)

    def arrived() -> list[dict[str, Any]] | None:
        delivered = [d for d in _user_state(guest, receiver)["deliveries"]
                     if d["source"] == src.mac_bytes and d["body"] in bodies]
        return delivered if len(delivered) == messages else None

    got = wait_for(arrived, f"{receiver} delivers the {messages} envelopes {sender} sent", timeout=timeout,
                   interval=0.3, describe=lambda _: repr(_user_state(guest, receiver)["counters"]))
    timeline.mark(f"{receiver} delivered {len(got)} of them")
    return len(got)


def _wait_wpa_mesh_up(node: Node, log: str, timeout: float) -> None:
    """Until wpa_supplicant has joined its mesh (and so beacons): under TCG
    with -dd that takes it tens of seconds."""
    wait_for(lambda: _logged(node, log, WPA_MESH_STARTED), f"wpa_supplicant on node {node.index} joins its mesh",
             timeout=timeout, interval=0.5)


def _logged(node: Node, log: str, line: str) -> bool:
    return node.run(["grep", "-q", "-F", line, log], check=False).returncode == 0


def _start_wpa_mesh(guest: Guest, node: Node, passphrase: str) -> str:
    """wpa_supplicant's secure mesh point on `node`, logging with -dd -K
    to the guest's tmpfs (see `kernel_sae`); returns the log's path."""
    host_conf, guest_conf = guest.io_path(f"wpa-{node.netns}.conf")
    host_conf.write_text(_WPA_MESH_CONF.format(mesh_id=DEFAULT_MESH_ID, freq=DEFAULT_FREQ,
                                               passphrase=passphrase))
    log = f"/tmp/wpa-{node.netns}.log"
    node.run(f"rm -f {log} && wpa_supplicant -B -D nl80211 -i {node.wlan} -c {guest_conf} -dd -K -t -f {log}")
    return log


def recorded_user_chain(guest: Guest, name: str, users: tuple[int, ...]
                        ) -> tuple[tuple[Node, Node, Node, Node], Capture, Timeline]:
    """`recorded_chain` with the chain positions in `users` made active
    monitors for our nodes, the engines loaded in the guest's interpreter
    before the recording starts."""
    n0, n1, n2, recorder = guest.reset_radios(4)
    chain = (n0, n1, n2)
    medium_chain(chain, listeners=[recorder])
    for position in users:
        chain[position].make_userspace("mon0")
    guest.call(f"{USERNODE}:stop", "none")
    capture = recorder.start_capture(name)
    timeline = Timeline()
    timeline.mark("recorder up")
    return (n0, n1, n2, recorder), capture, timeline


def recorded_chain(guest: Guest, name: str) -> tuple[tuple[Node, ...], Capture, Timeline]:
    """Three radios in a chain shaped by hwsim groups and a fourth that
    hears them all, recording into `name`."""
    n0, n1, n2, recorder = guest.reset_radios(4)
    medium_chain((n0, n1, n2), listeners=[recorder])
    capture = recorder.start_capture(name)
    timeline = Timeline()
    timeline.mark("recorder up")
    return (n0, n1, n2, recorder), capture, timeline


def _user_chain_estab(guest: Guest, chain: tuple[Node, Node, Node], timeline: Timeline, started: str,
                      timeout: float) -> None:
    """Start our node u2 at the end of a kernel n0 - n1 chain, mark `started`,
    and wait until both links are ESTAB (n1-u2 in both peer tables)."""
    n0, n1, u2 = chain
    guest.call(f"{USERNODE}:start", "u2", "mon0", radio_netns=u2.netns, seed=2)
    timeline.mark(started)
    n0.wait_plink(n1, timeout=timeout)
    n1.wait_plink(u2, timeout=timeout)
    _wait_estab(guest, {"u2": [n1]}, timeout)


def wait_chain_estab(chain: tuple[Node, Node, Node], timeout: float) -> None:
    n0, n1, n2 = chain
    for a, b in ((n0, n1), (n1, n0), (n1, n2), (n2, n1)):
        a.wait_plink(b, timeout=timeout)


def kernel_sae(guest: Guest, *, messages: int = 3, timeout: float = 30.0) -> Recording:
    """Linux's secure mesh: n0 - n1 - n2 in a chain shaped by hwsim groups,
    each a mesh point run by wpa_supplicant with SAE and AMPE, a fourth
    radio recording. Phases: beacons with RSN; SAE Commit and Confirm each
    way on both links; AMPE peering (encrypted elements behind a MIC); n0
    sends `messages` FastPay envelopes to n2 over the mesh interface (PREQ
    and PREP as protected action frames, CCMP data relayed by n1) and n2
    answers as many."""
    (n0, n1, n2, recorder), capture, timeline = recorded_chain(guest, "kernel-sae.pcap")
    logs: dict[str, str] = {}
    for node in (n0, n1, n2):
        host_conf, guest_conf = guest.io_path(f"wpa-{node.netns}.conf")
        host_conf.write_text(_WPA_MESH_CONF.format(mesh_id=DEFAULT_MESH_ID, freq=DEFAULT_FREQ,
                                                   passphrase=SAE_PASSPHRASE))
        # -d -K: the debug log with the keys it installs, so that the
        # capture can be decrypted (meshframes.seal.wpalog). It goes to the
        # guest's tmpfs: written over the 9p share, its thousands of lines
        # slowed wpa_supplicant enough under TCG to break the peering.
        logs[node.netns] = f"/tmp/wpa-{node.netns}.log"
        node.run(f"rm -f {logs[node.netns]} && wpa_supplicant -B -D nl80211 -i {node.wlan} -c {guest_conf}"
                 f" -d -K -t -f {logs[node.netns]}")
    timeline.mark("wpa_supplicant started on n0, n1, n2 (SAE)")
    wait_chain_estab((n0, n1, n2), timeout)
    timeline.mark("n0-n1 and n1-n2 ESTAB after SAE and AMPE")
    delivered = _exchange_both_ways(n0, n2, messages, timeline)
    states = {node.netns: {"stations": node.stations(), "mpaths": node.mpaths()} for node in (n0, n1, n2)}
    path = capture.stop()
    timeline.mark("recorder stopped")
    wpa_logs = {name: guest.copy_out(log, guest.io_path(f"wpa-{name}.log")[0]).read_text(errors="replace")
                for name, log in logs.items()}
    imported = CaptureKeys()
    for text in wpa_logs.values():
        imported = imported.merged(import_wpa_log(text))
    return Recording(path, (n0, n1, n2, recorder), timeline, delivered, states, wpa_logs=wpa_logs,
                     capture_keys=imported)


OUTSIDE_STATION = "02:00:00:00:ee:01"


def kernel_gate(guest: Guest, *, messages: int = 3, timeout: float = 30.0) -> Recording:
    """Linux announcing a mesh gate: n0 - n1 - u2 in a chain shaped by hwsim
    groups, n0 and n1 kernel mesh points, u2 our node, a fourth radio
    recording. n0 is a root sending RANNs (`mesh_hwmp_rootmode` 4) with
    `mesh_gate_announcements` on, so its RANNs carry the gate bit; n1
    forwards them; u2 must list n0 as a gate learned from a RANN two hops
    away, heard through n1. Then u2 sends `messages` data frames to
    OUTSIDE_STATION, which no mesh station answers for: once u2's
    discovery gives up they go to the gate n0 with A5/A6 (relayed by n1),
    and n0 hands them up to its interface and learns u2 as their proxy."""
    (n0, n1, u2, recorder), capture, timeline = recorded_user_chain(guest, "kernel-gate.pcap", (2,))
    n0.mesh_join(DEFAULT_MESH_ID, mesh_hwmp_rootmode=4, mesh_gate_announcements=1)
    n1.mesh_join(DEFAULT_MESH_ID)
    _user_chain_estab(guest, (n0, n1, u2), timeline,
                      "n0 (root, RANN, gate announcements) and n1 joined; u2 started (ours)", timeout)
    timeline.mark("n0-n1 and n1-u2 ESTAB")
    gates = wait_for(lambda: _user_state(guest, "u2")["gates"].get(n0.mac),
                     "u2 lists n0 as a mesh gate", timeout=timeout, interval=0.5,
                     describe=lambda _: repr(_user_state(guest, "u2")["gates"]))
    timeline.mark(f"u2 lists n0 as a gate ({gates['source']}, {gates['hop_count']} hops)")
    rx_packets = f"cat /sys/class/net/{n0.wlan}/statistics/rx_packets"
    before = int(n0.run(rx_packets).stdout)
    guest.call(f"{USERNODE}:send_data", "u2", bytes.fromhex(OUTSIDE_STATION.replace(":", "")),
               [LLC_SNAP_FASTPAY + b"for a station beyond the gate %d" % i for i in range(messages)])
    wait_for(lambda: any(kind == "path-failed" and detail == OUTSIDE_STATION
                         for _, kind, detail in _user_state(guest, "u2")["events"]),
             f"u2's discovery of {OUTSIDE_STATION} gives up", timeout=timeout, interval=0.5)
    timeline.mark(f"u2's discovery of {OUTSIDE_STATION} gave up; its frames went to the gate")
    handed_up = wait_for(lambda: (n := int(n0.run(rx_packets).stdout) - before) >= messages and n,
                         f"n0 hands {messages} frames up", timeout=timeout, interval=0.5)
    timeline.mark(f"n0's interface received {handed_up} frames")
    states = {"u2": guest.call(f"{USERNODE}:stop", "u2"),
              "n0": {"rx_packets": handed_up, "mpp": n0.run(f"iw dev {n0.wlan} mpp dump").stdout}}
    timeline.mark("u2 stopped")
    path = capture.stop()
    timeline.mark("recorder stopped")
    return Recording(path, (n0, n1, u2, recorder), timeline, {}, states)


OTHER_MESH_ID = "othermesh"
WRONG_PASSPHRASE = "not-the-mesh-passphrase"


def kernel_trouble(guest: Guest, *, messages: int = 3, timeout: float = 30.0) -> Recording:
    """Open kernel mesh points that hear each other but do not all peer,
    for `meshframes doctor`, every radio in range of every other and a
    sixth recording:

    - n0 - n1 peer and carry `messages` FastPay payloads each way;
    - n2 joins another Mesh ID (OTHER_MESH_ID): beacons, never an Open;
    - n3 is blocked by n0 and n1 (`plink_action block`) while it blocks
      nobody: its Opens to them go unanswered (Linux closes each attempt
      after dot11MeshMaxRetries); it peers with n4;
    - n4 peers with n0 and n3 (the n1 - n4 link blocked both ways),
      carries no data, then leaves the mesh (`iw mesh leave`: Close
      frames).

    Every node joins with auto-open off and opens only once the blocks
    are in place, so no unwanted link is ever established."""
    radios = guest.reset_radios(6)
    n0, n1, n2, n3, n4, recorder = radios
    capture = recorder.start_capture("kernel-trouble.pcap")
    timeline = Timeline()
    timeline.mark("recorder up")
    for node in (n0, n1, n3, n4):
        node.mesh_join(DEFAULT_MESH_ID, mesh_auto_open_plinks=0)
    n2.mesh_join(OTHER_MESH_ID)
    timeline.mark(f"n0, n1, n3, n4 joined {DEFAULT_MESH_ID!r} (auto-open off), n2 joined {OTHER_MESH_ID!r}")
    for near, far in ((n0, n3), (n1, n3), (n1, n4), (n4, n1)):
        near.wait_station(far, timeout=timeout)
        near.block(far)
    timeline.mark("n0 and n1 block n3; n1 and n4 block each other")
    for node in (n0, n1, n3, n4):
        node.set_mesh_param("mesh_auto_open_plinks", 1)
    for a, b in ((n0, n1), (n0, n4), (n3, n4)):
        a.wait_plink(b, timeout=timeout)
        b.wait_plink(a, timeout=timeout)
    timeline.mark("auto-open on; n0-n1, n0-n4 and n3-n4 ESTAB")
    delivered = _exchange_both_ways(n0, n1, messages, timeline)
    n4.run(f"iw dev {n4.wlan} mesh leave")
    timeline.mark("n4 left the mesh")
    wait_for(lambda: n4.mac not in n0.stations() or n0.stations()[n4.mac].plink != "ESTAB",
             "n0 no longer holds n4 as an established peer", timeout=timeout, interval=0.3,
             describe=lambda _: repr(n0.stations()))
    timeline.mark("n0 closed its link to n4")
    states = {node.netns: {"stations": node.stations()} for node in (n0, n1, n3)}
    path = capture.stop()
    timeline.mark("recorder stopped")
    return Recording(path, tuple(radios), timeline, delivered, states)


def kernel_sae_mismatch(guest: Guest, *, timeout: float = 30.0, linger: float = 8.0) -> Recording:
    """Linux's secure mesh with one wrong password, for `meshframes doctor`:
    n0 and n1 run wpa_supplicant with SAE_PASSPHRASE and peer (SAE, then
    AMPE); n2, in range of both, has WRONG_PASSPHRASE: its SAE exchanges
    with them fail at the Confirm and no peering follows. A fourth radio
    records for `linger` seconds after n0-n1 is established."""
    radios = guest.reset_radios(4)
    n0, n1, n2, recorder = radios
    capture = recorder.start_capture("kernel-sae-mismatch.pcap")
    timeline = Timeline()
    timeline.mark("recorder up")
    for node, passphrase in ((n0, SAE_PASSPHRASE), (n1, SAE_PASSPHRASE), (n2, WRONG_PASSPHRASE)):
        host_conf, guest_conf = guest.io_path(f"wpa-{node.netns}.conf")
        host_conf.write_text(_WPA_MESH_CONF.format(mesh_id=DEFAULT_MESH_ID, freq=DEFAULT_FREQ,
                                                   passphrase=passphrase))
        node.run(f"wpa_supplicant -B -D nl80211 -i {node.wlan} -c {guest_conf}")
    timeline.mark("wpa_supplicant started: n0 and n1 with the mesh's password, n2 with another")
    n0.wait_plink(n1, timeout=timeout)
    n1.wait_plink(n0, timeout=timeout)
    timeline.mark("n0-n1 ESTAB")
    time.sleep(linger)
    states = {node.netns: {"stations": node.stations()} for node in (n0, n1, n2)}
    path = capture.stop()
    timeline.mark("recorder stopped")
    return Recording(path, tuple(radios), timeline, {}, states)


def kernel_root(guest: Guest, *, phase: float = 4.0, timeout: float = 30.0) -> Recording:
    """Linux's proactive HWMP: open kernel mesh points n0 - n1 - n2 in a
    chain shaped by hwsim groups, a fourth radio recording. n0 becomes a
    root in each of Linux's root modes in turn, `phase` seconds each: RANN
    with gate announcements (4; n2 answers with a unicast PREQ to the root,
    n0 with a PREP), proactive PREQ with PREP (3), proactive PREQ without
    PREP (2). During the RANN phase n2 sends a FastPay envelope to n0."""
    (n0, n1, n2, recorder), capture, timeline = recorded_chain(guest, "kernel-root.pcap")
    for node in (n0, n1, n2):
        node.mesh_join(DEFAULT_MESH_ID)
    wait_chain_estab((n0, n1, n2), timeout)
    timeline.mark("n0-n1 and n1-n2 ESTAB")
    n0.set_mesh_param("mesh_gate_announcements", 1)
    n0.set_mesh_param("mesh_hwmp_rann_interval", 1000)
    n0.set_mesh_param("mesh_hwmp_root_interval", 1000)
    n0.set_mesh_param("mesh_hwmp_rootmode", 4)
    timeline.mark("n0 root mode 4 (RANN, gate announcements)")
    time.sleep(phase)
    for node in (n0, n2):
        node.call(f"{PROBES}:meshif_open", node.wlan)
    envelope = ENVELOPE + b" to the root"
    n2.call(f"{PROBES}:meshif_send", n2.wlan, n0.mac_bytes, [envelope])
    got = n0.call(f"{PROBES}:meshif_collect", n0.wlan, [envelope], timeout=timeout)
    timeline.mark(f"n2 sent an envelope to n0, n0 received {len(got)}")
    n0.set_mesh_param("mesh_hwmp_rootmode", 3)
    timeline.mark("n0 root mode 3 (proactive PREQ with PREP)")
    time.sleep(phase)
    n0.set_mesh_param("mesh_hwmp_rootmode", 2)
    timeline.mark("n0 root mode 2 (proactive PREQ without PREP)")
    time.sleep(phase)
    states = {node.netns: {"mpaths": node.mpaths()} for node in (n0, n1, n2)}
    path = capture.stop()
    timeline.mark("recorder stopped")
    return Recording(path, (n0, n1, n2, recorder), timeline, {"n2->n0": len(got)}, states)


BRIDGED_HOSTS = {0: ("10.9.0.1", "0a:00:00:00:00:11"), 2: ("10.9.0.2", "0a:00:00:00:00:22")}


def kernel_bridge(guest: Guest, *, pings: int = 3, timeout: float = 30.0) -> Recording:
    """Linux mesh points bridging hosts that are not mesh stations: open
    kernel mesh points n0 - n1 - n2 in a chain shaped by hwsim groups, a
    fourth radio recording. n0 and n2 each bridge their mesh interface with
    a veth whose far end is a host (0a:00:00:00:00:11 behind n0,
    0a:00:00:00:00:22 behind n2); the first pings the second. The kernel
    carries their frames with Mesh Control address extension: A4 on the
    flooded ARP request, A5/A6 on the unicast frames, and learns proxy
    paths (mpp)."""
    (n0, n1, n2, recorder), capture, timeline = recorded_chain(guest, "kernel-bridge.pcap")
    for node in (n0, n1, n2):
        node.mesh_join(DEFAULT_MESH_ID)
    wait_chain_estab((n0, n1, n2), timeout)
    timeline.mark("n0-n1 and n1-n2 ESTAB")
    for node in (n0, n2):
        ip, mac = BRIDGED_HOSTS[node.index]
        node.run(f"ip link add br0 type bridge && ip link set {node.wlan} master br0 && "
                 "ip link add veth0 type veth peer name veth1 && ip link set veth0 master br0 && "
                 f"ip link set veth1 address {mac} && ip addr add {ip}/24 dev veth1 && "
                 "ip link set veth0 up && ip link set veth1 up && ip link set br0 up")
    timeline.mark("n0 and n2 bridge their mesh interface to a host each")
    result = n0.run(f"busybox ping -c {pings} -W 2 {BRIDGED_HOSTS[2][0]}", check=False)
    replies = result.stdout.count("bytes from")
    timeline.mark(f"the host behind n0 pinged the host behind n2: {replies} of {pings} replies")
    states = {node.netns: {"mpp": node.run(f"iw dev {node.wlan} mpp dump").stdout} for node in (n0, n2)}
    path = capture.stop()
    timeline.mark("recorder stopped")
    return Recording(path, (n0, n1, n2, recorder), timeline, {"pings": replies}, states)


NODE_BALANCE = 100


# hwsim groups of the payment layouts (bit 0: c0's link, bit 1: the relays'
# link, bit 2: the far side): radios a0..a3, c0, c1, r0 (or k0), r1 (or
# k1). c0 - r0 - r1 - {a0..a3, c1}; the recorder is in every group.
PAYMENT_GROUPS = (4, 4, 4, 4, 1, 4, 3, 6)
RECORDER_GROUPS = 7


@dataclass(frozen=True, slots=True)
class NodeLayout:
    """A payment layout, up: every `meshframes node` process ready and c0
    knowing the four authorities. `relays` are node processes (empty when
    kernel mesh points relay); `capture` is the recorder, when one was
    asked for."""

    radios: list[Node]
    files: CommitteeFiles
    authorities: list[NodeProcess]
    c0: NodeProcess
    c1: NodeProcess
    relays: list[NodeProcess]
    timeline: Timeline
    capture: Capture | None

    @property
    def everyone(self) -> list[NodeProcess]:
        return [*self.authorities, self.c0, self.c1, *self.relays]

    def node(self, name: str) -> NodeProcess:
        return next(n for n in self.everyone if n.name == name)


def node_layout(guest: Guest, *, timeout: float = 90.0, capture: str | None = None) -> NodeLayout:
    """Four authorities a0..a3 (f = 1), clients c0 and c1 (NODE_BALANCE
    each) and relays r0 and r1, each a `meshframes node` process on its own
    radio (active monitor, our peering, HWMP and forwarding); a ninth radio
    hears them all and records into `capture` when given. The medium is
    shaped by hwsim groups into c0 - r0 - r1 - {a0..a3, c1}: c0 reaches
    every authority and c1 over three hops. Returns once c0 has discovered
    the four authorities and holds a path to each (our authorities are
    HWMP roots)."""
    radios = guest.reset_radios(9)
    recorder = radios[8]
    for radio, groups in zip(radios[:8], PAYMENT_GROUPS, strict=True):
        radio.set_group(groups)
        radio.make_userspace("mon0")
    recorder.set_group(RECORDER_GROUPS)
    files = write_committee(guest, "node-committee", 4, [NODE_BALANCE, NODE_BALANCE])
    prepare(guest)
    authorities = [NodeProcess(f"a{i}", "authority", radios[i], files, files.key("authority", i))
                   for i in range(4)]
    c0 = NodeProcess("c0", "client", radios[4], files, files.key("account", 0))
    c1 = NodeProcess("c1", "client", radios[5], files, files.key("account", 1))
    relays = [NodeProcess(f"r{i}", "relay", radios[6 + i], files) for i in range(2)]
    recording = recorder.start_capture(capture) if capture is not None else None
    timeline = Timeline()
    timeline.mark("recorder up" if recording is not None else "radios up")
    layout = NodeLayout(radios, files, authorities, c0, c1, relays, timeline, recording)
    _start(layout, timeout, paths_known=True)
    return layout


def node_payment(guest: Guest, *, timeout: float = 90.0) -> Recording:
    """FastPay on real radios between the `meshframes node` processes of
    `node_layout`, a ninth radio recording.

    Phases (`_payments`): c0 pays c1 10 with all authorities up; a3 is
    killed (SIGKILL) and c0 pays 20; c0 restarts on its store (SIGTERM);
    a3 restarts on its store; a0 is killed and c0 pays 5, which needs a3's
    vote, so a3 is first brought the certificate it missed: by the
    recipient c1, which pushes what it was credited when it hears a3
    again (before that push, c0 did it with FastPay's lagging-authority
    help: an error, an info request and answer, the confirmation, as
    meshframes-node-payment.pcap shows); every live node is then stopped with SIGTERM. `states` holds what each node's control socket
    answered."""
    layout = node_layout(guest, timeout=timeout, capture="node-payment.pcap")
    return _recorded(layout, _payments(layout, timeout))


def node_payment_kernel(guest: Guest, *, timeout: float = 90.0) -> Recording:
    """The payments of `node_payment` on the mesh transport, through Linux:
    every radio is a kernel mesh point (open mesh "meshframes", shaped by
    the same hwsim groups into c0 - k0 - k1 - {a0..a3, c1}); our
    authorities and clients are `meshframes node --transport mesh`
    processes on their radio's mesh point, and k0 and k1 are plain kernel
    mesh points with no meshframes process: the kernel peers, finds the
    paths (HWMP) and forwards our FastPay payloads (ethertype 0x88B5 mesh
    data) over its two relays. A ninth radio records."""
    radios = guest.reset_radios(9)
    recorder = radios[8]
    for radio, groups in zip(radios[:8], PAYMENT_GROUPS, strict=True):
        radio.set_group(groups)
    recorder.set_group(RECORDER_GROUPS)
    files = write_committee(guest, "node-committee", 4, [NODE_BALANCE, NODE_BALANCE])
    prepare(guest)
    authorities = [NodeProcess(f"a{i}", "authority", radios[i], files, files.key("authority", i),
                               iface=radios[i].wlan, transport="mesh") for i in range(4)]
    c0 = NodeProcess("c0", "client", radios[4], files, files.key("account", 0), iface=radios[4].wlan,
                     transport="mesh")
    c1 = NodeProcess("c1", "client", radios[5], files, files.key("account", 1), iface=radios[5].wlan,
                     transport="mesh")
    k0, k1 = radios[6], radios[7]
    timeline = Timeline()
    layout = NodeLayout(radios, files, authorities, c0, c1, [], timeline,
                        recorder.start_capture("node-payment-kernel.pcap"))
    timeline.mark("recorder up")
    for radio in radios[:8]:
        radio.mesh_join(DEFAULT_MESH_ID)
    for a, b in ((radios[4], k0), (k0, k1), (k1, radios[0])):
        a.wait_plink(b, timeout=timeout)
        b.wait_plink(a, timeout=timeout)
    timeline.mark("all eight radios joined the kernel mesh; c0-k0, k0-k1, k1-a0 ESTAB")
    # The kernel finds its paths on demand: none is known before the first order.
    _start(layout, timeout, paths_known=False)
    states = _payments(layout, timeout)
    states["kernel"] = {name: {"mpaths": {d: p.hop_count for d, p in radio.mpaths().items()}}
                        for name, radio in (("k0", k0), ("k1", k1))}
    return _recorded(layout, states)


def _recorded(layout: NodeLayout, states: dict[str, dict[str, Any]]) -> Recording:
    assert layout.capture is not None
    path = layout.capture.stop()
    layout.timeline.mark("recorder stopped")
    return Recording(path, tuple(layout.radios), layout.timeline, {"payments": 3}, states)


def _start(layout: NodeLayout, timeout: float, *, paths_known: bool) -> None:
    """Start the node processes and wait until c0 knows the 4 authorities
    (and, if `paths_known`, has an active path to each)."""
    c0, authorities, everyone = layout.c0, layout.authorities, layout.everyone
    for node in everyone:
        node.spawn()
    for node in everyone:
        node.wait_ready()
    layout.timeline.mark(f"{', '.join(n.name for n in everyone)} up (meshframes node processes)")

    def c0_knows_every_authority() -> list[dict[str, Any]] | None:
        known = c0.ask("authorities")
        paths = {p["destination"]: p for p in c0.ask("paths") if p["active"]}
        reached = not paths_known or all(a.radio.mac in paths for a in authorities)
        return known if len(known) == 4 and reached else None

    what = "c0 discovered the 4 authorities" + (" and has a path to each" if paths_known else "")
    wait_for(c0_knows_every_authority, what, timeout=timeout, interval=1.0,
             describe=lambda _: repr((c0.ask("authorities"), c0.ask("paths"))))
    layout.timeline.mark(f"{what} (announcements)")


def _payments(layout: NodeLayout, timeout: float) -> dict[str, dict[str, Any]]:
    """The three payments of `node_payment` and a SIGTERM for every live
    node. What the control sockets answered, by phase."""
    authorities, c0, c1, everyone = layout.authorities, layout.c0, layout.c1, layout.everyone
    files, timeline = layout.files, layout.timeline
    states: dict[str, dict[str, Any]] = {
        "layout": {"paths": c0.ask("paths"), "peers": {n.name: n.ask("peers") for n in everyone},
                   "macs": {n.name: n.radio.mac for n in everyone},
                   "identities": {n.name: n.ask("status")["identity"] for n in everyone}},
    }
    recipient = files.accounts[1].public_key.hex()
    expected = [NODE_BALANCE, NODE_BALANCE]

    def pay(phase: str, amount: int, sequence_number: int, live: list[NodeProcess]) -> None:
        expected[0] -= amount
        expected[1] += amount
        timeline.mark(f"{phase}: c0 pays c1 {amount}")
        c0.ask("transfer", recipient=recipient, amount=amount)
        wait_event(c0, "TransferConfirmed", sequence_number, timeout)
        wait_event(c1, "CertificateReceived", sequence_number, timeout)
        balances = wait_balances(live, files.accounts, expected, timeout)
        timeline.mark(f"{phase}: confirmed at c0, credited at c1, executed at {', '.join(a.name for a in live)}")
        states[phase] = {"certified": node_event(c0, "TransferCertified", sequence_number),
                         "authorities": balances, "c0": c0.ask("balances"), "c1": c1.ask("balances"),
                         "c0-history": c0.ask("history"), "c0-paths": c0.ask("paths"),
                         "histories": {a.name: a.ask("history") for a in live}}

    pay("all-live", 10, 0, authorities)
    killed = authorities[3].kill()
    timeline.mark(f"a3 killed (SIGKILL, exit {killed.returncode})")
    pay("a3-killed", 20, 1, authorities[:3])
    # c0 restarts on its store: what it remembers of authorities left
    # behind (in memory, to catch them up) goes, so a3 is helped the way
    # FastPay helps a lagging authority: it refuses c0's next order, c0
    # asks for its account and hands it the certificate it missed.
    states["c0-restarted"] = {"stopped": c0.stop().returncode}
    c0.spawn()
    c0.wait_ready()
    states["c0-restarted"]["balances"] = c0.ask("balances", at="start")
    timeline.mark("c0 restarted on its store (SIGTERM, then started again)")
    authorities[3].spawn()
    authorities[3].wait_ready()
    # What a3's store gave back, not what it holds by now: c0's next order
    # or c1's announcement may already have caught it up.
    states["a3-restarted"] = {"balances": authorities[3].ask("balances", at="start"), "killed": killed.returncode}
    timeline.mark("a3 restarted on its store")
    killed = authorities[0].kill()
    timeline.mark(f"a0 killed (SIGKILL, exit {killed.returncode})")
    pay("a0-killed", 5, 2, authorities[1:])
    states["a0-killed"]["a3-history"] = authorities[3].ask("history")
    live = [n for n in everyone if n is not authorities[0]]
    states["stopped"] = {n.name: n.stop().returncode for n in live}
    states["stopped"]["files"] = c0.radio.guest.run(f"ls {NODE_DIR}").stdout.split()
    timeline.mark("every live node stopped (SIGTERM)")
    return states


def node_event(node: NodeProcess, name: str, sequence_number: int) -> dict[str, Any] | None:
    """The event `name` for `sequence_number` in the node's history, if there."""
    return next((row for row in node.ask("history") if row["event"] == name
                 and row.get("sequence_number") == sequence_number), None)


def wait_event(node: NodeProcess, name: str, sequence_number: int, timeout: float) -> dict[str, Any]:
    return wait_for(lambda: node_event(node, name, sequence_number),
                    f"{node.name} shows {name} for sequence number {sequence_number}", timeout=timeout,
                    interval=0.5, describe=lambda _: repr(node.ask("history")[-6:]))


def wait_balances(authorities: list[NodeProcess], accounts: list[Identity], expected: list[int],
                  timeout: float) -> dict[str, Any]:
    wanted = [account.public_key.hex() for account in accounts]

    def agreed() -> dict[str, Any] | None:
        seen = {a.name: a.ask("balances") for a in authorities}
        return seen if all([held[k]["balance"] for k in wanted] == expected for held in seen.values()) else None

    return wait_for(agreed, f"{', '.join(a.name for a in authorities)} hold balances {expected}",
                    timeout=timeout, interval=0.5,
                    describe=lambda _: repr({a.name: a.ask("balances") for a in authorities}))


SCENARIOS: dict[str, Callable[[Guest], Recording]] = {
    "kernel-bridge": kernel_bridge,
    "kernel-probe": kernel_probe,
    "kernel-root": kernel_root,
    "kernel-sae": kernel_sae,
    "sae-interop": sae_interop,
    "ampe-theirs-first": ampe_theirs_first,
    "ampe-ours-first": ampe_ours_first,
    "ampe-wrong-password": ampe_wrong_password,
    "ampe-two-hop": ampe_two_hop,
    "kernel-sae-mismatch": kernel_sae_mismatch,
    "kernel-trouble": kernel_trouble,
    "kernel-interop": kernel_interop,
    "userspace-chain": userspace_chain,
    "kernel-chain-perr": kernel_chain_perr,
    "kernel-gate": kernel_gate,
    "monitor-injection": monitor_injection,
    "node-payment": node_payment,
    "node-payment-kernel": node_payment_kernel,
}

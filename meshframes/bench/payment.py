"""The latency of a FastPay payment on real radios, beside the kernel's own
path discovery, all measured in one hwsim guest.

- Payments: the node payment scenarios (meshframes.hwsim.scenarios), on
  the monitor transport (our peering, HWMP and forwarder, three hops
  through our relays) and on the mesh transport (the kernel's mesh, three
  hops through two kernel relays). For each payment the payer's own
  history gives order -> certificate (a quorum of votes) -> confirmation
  (the first receipt), on the payer's monotonic clock; its phases differ
  (all authorities up; one killed; a restarted one caught up first).
- The baseline: Linux's 2-hop path discovery in the same guest. A chain of
  kernel mesh points n0 - n1 - n2 (hwsim groups), a fourth radio
  recording; each round n0 forgets its path and sends one FastPay payload
  to n2, and the recording gives the time from n0's PREQ on the air to
  the PREP that n1 forwards to n0 (kernel timestamps of one receiver).

Results are data; the table is the CLI's (`meshframes bench payment`).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshframes.codec import DecodeError, decode
from meshframes.codec.frames import MeshAction
from meshframes.codec.pathsel import Prep, Preq
from meshframes.hosts.pcap import mpdus

PROBES = "meshframes.hwsim.probes"
# The payload the discovery rounds send (a FastPay announce header and a body).
_PROBE = bytes([1, 8, 0]) + (0x0B0B).to_bytes(2, "little") + bytes([0, 1]) + b"meshframes-bench"


@dataclass(frozen=True, slots=True)
class PaymentLatency:
    transport: str
    phase: str
    sequence_number: int
    certified_s: float  # order sent -> certificate formed
    confirmed_s: float  # order sent -> first confirmation receipt


@dataclass(frozen=True, slots=True)
class DiscoveryLatency:
    """Linux's 2-hop discovery rounds: PREQ on the air -> PREP back at the asker."""

    rounds: int
    preq_to_prep_s: tuple[float, ...]

    @property
    def median_s(self) -> float | None:
        return statistics.median(self.preq_to_prep_s) if self.preq_to_prep_s else None


@dataclass(frozen=True, slots=True)
class PaymentBench:
    payments: tuple[PaymentLatency, ...]
    discovery: DiscoveryLatency
    boot_s: float


def payment_latencies(transport: str, history: list[dict[str, Any]],
                      phases: dict[int, str]) -> list[PaymentLatency]:
    """The payer's payments, from its control `history` rows
    (TransferStarted, TransferCertified, TransferConfirmed by sequence
    number); `phases` names each sequence number's phase."""
    times: dict[tuple[str, int], float] = {}
    for row in history:
        if row["event"] in ("TransferStarted", "TransferCertified", "TransferConfirmed"):
            times.setdefault((row["event"], row["sequence_number"]), row["time"])
    latencies = []
    for sequence_number, phase in sorted(phases.items()):
        started = times.get(("TransferStarted", sequence_number))
        certified = times.get(("TransferCertified", sequence_number))
        confirmed = times.get(("TransferConfirmed", sequence_number))
        if started is None or certified is None or confirmed is None:
            continue
        latencies.append(PaymentLatency(transport, phase, sequence_number, certified - started, confirmed - started))
    return latencies


def discovery_latencies(pcap: Path, asker: bytes, target: bytes, relay: bytes) -> list[float]:
    """For each PREQ `asker` originated for `target` (as `asker` sent it),
    the time until the PREP for it reached the air from `relay` to
    `asker`: Linux's 2-hop PREQ -> PREP."""
    found: list[float] = []
    pending: float | None = None
    for stamp, data, _ in mpdus(pcap):
        try:
            frame = decode(data)
        except DecodeError:
            continue
        if not isinstance(frame, MeshAction):
            continue
        for element in frame.elements:
            if (isinstance(element, Preq) and frame.header.addr2 == asker and element.originator_addr == asker
                    and any(t.addr == target for t in element.targets) and pending is None):
                pending = stamp
            elif (isinstance(element, Prep) and pending is not None and frame.header.addr2 == relay
                  and frame.header.addr1 == asker and element.target_addr == target):
                found.append(stamp - pending)
                pending = None
    return found


def measure_discovery(guest: Any, rounds: int = 5, timeout: float = 30.0) -> DiscoveryLatency:
    """`rounds` kernel discoveries n0 -> n2 over n1, recorded (see above)."""
    from meshframes.hwsim.scenarios import recorded_chain, wait_chain_estab

    (n0, n1, n2, _recorder), capture, _timeline = recorded_chain(guest, "bench-discovery.pcap")
    for node in (n0, n1, n2):
        node.mesh_join()
    wait_chain_estab((n0, n1, n2), timeout)
    n0.call(f"{PROBES}:meshif_open", n0.wlan)
    n2.call(f"{PROBES}:meshif_open", n2.wlan)
    for index in range(rounds):
        for node, far in ((n0, n2), (n2, n0), (n1, n0), (n1, n2)):
            node.run(f"iw dev {node.wlan} mpath del {far.mac}", check=False)
        payload = _PROBE + bytes([index])
        n0.call(f"{PROBES}:meshif_send", n0.wlan, n2.mac_bytes, [payload])
        n2.call(f"{PROBES}:meshif_collect", n2.wlan, [payload], timeout=timeout)
    pcap = capture.stop()
    return DiscoveryLatency(rounds, tuple(discovery_latencies(pcap, n0.mac_bytes, n2.mac_bytes, n1.mac_bytes)))


def run(guest: Any, *, rounds: int = 5, progress: Callable[[str], None] = lambda _: None) -> PaymentBench:
    """Both payment scenarios and the kernel's discovery, in `guest`."""
    from meshframes.hwsim.scenarios import node_payment, node_payment_kernel

    phases = {0: "all-live", 1: "a3-killed", 2: "a0-killed"}
    payments: list[PaymentLatency] = []
    for transport, scenario in (("monitor", node_payment), ("mesh", node_payment_kernel)):
        progress(f"payments on the {transport} transport")
        states = scenario(guest).states
        payments += payment_latencies(transport, states["a0-killed"]["c0-history"], phases)
    progress("the kernel's 2-hop discovery")
    discovery = measure_discovery(guest, rounds)
    return PaymentBench(tuple(payments), discovery, guest.boot_seconds)

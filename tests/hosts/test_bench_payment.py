"""What `meshframes bench payment` reads (meshframes.bench.payment), on
data and on a committed recording, without booting anything: payment
latencies from a payer's history, and Linux's 2-hop PREQ -> PREP from
the air of a kernel chain. No timing is asserted, only what is paired."""

from __future__ import annotations

from pathlib import Path

from meshframes.bench.payment import discovery_latencies, payment_latencies

PCAPS = Path(__file__).resolve().parents[2] / "pcaps"


def _mac(index: int) -> bytes:
    return bytes([2, 0, 0, 0, index, 0])


def test_payment_latency_pairs_each_payment_s_own_events() -> None:
    """Started, certified and confirmed are matched by sequence number; a
    payment without its confirmation is left out, and a repeated event
    counts from its first time."""
    history = [
        {"time": 10.0, "event": "TransferStarted", "sequence_number": 0},
        {"time": 10.5, "event": "TransferCertified", "sequence_number": 0},
        {"time": 10.7, "event": "TransferConfirmed", "sequence_number": 0},
        {"time": 11.0, "event": "TransferConfirmed", "sequence_number": 0},
        {"time": 20.0, "event": "TransferStarted", "sequence_number": 1},
        {"time": 21.0, "event": "TransferCertified", "sequence_number": 1},
        {"time": 21.0, "event": "Handled", "sequence_number": 1},
    ]
    [only] = payment_latencies("mesh", history, {0: "all-live", 1: "a3-killed"})
    assert (only.transport, only.phase, only.sequence_number) == ("mesh", "all-live", 0)
    assert (round(only.certified_s, 3), round(only.confirmed_s, 3)) == (0.5, 0.7)


def test_kernel_two_hop_discovery_is_found_on_the_air() -> None:
    """The kernel chain recording (n0 - n1 - n2) holds n0's discovery of
    n2: one PREQ from n0 answered by the PREP n1 forwards to n0, later."""
    found = discovery_latencies(PCAPS / "linux-kernel-chain-perr.pcap", _mac(0), _mac(2), _mac(1))
    assert len(found) == 1 and found[0] > 0

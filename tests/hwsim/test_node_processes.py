"""FastPay between `meshframes node` processes on real radios: four
authorities (f = 1), two clients and two relays, each a process on its own
hwsim radio, the medium shaped so that the payer c0 reaches every
authority and the recipient c1 over three hops (c0 - r0 - r1 - {a0..a3,
c1}). c0 pays c1 three times through its control socket: with every
authority up; with a3 killed (SIGKILL); and, a3 restarted on its store,
with a0 killed, so that the quorum needs a3, which is first brought up to
date (by the recipient c1's push). Everything asserted is read from the nodes' own control sockets,
and the recording is read back by our analyzer and by tshark."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from meshframes.analysis.verdict import MESSAGE_KINDS
from meshframes.codec.fastpay import MessageType
from meshframes.hosts import tshark
from meshframes.hwsim.scenarios import NODE_BALANCE, Recording, node_payment
from meshframes.layers.dissect import analyze

from . import FLOW_KINDS, balances_by_name, node_names, recorded

pytestmark = pytest.mark.hwsim
AUTHORITIES = ("a0", "a1", "a2", "a3")


run = recorded(node_payment)


@pytest.fixture(scope="module")
def states(run: tuple[Recording, Path]) -> dict[str, dict[str, Any]]:
    return run[0].states


def test_payer_reaches_every_authority_over_three_hops(states: dict[str, dict[str, Any]]) -> None:
    """c0's paths, as its control socket shows them: every authority three
    hops away through r0 before the first payment (authorities are HWMP
    roots), and c1 too once c0 has handed it the certificate."""
    layout = states["layout"]
    macs = layout["macs"]
    before = {p["destination"]: p for p in layout["paths"]}
    after = {p["destination"]: p for p in states["all-live"]["c0-paths"]}
    for name, paths in [*((a, before) for a in AUTHORITIES), ("c1", after)]:
        path = paths[macs[name]]
        assert path["hops"] >= 3 and path["next_hop"] == macs["r0"], (name, path)
    assert {row["mac"] for row in layout["peers"]["c0"] if row["state"] == "ESTAB"} == {macs["r0"]}


@pytest.mark.parametrize(("phase", "live", "paid"), [
    ("all-live", AUTHORITIES, 10), ("a3-killed", ("a0", "a1", "a2"), 30), ("a0-killed", ("a1", "a2", "a3"), 35),
])
def test_payment_certified_by_three_of_four_and_executed_everywhere_alive(
        states: dict[str, dict[str, Any]], phase: str, live: tuple[str, ...], paid: int) -> None:
    """The certificate carries the votes of 3 of the 4 authorities, all of
    them live ones; every live authority executed the confirmation and
    they all hold the same balances, which the payer and the recipient
    hold too; no money was made or lost."""
    names = node_names(states)
    result = states[phase]
    signers = {names[s] for s in result["certified"]["signers"]}
    assert len(signers) == 3 and signers <= set(live)
    assert result["certified"]["weight"] == 3
    expected = {"c0": NODE_BALANCE - paid, "c1": NODE_BALANCE + paid}
    for authority in live:
        assert balances_by_name(result["authorities"][authority], states) == expected, authority
    assert balances_by_name(result["c0"], states) == {"c0": expected["c0"]}
    assert balances_by_name(result["c1"], states) == {"c1": expected["c1"]}
    assert sum(expected.values()) == 2 * NODE_BALANCE


def test_killed_authority_restarts_with_what_it_had_executed(states: dict[str, dict[str, Any]]) -> None:
    """a3, killed after the first payment and restarted after the second,
    holds the first payment from its store: nothing it executed was lost."""
    restarted = states["a3-restarted"]
    assert restarted["killed"] == -9
    assert balances_by_name(restarted["balances"], states) == {"c0": NODE_BALANCE - 10, "c1": NODE_BALANCE + 10}


def test_restarted_authority_catches_up_and_votes(states: dict[str, dict[str, Any]]) -> None:
    """With a0 down the quorum needs a3: it executes the certificate it
    missed (handed over by c0), votes for the third payment and executes
    it; its balances then agree with a1's and a2's."""
    history = states["a0-killed"]["a3-history"]
    handled = [(row["outcome"], row["sequence_number"]) for row in history if row["event"] == "Handled"]
    assert ("confirmation", 1) in handled
    assert ("order", 2) in handled
    assert ("confirmation", 2) in handled
    assert handled.index(("confirmation", 1)) < handled.index(("order", 2))
    names = node_names(states)
    assert "a3" in {names[s] for s in states["a0-killed"]["certified"]["signers"]}


def test_nodes_stop_cleanly_on_sigterm(states: dict[str, dict[str, Any]]) -> None:
    """Every live node exits 0 on SIGTERM and removes its control socket;
    a0 (killed) leaves its socket behind, as a crash does."""
    stopped = dict(states["stopped"])
    files = stopped.pop("files")
    assert stopped == dict.fromkeys(("a1", "a2", "a3", "c0", "c1", "r0", "r1"), 0)
    assert [f for f in files if f.endswith(".sock")] == ["a0.sock"]


def test_recording_decodes_with_every_fastpay_kind(run: tuple[Recording, Path]) -> None:
    """Our analyzer decodes every frame of the air, FastPay messages of
    every kind the payments send among them; tshark reads the same frames,
    none malformed, and counts them by kind as we do."""
    pcap = run[1]
    result, _ = analyze(pcap)
    assert result.undecoded == [] and result.malformed == []
    kinds = Counter({kind: count for kind, count in result.by_kind.items() if kind.startswith("fastpay-")})
    assert FLOW_KINDS <= set(kinds) <= {MESSAGE_KINDS[t] for t in MessageType}, kinds
    folded: Counter[str] = Counter()
    for kind, count in result.by_kind.items():
        folded["other" if kind.startswith("fastpay-") else kind] += count
    assert dict(folded) == tshark.counts_by_kind(pcap)
    assert tshark.malformed_frames(pcap) == []


def test_restarted_client_resumes_from_its_store(states: dict[str, dict[str, Any]]) -> None:
    """c0, stopped with SIGTERM after the second payment and started again,
    exits 0 and resumes with the balance its store kept."""
    restarted = states["c0-restarted"]
    assert restarted["stopped"] == 0
    assert balances_by_name(restarted["balances"], states) == {"c0": NODE_BALANCE - 30}

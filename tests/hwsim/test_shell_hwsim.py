"""`meshframes shell` against `meshframes node` processes on real radios:
the node-payment layout (four authorities, two clients, two relays, c0 -
r0 - r1 - {a0..a3, c1}), the shell run by the guest in script mode on the
nodes' control sockets. What it prints is checked against what each node
answers on its own control socket (its engines' state); a payment is made
from the shell; a killed authority leaves its neighbours' established
peers by beacon loss and c0's active paths, with the timeouts of
meshframes.mesh.constants.MeshConfig."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from meshframes.hwsim import Guest, wait_for
from meshframes.hwsim.agent import RunResult
from meshframes.hwsim.nodes import NodeProcess, shell
from meshframes.hwsim.scenarios import NODE_BALANCE, NodeLayout, node_layout, wait_balances, wait_event
from meshframes.mesh.constants import MeshConfig

pytestmark = pytest.mark.hwsim
CONFIG = MeshConfig()
# A peer unheard this long is lost (ours: ns-3's MaxBeaconLoss of 2 beacon
# intervals of 1000 TU); an authority's path, learned from its proactive
# PREQs (authorities are HWMP roots), lives this long without a refresh.
BEACON_LOSS = CONFIG.beacon_loss_limit * CONFIG.beacon_interval
ROOT_PATH_LIFETIME = CONFIG.dot11MeshHWMPactivePathToRootTimeout


@pytest.fixture(scope="module")
def layout(hwsim_guest: Guest) -> Iterator[NodeLayout]:
    layout = node_layout(hwsim_guest)
    yield layout
    hwsim_guest.stop_all()


def run_shell(layout: NodeLayout, commands: Sequence[str], *, live: Sequence[NodeProcess] | None = None) -> \
        list[tuple[str, Any]]:
    """The shell on every live node's socket in --json script mode:
    (command, its answer) per command, every command having succeeded."""
    result = shell(layout.c0.radio.guest, live or layout.everyone, commands)
    assert result.returncode == 0, _said(result)
    lines = result.stdout.splitlines()
    assert len(lines) == len(commands), _said(result)
    return [(command, json.loads(line)) for command, line in zip(commands, lines, strict=True)]


def _said(result: RunResult) -> str:
    return f"exit {result.returncode}\nstdout: {result.stdout[-3000:]}\nstderr: {result.stderr[-3000:]}"


def _answers(session: list[tuple[str, Any]], node: str) -> dict[str, Any]:
    """The answers given while `node` was selected, by command."""
    selected, answers = None, {}
    for command, answer in session:
        if command.startswith("use "):
            selected = answer["selected"]
        elif selected == node:
            answers[command] = answer
    return answers


def _established(peers: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {p["mac"]: (p["role"], p["identity"]) for p in peers if p["state"] == "ESTAB"}


def _active(paths: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {p["destination"]: (p["next_hop"], p["hops"]) for p in paths if p["active"]}


def _held(layout: NodeLayout, watched: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What each watched node's control socket answers, in the terms the
    test compares (established peers, active paths)."""
    held = {}
    for name in watched:
        node = layout.node(name)
        held[name] = {"peers": _established(node.ask("peers")), "paths": _active(node.ask("paths")),
                      "authorities": node.ask("authorities"), "balances": node.ask("balances")}
    return held


def _shell_while_still(layout: NodeLayout, watched: Sequence[str], attempts: int = 6) -> \
        tuple[list[tuple[str, Any]], dict[str, dict[str, Any]]]:
    """The shell's session over the watched nodes, and what their sockets
    held, from a run during which that did not change. The mesh is live
    (a reactive path is made when traffic first needs it, a route is
    refreshed by the next root PREQ), so the shell's answers are compared
    with a state the engines held before and after it, never with one read
    at a different moment."""
    commands = [line for name in watched
                for line in (f"use {name}", "status", "peers", "paths", "authorities", "balances")]
    for _ in range(attempts):
        before = _held(layout, watched)
        session = run_shell(layout, commands)
        if _held(layout, watched) == before:
            return session, before
        time.sleep(1.0)
    raise AssertionError(f"the watched nodes' state changed during each of {attempts} shell runs")


def test_shell_prints_what_the_engines_hold(layout: NodeLayout) -> None:
    """peers, paths, authorities and balances of a client, a relay and an
    authority, as the shell prints them, are what each node's control
    socket answers: established peers with the role and identity learned
    from announcements, active paths with next hop and hop count (every
    authority three hops from c0, through r0), the four authorities, and
    the genesis balances."""
    watched = ("c0", "r1", "a0")
    session, held = _shell_while_still(layout, watched)
    macs = {n.name: n.radio.mac for n in layout.everyone}
    for name in watched:
        shown, engines = _answers(session, name), held[name]
        assert shown["status"]["mac"] == macs[name]
        assert _established(shown["peers"]) == engines["peers"], name
        assert all(p["state"] == "ESTAB" for p in shown["peers"])
        assert _active(shown["paths"]) == engines["paths"], name
        assert all(p["active"] for p in shown["paths"])
        assert shown["authorities"] == engines["authorities"], name
        assert shown["balances"] == engines["balances"], name
    c0 = _answers(session, "c0")
    assert set(_established(c0["peers"])) == {macs["r0"]}
    for authority in layout.authorities:
        assert _active(c0["paths"])[authority.radio.mac][0] == macs["r0"]
        assert _active(c0["paths"])[authority.radio.mac][1] >= 3
    assert {a["mac"] for a in c0["authorities"]} == {a.radio.mac for a in layout.authorities}
    assert set(_established(_answers(session, "r1")["peers"])) == {
        macs[name] for name in ("r0", "a0", "a1", "a2", "a3", "c1")}
    account = layout.files.accounts[0].public_key.hex()
    assert c0["balances"] == {account: {"balance": NODE_BALANCE, "next_sequence_number": 0}}
    assert len(_answers(session, "a0")["balances"]) == 2


def test_shell_tables_name_each_node(layout: NodeLayout) -> None:
    """Without --json the shell draws tables: c0's one established peer is
    r0 by its MAC and its node name (the socket's), and each authority's
    path goes through r0, every MAC whole."""
    result = shell(layout.c0.radio.guest, layout.everyone, ["use c0", "peers", "paths"], as_json=False)
    assert result.returncode == 0, _said(result)
    rows = [line.split() for line in result.stdout.splitlines() if "│" in line]
    r0 = layout.relays[0].radio.mac
    assert [row for row in rows if row[1] == r0 and row[3] == "r0"], result.stdout
    for authority in layout.authorities:
        assert [row for row in rows if row[1:8:2] == [authority.radio.mac, authority.name, r0, "r0"]], \
            (authority.name, result.stdout)


def test_transfer_from_the_shell_is_certified_and_executed(layout: NodeLayout) -> None:
    """`transfer 1 7` at c0 (account 1 is c1's) sends the order; once c0
    holds the confirmation, every authority's and both clients' `balances`
    in the shell show the payment, as their control sockets do."""
    payer, payee = (a.public_key.hex() for a in layout.files.accounts[:2])
    before = layout.c0.ask("balances")[payer]
    session = run_shell(layout, ["use c0", "transfer 1 7"])
    assert session[1][1] == {"queued": True, "recipient": payee, "amount": 7}
    sequence_number = before["next_sequence_number"]
    wait_event(layout.c0, "TransferConfirmed", sequence_number, 90.0)
    wait_event(layout.c1, "CertificateReceived", sequence_number, 90.0)
    expected = [before["balance"] - 7, 2 * NODE_BALANCE - before["balance"] + 7]
    wait_balances(layout.authorities, layout.files.accounts[:2], expected, 90.0)
    names = [n.name for n in (*layout.authorities, layout.c0, layout.c1)]
    session = run_shell(layout, [line for name in names for line in (f"use {name}", "balances")])
    for name in names:
        shown = _answers(session, name)["balances"]
        assert shown == layout.node(name).ask("balances"), name
        held = {key: row["balance"] for key, row in shown.items()}
        mine = {"c0": {payer}, "c1": {payee}}.get(name, {payer, payee})
        assert held == {key: amount for key, amount in zip((payer, payee), expected, strict=True)
                        if key in mine}, name


def test_killed_node_leaves_peers_and_paths(layout: NodeLayout) -> None:
    """a3 is killed (SIGKILL: no Close, no PERR of its own). Its neighbours
    r1, a0 and c1 stop listing it as an established peer once it has been
    silent for the beacon-loss time (2 beacon intervals, 2.05 s), and c0
    drops its active path to it (r1's PERR on the lost link, or at the
    latest the root path's lifetime, 6.1 s). The shell, connected to the
    live nodes, shows it gone; `peers all` and `paths all` still hold the
    entries, no longer established or active."""
    a3, r1, a0, c1, c0 = (layout.node(n) for n in ("a3", "r1", "a0", "c1", "c0"))
    mac = a3.radio.mac
    assert mac in _established(r1.ask("peers")) and mac in _active(c0.ask("paths"))
    assert a3.kill().returncode == -signal.SIGKILL
    started = time.monotonic()

    def gone() -> bool:
        return (all(mac not in _established(n.ask("peers")) for n in (r1, a0, c1))
                and mac not in _active(c0.ask("paths")))

    wait_for(gone, f"a3 ({mac}) gone from the established peers of r1, a0, c1 and the active paths of c0",
             timeout=BEACON_LOSS + ROOT_PATH_LIFETIME + 10.0, interval=0.5,
             describe=lambda _: repr({"r1": r1.ask("peers"), "c0": c0.ask("paths")}))
    waited = time.monotonic() - started
    live = [n for n in layout.everyone if n is not a3]
    session = run_shell(layout, ["use r1", "peers", "peers all", "use a0", "peers",
                                 "use c0", "paths", "paths all"], live=live)
    r1_shown, a0_shown, c0_shown = (_answers(session, n) for n in ("r1", "a0", "c0"))
    assert mac not in {p["mac"] for p in r1_shown["peers"]}
    assert mac not in {p["mac"] for p in a0_shown["peers"]}
    assert mac not in {p["destination"] for p in c0_shown["paths"]}
    for row in r1_shown["peers all"]:
        if row["mac"] == mac:
            assert row["state"] != "ESTAB"
            # Silent at least the beacon-loss time: lost by that rule, not another.
            assert row["last_seen_s"] >= BEACON_LOSS, (row, waited)
    assert [p["active"] for p in c0_shown["paths all"] if p["destination"] == mac] in ([], [False])
    assert {p["mac"] for p in r1_shown["peers"]} == {
        n.radio.mac for n in (layout.relays[0], *layout.authorities[:3], c1)}

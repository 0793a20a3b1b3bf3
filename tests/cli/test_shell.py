"""`meshframes shell` in script mode, no terminal and no mocks: on the
demo's simulated mesh and over real control sockets, what it prints is
what the engines hold; a failed node leaves every peer table and path
table once Linux's timeouts have run out; bad input gets one line on
stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from meshframes.cli.shell import Shell, shell
from meshframes.codec.header import BROADCAST
from meshframes.codec.pathsel import RANN_FLAG_GATE, Rann
from meshframes.hosts.control import ControlServer, NodeControl
from meshframes.mesh.constants import MeshConfig
from meshframes.mesh.mbss import path_selection
from meshframes.mesh.node import MeshNode
from meshframes.mesh.peers import PlinkState
from meshframes.sim.demo import DemoSpec
from meshframes.sim.medium import MediumConfig
from meshframes.sim.scenario import FastPayMesh
from meshframes.sim.shell_session import SimTarget

# The demo's scenario, small and dense: 4 authorities, 2 clients, 2 relays
# walking in 60 x 60 m, nobody paying or failing on their own.
SPEC = DemoSpec(seed=21, authorities=4, clients=2, relays=2, area=(60.0, 60.0), duration=10.0,
                transfers_per_client=0, failing=0)
REPO = Path(__file__).resolve().parents[2]
SIM_ARGS = ["--sim", "--seed", "21", "--authorities", "4", "--clients", "2", "--relays", "2", "--area", "60x60"]


@pytest.fixture
def target(tmp_path: Path) -> Iterator[SimTarget]:
    sim = SimTarget(tmp_path, SPEC)
    yield sim
    sim.close()


def answers(target: SimTarget, capsys: pytest.CaptureFixture[str], *lines: str) -> list[Any]:
    """Run the lines as a script in --json mode: one answer per line, and
    none of them failed."""
    session = Shell(target, as_json=True)
    failed = session.run_script(lines)
    out, err = capsys.readouterr()
    assert failed == 0, err
    return [json.loads(line) for line in out.splitlines()]


def engine(target: SimTarget, name: str) -> MeshNode:
    return target.mesh.node(target.index(name)).node


def peers_held(node: MeshNode, established_only: bool) -> dict[str, dict[str, Any]]:
    return {p.addr.hex(":"): {"state": p.state.value, "metric": node.peers.metric(p.addr),
                              "signal_dbm": p.signal_dbm}
            for p in node.peers if not established_only or p.state is PlinkState.ESTAB}


def paths_held(node: MeshNode, now: float, active_only: bool) -> dict[str, dict[str, Any]]:
    return {p.dst.hex(":"): {"next_hop": p.next_hop.hex(":") if p.next_hop else None, "metric": p.metric,
                             "hops": p.hop_count, "sn": p.sn}
            for p in node.paths if not active_only or p.usable(now)}


def test_peers_paths_authorities_and_balances_are_the_engines(target: SimTarget,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """After 15 s, C0's peers and paths (established / active, and `all`)
    are its peer and path tables, its authorities the committee's, and the
    balances of C0 and A0 their stores' accounts."""
    _, peers, peers_all, paths, paths_all, authorities, balances, _, held = answers(
        target, capsys, "run 15", "peers", "peers all", "paths", "paths all", "authorities", "balances",
        "use A0", "balances")
    c0, now = engine(target, "C0"), target.now
    for rows, established in ((peers, True), (peers_all, False)):
        assert {r["mac"]: {k: r[k] for k in ("state", "metric", "signal_dbm")} for r in rows} == \
            peers_held(c0, established)
    assert any(r["role"] == "authority" for r in peers), "C0 peers with an authority in this field"
    for rows, active in ((paths, True), (paths_all, False)):
        assert {r["destination"]: {k: r[k] for k in ("next_hop", "metric", "hops", "sn")} for r in rows} == \
            paths_held(c0, now, active)
    committee = {a.public_key.hex() for a in target.mesh.authority_ids}
    assert {a["identity"] for a in authorities} == committee
    macs = {target.mesh.node(n).mac.hex(":") for n in target.mesh.authorities}
    assert {a["mac"] for a in authorities} == macs
    client = target.mesh.client(0).engine
    assert balances == {target.mesh.account_ids[0].public_key.hex(): {
        "balance": client.balance, "next_sequence_number": client.next_sequence_number}}
    assert held == {key.hex(): {"balance": s.balance, "next_sequence_number": s.next_sequence_number}
                    for key, s in target.mesh.authority(0).engine.accounts().items()}


def test_a_transfer_from_the_shell_reaches_every_store(target: SimTarget,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """C0 pays account 1 thirty; ten seconds later the balances the shell
    prints at C0, C1 and every authority are their stores' and agree."""
    payer, payee = (a.public_key.hex() for a in target.mesh.account_ids)
    lines = ["run 15", "transfer 1 30", "run 10", "balances", "history", "use C1", "balances"]
    for i in range(4):
        lines += [f"use A{i}", "balances"]
    lines += ["balances start"]
    out = answers(target, capsys, *lines)
    queued, c0, history, c1, a3_started = out[1], out[3], out[4], out[6], out[-1]
    assert queued == {"queued": True, "recipient": payee, "amount": 30}
    assert c0[payer]["balance"] == target.mesh.client(0).engine.balance == 1000 - 30
    assert c1[payee]["balance"] == target.mesh.client(1).engine.balance == 1000 + 30
    assert [e["event"] for e in history if e["event"].startswith("Transfer")] == [
        "TransferStarted", "TransferCertified", "TransferConfirmed"]
    # The shell started on a fresh store: A3 started with the genesis.
    assert {k: v["balance"] for k, v in a3_started.items()} == {payer: 1000, payee: 1000}
    for i, held in enumerate(out[8:-1:2]):
        accounts = target.mesh.authority(i).engine.accounts()
        assert held == {k.hex(): {"balance": s.balance, "next_sequence_number": s.next_sequence_number}
                        for k, s in accounts.items()}
        assert held[payer]["balance"] == 970 and held[payee]["balance"] == 1030


def test_a_failed_node_leaves_peers_and_paths_after_linux_timeouts(target: SimTarget,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A1 fails at 15 s. Its neighbours lose the link after beacon loss
    (2 beacon intervals, 2.048 s), which flushes the paths through it;
    paths to it run out on their own lifetime: the longest any station
    learns is dot11MeshHWMPactivePathToRootTimeout (6.144 s; A1 is an HWMP
    root), else dot11MeshHWMPactivePathTimeout (5 s). After the longest of
    these and a second, no node holds A1 as an established peer, an active
    path's destination or a next hop, as the shell shows and the engines
    agree."""
    cfg = MeshConfig()
    wait = max(cfg.beacon_loss_limit * cfg.beacon_interval, cfg.dot11MeshHWMPactivePathTimeout,
               cfg.dot11MeshHWMPactivePathToRootTimeout) + 1.0
    a1 = target.mesh.node(target.index("A1")).mac.hex(":")
    others = [n for n in target.names if n != "A1"]
    survey = [line for name in others for line in (f"use {name}", "peers", "paths")]
    before = answers(target, capsys, "run 15", *survey)[1:]
    assert sum(a1 in {p["mac"] for p in peers} for peers in before[1::3]) >= 2
    # Every station that heard A1's last root PREQ keeps a path to it (the
    # relays walked into their links after it, so they wait for the next).
    assert sum(a1 in {p["destination"] for p in paths} for paths in before[2::3]) >= 5
    after = answers(target, capsys, "fail A1", f"run {wait}", *survey)[2:]
    assert target.now == pytest.approx(15 + wait)
    for name, peers, paths in zip(others, after[1::3], after[2::3], strict=True):
        node = engine(target, name)
        assert {p["mac"] for p in peers} == set(peers_held(node, True))
        assert {p["destination"] for p in paths} == set(paths_held(node, target.now, True))
        assert a1 not in {p["mac"] for p in peers}, f"{name} still peers with the failed A1"
        assert a1 not in {p["destination"] for p in paths} | {p["next_hop"] for p in paths}, \
            f"{name} still has an active path to or through the failed A1"
    recovered = answers(target, capsys, "recover A1", "run 15", "use A1", "peers")[-1]
    assert recovered, "A1 peers again once its radio is back"


def test_move_and_nodes_report_positions(target: SimTarget, capsys: pytest.CaptureFixture[str]) -> None:
    """`move` puts a node where it is told, `nodes` reports it there, and
    the node is carried out of everyone's range: nobody peers with it."""
    out = answers(target, capsys, "run 10", "move R1 500 500", "run 5", "nodes", "topology")
    nodes, topology = out[3], out[4]
    r1 = next(n for n in nodes if n["name"] == "R1")
    assert r1["position"] == [500.0, 500.0] and r1["peers"] == 0
    assert all(r1["mac"] not in node["peers"] for node in topology)
    for node in nodes:
        assert node["mac"] == target.mesh.node(node["index"]).mac.hex(":")
        assert node["peers"] == target.mesh.node(node["index"]).node.peers.established_count


def test_topology_picture(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    picture = tmp_path / "mesh.png"
    result = CliRunner().invoke(shell, [*SIM_ARGS, "--script", "-"], input=f"run 12\ntopology\ntopology {picture}\n",
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert picture.read_bytes().startswith(b"\x89PNG")
    assert "C0 client 02:00:00:00:00:05" in result.stdout


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[FastPayMesh, dict[str, ControlServer]]]:
    """Four authorities and two clients on a line (each hears its
    neighbours only), after 12 s, with the real ControlServer on sockets
    for C0 and A0."""
    mesh = FastPayMesh(tmp_path / "stores", seed=3, authorities=4, balances=[100, 0],
                       medium=MediumConfig(radio_range=25.0))
    mesh.add_client((0.0, 0.0))
    for i in range(4):
        mesh.add_authority((20.0 * (i + 1), 0.0))
    mesh.add_client((100.0, 0.0))
    mesh.run(12.0)
    servers = {name: ControlServer(str(tmp_path / f"{name}.sock"),
                                   NodeControl(mesh.parties[node].host, mesh.parties[node].role))
               for name, node in (("c0", mesh.clients[0]), ("a0", mesh.authorities[0]))}
    yield mesh, servers
    for server in servers.values():
        server.close()


def shell_process(servers: dict[str, ControlServer], args: list[str], script: str) -> tuple[int, str, str]:
    """`meshframes shell` as its own process, fed `script` on stdin, while
    this one serves the control sockets (the engines and their SQLite
    stores stay in this thread, as in a node's loop)."""
    process = subprocess.Popen([sys.executable, "-c", "import sys; from meshframes.cli import main; sys.exit(main())",
                                "shell", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)}, text=True)
    assert process.stdin is not None
    process.stdin.write(script)
    process.stdin.close()
    process.stdin = None  # written and closed: communicate() only reads
    deadline = time.monotonic() + 60.0
    while process.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([s for server in servers.values() for s in server.sockets()], [], [], 0.05)
        if ready:
            for server in servers.values():
                server.poll()
    out, err = process.communicate(timeout=10.0)
    return process.returncode, out, err


def test_connect_asks_running_nodes_through_their_sockets(
        served: tuple[FastPayMesh, dict[str, ControlServer]]) -> None:
    """Over two control sockets: C0's peers, paths and authorities are its
    engines', a transfer by account number is queued at C0 and, once the
    mesh runs, recorded by the authorities; `use a0` asks A0."""
    mesh, servers = served
    script = "peers\npaths\nauthorities\nbalances\ntransfer 1 30\nuse a0\nbalances\ntopology\n"
    code, out, err = shell_process(servers, ["--connect", servers["c0"].path, "--connect", servers["a0"].path,
                                             "--json"], script)
    assert code == 0, err
    peers, paths, authorities, balances, queued, _, held, topology = map(json.loads, out.splitlines())
    c0 = mesh.node(mesh.clients[0]).node
    assert {p["mac"] for p in peers} == set(peers_held(c0, True))
    assert {p["destination"]: {k: p[k] for k in ("next_hop", "metric", "hops", "sn")} for p in paths} == \
        paths_held(c0, mesh.net.now, True)
    assert {a["identity"] for a in authorities} == {a.public_key.hex() for a in mesh.authority_ids}
    payer, payee = (a.public_key.hex() for a in mesh.account_ids)
    assert balances == {payer: {"balance": 100, "next_sequence_number": 0}}
    assert queued == {"queued": True, "recipient": payee, "amount": 30}
    assert held[payer]["balance"] == mesh.authority(0).engine.accounts()[bytes.fromhex(payer)].balance
    assert [n["name"] for n in topology] == ["c0", "a0"]
    assert topology[0]["peers"] == [mesh.node(mesh.authorities[0]).mac.hex(":")]
    mesh.run(mesh.net.now + 10.0)
    for i in range(4):
        assert mesh.authority(i).engine.accounts()[bytes.fromhex(payee)].balance == 30


def test_sim_commands_are_refused_over_sockets(served: tuple[FastPayMesh, dict[str, ControlServer]]) -> None:
    _, servers = served
    code, out, err = shell_process(servers, ["--connect", servers["c0"].path], "run 5\nstatus\n")
    assert code == 1
    assert err == "error: run acts on a simulated mesh only: start the shell with --sim\n"
    assert "02:00:00:00:00:01" in out, "the status after the refused command still ran"


@pytest.mark.parametrize("script, message", [
    ("fly\n", "error: unknown command 'fly'; `help` lists the commands"),
    ("run 12\ntransfer 1 5000\n", "error: transfer: transfer-refused: amount 5000 exceeds the balance 1000"),
    ("transfer 1 thirty\n", "error: AMOUNT must be a whole number, got 'thirty'"),
    ("transfer 7 1\n", "error: no account 7: the committee funds accounts 0..1"),
    ("use A1\ntransfer 1 1\n", "error: transfer: not-a-client: this node is a authority; only a client pays"),
    ("use Z9\n", "error: no node 'Z9': name one as A0, C0 or R0 (`nodes` lists them), or by its index 0..7"),
    ("run -3\n", "error: run takes seconds of virtual time, more than 0 and at most 3600; got -3"),
    ("move C0 here there\n", "error: X must be a number, got 'here'"),
    ("fail A1\nfail A1\n", "error: A1 has already failed"),
    ("help fly\n", "error: no command 'fly'; `help` lists the commands"),
    ('peers "\n', "error: cannot split the arguments: No closing quotation"),
])
def test_bad_input_is_one_line_and_a_failure(script: str, message: str) -> None:
    """Each bad command is one line on stderr; the commands after it still
    run; the exit status is 1."""
    result = CliRunner().invoke(shell, SIM_ARGS, input=script + "status\n", catch_exceptions=False)
    assert result.exit_code == 1
    assert result.stderr == message + "\n"
    assert "status of" in result.stdout


def test_a_good_script_exits_zero(tmp_path: Path) -> None:
    script = tmp_path / "pay.txt"
    script.write_text("# pay and look\nrun 12\n\ntransfer C1 5\nrun 5\nbalances\nquit\nfly\n")
    result = CliRunner().invoke(shell, [*SIM_ARGS, "--script", str(script)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "995" in result.stdout and "fly" not in result.stdout + result.stderr


@pytest.mark.parametrize("args, code, message", [
    (["--connect", "/nonexistent/node.sock"], 1,
     "error: no control socket at /nonexistent/node.sock: start the node with `meshframes node ... --control"
     " /nonexistent/node.sock` first"),
    ([], 2, "give --sim (a simulated mesh) or --connect SOCKET (running nodes), one of the two"),
    (["--connect", "x.sock", "--seed", "3"], 2, "--seed shapes a simulated mesh: it needs --sim"),
    (["--sim", "--area", "0x0"], 2, "'0x0', expected WIDTHxHEIGHT in metres, each side from 10 to 10000"),
    (["--sim", "--area", "wide"], 2, "'wide', expected WIDTHxHEIGHT in metres"),
    (["--sim", "--failing", "2"], 2, "FastPay tolerates at most f = 1 of 4 authorities"),
])
def test_bad_options_and_missing_sockets(args: list[str], code: int, message: str) -> None:
    result = CliRunner().invoke(shell, args, input="status\n", catch_exceptions=False)
    assert result.exit_code == code, result.output
    assert message in result.stderr and "Traceback" not in result.stderr
    # A usage error is click's usage line and hint, then the one line.
    assert len([line for line in result.stderr.splitlines() if line]) <= 3


def read_until(fd: int, text: str, timeout: float = 30.0) -> str:
    """What the terminal shows up to `text`; fails, saying what it saw,
    if `text` does not come in time."""
    seen, deadline = "", time.monotonic() + timeout
    while text not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"the shell did not print {text!r}; it printed {seen[-300:]!r}"
        seen += os.read(fd, 65536).decode(errors="replace")
    return seen


def test_on_a_terminal_the_prompt_completes_and_keeps_history(tmp_path: Path) -> None:
    """On a real terminal (a pty): Tab completes a command, a bad command
    is said and the prompt goes on, the history is written on quit, and
    leaving exits 0."""
    history = tmp_path / "history"
    pid, fd = pty.fork()
    if pid == 0:  # the child: the shell on the pty's terminal
        os.environ.update(PYTHONPATH=str(REPO), MESHFRAMES_SHELL_HISTORY=str(history))
        try:
            os.execv(sys.executable, [sys.executable, "-c",
                                      "import sys; from meshframes.cli import main; sys.exit(main())",
                                      "shell", *SIM_ARGS])
        finally:
            os._exit(127)  # never back into pytest in the child
    try:
        read_until(fd, "C0 0.0s> ")
        os.write(fd, b"ru\t 5\n")
        assert "time 5" in read_until(fd, "C0 5.0s> ")
        os.write(fd, b"fly\n")
        assert "unknown command 'fly'" in read_until(fd, "C0 5.0s> ")
        os.write(fd, b"quit\n")
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert history.read_text().split() == ["run", "5", "fly", "quit"]


def test_gates_are_the_engines(target: SimTarget, capsys: pytest.CaptureFixture[str]) -> None:
    """The simulated mesh announces no gate; once C0's HWMP hears a RANN
    with the gate bit from a peer, `gates` lists it as its gate table
    holds it."""
    (_, before) = answers(target, capsys, "run 5", "gates")
    assert before == []
    node = engine(target, "C0")
    now = target.now
    peer = next(p.addr for p in node.peers if p.state is PlinkState.ESTAB)
    gate = bytes.fromhex("02aa00000001")
    node.hwmp.on_frame(path_selection(BROADCAST, peer, Rann(RANN_FLAG_GATE, 0, 31, gate, 1, 5000, 0)), now)
    (after,) = answers(target, capsys, "gates")
    assert [(g["mac"], g["learned_from"], g["hops"], g["heard_from"]) for g in after] == [
        (gate.hex(":"), "rann", 1, peer.hex(":"))]

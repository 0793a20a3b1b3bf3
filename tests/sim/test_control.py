"""The control answers of a node (meshframes.hosts.control) read the
engines' own state, on a simulated FastPay mesh and over a real unix
socket; bad requests get one clear refusal."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from meshframes.hosts.control import MAX_REQUEST, ControlServer, NodeControl
from meshframes.mesh.peers import PlinkState
from meshframes.sim.medium import MediumConfig
from meshframes.sim.scenario import FastPayMesh

RANGE = MediumConfig(radio_range=25.0)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> FastPayMesh:
    """Four authorities and two clients on a line, 20 m apart (each hears
    its neighbours only), after 12 s: peered, paths to the roots, every
    announcement heard."""
    mesh = FastPayMesh(tmp_path_factory.mktemp("control"), seed=3, authorities=4, balances=[100, 0],
                       medium=RANGE)
    mesh.add_client((0.0, 0.0))
    for i in range(4):
        mesh.add_authority((20.0 * (i + 1), 0.0))
    mesh.add_client((100.0, 0.0))
    mesh.run(12.0)
    return mesh


def control_of(mesh: FastPayMesh, node: int) -> NodeControl:
    placed = mesh.parties[node]
    return NodeControl(placed.host, placed.role)


def test_peers_and_paths_are_the_engines_tables(mesh: FastPayMesh) -> None:
    """Each peer row is an entry of the node's peer table with its state,
    and each path row a path table entry with its next hop and metric."""
    node = mesh.clients[0]
    control = control_of(mesh, node)
    engine = mesh.node(node).node
    peers = control.answer({"command": "peers"})["result"]
    assert {p["mac"] for p in peers} == {p.addr.hex(":") for p in engine.peers}
    for row in peers:
        assert row["state"] == engine.peers.get(bytes.fromhex(row["mac"].replace(":", ""))).state.value
    neighbour = mesh.node(mesh.authorities[0]).mac.hex(":")
    assert any(p["mac"] == neighbour and p["state"] == PlinkState.ESTAB.value and p["role"] == "authority"
               for p in peers)
    paths = control.answer({"command": "paths"})["result"]
    assert {p["destination"] for p in paths} == {p.dst.hex(":") for p in engine.paths}
    far = mesh.node(mesh.authorities[3]).mac
    row = next(p for p in paths if p["destination"] == far.hex(":"))
    path = engine.paths.lookup(far)
    assert path is not None and row["hops"] == path.hop_count == 4 and row["metric"] == path.metric
    assert row["next_hop"] == neighbour


def test_authorities_status_and_a_transfer_through_the_control(mesh: FastPayMesh) -> None:
    """The client lists the four authorities it discovered; a transfer asked
    through the control runs to the end, and balances agree at the payer,
    at every authority and at the recipient."""
    payer, payee = control_of(mesh, mesh.clients[0]), control_of(mesh, mesh.clients[1])
    found = payer.answer({"command": "authorities"})["result"]
    assert sorted(a["identity"] for a in found) == sorted(i.public_key.hex() for i in mesh.authority_ids)
    status = payer.answer({"command": "status"})["result"]
    assert status["role"] == "client" and status["peers_established"] == 1
    recipient = mesh.account_ids[1].public_key.hex()
    authorities = [control_of(mesh, a) for a in mesh.authorities]
    mesh.node(mesh.clients[0]).host.on_event = payer.record
    assert payer.answer({"command": "transfer", "recipient": recipient, "amount": 30})["ok"]
    mesh.run(mesh.net.now + 10.0)
    events = [e["event"] for e in payer.answer({"command": "history"})["result"]]
    assert [e for e in events if e.startswith("Transfer")] == [
        "TransferStarted", "TransferCertified", "TransferConfirmed"]
    payer_key = mesh.account_ids[0].public_key.hex()
    assert payer.answer({"command": "balances"})["result"][payer_key]["balance"] == 70
    assert payee.answer({"command": "balances"})["result"][recipient]["balance"] == 30
    for authority in authorities:
        held = authority.answer({"command": "balances"})["result"]
        assert held[payer_key]["balance"] == 70 and held[recipient]["balance"] == 30
        started = authority.answer({"command": "balances", "at": "start"})["result"]
        assert {k: v["balance"] for k, v in started.items()} == {payer_key: 100, recipient: 0}


@pytest.mark.parametrize("request_, error", [
    ({"command": "fly"}, "unknown-command"),
    (["status"], "bad-argument"),
    ({"command": "transfer", "recipient": "00" * 31, "amount": 1}, "bad-argument"),
    ({"command": "transfer", "recipient": "zz" * 32, "amount": 1}, "bad-argument"),
    ({"command": "transfer", "recipient": "00" * 32, "amount": 0}, "bad-argument"),
    ({"command": "transfer", "recipient": "00" * 32, "amount": True}, "bad-argument"),
    ({"command": "transfer", "recipient": "00" * 32, "amount": 10**9}, "transfer-refused"),
    ({"command": "history", "last": -1}, "bad-argument"),
    ({"command": "balances", "at": "yesterday"}, "bad-argument"),
])
def test_bad_requests_are_refused_with_a_reason(mesh: FastPayMesh, request_: object, error: str) -> None:
    answer = control_of(mesh, mesh.clients[0]).answer(request_)
    assert answer["ok"] is False and answer["error"] == error and answer["detail"]


def test_only_a_client_pays(mesh: FastPayMesh) -> None:
    answer = control_of(mesh, mesh.authorities[0]).answer(
        {"command": "transfer", "recipient": "00" * 32, "amount": 1})
    assert answer == {"ok": False, "error": "not-a-client", "detail": "this node is a authority; only a client pays"}


def test_the_socket_answers_json_lines_and_bounds_requests(mesh: FastPayMesh, tmp_path: Path) -> None:
    """Two requests in one write get two answers in order; a line that is
    not JSON is refused; a request past the limit is refused and the
    connection closed."""
    server = ControlServer(str(tmp_path / "node.sock"), control_of(mesh, mesh.clients[0]))
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(server.path)
            client.sendall(b'{"command": "status"}\n{"command": "peers"}\nnot json\n')
            answers: list[dict[str, object]] = []
            buffer = b""
            client.settimeout(5.0)
            while len(answers) < 3:
                server.poll()
                try:
                    buffer += client.recv(65536)
                except TimeoutError:
                    break
                *lines, buffer = buffer.split(b"\n")
                answers += [json.loads(line) for line in lines]
            assert [a["ok"] for a in answers] == [True, True, False]
            assert answers[0]["result"]["role"] == "client" and answers[2]["error"] == "not-json"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as greedy:
            greedy.connect(server.path)
            greedy.sendall(b"x" * (MAX_REQUEST + 10))
            greedy.settimeout(5.0)
            got = b""
            while not got.endswith(b"\n"):
                server.poll()
                got += greedy.recv(65536)
            assert json.loads(got)["error"] == "request-too-large"
            assert greedy.recv(10) == b"", "the server hangs up after saying why"
    finally:
        server.close()
    assert not Path(server.path).exists()


def test_accounts_are_the_committee_in_order(mesh: FastPayMesh) -> None:
    """Every party lists the committee's funded accounts, numbered in
    committee order; a relay holds no committee."""
    expected = [{"number": j, "key": a.public_key.hex(), "genesis_balance": b}
                for j, (a, b) in enumerate(zip(mesh.account_ids, [100, 0], strict=True))]
    for node in (mesh.clients[0], mesh.authorities[2]):
        assert control_of(mesh, node).answer({"command": "accounts"}) == {"ok": True, "result": expected}

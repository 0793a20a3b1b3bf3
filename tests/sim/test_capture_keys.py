"""Our own nodes' keys decrypt their air: a secure FastPay mesh in the
simulator, each node's link keys asked through its control (`keys`, what
`meshframes keys export` asks a running node), and the air capture
analysed with them."""

from __future__ import annotations

import json
import select
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshframes.cli import cli
from meshframes.codec.mpdu import is_protected
from meshframes.hosts.control import ControlServer, NodeControl
from meshframes.hosts.pcap import mpdus
from meshframes.layers.dissect import analyze
from meshframes.mesh.constants import MeshConfig
from meshframes.seal.capture import CaptureOpener
from meshframes.seal.keyfile import CaptureKeys, loads
from meshframes.sim.medium import MediumConfig
from meshframes.sim.scenario import FastPayMesh


@pytest.fixture(scope="module")
def secure_mesh(tmp_path_factory: pytest.TempPathFactory) -> tuple[FastPayMesh, Path]:
    """A client, two authorities and a client on a line, 20 m apart, in a
    secure mesh, after a payment: peered with AMPE, everything protected."""
    workdir = tmp_path_factory.mktemp("secure")
    air = workdir / "air.pcap"
    mesh = FastPayMesh(workdir, seed=5, authorities=2, balances=[100, 0], medium=MediumConfig(radio_range=25.0),
                       mesh=MeshConfig(passphrase="meshframes capture keys"), pcap=air)
    mesh.add_client((0.0, 0.0))
    mesh.add_authority((20.0, 0.0))
    mesh.add_authority((40.0, 0.0))
    mesh.add_client((60.0, 0.0))
    mesh.run(10.0)
    mesh.transfer(0, 1, 25, at=mesh.net.now)
    mesh.run(mesh.net.now + 8.0)
    mesh.net.close()
    return mesh, air


def control(mesh: FastPayMesh, node: int) -> NodeControl:
    placed = mesh.parties[node]
    return NodeControl(placed.host, placed.role)


def test_the_exported_keys_decrypt_the_whole_air(secure_mesh: tuple[FastPayMesh, Path]) -> None:
    """Every node's exported keys together open every protected frame on
    the air, FastPay frames included, and leave nothing undecoded."""
    mesh, air = secure_mesh
    keys = CaptureKeys()
    for node in mesh.parties:
        answer = control(mesh, node).answer({"command": "keys"})
        assert answer["ok"], answer
        keys = keys.merged(loads(json.dumps(answer["result"])))
    assert len(keys.pairwise) == 3 and len(keys.group) == 4
    protected = sum(1 for _, frame, _ in mpdus(air) if is_protected(frame))
    opener = CaptureOpener(keys)
    result, _ = analyze(air, unseal=opener)
    assert protected > 50 and (opener.decrypted, dict(opener.undecryptable)) == (protected, {})
    assert (result.encrypted, result.undecoded, result.malformed) == (0, [], [])
    assert {"fastpay-order", "fastpay-vote", "fastpay-certificate"} <= set(result.by_kind)
    without, _ = analyze(air)
    assert without.encrypted == protected and "fastpay-order" not in without.by_kind


def test_an_open_mesh_node_has_no_keys_to_export(tmp_path: Path) -> None:
    mesh = FastPayMesh(tmp_path, seed=1, authorities=1, balances=[1])
    mesh.add_authority((0.0, 0.0))
    answer = control(mesh, mesh.authorities[0]).answer({"command": "keys"})
    assert (answer["ok"], answer["error"]) == (False, "no-link-keys")


def test_keys_export_cli_asks_a_running_node(secure_mesh: tuple[FastPayMesh, Path], tmp_path: Path) -> None:
    """`meshframes keys export SOCKET` writes the node's keys as a key file
    (mode 0600) and Wireshark's key table beside it."""
    mesh, _ = secure_mesh
    node = mesh.authorities[0]
    server = ControlServer(str(tmp_path / "a0.sock"), control(mesh, node))
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            select.select(server.sockets(), [], [], 0.05)
            server.poll()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        out, table = tmp_path / "keys.json", tmp_path / "80211_keys"
        result = CliRunner().invoke(cli, ["keys", "export", server.path, "-o", str(out), "--wireshark", str(table)],
                                    catch_exceptions=False)
    finally:
        done.set()
        thread.join()
        server.close()
    assert result.exit_code == 0, result.output
    expected = loads(json.dumps(control(mesh, node).answer({"command": "keys"})["result"]))
    assert loads(out.read_text()) == expected and len(expected.pairwise) == 2
    assert table.read_text().splitlines() == expected.wireshark_entries()
    assert out.stat().st_mode & 0o077 == 0
    missing = CliRunner().invoke(cli, ["keys", "export", str(tmp_path / "none.sock")], catch_exceptions=False)
    assert missing.exit_code == 1 and "no control socket" in missing.stderr

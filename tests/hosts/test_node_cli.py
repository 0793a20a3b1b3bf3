"""`meshframes node` refuses bad input with one clear line on stderr and a
non-zero status, never a traceback: no passphrase for its secure mesh and
no --open, a secure mesh on the kernel's transport, no such interface, an
interface that is not a monitor, a key outside the committee, a committee
file that does not parse, no permission for a raw socket, an unknown role.
The refusals after the first two are those of an open node (`--open`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from meshframes.cli import cli
from meshframes.fastpay.committee import generate_committee, write_committee_dir

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("committee")
    committee, authorities, accounts = generate_committee([1, 1, 1, 1], [100, 100])
    write_committee_dir(root, committee, authorities, accounts)
    return root


def node(*args: str, security: tuple[str, ...] = ("--open",)) -> Result:
    return CliRunner().invoke(cli, ["node", *security, *args], catch_exceptions=False)


def test_secure_by_default_so_a_passphrase_or_open_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither --passphrase, MESHFRAMES_PASSPHRASE nor --open: refused
    before any interface is opened, and the line says what to give."""
    monkeypatch.delenv("MESHFRAMES_PASSPHRASE", raising=False)
    result = node("--role", "relay", "--iface", "nosuch0", security=())
    assert result.exit_code == 1
    assert one_line(result) == ("error: a secure mesh needs its passphrase: give --passphrase (or"
                                " MESHFRAMES_PASSPHRASE), or --open to join an open mesh")


@pytest.mark.parametrize("security", [("--passphrase", "meshframes node test"), ()])
def test_with_a_passphrase_the_node_goes_on_to_its_radio(monkeypatch: pytest.MonkeyPatch,
                                                         security: tuple[str, ...]) -> None:
    """A passphrase from the option or the environment passes the check:
    the next refusal is the missing interface's."""
    monkeypatch.setenv("MESHFRAMES_PASSPHRASE", "meshframes node environment")
    result = node("--role", "relay", "--iface", "nosuch0", security=security)
    assert result.exit_code == 1
    assert one_line(result).startswith("error: no network interface named 'nosuch0'")


def test_open_and_a_passphrase_contradict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MESHFRAMES_PASSPHRASE", raising=False)
    result = node("--role", "relay", "--iface", "lo", security=("--open", "--passphrase", "meshframes node test"))
    assert result.exit_code == 2
    assert "--open and a passphrase" in result.stderr


def test_a_secure_kernel_mesh_is_refused_not_run_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """The mesh transport cannot key the kernel's mesh (wpa_supplicant
    does): without --open it is refused with why, even with a passphrase."""
    monkeypatch.delenv("MESHFRAMES_PASSPHRASE", raising=False)
    for security in ((), ("--passphrase", "meshframes node test")):
        result = node("--role", "client", "--iface", "lo", "--transport", "mesh", security=security)
        assert result.exit_code == 1
        line = one_line(result)
        assert "wpa_supplicant (mode=5, key_mgmt=SAE), which meshframes node does not run" in line
        assert "pass --open" in line


def one_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_missing_interface(keys: Path, tmp_path: Path) -> None:
    """A name no interface has."""
    result = node("--role", "authority", "--iface", "nosuch0", "--committee", str(keys / "committee.json"),
                  "--key", str(keys / "keys" / "authority-0.json"), "--store", str(tmp_path))
    assert result.exit_code == 1
    assert one_line(result).startswith("error: no network interface named 'nosuch0'")


def test_interface_that_is_not_a_monitor(keys: Path, tmp_path: Path) -> None:
    """Loopback is no radiotap monitor: the line says how to make one."""
    result = node("--role", "relay", "--iface", "lo")
    assert result.exit_code == 1
    line = one_line(result)
    assert line.startswith("error: lo has hardware type 772, expected 803")
    assert "type monitor" in line


@pytest.mark.parametrize(("role", "key", "expected"), [
    ("authority", "account-0.json", "is not an authority of committee"),
    ("client", "authority-1.json", "is not an account of committee"),
])
def test_key_not_in_the_committee(keys: Path, tmp_path: Path, role: str, key: str, expected: str) -> None:
    """An account key cannot run an authority, nor an authority key a client."""
    result = node("--role", role, "--iface", "lo", "--committee", str(keys / "committee.json"),
                  "--key", str(keys / "keys" / key), "--store", str(tmp_path))
    assert result.exit_code == 1
    assert expected in one_line(result)
    assert not list(tmp_path.iterdir()), "nothing is written for a node that does not start"


def test_key_of_another_committee(keys: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    committee, authorities, accounts = generate_committee([1], [5])
    write_committee_dir(other, committee, authorities, accounts)
    result = node("--role", "authority", "--iface", "lo", "--committee", str(keys / "committee.json"),
                  "--key", str(other / "keys" / "authority-0.json"))
    assert result.exit_code == 1
    assert "is not an authority of committee" in one_line(result)


@pytest.mark.parametrize("text", ['{"format": 1', '{"format": "meshframes-committee/0"}', "[]"])
def test_committee_file_that_does_not_parse(keys: Path, tmp_path: Path, text: str) -> None:
    broken = tmp_path / "committee.json"
    broken.write_text(text)
    result = node("--role", "client", "--iface", "lo", "--committee", str(broken),
                  "--key", str(keys / "keys" / "account-0.json"))
    assert result.exit_code == 1
    line = one_line(result)
    assert line.startswith(f"error: {broken}: ") and "meshframes keys generate" in line


def test_missing_key_file(keys: Path) -> None:
    result = node("--role", "client", "--iface", "lo", "--committee", str(keys / "committee.json"),
                  "--key", "/nonexistent/key.json")
    assert result.exit_code == 1
    assert "cannot read key file" in one_line(result)


def test_authority_without_committee_or_key() -> None:
    result = node("--role", "authority", "--iface", "lo")
    assert result.exit_code == 1
    assert "needs --committee and --key" in one_line(result)


def test_unknown_role() -> None:
    """click's usage error: exit status 2, and the last line names the choices."""
    result = node("--role", "boss", "--iface", "lo")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: Invalid value for '--role': 'boss' is not one of 'authority', 'client', 'relay'.")
    assert "Traceback" not in result.output


def test_no_permission_for_a_raw_socket(keys: Path) -> None:
    """Run as an unprivileged user (root drops to nobody for the test):
    opening the packet socket is refused, and the line says what to do."""
    with tempfile.TemporaryDirectory(prefix="meshframes-node-") as where:
        _run_unprivileged(keys, Path(where))


def _run_unprivileged(keys: Path, tmp_path: Path) -> None:
    # pytest's own temporary directories are private to root: nobody could
    # not even read the committee there.
    readable = tmp_path / "readable"
    readable.mkdir()
    for name in ("committee.json", "keys/authority-0.json"):
        shutil.copy(keys / name, readable / Path(name).name)
    for path in (tmp_path, readable, *readable.iterdir()):
        path.chmod(0o777 if path.is_dir() else 0o644)
    argv = [sys.executable, "-c", "import sys; from meshframes.cli import main; sys.exit(main())", "node",
            "--open", "--role", "authority", "--iface", "lo", "--committee", str(readable / "committee.json"),
            "--key", str(readable / "authority-0.json"), "--store", str(tmp_path / "store")]
    env = {"PYTHONPATH": str(REPO), "HOME": str(tmp_path), "PATH": os.environ.get("PATH", "")}
    root = os.geteuid() == 0
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False,
                            user=NOBODY if root else None, group=NOBODY if root else None,
                            extra_groups=[] if root else None)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: no permission to open a raw packet socket on lo; run as root or give the interpreter CAP_NET_RAW"]


def test_mesh_transport_on_an_interface_that_is_not_a_mesh_point(keys: Path, tmp_path: Path) -> None:
    """--transport mesh on loopback: the line says how to make a mesh point
    (or, with no `iw` installed, that the transport needs it)."""
    result = node("--role", "client", "--iface", "lo", "--transport", "mesh", "--committee",
                  str(keys / "committee.json"), "--key", str(keys / "keys" / "account-0.json"),
                  "--store", str(tmp_path))
    assert result.exit_code == 1
    line = one_line(result)
    assert ("not a mesh point interface" in line and "set type mp" in line) or "`iw` is not installed" in line, line


def test_mesh_transport_has_no_relay(keys: Path) -> None:
    """The kernel's mesh point forwards by itself: a relay process there
    would do nothing, and is refused."""
    result = node("--role", "relay", "--iface", "lo", "--transport", "mesh")
    assert result.exit_code == 1
    assert "nothing to do" in one_line(result)

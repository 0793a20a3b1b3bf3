"""`meshframes node` processes in the guest: one per hwsim radio, each in
its radio's network namespace, on an active monitor (Node.make_userspace)
or, on the mesh transport, on the radio's kernel mesh point
(Node.mesh_join), with its store and control socket under NODE_DIR. The host asks them
through their control sockets (meshframes.hosts.control_client, loaded in
the guest's root interpreter: unix sockets are reached by path, across
network namespaces).

Unlike the user nodes of meshframes.hwsim.usernode (threads of one
interpreter, driven by calls), these are the real command: started, killed
and restarted as processes, with the state they keep on disk."""

from __future__ import annotations

import itertools
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshframes.fastpay.committee import Committee, Identity, generate_committee, write_committee_dir
from meshframes.hwsim.agent import RunResult
from meshframes.hwsim.guest import Background, Guest
from meshframes.hwsim.radios import Node
from meshframes.hwsim.wait import scaled

NODE_DIR = "/tmp/meshframes-nodes"
CONTROL_CLIENT = "meshframes.hosts.control_client"
REPO = Path(__file__).resolve().parents[2]
MAIN = "import sys; from meshframes.cli import main; sys.exit(main())"
# A node prints this line once its radio, store and control socket are open.
READY = r"node [0-9a-f:]{17} up as"
# How long the control client waits for a node's answer on an idle machine.
ANSWER_TIMEOUT = 5.0
_scripts = itertools.count()


def cli_argv(*arguments: str) -> list[str]:
    """`meshframes ARGUMENTS...` as the guest runs it: the host's interpreter
    with this checkout first on the path (whichever one an editable
    install points at)."""
    return ["env", f"PYTHONPATH={REPO}", sys.executable, "-c", MAIN, *arguments]


class NodeRefused(AssertionError):
    """A node answered a control request with an error."""


@dataclass(frozen=True, slots=True)
class CommitteeFiles:
    """A committee written where the guest reads it (the writable share)."""

    committee: Committee
    authorities: list[Identity]
    accounts: list[Identity]
    guest_dir: str

    def key(self, role: str, index: int) -> str:
        return f"{self.guest_dir}/keys/{role}-{index}.json"

    @property
    def committee_file(self) -> str:
        return f"{self.guest_dir}/committee.json"


def write_committee(guest: Guest, name: str, authorities: int, balances: list[int]) -> CommitteeFiles:
    committee, authority_ids, account_ids = generate_committee([1] * authorities, balances)
    host_dir, guest_dir = guest.io_path(name)
    write_committee_dir(host_dir, committee, authority_ids, account_ids)
    return CommitteeFiles(committee, authority_ids, account_ids, guest_dir)


@dataclass
class NodeProcess:
    """One `meshframes node` on `radio`'s interface `iface` over
    `transport` (monitor or mesh); `key` is the guest path of its key file
    (None for a relay)."""

    name: str
    role: str
    radio: Node
    committee: CommitteeFiles
    key: str | None = None
    iface: str = "mon0"
    transport: str = "monitor"
    process: Background | None = field(default=None, repr=False)
    starts: int = 0
    # A secure mesh's passphrase (SAE, AMPE, CCMP per hop); None runs the
    # node with --open, as the recorded scenarios were.
    passphrase: str | None = field(default=None, repr=False)

    @property
    def control(self) -> str:
        return f"{NODE_DIR}/{self.name}.sock"

    @property
    def store(self) -> str:
        return f"{NODE_DIR}/{self.name}"

    def argv(self) -> list[str]:
        argv = cli_argv("node", "--role", self.role, "--iface", self.iface, "--transport", self.transport,
                        "--control", self.control)
        argv += ["--open"] if self.passphrase is None else ["--passphrase", self.passphrase]
        if self.key is not None:
            argv += ["--committee", self.committee.committee_file, "--key", self.key, "--store", self.store]
        return argv

    def spawn(self) -> None:
        """Start the process (again: the same store and socket)."""
        self.process = self.radio.spawn(self.argv())
        self.starts += 1

    def wait_ready(self, timeout: float = 180.0) -> None:
        assert self.process is not None
        self.process.expect(READY, timeout=timeout)

    def kill(self) -> RunResult:
        """SIGKILL: no clean shutdown, the store as the crash left it."""
        assert self.process is not None
        return self.process.stop(signal.SIGKILL)

    def stop(self) -> RunResult:
        assert self.process is not None
        return self.process.stop(signal.SIGTERM, timeout=30.0)

    def ask(self, command: str, **arguments: Any) -> Any:
        answer = self.radio.guest.call(f"{CONTROL_CLIENT}:ask", self.control, {"command": command, **arguments},
                                       timeout=scaled(2 * ANSWER_TIMEOUT), call_timeout=30.0)
        if not answer["ok"]:
            raise NodeRefused(f"{self.name} refused {command}: {answer['error']}: {answer['detail']}")
        return answer["result"]


def prepare(guest: Guest) -> None:
    """An empty NODE_DIR, and the control client loaded in the guest's
    root interpreter before anything is timed."""
    guest.run(f"rm -rf {NODE_DIR} && mkdir -p {NODE_DIR}")
    guest.python(f"import {CONTROL_CLIENT}")


def shell(guest: Guest, nodes: Sequence[NodeProcess], commands: Sequence[str], *,
          as_json: bool = True, timeout: float = 120.0) -> RunResult:
    """`meshframes shell --connect` to the nodes' control sockets, in
    script mode, run by the guest (in the root namespace: the sockets are
    reached by path). With `as_json` every command prints its answer as
    one JSON line."""
    host_path, guest_path = guest.io_path(f"shell-{next(_scripts)}.txt")
    host_path.write_text("".join(f"{line}\n" for line in commands))
    argv = cli_argv("shell", "--script", guest_path, "--timeout", f"{scaled(ANSWER_TIMEOUT):.1f}",
                    *(["--json"] if as_json else []), *(f"--connect={node.control}" for node in nodes))
    return guest.run(argv, timeout=timeout, check=False)

"""The guest side of the harness: PID 1 after switch_root, serving the host.

Requests arrive over a virtio-serial port as (id, op, arguments); each runs
in its own thread so a long wait (a sniffer, a Python call) never blocks a
quick command, and replies go back tagged with the request id. Only the
standard library is imported: this starts with `python -S`, before any
virtual environment is in play (0.2 s instead of 0.6 s measured under TCG).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, Queue
from typing import Any

from meshframes.hwsim.wait import Pace, pace, scaled, set_pace
from meshframes.hwsim.wire import ChannelClosed, read_message, write_message

AGENT_PORT = "meshframes.agent"
# Base times on an idle machine, scaled by the pace the host measured
# (meshframes.hwsim.wait): how long beyond its own timeout a worker call
# may take before the worker itself is given up on; how long a stopped
# process's output may take to drain; how long a process has to end on
# SIGTERM when everything is stopped.
WORKER_GRACE = 5.0
DRAIN = 2.0
STOP_ALL_GRACE = 5.0


class AgentError(Exception):
    """A request failed in a way the host should see as a clean message."""


@dataclass(frozen=True, slots=True)
class RunResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def netns_argv(argv: list[str], netns: str | None) -> list[str]:
    return ["ip", "netns", "exec", netns, *argv] if netns else list(argv)


@dataclass
class _Background:
    process: subprocess.Popen[bytes]
    argv: list[str]
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    changed: threading.Condition = field(default_factory=threading.Condition)
    pumps: list[threading.Thread] = field(default_factory=list)

    def start_pumps(self) -> None:
        for stream, into in ((self.process.stdout, self.stdout),
                             (self.process.stderr, self.stderr)):
            pump = threading.Thread(target=self._pump, args=(stream, into), daemon=True)
            pump.start()
            self.pumps.append(pump)

    def join_pumps(self) -> None:
        for pump in self.pumps:
            pump.join(scaled(DRAIN))

    def text(self) -> tuple[str, str]:
        with self.changed:
            return self.stdout.decode(errors="replace"), self.stderr.decode(errors="replace")

    def _pump(self, stream: io.BufferedReader, into: bytearray) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            with self.changed:
                into.extend(chunk)
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()


class _Worker:
    """A long-lived Python interpreter in one network namespace, so repeated
    calls pay the interpreter and import cost (seconds under TCG) once."""

    def __init__(self, netns: str | None) -> None:
        self.netns = netns
        self.lock = threading.Lock()
        # (ok, value) per reply; (None, None) once the worker is gone.
        self.replies: Queue[tuple[bool | None, Any]] = Queue()
        self.process = subprocess.Popen(
            netns_argv([sys.executable, "-m", "meshframes.hwsim.worker"], netns),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, env=_child_env(),
        )
        # Popen with stdin, stdout and stderr=PIPE always opens the three,
        # buffered (bufsize=-1): stderr is a BufferedReader, with read1.
        assert self.process.stdin and self.process.stdout
        assert isinstance(self.process.stderr, io.BufferedReader)
        self._stdin, self._stdout, self._stderr = self.process.stdin, self.process.stdout, self.process.stderr
        self.stderr = bytearray()
        threading.Thread(target=self._read_replies, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def request(self, message: tuple[Any, ...], timeout: float) -> Any:
        with self.lock:
            write_message(self._stdin, (pace(), message))
            try:
                ok, value = self.replies.get(timeout=timeout)
            except Empty:
                self.kill()
                raise AgentError(
                    f"python worker in netns {self.netns or '(root)'} did not answer within "
                    f"{timeout:.1f} s ({pace().describe()}) and was killed; its stderr: {self.stderr_tail()}"
                ) from None
        if ok is None:
            raise AgentError(
                f"python worker in netns {self.netns or '(root)'} died "
                f"(exit {self.process.poll()}); its stderr: {self.stderr_tail()}"
            )
        if not ok:
            raise AgentError(value)
        return value

    def kill(self) -> None:
        _kill_group(self.process)

    def stderr_tail(self) -> str:
        return self.stderr[-4000:].decode(errors="replace").strip() or "(empty)"

    def _read_replies(self) -> None:
        try:
            while True:
                self.replies.put(read_message(self._stdout))
        except (ChannelClosed, OSError):
            self.replies.put((None, None))

    def _read_stderr(self) -> None:
        for chunk in iter(lambda: self._stderr.read1(65536), b""):
            self.stderr.extend(chunk)


class Agent:
    def __init__(self, port: io.BufferedRWPair) -> None:
        self._port = port
        self._write_lock = threading.Lock()
        self._background: dict[int, _Background] = {}
        self._workers: dict[str | None, _Worker] = {}
        self._workers_lock = threading.Lock()
        # next() on a count is atomic under the GIL: concurrent spawns in
        # request threads never share a handle.
        self._handles = itertools.count(1)

    def serve(self) -> None:
        self._send(("hello", {"release": platform.release(), "python": sys.version}))
        while True:
            try:
                request_id, op, arguments = read_message(self._port)
            except ChannelClosed:
                return
            threading.Thread(
                target=self._handle, args=(request_id, op, arguments), daemon=True
            ).start()

    def _handle(self, request_id: int, op: str, arguments: dict[str, Any]) -> None:
        try:
            reply = (request_id, True, getattr(self, f"op_{op}")(**arguments))
        except AgentError as error:
            reply = (request_id, False, str(error))
        except Exception:
            reply = (request_id, False, traceback.format_exc())
        self._send(reply)

    def _send(self, message: Any) -> None:
        with self._write_lock:
            write_message(self._port, message)

    # -- operations the host may request ------------------------------------

    def op_run(self, argv: list[str], netns: str | None, timeout: float,
               input: bytes | None) -> RunResult:
        full = netns_argv(argv, netns)
        process = subprocess.Popen(
            full, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, env=_child_env(),
        )
        try:
            stdout, stderr = process.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            stdout, stderr = process.communicate()
            raise AgentError(
                f"{' '.join(full)!r} did not finish within {timeout:.1f} s and was killed "
                f"({pace().describe()}); "
                f"stdout: {stdout.decode(errors='replace')[-2000:]!r} "
                f"stderr: {stderr.decode(errors='replace')[-2000:]!r}"
            ) from None
        return RunResult(tuple(full), process.returncode,
                         stdout.decode(errors="replace"), stderr.decode(errors="replace"))

    def op_spawn(self, argv: list[str], netns: str | None) -> int:
        full = netns_argv(argv, netns)
        process = subprocess.Popen(
            full, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, env=_child_env(),
        )
        background = _Background(process, full)
        background.start_pumps()
        handle = next(self._handles)
        self._background[handle] = background
        return handle

    def op_expect(self, handle: int, pattern: str, timeout: float) -> str:
        """Wait until stdout or stderr of a background process matches."""
        background = self._background[handle]
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with background.changed:
            while True:
                for buffer in (background.stdout, background.stderr):
                    found = regex.search(buffer.decode(errors="replace"))
                    if found:
                        return found.group(0)
                remaining = deadline - time.monotonic()
                exited = background.process.poll()
                if remaining <= 0 or exited is not None:
                    stdout, stderr = (b.decode(errors="replace")[-2000:]
                                      for b in (background.stdout, background.stderr))
                    state = "still running" if exited is None else f"exited with {exited}"
                    raise AgentError(
                        f"{' '.join(background.argv)!r} ({state}) printed nothing matching "
                        f"{pattern!r} within {timeout:.1f} s ({pace().describe()}); stdout: {stdout!r} "
                        f"stderr: {stderr!r}"
                    )
                background.changed.wait(min(remaining, 0.5))

    def op_output(self, handle: int) -> tuple[int | None, str, str]:
        background = self._background[handle]
        return (background.process.poll(), *background.text())

    def op_stop(self, handle: int, signal_number: int, timeout: float) -> tuple[int, str, str]:
        background = self._background.pop(handle)
        if background.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(background.process.pid, signal_number)
            try:
                background.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _kill_group(background.process)
        background.join_pumps()
        return (background.process.returncode, *background.text())

    def op_stop_all(self) -> None:
        """End every background process and worker (before a radio reset:
        a process left in a namespace would keep its radio there)."""
        for handle in list(self._background):
            self.op_stop(handle, signal.SIGTERM, scaled(STOP_ALL_GRACE))
        with self._workers_lock:
            for worker in self._workers.values():
                worker.kill()
            self._workers.clear()

    def op_python(self, netns: str | None, message: tuple[Any, ...], timeout: float) -> Any:
        with self._workers_lock:
            worker = self._workers.get(netns)
            if worker is None or worker.process.poll() is not None:
                worker = self._workers[netns] = _Worker(netns)
        return worker.request(message, timeout + scaled(WORKER_GRACE))

    def op_pace(self, measured: Pace) -> None:
        """Take the pace the host measured: the agent's own budgets, and
        those of every worker call from now on, follow it."""
        set_pace(measured)

    def op_poweroff(self) -> None:
        self.op_stop_all()
        os.sync()
        threading.Thread(target=_poweroff, daemon=True).start()


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _child_env() -> dict[str, str]:
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
            "PYTHONDONTWRITEBYTECODE": "1"}


def _poweroff() -> None:
    # Give the reply to the host a moment to leave before the machine stops.
    time.sleep(0.2)
    Path("/proc/sysrq-trigger").write_text("o")


def _find_port(name: str) -> Path:
    for port in Path("/sys/class/virtio-ports").iterdir():
        if (port / "name").read_text().strip() == name:
            return Path("/dev") / port.name
    raise SystemExit(f"agent: no virtio-serial port named {name}")


def main() -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=False)
    raw = io.FileIO(_find_port(AGENT_PORT), "r+")
    try:
        Agent(io.BufferedRWPair(raw, raw)).serve()
    finally:
        # The host went away: nothing will ever talk to this guest again.
        _poweroff()

"""One qemu guest running Debian's kernel, driven from the host.

The guest boots into the host's own root file system (shared read-only over
9p), so it runs this checkout's code with this checkout's interpreter, and a
small agent (meshframes/hwsim/agent.py) answers over virtio-serial. A second,
writable 9p share is the guest's way to hand files back. Boot once per test
session (~5-10 s under TCG) and reset the radios between tests instead.

Every budget here is a base time on an idle machine, scaled by the pace
measured at boot and at each radio reset (meshframes.hwsim.wait): a busy
host gets longer budgets, a hung guest is still reported in bounded time.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from queue import Empty, Queue
from typing import Any

from meshframes.hwsim import host, image
from meshframes.hwsim.agent import AGENT_PORT, RunResult
from meshframes.hwsim.radios import Node, reset
from meshframes.hwsim.wait import Pace, load_factor, pace, record, scaled
from meshframes.hwsim.wire import ByteChannel, ChannelClosed, read_message, write_message

# Measured on this machine (hwsim.md): KVM here is a PVM implementation that
# qemu cannot use, so TCG; tb-size 64 cuts qemu's memory from ~740 MB to
# ~400 MB at no cost in speed; `pc` boots reliably where `microvm` hung.
QEMU_MACHINE = ("-machine", "pc", "-cpu", "max", "-accel", "tcg,tb-size=64")
KERNEL_ARGS = "console=ttyS0 quiet panic=-1 oops=panic"
# Replies may lag their own timeout by this much (scaled, like every budget).
REPLY_GRACE = 15.0
# Round trips of a trivial command timed for each measurement of the pace.
PACE_SAMPLES = 3


class GuestError(RuntimeError):
    """Something in the guest failed; the message carries the guest's side."""


class CommandFailed(GuestError):
    def __init__(self, result: RunResult) -> None:
        self.result = result
        super().__init__(
            f"{shlex.join(result.argv)} exited with {result.returncode}\n"
            f"stdout: {result.stdout.strip()[-3000:]}\nstderr: {result.stderr.strip()[-3000:]}"
        )


class Background:
    """A process running in the guest until stopped (a sniffer, a node)."""

    def __init__(self, guest: Guest, handle: int, argv: Sequence[str]) -> None:
        self._guest = guest
        self._handle = handle
        self.argv = tuple(argv)
        self._result: RunResult | None = None

    def expect(self, pattern: str, timeout: float = 30.0) -> str:
        """Wait until its output matches the regular expression `pattern`."""
        budget = scaled(timeout)
        return self._guest._request("expect", budget + scaled(REPLY_GRACE), handle=self._handle,
                                    pattern=pattern, timeout=budget)

    def output(self) -> tuple[int | None, str, str]:
        """(exit status or None while running, stdout so far, stderr so far)."""
        return self._guest._request("output", scaled(10.0), handle=self._handle)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10.0) -> RunResult:
        """Signal it (SIGKILL after `timeout`, scaled), wait, and return how
        it ended; stopping it again returns the same result."""
        if self._result is None:
            budget = scaled(timeout)
            returncode, stdout, stderr = self._guest._request(
                "stop", budget + scaled(REPLY_GRACE), handle=self._handle, signal_number=int(sig),
                timeout=budget)
            self._result = RunResult(self.argv, returncode, stdout, stderr)
        return self._result

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Guest:
    """A running guest. Build it with Guest.start(); stop() powers it off."""

    def __init__(self, process: subprocess.Popen[bytes], channel: socket.socket, stream: ByteChannel,
                 workdir: Path, boot: image.BootImage, hello: dict[str, str],
                 boot_seconds: float) -> None:
        self._process = process
        self._channel = channel
        self._stream = stream
        self._workdir = workdir
        self.boot_image = boot
        self.release = hello["release"]
        self.boot_seconds = boot_seconds
        self._pending: dict[int, Queue[tuple[bool, Any]]] = {}  # request id -> (ok, value)
        self._pending_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._next_id = 1
        self._dead: str | None = None
        threading.Thread(target=self._read_replies, daemon=True).start()

    # -- lifecycle ------------------------------------------------------------

    @classmethod
    def start(cls, *, cpus: int = 2, memory_mb: int = 512, cache_dir: Path | None = None,
              boot_timeout: float = 120.0) -> Guest:
        """Boot a guest. Raises host.HwsimUnavailable when something needed is
        missing (after installing Debian packages if we are root).

        `boot_timeout` is for an idle host; it is scaled by the host's load
        per core (the guest has not been measured yet). The boot time and a
        few command round trips then set the pace for every later budget."""
        host.ensure_packages()
        kernel = host.find_kernel()
        boot = image.build(kernel, cache_dir or image.default_cache_dir())
        workdir = Path(tempfile.mkdtemp(prefix="meshframes-hwsim-"))
        (workdir / "io").mkdir()
        sock_path, serial = workdir / "agent.sock", workdir / "serial.log"
        repo = Path(__file__).resolve().parents[2]
        if " " in f"{sys.executable}{repo}":
            raise host.HwsimUnavailable(
                f"the interpreter ({sys.executable}) and checkout ({repo}) go to the guest on "
                "the kernel command line, which cannot carry spaces; use paths without them")
        argv = [
            host.qemu_binary(), "-nodefaults", "-no-user-config", "-display", "none",
            "-no-reboot", *QEMU_MACHINE, "-smp", str(cpus), "-m", str(memory_mb),
            "-kernel", str(boot.vmlinux), "-initrd", str(boot.initramfs),
            "-append", f"{KERNEL_ARGS} mf.python={sys.executable} mf.repo={repo}",
            "-serial", f"file:{serial}",
            # multidevs=remap: the host's / spans several mounts, whose inode
            # numbers would otherwise collide inside one 9p export.
            "-fsdev", "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap",
            "-device", f"virtio-9p-pci,fsdev=root,mount_tag={image.ROOT_TAG}",
            "-fsdev", f"local,id=io,path={workdir / 'io'},security_model=none",
            "-device", f"virtio-9p-pci,fsdev=io,mount_tag={image.IO_TAG}",
            "-device", "virtio-serial-pci",
            "-chardev", f"socket,id=agent,path={sock_path},server=on,wait=off",
            "-device", f"virtserialport,chardev=agent,name={AGENT_PORT}",
        ]
        boot_budget = boot_timeout * load_factor()
        started = time.monotonic()
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        try:
            channel = _connect(process, sock_path, serial, started + boot_budget)
            channel.settimeout(max(1.0, started + boot_budget - time.monotonic()))
            stream = channel.makefile("rwb")
            try:
                kind, hello = read_message(stream)
            except (TimeoutError, ChannelClosed) as error:
                raise host.HwsimUnavailable(
                    f"the guest agent did not report ready within {boot_budget:.0f} s "
                    f"({boot_timeout:g} s x{boot_budget / boot_timeout:.1f} for a host load of "
                    f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, capped at x{pace().cap:g}) "
                    f"({error}); {_tail(serial, process)}"
                ) from None
            channel.settimeout(None)
        except BaseException:
            _terminate(process)
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        guest = cls(process, channel, stream, workdir, boot, hello, time.monotonic() - started)
        record(boot=guest.boot_seconds)
        try:
            guest.measure_pace()
        except BaseException:
            guest.stop()
            raise
        return guest

    def stop(self) -> None:
        """Power the guest off (killing qemu if it does not comply)."""
        if self._process.poll() is None and self._dead is None:
            with contextlib.suppress(GuestError):
                self._request("poweroff", scaled(10.0))
        try:
            self._process.wait(scaled(15.0))
        except subprocess.TimeoutExpired:
            _terminate(self._process)
        self._channel.close()
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> Guest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- pace -------------------------------------------------------------------

    def measure_pace(self) -> Pace:
        """Time a few round trips of a trivial command, record their median
        with the boot time (meshframes.hwsim.wait), and hand the new pace to
        the agent, whose own budgets and workers follow it from now on."""
        trips = []
        for _ in range(PACE_SAMPLES):
            started = time.monotonic()
            self.run(["true"])
            trips.append(time.monotonic() - started)
        measured = record(round_trip=statistics.median(trips))
        self._request("pace", scaled(10.0), measured=measured)
        return measured

    # -- running things -------------------------------------------------------

    def run(self, cmd: str | Sequence[str], *, netns: str | None = None,
            timeout: float = 30.0, check: bool = True, input: bytes | None = None) -> RunResult:
        """Run a command (a string goes through /bin/sh) and wait for it
        (`timeout` scaled)."""
        budget = scaled(timeout)
        result = self._request("run", budget + scaled(REPLY_GRACE), argv=_argv(cmd), netns=netns,
                               timeout=budget, input=input)
        if check and result.returncode != 0:
            raise CommandFailed(result)
        return result

    def spawn(self, cmd: str | Sequence[str], *, netns: str | None = None) -> Background:
        """Start a command in the background; stop it with .stop()."""
        argv = _argv(cmd)
        return Background(self, self._request("spawn", scaled(30.0), argv=argv, netns=netns), argv)

    def python(self, source: str, *, netns: str | None = None, timeout: float = 60.0,
               **inputs: Any) -> Any:
        """Run Python source in the namespace's persistent guest interpreter
        (its globals survive between calls until the next radio reset); the
        keyword arguments become variables, and the value of a final
        expression is returned. `timeout` is scaled; so are the budgets of
        the code it runs (meshframes.hwsim.wait.scaled, in the guest)."""
        budget = scaled(timeout)
        return self._request("python", budget + scaled(REPLY_GRACE), netns=netns,
                             message=("exec", source, inputs), timeout=budget)

    def call(self, target: str, *args: Any, netns: str | None = None,
             call_timeout: float = 120.0, **kwargs: Any) -> Any:
        """Call "package.module:function"(*args, **kwargs) in the namespace's
        guest interpreter. Every other keyword, `timeout` included, goes to
        the function; `call_timeout` (scaled) bounds the call itself. Code
        in the guest scales its own budgets with the same pace."""
        budget = scaled(call_timeout)
        return self._request("python", budget + scaled(REPLY_GRACE), netns=netns,
                             message=("call", target, args, kwargs), timeout=budget)

    def stop_all(self) -> None:
        """End every background process and guest interpreter."""
        self._request("stop_all", scaled(60.0))

    def reset_radios(self, radios: int) -> list[Node]:
        """End every guest process, reload mac80211_hwsim with `radios` radios
        and give each its own network namespace (see radios.reset)."""
        return reset(self, radios)

    # -- files ----------------------------------------------------------------

    def io_path(self, name: str) -> tuple[Path, str]:
        """A file name in the writable share: (host path, guest path)."""
        return self._workdir / "io" / name, f"{image.GUEST_IO_DIR}/{name}"

    def copy_out(self, guest_path: str, host_path: Path) -> Path:
        """Copy a file from anywhere in the guest to `host_path` on the host."""
        name = f"copy-{self._allocate_id()}"
        shared_host, shared_guest = self.io_path(name)
        self.run(["cp", guest_path, shared_guest])
        host_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(shared_host, host_path)
        return host_path

    # -- plumbing -------------------------------------------------------------

    def _allocate_id(self) -> int:
        with self._pending_lock:
            self._next_id += 1
            return self._next_id

    def _request(self, op: str, reply_timeout: float, /, **arguments: Any) -> Any:
        if self._dead is not None:
            raise GuestError(self._dead)
        request_id = self._allocate_id()
        replies: Queue[tuple[bool, Any]] = Queue()
        with self._pending_lock:
            self._pending[request_id] = replies
        try:
            with self._send_lock:
                write_message(self._stream, (request_id, op, arguments))
            try:
                ok, value = replies.get(timeout=reply_timeout)
            except Empty:
                raise GuestError(
                    f"the guest agent did not answer {op} within {reply_timeout:.0f} s "
                    f"({pace().describe()})"
                ) from None
        finally:
            with self._pending_lock:
                self._pending.pop(request_id, None)
        if not ok:
            raise GuestError(f"{op} failed in the guest: {value}")
        return value

    def _read_replies(self) -> None:
        try:
            while True:
                request_id, ok, value = read_message(self._stream)
                with self._pending_lock:
                    replies = self._pending.get(request_id)
                if replies is not None:
                    replies.put((ok, value))
        except Exception as error:  # noqa: BLE001 - any failure here ends the channel
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(5.0)
            self._dead = f"the guest is gone ({error}); {_tail(self._workdir / 'serial.log', self._process)}"
            with self._pending_lock:
                for replies in self._pending.values():
                    replies.put((False, self._dead))


def _argv(cmd: str | Sequence[str]) -> list[str]:
    return ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)


def _connect(process: subprocess.Popen[bytes], path: Path, serial: Path, deadline: float) -> socket.socket:
    # qemu creates the socket a moment after it starts; until then, poll.
    while True:
        if process.poll() is not None:
            raise host.HwsimUnavailable(f"qemu exited early; {_tail(serial, process)}")
        channel = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            channel.connect(str(path))
            return channel
        except (FileNotFoundError, ConnectionRefusedError):
            channel.close()
        if time.monotonic() > deadline:
            raise host.HwsimUnavailable(f"qemu never opened {path}; {_tail(serial, process)}")
        time.sleep(0.02)


def _tail(serial: Path, process: subprocess.Popen[bytes]) -> str:
    console = serial.read_text(errors="replace")[-3000:] if serial.exists() else ""
    qemu_says = ""
    if process.poll() is not None and process.stdout is not None:
        qemu_says = process.stdout.read().decode(errors="replace")[-2000:]
    return (f"qemu exit status {process.poll()}; qemu output: {qemu_says.strip() or '(none)'}; "
            f"guest console tail:\n{console.strip() or '(empty)'}")


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def _die_with_parent() -> None:
    # qemu must not outlive the test run that started it (it burns a core).
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.setsid()

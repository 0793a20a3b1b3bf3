"""The harness's own promises, in the guest: commands, persistent Python,
background processes, files out, and failures that say what went wrong."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from meshframes.hwsim import CommandFailed, Guest, GuestError
from meshframes.hwsim.wait import pace, scaled

pytestmark = pytest.mark.hwsim


def test_guest_runs_debians_kernel_with_the_hosts_files(hwsim_guest: Guest) -> None:
    """The guest runs the kernel it booted and sees this checkout read-only."""
    assert hwsim_guest.run("uname -r").stdout.strip() == hwsim_guest.boot_image.kernel.release
    this_file = Path(__file__).resolve()
    assert hwsim_guest.run(["cat", str(this_file)]).stdout == this_file.read_text()
    assert hwsim_guest.run(["touch", str(this_file)], check=False).returncode != 0


def test_failing_command_reports_status_and_output(hwsim_guest: Guest) -> None:
    with pytest.raises(CommandFailed) as failure:
        hwsim_guest.run("echo out; echo err >&2; exit 3")
    assert failure.value.result.returncode == 3
    assert "out" in str(failure.value) and "err" in str(failure.value)


def test_command_past_its_timeout_is_killed_and_named(hwsim_guest: Guest) -> None:
    """The timeout given, times the harness's scale for slow guests, kills
    the command, and the error names it and the time it had."""
    allowed = scaled(0.5)
    with pytest.raises(GuestError, match=rf"'sh -c sleep 30' did not finish within {allowed:.1f} s") as late:
        hwsim_guest.run("sleep 30", timeout=0.5)
    assert f"harness pace x{pace().factor:.1f}" in str(late.value)


def test_pace_is_measured_and_shared_with_the_guest(hwsim_guest: Guest) -> None:
    """The boot time and a command's round trip set the pace; the guest's
    interpreters scale their own budgets with the very same pace."""
    measured = pace()
    assert measured.boot == hwsim_guest.boot_seconds
    assert measured.round_trip is not None and measured.round_trip > 0
    assert 1.0 <= measured.factor <= measured.cap
    assert hwsim_guest.call("meshframes.hwsim.wait:pace") == measured
    assert hwsim_guest.call("meshframes.hwsim.wait:scaled", 10.0) == scaled(10.0)


def test_python_keeps_state_between_calls_per_namespace(hwsim_guest: Guest) -> None:
    """Each namespace has its own interpreter; globals survive between
    calls; the value of a final expression comes back."""
    hwsim_guest.run("ip netns add harness-a || true")
    try:
        hwsim_guest.python("counter = 40")
        assert hwsim_guest.python("counter += increment\ncounter", increment=2) == 42
        assert hwsim_guest.python("'counter' in globals()", netns="harness-a") is False
        assert hwsim_guest.call("os:getpid", netns="harness-a") != hwsim_guest.call("os:getpid")
    finally:
        hwsim_guest.stop_all()
        hwsim_guest.run("ip netns delete harness-a")


def test_python_error_carries_the_guest_traceback(hwsim_guest: Guest) -> None:
    with pytest.raises(GuestError, match=r"ZeroDivisionError"):
        hwsim_guest.python("1 / 0")


def test_background_process_is_awaited_and_stopped(hwsim_guest: Guest) -> None:
    with hwsim_guest.spawn("echo ready; exec sleep 60") as process:
        assert process.expect(r"ready", timeout=10.0) == "ready"
        assert process.output()[0] is None
        stopped = process.stop()
    assert stopped.returncode == -signal.SIGINT
    assert stopped.stdout == "ready\n"
    assert process.stop() is stopped
    with pytest.raises(GuestError, match=r"printed nothing matching 'never'"), \
            hwsim_guest.spawn("echo something else") as quiet:
        quiet.expect(r"never", timeout=1.0)


def test_file_is_copied_out_of_the_guest(hwsim_guest: Guest, tmp_path: Path) -> None:
    hwsim_guest.run("printf 'from the guest' > /tmp/harness.txt")
    copied = hwsim_guest.copy_out("/tmp/harness.txt", tmp_path / "harness.txt")
    assert copied.read_text() == "from the guest"

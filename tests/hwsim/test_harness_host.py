"""The harness's host side: what it boots, how it reads iw, and how it says
that something is missing. No guest is started here."""

from __future__ import annotations

import json
import subprocess

import pytest
from click.testing import CliRunner

from meshframes.cli.hwsim import hwsim
from meshframes.hwsim import HwsimUnavailable, host, image


def test_a_bzimage_without_a_kernel_inside_is_refused() -> None:
    with pytest.raises(HwsimUnavailable, match="no xz- or gzip-compressed ELF kernel"):
        image.extract_vmlinux(b"MZ" + b"\xfd7zXZ\x00" + b"not xz at all" * 10)


@pytest.mark.hwsim
def test_vmlinux_comes_out_of_debians_bzimage() -> None:
    kernel = host.find_kernel()
    vmlinux = image.extract_vmlinux(kernel.image.read_bytes())
    assert vmlinux[:4] == b"\x7fELF" and vmlinux[4] == 2  # ELF64, what PVH boot loads


@pytest.mark.hwsim
def test_initramfs_holds_busybox_init_and_modules_in_dependency_order() -> None:
    """`cpio` (GNU) reads our archive; the modules come dependencies first."""
    archive = image.build_initramfs(host.find_kernel())
    listing = subprocess.run(["cpio", "-t"], input=archive, capture_output=True,
                             check=True).stdout.decode().split()
    assert {"init", "bin/busybox", "dev/console"} <= set(listing)
    modules = [name.split("-", 1)[1] for name in listing if name.startswith("modules/")]
    assert modules.index("virtio.ko") < modules.index("virtio_pci.ko")
    assert modules.index("9pnet.ko") < modules.index("9pnet_virtio.ko") < modules.index("9p.ko")
    assert "virtio_console.ko" in modules


@pytest.mark.hwsim
def test_unknown_kernel_is_named_with_the_installed_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESHFRAMES_HWSIM_KERNEL", "0.0.0-none")
    with pytest.raises(HwsimUnavailable, match=r"MESHFRAMES_HWSIM_KERNEL=0\.0\.0-none.*installed:"):
        host.find_kernel()


@pytest.mark.hwsim
def test_cli_status_reports_a_ready_host() -> None:
    result = CliRunner().invoke(hwsim, ["status", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ready"] and report["missing_packages"] == []

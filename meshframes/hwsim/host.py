"""What the host must provide to boot a hwsim guest, and getting it.

Every capability is checked by the file it needs and reported by the Debian
package that provides it, so a missing piece reads as "install X", never as a
qemu or kernel error three layers down.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


class HwsimUnavailable(RuntimeError):
    """The hwsim tier cannot run here; the message says why and how to fix it."""


@dataclass(frozen=True, slots=True)
class Requirement:
    package: str
    # Any one of these paths satisfies the requirement (Debian moved some
    # binaries between /sbin and /usr/sbin over releases).
    paths: tuple[str, ...]
    why: str

    def present(self) -> bool:
        return any(Path(p).exists() for p in self.paths)


# The guest boots into the host's root file system, so the guest-side tools
# (iw, ip, modprobe, dumpcap) are the host's own binaries.
REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("qemu-system-x86", ("/usr/bin/qemu-system-x86_64",), "runs the guest"),
    Requirement("busybox-static", ("/bin/busybox", "/usr/bin/busybox"), "the initramfs shell"),
    Requirement("kmod", ("/usr/sbin/modprobe", "/sbin/modprobe"), "loads mac80211_hwsim"),
    Requirement("iw", ("/usr/sbin/iw", "/sbin/iw"), "configures the radios"),
    Requirement("iproute2", ("/usr/sbin/ip", "/sbin/ip", "/bin/ip"), "network namespaces"),
    Requirement(
        "wireless-regdb", ("/lib/firmware/regulatory.db",), "cfg80211's regulatory database"
    ),
    Requirement("tshark", ("/usr/bin/tshark",), "the frame-format oracle"),
    Requirement("wpasupplicant", ("/usr/sbin/wpa_supplicant", "/sbin/wpa_supplicant"),
                "Linux's own secure mesh (SAE, AMPE)"),
)
KERNEL_PACKAGE = "linux-image-amd64"


@dataclass(frozen=True, slots=True)
class Kernel:
    release: str
    image: Path  # the compressed bzImage
    modules: Path  # /lib/modules/RELEASE


def missing_packages() -> list[str]:
    missing = [r.package for r in REQUIREMENTS if not r.present()]
    if not _kernels():
        missing.append(KERNEL_PACKAGE)
    return missing


def ensure_packages() -> None:
    """Install what is missing when we are root; otherwise name it and stop."""
    missing = missing_packages()
    if not missing:
        return
    if os.geteuid() != 0:
        raise HwsimUnavailable(
            f"missing Debian packages: {', '.join(missing)}; "
            "run `tools/bootstrap setup` as root to install them"
        )
    print(f"hwsim: installing Debian packages: {' '.join(missing)}", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", INITRD="No")
    # Without this answer tshark's install stops at an interactive question.
    subprocess.run(
        ["debconf-set-selections"],
        input=b"wireshark-common wireshark-common/install-setuid boolean false\n",
        check=True,
    )
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
    ):
        done = subprocess.run(argv, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise HwsimUnavailable(
                f"`{' '.join(argv)}` failed ({done.returncode}): {done.stderr.strip()[-2000:]}"
            )
    still = missing_packages()
    if still:
        raise HwsimUnavailable(f"installed, yet still missing: {', '.join(still)}")


def find_kernel() -> Kernel:
    """The newest installed kernel whose modules include mac80211_hwsim, or
    the one named by MESHFRAMES_HWSIM_KERNEL (a release such as 6.1.0-56-amd64)."""
    wanted = os.environ.get("MESHFRAMES_HWSIM_KERNEL")
    kernels = _kernels()
    if wanted:
        for kernel in kernels:
            if kernel.release == wanted:
                return kernel
        raise HwsimUnavailable(
            f"MESHFRAMES_HWSIM_KERNEL={wanted}: no /boot/vmlinuz-{wanted} with a "
            f"mac80211_hwsim module; installed: {[k.release for k in kernels] or 'none'}"
        )
    if not kernels:
        raise HwsimUnavailable(
            "no kernel with mac80211_hwsim: need /boot/vmlinuz-RELEASE and "
            f"/lib/modules/RELEASE/.../mac80211_hwsim.ko (Debian package {KERNEL_PACKAGE})"
        )
    return kernels[-1]


def qemu_binary() -> str:
    path = shutil.which("qemu-system-x86_64")
    if path is None:
        raise HwsimUnavailable("qemu-system-x86_64 not found (Debian package qemu-system-x86)")
    return path


def _kernels() -> list[Kernel]:
    found = []
    for image in Path("/boot").glob("vmlinuz-*"):
        release = image.name.removeprefix("vmlinuz-")
        modules = Path("/lib/modules") / release
        if any(modules.glob("kernel/drivers/net/wireless/**/mac80211_hwsim.ko*")):
            found.append(Kernel(release, image, modules))
    return sorted(found, key=lambda k: _release_key(k.release))


def _release_key(release: str) -> list[int | str]:
    return [int(part) if part.isdigit() else part for part in re.split(r"[.-]", release)]

"""What the guest boots: an uncompressed kernel and a tiny initramfs, cached.

qemu's PVH direct boot takes an ELF vmlinux (measured here: ~4.7 s to a
finished command against 9-10 s for the bzImage through the BIOS), so we
extract it from Debian's bzImage the way the kernel's scripts/extract-vmlinux
does. The initramfs holds only static busybox and the virtio/9p modules needed
to mount the host's root over 9p and switch into it; everything else (Python,
iw, modprobe, the wireless modules) comes from the host through that share.
Both are rebuilt whenever the kernel image or this recipe changes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from meshframes.hwsim.host import HwsimUnavailable, Kernel

# In dependency order after `modprobe --show-depends`: the PCI transport,
# the agent's virtio-serial port and the 9p file system.
INITRAMFS_MODULES = ("virtio_pci", "virtio_console", "9pnet_virtio", "9p")
ROOT_TAG = "hostroot"
IO_TAG = "hostio"
GUEST_IO_DIR = "/run/meshframes-io"

# Runs as PID 1 in the initramfs. Kernel arguments mf.* carry the paths of
# the host's Python and of this checkout (identical inside the guest).
INIT_SCRIPT = f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() {{ echo "meshframes-init: $*" >/dev/console; echo o >/proc/sysrq-trigger; }}
for m in /modules/*.ko; do insmod "$m" || fail "insmod $m failed"; done
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        mf.python=*) PY="${{arg#mf.python=}}" ;;
        mf.repo=*) REPO="${{arg#mf.repo=}}" ;;
    esac
done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 {ROOT_TAG} /newroot \\
    || fail "cannot mount the host root share"
# The checkout and the shared test data beside it must stay visible even
# when they live under a directory the guest replaces with tmpfs (a CI
# clone in /tmp): hold them with bind mounts and put them back on top.
kept=0
for p in "$REPO" "$(dirname "$REPO")/shared"; do
    case "$p" in
        /tmp/*|/run/*|/var/tmp/*|/var/log/*)
            if [ -e "/newroot$p" ]; then
                mkdir -p /keep$kept && mount --bind "/newroot$p" /keep$kept || fail "cannot hold $p"
                echo "$p" > /keep$kept.path
                kept=$((kept + 1))
            fi ;;
    esac
done
for d in tmp run var/tmp var/log; do mount -t tmpfs tmpfs /newroot/$d; done
i=0
while [ $i -lt $kept ]; do
    p=$(cat /keep$i.path)
    mkdir -p "/newroot$p" && mount --move /keep$i "/newroot$p" || fail "cannot put $p back"
    i=$((i + 1))
done
mkdir -p /newroot{GUEST_IO_DIR}
mount -t 9p -o trans=virtio,version=9p2000.L,rw,msize=262144 {IO_TAG} /newroot{GUEST_IO_DIR} \\
    || fail "cannot mount the io share"
mount --move /dev /newroot/dev
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount -t debugfs debugfs /newroot/sys/kernel/debug
mkdir -p /newroot/dev/shm && mount -t tmpfs tmpfs /newroot/dev/shm
cd /newroot
exec switch_root /newroot /bin/sh -c \\
    "cd $REPO && exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root $PY -S -c 'from meshframes.hwsim.agent import main; main()'"
"""

# Bump when the recipe changes in a way the hash of INIT_SCRIPT does not see.
RECIPE_VERSION = "3"


@dataclass(frozen=True, slots=True)
class BootImage:
    kernel: Kernel
    vmlinux: Path
    initramfs: Path


def default_cache_dir() -> Path:
    """MESHFRAMES_HWSIM_CACHE, else inside the active virtual environment
    (so `make clean` drops it), else the user's cache directory."""
    explicit = os.environ.get("MESHFRAMES_HWSIM_CACHE")
    if explicit:
        return Path(explicit)
    if sys.prefix != sys.base_prefix:
        return Path(sys.prefix) / "var" / "cache" / "meshframes-hwsim"
    return Path.home() / ".cache" / "meshframes" / "hwsim"


def build(kernel: Kernel, cache_dir: Path) -> BootImage:
    """Return the cached boot image for this kernel, building it if needed."""
    image_stat = kernel.image.stat()
    key = hashlib.sha256(
        "\0".join(
            [kernel.release, str(image_stat.st_size), str(image_stat.st_mtime_ns),
             INIT_SCRIPT, RECIPE_VERSION, *INITRAMFS_MODULES]
        ).encode()
    ).hexdigest()[:16]
    target = cache_dir / f"{kernel.release}-{key}"
    vmlinux, initramfs = target / "vmlinux", target / "initramfs.cpio"
    if vmlinux.exists() and initramfs.exists():
        return BootImage(kernel, vmlinux, initramfs)
    target.mkdir(parents=True, exist_ok=True)
    partial = target / "vmlinux.partial"
    partial.write_bytes(extract_vmlinux(kernel.image.read_bytes()))
    partial.rename(vmlinux)
    partial = target / "initramfs.partial"
    partial.write_bytes(build_initramfs(kernel))
    partial.rename(initramfs)
    for stale in cache_dir.iterdir():
        if stale.is_dir() and stale != target and stale.name.startswith(kernel.release):
            shutil.rmtree(stale, ignore_errors=True)
    return BootImage(kernel, vmlinux, initramfs)


def extract_vmlinux(bzimage: bytes) -> bytes:
    """The ELF kernel inside a bzImage: try each compressed-stream magic until
    one decompresses to an ELF file (a magic can also occur by chance)."""
    magics = ((b"\xfd7zXZ\x00", _unxz), (b"\x1f\x8b\x08", _gunzip))
    for magic, decompress in magics:
        offset = bzimage.find(magic)
        while offset != -1:
            try:
                elf = decompress(bzimage[offset:])
            except (lzma.LZMAError, OSError, EOFError):
                elf = b""
            if elf.startswith(b"\x7fELF"):
                return elf
            offset = bzimage.find(magic, offset + 1)
    raise HwsimUnavailable(
        "no xz- or gzip-compressed ELF kernel found inside the bzImage "
        "(other kernel compressions are not supported by this harness)"
    )


def _unxz(data: bytes) -> bytes:
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)


def _gunzip(data: bytes) -> bytes:
    return gzip.GzipFile(fileobj=io.BytesIO(data)).read()


def module_paths(kernel: Kernel) -> list[Path]:
    """The .ko files to insmod, dependencies first, each once."""
    ordered: list[Path] = []
    for module in INITRAMFS_MODULES:
        done = subprocess.run(
            ["modprobe", "-S", kernel.release, "--show-depends", module],
            capture_output=True, text=True,
        )
        if done.returncode != 0:
            raise HwsimUnavailable(
                f"kernel {kernel.release} lacks module {module}: {done.stderr.strip()}"
            )
        for line in done.stdout.splitlines():
            words = line.split()
            if words[:1] == ["insmod"] and Path(words[1]) not in ordered:
                ordered.append(Path(words[1]))
    return ordered


def build_initramfs(kernel: Kernel) -> bytes:
    busybox = _static_busybox()
    archive = _Cpio()
    for directory in ("bin", "dev", "proc", "sys", "newroot", "modules"):
        archive.directory(directory)
    # The kernel opens /dev/console for init's stdio before devtmpfs exists.
    archive.device("dev/console", major=5, minor=1)
    archive.file("bin/busybox", busybox.read_bytes(), mode=0o755)
    archive.file("init", INIT_SCRIPT.encode(), mode=0o755)
    for index, path in enumerate(module_paths(kernel)):
        archive.file(f"modules/{index:02d}-{_module_name(path)}.ko", _module_bytes(path))
    return archive.finish()


def _static_busybox() -> Path:
    for candidate in (Path("/bin/busybox"), Path("/usr/bin/busybox")):
        if candidate.exists():
            # A dynamically linked busybox would need a libc in the initramfs.
            if b"/ld-linux" in candidate.read_bytes()[:4096]:
                raise HwsimUnavailable(
                    f"{candidate} is dynamically linked; install Debian package busybox-static"
                )
            return candidate
    raise HwsimUnavailable("busybox not found (Debian package busybox-static)")


def _module_name(path: Path) -> str:
    return path.name.split(".ko")[0]


def _module_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".ko.xz"):
        return lzma.decompress(data)
    if path.name.endswith(".ko.gz"):
        return gzip.decompress(data)
    if path.name.endswith(".ko"):
        return data
    raise HwsimUnavailable(f"cannot unpack module {path} (busybox insmod needs a plain .ko)")


class _Cpio:
    """A "newc" cpio archive, the format the kernel unpacks as initramfs."""

    def __init__(self) -> None:
        self._out = io.BytesIO()
        self._inode = 1

    def directory(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755, b"")

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | mode, data)

    def device(self, name: str, major: int, minor: int) -> None:
        self._entry(name, stat.S_IFCHR | 0o600, b"", rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0, b"")
        return self._out.getvalue()

    def _entry(self, name: str, mode: int, data: bytes, rdev: tuple[int, int] = (0, 0)) -> None:
        encoded = name.encode() + b"\0"
        fields = (self._inode, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1],
                  len(encoded), 0)
        self._inode += 1
        header = b"070701" + b"".join(b"%08x" % value for value in fields)
        self._out.write(header + encoded)
        self._pad()
        self._out.write(data)
        self._pad()

    def _pad(self) -> None:
        self._out.write(b"\0" * (-self._out.tell() % 4))

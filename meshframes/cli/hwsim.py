"""`meshframes hwsim`: real mac80211_hwsim radios in a qemu guest running
Debian's kernel (meshframes.hwsim), from the command line."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from meshframes.cli.console import err, error, out, success
from meshframes.cli.params import output_file
from meshframes.hwsim.scenarios import SCENARIOS

if TYPE_CHECKING:
    from meshframes.hwsim import Guest
    from meshframes.seal.keyfile import CaptureKeys


@click.group(short_help="Real hwsim radios under qemu: status, run, shell, record.")
def hwsim() -> None:
    """Boot Debian's kernel in qemu with mac80211_hwsim radios, each radio
    in its own network namespace (n0, n1, ...), and work with them."""


@hwsim.command(short_help="Check what the hwsim tier needs, without booting.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status(*, as_json: bool) -> None:
    """Report the Debian packages, the kernel and the boot-image cache."""
    from meshframes.hwsim import host, image

    missing = host.missing_packages()
    try:
        kernel = host.find_kernel()
        kernel_text = f"{kernel.release} ({kernel.image})"
    except host.HwsimUnavailable as problem:
        kernel, kernel_text = None, str(problem)
    report = {
        "missing_packages": missing,
        "kernel": kernel.release if kernel else None,
        "cache": str(image.default_cache_dir()),
        "ready": not missing and kernel is not None,
    }
    if as_json:
        click.echo(json.dumps(report))
    else:
        out.print(f"packages: {'all present' if not missing else 'missing ' + ', '.join(missing)}")
        out.print(f"kernel:   {kernel_text}")
        out.print(f"cache:    {report['cache']}")
    if not report["ready"]:
        error("the hwsim tier cannot start here; run `tools/bootstrap setup` as root")
        sys.exit(1)


@hwsim.command(short_help="Build (or reuse) the cached vmlinux and initramfs.")
def build() -> None:
    """Extract vmlinux from Debian's bzImage and build the initramfs."""
    from meshframes.hwsim import host, image

    with _abort_on_unavailable():
        host.ensure_packages()
        boot = image.build(host.find_kernel(), image.default_cache_dir())
    out.print(f"vmlinux:   {boot.vmlinux}")
    out.print(f"initramfs: {boot.initramfs}")


@hwsim.command(short_help="Boot, create radios and run one command in the guest.",
               context_settings={"ignore_unknown_options": True})
@click.option("-r", "--radios", default=2, show_default=True, help="hwsim radios to create.")
@click.option("-n", "--netns", default=None, help="Run inside this node's namespace (n0, n1, ...).")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds the command may take.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(*, radios: int, netns: str | None, timeout: float, command: tuple[str, ...]) -> None:
    """Run COMMAND in the guest and exit with its status, e.g.
    `meshframes hwsim run -n n0 -- iw dev`."""
    with _guest(radios) as guest:
        result = guest.run(list(command), netns=netns, timeout=timeout, check=False)
    out.file.write(result.stdout)
    err.file.write(result.stderr)
    sys.exit(result.returncode)


@hwsim.command(short_help="Boot, create radios and type commands into the guest.")
@click.option("-r", "--radios", default=2, show_default=True, help="hwsim radios to create.")
def shell(*, radios: int) -> None:
    """A line-by-line shell in the guest: each line runs through /bin/sh;
    start it with `@n1 ` to run it in node n1's namespace. End with EOF or
    `exit`; the guest powers off."""
    with _guest(radios) as guest:
        err.print("one command per line; '@n0 iw dev' runs in n0; 'exit' or EOF ends")
        for line in _lines():
            netns = None
            if line.startswith("@"):
                netns, _, line = line[1:].partition(" ")
            result = guest.run(line, netns=netns, timeout=300.0, check=False)
            out.file.write(result.stdout)
            err.file.write(result.stderr)
            if result.returncode:
                err.print(f"[exit {result.returncode}]")


@hwsim.command(short_help="Run a recorded scenario and save its capture.")
@click.argument("scenario", type=click.Choice(sorted(SCENARIOS)))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              callback=output_file(make_parents=True),
              help="Where to write the pcap (radiotap, link type 127).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def record(*, scenario: str, output: Path, as_json: bool) -> None:
    """Record SCENARIO with a dedicated monitor radio and print its timeline
    and tshark's count of each frame kind."""
    from meshframes.hwsim import tshark

    with _guest(None) as guest:
        with err.status(f"running {scenario}"):
            recording = SCENARIOS[scenario](guest)
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(recording.pcap, output)
    if recording.capture_keys is not None:
        _write_keys(recording.capture_keys, recording.wpa_logs, output)
    kinds = dict(sorted(tshark.kinds(output).items()))
    roles = {f"n{node.index}": node.mac for node in recording.nodes}
    if as_json:
        click.echo(json.dumps({"pcap": str(output), "nodes": roles, "kinds": kinds,
                              "timeline": recording.timeline.events,
                              "delivered": recording.delivered}))
        return
    out.print(f"{output}: {sum(kinds.values())} frames ({_kinds_text(kinds)})")
    out.print("nodes: " + ", ".join(f"{name} {mac}" for name, mac in roles.items()))
    out.print(f"timeline: {recording.timeline.render()}")


def _write_keys(keys: CaptureKeys, wpa_logs: dict[str, str], output: Path) -> None:
    """Beside the capture: its key file (OUT.keys.json), which `meshframes
    analyze OUT --keys OUT.keys.json` decrypts with, and the key lines of
    each node's wpa_supplicant log it came from (OUT.wpa-NODE.log)."""
    from meshframes.seal.wpalog import key_lines

    for name, text in sorted(wpa_logs.items()):
        output.with_suffix(f".wpa-{name}.log").write_text(key_lines(text))
    output.with_suffix(".keys.json").write_text(keys.dumps())
    success(f"keys: {output.with_suffix('.keys.json')} ({len(keys.pairwise)} pairwise, {len(keys.group)} group)")


def _kinds_text(kinds: dict[str, int]) -> str:
    return ", ".join(f"{count} {kind}" for kind, count in kinds.items())


def _lines() -> Iterator[str]:
    while True:
        try:
            line = input("hwsim> " if sys.stdin.isatty() else "").strip()
        except EOFError:
            return
        if line == "exit":
            return
        if line:
            yield line


@contextmanager
def _abort_on_unavailable() -> Iterator[None]:
    from meshframes.hwsim import HwsimUnavailable

    try:
        yield
    except HwsimUnavailable as problem:
        error(str(problem))
        sys.exit(1)


@contextmanager
def _guest(radios: int | None) -> Iterator[Guest]:
    from meshframes.hwsim import Guest

    with _abort_on_unavailable(), err.status("booting the guest (Debian's kernel under qemu)"):
        guest = Guest.start()
    try:
        success(f"guest up in {guest.boot_seconds:.1f} s (kernel {guest.release})")
        if radios:
            with err.status(f"creating {radios} hwsim radios"):
                nodes = guest.reset_radios(radios)
            for node in nodes:
                err.print(f"{node.netns}: {node.phy} {node.wlan} {node.mac}")
        yield guest
    finally:
        guest.stop()


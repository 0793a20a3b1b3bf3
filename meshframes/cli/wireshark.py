"""`meshframes wireshark`: our FastPay dissector for Wireshark.

The plugin is generated from the Scapy layers (`meshframes.layers.wireshark`)
and shipped in the package; `install` copies it into the user's personal
Lua plugin folder, `--print` writes it to stdout instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from meshframes.cli import console

PLUGIN_NAME = "meshframes_fastpay.lua"


def _default_folder() -> Path:
    """Wireshark's personal Lua plugin folder: as tshark reports it, else
    where Wireshark 3.x and 4.x look by default on this platform."""
    from meshframes.hosts.tshark import personal_lua_plugins

    folder = personal_lua_plugins()
    if folder is not None:
        return folder
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home())) / "Wireshark" / "plugins"
    return Path.home() / ".local" / "lib" / "wireshark" / "plugins"


@click.group(short_help="Wireshark support: the FastPay dissector plugin.")
def wireshark() -> None:
    """Wireshark support: a Lua dissector for FastPay in our vendor-specific
    action frames (categories 127 and 126) and in mesh data (ethertype
    0x88B5), generated from the Scapy layers."""


@wireshark.command(short_help="Install the FastPay dissector into Wireshark's personal plugins.")
@click.option("--print", "print_only", is_flag=True, help="Write the plugin to stdout instead of installing it.")
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Plugin folder (default: Wireshark's personal Lua plugin folder, from `tshark -G folders`).")
def install(*, print_only: bool, folder: Path | None) -> None:
    """Copy the FastPay Lua dissector into Wireshark's personal Lua plugin
    folder (Wireshark loads it at its next start; in a running Wireshark,
    Analyze > Reload Lua Plugins), or print it with --print."""
    from meshframes.layers.wireshark import PLUGIN_PATH

    text = PLUGIN_PATH.read_text()
    if print_only:
        click.echo(text, nl=False)
        return
    target_dir = folder if folder is not None else _default_folder()
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / PLUGIN_NAME
        target.write_text(text)
    except OSError as exc:
        console.error(f"cannot write the plugin into {target_dir}: {exc.strerror}. Pass a writable --dir.")
        sys.exit(1)
    console.success(f"installed {target}; restart Wireshark or use Analyze > Reload Lua Plugins")

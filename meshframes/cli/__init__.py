"""The `meshframes` command line: click for parsing, rich for presentation.

Each verb lives in its own module and is imported only when it runs, so
`meshframes --help` stays fast and a verb's heavy imports (Scapy, SQLite,
qemu tooling) cost nothing to the others.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

# verb -> "module:function"; a module adds itself here with one line.
COMMANDS: dict[str, str] = {
    "analyze": "meshframes.cli.analyze:analyze",
    "bench": "meshframes.cli.bench:bench",
    "demo": "meshframes.cli.demo:demo",
    "doctor": "meshframes.cli.doctor:doctor",
    "inject": "meshframes.cli.inject:inject",
    "keys": "meshframes.cli.keys:keys",
    "node": "meshframes.cli.node:node",
    "replay": "meshframes.cli.replay:replay",
    "shell": "meshframes.cli.shell:shell",
    "hwsim": "meshframes.cli.hwsim:hwsim",
    "sniff": "meshframes.cli.sniff:sniff",
    "topology": "meshframes.cli.topology:topology",
    "wireshark": "meshframes.cli.wireshark:wireshark",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="meshframes")
def cli() -> None:
    """FastPay payments over raw IEEE 802.11s mesh frames."""


def main() -> None:
    try:
        cli(prog_name="meshframes")
    except Exception:
        if os.environ.get("MESHFRAMES_DEBUG"):
            raise
        from rich.console import Console

        Console(stderr=True, markup=False, highlight=False).print_exception(
            show_locals=False, suppress=[click]
        )
        sys.exit(1)

"""`meshframes shell`: look at a mesh and pay from a prompt.

The shell talks to a simulated mesh it builds itself (`--sim`, the demo's
scenario, held still between commands) or to running `meshframes node`
processes (`--connect SOCKET`, repeatable). Either way every answer is a
node's control answer (meshframes.hosts.control), read from its engines;
this module only parses commands and draws tables.

Interactive on a terminal (history, tab completion, `help COMMAND`);
otherwise it reads commands from `--script FILE` or stdin, prints each
command's output and exits 1 if any command failed.
"""

from __future__ import annotations

import cmd
import json
import math
import os
import shlex
import sys
import tempfile
from collections.abc import Iterable
from inspect import cleandoc
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from meshframes.cli import console
from meshframes.cli.sim_options import MAX_DURATION, Area, Finite
from meshframes.hosts.control_client import ControlTarget, NodeView, SocketTarget, TargetError
from meshframes.mesh.peers import PlinkState
from meshframes.sim.shell_session import SimTarget

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table

ESTAB = PlinkState.ESTAB.value  # as the control answers carry a peering state
# Commands that need the simulated mesh (`--sim`).
SIM_ONLY = ("fail", "recover", "move", "run", "nodes")
# Options that shape the simulated mesh: given without --sim they would be
# silently ignored, so they are refused.
SIM_OPTIONS = ("seed", "authorities", "clients", "relays", "area", "transfers", "failing", "fail_at", "duration",
               "no_seal", "open_mesh")


class ShellError(Exception):
    """A command that failed; its message is the one line the user sees."""


def _short(key: str | None) -> str:
    """A 32-octet key as a person compares them: its first 12 hex digits."""
    return "-" if key is None else f"{key[:12]}…"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class Shell(cmd.Cmd):
    """The commands; each `do_X` docstring is its help (first line: usage)."""

    def __init__(self, target: ControlTarget, *, as_json: bool) -> None:
        super().__init__()
        self.target = target
        self.sim: SimTarget | None = target if isinstance(target, SimTarget) else None
        self.as_json = as_json
        self.failed = 0
        self._set_prompt()

    # -- driving -------------------------------------------------------------

    def run_script(self, lines: Iterable[str]) -> int:
        """Run each command in turn (blank lines and `#` comments skipped),
        to the end or to `quit`; returns how many failed."""
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if not self.as_json:
                console.out.print(f"{self.prompt}{line}", style="bold", soft_wrap=True)
            if self.onecmd(line):
                break
            self._set_prompt()
        return self.failed

    def interactive(self) -> None:
        """The prompt, with readline's line editing, history (kept across
        sessions in MESHFRAMES_SHELL_HISTORY) and tab completion. A failed
        command was said on stderr and the person saw it: leaving exits 0."""
        import readline

        history = Path(os.environ.get("MESHFRAMES_SHELL_HISTORY",
                                      Path.home() / ".local" / "state" / "meshframes" / "shell_history"))
        if history.exists():
            readline.read_history_file(history)
        # Node names such as C0 hold no delimiter, but `move C0 1.5 2` must
        # complete each word on its own.
        readline.set_completer_delims(" \t")
        console.err.print(f"meshframes shell: {len(self.target.names)} nodes, {self.target.selected} selected."
                          " `help` lists the commands, `quit` leaves.", soft_wrap=True)
        try:
            while True:
                try:
                    self.cmdloop()
                    break
                except KeyboardInterrupt:
                    console.err.print("^C (type quit to leave)")
        finally:
            history.parent.mkdir(parents=True, exist_ok=True)
            readline.set_history_length(1000)
            readline.write_history_file(history)

    def onecmd(self, line: str) -> bool:
        try:
            return super().onecmd(line)
        except (ShellError, TargetError) as error:
            self._fail(str(error))
        return False

    def postcmd(self, stop: bool, line: str) -> bool:
        self._set_prompt()
        return stop

    def emptyline(self) -> bool:
        return False  # cmd's default repeats the last command: a second transfer nobody asked for

    def default(self, line: str) -> None:
        word = line.split()[0] if line.split() else line
        raise ShellError(f"unknown command {word!r}; `help` lists the commands")

    def completenames(self, text: str, *ignored: Any) -> list[str]:
        return [name for name in self._commands() if name.startswith(text)]

    # -- commands ------------------------------------------------------------

    def do_status(self, arg: str) -> None:
        """status
        What the selected node is and how it is doing.
        Its MAC, role, identity, mesh ID, established peers, active paths,
        refusals counted, and its clock."""
        self._no_arguments("status", arg)
        result = self._ask("status")
        if self._json(result):
            return
        table = self._table(f"status of {self.target.selected}", "field", "value")
        for key, value in result.items():
            table.add_row(key, _cell(value))
        self._show(table)

    def do_peers(self, arg: str) -> None:
        """peers [all]
        The selected node's peer links, from its peer table.
        MAC, the node and role learned from its announcements, peering
        state, signal, seconds since last heard, airtime metric and hop
        count. Established links only; `all` shows every entry of the table
        in any state."""
        everything = self._all("peers", arg)
        rows = [p for p in self._ask("peers") if everything or p["state"] == ESTAB]
        if self._json(rows):
            return
        table = self._table(f"peers of {self.target.selected}", "mac", "node", "role", "state",
                            "signal (dBm)", "last seen (s)", "metric", "hops")
        for p in rows:
            table.add_row(p["mac"], _cell(self.target.name_of(p["mac"])), _cell(p["role"]), p["state"], _cell(p["signal_dbm"]), _cell(p["last_seen_s"]), _cell(p["metric"]),
                          _cell(p["hops"]))
        self._show(table)

    def do_paths(self, arg: str) -> None:
        """paths [all]
        The selected node's HWMP paths, from its path table.
        Destination, next hop, metric, hop count, destination sequence
        number, seconds left. Active paths only; `all` adds the ones kept
        inactive or being resolved."""
        everything = self._all("paths", arg)
        rows = [p for p in self._ask("paths") if everything or p["active"]]
        if self._json(rows):
            return
        table = self._table(f"paths of {self.target.selected}", "destination", "node", "next hop", "via",
                            "metric", "hops", "sn", "expires in (s)", "active")
        for p in rows:
            table.add_row(p["destination"], _cell(self.target.name_of(p["destination"])), _cell(p["next_hop"]),
                          _cell(self.target.name_of(p["next_hop"]) if p["next_hop"] else None), _cell(p["metric"]),
                          _cell(p["hops"]), _cell(p["sn"]), _cell(p["expires_in_s"]), "yes" if p["active"] else "no")
        self._show(table)

    def do_gates(self, arg: str) -> None:
        """gates
        The mesh gates the selected node knows.
        Learned from a root's RANN or proactive PREQ with the gate bit set
        (as Linux learns them) or from a Gate Announcement: gate MAC, what
        announced it, its sequence number, hops, the neighbour it was heard
        through, seconds left."""
        self._no_arguments("gates", arg)
        rows = self._ask("gates")
        if self._json(rows):
            return
        table = self._table(f"gates known to {self.target.selected}", "gate", "node", "learned from", "sn",
                            "hops", "heard from", "expires in (s)")
        for g in rows:
            table.add_row(g["mac"], _cell(self.target.name_of(g["mac"])), g["learned_from"], str(g["sn"]),
                          str(g["hops"]), g["heard_from"], _cell(g["expires_in_s"]))
        self._show(table)

    def do_authorities(self, arg: str) -> None:
        """authorities
        The authorities the selected node discovered.
        From their announcements: identity, MAC, voting weight, and whether
        the announcement was authenticated."""
        self._no_arguments("authorities", arg)
        rows = self._ask("authorities")
        if self._json(rows):
            return
        table = self._table(f"authorities known to {self.target.selected}", "identity", "mac", "node", "weight",
                            "authenticated")
        for a in rows:
            table.add_row(_short(a["identity"]), _cell(a["mac"]), _cell(self.target.name_of(a["mac"] or "")),
                          str(a["weight"]), "yes" if a["authenticated"] else "no")
        self._show(table)

    def do_balances(self, arg: str) -> None:
        """balances [start]
        The balances the selected node holds.
        A client holds its own account, an authority every account it has
        seen, each with the next sequence number; a relay holds none. With
        start, what it held when it started: what its store gave back."""
        words = self._words(arg)
        if words not in ([], ["start"]):
            raise ShellError("usage: balances [start]")
        at = "start" if words else "now"
        result = self._ask("balances", at=at)
        if self._json(result):
            return
        numbers = {a["key"]: a["number"] for a in self._ask("accounts")}
        title = f"balances {self.target.selected} held when it started" if words else \
            f"balances held by {self.target.selected}"
        table = self._table(title, "account", "key", "balance", "next sequence number")
        for key, held in result.items():
            table.add_row(_cell(numbers.get(key)), _short(key), str(held["balance"]), str(held["next_sequence_number"]))
        self._show(table)

    def do_history(self, arg: str) -> None:
        """history [N]
        The selected node's last N application events.
        Transfers started, certified, confirmed, certificates received,
        orders handled, messages refused; without N all it kept (up to
        256)."""
        words = self._words(arg)
        if len(words) > 1:
            raise ShellError("history takes at most one argument, N")
        request: dict[str, Any] = {}
        if words:
            request["last"] = self._whole("N", words[0])
        rows = self._ask("history", **request)
        if self._json(rows):
            return
        table = self._table(f"history of {self.target.selected}", "time (s)", "event", "details")
        for row in rows:
            details = ", ".join(f"{k} {_short(v) if isinstance(v, str) and len(v) == 64 else v}"
                                for k, v in row.items() if k not in ("time", "event"))
            table.add_row(f"{row['time']:.3f}", row["event"], details)
        self._show(table)

    def do_transfer(self, arg: str) -> None:
        """transfer RECIPIENT AMOUNT
        Pay AMOUNT from the selected client's account.
        RECIPIENT is an account number (its place in the committee), the
        account key in hex or, on --sim, a client's name (C1). The order
        leaves at once; on --sim it travels as virtual time runs (`run`)."""
        words = self._words(arg)
        if len(words) != 2:
            raise ShellError("usage: transfer RECIPIENT AMOUNT")
        recipient, amount = self._recipient(words[0]), self._whole("AMOUNT", words[1])
        result = self._ask("transfer", recipient=recipient, amount=amount)
        if self._json(result):
            return
        console.out.print(f"{self.target.selected} pays {result['amount']} to {_short(result['recipient'])}: order"
                          " queued", soft_wrap=True)

    def do_topology(self, arg: str) -> None:
        """topology [FILE.png]
        Who peers with whom, from every node's peer table.
        A tree, or with FILE.png a picture of the nodes where they are (on
        --sim; on a ring otherwise) and their established links."""
        words = self._words(arg)
        if len(words) > 1:
            raise ShellError("topology takes at most one argument, FILE.png")
        views = self.target.topology()
        if words:
            self._picture(views, Path(words[0]))
            return
        if self._json([{"name": v.name, "mac": v.mac, "role": v.role, "alive": v.alive,
                        "position": list(v.position) if v.position is not None else None,
                        "peers": [p["mac"] for p in v.peers if p["state"] == ESTAB]} for v in views]):
            return
        from rich.tree import Tree

        tree = Tree(self._where())
        for v in views:
            place = "" if v.position is None else f" at ({v.position[0]:.1f}, {v.position[1]:.1f}) m"
            branch = tree.add(f"{v.name} {v.role or ''} {v.mac}{place}{'' if v.alive else ' FAILED'}")
            for p in v.peers:
                if p["state"] == ESTAB:
                    # A peer's role is what its announcements said: none from a relay.
                    role = f" {p['role']}" if p["role"] else ""
                    branch.add(f"{self.target.name_of(p['mac']) or p['mac']}{role},"
                               f" signal {_cell(p['signal_dbm'])} dBm, metric {_cell(p['metric'])}")
        self._show(tree)

    def do_use(self, arg: str) -> None:
        """use NODE
        Select the node the other commands ask.
        On --sim A0, C0, R0 (or an index); with --connect the socket's name
        (a0 for a0.sock)."""
        words = self._words(arg)
        if len(words) != 1:
            raise ShellError(f"usage: use NODE (one of {', '.join(self.target.names)})")
        self.target.use(words[0])
        if not self._json({"selected": self.target.selected}):
            console.out.print(f"selected {self.target.selected}")

    def do_nodes(self, arg: str) -> None:
        """nodes
        Every node of the simulated mesh.
        Name, index, role, MAC, where it is now, whether it is up, and how
        many established peers it has."""
        sim = self._sim("nodes")
        self._no_arguments("nodes", arg)
        views = [sim.view(sim.index(name)) for name in sim.names]
        rows = [{"name": v.name, "index": sim.index(v.name), "role": v.role, "mac": v.mac,
                 "position": list(v.position or ()), "alive": v.alive,
                 "peers": sum(p["state"] == ESTAB for p in v.peers)} for v in views]
        if self._json(rows):
            return
        table = self._table(self._where(), "node", "index", "role", "mac", "x (m)", "y (m)", "up", "peers")
        for r in rows:
            table.add_row(r["name"], str(r["index"]), r["role"], r["mac"], f"{r['position'][0]:.1f}",
                          f"{r['position'][1]:.1f}", "yes" if r["alive"] else "FAILED", str(r["peers"]))
        self._show(table)

    def do_fail(self, arg: str) -> None:
        """fail NODE
        Switch NODE's radio off now (simulation).
        It neither sends nor hears. Its neighbours lose it after two missed
        beacons (2.048 s); paths through it go with the link, paths to it
        expire (5 s; 6.144 s for an authority, an HWMP root)."""
        sim = self._sim("fail")
        name = self._one("fail", "NODE", arg)
        sim.fail(name)
        self._done({"failed": sim.name_at[sim.index(name)], "time": sim.now})

    def do_recover(self, arg: str) -> None:
        """recover NODE
        Switch a failed NODE's radio back on now (simulation)."""
        sim = self._sim("recover")
        name = self._one("recover", "NODE", arg)
        sim.recover(name)
        self._done({"recovered": sim.name_at[sim.index(name)], "time": sim.now})

    def do_move(self, arg: str) -> None:
        """move NODE X Y
        Carry NODE to (X, Y) metres now (simulation); it stays there."""
        sim = self._sim("move")
        words = self._words(arg)
        if len(words) != 3:
            raise ShellError("usage: move NODE X Y (metres)")
        x, y = (self._number(axis, w) for axis, w in zip("XY", words[1:], strict=True))
        sim.move(words[0], x, y)
        self._done({"moved": sim.name_at[sim.index(words[0])], "to": [x, y], "time": sim.now})

    def do_run(self, arg: str) -> None:
        """run SECONDS
        Let SECONDS of virtual time pass (simulation).
        Frames fly, timers fire, nodes walk; nothing happens between
        commands otherwise."""
        sim = self._sim("run")
        seconds = self._number("SECONDS", self._one("run", "SECONDS", arg))
        self._done({"time": sim.run(seconds)})

    def do_help(self, arg: str) -> None:
        """help [COMMAND]
        The commands, or how to use one."""
        words = self._words(arg)
        if words:
            if words[0] not in self._commands():
                raise ShellError(f"no command {words[0]!r}; `help` lists the commands")
            console.out.print(cleandoc(getattr(self, f"do_{words[0]}").__doc__ or ""), soft_wrap=True)
            return
        table = self._table("commands (help COMMAND for one)", "command", "what it does")
        for name in self._commands():
            doc = cleandoc(getattr(self, f"do_{name}").__doc__ or "").splitlines()
            table.add_row(doc[0], doc[1] if len(doc) > 1 else "")
        self._show(table)

    def do_quit(self, arg: str) -> bool:
        """quit
        Leave the shell (so does the end of input, Ctrl-D)."""
        return True

    def do_EOF(self, arg: str) -> bool:
        """cmd's name for the end of input."""
        if self.stdin.isatty():
            console.err.print()
        return True

    # -- completion ----------------------------------------------------------

    def complete_use(self, text: str, *ignored: Any) -> list[str]:
        return [n for n in self.target.names if n.lower().startswith(text.lower())]

    complete_fail = complete_recover = complete_move = complete_use

    def complete_help(self, text: str, *ignored: Any) -> list[str]:
        return self.completenames(text)

    def complete_peers(self, text: str, *ignored: Any) -> list[str]:
        return ["all"] if "all".startswith(text) else []

    complete_paths = complete_peers

    # -- internals -----------------------------------------------------------

    def _commands(self) -> list[str]:
        names = sorted(a[3:] for a in dir(self) if a.startswith("do_") and a != "do_EOF")
        return [n for n in names if self.sim is not None or n not in SIM_ONLY]

    def _set_prompt(self) -> None:
        clock = f" {self.sim.now:.1f}s" if self.sim is not None else ""
        self.prompt = f"{self.target.selected}{clock}> "

    def _where(self) -> str:
        return f"mesh at {self.sim.now:.1f} s (virtual time)" if self.sim is not None else "mesh"

    def _fail(self, message: str) -> None:
        self.failed += 1
        console.error(message)

    def _ask(self, command: str, **arguments: Any) -> Any:
        answer = self.target.ask({"command": command, **arguments})
        if not answer["ok"]:
            raise ShellError(f"{command}: {answer.get('error')}: {answer.get('detail')}")
        return answer["result"]

    def _json(self, value: Any) -> bool:
        """In --json mode print `value` as one line and say so."""
        if self.as_json:
            click.echo(json.dumps(value))
        return self.as_json

    @staticmethod
    def _show(what: RenderableType) -> None:
        """On a terminal, fit its width; elsewhere (a script's output, a
        pipe) print tables whole rather than cut MACs and numbers to 80
        columns."""
        (console.out if console.out.is_terminal else console.out_wide).print(what)

    def _done(self, value: dict[str, Any]) -> None:
        if not self._json(value):
            console.out.print(", ".join(f"{k} {_cell(v)}" for k, v in value.items()), soft_wrap=True)

    def _sim(self, command: str) -> SimTarget:
        if self.sim is None:
            raise ShellError(f"{command} acts on a simulated mesh only: start the shell with --sim")
        return self.sim

    @staticmethod
    def _table(title: str, *columns: str) -> Table:
        from rich.table import Table

        table = Table(title=title)
        for column in columns:
            # MACs and keys are read whole or not at all.
            whole = column in ("mac", "destination", "next hop", "key", "identity")
            table.add_column(column, no_wrap=whole, min_width=17 if whole else None)
        return table

    @staticmethod
    def _words(arg: str) -> list[str]:
        try:
            return shlex.split(arg)
        except ValueError as error:
            raise ShellError(f"cannot split the arguments: {error}") from None

    def _one(self, command: str, what: str, arg: str) -> str:
        words = self._words(arg)
        if len(words) != 1:
            raise ShellError(f"usage: {command} {what}")
        return words[0]

    def _no_arguments(self, command: str, arg: str) -> None:
        if self._words(arg):
            raise ShellError(f"{command} takes no arguments (see `help {command}`)")

    def _all(self, command: str, arg: str) -> bool:
        words = self._words(arg)
        if words not in ([], ["all"]):
            raise ShellError(f"usage: {command} [all]")
        return bool(words)

    @staticmethod
    def _whole(what: str, word: str) -> int:
        if not word.isdigit():
            raise ShellError(f"{what} must be a whole number, got {word!r}")
        return int(word)

    @staticmethod
    def _number(what: str, word: str) -> float:
        try:
            value = float(word)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ShellError(f"{what} must be a number, got {word!r}")
        return value

    def _recipient(self, word: str) -> str:
        """An account key in hex, from a key, an account number or (on
        --sim) a client's name."""
        if len(word) == 64:
            try:
                return bytes.fromhex(word).hex()
            except ValueError:
                raise ShellError(f"RECIPIENT {word!r} is not a key in hex") from None
        number: int | None = None
        if word.isdigit():
            number = int(word)
        elif self.sim is not None and word.upper().startswith("C") and word[1:].isdigit():
            number = int(word[1:])
        if number is None:
            raise ShellError(f"RECIPIENT must be an account number, a 64-digit hex key or a client (C1), got {word!r}")
        accounts = self._ask("accounts")
        if not accounts:
            raise ShellError(f"{self.target.selected} holds no committee: give the recipient's key in hex")
        if number >= len(accounts):
            raise ShellError(f"no account {number}: the committee funds accounts 0..{len(accounts) - 1}")
        key: str = accounts[number]["key"]
        return key

    def _picture(self, views: list[NodeView], path: Path) -> None:
        if path.suffix.lower() != ".png":
            raise ShellError(f"topology draws PNG files, got {str(path)!r}")
        try:
            from meshframes.cli.shell_plot import topology_png
        except ImportError as error:
            raise ShellError(f"no picture: {error}. Install the plot extra (`make setup` does).") from None
        try:
            topology_png(views, path, self._where())
        except OSError as error:
            raise ShellError(f"cannot write {path}: {error.strerror or error}") from None
        self._done({"picture": str(path)})


@click.command(short_help="Look at a mesh and pay from a prompt: a simulated one (--sim) or running nodes.")
@click.option("--sim", is_flag=True, help="Build the demo's simulated mesh (the options below shape it).")
@click.option("--connect", "sockets", multiple=True, metavar="SOCKET",
              help="A `meshframes node` control socket; repeat it for several nodes (`use NODE` picks one).")
@click.option("--script", type=click.File("r"), default=None,
              help="Run the commands in FILE, one a line, instead of a prompt (so does a stdin that is not a"
                   " terminal). Exit status 1 if any failed.")
@click.option("--json", "as_json", is_flag=True, help="Print each command's answer as one JSON line.")
@click.option("--timeout", default=5.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds to wait for a node's answer (--connect).")
@click.option("--seed", default=21, show_default=True, help="--sim: everything follows from it.")
@click.option("--authorities", default=4, show_default=True, type=click.IntRange(1, 64), help="--sim")
@click.option("--clients", default=6, show_default=True, type=click.IntRange(2, 200), help="--sim")
@click.option("--relays", default=14, show_default=True, type=click.IntRange(0, 500),
              help="--sim: mesh points that only forward.")
@click.option("--area", default="150x120", show_default=True, type=Area(),
              help="--sim: field size in metres, WIDTHxHEIGHT.")
@click.option("--transfers", default=0, show_default=True, type=click.IntRange(0, 100),
              help="--sim: payments each client makes on its own, as in the demo (you pay with `transfer`).")
@click.option("--failing", default=0, show_default=True, type=click.IntRange(0),
              help="--sim: authorities switched off on their own at --fail-at (you can `fail` any node).")
@click.option("--fail-at", type=Finite(0.0), default=None,
              help="--sim: virtual time of that failure [default: a quarter of --duration].")
@click.option("--duration", default=120.0, show_default=True, type=Finite(10.0, MAX_DURATION),
              help="--sim: the span the clients' own payments are planned over.")
@click.option("--no-seal", is_flag=True, help="--sim: turn end-to-end sealing off.")
@click.option("--open", "open_mesh", is_flag=True,
              help="--sim: an open mesh, no SAE, AMPE or CCMP per hop (secure, as the demo's, by default).")
@click.pass_context
def shell(ctx: click.Context, *, sim: bool, sockets: tuple[str, ...], script: IO[str] | None, as_json: bool,
          timeout: float, seed: int, authorities: int, clients: int, relays: int, area: tuple[float, float], transfers: int,
          failing: int, fail_at: float | None, duration: float, no_seal: bool, open_mesh: bool) -> None:
    """Look at a mesh and make payments: status, peers, paths, topology,
    authorities, balances, history, transfer; on a simulated mesh also
    fail, recover, move, run and nodes. `help` inside lists them all.
    On a terminal the prompt keeps its history in
    ~/.local/state/meshframes/shell_history (or MESHFRAMES_SHELL_HISTORY)."""
    if sim == bool(sockets):
        raise click.UsageError("give --sim (a simulated mesh) or --connect SOCKET (running nodes), one of the two")
    if not sim:
        given = [name for name in SIM_OPTIONS
                 if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]
        if given:
            option = next(p.opts[0] for p in ctx.command.params if p.name == given[0])
            raise click.UsageError(f"{option} shapes a simulated mesh: it needs --sim")
    with tempfile.TemporaryDirectory(prefix="meshframes-shell-") as workdir:
        target: ControlTarget
        if sim:
            from meshframes.sim.demo import DEMO_PASSPHRASE, DemoSpec

            try:
                spec = DemoSpec(seed=seed, authorities=authorities, clients=clients, relays=relays,
                                duration=duration, transfers_per_client=transfers, failing=failing,
                                area=area, fail_at=duration / 4 if fail_at is None else fail_at,
                                seal=not no_seal, passphrase=None if open_mesh else DEMO_PASSPHRASE)
            except ValueError as error:
                raise click.BadParameter(str(error)) from None
            target = SimTarget(workdir, spec)
        else:
            try:
                target = SocketTarget(sockets, timeout)
            except TargetError as error:
                console.error(str(error))
                raise SystemExit(1) from None
        try:
            session = Shell(target, as_json=as_json)
            failed = 0
            if script is not None:
                failed = session.run_script(script)
            elif not sys.stdin.isatty():
                failed = session.run_script(sys.stdin)
            else:
                session.interactive()
        finally:
            target.close()
    if failed:
        raise SystemExit(1)

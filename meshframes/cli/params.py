"""Up-front checks of the file and interface arguments every verb takes.

Each check runs as a click callback, before the verb does any work, so a
path that cannot be written or an interface that is not there ends the
command with one line naming the argument and what is wrong, and status 1
(click's own usage errors, such as a missing input file, keep status 2).
Writability is tried, not read from the mode bits: root passes every
permission check but still cannot write a read-only file system or /proc.
"""

from __future__ import annotations

import enum
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import click

from meshframes.cli import console


class ArgumentRefusal(enum.Enum):
    """Why a file or interface argument is refused."""

    NO_DIRECTORY = "no-directory"
    NOT_A_DIRECTORY = "not-a-directory"
    IS_A_DIRECTORY = "is-a-directory"
    NOT_WRITABLE = "not-writable"
    NO_INTERFACE = "no-interface"
    NOT_MONITOR_OR_MESH_POINT = "not-monitor-or-mesh-point"


class BadArgument(click.ClickException):
    """A refused argument: shown as one `error:` line, status 1."""

    def __init__(self, param: click.Parameter | None, value: object, reason: ArgumentRefusal, why: str) -> None:
        if isinstance(param, click.Option):
            name = max(param.opts, key=len)
        else:
            name = param.human_readable_name if param is not None else "argument"
        super().__init__(f"{name} {value}: {why}")
        self.reason = reason

    def show(self, file: IO[Any] | None = None) -> None:
        console.error(self.format_message())


def _can_create_in(directory: Path) -> bool:
    try:
        with tempfile.TemporaryFile(dir=directory):
            return True
    except OSError:
        return False


def _writable_directory(param: click.Parameter, value: object, directory: Path, *, make: bool) -> None:
    """`directory` exists and takes new files; with `make`, its nearest
    existing ancestor does (the verb makes the rest)."""
    existing = directory
    while make and not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.exists():
        raise BadArgument(param, value, ArgumentRefusal.NO_DIRECTORY, f"directory {existing} does not exist")
    if not existing.is_dir():
        raise BadArgument(param, value, ArgumentRefusal.NOT_A_DIRECTORY, f"{existing} is not a directory")
    if not _can_create_in(existing):
        raise BadArgument(param, value, ArgumentRefusal.NOT_WRITABLE, f"directory {existing} does not take new files")


def output_file(*, make_parents: bool = False) -> Callable[[click.Context, click.Parameter, Path | None], Path | None]:
    """The check of a file the verb will write: not a directory, writable
    if it exists, else in a directory that takes new files (with
    `make_parents`, one the verb makes under a directory that does)."""

    def check(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
        if value is None:
            return None
        path = Path(value)
        if path.is_dir():
            raise BadArgument(param, value, ArgumentRefusal.IS_A_DIRECTORY, "is a directory, expected a file")
        if path.exists():
            try:
                with open(path, "ab"):
                    pass
            except OSError as exc:
                raise BadArgument(param, value, ArgumentRefusal.NOT_WRITABLE,
                                  f"cannot be written ({exc.strerror})") from None
        else:
            _writable_directory(param, value, path.parent, make=make_parents)
        return value

    return check


def output_directory(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """A directory the verb will write into, made if missing: the path, or
    its nearest existing ancestor, is a directory that takes new files."""
    if value is not None:
        _writable_directory(param, value, Path(value), make=True)
    return value


def radio_interface(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A network interface that exists and is a radiotap monitor (hardware
    type 803) or a Linux mesh point: a frame written to any other goes out
    as something else, or not at all."""
    if value is None:
        return None
    from meshframes.hosts.meshif import NotARadioInterface, interface_kind

    try:
        interface_kind(value)
    except NotARadioInterface as error:
        raise BadArgument(param, value, ArgumentRefusal.NOT_MONITOR_OR_MESH_POINT, str(error)) from None
    except OSError:
        raise BadArgument(param, value, ArgumentRefusal.NO_INTERFACE,
                          f"no network interface named {value} (see `ip link`); make a monitor with "
                          f"`iw phy PHY interface add {value} type monitor` or a mesh point with "
                          f"`iw dev {value} set type mp`") from None
    return value

"""One place for terminal output: data to stdout, messages to stderr.

Markup and highlighting are off so that user data (SSIDs, mesh IDs, reasons
read off the air) is never interpreted as rich markup.
"""

from __future__ import annotations

import json

import orjson
from rich.console import Console

out = Console(markup=False, highlight=False, emoji=False)
err = Console(stderr=True, markup=False, highlight=False, emoji=False)
# stdout for a file or a pipe, where no terminal sets the width: wide
# tables are printed whole rather than cut to 80 columns.
out_wide = Console(markup=False, highlight=False, emoji=False, width=200)


def error(text: str) -> None:
    err.print(f"error: {text}", style="bold red", soft_wrap=True)


def warning(text: str) -> None:
    err.print(f"warning: {text}", style="yellow", soft_wrap=True)


def success(text: str) -> None:
    err.print(text, style="green", soft_wrap=True)


def json_bytes(document: object) -> bytes:
    """`document` as compact UTF-8 JSON. orjson writes a large report (the
    HWMP records of 100k frames) about nine times faster than the json
    module; what it refuses, integers beyond 64 bits, the json module
    writes, to the same format."""
    try:
        return orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()

"""A persistent Python interpreter inside the guest, one per network namespace.

It answers two kinds of request from the agent, one at a time, each sent
with the harness's pace (meshframes.hwsim.wait), which the called code's
own budgets (`scaled`) then follow:
- ("call", "package.module:function", args, kwargs): import and call;
- ("exec", source, inputs): run source in this worker's own globals (kept
  between requests, so state such as an open radio survives), with `inputs`
  bound as variables; the value of a final expression is the answer.
"""

from __future__ import annotations

import ast
import importlib
import os
import pickle
import sys
import traceback
from typing import Any

from meshframes.hwsim.wait import set_pace
from meshframes.hwsim.wire import ChannelClosed, read_message, write_message


def _call(target: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)(*args, **kwargs)


def _exec(scope: dict[str, Any], source: str, inputs: dict[str, Any]) -> Any:
    scope.update(inputs)
    tree = ast.parse(source, "<hwsim>", "exec")
    tail = tree.body[-1] if tree.body else None
    last = tail if isinstance(tail, ast.Expr) else None
    if last is not None:
        tree.body.pop()
    exec(compile(tree, "<hwsim>", "exec"), scope)
    if last is None:
        return None
    return eval(compile(ast.Expression(last.value), "<hwsim>", "eval"), scope)


def main() -> None:
    # The protocol owns the original stdout; anything the called code prints
    # goes to stderr, where the agent keeps it for error reports.
    channel_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    channel_in = sys.stdin.buffer
    scope: dict[str, Any] = {"__name__": "__hwsim__"}
    while True:
        try:
            pace, request = read_message(channel_in)
        except ChannelClosed:
            return
        set_pace(pace)
        try:
            reply = (True, _call(*request[1:])) if request[0] == "call" else (True, _exec(scope, *request[1:]))
        except BaseException:
            reply = (False, traceback.format_exc())
        try:
            write_message(channel_out, reply)
        except (pickle.PicklingError, TypeError, AttributeError):
            write_message(channel_out, (False, f"the answer cannot be sent back to the host:\n"
                                               f"{traceback.format_exc()}"))


if __name__ == "__main__":
    main()

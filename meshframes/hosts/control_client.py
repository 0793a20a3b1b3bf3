"""Asking a running node (its control socket, meshframes.hosts.control):
one JSON request out, one JSON answer back. Standard library only, so an
interpreter that asks many nodes (a test in the hwsim guest, where every
import costs ~13 times what it does on the host) loads no engine."""

from __future__ import annotations

import json
import socket
from typing import Any


class ControlUnavailable(OSError):
    """The node's socket is not there, refused us, or closed before it answered."""


def ask(path: str, request: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    """Send `request` to the node serving `path`; its answer, as
    `{"ok": true, "result": ...}` or `{"ok": false, "error": ..., "detail": ...}`."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(json.dumps(request).encode() + b"\n")
            answer = bytearray()
            while not answer.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    raise ControlUnavailable(f"{path} closed the connection before answering")
                answer += chunk
    except ControlUnavailable:
        raise
    except OSError as error:
        raise ControlUnavailable(f"cannot ask {path}: {error}") from None
    reply: dict[str, Any] = json.loads(answer)
    return reply

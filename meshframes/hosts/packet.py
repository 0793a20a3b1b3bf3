"""AF_PACKET plumbing shared by the monitor and mesh-interface transports:
a non-blocking socket with a large receive buffer and kernel timestamps,
and a drain that stamps every packet on CLOCK_MONOTONIC."""

from __future__ import annotations

import contextlib
import errno
import select
import socket
import struct
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Self

SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23
# asm-generic/socket.h values the socket module does not export.
SO_RCVBUFFORCE = 33
SO_TIMESTAMPNS = 35  # = SCM_TIMESTAMPNS, a struct timespec
PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST, PACKET_OUTGOING = range(5)
_TIMESPEC = struct.Struct("@qq")


def open_packet_socket(ifname: str, kind: int, protocol: int, *, hardware_type: int,
                       wrong_type_hint: str, rcvbuf: int) -> tuple[socket.socket, bytes]:
    """Bind a packet socket to `ifname`; return it with the interface's MAC.
    Raises ValueError (with `wrong_type_hint`) when the interface is not of
    `hardware_type`."""
    sock = socket.socket(socket.AF_PACKET, kind, socket.htons(protocol))
    try:
        sock.bind((ifname, protocol))
        _, _, _, actual, address = sock.getsockname()
        if actual != hardware_type:
            raise ValueError(f"{ifname} has hardware type {actual}, expected {hardware_type}: "
                             f"{wrong_type_hint}")
        # SO_RCVBUFFORCE (root) may exceed net.core.rmem_max, only 208 KiB by
        # default: too small for a burst of frames.
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
        except PermissionError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        # Linux < 4.20 lacks it: callers also drop PACKET_OUTGOING themselves.
        with contextlib.suppress(OSError):
            sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock, address[:6]


def drain(sock: socket.socket, bufsize: int, *,
          wall_clock: bool = False) -> Iterator[tuple[bytes, int, bytes, float]]:
    """Yield (packet, packet type, source address, arrival time) for every
    packet waiting on the non-blocking `sock`. Arrival is on CLOCK_MONOTONIC
    (the clock engines run on), or CLOCK_REALTIME with `wall_clock` (pcaps)."""
    # Kernel stamps are CLOCK_REALTIME; one offset per drain moves them onto
    # CLOCK_MONOTONIC (the clocks do not drift apart within a drain).
    offset = 0.0 if wall_clock else time.monotonic() - time.time()
    while True:
        try:
            packet, ancillary, _, address = sock.recvmsg(
                bufsize, socket.CMSG_SPACE(_TIMESPEC.size))
        except BlockingIOError:
            return
        stamp = None
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                seconds, nanoseconds = _TIMESPEC.unpack(data[:_TIMESPEC.size])
                stamp = seconds + nanoseconds / 1e9
        yield packet, address[2], address[4][:6], (stamp or time.time()) + offset


class PacketEndpoint:
    """A transport's packet socket: fileno() for an event loop, wait() for
    a simple one, and close()/with for cleanup."""

    def __init__(self, ifname: str, kind: int, protocol: int, *, hardware_type: int,
                 wrong_type_hint: str, rcvbuf: int) -> None:
        self.ifname = ifname
        self._sock, self.interface_mac = open_packet_socket(
            ifname, kind, protocol, hardware_type=hardware_type,
            wrong_type_hint=wrong_type_hint, rcvbuf=rcvbuf)

    def fileno(self) -> int:
        return self._sock.fileno()

    def wait(self, timeout: float) -> bool:
        """Block until a packet may be waiting or `timeout` seconds pass."""
        readable, _, _ = select.select([self._sock], [], [], timeout)
        return bool(readable)

    def close(self) -> None:
        self._sock.close()

    def _send(self, packet: bytes, address: tuple[Any, ...] | None = None) -> bool:
        """Hand one packet to the kernel; False when it was dropped because
        the socket buffer (EAGAIN) or the interface queue (ENOBUFS) was full,
        as a busy radio loses frames rather than blocking its node."""
        try:
            if address is None:
                self._sock.send(packet)
            else:
                self._sock.sendto(packet, address)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ENOBUFS):
                raise
            return False
        return True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def may_open_packet_sockets() -> bool:
    """Whether this process may open packet sockets (root, or CAP_NET_RAW)."""
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()
    except PermissionError:
        return False
    return True

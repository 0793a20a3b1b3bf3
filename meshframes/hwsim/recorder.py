"""Record a monitor interface to a pcap file (radiotap, link type 127).

    python -S -m meshframes.hwsim.recorder IFACE OUT.pcap

Why not dumpcap: libpcap's TPACKET_V3 ring hands packets over in blocks,
and a block not yet full when dumpcap is told to stop is thrown away, so the
last second of a scenario (exactly where a PERR lands) went missing. Here
every frame is written as soon as it is read, and on SIGTERM/SIGINT the
socket is drained before the file is closed. Standard library only, so it
starts in well under a second under TCG.
"""

from __future__ import annotations

import contextlib
import select
import signal
import socket
import struct
import sys

from meshframes.hosts.packet import drain, open_packet_socket
from meshframes.hosts.pcap import LINKTYPE_IEEE802_11_RADIOTAP

ETH_P_ALL = 0x0003
ARPHRD_IEEE80211_RADIOTAP = 803
SNAPLEN = 65535


def record(ifname: str, path: str) -> int:
    sock, _ = open_packet_socket(
        ifname, socket.SOCK_RAW, ETH_P_ALL, hardware_type=ARPHRD_IEEE80211_RADIOTAP,
        wrong_type_hint="record from a monitor interface", rcvbuf=16 << 20)
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.append(True))
    count = 0
    with open(path, "wb") as out:
        # pcap file header, microsecond timestamps (read by every tool).
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN,
                              LINKTYPE_IEEE802_11_RADIOTAP))
        out.flush()
        print(f"recording on {ifname}", flush=True)
        while True:
            done = bool(stopping)
            for packet, _, _, realtime in drain(sock, SNAPLEN, wall_clock=True):
                seconds = int(realtime)
                out.write(struct.pack("<IIII", seconds, int((realtime - seconds) * 1e6),
                                      len(packet), len(packet)) + packet)
                count += 1
            out.flush()
            if done:
                break
            with contextlib.suppress(InterruptedError):
                select.select([sock], [], [], 0.2)
    print(f"recorded {count} frames", flush=True)
    return count


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit("usage: python -S -m meshframes.hwsim.recorder IFACE OUT.pcap")
    record(sys.argv[1], sys.argv[2])


if __name__ == "__main__":
    main()

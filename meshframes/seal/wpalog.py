"""Import a mesh's keys from wpa_supplicant's debug log.

wpa_supplicant prints the keys it installs only when run with `-d -K`
(debug level, keys included); without `-K` each hexdump reads
``[REMOVED]``. One log is one mesh interface (one `-i`). The lines read,
as hostap's mesh code writes them (wpa_supplicant/mesh_mpm.c and
mesh_rsn.c, checked on wpa_supplicant 2.10's own log,
pcaps/linux-kernel-sae.wpa-n0.log):

* ``Using interface wlan0 with hwaddr 02:00:00:00:00:00 and ssid ""``:
  the mesh interface's address, printed as the mesh's BSS is set up
  (``wlan0: Own MAC address: ..`` lines name every interface, the P2P
  device's too, so they serve only when that line is missing: the one of
  the interface whose peer links are established);
* ``mesh: Own TX MGTK - hexdump(len=16): ..``: our MGTK, which hostap
  installs under group key id 1 (mesh_rsn.c);
* ``mesh: Own TX IGTK - hexdump(len=16): ..``: our IGTK, key id 4;
* ``wlan0: mesh plink with 02:00:00:00:01:00 established``, then in the
  same function ``mesh: MTK - hexdump(len=16): ..`` (the link's pairwise
  key), ``mesh: RX MGTK - hexdump(len=16): ..`` (the peer's MGTK, taken
  under key id 1: hostap sets it so whatever the peer's AMPE says) and,
  under PMF, ``mesh: RX IGTK - hexdump(len=16): ..`` (the peer's IGTK,
  under the key id of the last ``mesh: IGTKdata - Key ID N`` line).

Lines may start with `-t`'s timestamp (``1733400000.123456: ``). Other
lines are skipped. A log that names a key without the station it belongs
to, or whose keys were removed, is refused with its `WpaLogProblem` and
the line number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from meshframes.seal.keyfile import (
    CaptureKeys,
    IntegrityKey,
    LinkKey,
    TransmitterKey,
    parse_mac,
)

# hostap's fixed key ids for a mesh STA's own group keys (mesh_rsn.c) and
# the one it gives a peer's MGTK (mesh_rsn.c, "Where to get Key ID?").
WPA_MGTK_KEY_ID = 1
WPA_IGTK_KEY_ID = 4
MAX_WPA_LOG = 256 << 20

_MAC = r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}"
_TIMESTAMP = re.compile(r"^\d+\.\d+: ")
_USING = re.compile(rf"^Using interface ([\w.-]+) with hwaddr ({_MAC}) ")
_OWN = re.compile(rf"^([\w.-]+): Own MAC address: ({_MAC})$")
_ESTABLISHED = re.compile(rf"^(?:([\w.-]+): )?mesh plink with ({_MAC}) established$")
_IGTK_KEY_ID = re.compile(r"^mesh: IGTKdata - Key ID (\d+)$")
_HEXDUMP = re.compile(r"^mesh: (Own TX MGTK|Own TX IGTK|MTK|RX MGTK|RX IGTK) - hexdump\(len=(\d+)\):(.*)$")


class WpaLogProblem(StrEnum):
    """Why a wpa_supplicant log was refused."""

    TOO_LARGE = "too-large"
    KEYS_REMOVED = "keys-removed"
    NO_OWN_ADDRESS = "no-own-address"
    NO_PEER = "key-without-peer"
    BAD_HEXDUMP = "bad-hexdump"
    BAD_KEY = "bad-key"
    NO_KEYS = "no-keys"


class WpaLogError(ValueError):
    """A log this importer refuses; `line` is 1-based (0: the whole log)."""

    def __init__(self, problem: WpaLogProblem, line: int, detail: str) -> None:
        super().__init__(f"line {line}: {detail}" if line else detail)
        self.problem = problem
        self.line = line


@dataclass(slots=True)
class _Reader:
    mesh_address: bytes | None = None
    own_by_interface: dict[str, bytes] = field(default_factory=dict)
    interface: str | None = None
    peer: bytes | None = None
    igtk_key_id: int = WPA_IGTK_KEY_ID
    pairwise: list[LinkKey] = field(default_factory=list)
    group: list[TransmitterKey] = field(default_factory=list)
    integrity: list[IntegrityKey] = field(default_factory=list)

    def own(self, which: str, number: int) -> bytes:
        own = self.mesh_address or self.own_by_interface.get(self.interface or "")
        if own is None:
            raise WpaLogError(WpaLogProblem.NO_OWN_ADDRESS, number,
                              f"'{which}' before the mesh interface's address ('Using interface .. with hwaddr')")
        return own

    def peer_of_link(self, which: str, number: int) -> bytes:
        if self.peer is None:
            raise WpaLogError(WpaLogProblem.NO_PEER, number,
                              f"'{which}' before any 'mesh plink with .. established' line")
        return self.peer

    def add(self, which: str, key: bytes, number: int) -> None:
        own = self.own(which, number)
        # Our own group keys protect our frames; every other key line is
        # about the peer of the link just established.
        ours = which.startswith("Own")
        other = own if ours else self.peer_of_link(which, number)
        try:
            if which == "MTK":
                self.pairwise.append(LinkKey.of(own, other, key))
            elif which.endswith("MGTK"):
                self.group.append(TransmitterKey(other, WPA_MGTK_KEY_ID, key))
            else:
                self.integrity.append(IntegrityKey(other, WPA_IGTK_KEY_ID if ours else self.igtk_key_id, key))
        except ValueError as exc:
            raise WpaLogError(WpaLogProblem.BAD_KEY, number, f"'{which}': {exc}") from None


def _hexdump(length: str, rest: str, which: str, number: int) -> bytes:
    text = rest.strip()
    if text == "[REMOVED]":
        raise WpaLogError(WpaLogProblem.KEYS_REMOVED, number,
                          f"'{which}' reads [REMOVED]: run wpa_supplicant with -K to log keys")
    octets = text.split()
    if not all(len(o) == 2 and all(c in "0123456789abcdef" for c in o) for o in octets) \
            or len(octets) != int(length):
        raise WpaLogError(WpaLogProblem.BAD_HEXDUMP, number,
                          f"'{which}' announces {int(length)} octets, got {text[:80]!r}")
    return bytes.fromhex("".join(octets))


def _read(line: str) -> re.Match[str] | None:
    for pattern in (_HEXDUMP, _ESTABLISHED, _USING, _OWN, _IGTK_KEY_ID):
        if match := pattern.match(line):
            return match
    return None


def key_lines(text: str) -> str:
    """Only the lines of a log that `import_wpa_log` reads, as they were:
    the part of a debug log worth keeping beside a capture (a few dozen
    lines of megabytes), from which the same keys import."""
    return "".join(f"{raw}\n" for raw in text.splitlines() if _read(_TIMESTAMP.sub("", raw.rstrip(), count=1)))


def import_wpa_log(text: str) -> CaptureKeys:
    """The keys one wpa_supplicant mesh interface logged with `-d -K`."""
    if len(text) > MAX_WPA_LOG:
        raise WpaLogError(WpaLogProblem.TOO_LARGE, 0, f"{len(text)} characters, at most {MAX_WPA_LOG} read")
    reader = _Reader()
    for number, raw in enumerate(text.splitlines(), 1):
        match = _read(_TIMESTAMP.sub("", raw.rstrip(), count=1))
        if match is None:
            continue
        if match.re is _HEXDUMP:
            which, length, rest = match.groups()
            reader.add(which, _hexdump(length, rest, which, number), number)
        elif match.re is _ESTABLISHED:
            reader.interface, reader.peer = match.group(1), parse_mac(match.group(2))
        elif match.re is _USING:
            reader.mesh_address = parse_mac(match.group(2))
        elif match.re is _OWN:
            reader.own_by_interface[match.group(1)] = parse_mac(match.group(2))
        else:
            reader.igtk_key_id = int(match.group(1))
    keys = CaptureKeys(tuple(dict.fromkeys(reader.pairwise)), tuple(dict.fromkeys(reader.group)),
                       tuple(dict.fromkeys(reader.integrity)))
    if not keys:
        raise WpaLogError(WpaLogProblem.NO_KEYS, 0,
                          "no mesh keys in this log: run wpa_supplicant with -d -K on a secure mesh (mode=5, SAE)")
    return keys

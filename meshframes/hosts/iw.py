"""What the kernel's mesh holds, read through `iw`: its peers (`iw dev X
station dump`) and its paths (`iw dev X mpath dump`). A node on the mesh
transport answers `peers` and `paths` from these (the kernel does peering
and HWMP there), and the hwsim harness checks kernel mesh points with
them.

The parsers read iw 5.19's text output; `dump_stations` and `dump_mpaths`
run iw as a subprocess in the caller's network namespace.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

# nl80211 mpath flags (include/uapi/linux/nl80211.h, enum nl80211_mpath_flags).
MPATH_ACTIVE = 1 << 0
MPATH_RESOLVING = 1 << 1
MPATH_SN_VALID = 1 << 2
MPATH_FIXED = 1 << 3
MPATH_RESOLVED = 1 << 4

IW_TIMEOUT = 10.0


class IwError(Exception):
    """`iw` is missing or failed; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class Station:
    """One entry of `iw dev X station dump`."""

    mac: str
    plink: str | None
    fields: dict[str, str]

    def number(self, name: str) -> int | None:
        """The leading whole number of field `name` ("-30 dBm" -> -30,
        "728 ms" -> 728), None when absent or not a number."""
        match = re.match(r"\s*(-?\d+)", self.fields.get(name, ""))
        return int(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class MeshPath:
    """One entry of `iw dev X mpath dump`."""

    dst: str
    next_hop: str
    sn: int
    metric: int
    flags: int
    hop_count: int | None
    expires_ms: int | None = None  # EXPTIME: milliseconds until the path expires

    @property
    def active(self) -> bool:
        return bool(self.flags & MPATH_ACTIVE)


_STATION = re.compile(r"^Station ([0-9a-f:]{17}) \(on (\S+)\)$")


def parse_station_dump(text: str) -> dict[str, Station]:
    stations: dict[str, Station] = {}
    mac: str | None = None
    fields: dict[str, str] = {}
    for line in text.splitlines() + ["Station 00:00:00:00:00:00 (on end)"]:
        header = _STATION.match(line)
        if header:
            if mac is not None:
                stations[mac] = Station(mac, fields.get("mesh plink"), fields)
            mac, fields = header.group(1), {}
        elif ":" in line and mac is not None:
            key, _, value = line.strip().partition(":")
            fields[key.strip()] = value.strip()
    return stations


def parse_mpath_dump(text: str) -> dict[str, MeshPath]:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("DEST ADDR"):
        return {}
    # The header names two columns with a space ("DEST ADDR", "NEXT HOP").
    columns = lines[0].replace("DEST ADDR", "DEST_ADDR").replace("NEXT HOP", "NEXT_HOP").split()
    paths = {}
    for line in lines[1:]:
        row = dict(zip(columns, line.split(), strict=False))
        paths[row["DEST_ADDR"]] = MeshPath(
            dst=row["DEST_ADDR"], next_hop=row["NEXT_HOP"], sn=int(row["SN"]),
            metric=int(row["METRIC"]), flags=int(row["FLAGS"], 16),
            hop_count=int(row["HOP_COUNT"]) if "HOP_COUNT" in row else None,
            expires_ms=int(row["EXPTIME"]) if "EXPTIME" in row else None,
        )
    return paths


def iw(*args: str) -> str:
    """The output of `iw ARGS`, or IwError saying what went wrong."""
    try:
        done = subprocess.run(["iw", *args], capture_output=True, text=True, timeout=IW_TIMEOUT, check=False)
    except FileNotFoundError:
        raise IwError("`iw` is not installed; the mesh transport reads the kernel's peers and paths with it") from None
    except subprocess.TimeoutExpired:
        raise IwError(f"`iw {' '.join(args)}` did not answer within {IW_TIMEOUT:g} s") from None
    if done.returncode != 0:
        raise IwError(f"`iw {' '.join(args)}` failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


_TYPE_LINE = re.compile(r"^\s*type (.+)$", re.MULTILINE)


def interface_type(ifname: str) -> str | None:
    """The interface type `iw dev X info` names ("mesh point", "managed",
    "monitor", ...), None when it names none."""
    match = _TYPE_LINE.search(iw("dev", ifname, "info"))
    return match.group(1).strip() if match else None


def dump_stations(ifname: str) -> dict[str, Station]:
    return parse_station_dump(iw("dev", ifname, "station", "dump"))


def dump_mpaths(ifname: str) -> dict[str, MeshPath]:
    return parse_mpath_dump(iw("dev", ifname, "mpath", "dump"))

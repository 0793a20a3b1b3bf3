"""tshark as the independent oracle for what a capture holds: one pass
extracts per-frame fields, and counts are computed from those rows."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from meshframes.hosts.tshark import KIND_FIELDS, kind_of

FIELDS = tuple(dict.fromkeys((
    "frame.number", "wlan.ta", "wlan.ra", "wlan.sa", "wlan.da", *KIND_FIELDS,
    "wlan.hwmp.orig_sta", "wlan.hwmp.targ_sta", "wlan.mesh.control_field", "_ws.malformed",
)))


def rows(pcap: Path, fields: Sequence[str] = FIELDS, *,
         temporal_key: bytes | None = None) -> list[dict[str, str]]:
    """One dict per frame, field name -> tshark's text ('' when absent;
    repeated fields joined with ','). With `temporal_key` tshark decrypts
    the CCMP frames that key opens and dissects their bodies too."""
    tshark = shutil.which("tshark")
    if tshark is None:
        raise FileNotFoundError("tshark not found (Debian package tshark)")
    argv = [tshark, "-r", str(pcap), "-T", "fields", "-E", "separator=\t",
            "-E", "occurrence=a", "-E", "aggregator=,"]
    if temporal_key is not None:
        argv += ["-o", "wlan.enable_decryption:TRUE",
                 "-o", f'uat:80211_keys:"tk","{temporal_key.hex()}"']
    for name in fields:
        argv += ["-e", name]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"tshark failed on {pcap} ({done.returncode}): {done.stderr.strip()}")
    return [dict(zip(fields, line.split("\t"), strict=False)) for line in done.stdout.splitlines()]


def kind(row: dict[str, str]) -> str:
    """The frame's kind in the names meshframes.layers.dissect uses, from tshark's
    fields alone, by the one rule meshframes.hosts.tshark.kind_of keeps."""
    return kind_of({name: row[name].split(",") if row.get(name) else [] for name in KIND_FIELDS})


def kinds(pcap: Path) -> Counter[str]:
    return Counter(kind(row) for row in rows(pcap))


def count(frames: Sequence[dict[str, str]], kind_name: str, **fields: str) -> int:
    """Frames (rows) of `kind_name` whose tshark fields (wlan.<name>) all match."""
    return sum(1 for row in frames if kind(row) == kind_name
               and all(row[f"wlan.{name}"] == value for name, value in fields.items()))

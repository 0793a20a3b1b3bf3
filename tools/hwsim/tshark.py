"""tshark as the independent oracle for what a capture holds: one pass
extracts per-frame fields, and counts are computed from those rows."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

FIELDS = (
    "frame.number", "wlan.fc.type_subtype", "wlan.ta", "wlan.ra", "wlan.sa", "wlan.da",
    "wlan.fixed.category_code", "wlan.fixed.selfprot_action", "wlan.fixed.mesh_action",
    "wlan.tag.number", "wlan.hwmp.orig_sta", "wlan.hwmp.targ_sta", "wlan.mesh.control_field",
    "_ws.malformed",
)


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
    return [dict(zip(fields, line.split("\t"))) for line in done.stdout.splitlines()]


def kind(row: dict[str, str]) -> str:
    """The frame's kind in the names meshframes.dissect uses, from tshark's
    fields alone."""
    subtype = _number(row["wlan.fc.type_subtype"])
    if subtype == 0x0008:
        return "beacon"
    category = _number(row["wlan.fixed.category_code"])
    if category == 15:
        return {1: "peering-open", 2: "peering-confirm", 3: "peering-close"}.get(
            _number(row["wlan.fixed.selfprot_action"]), "other")
    if category == 13 and _number(row["wlan.fixed.mesh_action"]) == 1:
        tags = {_number(tag) for tag in row["wlan.tag.number"].split(",")}
        for tag, name in ((130, "preq"), (131, "prep"), (132, "perr"), (126, "rann")):
            if tag in tags:
                return name
    if subtype == 0x0028 and row["wlan.mesh.control_field"]:
        return "mesh-data"
    return "other"


def _number(text: str) -> int | None:
    # tshark prints some fields in decimal and others in hex ("0x01").
    return int(text, 0) if text else None


def kinds(pcap: Path) -> Counter[str]:
    return Counter(kind(row) for row in rows(pcap))

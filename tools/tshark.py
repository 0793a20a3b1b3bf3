"""tshark as the independent oracle for frame formats.

Debian's tshark 4.0 (installed by tools/bootstrap) reads our captures and
the third-party ones; tests compare its counts and field values with ours.
When tshark is missing this raises `TsharkMissing` with the fix, so a test
tier that needs it fails loudly instead of passing silently.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

# tshark 4.0: "frames carry an FCS" and do not verify checksums; the ns-3
# captures carry a zero FCS that would fail every check.
NS3_OPTIONS = ("-o", "wlan.check_fcs:TRUE", "-o", "wlan.check_checksum:FALSE")

# How tshark names each of our frame kinds (wlan.* fields of tshark 4.0).
KIND_FILTERS = {
    "beacon": "wlan.fc.type_subtype == 0x0008",
    "probe-req": "wlan.fc.type_subtype == 0x0004",
    "probe-resp": "wlan.fc.type_subtype == 0x0005",
    "peering-open": "wlan.fixed.category_code == 15 && wlan.fixed.selfprot_action == 1",
    "peering-confirm": "wlan.fixed.category_code == 15 && wlan.fixed.selfprot_action == 2",
    "peering-close": "wlan.fixed.category_code == 15 && wlan.fixed.selfprot_action == 3",
    "preq": "wlan.fixed.category_code == 13 && wlan.fixed.mesh_action == 1 && wlan.tag.number == 130",
    "prep": "wlan.fixed.category_code == 13 && wlan.fixed.mesh_action == 1 && wlan.tag.number == 131",
    "perr": "wlan.fixed.category_code == 13 && wlan.fixed.mesh_action == 1 && wlan.tag.number == 132",
    "rann": "wlan.fixed.category_code == 13 && wlan.fixed.mesh_action == 1 && wlan.tag.number == 126",
    "gate-ann": "wlan.fixed.category_code == 13 && wlan.fixed.mesh_action == 2",
    # The decoded Mesh Control field, not the QoS bit: Linux relays mesh
    # data with the bit clear and tshark still finds the field.
    "mesh-data": "wlan.fc.type == 2 && wlan.fixed.mesh_ttl",
}


class TsharkMissing(RuntimeError):
    pass


def binary() -> str:
    path = shutil.which("tshark")
    if path is None:
        raise TsharkMissing("tshark is not installed: run tools/bootstrap (Debian package tshark)")
    return path


def _run(pcap: str | Path, args: list[str], options: tuple[str, ...]) -> str:
    result = subprocess.run(
        [binary(), "-r", str(pcap), *options, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"tshark failed on {pcap}: {result.stderr.strip()}")
    return result.stdout


def count(pcap: str | Path, display_filter: str, options: tuple[str, ...] = ()) -> int:
    out = _run(pcap, ["-Y", display_filter, "-T", "fields", "-e", "frame.number"], options)
    return len(out.split())


def total(pcap: str | Path, options: tuple[str, ...] = ()) -> int:
    return len(_run(pcap, ["-T", "fields", "-e", "frame.number"], options).split())


def counts_by_kind(pcap: str | Path, options: tuple[str, ...] = ()) -> dict[str, int]:
    """Frame counts per kind as tshark sees them; "other" is the rest."""
    counts = {kind: count(pcap, flt, options) for kind, flt in KIND_FILTERS.items()}
    counts = {k: v for k, v in counts.items() if v}
    counts["other"] = total(pcap, options) - sum(counts.values())
    return {k: v for k, v in counts.items() if v}


def fields(pcap: str | Path, names: list[str], options: tuple[str, ...] = ()) -> list[dict[str, list[str]]]:
    """Per frame, every occurrence of each named field (tshark -T json)."""
    out = _run(pcap, ["-T", "json", *[a for n in names for a in ("-e", n)]], options)
    frames = []
    for packet in json.loads(out or "[]"):
        layers = packet["_source"]["layers"]
        frames.append({name: layers.get(name, []) for name in names})
    return frames


def malformed_frames(pcap: str | Path, options: tuple[str, ...] = ()) -> list[int]:
    out = _run(pcap, ["-Y", "_ws.malformed || _ws.expert.severity == error", "-T", "fields",
                      "-e", "frame.number"], options)
    return [int(n) for n in out.split()]

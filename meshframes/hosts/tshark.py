"""tshark as the independent oracle for frame formats.

Debian's tshark 4.0 (installed by tools/bootstrap) reads our captures and
the third-party ones; tests compare its counts and field values with ours.
When tshark is missing this raises `TsharkMissing` with the fix, so a test
tier that needs it fails loudly instead of passing silently.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

# tshark 4.0: "frames carry an FCS" and do not verify checksums; the ns-3
# captures carry a zero FCS that would fail every check.
NS3_OPTIONS = ("-o", "wlan.check_fcs:TRUE", "-o", "wlan.check_checksum:FALSE")

# The tshark 4.0 fields that name each of our frame kinds (kind_of).
KIND_FIELDS = ("wlan.fc.type", "wlan.fc.type_subtype", "wlan.fixed.category_code",
               "wlan.fixed.selfprot_action", "wlan.fixed.mesh_action", "wlan.tag.number",
               "wlan.fixed.mesh_ttl", "wlan.fixed.action_code")
_MGMT_KINDS = {0x0008: "beacon", 0x0004: "probe-req", 0x0005: "probe-resp"}
_BLOCK_ACK_KINDS = {0: "addba-request", 1: "addba-response", 2: "delba"}
_PEERING_KINDS = {1: "peering-open", 2: "peering-confirm", 3: "peering-close"}
_PATH_SELECTION_KINDS = {130: "preq", 131: "prep", 132: "perr", 126: "rann"}


def kind_of(frame: dict[str, list[str]]) -> str:
    """One frame's kind from its tshark fields, by the analyzer's rules: an
    HWMP Mesh Path Selection frame is named after its first path selection
    element (so a frame carrying two counts once), a category with bit 7
    set is a returned action frame, a Block Ack action frame is named
    after its action (ADDBA Request, Response, DELBA), and mesh data is a data frame whose
    Mesh Control tshark decoded (Linux relays mesh data with the
    mesh-control-present bit clear, and tshark still finds the field)."""
    def first(name: str) -> int | None:
        values = frame.get(name) or []
        return int(values[0], 0) if values else None

    subtype = first("wlan.fc.type_subtype")
    if subtype in _MGMT_KINDS:
        return _MGMT_KINDS[subtype]
    category = first("wlan.fixed.category_code")
    selfprot_action = first("wlan.fixed.selfprot_action")
    if category == 15 and selfprot_action is not None and selfprot_action in _PEERING_KINDS:
        return _PEERING_KINDS[selfprot_action]
    block_ack_action = first("wlan.fixed.action_code") if category == 3 else None
    if block_ack_action is not None and block_ack_action in _BLOCK_ACK_KINDS:
        return _BLOCK_ACK_KINDS[block_ack_action]
    if category == 13 and first("wlan.fixed.mesh_action") == 2:
        return "gate-ann"
    if category == 13 and first("wlan.fixed.mesh_action") == 1:
        tags = (int(t, 0) for t in frame.get("wlan.tag.number") or [])
        return next((_PATH_SELECTION_KINDS[t] for t in tags if t in _PATH_SELECTION_KINDS), "other")
    if category is not None and category & 0x80:
        return "returned-action"
    if first("wlan.fc.type") == 2 and frame.get("wlan.fixed.mesh_ttl"):
        return "mesh-data"
    return "other"


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


def counts_by_kind(pcap: str | Path, options: tuple[str, ...] = ()) -> dict[str, int]:
    """Frame counts per kind as tshark sees them (kind_of), one tshark pass."""
    counts: dict[str, int] = {}
    for frame in fields(pcap, list(KIND_FIELDS), options):
        kind = kind_of(frame)
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def fields(pcap: str | Path, names: list[str], options: tuple[str, ...] = ()) -> list[dict[str, list[str]]]:
    """Per frame, every occurrence of each named field (tshark -T json)."""
    out = _run(pcap, ["-T", "json", *[a for n in names for a in ("-e", n)]], options)
    frames = []
    for packet in json.loads(out or "[]"):
        layers = packet["_source"]["layers"]
        frames.append({name: layers.get(name, []) for name in names})
    return frames


def element_octets(pcap: str | Path, element_id: int, options: tuple[str, ...] = (),
                   display_filter: str = "") -> dict[int, list[bytes]]:
    """Per frame number, the octets (Element ID and Length included) of each
    element `element_id` as tshark shows them (`wlan.tag_raw`), for layouts
    its fields read otherwise: ns-3's draft peering element."""
    out = _run(pcap, [*(("-Y", display_filter) if display_filter else ()), "-T", "json", "-x",
                      "--no-duplicate-keys"], options)
    found: dict[int, list[bytes]] = {}
    for packet in json.loads(out or "[]"):
        layers = packet["_source"]["layers"]
        tagged = layers.get("wlan.mgt", {}).get("wlan.tagged.all", {}).get("wlan.tag_raw", [])
        # One element is one [hex, offset, length, ...] entry, several a list of them.
        entries = [tagged] if tagged and isinstance(tagged[0], str) else tagged
        octets = [bytes.fromhex(entry[0]) for entry in entries]
        found[int(layers["frame"]["frame.number"])] = [e for e in octets if e and e[0] == element_id]
    return found


def malformed_frames(pcap: str | Path, options: tuple[str, ...] = ()) -> list[int]:
    out = _run(pcap, ["-Y", "_ws.malformed || _ws.expert.severity == error", "-T", "fields",
                      "-e", "frame.number"], options)
    return [int(n) for n in out.split()]


def personal_lua_plugins() -> Path | None:
    """Where this Wireshark loads a user's own Lua plugins from (`tshark -G
    folders`, "Personal Lua Plugins"); None when tshark is missing or does
    not say."""
    path = shutil.which("tshark")
    if path is None:
        return None
    result = subprocess.run([path, "-G", "folders"], capture_output=True, text=True, timeout=60)
    for line in result.stdout.splitlines():
        label, _, value = line.partition(":")
        if label.strip() == "Personal Lua Plugins" and value.strip():
            return Path(value.strip())
    return None


def key_options(entries: list[str]) -> tuple[str, ...]:
    """Options that make tshark decrypt with Wireshark's 802.11 key table
    records `entries` (`"tk","<hex>"`, as CaptureKeys.wireshark_entries
    gives them): repeated `-o uat:80211_keys:` options add up."""
    options: tuple[str, ...] = ("-o", "wlan.enable_decryption:TRUE")
    for entry in entries:
        options += ("-o", f"uat:80211_keys:{entry}")
    return options


_HEX_LINE = re.compile(r"^[0-9a-f]{4}  ")


def decrypted_bodies(pcap: str | Path, options: tuple[str, ...]) -> list[bytes | None]:
    """Per frame, the body tshark decrypted (its "Decrypted CCMP data" data
    source: the plaintext after the MAC header), None where it decrypted
    nothing."""
    out = _run(pcap, ["-x"], options)
    bodies: list[bytes | None] = []
    for block in out.strip("\n").split("\n\n"):
        _, found, rest = block.partition("Decrypted CCMP data")
        lines = rest.splitlines()[1:]
        bodies.append(bytes.fromhex("".join(line[6:54] for line in lines if _HEX_LINE.match(line)))
                      if found else None)
    return bodies

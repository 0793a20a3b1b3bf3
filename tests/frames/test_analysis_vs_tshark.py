"""`analyze`'s peering sessions, HWMP discoveries and PERRs against a
reading of tshark's fields, on the shared ns-3 and Linux captures and on
our own hwsim recordings (pcaps/).

The expected values are computed here from tshark's output alone (frame
times, addresses, action codes, HWMP and peering fields), by the rules
the analysis states in meshframes/analysis/sections.py; nothing of ours
decodes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meshframes.hosts import tshark
from meshframes.hosts.analyze import analyze_captures
from meshframes.layers.dissect import decode_mpdu

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = sorted([*ROOT.glob("pcaps/**/*.pcap"), *(ROOT.parent / "shared").glob("pcaps/**/*.pcap")])
FIELDS = ["frame.number", "frame.time_epoch", "wlan.ta", "wlan.ra", "wlan.fixed.category_code", "wlan.fixed.selfprot_action",
          "wlan.fixed.mesh_action", "wlan.tag.number", "wlan.hwmp.pdid", "wlan.hwmp.orig_sta",
          "wlan.hwmp.targ_sta", "wlan.hwmp.targ_sn", "wlan.hwmp.hopcount", "wlan.hwmp.metric",
          "wlan.fixed.reason_code", "wlan.tag.length", "wlan.peering.local_id", "wlan.peering.peer_id"]
BROADCAST = "ff:ff:ff:ff:ff:ff"
EID_PREQ, EID_PREP, EID_PERR = 130, 131, 132
EID_MESH_PEERING_MANAGEMENT = 117
OPEN, CONFIRM, CLOSE = 1, 2, 3
CATEGORY_SELF_PROTECTED, CATEGORY_MESH = 15, 13


def _options(path: Path) -> tuple[str, ...]:
    return tshark.NS3_OPTIONS if path.parent.name == "ns3" else ()


def _int(values: list[str]) -> int | None:
    return int(values[0], 0) if values else None


def tshark_frames(path: Path) -> list[dict[str, Any]]:
    """tshark's frames. Those it calls malformed stay in: ns-3's draft
    peering element is one (pcaps/ns3/README.md), and the fields read
    here come before it. ns-3's peering elements come as tshark shows
    their octets, under "peering_octets"."""
    frames = tshark.fields(path, FIELDS, _options(path))
    if path.parent.name == "ns3":
        octets = tshark.element_octets(path, EID_MESH_PEERING_MANAGEMENT, _options(path),
                                       f"wlan.fixed.category_code == {CATEGORY_SELF_PROTECTED}")
        for f in frames:
            f["peering_octets"] = octets.get(int(f["frame.number"][0]), [])
    return frames


def _link_ids(f: dict[str, Any]) -> tuple[int | None, int | None]:
    """A peering frame's Local and Peer Link IDs. tshark names them in the
    standard element (9.4.2.102); ns-3's draft element (a one-octet
    subtype, then Local and Peer Link ID) it reads a byte off, so those
    are taken from the element's octets."""
    if f.get("peering_octets"):
        body = f["peering_octets"][0][2:]
        peer = int.from_bytes(body[3:5], "little") if len(body) >= 5 else None
        return int.from_bytes(body[1:3], "little"), peer
    return _int(f["wlan.peering.local_id"]), _int(f["wlan.peering.peer_id"])


def peering_sessions(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    current: dict[tuple[str, str], dict[str, Any]] = {}
    sessions: list[dict[str, Any]] = []
    for f in frames:
        if _int(f["wlan.fixed.category_code"]) != CATEGORY_SELF_PROTECTED:
            continue
        action = _int(f["wlan.fixed.selfprot_action"])
        sender, receiver, t = f["wlan.ta"][0], f["wlan.ra"][0], float(f["frame.time_epoch"][0])
        link = (min(sender, receiver), max(sender, receiver))
        session = current.get(link)
        if action == OPEN:
            if session is None or session["closed"] is not None:
                session = current[link] = {"link": list(link), "opened": t, "opens": set(), "confirms": set(),
                                           "ids": {}, "answered": {}, "established": None, "closed": None,
                                           "closed_by": None, "reason": None}
                sessions.append(session)
            session["opens"].add(sender)
            session["ids"][sender] = _link_ids(f)[0]
        elif session is None or session["closed"] is not None:
            continue
        elif action == CONFIRM:
            session["confirms"].add(sender)
            # ESTAB when each side's Confirm answers the link ID the other
            # uses now (its latest Open or Confirm).
            local, peer = _link_ids(f)
            if peer is None:
                continue
            ids, answered = session["ids"], session["answered"]
            ids[sender], answered[sender] = local, peer
            if (session["established"] is None and receiver in answered and peer == ids.get(receiver)
                    and answered[receiver] == local):
                session["established"] = t
        elif action == CLOSE:
            session["closed"], session["closed_by"] = t, sender
            # 9.4.2.102: a standard Close's element is 8 or 24 octets long;
            # ns-3's draft element (7 octets: a one-octet subtype in place
            # of the two-octet protocol) tshark reads a byte off, so its
            # reason is not taken.
            lengths = dict(zip((int(n, 0) for n in f["wlan.tag.number"]), f["wlan.tag.length"], strict=True))
            standard = int(lengths[EID_MESH_PEERING_MANAGEMENT]) in (8, 24)
            session["reason"] = _int(f["wlan.fixed.reason_code"]) if standard else None
    return sessions


def _discoveries(frames: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    by_id: dict[tuple[str, int], dict[str, Any]] = {}
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    order: list[dict[str, Any]] = []
    perrs: list[dict[str, Any]] = []
    for f in frames:
        if _int(f["wlan.fixed.category_code"]) != CATEGORY_MESH or _int(f["wlan.fixed.mesh_action"]) != 1:
            continue
        tags = [int(n, 0) for n in f["wlan.tag.number"]]
        assert len(tags) == 1, "one path selection element per frame in these captures"
        t = float(f["frame.time_epoch"][0])
        if tags[0] == EID_PREQ:
            originator, pdid, targets = f["wlan.hwmp.orig_sta"][0], _int(f["wlan.hwmp.pdid"]), f["wlan.hwmp.targ_sta"]
            if all(target == BROADCAST for target in targets):
                continue
            if (originator, pdid) in by_id:
                by_id[(originator, pdid)]["preq_frames"] += 1
                continue
            d = by_id[(originator, pdid)] = {"originator": originator, "path_discovery_id": pdid,
                                             "targets": targets, "started": t, "preq_frames": 1,
                                             "first_prep": None, "answered": None, "hop_count": None,
                                             "metric": None, "next_hop": None}
            order.append(d)
            for target in targets:
                latest[(originator, target)] = d
        elif tags[0] == EID_PREP:
            d = latest.get((f["wlan.hwmp.orig_sta"][0], f["wlan.hwmp.targ_sta"][0]))
            if d is None:
                continue
            if d["first_prep"] is None:
                d["first_prep"] = t
            if d["answered"] is None and f["wlan.ra"][0] == d["originator"]:
                d["answered"], d["next_hop"] = t, f["wlan.ta"][0]
                d["hop_count"], d["metric"] = _int(f["wlan.hwmp.hopcount"]), _int(f["wlan.hwmp.metric"])
        elif tags[0] == EID_PERR:
            perrs.append({"time": t, "transmitter": f["wlan.ta"][0], "destinations": [
                {"address": a, "hwmp_sn": int(sn, 0), "reason": int(r, 0)} for a, sn, r in
                zip(f["wlan.hwmp.targ_sta"], f["wlan.hwmp.targ_sn"], f["wlan.fixed.reason_code"], strict=True)]})
    return order, perrs


def _close(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 2e-6)


@pytest.fixture(scope="module", params=CAPTURES, ids=lambda p: p.name)
def both(request: pytest.FixtureRequest) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    path: Path = request.param
    return analyze_captures([path], decode_mpdu).sections(), tshark_frames(path)


@pytest.mark.tshark
def test_peering_sessions_match_tshark(both: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    """Links, who opened and confirmed, when ESTAB came, who closed and
    (where tshark reads it) why."""
    ours, frames = both
    theirs = peering_sessions(frames)
    sessions = ours["peering_sessions"]["sessions"]
    assert [(s["link"], s["open_from"], s["confirm_from"], s["closed_by"]) for s in sessions] == [
        (s["link"], sorted(s["opens"]), sorted(s["confirms"]), s["closed_by"]) for s in theirs]
    for mine, other in zip(sessions, theirs, strict=True):
        assert _close(mine["opened"], other["opened"]) and _close(mine["established"], other["established"])
        assert _close(mine["closed"], other["closed"])
        if other["reason"] is not None:
            assert mine["close_reason"] == other["reason"]


@pytest.mark.tshark
def test_discoveries_and_perrs_match_tshark(both: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    """Each discovery's originator, ID, targets, PREQ copies, PREP times,
    hop count, metric and next hop; each PERR's transmitter and
    destinations."""
    ours, frames = both
    theirs, perrs = _discoveries(frames)
    discoveries = ours["hwmp_discoveries"]["discoveries"]
    keys = ("originator", "path_discovery_id", "targets", "preq_frames", "hop_count", "metric", "next_hop")
    assert [{k: d[k] for k in keys} for d in discoveries] == [{k: d[k] for k in keys} for d in theirs]
    for mine, other in zip(discoveries, theirs, strict=True):
        assert _close(mine["started"], other["started"]) and _close(mine["first_prep"], other["first_prep"])
        assert _close(mine["prep_reached_originator"], other["answered"])
    mine_perrs = ours["hwmp_discoveries"]["perrs"]
    assert [(p["transmitter"], p["destinations"]) for p in mine_perrs] == [
        (p["transmitter"], p["destinations"]) for p in perrs]
    assert all(_close(a["time"], b["time"]) for a, b in zip(mine_perrs, perrs, strict=True))


@pytest.mark.tshark
def test_the_captures_have_something_to_compare() -> None:
    """Across the captures there are sessions, closes, discoveries answered
    and unanswered, and PERRs: the comparisons above are not empty."""
    totals = {"sessions": 0, "closed": 0, "answered": 0, "unanswered": 0, "perrs": 0}
    for path in CAPTURES:
        sections = analyze_captures([path], decode_mpdu).sections()
        totals["sessions"] += len(sections["peering_sessions"]["sessions"])
        totals["closed"] += sum(s["closed"] is not None for s in sections["peering_sessions"]["sessions"])
        found = sections["hwmp_discoveries"]
        totals["answered"] += sum(d["prep_reached_originator"] is not None for d in found["discoveries"])
        totals["unanswered"] += found["unanswered"]
        totals["perrs"] += len(found["perrs"])
    assert all(count >= 3 for count in totals.values()), totals

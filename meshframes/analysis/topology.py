"""A mesh's topology from captures alone: the stations, who hears whom,
which links reached ESTAB (as `meshframes.analysis.doctor` reads them),
and the hops each flow of mesh data took.

"Hears" is what the frames prove: a station that sends a unicast frame
to another has heard it (a beacon, an Open, a PREQ), and a station whose
frame is answered by another's was heard by it. A radio that only
listens is never in the picture; two stations that never address each
other are not linked, though they may well be in range.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from meshframes.analysis.doctor import Doctor, LinkFinding
from meshframes.codec.errors import DecodeError
from meshframes.codec.frames import Beacon, DataFrame, VendorAction, decode
from meshframes.codec.header import FC_FROM_DS, FC_TO_DS
from meshframes.codec.meshctl import MeshControl

# Bounds, whatever the capture: stations tracked, (source, destination)
# flows tracked, distinct hops remembered per flow.
MAX_STATIONS = 4096
MAX_FLOWS = 16384
MAX_HOPS_PER_FLOW = 64



@dataclass(frozen=True, slots=True)
class Flow:
    """Mesh data from `source` to `destination` (mesh SA and DA), the hops
    that carried it (transmitter, receiver, frames) and, when the hops
    chain from source to destination, the path in order."""

    source: str
    destination: str
    frames: int
    hops: tuple[tuple[str, str, int], ...]
    path: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class MeshTopology:
    stations: dict[str, str | None]  # MAC -> the Mesh ID it beacons (None: none seen)
    hears: dict[tuple[str, str], int]  # (a, b) -> unicast frames a sent to b
    links: tuple[LinkFinding, ...]
    flows: tuple[Flow, ...]
    frames: int


def _chain(source: bytes, destination: bytes, hops: Counter[tuple[bytes, bytes]]) -> tuple[str, ...] | None:
    """The hops followed from source to destination, taking at each station
    the hop it used most; None when they do not lead there."""
    path, here = [source], source
    while here != destination:
        onward = [(count, rx) for (tx, rx), count in hops.items() if tx == here and rx not in path]
        if not onward:
            return None
        here = max(onward)[1]
        path.append(here)
    return tuple(a.hex(":") for a in path)


def _ends(header_fc: int, addr1: bytes, addr2: bytes, addr3: bytes, addr4: bytes | None,
          mc: MeshControl | None) -> tuple[bytes, bytes]:
    """(mesh SA, mesh DA) of an individually addressed mesh frame: A4 and
    A3 of a four-address data frame (9.3.5), A6 and A5 of a multihop
    action frame's Mesh Control (address extension mode 2), else the
    transmitter and receiver themselves (one hop)."""
    four_address = header_fc & FC_TO_DS and header_fc & FC_FROM_DS
    if four_address and addr4 is not None:
        return addr4, addr3
    if mc is not None and mc.addr5 is not None and mc.addr6 is not None:
        return mc.addr6, mc.addr5
    return addr2, addr1


class TopologyReader:
    """Feed it a capture's MPDUs (`add`), then `topology()`. State grows
    with stations and flows, within the bounds above."""

    def __init__(self) -> None:
        self._doctor = Doctor()
        self._stations: dict[bytes, bytes | None] = {}
        self._hears: Counter[tuple[bytes, bytes]] = Counter()
        self._flows: dict[tuple[bytes, bytes], Counter[tuple[bytes, bytes]]] = {}
        self._flow_frames: Counter[tuple[bytes, bytes]] = Counter()
        self._frames = 0

    def add(self, number: int, mpdu: bytes, t: float) -> None:
        self._frames += 1
        self._doctor.add(number, mpdu, t)
        try:
            frame = decode(mpdu)
        except DecodeError:
            return
        header = getattr(frame, "header", None)
        if header is None:
            return
        tx, rx = header.addr2, header.addr1
        if tx not in self._stations:
            if len(self._stations) >= MAX_STATIONS:
                return
            self._stations[tx] = None
        if isinstance(frame, Beacon) and frame.mesh_id is not None:
            self._stations[tx] = frame.mesh_id.mesh_id
        if rx[0] & 1:
            return
        self._hears[(tx, rx)] += 1
        if isinstance(frame, DataFrame) and frame.mesh_control is not None or isinstance(frame, VendorAction):
            ends = _ends(header.frame_control, rx, tx, header.addr3, header.addr4, frame.mesh_control)
            hops = self._flows.get(ends)
            if hops is None:
                if len(self._flows) >= MAX_FLOWS:
                    return
                hops = self._flows[ends] = Counter()
            self._flow_frames[ends] += 1
            if (tx, rx) in hops or len(hops) < MAX_HOPS_PER_FLOW:
                hops[(tx, rx)] += 1

    def topology(self) -> MeshTopology:
        diagnosis = self._doctor.diagnosis()
        known = {a.hex(":") for a in self._stations}
        stations = {a.hex(":"): (m.decode("utf-8", errors="backslashreplace") if m is not None else None)
                    for a, m in self._stations.items()}
        # Addressed, never heard: a station others send to though the
        # capture holds none of its frames.
        for _, b in self._hears:
            stations.setdefault(b.hex(":"), None)
        flows = tuple(
            Flow(source.hex(":"), destination.hex(":"), self._flow_frames[(source, destination)],
                 tuple(sorted((tx.hex(":"), rx.hex(":"), count) for (tx, rx), count in hops.items())),
                 _chain(source, destination, hops))
            for (source, destination), hops in sorted(self._flows.items()))
        links = tuple(link for link in diagnosis.links if link.a in known or link.b in known)
        return MeshTopology(stations, {(a.hex(":"), b.hex(":")): n for (a, b), n in sorted(self._hears.items())},
                            links, flows, self._frames)

"""`meshframes doctor` on recordings made fresh for it on hwsim radios,
each fault set up by its scenario (meshframes.hwsim.scenarios): the
recipe's cause for every link, and the kernel's own station state agreeing
with the doctor's reading of who peered."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.analysis.doctor import Cause, LinkFinding
from meshframes.cli.doctor import diagnose
from meshframes.hwsim.scenarios import Recording, kernel_sae_mismatch, kernel_trouble

from . import recorded

pytestmark = pytest.mark.hwsim
trouble = recorded(kernel_trouble)
mismatch = recorded(kernel_sae_mismatch)


def _findings(path: Path) -> dict[tuple[str, str], LinkFinding]:
    diagnosis, _, damage = diagnose([path])
    assert damage == []
    return {(f.a, f.b): f for f in diagnosis.links}


def test_each_fault_is_named(trouble: tuple[Recording, Path]) -> None:
    recording, path = trouble
    assert recording.delivered == {"n0->n1": 3, "n1->n0": 3}
    n0, n1, n2, n3, n4, _ = (node.mac for node in recording.nodes)
    found = _findings(path)
    causes = {pair: f.cause for pair, f in found.items()}
    # A healthy link is established and carried the payloads; on a loaded
    # host the kernels may also close and reopen it, which is not its fault.
    assert found[(n0, n1)].established and causes[(n0, n1)] in (Cause.OK, Cause.PEER_LEFT)
    assert {causes[(a, n2)] for a in (n0, n1)} | {causes[(n2, b)] for b in (n3, n4)} == {Cause.MESH_ID_MISMATCH}
    assert causes[(n0, n3)] is Cause.OPENS_IGNORED and causes[(n1, n3)] is Cause.OPENS_IGNORED
    assert causes[(n1, n4)] is Cause.NEITHER_OPENED
    assert causes[(n0, n4)] is Cause.PEER_LEFT and causes[(n3, n4)] is Cause.PEER_LEFT
    # What the kernels said before the recorder stopped: n3 never reached
    # ESTAB with the stations that block it.
    for node in ("n0", "n1"):
        station = recording.states[node]["stations"].get(n3)
        assert station is None or station.plink != "ESTAB"


def test_wrong_password_is_named(mismatch: tuple[Recording, Path]) -> None:
    recording, path = mismatch
    n0, n1, n2, _ = (node.mac for node in recording.nodes)
    found = _findings(path)
    assert found[(n0, n2)].cause is Cause.SAE_CONFIRM_FAILED and found[(n1, n2)].cause is Cause.SAE_CONFIRM_FAILED
    # The pair with the mesh's password peered (what it did next, under a
    # loaded host, may include a Close and a new peering).
    assert found[(n0, n1)].established
    stations = recording.states["n2"]["stations"]
    assert all(s.plink != "ESTAB" for s in stations.values()), stations

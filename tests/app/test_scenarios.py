"""FastPay over the simulated 802.11s mesh, end to end: real authority and
client engines on real SQLite stores, end-to-end sealing on, frames on the
deterministic medium. Each scenario ends with `check_ledger` (quorum
certificates re-verified, executions counted in the authorities' stores,
balances from the plan's arithmetic, money conserved). Time relations are
the ones the medium and protocol imply, never measured numbers."""

from __future__ import annotations

import random
from pathlib import Path

from meshframes.app.events import TransferCertified, TransferConfirmed, TransferStarted
from meshframes.app.party import AppConfig
from meshframes.codec import VendorAction, decode
from meshframes.codec.fastpay import FLAG_E2E_SEALED, MessageType
from meshframes.codec.header import is_group
from meshframes.hosts.pcap import mpdus
from meshframes.seal.e2e import SEALED_OVERHEAD
from meshframes.sim.medium import MediumConfig
from meshframes.sim.mobility import Waypoints
from meshframes.sim.scenario import FastPayMesh

from .ledger import Planned, check_ledger, schedule

RANGE = MediumConfig(radio_range=25.0)


def grid_mesh(tmp_path: Path, *, seed: int, authorities: int, accounts: int,
              authority_cells: list[tuple[int, int]], client_cells: list[tuple[int, int]],
              rows: int, cols: int, spacing: float = 20.0) -> FastPayMesh:
    """A rows x cols grid (spacing 20 m, range 25 m: only orthogonal
    neighbours hear each other); the named cells hold authorities and
    clients, the others plain mesh points."""
    mesh = FastPayMesh(tmp_path, seed=seed, authorities=authorities, balances=[100] * accounts, medium=RANGE)
    roles = {cell: "authority" for cell in authority_cells} | {cell: "client" for cell in client_cells}
    for r in range(rows):
        for c in range(cols):
            where = (c * spacing, r * spacing)
            role = roles.get((r, c))
            if role == "authority":
                mesh.add_authority(where)
            elif role == "client":
                mesh.add_client(where)
            else:
                mesh.add_relay(where)
    return mesh


def test_four_authorities_and_clients_across_a_multi_hop_mesh(tmp_path: Path) -> None:
    """f = 1: four authorities on one side of a 3 x 6 grid, four clients on
    the other, concurrent and chained transfers. Orders cross at least
    three hops; every transfer completes with a quorum certificate,
    executed by a quorum, credited to its recipient."""
    mesh = grid_mesh(tmp_path, seed=3, authorities=4, accounts=4, rows=3, cols=6,
                     authority_cells=[(0, 5), (1, 5), (2, 5), (1, 4)],
                     client_cells=[(0, 0), (2, 0), (1, 1), (0, 2)])
    plan = [Planned(0, 1, 10, 4.0), Planned(1, 2, 20, 4.0), Planned(2, 3, 5, 4.5), Planned(3, 0, 7, 5.0),
            Planned(0, 2, 15, 5.0), Planned(1, 0, 1, 6.0), Planned(0, 3, 30, 9.0)]
    schedule(mesh, plan)
    mesh.run(30.0)
    check_ledger(mesh, plan)
    far = mesh.hops_of(mesh.clients[0], mesh.authorities[0], MessageType.FASTPAY_ORDER)
    # (0, 0) to (0, 5): with only orthogonal neighbours, five hops at least.
    assert far and min(len(h) for h in far) >= 5
    assert {hop.ttl for hop in far[0]} == set(range(31, 31 - len(far[0]), -1))
    refusals = mesh.refusals()
    assert refusals["end-to-end"] == {} and refusals["application"] == {}


def test_seven_authorities_two_fail_mid_run(tmp_path: Path) -> None:
    """f = 2: seven authorities, two of them switched off while transfers
    are in flight. Every transfer still completes; those started after the
    failure are certified and confirmed without the failed two."""
    mesh = grid_mesh(tmp_path, seed=5, authorities=7, accounts=4, rows=3, cols=5,
                     authority_cells=[(0, 4), (1, 4), (2, 4), (0, 3), (2, 3), (1, 2), (0, 2)],
                     client_cells=[(0, 0), (1, 0), (2, 0), (2, 1)])
    failed_at = 8.0
    plan = [Planned(j, (j + 1) % 4, 3 + j, 4.0 + 0.5 * j) for j in range(4)]
    plan += [Planned(j, (j + 2) % 4, 2, failed_at) for j in range(4)]
    plan += [Planned(j, (j + 3) % 4, 1, 12.0) for j in range(4)]
    schedule(mesh, plan)
    for i in (1, 5):
        mesh.fail(mesh.authorities[i], failed_at)
    mesh.run(60.0)
    certs = check_ledger(mesh, plan)
    gone = {mesh.committee.authorities[i].name for i in (1, 5)}
    late = {(n, e.sequence_number) for n, e in mesh.timeline.of(TransferStarted) if e.time >= failed_at}
    assert len(late) == 8
    for j, seq in [(mesh.clients.index(n), s) for n, s in late]:
        assert not gone & {a for a, _ in certs[(j, seq)].signatures}


def seed_demo_mesh(tmp_path: Path, seed: int, relays: int) -> FastPayMesh:
    """The brief's seed demo: random waypoint over 150 x 120 m at 1-3 m/s,
    radio ranges drawn from 25-30 m; every node moves."""
    mesh = FastPayMesh(tmp_path, seed=seed, authorities=4, balances=[100] * 6)
    ranges = random.Random(seed)
    for add in [mesh.add_authority] * 4 + [mesh.add_client] * 6 + [mesh.add_relay] * relays:
        add(mesh.random_waypoint((150.0, 120.0), (1.0, 3.0)), radio_range=ranges.uniform(25.0, 30.0))
    return mesh


def test_moving_nodes_with_transfers_in_flight(tmp_path: Path) -> None:
    """Every node walks (random waypoint); transfers start over 30 s while
    paths break and reform. All complete; the frames of one client to one
    authority took different routes over the run."""
    mesh = seed_demo_mesh(tmp_path, seed=21, relays=10)
    plan = [Planned(j, (j + 1) % 6, 5, 4.0 + 2 * j) for j in range(6)]
    plan += [Planned(j, (j + 3) % 6, 2, 20.0 + 2 * j) for j in range(6)]
    schedule(mesh, plan)
    mesh.run(120.0)
    check_ledger(mesh, plan)
    routes = {(j, i): {tuple(h.node for h in hops) for hops in mesh.hops_of(mesh.clients[j], mesh.authorities[i])}
              for j in range(6) for i in range(4)}
    assert any(len(taken) > 1 for taken in routes.values())


def test_a_partition_heals_and_the_waiting_transfer_completes(tmp_path: Path) -> None:
    """A client's only link to the authorities is a walking bridge. It
    leaves after the first transfer (partition), a second transfer waits,
    and it completes only once the bridge is back in range of both sides."""
    mesh = FastPayMesh(tmp_path, seed=9, authorities=4, balances=[100, 100], medium=RANGE)
    payer = mesh.add_client((0.0, 0.0))
    mesh.add_relay((20.0, 0.0))
    mesh.add_relay((70.0, 0.0))
    for where in ((90.0, 0.0), (90.0, 20.0), (110.0, 0.0), (110.0, 20.0)):
        mesh.add_authority(where)
    mesh.add_client((110.0, -20.0))
    # Bridge at (45, 0), 25 m from both relays; leaves at 8 s, back at 48 s.
    speed, away, leave = 4.0, 80.0, 8.0
    mesh.add_relay(Waypoints([(45.0, 0.0), (45.0, away), (45.0, 0.0)], speed=speed, t0=leave))
    plan = [Planned(0, 1, 10, 3.0), Planned(0, 1, 20, 12.0)]
    schedule(mesh, plan)
    mesh.run(80.0)
    check_ledger(mesh, plan)
    # At (45, 0) the bridge is exactly at range from both relays: any step
    # away cuts the client off, and only its return reconnects it.
    back = leave + (2 * away) / speed
    certified = {e.sequence_number: e.time for _, e in mesh.timeline.of(TransferCertified, payer)}
    confirmed = {e.sequence_number: e.time for _, e in mesh.timeline.of(TransferConfirmed, payer)}
    assert confirmed[0] < leave
    assert back <= certified[1] <= confirmed[1]


def _fastpay_on_air(pcap: Path) -> list[VendorAction]:
    """Every FastPay frame in a capture of the air, decoded by the codec."""
    frames = [decode(mpdu) for _, mpdu, _ in mpdus(pcap)]
    return [f for f in frames if isinstance(f, VendorAction)]


def test_sealed_on_the_air_by_default_and_in_the_clear_when_turned_off(tmp_path: Path) -> None:
    """From a capture of the air: with the default configuration every
    unicast FastPay frame carries an end-to-end sealed payload and only
    announcements travel in the clear (flooded, or sent to one station
    whose path appeared: they are public either way); with sealing off
    nothing is sealed. Transfers complete either way."""
    plan = [Planned(0, 1, 10, 4.0), Planned(1, 0, 3, 5.0)]
    for seal in (True, False):
        pcap = tmp_path / f"air-{seal}.pcap"
        mesh = FastPayMesh(tmp_path / str(seal), seed=2, authorities=4, balances=[50, 50],
                           app=AppConfig(seal=seal), medium=RANGE, pcap=pcap)
        for x in range(6):
            (mesh.add_client if x in (0, 5) else mesh.add_authority)((x * 20.0, 0.0))
        schedule(mesh, plan)
        mesh.run(15.0)
        mesh.close()
        check_ledger(mesh, plan)
        on_air = _fastpay_on_air(pcap)
        announcements = [f for f in on_air if f.payload.msg_type == MessageType.FASTPAY_ANNOUNCE]
        unicast = [f for f in on_air if not is_group(f.header.addr1) and f not in announcements]
        group = [f for f in on_air if is_group(f.header.addr1)]
        assert unicast and group
        assert {f.payload.msg_type for f in group} == {MessageType.FASTPAY_ANNOUNCE}
        assert all(not f.payload.flags & FLAG_E2E_SEALED for f in announcements)
        assert all(bool(f.payload.flags & FLAG_E2E_SEALED) is seal for f in unicast)
        if seal:
            assert all(len(f.payload.data) >= SEALED_OVERHEAD for f in unicast)

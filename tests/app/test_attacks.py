"""Hostile stations on the simulated mesh: a relay that tampers with the
end-to-end sealed payloads it forwards, and a rogue station that sends
every kind of bad input. Both are detected and counted where they land,
and the honest transfers still complete."""

from __future__ import annotations

from pathlib import Path

from meshframes.app.authority_node import AuthorityNode
from meshframes.app.directory import Directory
from meshframes.app.events import SendPayload, TransferCertified, TransferConfirmed
from meshframes.app.framing import frame_message
from meshframes.app.transport import Transport, TransportRefusal
from meshframes.codec import DecodeError, VendorAction, decode
from meshframes.codec.fastpay import FastPayFragment, MessageType
from meshframes.codec.header import BROADCAST
from meshframes.fastpay.ed25519 import KeyPair
from meshframes.fastpay.messages import AccountInfoRequest, AccountInfoResponse, ConfirmationOrder
from meshframes.hosts.base import Radio, RxFrame
from meshframes.mesh.events import MeshRefusal
from meshframes.seal.e2e import FLAG_SEALED, E2EIdentity, E2ESealer
from meshframes.seal.errors import SealReason
from meshframes.sim.medium import MediumConfig
from meshframes.sim.network import sim_mac
from meshframes.sim.scenario import FastPayMesh, scenario_committee

from .helpers import announcement_of, certificate, order, vendor_frame, vote
from .ledger import Planned, check_ledger, schedule


class TamperingRadio:
    """A relay's radio that flips one ciphertext bit of every end-to-end
    sealed FastPay frame it forwards (its own frames it leaves alone)."""

    def __init__(self, radio: Radio) -> None:
        self.radio = radio
        self.tampered = 0

    @property
    def mac(self) -> bytes:
        return self.radio.mac

    def transmit(self, frame: bytes) -> None:
        try:
            decoded = decode(frame)
        except DecodeError:
            decoded = None
        if (isinstance(decoded, VendorAction) and decoded.payload.flags & FLAG_SEALED
                and decoded.mesh_control.addr_ext[1] != self.mac):
            # The fragment's data ends the frame: flip the first octet past
            # the sealed sender and sequence number.
            at = len(frame) - len(decoded.payload.data) + 40
            frame = frame[:at] + bytes((frame[at] ^ 0x80,)) + frame[at + 1:]
            self.tampered += 1
        self.radio.transmit(frame)

    def receive(self) -> list[RxFrame]:
        return self.radio.receive()

    def tx_reports(self) -> list:  # type: ignore[type-arg]
        return self.radio.tx_reports()  # type: ignore[attr-defined,no-any-return]


def test_a_tampering_relay_is_detected_and_the_transfer_completes_without_it(tmp_path: Path) -> None:
    """Authority 3 is reachable only through a relay that tampers. Every
    frame it alters fails the seal at authority 3 (counted one for one);
    authority 3 never votes; the other three are a quorum, reached over
    clean paths, and the transfers complete."""
    mesh = FastPayMesh(tmp_path, seed=11, authorities=4, balances=[100, 100],
                       medium=MediumConfig(radio_range=25.0))
    tamperer: list[TamperingRadio] = []

    def tampering(radio: Radio) -> Radio:
        tamperer.append(TamperingRadio(radio))
        return tamperer[0]

    mesh.add_client((0.0, 0.0))
    mesh.add_relay((20.0, 0.0))
    for where in ((40.0, 0.0), (60.0, 0.0), (40.0, 20.0)):
        mesh.add_authority(where)
    mesh.add_relay((0.0, 20.0), wrap_radio=tampering)
    mesh.add_authority((0.0, 40.0))
    mesh.add_client((60.0, 20.0))
    plan = [Planned(0, 1, 10, 4.0), Planned(1, 0, 3, 5.0), Planned(0, 1, 1, 9.0)]
    schedule(mesh, plan)
    mesh.run(30.0)
    certs = check_ledger(mesh, plan)
    victim = mesh.authority(3)
    assert tamperer[0].tampered > 0
    assert victim.transport.refusals() == {SealReason.E2E_AUTH_FAILURE: tamperer[0].tampered}
    assert victim.engine.accepted == {} and victim.engine.store.all_votes() == []
    assert all(victim.identity not in {a for a, _ in c.signatures} for c in certs.values())


def test_rogue_stations_are_refused_at_every_turn(tmp_path: Path) -> None:
    """Two rogue stations: one seals with a key of its own and sends
    garbage, a vote to an authority, a confirmation without a quorum, an
    info request for sequence number 2^64 - 1 (past what SQLite holds),
    and certificates without a quorum or for someone else to a client; the
    other sends in the clear: another committee's announcements and an
    order. Each lands as a refusal with its reason, counted once; nothing
    crashes; the honest transfers complete."""
    mesh = FastPayMesh(tmp_path, seed=12, authorities=4, balances=[100, 100],
                       medium=MediumConfig(radio_range=25.0))
    rogue_key = KeyPair.from_seed(b"\x66" * 32)
    rogue_mac = sim_mac(len(mesh.net.nodes) + 6)
    # The sealing rogue's own transport: it seals what it sends with its key.
    rogue = Transport(rogue_mac, E2ESealer(E2EIdentity(rogue_key.seed), initial_sequence=1),
                      Directory(mesh.committee, rogue_key.public_key))

    mesh.add_client((0.0, 0.0))
    for x in (20.0, 40.0, 60.0, 80.0):
        mesh.add_authority((x, 0.0))
    victim = mesh.add_client((100.0, 0.0))
    sealed_rogue = mesh.add_relay((50.0, 20.0))
    assert mesh.node(sealed_rogue).mac == rogue_mac
    clear_rogue = mesh.add_relay((30.0, -20.0))
    target = mesh.authorities[1]
    to_target, to_victim = mesh.node(target).mac, mesh.node(victim).mac
    # The rogue knows where its targets are, as their announcements say.
    victim_id = mesh.account_ids[1].public_key
    rogue.directory.on_announcement(
        to_target, announcement_of(mesh.authority_ids[1].public_key, mesh.committee), 0.0)
    rogue.directory.on_announcement(to_victim, announcement_of(victim_id, mesh.committee), 0.0)
    stranger, _, strangers = scenario_committee(99, [1], [5])
    theirs = order(strangers[0], strangers[0], 1, 0)
    to_victim_order = order(strangers[0], mesh.account_ids[1], 1, 0)
    no_quorum = certificate(theirs, signers=[])
    sent = {
        sealed_rogue: [
            (to_target, (MessageType.FASTPAY_ORDER, b"\x00\x00\x00\x00garbage")),
            (to_target, frame_message(vote(theirs))),
            (to_target, frame_message(ConfirmationOrder(transfer_certificate=no_quorum))),
            (to_target, frame_message(AccountInfoRequest(sender=mesh.account_ids[0].public_key,
                                                         request_sequence_number=2**64 - 1))),
            (to_victim, frame_message(certificate(to_victim_order, signers=[]))),
            (to_victim, frame_message(certificate(theirs))),
        ],
        clear_rogue: [
            (BROADCAST, frame_message(stranger.announcement(stranger.authorities[0].name))),
            (BROADCAST, frame_message(stranger.announcement(stranger.authorities[0].name))),
            (to_target, frame_message(theirs)),
        ],
    }

    def speak(node: int, where: bytes, msg_type: int, payload: bytes, message_id: int) -> None:
        host = mesh.node(node).host
        if node == sealed_rogue:
            fragments = rogue.send(where, msg_type, payload)
            assert isinstance(fragments, list)
        else:
            fragments = [SendPayload(where, FastPayFragment(msg_type, 0, message_id, 0, 1, payload))]
        for fragment in fragments:
            host.send_payload(fragment.destination, fragment.payload)

    for node, messages in sent.items():
        for k, (where, (msg_type, payload)) in enumerate(messages):
            mesh.net.at(6.0 + 0.5 * k, lambda n=node, w=where, t=msg_type, p=payload, k=k: speak(n, w, t, p, k))
    plan = [Planned(0, 1, 10, 5.0), Planned(1, 0, 4, 10.0)]
    schedule(mesh, plan)
    mesh.run(30.0)
    check_ledger(mesh, plan)
    assert rogue.sealed == 6 and rogue.refusals() == {}
    for node, party in mesh.parties.items():
        assert party.app.refused["announce-wrong-committee"] == 2, node
    authority = mesh.parties[target].app
    assert isinstance(authority, AuthorityNode)
    assert (authority.refused["undecodable"], authority.refused["unexpected-message"],
            authority.refused["e2e-required"]) == (1, 1, 1)
    assert authority.engine.rejections["CertificateRequiresQuorum"] == 1
    assert authority.engine.rejections["CertificateNotfound"] == 1
    client = mesh.parties[victim].app
    assert (client.refused["bad-certificate"], client.refused["certificate-not-for-us"]) == (1, 1)


def _one_hop_mesh_with_a_rogue(tmp_path: Path) -> tuple[FastPayMesh, int, list[int], int]:
    """Two clients and four authorities all in range of a rogue relay:
    (mesh, payer, authorities, rogue)."""
    mesh = FastPayMesh(tmp_path, seed=5, authorities=4, balances=[100, 100],
                       medium=MediumConfig(radio_range=25.0))
    payer = mesh.add_client((0.0, 0.0))
    auths = [mesh.add_authority(w) for w in ((20.0, 0.0), (20.0, 10.0), (10.0, 15.0), (0.0, 20.0))]
    mesh.add_client((10.0, -10.0))
    return mesh, payer, auths, mesh.add_relay((5.0, 5.0))


def _inject_cleartext_as_sealed(mesh: FastPayMesh, rogue: int, claimed_source: bytes, message: object,
                                seq: int, mesh_da: bytes = bytes.fromhex("029999999999")) -> None:
    """What e2e_bypass did: a cleartext FastPay frame with flags bit 0
    ("sealed") set, group-addressed (A1 broadcast), naming a station that
    does not exist as mesh DA (or, given `mesh_da`, a group) and
    `claimed_source` as mesh SA."""
    msg_type, payload = frame_message(message)
    forged = FastPayFragment(msg_type, FLAG_SEALED, seq & 0xFFFF, 0, 1, payload)
    mesh.node(rogue).host.radio.transmit(
        vendor_frame(forged, ra=BROADCAST, ta=mesh.node(rogue).mac, da=mesh_da, sa=claimed_source, seq=seq))


def test_cleartext_under_the_sealed_flag_is_never_taken_as_sealed(tmp_path: Path) -> None:
    """Once the client holds its certificate, authorities 1-3 go down and a
    mesh member forges their acknowledgements in the clear under the
    sealed flag, each twice: naming a station as mesh DA, which the
    forwarder refuses in a group-addressed frame, and naming the group,
    which the mesh delivers and the transport refuses (sealed fragments
    are never taken from a group). So the client never counts a quorum
    that did not execute; a forged info request "from the client" gets
    no answer either."""
    mesh, payer, auths, rogue = _one_hop_mesh_with_a_rogue(tmp_path)
    mesh.transfer(0, 1, 10, 5.0)
    host = mesh.parties[payer].host
    inner = host.on_event

    def on_event(event: object) -> None:
        inner(event)  # type: ignore[misc]
        if isinstance(event, TransferCertified):
            for i in (1, 2, 3):
                mesh.net.medium.set_alive(auths[i], False)

    host.on_event = on_event
    payer_id = mesh.account_ids[0].public_key

    def forge() -> None:
        for mesh_da, base in ((bytes.fromhex("029999999999"), 0x7100_0000), (BROADCAST, 0x7300_0000)):
            for k, i in enumerate((1, 2, 3)):
                ack = AccountInfoResponse(sender=payer_id, balance=90, next_sequence_number=1)
                _inject_cleartext_as_sealed(mesh, rogue, mesh.node(auths[i]).mac, ack, base + k, mesh_da)
            _inject_cleartext_as_sealed(mesh, rogue, mesh.node(payer).mac, AccountInfoRequest(sender=payer_id),
                                        base + 0x10_0000, mesh_da)

    mesh.net.at(6.0, forge)
    mesh.run(20.0)
    assert mesh.timeline.of(TransferCertified, payer)
    assert not mesh.timeline.of(TransferConfirmed, payer)
    assert len(mesh.executed_by(payer_id, 0)) < mesh.committee.quorum_threshold
    # The payer drops the forged request under its own MAC as its own
    # frame come back; the authority still up hears all four of each.
    for node, forged in ((payer, 3), (mesh.authorities[0], 4)):
        assert mesh.node(node).node.counters[MeshRefusal.GROUP_FRAME_UNICAST_MESH_DA] == forged, node
        assert mesh.parties[node].app.transport.refusals()[TransportRefusal.E2E_SEALED_GROUP] == forged, node
    assert mesh.authority(0).engine.accepted["info"] == 0


def test_throwaway_identities_cannot_take_over_an_authoritys_station(tmp_path: Path) -> None:
    """A mesh member seals frames to the client with identities of its own
    and authorities 1 and 2's stations as mesh SA, before, during and after
    a transfer. The seals verify, but those stations belong to the
    authorities by their announcements: the frames are dropped and
    counted, the client's directory keeps both authorities, and the
    transfer completes."""
    mesh, payer, auths, rogue = _one_hop_mesh_with_a_rogue(tmp_path)
    throwaways = {i: KeyPair.from_seed(bytes([0x40 + i]) * 32) for i in (1, 2)}
    sealers = {i: E2ESealer(E2EIdentity(k.seed), initial_sequence=1) for i, k in throwaways.items()}
    payer_mac, payer_id = mesh.node(payer).mac, mesh.account_ids[0].public_key
    sent = [0]

    def hijack() -> None:
        for i in (1, 2):
            sent[0] += 1
            msg_type, payload = frame_message(AccountInfoRequest(sender=throwaways[i].public_key))
            station = mesh.node(auths[i]).mac
            plain = FastPayFragment(msg_type, 0, 0x4000 + sent[0], 0, 1, payload)
            sealed = sealers[i].seal_fragment(payer_id, plain, payer_mac, station)
            mesh.node(rogue).host.radio.transmit(vendor_frame(sealed, ra=payer_mac, ta=mesh.node(rogue).mac,
                                                              da=payer_mac, sa=station, seq=0x7400_0000 + sent[0]))

    for at in (3.9, 4.0005, 30.0):
        mesh.net.at(at, hijack)
    mesh.transfer(0, 1, 10, 4.0)
    mesh.run(40.0)
    directory = mesh.client(0).directory
    for i in (1, 2):
        assert directory.mac_of(mesh.authority_ids[i].public_key) == mesh.node(auths[i]).mac
        assert directory.mac_of(throwaways[i].public_key) is None
    assert mesh.timeline.of(TransferConfirmed, payer)
    refusals = mesh.client(0).transport.refusals()
    assert refusals[TransportRefusal.E2E_SENDER_NOT_AT_SOURCE] == sent[0] == 6

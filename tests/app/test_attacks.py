"""Hostile stations on the simulated mesh: a relay that tampers with the
end-to-end sealed payloads it forwards, and a rogue station that sends
every kind of bad input. Both are detected and counted where they land,
and the honest transfers still complete."""

from __future__ import annotations

from pathlib import Path

from meshframes.app.authority_node import AuthorityNode
from meshframes.app.directory import Directory
from meshframes.app.e2e import E2ELink
from meshframes.app.framing import frame_message
from meshframes.app.scenario import FastPayMesh, scenario_committee
from meshframes.codec.fastpay import MessageType
from meshframes.codec.header import BROADCAST
from meshframes.fastpay.ed25519 import KeyPair
from meshframes.fastpay.messages import AccountInfoRequest, ConfirmationOrder
from meshframes.radio.base import Radio, RxFrame
from meshframes.seal.e2e import FLAG_SEALED, E2EIdentity, E2ESealer, parse_fastpay_frame
from meshframes.seal.errors import NotFastPay, Reason as SealReason
from meshframes.sim.medium import MediumConfig
from meshframes.sim.network import sim_mac

from .helpers import certificate, order, vote
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
            layout = parse_fastpay_frame(frame)
        except NotFastPay:
            layout = None
        if layout is not None and layout.flags & FLAG_SEALED and layout.source != self.mac:
            at = layout.payload_offset + 40  # past the sealed sender and sequence number
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
    [link] = [layer for layer in mesh.parties[mesh.authorities[3]].driver.runtime.layers
              if isinstance(layer, E2ELink)]
    assert link.refusals() == {SealReason.E2E_AUTH_FAILURE: tamperer[0].tampered}
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
    links = [E2ELink(rogue_mac, E2ESealer(E2EIdentity(rogue_key.seed), initial_sequence=1),
                     Directory(mesh.committee, rogue_key.public_key), mesh.net.clock)]

    mesh.add_client((0.0, 0.0))
    for x in (20.0, 40.0, 60.0, 80.0):
        mesh.add_authority((x, 0.0))
    victim = mesh.add_client((100.0, 0.0))
    sealed_rogue = mesh.add_relay((50.0, 20.0), layers=links)
    assert mesh.node(sealed_rogue).mac == rogue_mac
    clear_rogue = mesh.add_relay((30.0, -20.0))
    target = mesh.authorities[1]
    to_target, to_victim = mesh.node(target).mac, mesh.node(victim).mac
    links[0].directory.learn_authenticated(mesh.authority_ids[1].public_key, to_target, 0.0)
    links[0].directory.learn_authenticated(mesh.account_ids[1].public_key, to_victim, 0.0)
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
    for rogue, messages in sent.items():
        runtime = mesh.node(rogue).runtime
        for k, (where, (msg_type, payload)) in enumerate(messages):
            mesh.net.at(6.0 + 0.5 * k, lambda r=runtime, w=where, t=msg_type, p=payload: r.send_app(w, p, t))
    plan = [Planned(0, 1, 10, 5.0), Planned(1, 0, 4, 10.0)]
    schedule(mesh, plan)
    mesh.run(30.0)
    check_ledger(mesh, plan)
    assert links[0].sealed == 6
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

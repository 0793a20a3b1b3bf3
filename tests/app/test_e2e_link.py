"""End-to-end sealing in the parties' transport: what a party sends to one
station is sealed per fragment for the identity the directory binds to
it, what is delivered to it is opened, relays forward what they cannot
open, and every refusal is counted by reason. Frames are built by the
struct codec, read back by the Scapy layers and opened by the seal
library."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
from mesh.helpers import ListRadio, ManualClock, take_as_established

import meshframes  # noqa: F401  (registers our Scapy layers)
from meshframes.app.directory import Directory
from meshframes.app.events import SendPayload
from meshframes.app.transport import Dropped, Received, Transport, TransportConfig, TransportRefusal
from meshframes.codec import VendorAction, decode
from meshframes.codec.fastpay import FLAG_E2E_SEALED, FastPayFragment, MessageType
from meshframes.codec.header import BROADCAST
from meshframes.codec.pathsel import Preq, PreqTarget
from meshframes.fastpay.committee import Identity
from meshframes.mesh.constants import MeshConfig
from meshframes.mesh.events import Deliver, RxFrame, Transmit
from meshframes.mesh.forward import Forwarder
from meshframes.mesh.mbss import path_selection
from meshframes.mesh.node import MeshNode
from meshframes.seal.e2e import SEALED_OVERHEAD
from meshframes.seal.errors import SealReason

from .helpers import ACCOUNTS, AUTHORITIES, COMMITTEE, announcement_of, sealer_of, vendor_frame

CLIENT, RELAY, AUTH0, AUTH1 = (bytes.fromhex(f"02000000000{i}") for i in range(1, 5))
ORDER = MessageType.FASTPAY_ORDER


def _transport(mac: bytes, party: Identity, config: TransportConfig | None = None) -> Transport:
    """The transport of `party` at `mac`, its directory holding the others'
    announcements."""
    directory = Directory(COMMITTEE, party.public_key)
    for identity, where in ((AUTHORITIES[0].public_key, AUTH0), (AUTHORITIES[1].public_key, AUTH1),
                            (ACCOUNTS[0].public_key, CLIENT)):
        if identity != party.public_key:
            directory.on_announcement(where, announcement_of(identity), 0.0)
    return Transport(mac, sealer_of(party), directory, config)


def parties(config: TransportConfig | None = None) -> tuple[Transport, Transport, Transport]:
    return _transport(CLIENT, ACCOUNTS[0], config), _transport(AUTH0, AUTHORITIES[0]), _transport(AUTH1, AUTHORITIES[1])


def send_one(sender: Transport, destination: bytes, message: bytes, msg_type: int = ORDER) -> FastPayFragment:
    """The one fragment `sender` hands the mesh for `message`."""
    sent = sender.send(destination, msg_type, message)
    assert not isinstance(sent, Dropped), sent
    [one] = sent
    assert one.destination == destination
    return one.payload


def test_a_message_we_originate_is_sealed_for_its_destination_and_opened_there() -> None:
    """The Scapy layers read the sealed frame as our identity's payload
    (56 octets of overhead); the authority opens it to the original
    message and learns who sealed it; it confirms the binding the client's
    announcement made."""
    from meshframes.layers import FastPayHeader, FastPaySealed
    from meshframes.layers.dissect import decode_mpdu

    client, auth0, _ = parties()
    message = b"order bytes" * 10
    sealed = send_one(client, AUTH0, message)
    assert sealed.flags & FLAG_E2E_SEALED and message not in sealed.data
    plain = vendor_frame(FastPayFragment(ORDER, 0, sealed.message_id, 0, 1, message),
                         ra=RELAY, ta=CLIENT, da=AUTH0, sa=CLIENT)
    on_air = vendor_frame(sealed, ra=RELAY, ta=CLIENT, da=AUTH0, sa=CLIENT)
    assert len(on_air) == len(plain) + SEALED_OVERHEAD
    decoded = decode_mpdu(on_air)
    assert decoded.kind == "fastpay-order" and decoded.malformed is None
    assert decoded.packet[FastPaySealed].sender == ACCOUNTS[0].public_key
    assert int(decoded.packet[FastPayHeader].flags) & 1
    frame = decode(on_air)
    assert isinstance(frame, VendorAction)
    got = auth0.receive(Forwarder.delivery(frame), 1.0)
    assert got == Received(CLIENT, ORDER, message, ACCOUNTS[0].public_key)
    assert auth0.directory.binding(ACCOUNTS[0].public_key).authenticated_at == 1.0  # type: ignore[union-attr]
    assert (client.sealed, auth0.opened, auth0.unannounced) == (1, 1, 0)


def learn(node: MeshNode, via: bytes, dst: bytes) -> None:
    """Give `node` a path to `dst` through `via` the way HWMP learns one: a PREQ."""
    element = Preq(0, 0, 31, 1, dst, 5, 4882, 0, (PreqTarget(0, bytes(6), 0),))
    node.receive(path_selection(BROADCAST, via, element), RxFrame(b"", 0.0, -50, 60), 0.0)


def test_relays_pass_what_is_not_theirs_and_group_messages_go_in_the_clear() -> None:
    """A relay's mesh node forwards a sealed fragment for another station
    octet for octet and hands nothing up, and the destination opens what
    the relay sent; announcements (group) leave unsealed and are taken in
    the clear; nothing is refused anywhere."""
    client, auth0, _ = parties()
    relay = MeshNode(RELAY, MeshConfig())
    for peer in (CLIENT, AUTH0):
        take_as_established(relay.peers, peer)
    learn(relay, AUTH0, AUTH0)
    sealed = send_one(client, AUTH0, b"x" * 40)
    actions = relay.receive(decode(vendor_frame(sealed, ra=RELAY, ta=CLIENT, da=AUTH0, sa=CLIENT)),
                            RxFrame(b"", 1.0, -50, 60), 1.0)
    assert not [a for a in actions if isinstance(a, Deliver)]
    [forwarded] = [a.frame for a in actions if isinstance(a, Transmit)]
    assert isinstance(forwarded, VendorAction) and forwarded.header.addr1 == AUTH0
    assert forwarded.payload == sealed
    assert isinstance(auth0.receive(Forwarder.delivery(forwarded), 1.0), Received)
    announce = send_one(client, BROADCAST, b"a" * 80, MessageType.FASTPAY_ANNOUNCE)
    assert announce.flags == 0 and announce.data == b"a" * 80
    heard = auth0.receive(Deliver(CLIENT, BROADCAST, announce, group=True), 1.0)
    assert heard == Received(CLIENT, MessageType.FASTPAY_ANNOUNCE, b"a" * 80, None)
    assert client.refusals() == Counter() and auth0.refusals() == Counter()


def _refused_at(receiver: Transport, delivery: Deliver) -> Counter[str]:
    assert isinstance(receiver.receive(delivery, 1.0), Dropped)
    return receiver.refusals()


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes((data[at] ^ 0x01,)) + data[at + 1:]


@pytest.mark.parametrize("where", ["ciphertext", "tag", "message type", "fragment number", "mesh SA"])
def test_tampering_anywhere_the_seal_covers_is_refused(where: str) -> None:
    """A relay that changes the payload, the FastPay header or the
    end-to-end addresses is caught at the destination (e2e-auth-failure)."""
    client, auth0, _ = parties()
    sealed = send_one(client, AUTH0, b"y" * 60)
    source = CLIENT
    if where == "ciphertext":
        sealed = replace(sealed, data=_flip(sealed.data, 40 + 3))
    elif where == "tag":
        sealed = replace(sealed, data=_flip(sealed.data, len(sealed.data) - 1))
    elif where == "message type":
        sealed = replace(sealed, msg_type=sealed.msg_type ^ 0x01)
    elif where == "fragment number":
        sealed = replace(sealed, fragment_number=sealed.fragment_number ^ 0x01)
    else:
        source = _flip(CLIENT, 5)
    assert _refused_at(auth0, Deliver(source, AUTH0, sealed)) == Counter({SealReason.E2E_AUTH_FAILURE: 1})


def test_a_message_rerouted_to_another_authority_or_replayed_is_refused() -> None:
    client, auth0, auth1 = parties()
    sealed = send_one(client, AUTH0, b"z" * 60)
    assert _refused_at(auth1, Deliver(CLIENT, AUTH1, sealed)) == Counter({SealReason.E2E_AUTH_FAILURE: 1})
    assert isinstance(auth0.receive(Deliver(CLIENT, AUTH0, sealed), 1.0), Received)
    assert _refused_at(auth0, Deliver(CLIENT, AUTH0, sealed)) == Counter({SealReason.E2E_REPLAY: 1})


def test_never_sent_in_the_clear_and_never_opened_from_a_group() -> None:
    client, auth0, _ = parties()
    stranger = bytes.fromhex("02000000ffff")
    assert client.send(stranger, ORDER, b"q" * 20) == Dropped(TransportRefusal.E2E_NO_IDENTITY, stranger.hex(":"))
    assert client.refusals() == Counter({TransportRefusal.E2E_NO_IDENTITY: 1})
    sealed = send_one(client, AUTH0, b"q" * 20)
    refused = _refused_at(auth0, Deliver(CLIENT, BROADCAST, sealed, group=True))
    assert refused == Counter({TransportRefusal.E2E_SEALED_GROUP: 1})


def test_a_sealed_flag_nobody_opens_never_reaches_us() -> None:
    """Cleartext with flags bit 0 set, group-addressed (A1 broadcast) and
    naming some other station as mesh DA: delivered as the mesh hands up
    a group frame, the transport refuses it rather than pass it unopened
    (e2e-sealed-group)."""
    _, auth0, _ = parties()
    forged = FastPayFragment(ORDER, FLAG_E2E_SEALED, 7, 0, 1, b"cleartext ack" * 4)
    frame = decode(vendor_frame(forged, ra=BROADCAST, ta=CLIENT, da=bytes.fromhex("029999999999"), sa=CLIENT))
    assert isinstance(frame, VendorAction)
    delivery = Forwarder.delivery(frame)
    assert isinstance(delivery, Deliver) and delivery.group
    assert _refused_at(auth0, delivery) == Counter({TransportRefusal.E2E_SEALED_GROUP: 1})
    assert auth0.opened == 0


def test_a_throwaway_identity_cannot_speak_for_an_announced_station() -> None:
    """A party seals with its own key but names authority 1's station as
    mesh SA: the seal verifies (it is that party's), but the directory
    knows the station as authority 1, so the fragment is dropped and the
    binding stays; a station nobody announced yet is delivered under the
    sealer's identity and binds nothing."""
    _, auth0, _ = parties()
    rogue = sealer_of(ACCOUNTS[2])
    plain = FastPayFragment(ORDER, 0, 7, 0, 1, b"r" * 30)
    lying = rogue.seal_fragment(AUTHORITIES[0].public_key, plain, AUTH0, AUTH1)
    refused = _refused_at(auth0, Deliver(AUTH1, AUTH0, lying))
    assert refused == Counter({TransportRefusal.E2E_SENDER_NOT_AT_SOURCE: 1})
    assert auth0.directory.identity_of(AUTH1) == AUTHORITIES[1].public_key
    fresh = bytes.fromhex("020000000077")
    unknown = auth0.receive(Deliver(fresh, AUTH0, rogue.seal_fragment(AUTHORITIES[0].public_key, plain, AUTH0,
                                                                       fresh)), 1.0)
    assert unknown == Received(fresh, ORDER, b"r" * 30, ACCOUNTS[2].public_key)
    assert auth0.directory.identity_of(fresh) is None and auth0.unannounced == 1


def test_each_fragment_is_sealed_on_its_own_and_reassembles() -> None:
    """Three fragments sealed separately open and reassemble to the message;
    a fragment moved to another position fails its seal."""
    client, auth0, _ = parties(TransportConfig(max_fragment_payload=300 + SEALED_OVERHEAD))
    message = bytes(range(256)) * 3
    sent = client.send(AUTH0, ORDER, message)
    assert not isinstance(sent, Dropped) and len(sent) == 3 and client.sealed == 3
    assert len({s.payload.data[32:40] for s in sent}) == 3  # a sequence number of its own each
    got = [auth0.receive(Deliver(CLIENT, AUTH0, s.payload), 1.0) for s in sent]
    assert got == [None, None, Received(CLIENT, ORDER, message, ACCOUNTS[0].public_key)]
    again = client.send(AUTH0, ORDER, message)
    assert not isinstance(again, Dropped)
    moved = replace(again[0].payload, fragment_number=2)
    assert _refused_at(auth0, Deliver(CLIENT, AUTH0, moved)) == Counter({SealReason.E2E_AUTH_FAILURE: 1})


def test_a_message_of_many_fragments_is_sealed_per_fragment_within_the_frame_limit() -> None:
    """A party's transport leaves room for the seal in every fragment: a
    7,000-octet message (a certificate of ~70 signatures) goes out as
    sealed frames no larger than a management frame allows, through both
    hosts and mesh nodes, and is delivered whole at the other end."""
    from meshframes.codec.fastpay import MAX_MGMT_BODY
    from meshframes.hosts.node import NodeHost

    client, auth0, _ = parties()
    clock = ManualClock(1.0)
    nodes = {mac: MeshNode(mac, MeshConfig()) for mac in (CLIENT, AUTH0)}
    take_as_established(nodes[CLIENT].peers, AUTH0)
    take_as_established(nodes[AUTH0].peers, CLIENT)
    radios = {mac: ListRadio(mac, clock) for mac in nodes}
    delivered: list[Deliver] = []
    hosts = {mac: NodeHost(nodes[mac], radios[mac], clock, on_deliver=delivered.append) for mac in nodes}
    message = bytes(range(256)) * 27 + b"end"
    sent = client.send(AUTH0, MessageType.FASTPAY_CERTIFICATE, message)
    assert not isinstance(sent, Dropped)
    for one in sent:
        assert isinstance(one, SendPayload)
        hosts[CLIENT].send_payload(one.destination, one.payload)
    air: list[bytes] = []
    for _ in range(20):
        clock.t += 0.05
        for mac, other in ((CLIENT, AUTH0), (AUTH0, CLIENT)):
            hosts[mac].poll()
            air += [d for _, d in radios[mac].sent]
            radios[other].inbox += [RxFrame(d, clock.t, -40, 540) for _, d in radios[mac].sent]
            radios[mac].sent.clear()
    fastpay = [f for f in map(decode, air) if isinstance(f, VendorAction)]
    assert len(fastpay) == client.sealed >= 4
    assert all(f.payload.flags & FLAG_E2E_SEALED for f in fastpay)
    assert max(len(d) - 24 for d in air if isinstance(decode(d), VendorAction)) <= MAX_MGMT_BODY
    got = [auth0.receive(d, clock.t) for d in delivered]
    assert auth0.opened == client.sealed
    assert [g for g in got if g is not None] == [
        Received(CLIENT, MessageType.FASTPAY_CERTIFICATE, message, ACCOUNTS[0].public_key)]

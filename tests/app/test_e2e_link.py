"""End-to-end sealing between the node and its radio: what a node
originates is sealed per fragment for the identity at the mesh DA, what
is addressed to it is opened, relays pass what they cannot open, and every
refusal is counted by reason. Frames are built by the struct codec, read
back by the Scapy layers and opened by the seal library."""

from __future__ import annotations

from collections import Counter

import pytest

import meshframes  # noqa: F401  (registers our Scapy layers)
from meshframes.app.directory import Directory
from meshframes.app.e2e import E2E_NO_IDENTITY, E2E_SEALED_GROUP, E2E_SENDER_NOT_AT_SOURCE, E2ELink
from meshframes.codec import MeshControl, VendorAction, decode, encode
from meshframes.codec.fastpay import FLAG_E2E_SEALED, MessageType, Reassembled, Reassembler, fragment
from meshframes.codec.frames import CATEGORY_VENDOR
from meshframes.codec.header import BROADCAST
from meshframes.codec.meshctl import AE_A5_A6
from meshframes.hosts.runtime import Opened
from meshframes.mesh.constants import MeshConfig
from meshframes.mesh.events import Refused
from meshframes.mesh.mbss import Mbss, action_header
from meshframes.seal.e2e import SEALED_OVERHEAD, E2EIdentity, E2ESealer
from meshframes.seal.errors import Reason

from .helpers import ACCOUNTS, AUTHORITIES, COMMITTEE, announcement_of

CLIENT, RELAY, AUTH0, AUTH1 = (bytes.fromhex(f"02000000000{i}") for i in range(1, 5))


class Clock:
    def __init__(self) -> None:
        self.t = 1.0

    def now(self) -> float:
        return self.t


def _link(mac: bytes, seed: bytes, own: bytes) -> E2ELink:
    directory = Directory(COMMITTEE, own)
    for identity, where in ((AUTHORITIES[0].public_key, AUTH0), (AUTHORITIES[1].public_key, AUTH1),
                            (ACCOUNTS[0].public_key, CLIENT)):
        if identity != own:
            directory.on_announcement(where, announcement_of(identity), 0.0)
    return E2ELink(mac, E2ESealer(E2EIdentity(seed), initial_sequence=1), directory, Clock())


def parties() -> tuple[E2ELink, E2ELink, E2ELink]:
    return (_link(CLIENT, ACCOUNTS[0].keypair.seed, ACCOUNTS[0].public_key),
            _link(AUTH0, AUTHORITIES[0].keypair.seed, AUTHORITIES[0].public_key),
            _link(AUTH1, AUTHORITIES[1].keypair.seed, AUTHORITIES[1].public_key))


def frame(payload: bytes, *, ra: bytes = RELAY, ta: bytes = CLIENT, da: bytes = AUTH0, sa: bytes = CLIENT,
          msg_type: int = MessageType.FASTPAY_ORDER, number: int = 0, count: int = 1, msg_id: int = 7,
          seq: int = 1) -> bytes:
    """A FastPay frame as the forwarder lays it out (Mesh Control A5/A6)."""
    return encode(VendorAction(action_header(ra, ta), CATEGORY_VENDOR, MeshControl(AE_A5_A6, 31, seq, (da, sa)),
                               msg_type, 0, msg_id, number, count, payload))


def test_a_frame_we_originate_is_sealed_for_its_destination_and_opened_there() -> None:
    """The Scapy layers read the sealed frame as our identity's payload
    (56 octets of overhead); the authority opens it to the original
    payload (flags bit 0 clear) and reports who sealed it beside the frame;
    it confirms the binding the client's announcement made."""
    from meshframes.layers import FastPayHeader, FastPaySealed
    from meshframes.layers.dissect import decode_mpdu

    client, auth0, _ = parties()
    plain = frame(b"order bytes" * 10)
    sealed = client.protect(plain)
    assert isinstance(sealed, bytes) and len(sealed) == len(plain) + SEALED_OVERHEAD
    decoded = decode_mpdu(sealed)
    assert decoded.kind == "fastpay-order" and decoded.malformed is None
    assert decoded.packet[FastPaySealed].sender == ACCOUNTS[0].public_key
    assert int(decoded.packet[FastPayHeader].flags) & 1
    opened = auth0.unprotect(sealed)
    assert isinstance(opened, Opened) and opened.sender == ACCOUNTS[0].public_key
    got = decode(opened.mpdu)
    assert isinstance(got, VendorAction) and got.payload == b"order bytes" * 10
    assert got.flags == 0
    assert auth0.directory.binding(ACCOUNTS[0].public_key).authenticated_at == 1.0  # type: ignore[union-attr]
    assert (client.sealed, auth0.opened, auth0.unannounced) == (1, 1, 0)


def test_relays_pass_what_is_not_theirs_and_other_frames_pass_untouched() -> None:
    client, auth0, _ = parties()
    relay = _link(RELAY, b"\x33" * 32, b"\x44" * 32)
    sealed = client.protect(frame(b"x" * 40))
    assert isinstance(sealed, bytes)
    forwarded = frame(b"x" * 40, ra=AUTH0, ta=RELAY)  # a frame relayed by RELAY: its mesh SA is CLIENT
    assert relay.unprotect(sealed) == sealed and relay.protect(forwarded) == forwarded
    beacon = encode(Mbss(CLIENT, MeshConfig()).beacon(1.0, 0))
    announce = frame(b"a" * 80, ra=BROADCAST, da=BROADCAST, msg_type=MessageType.FASTPAY_ANNOUNCE)
    for mpdu in (beacon, announce):
        assert client.protect(mpdu) == mpdu and auth0.unprotect(mpdu) == mpdu
    assert client.refusals() == Counter() and relay.refusals() == Counter()


def _refused_at(receiver: E2ELink, mpdu: bytes) -> Counter[str]:
    assert isinstance(receiver.unprotect(mpdu), Refused)
    return receiver.refusals()


@pytest.mark.parametrize("where", ["ciphertext", "tag", "message type", "fragment number", "mesh SA"])
def test_tampering_anywhere_the_seal_covers_is_refused(where: str) -> None:
    """A relay that changes the payload, the FastPay header or the
    end-to-end addresses is caught at the destination (e2e-auth-failure)."""
    client, auth0, _ = parties()
    sealed = bytearray(client.protect(frame(b"y" * 60)))  # type: ignore[arg-type]
    header = 24 + 1 + 3 + 18
    offset = {"ciphertext": header + 7 + 40 + 3, "tag": len(sealed) - 1, "message type": header + 1,
              "fragment number": header + 5, "mesh SA": 24 + 4 + 6 + 6 + 5}[where]
    sealed[offset] ^= 0x01
    assert _refused_at(auth0, bytes(sealed)) == Counter({Reason.E2E_AUTH_FAILURE: 1})


def test_a_frame_rerouted_to_another_authority_or_replayed_is_refused() -> None:
    client, auth0, auth1 = parties()
    sealed = client.protect(frame(b"z" * 60))
    assert isinstance(sealed, bytes)
    rerouted = bytearray(sealed)
    rerouted[24 + 4 + 6: 24 + 4 + 12] = AUTH1  # mesh DA
    rerouted[4:10] = AUTH1
    assert _refused_at(auth1, bytes(rerouted)) == Counter({Reason.E2E_AUTH_FAILURE: 1})
    assert isinstance(auth0.unprotect(sealed), Opened)
    assert _refused_at(auth0, sealed) == Counter({Reason.E2E_REPLAY: 1})


def test_never_sent_in_the_clear_and_never_opened_from_a_group() -> None:
    client, auth0, _ = parties()
    stranger = bytes.fromhex("02000000ffff")
    assert client.protect(frame(b"q" * 20, da=stranger)) == Refused(E2E_NO_IDENTITY, stranger.hex(":"))
    assert client.refusals() == Counter({E2E_NO_IDENTITY: 1})
    sealed = bytearray(client.protect(frame(b"q" * 20)))  # type: ignore[arg-type]
    sealed[24 + 4 + 6: 24 + 4 + 12] = BROADCAST
    assert _refused_at(auth0, bytes(sealed)) == Counter({E2E_SEALED_GROUP: 1})


def test_a_sealed_flag_nobody_opens_never_reaches_us() -> None:
    """Cleartext with flags bit 0 set, group-addressed (A1 broadcast) and
    naming some other station as mesh DA: the forwarder would have handed
    every node a group frame, so the e2e layer refuses it rather than pass
    it unopened (e2e-sealed-group)."""
    _, auth0, _ = parties()
    forged = bytearray(frame(b"cleartext ack" * 4, ra=BROADCAST, da=bytes.fromhex("029999999999")))
    forged[24 + 4 + 18 + 2] |= FLAG_E2E_SEALED
    assert _refused_at(auth0, bytes(forged)) == Counter({E2E_SEALED_GROUP: 1})
    assert auth0.opened == 0


def test_a_throwaway_identity_cannot_speak_for_an_announced_station() -> None:
    """A party seals with its own key but names authority 1's station as
    mesh SA: the seal verifies (it is that party's), but the directory
    knows the station as authority 1, so the frame is dropped and the
    binding stays; a station nobody announced yet is delivered under the
    sealer's identity and binds nothing."""
    _, auth0, _ = parties()
    rogue = E2ESealer(E2EIdentity(ACCOUNTS[2].keypair.seed), initial_sequence=1)
    lying = rogue.seal_frame(AUTHORITIES[0].public_key, frame(b"r" * 30, sa=AUTH1, ta=AUTH1))
    assert _refused_at(auth0, lying) == Counter({E2E_SENDER_NOT_AT_SOURCE: 1})
    assert auth0.directory.identity_of(AUTH1) == AUTHORITIES[1].public_key
    fresh = bytes.fromhex("020000000077")
    unknown = auth0.unprotect(rogue.seal_frame(AUTHORITIES[0].public_key, frame(b"r" * 30, sa=fresh, ta=fresh)))
    assert isinstance(unknown, Opened) and unknown.sender == ACCOUNTS[2].public_key
    assert auth0.directory.identity_of(fresh) is None and auth0.unannounced == 1


def test_each_fragment_is_sealed_on_its_own_and_reassembles() -> None:
    """Three fragments sealed separately open and reassemble to the message;
    a fragment moved to another position fails its seal."""
    client, auth0, _ = parties()
    message = bytes(range(256)) * 3
    parts = fragment(message, 300)
    sealed = [client.protect(frame(p, number=n, count=len(parts), seq=10 + n)) for n, p in enumerate(parts)]
    reassembler = Reassembler()
    got = None
    for mpdu in sealed:
        opened = decode(auth0.unprotect(mpdu).mpdu)  # type: ignore[union-attr]
        assert isinstance(opened, VendorAction)
        got = reassembler.add(CLIENT, opened.message_id, opened.msg_type, opened.flags, opened.fragment_number,
                              opened.fragment_count, opened.payload, 1.0)
    assert isinstance(got, Reassembled) and got.message == message
    moved = bytearray(client.protect(frame(parts[0], number=0, count=len(parts), seq=20)))  # type: ignore[arg-type]
    moved[24 + 4 + 18 + 5] = 2
    assert _refused_at(auth0, bytes(moved)) == Counter({Reason.E2E_AUTH_FAILURE: 1})


def test_a_message_of_many_fragments_is_sealed_per_fragment_within_the_frame_limit() -> None:
    """A node sending through its e2e layer leaves room for the seal in every
    fragment: a 7,000-octet message (a certificate of ~70 signatures) goes
    out as sealed frames no larger than a management frame allows and is
    delivered whole at the other end, through both runtimes' layers."""
    from meshframes.codec.fastpay import MAX_MGMT_BODY
    from meshframes.hosts.base import RxFrame
    from meshframes.hosts.runtime import NodeRuntime
    from meshframes.mesh.node import MeshNode
    from meshframes.sim.replay import ListRadio, ManualClock, take_as_established

    client, auth0, _ = parties()
    clock = ManualClock(1.0)
    client.clock = auth0.clock = clock
    nodes = {mac: MeshNode(mac, MeshConfig()) for mac in (CLIENT, AUTH0)}
    take_as_established(nodes[CLIENT].peers, AUTH0)
    take_as_established(nodes[AUTH0].peers, CLIENT)
    radios = {mac: ListRadio(mac, clock) for mac in nodes}
    delivered: list = []
    runtimes = {mac: NodeRuntime(nodes[mac], radios[mac], clock, layers=[link], on_deliver=delivered.append)
                for mac, link in ((CLIENT, client), (AUTH0, auth0))}
    message = bytes(range(256)) * 27 + b"end"
    runtimes[CLIENT].send_app(AUTH0, message, MessageType.FASTPAY_CERTIFICATE, reserve=SEALED_OVERHEAD)
    air: list[bytes] = []
    for _ in range(20):
        clock.t += 0.05
        for mac, other in ((CLIENT, AUTH0), (AUTH0, CLIENT)):
            runtimes[mac].poll()
            air += [d for _, d in radios[mac].sent]
            radios[other].inbox += [RxFrame(d, clock.t, -40, 540) for _, d in radios[mac].sent]
            radios[mac].sent.clear()
    fastpay = [d for d in air if isinstance(decode(d), VendorAction)]
    assert len(fastpay) == client.sealed >= 4 and auth0.opened == client.sealed
    assert all(decode(d).flags & FLAG_E2E_SEALED for d in fastpay)
    assert max(len(d) - 24 for d in fastpay) <= MAX_MGMT_BODY
    assert [d.payload for d in delivered] == [message]
    assert (delivered[0].sealed_by, delivered[0].flags) == (ACCOUNTS[0].public_key, 0)

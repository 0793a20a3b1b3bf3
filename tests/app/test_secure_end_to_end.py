"""Both layers of the seed's "dual-layer security" at once: a secure mesh
(AMPE peering, CCMP per hop) carrying end-to-end sealed FastPay messages.
On the air every FastPay frame is CCMP-protected; once a hop opens it,
the payload is still sealed end to end; transfers complete."""

from __future__ import annotations

from pathlib import Path

from meshframes.codec import VendorAction, decode
from meshframes.codec.fastpay import FLAG_E2E_SEALED
from meshframes.hosts.pcap import mpdus
from meshframes.mesh.constants import MeshConfig
from meshframes.seal import ccmp
from meshframes.seal.errors import HopError, SealReason
from meshframes.seal.hop import HopSealer
from meshframes.sim.medium import MediumConfig
from meshframes.sim.scenario import FastPayMesh

from .ledger import Planned, check_ledger, schedule


def test_fastpay_is_sealed_end_to_end_inside_ccmp(tmp_path: Path) -> None:
    pcap = tmp_path / "air.pcap"
    mesh = FastPayMesh(tmp_path, seed=21, authorities=4, balances=[100, 100], pcap=pcap,
                       medium=MediumConfig(radio_range=25.0),
                       mesh=MeshConfig(mesh_id=b"meshframes", passphrase="dual layer passphrase"))
    mesh.add_client((0.0, 0.0))
    mesh.add_relay((20.0, 0.0))
    for where in ((40.0, 0.0), (40.0, 20.0), (60.0, 0.0), (60.0, 20.0)):
        mesh.add_authority(where)
    mesh.add_client((80.0, 0.0))
    plan = [Planned(0, 1, 10, 5.0), Planned(1, 0, 4, 6.0)]
    schedule(mesh, plan)
    mesh.run(25.0)
    mesh.net.close()
    check_ledger(mesh, plan)

    # Open every frame the client's relay received from the client with the
    # MTK the relay holds for that link, as a per-hop receiver does.
    client, relay = mesh.net.nodes[0], mesh.net.nodes[1]
    mtk = relay.node.rsn.link_key(client.mac)
    assert mtk is not None
    opener = HopSealer(relay.mac)
    opener.keys.install_pairwise(client.mac, mtk)
    from_client = [m for _, m, _ in mpdus(pcap) if m[10:16] == client.mac and m[4:10] == relay.mac]
    clear = [m for m in from_client if not m[1] & ccmp.FC1_PROTECTED]
    # Only beacons, probe requests and responses, and peering
    # (self-protected, category 15) frames travel in the clear, as 802.11
    # requires.
    assert all(m[0] in (0x80, 0x40, 0x50) or (m[0] == 0xD0 and m[24] == 15) for m in clear)
    protected = [m for m in from_client if m[1] & ccmp.FC1_PROTECTED]
    fastpay = []
    for mpdu in protected:
        try:
            plain = opener.open(mpdu)
        except HopError as error:
            assert error.reason == SealReason.REPLAY  # a retransmission the relay already had
            continue
        frame = decode(plain)
        if isinstance(frame, VendorAction) and frame.mesh_control.addr6 == client.mac:
            fastpay.append(frame)
    assert fastpay, "the client's FastPay frames were not found under CCMP"
    assert all(f.category == 126 and f.payload.flags & FLAG_E2E_SEALED for f in fastpay)

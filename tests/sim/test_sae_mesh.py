"""A secure mesh whose pairs authenticate with SAE (MeshConfig.sae): on
the simulated medium each pair runs SAE in Authentication frames, AMPE
is keyed by the PMK that pair's SAE yielded (Chosen PMK = SAE's PMKID, AKM
00-0F-AC:8), and then CCMP protects every hop, as wpa_supplicant's mesh
does. A station with another passphrase fails SAE, counted, and never
peers."""

from __future__ import annotations

from pathlib import Path

from meshframes.codec import ManagementFrame, SelfProtected, decode
from meshframes.codec.elements import AUTH_SAE, EID_RSN
from meshframes.codec.header import SUBTYPE_AUTHENTICATION
from meshframes.codec.ie import find_raw
from meshframes.codec.sae import SaeCommitBody, SaeConfirmBody, parse_sae
from meshframes.hosts.pcap import mpdus
from meshframes.hosts.service import NodeSettings, Role, mesh_config
from meshframes.mesh.constants import MeshConfig
from meshframes.mesh.events import MeshRefusal
from meshframes.mesh.mbss import RSNE_BODY_SAE
from meshframes.mesh.rsn import MESH_AUTH_RETRY, MESH_AUTH_TIMEOUT
from meshframes.seal.errors import SaeRefusal
from meshframes.seal.sae import DOT11_RSNA_SAE_SYNC
from meshframes.sim.network import SimNetwork, chain, sim_mac

from .test_secure_mesh import assert_delivered_once, security_refusals, traffic

SAE_MESH = MeshConfig(passphrase="meshframes-sae-passphrase", sae=True)


def test_sae_chain_authenticates_peers_with_ampe_and_delivers(tmp_path: Path) -> None:
    """Three stations in a line: SAE Commit and Confirm each way on both
    links, then AMPE whose Chosen PMK is the link's SAE PMKID, then every
    order and vote delivered exactly once over CCMP."""
    pcap = tmp_path / "sae.pcap"
    net = chain(3, 20.0, mesh=SAE_MESH, pcap=pcap)
    sent = traffic(net, 3.0)
    net.run(4.5)
    net.close()
    assert net.established_links() == 4
    assert_delivered_once(net, sent)
    assert security_refusals(net) == {}
    frames = [decode(mpdu) for _, mpdu, _ in mpdus(pcap)]
    sae = [(f.header.addr2, f.header.addr1, parse_sae(f.body)) for f in frames
           if isinstance(f, ManagementFrame) and f.header.subtype == SUBTYPE_AUTHENTICATION]
    for a, b in ((0, 1), (1, 0), (1, 2), (2, 1)):
        kinds = [type(m) for src, dst, m in sae if src == sim_mac(a) and dst == sim_mac(b)]
        assert SaeCommitBody in kinds and SaeConfirmBody in kinds, (a, b, kinds)
    nodes = {n.mac: n for n in net.nodes}
    for frame in frames:
        if isinstance(frame, SelfProtected) and frame.peering is not None:
            src, dst = frame.header.addr2, frame.header.addr1
            rsn = nodes[src].node.rsn
            assert rsn is not None and frame.peering.pmkid == rsn.sae_pmks[dst][1]
            assert find_raw(frame.elements, EID_RSN).data == RSNE_BODY_SAE  # type: ignore[union-attr]
            assert frame.mesh_config is not None and frame.mesh_config.authentication_protocol == AUTH_SAE


WRONG_PASSPHRASE = MeshConfig(passphrase="not-the-mesh-passphrase", sae=True)


def pair(until: float, second: MeshConfig = SAE_MESH, pcap: Path | None = None) -> SimNetwork:
    """Two stations of the SAE mesh 20 m apart, the second with `second`,
    run for `until` seconds."""
    net = SimNetwork(1, mesh=SAE_MESH, pcap=pcap)
    net.add_node((0.0, 0.0))
    net.add_node((20.0, 0.0), config=second)
    net.run(until)
    net.close()
    return net


def test_a_station_with_another_passphrase_fails_sae_and_never_peers() -> None:
    """Both sides see their peer's Confirm fail, count it, give up on SAE
    and never send a peering frame."""
    net = pair(3.0, WRONG_PASSPHRASE)
    assert net.established_links() == 0
    for node in net.nodes:
        assert node.node.counters[SaeRefusal.CONFIRM_MISMATCH] >= 1
        assert node.node.rsn is not None and node.node.rsn.sae_pmks == {}


def _node_config(passphrase: str) -> MeshConfig:
    """The mesh `meshframes node --passphrase PASSPHRASE` runs on its radio."""
    return mesh_config(NodeSettings(Role.RELAY, "mon0", passphrase=passphrase))


def test_node_processes_with_mismatched_passphrases_never_link() -> None:
    """Two nodes configured as `meshframes node` configures them: with the
    same passphrase they authenticate with SAE and peer; with different
    ones each counts the Confirm that failed and no link comes up."""
    for second, links in (("meshframes node passphrase", 2), ("another node passphrase", 0)):
        net = SimNetwork(2, mesh=_node_config("meshframes node passphrase"))
        net.add_node((0.0, 0.0))
        net.add_node((20.0, 0.0), config=_node_config(second))
        net.run(3.0)
        net.close()
        assert net.established_links() == links
        for node in net.nodes:
            assert node.node.config.sae
            mismatches = node.node.counters[SaeRefusal.CONFIRM_MISMATCH]
            assert (mismatches >= 1) == (links == 0), (second, mismatches)


def _sae_frames(pcap: Path) -> list[tuple[float, bytes, type]]:
    """(time, sender, message class) of every SAE frame in the capture."""
    frames = [(t, decode(mpdu)) for t, mpdu, _ in mpdus(pcap)]
    return [(t, f.header.addr2, type(parse_sae(f.body))) for t, f in frames
            if isinstance(f, ManagementFrame) and f.header.subtype == SUBTYPE_AUTHENTICATION]


def test_a_neighbour_with_another_passphrase_is_retried_then_blocked_not_flooded(tmp_path: Path) -> None:
    """Two minutes beside a station with another passphrase: each side
    makes its first attempt and MESH_AUTH_RETRY retries, then blocks the
    other; the air then carries no more SAE, however many beacons follow."""
    pcap = tmp_path / "wrong.pcap"
    net = pair(120.0, WRONG_PASSPHRASE, pcap)
    assert net.established_links() == 0
    for node in net.nodes:
        counters = node.node.counters
        assert counters[MeshRefusal.SAE_ATTEMPT_FAILED] == 1 + MESH_AUTH_RETRY
        assert counters[MeshRefusal.SAE_PEER_BLOCKED] == 1
        assert counters[MeshRefusal.SAE_BLOCKED] >= 1
    # the last retry fails at the latest this long after the first attempt,
    # each retry starting at the first beacon after its timer
    last_block = (1 + MESH_AUTH_RETRY) * (2 * MESH_AUTH_TIMEOUT + SAE_MESH.beacon_interval)
    sae = _sae_frames(pcap)
    # per side: its own attempts and its answers to the other's, each a
    # Commit and a Confirm with their dot11RSNASAESync retransmissions
    per_side = (1 + MESH_AUTH_RETRY) * 2 * 2 * (1 + DOT11_RSNA_SAE_SYNC)
    for node in net.nodes:
        assert 0 < sum(1 for _, sender, _ in sae if sender == node.mac) <= per_side
    assert max(t for t, _, _ in sae) < last_block + 1.0


def test_two_honest_nodes_peer_on_their_first_attempt(tmp_path: Path) -> None:
    """Thirty seconds of two stations with the same passphrase: SAE
    completes on the first attempt, the link comes up, and nothing is
    retried, backed off or blocked."""
    pcap = tmp_path / "honest.pcap"
    net = pair(30.0, pcap=pcap)
    assert net.established_links() == 2
    counters = net.counters()
    for reason in (MeshRefusal.SAE_ATTEMPT_FAILED, MeshRefusal.SAE_BACKING_OFF, MeshRefusal.SAE_PEER_BLOCKED):
        assert counters[reason] == 0, reason
    commits = [t for t, _, kind in _sae_frames(pcap) if kind is SaeCommitBody]
    assert commits and max(commits) - min(commits) < 1.0

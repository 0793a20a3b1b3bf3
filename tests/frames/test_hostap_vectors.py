"""hostap's hwsim peering frame (test_mesh_mpm_init_proto) decodes with the
values hostap put in it and re-encodes byte for byte."""

from __future__ import annotations

from pathlib import Path

from scapy.layers.dot11 import Dot11, Dot11Elt

from meshframes.layers import MeshConfiguration, MeshID, MeshPeeringManagement, PeeringClose, PeeringOpen
from meshframes.layers.dissect import decode_mpdu

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "hostap-mesh-frames.txt"


def _vectors() -> dict[str, bytes]:
    out = {}
    for line in VECTORS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, hexbytes = line.split()
            out[name] = bytes.fromhex(hexbytes)
    return out


def _open_frame() -> bytes:
    v = _vectors()
    order = "hdr fixed_open supp_rates ext_supp_rates mesh_id mesh_conf mpm_open ht_capab ht_oper"
    return b"".join(v[name] for name in order.split())


def test_peering_open_decodes_with_hostaps_values():
    frame = _open_frame()
    result = decode_mpdu(frame)
    assert result.kind == "peering-open"
    assert result.malformed is None and result.undecoded is None
    pkt = result.packet
    assert pkt.addr1 == "02:00:00:00:00:00"
    assert pkt.addr2 == pkt.addr3 == "02:00:00:00:01:00"
    assert pkt[PeeringOpen].capability == 0
    assert pkt[MeshID].mesh_id == b"wpas-mesh-open"
    conf = pkt[MeshConfiguration]
    assert (conf.path_selection_protocol, conf.path_selection_metric, conf.congestion_control_mode,
            conf.synchronization_method, conf.authentication_protocol) == (1, 1, 0, 1, 0)
    assert int(conf.mesh_capability) == 0x09
    mpm = pkt[MeshPeeringManagement]
    assert mpm.mesh_peering_protocol == 0
    assert mpm.local_link_id == 0x9D07
    assert mpm.peer_link_id is None and mpm.reason_code is None


def test_peering_open_reencodes_byte_identically():
    frame = _open_frame()
    assert bytes(Dot11(frame)) == frame


def test_peering_open_rebuilt_from_fields_is_identical():
    """Build the elements from their field values alone (lengths computed),
    so the encoder is checked, not only the dissector's byte cache."""
    v = _vectors()
    rebuilt = (
        MeshID(mesh_id=b"wpas-mesh-open")
        / MeshConfiguration(synchronization_method=1, mesh_capability=0x09)
        / MeshPeeringManagement(mesh_peering_protocol=0, local_link_id=0x9D07)
    )
    assert bytes(rebuilt) == v["mesh_id"] + v["mesh_conf"] + v["mpm_open"]


def test_close_element_from_hostaps_notes():
    """75 08 0000 <plid> <llid> 3700: protocol, local and peer link ID,
    reason 55 (MESH-CLOSE-RCVD), in a Peering Close frame."""
    v = _vectors()
    element = bytes.fromhex("7508" "0000" "079d" "3412" "3700")
    frame = v["hdr"] + bytes.fromhex("0f03") + v["mesh_id"] + element
    result = decode_mpdu(frame)
    assert result.kind == "peering-close" and result.malformed is None
    mpm = result.packet[MeshPeeringManagement]
    assert (mpm.local_link_id, mpm.peer_link_id, mpm.reason_code) == (0x9D07, 0x1234, 55)
    assert result.packet.haslayer(PeeringClose)
    assert bytes(Dot11(frame)) == frame


def test_mesh_elements_keep_their_lengths_exactly():
    """An element whose Length disagrees with the standard is malformed with
    the got/expected numbers, not silently reinterpreted."""
    v = _vectors()
    bad_conf = bytes.fromhex("7106010100010000")  # Length 6, the element is 7
    frame = v["hdr"] + v["fixed_open"] + v["mesh_id"] + bad_conf + v["mpm_open"]
    result = decode_mpdu(frame)
    assert result.malformed == "Mesh Configuration: Length 6, expected 7"
    assert isinstance(Dot11(frame)[Dot11Elt], Dot11Elt)

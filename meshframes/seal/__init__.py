"""Sealing for meshframes: CCMP per hop, FastPay payloads end to end.

Everything works on MPDU bytes (from Frame Control, no FCS, no radiotap) and
is sans-IO: no sockets, no clock reads, no Scapy. docs/sealing.md has the
design. The mesh engines use all of this themselves when their MeshConfig
has a passphrase (`meshframes.mesh.rsn`); the short version of what they do:

Secure mesh, per node::

    pmk = derive_pmk(passphrase, mesh_id)
    hop = HopSealer(own_mac)
    hop.keys.install_group_tx(own_mgtk := GroupKey.generate())

Peering (AMPE): send a fresh nonce in the AMPE element (139,
`AmpeElement`), with the MGTK and its Key RSC in an Open's GTKdata,
protected by `seal_ampe(derive_aek(...))`; check a received element with
`open_ampe`, `AmpeElement.parse` and `check_nonces`; when the link is
established::

    hop.keys.install_pairwise(peer, derive_mtk(pmk, local_mac=..., peer_mac=...,
        local_nonce=..., peer_nonce=..., local_link_id=..., peer_link_id=...))
    hop.keys.install_group_rx(peer, GroupKey(peer_mgtk, key_id), peer_rsc)
    ...
    hop.keys.remove_peer(peer)   # on close

Every frame: `protect_for_air(hop, frame)` on transmit and
`open_from_air(hop, frame)` on receive (the node host's hooks), or wrap
a radio, `meshframes.hosts.sealed.SealedRadio(radio, hop)`, which does both;
or call `hop.seal(frame)` / `hop.open(frame)` directly (data frames, and
action frames of robust categories: FastPay uses 126, HWMP 13). A relay
opens and seals again. Refusals raise `HopError` subclasses and are counted in
`hop.rejected` by `SealReason`.

End to end, client <-> authority (open or secure mesh alike)::

    e2e = E2ESealer(E2EIdentity(ed25519_seed), initial_sequence=time_us)
    fragment = e2e.seal_fragment(authority_name, fragment, mesh_da, mesh_sa)  # sets flags bit 0
    sender, fragment = e2e.open_fragment(fragment, mesh_da, mesh_sa)         # at the far end

An open mesh simply skips `HopSealer`; the end-to-end layer does not
depend on it.
"""

from meshframes.seal.ampe import AmpeElement, GtkData, check_nonces, open_ampe, seal_ampe
from meshframes.seal.e2e import E2EIdentity, E2ESealer, x25519_public_key
from meshframes.seal.errors import AmpeError, E2EError, HopError, SealError, SealReason
from meshframes.seal.hop import HopSealer, KeyStore
from meshframes.seal.keys import GroupKey, derive_aek, derive_mtk, derive_pmk, derive_pmkid, new_peering_nonce
from meshframes.seal.radio import open_from_air, protect_for_air

__all__ = [
    "AmpeElement",
    "AmpeError",
    "E2EError",
    "E2EIdentity",
    "E2ESealer",
    "GroupKey",
    "GtkData",
    "HopError",
    "HopSealer",
    "KeyStore",
    "SealReason",
    "SealError",
    "check_nonces",
    "derive_aek",
    "derive_mtk",
    "derive_pmk",
    "derive_pmkid",
    "new_peering_nonce",
    "open_ampe",
    "open_from_air",
    "protect_for_air",
    "seal_ampe",
    "x25519_public_key",
]

"""The mesh-interface transport (meshframes.hosts.meshif) on Linux's own
mesh: FastPay payloads in ethertype 0x88B5 frames, routed by the kernel
across a three-node chain n0 - n1 - n2 whose n0-n2 link is blocked."""

from __future__ import annotations

import pytest

from meshframes.codec.elements import MESHFRAMES_OUI
from meshframes.codec.meshctl import AE_A5_A6
from meshframes.hosts.meshif import BROADCAST, MeshifMessage
from meshframes.hwsim import Guest
from meshframes.hwsim.framesets import fastpay_frame
from meshframes.hwsim.radios import Node, mesh_chain
from meshframes.hwsim.scenarios import ENVELOPE

pytestmark = pytest.mark.hwsim
PROBES = "meshframes.hwsim.probes"


@pytest.fixture(scope="module")
def chain(hwsim_guest: Guest) -> tuple[Node, Node, Node]:
    nodes = hwsim_guest.reset_radios(3)
    mesh_chain(nodes)
    for node in nodes:
        node.call(f"{PROBES}:meshif_open", node.wlan)
    return nodes[0], nodes[1], nodes[2]


def _drain(*nodes: Node) -> None:
    for node in nodes:
        node.call(f"{PROBES}:meshif_drain", node.wlan)


def _exchange(src: Node, dst: Node, payloads: list[bytes],
              to: bytes | None = None) -> list[MeshifMessage]:
    src.call(f"{PROBES}:meshif_send", src.wlan, to or dst.mac_bytes, payloads)
    return dst.call(f"{PROBES}:meshif_collect", dst.wlan, payloads, timeout=20.0)


def test_unicast_crosses_two_kernel_routed_hops(chain: tuple[Node, Node, Node]) -> None:
    """Payloads n0 sends to n2 arrive intact and from n0, over the kernel's
    two-hop path through n1; n1's own socket never sees them, the kernel
    forwards them beneath it."""
    n0, n1, n2 = chain
    payloads = [ENVELOPE + bytes([index]) * index for index in range(1, 6)]
    _drain(n0, n1, n2)
    got = _exchange(n0, n2, payloads)
    assert sorted((m.src, m.dst, m.payload) for m in got) == sorted(
        (n0.mac_bytes, n2.mac_bytes, payload) for payload in payloads)
    assert n0.stations()[n2.mac].plink == "BLOCKED"
    path = n0.mpaths()[n2.mac]
    assert (path.next_hop, path.hop_count) == (n1.mac, 2)
    assert n1.call(f"{PROBES}:stats", n1.wlan)["received"] == 0


def test_reply_and_broadcast_reach_across_the_chain(chain: tuple[Node, Node, Node]) -> None:
    """n2 answers n0 over the same two hops, and a broadcast from n0 reaches
    both n1 and, flooded on by n1, n2."""
    n0, n1, n2 = chain
    _drain(n0, n1, n2)
    reply = [ENVELOPE + b"reply"]
    assert [(m.src, m.payload) for m in _exchange(n2, n0, reply)] == [(n2.mac_bytes, reply[0])]
    flood = [ENVELOPE + b"to everyone"]
    n0.call(f"{PROBES}:meshif_send", n0.wlan, BROADCAST, flood)
    for node in (n1, n2):
        got = node.call(f"{PROBES}:meshif_collect", node.wlan, flood, timeout=20.0)
        assert [(m.src, m.dst, m.payload) for m in got] == [(n0.mac_bytes, BROADCAST, flood[0])]


def test_radio_adapter_carries_fastpay_action_frames(chain: tuple[Node, Node, Node]) -> None:
    """An engine's multi-hop FastPay action frame given to MeshifRadio on n0
    comes out of MeshifRadio on n2 as a single-hop action frame from n0
    with the same FastPay header and payload."""
    n0, n1, n2 = chain
    envelope = ENVELOPE + b"through the radio interface"
    frame = fastpay_frame(a1=n1.mac_bytes, a2=n0.mac_bytes, message_type=8, payload=envelope[7:],
                          mode=AE_A5_A6, mesh_da=n2.mac_bytes, mesh_sa=n0.mac_bytes,
                          message_id=int.from_bytes(envelope[3:5], "little"))
    _drain(n0, n1, n2)
    n0.call(f"{PROBES}:meshif_radio_transmit", n0.wlan, [frame])
    (received,) = n2.call(f"{PROBES}:meshif_radio_collect", n2.wlan, timeout=20.0)
    data = received.data
    assert data[:2] == b"\xd0\x00"
    assert (data[4:10], data[10:16], data[16:22]) == (n2.mac_bytes, n0.mac_bytes, n0.mac_bytes)
    assert (data[24], data[25:28]) == (127, MESHFRAMES_OUI)
    assert (data[28], data[29]) == (0, 1)  # no address extension, TTL 1
    assert data[34:] == envelope

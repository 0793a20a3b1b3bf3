"""Proxy Update (PXU, element 137) and Proxy Update Confirmation (PXUC, 138),
802.11-2020 9.4.2.115-116, in the Multihop Action frames that carry them
(9.6.17): the codec's bytes, our layers' bytes and tshark's dissection
agree field by field, on every combination of the Proxy Information flags
(which decide whether the Proxy Address and the Lifetime are there), the
largest PXU an element holds, and PXUCs; truncated or overlong elements are
refused by the codec and the layers with what was expected."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.dot11 import Dot11, Dot11Action

from meshframes.codec.action import (
    CATEGORY_MULTIHOP,
    MULTIHOP_ACTION_PROXY_UPDATE,
    MULTIHOP_ACTION_PROXY_UPDATE_CONFIRMATION,
)
from meshframes.codec.errors import DecodeError, EncodeError
from meshframes.codec.ie import decode_elements, encode_elements
from meshframes.codec.proxy import (
    PXU_FLAG_DELETE,
    PXU_FLAG_LIFETIME,
    PXU_FLAG_ORIGINATOR_IS_PROXY,
    ProxyInformation,
    ProxyUpdate,
    ProxyUpdateConfirmation,
)
from meshframes.hosts import tshark
from meshframes.hosts.pcap import LINKTYPE_IEEE802_11, write_pcap
from meshframes.layers import MalformedLayer
from meshframes.layers.actions import MultihopAction, MultihopMeshControl
from meshframes.layers.elements import ProxyInformation as ProxyInformationLayer
from meshframes.layers.elements import ProxyUpdate as ProxyUpdateLayer
from meshframes.layers.elements import ProxyUpdateConfirmation as ProxyUpdateConfirmationLayer

pytestmark = pytest.mark.tshark

ORIGINATOR = bytes.fromhex("020000000002")
RECEIVER = bytes.fromhex("020000000001")


def _mac(raw: bytes) -> str:
    return raw.hex(":")


def _info(number: int, flags: int) -> ProxyInformation:
    return ProxyInformation(
        flags=flags,
        external_address=bytes.fromhex(f"0a00000000{number:02x}"),
        sequence_number=0x01020304 + number,
        proxy_address=None if flags & PXU_FLAG_ORIGINATOR_IS_PROXY else bytes.fromhex(f"0200000001{number:02x}"),
        lifetime=(1000 * number + 7) if flags & PXU_FLAG_LIFETIME else None,
    )


ALL_FLAGS = [sum(bits) for bits in itertools.product((0, PXU_FLAG_DELETE), (0, PXU_FLAG_ORIGINATOR_IS_PROXY),
                                                     (0, PXU_FLAG_LIFETIME))]
# 8 + 22 shortest fields (11 octets: the originator is the proxy, no
# lifetime) = 250 octets, the most that fits a 255-octet element.
LONGEST = ProxyUpdate(255, ORIGINATOR, tuple(_info(i, PXU_FLAG_ORIGINATOR_IS_PROXY) for i in range(22)))
CASES: list[ProxyUpdate | ProxyUpdateConfirmation] = [
    ProxyUpdate(1, ORIGINATOR, ()),
    ProxyUpdate(2, ORIGINATOR, tuple(_info(i, flags) for i, flags in enumerate(ALL_FLAGS))),
    # Reserved flag bits are kept as they came.
    ProxyUpdate(3, ORIGINATOR, (_info(9, 0xF8 | PXU_FLAG_LIFETIME),)),
    LONGEST,
    ProxyUpdateConfirmation(0, RECEIVER),
    ProxyUpdateConfirmation(255, ORIGINATOR),
]


def _layer(element: ProxyUpdate | ProxyUpdateConfirmation) -> Any:
    """The same element through our Scapy layers, from the codec's values."""
    if isinstance(element, ProxyUpdateConfirmation):
        return ProxyUpdateConfirmationLayer(pxu_id=element.pxu_id, pxu_recipient_mac_address=_mac(element.recipient))
    infos = []
    for info in element.proxy_information:
        fields: dict[str, Any] = {"flags": info.flags, "external_address": _mac(info.external_address),
                                  "proxy_information_sequence_number": info.sequence_number}
        if info.proxy_address is not None:
            fields["proxy_address"] = _mac(info.proxy_address)
        if info.lifetime is not None:
            fields["proxy_information_lifetime"] = info.lifetime
        infos.append(ProxyInformationLayer(**fields))
    return ProxyUpdateLayer(pxu_id=element.pxu_id, pxu_originator_mac_address=_mac(element.originator),
                            proxy_information=infos)


def _frame(element: ProxyUpdate | ProxyUpdateConfirmation, sequence: int) -> Any:
    action = (MULTIHOP_ACTION_PROXY_UPDATE if isinstance(element, ProxyUpdate)
              else MULTIHOP_ACTION_PROXY_UPDATE_CONFIRMATION)
    return (Dot11(type=0, subtype=13, addr1=_mac(RECEIVER), addr2=_mac(ORIGINATOR), addr3=_mac(ORIGINATOR))
            / Dot11Action(category=CATEGORY_MULTIHOP) / MultihopAction(multihop_action=action)
            / MultihopMeshControl(mesh_ttl=31, mesh_sequence_number=sequence) / _layer(element))


# Where the element starts in these frames: MAC header, Category, Multihop
# Action, Mesh Control without address extension.
ELEMENT_AT = 24 + 1 + 1 + 6


def test_layers_build_the_codecs_bytes_and_read_them_back() -> None:
    for number, element in enumerate(CASES):
        frame = bytes(_frame(element, number))
        assert frame[ELEMENT_AT:] == encode_elements((element,)), element
        decoded, end = decode_elements(frame, ELEMENT_AT)
        assert decoded == (element,) and end == len(frame)
        again = Dot11(frame)
        assert not again.haslayer("Raw")
        assert bytes(again) == frame


PXU_FIELDS = ["wlan.fixed.category_code", "wlan.fixed.multihop_action", "wlan.fixed.mesh_sequence",
              "wlan.tag.number", "wlan.pxu.pxu_id", "wlan.pxu.origin_mac", "wlan.pxu.no_proxy_info",
              "wlan.pxu.pxu_info.flags", "wlan.pxu.pxu_info.ext_mac", "wlan.pxu.pxu_info.seq_num",
              "wlan.pxu.pxu_info.proxy_mac", "wlan.pxu.pxu_info.lifetime", "wlan.pxuc.pxu_id",
              "wlan.pxuc.recip_mac"]


def _expected(element: ProxyUpdate | ProxyUpdateConfirmation, sequence: int) -> dict[str, list[str]]:
    out = {name: [] for name in PXU_FIELDS}
    out["wlan.fixed.category_code"] = [str(CATEGORY_MULTIHOP)]
    out["wlan.fixed.mesh_sequence"] = [f"0x{sequence:08x}"]
    out["wlan.tag.number"] = [str(element.element_id)]
    if isinstance(element, ProxyUpdateConfirmation):
        out["wlan.fixed.multihop_action"] = [f"0x{MULTIHOP_ACTION_PROXY_UPDATE_CONFIRMATION:02x}"]
        out["wlan.pxuc.pxu_id"] = [str(element.pxu_id)]
        out["wlan.pxuc.recip_mac"] = [_mac(element.recipient)]
        return out
    infos = element.proxy_information
    out["wlan.fixed.multihop_action"] = [f"0x{MULTIHOP_ACTION_PROXY_UPDATE:02x}"]
    out["wlan.pxu.pxu_id"] = [str(element.pxu_id)]
    out["wlan.pxu.origin_mac"] = [_mac(element.originator)]
    out["wlan.pxu.no_proxy_info"] = [str(len(infos))]
    out["wlan.pxu.pxu_info.flags"] = [f"0x{i.flags:02x}" for i in infos]
    out["wlan.pxu.pxu_info.ext_mac"] = [_mac(i.external_address) for i in infos]
    out["wlan.pxu.pxu_info.seq_num"] = [str(i.sequence_number) for i in infos]
    out["wlan.pxu.pxu_info.proxy_mac"] = [_mac(i.proxy_address) for i in infos if i.proxy_address is not None]
    out["wlan.pxu.pxu_info.lifetime"] = [str(i.lifetime) for i in infos if i.lifetime is not None]
    return out


def test_tshark_reads_what_we_built_field_by_field(tmp_path: Path) -> None:
    """Every PXU and PXUC we build, written to a pcap: tshark's fields equal
    the codec's values, occurrence for occurrence, and nothing is malformed."""
    path = tmp_path / "proxy.pcap"
    write_pcap(path, [(float(n), bytes(_frame(e, n))) for n, e in enumerate(CASES)], LINKTYPE_IEEE802_11)
    shown = tshark.fields(path, PXU_FIELDS)
    assert len(shown) == len(CASES)
    for number, (element, fields) in enumerate(zip(CASES, shown, strict=True)):
        assert fields == _expected(element, number), number
    assert tshark.malformed_frames(path) == []


def _pxu_element(element: ProxyUpdate) -> bytes:
    return encode_elements((element,))


@pytest.mark.parametrize("cut", range(1, len(_pxu_element(CASES[1])) - 2))
def test_truncated_pxu_is_refused_by_codec_and_layers(cut: int) -> None:
    """A PXU whose Length is honest but whose body stops early, at every
    octet: both decoders refuse it and say what they expected."""
    whole = _pxu_element(CASES[1])
    body = whole[2:2 + cut]
    element = bytes((whole[0], len(body))) + body
    with pytest.raises(DecodeError) as codec_error:
        decode_elements(element, 0)
    assert "expected" in str(codec_error.value)
    with pytest.raises(MalformedLayer) as layer_error:
        ProxyUpdateLayer(element)
    assert "expected" in str(layer_error.value) or "left" in str(layer_error.value)


def test_overlong_pxu_and_pxuc_are_refused() -> None:
    """One octet too many after the last Proxy Information field, or in a
    PXUC: refused by both, with the expected length."""
    pxu = _pxu_element(CASES[2])
    longer = bytes((pxu[0], pxu[1] + 1)) + pxu[2:] + b"\x00"
    with pytest.raises(DecodeError, match=f"expected {pxu[1]}"):
        decode_elements(longer, 0)
    with pytest.raises(MalformedLayer, match=f"expected {pxu[1]}"):
        ProxyUpdateLayer(longer)
    pxuc = encode_elements((CASES[4],))
    with pytest.raises(DecodeError, match="expected 7"):
        decode_elements(bytes((pxuc[0], 8)) + pxuc[2:] + b"\x00", 0)
    with pytest.raises(MalformedLayer, match="expected 7"):
        ProxyUpdateConfirmationLayer(bytes((pxuc[0], 8)) + pxuc[2:] + b"\x00")


@pytest.mark.parametrize("info", [
    ProxyInformation(PXU_FLAG_ORIGINATOR_IS_PROXY, ORIGINATOR, 1, proxy_address=RECEIVER),
    ProxyInformation(0, ORIGINATOR, 1),
    ProxyInformation(PXU_FLAG_ORIGINATOR_IS_PROXY | PXU_FLAG_LIFETIME, ORIGINATOR, 1),
    ProxyInformation(PXU_FLAG_ORIGINATOR_IS_PROXY, ORIGINATOR, 1, lifetime=5),
    ProxyInformation(PXU_FLAG_ORIGINATOR_IS_PROXY, ORIGINATOR, 1 << 32),
])
def test_encoder_refuses_fields_the_flags_contradict(info: ProxyInformation) -> None:
    with pytest.raises(EncodeError):
        ProxyUpdate(1, ORIGINATOR, (info,)).body()

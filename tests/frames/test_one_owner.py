"""The Scapy layers hold no wire constant of their own: every element ID,
category, action, OUI, enum table and length they use is the codec's
(or, for FastPay's bincode, meshframes.fastpay's)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
from scapy.fields import ConditionalField, Field, FlagsField, OUIField, _EnumField
from scapy.layers.dot11 import Dot11Action, Dot11Auth, Dot11Elt, Dot11QoS, _dot11_info_elts_ids
from scapy.packet import Packet

import meshframes.layers
from meshframes.codec import action, elements, fastpay, header, meshctl, pathsel, peering, proxy, reason, sae
from meshframes.fastpay.messages import AddressKind, ErrorKind
from meshframes.fastpay.wire import MessageTag
from meshframes.layers import _strict
from meshframes.layers import actions as layer_actions
from meshframes.layers import elements as layer_elements
from meshframes.layers import fastpay as layer_fastpay
from meshframes.layers import hwmp as layer_hwmp
from meshframes.layers.fastpay import FastPayHeader
from meshframes.layers.machdr import AMSDU, HTControl

_LAYER_MODULES = [m for name, m in inspect.getmembers(meshframes.layers, inspect.ismodule)
                  if m.__name__.startswith("meshframes.layers.")]
_LAYER_MODULES += [_strict, layer_actions, layer_elements, layer_fastpay, layer_hwmp]


def _layer_classes() -> list[type[Packet]]:
    found = {cls for module in _LAYER_MODULES for _, cls in inspect.getmembers(module, inspect.isclass)
             if issubclass(cls, Packet) and cls.__module__.startswith("meshframes.layers")}
    return sorted(found, key=lambda cls: (cls.__module__, cls.__name__))


def _fields(cls: type[Packet]) -> Iterator[Field]:
    for fld in cls.fields_desc:
        yield fld.fld if isinstance(fld, ConditionalField) else fld


def _ints(module: object, prefix: str) -> set[int]:
    return {v for k, v in vars(module).items() if k.startswith(prefix) and isinstance(v, int)}


# Every enum table the codec (and FastPay's bincode module) owns.
OWNED_TABLES = [
    action.MESH_ACTION_NAMES, action.MULTIHOP_ACTION_NAMES, peering.SELF_PROTECTED_ACTION_NAMES, peering.PROTOCOL_NAMES,
    elements.PATH_SELECTION_PROTOCOLS, elements.PATH_SELECTION_METRICS, elements.CONGESTION_CONTROL_MODES,
    elements.SYNCHRONIZATION_METHODS, elements.AUTHENTICATION_PROTOCOLS, reason.REASON_NAMES,
    meshctl.AE_MODE_NAMES, sae.GROUP_NAMES,
    {int(t): name for t, name in layer_fastpay.MESSAGE_TYPES.items()},
    {int(k): k.name for k in ErrorKind},
    {int(k): name for k, name in layer_fastpay.ADDRESS_KINDS.items()},
    dict(layer_fastpay.SERIALIZED_MESSAGE_VARIANTS),
]
# Fields whose table is Scapy's own (element IDs and Scapy's category list,
# which actions.py extends with the codec's CATEGORY_NAMES).
SCAPY_TABLES = {"ID"}


def enum_problems(classes: list[type[Packet]]) -> list[str]:
    """Enum fields whose table is not one the codec owns."""
    problems = []
    for cls in classes:
        for fld in _fields(cls):
            if not isinstance(fld, _EnumField) or fld.name in SCAPY_TABLES:
                continue
            table = {int(k): v for k, v in fld.i2s.items()}
            if not any(table == {int(k): v for k, v in owned.items()} for owned in OWNED_TABLES):
                problems.append(f"{cls.__name__}.{fld.name}: {table}")
    return problems


def test_every_enum_table_is_the_codecs() -> None:
    """Each enum field of our layers shows one of the codec's tables."""
    assert enum_problems(_layer_classes()) == []


def test_enum_check_catches_a_table_of_the_layers_own() -> None:
    """The check above fails for a layer that writes its own table."""
    from scapy.fields import ByteEnumField

    class OwnTable(_strict.StrictPacket):
        fields_desc = [ByteEnumField("mesh_action", 1, {1: "HWMP Mesh Path Selection", 2: "Gate"})]

    assert enum_problems([OwnTable]) == ["OwnTable.mesh_action: {1: 'HWMP Mesh Path Selection', 2: 'Gate'}"]


def test_registered_element_ids_are_the_codecs() -> None:
    """Every element class we register with Dot11Elt sits under a codec
    element ID, and its ID field defaults to that ID."""
    codec_ids = _ints(elements, "EID_")
    ours = {eid: cls for eid, cls in Dot11Elt.registered_ies.items() if cls.__module__.startswith("meshframes.")}
    assert ours, "no element classes registered"
    for eid, cls in ours.items():
        assert eid in codec_ids, f"{cls.__name__} registered under {eid}, not a codec EID_* constant"
        assert cls.fields_desc[0].default == eid
    # Codec element classes and Scapy classes agree on which ID is which.
    assert ours[elements.MeshId.element_id] is layer_elements.MeshID
    assert ours[elements.MeshConfiguration.element_id] is layer_elements.MeshConfiguration
    assert ours[peering.MeshPeeringManagement.element_id] is layer_elements.MeshPeeringManagement
    assert ours[elements.Mic.element_id] is layer_elements.MIC
    assert ours[elements.Ampe.element_id] is layer_elements.AMPE
    assert ours[pathsel.Preq.element_id] is layer_hwmp.PREQ
    assert ours[pathsel.Prep.element_id] is layer_hwmp.PREP
    assert ours[pathsel.Perr.element_id] is layer_hwmp.PERR
    assert ours[pathsel.Rann.element_id] is layer_hwmp.RANN
    assert ours[pathsel.Gann.element_id] is layer_hwmp.GANN
    assert ours[proxy.ProxyUpdate.element_id] is layer_elements.ProxyUpdate
    assert ours[proxy.ProxyUpdateConfirmation.element_id] is layer_elements.ProxyUpdateConfirmation
    for eid, name in elements.MESH_ELEMENT_NAMES.items():
        assert _dot11_info_elts_ids[eid] == name


# Which codec constants each bound field may take.
BOUND_FIELDS = {
    "category": _ints(action, "CATEGORY_") - {action.CATEGORY_LEN, action.CATEGORY_ERROR_BIT},
    "mesh_action": set(action.MESH_ACTION_NAMES),
    "self_protected_action": set(peering.SELF_PROTECTED_ACTION_NAMES),
    "oui": {int.from_bytes(elements.MESHFRAMES_OUI, "big")},
    "variant": _ints(MessageTag, ""),
    "TXOP": {header.QOS_MESH_CONTROL_PRESENT >> 8},
    "algo": {sae.AUTH_ALGORITHM_SAE},
    "seqnum": {sae.SAE_COMMIT, sae.SAE_CONFIRM},
    "status": set(sae.SAE_FULL_STATUSES | sae.SAE_REFUSED_STATUSES),
}


def _bindings() -> Iterator[tuple[str, str, object]]:
    """(parent, field, value) of every bind_layers condition that leads to one of our layers."""
    parents = [Dot11Action, Dot11Auth, Dot11QoS, *_layer_classes()]
    for parent in parents:
        for conditions, child in parent.payload_guess:
            if child.__module__.startswith("meshframes.layers") or parent.__module__.startswith("meshframes."):
                for name, value in conditions.items():
                    yield f"{parent.__name__}->{child.__name__}", name, value


def test_bound_values_are_the_codecs() -> None:
    """Every value our bind_layers calls dispatch on is a codec constant:
    categories (or a category with the error bit, for returned frames),
    mesh and self-protected actions, our OUI, SerializedMessage tags, the
    QoS Mesh Control bit and SAE's algorithm, sequence and statuses."""
    seen = set()
    for where, name, value in _bindings():
        seen.add(name)
        if name == "category" and value & action.CATEGORY_ERROR_BIT:
            continue
        assert name in BOUND_FIELDS, f"{where}: bound on {name}={value}, a field this test does not know"
        assert value in BOUND_FIELDS[name], f"{where}: {name}={value} is not a codec constant"
    assert {"category", "mesh_action", "self_protected_action", "oui", "variant"} <= seen


def test_named_constants_are_the_codecs() -> None:
    """Constants the layers export are the codec's objects, not copies."""
    assert int.from_bytes(elements.MESHFRAMES_OUI, "big") == layer_elements.MESHFRAMES_OUI
    assert layer_actions.VendorSpecificAction().oui == layer_elements.MESHFRAMES_OUI
    assert layer_elements.AuthorityAnnouncementElement().oui == layer_elements.MESHFRAMES_OUI
    assert layer_elements.AuthorityAnnouncementElement().oui_type == elements.OUI_TYPE_AUTHORITY_ANNOUNCEMENT
    assert layer_hwmp.PREQ_MAX_TARGETS is pathsel.PREQ_MAX_TARGETS
    assert layer_hwmp.PERR_MAX_DESTINATIONS is pathsel.PERR_MAX_DESTINATIONS
    assert layer_hwmp.HWMP_FLAG_AE is pathsel.HWMP_FLAG_AE
    assert layer_actions.CATEGORY_ERROR_BIT is action.CATEGORY_ERROR_BIT
    for name in ("ORDER", "VOTE", "CERTIFICATE", "CONFIRMATION", "INFO_REQUEST", "INFO_RESPONSE", "ERROR",
                 "ANNOUNCE"):
        assert getattr(layer_fastpay, f"MSG_{name}") is fastpay.MessageType[f"FASTPAY_{name}"]
    assert layer_fastpay.FASTPAY_VERSION is fastpay.FASTPAY_VERSION
    assert layer_fastpay.FLAG_E2E_SEALED is fastpay.FLAG_E2E_SEALED
    assert set(layer_fastpay.ADDRESS_KINDS) == set(AddressKind)


def test_fastpay_header_is_the_codecs() -> None:
    """FastPayHeader is as long as the codec's header, defaults to its
    version, and names exactly the codec's message types."""
    built = bytes(FastPayHeader())
    assert len(built) == fastpay.HEADER_LEN
    assert FastPayHeader().version == fastpay.FASTPAY_VERSION
    types = FastPayHeader.fields_desc[1].i2s
    assert set(types) == set(fastpay.MessageType)
    assert types == {int(t): t.name.removeprefix("FASTPAY_").lower().replace("_", "-") for t in fastpay.MessageType}
    assert [str(f) for f in FastPayHeader.fields_desc[2].names] == ["sealed"]
    assert fastpay.FLAG_E2E_SEALED == 1 << 0


@pytest.mark.parametrize("cls, length", [
    (layer_elements.MeshConfiguration, elements.MESH_CONFIGURATION_LEN),
    (layer_elements.MIC, elements.MIC_LEN),
    (layer_hwmp.RANN, pathsel.RANN_LEN),
    (layer_hwmp.GANN, pathsel.GANN_LEN),
    (layer_hwmp.PREP, pathsel.PREP_LEN),
    (layer_elements.AuthorityAnnouncementElement, elements.AUTHORITY_ANNOUNCEMENT_LEN),
    (layer_elements.ProxyUpdateConfirmation, proxy.PXUC_LEN),
    (layer_elements.ProxyUpdate, proxy.PXU_FIXED_LEN),
])
def test_fixed_element_lengths_are_the_codecs(cls: type[Packet], length: int) -> None:
    """A built element of fixed layout is as long as the codec says."""
    assert len(bytes(cls())) == 2 + length


def test_flag_and_capability_names_are_the_codecs() -> None:
    """The Mesh Capability bits and the Proxy Information flags are the
    codec's lists."""
    fld = next(f for f in _fields(layer_elements.MeshConfiguration) if f.name == "mesh_capability")
    assert isinstance(fld, FlagsField)
    assert tuple(fld.names) == elements.MESH_CAPABILITY_BITS
    flags = next(f for f in _fields(layer_elements.ProxyInformation) if f.name == "flags")
    assert isinstance(flags, FlagsField)
    assert list(flags.names) == proxy.PXU_FLAG_NAMES
    assert [1 << i for i in range(3)] == [proxy.PXU_FLAG_DELETE, proxy.PXU_FLAG_ORIGINATOR_IS_PROXY,
                                          proxy.PXU_FLAG_LIFETIME]


def test_machdr_layers_have_no_numbers() -> None:
    """HT Control and A-MSDU carry no enum or OUI of their own."""
    for cls in (HTControl, AMSDU):
        assert not [f for f in _fields(cls) if isinstance(f, (_EnumField, OUIField))]

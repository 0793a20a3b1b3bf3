"""Scapy layers for IEEE 802.11s and for FastPay over vendor action frames.

Importing this package (or just `meshframes`) registers every layer with
Scapy through `bind_layers` and the `Dot11Elt` registry, so plain
`rdpcap()` dissects mesh captures completely.
"""

from meshframes.layers._strict import MalformedLayer
from meshframes.layers.actions import (
    GateAnnouncement,
    HWMPMeshPathSelection,
    MeshAction,
    MeshGroupKeyAcknowledge,
    MeshGroupKeyInform,
    MultihopAction,
    MultihopMeshControl,
    PeeringClose,
    PeeringConfirm,
    PeeringOpen,
    ReturnedAction,
    SelfProtectedAction,
    VendorSpecificAction,
    VendorSpecificProtectedAction,
)
from meshframes.layers.elements import (
    AMPE,
    MIC,
    AMPEEncrypted,
    AuthorityAnnouncementElement,
    BeaconTiming,
    MeshAwakeWindow,
    MeshChannelSwitchParameters,
    MeshConfiguration,
    MeshID,
    MeshPeeringManagement,
    ProxyInformation,
    ProxyUpdate,
    ProxyUpdateConfirmation,
)
from meshframes.layers.fastpay import (
    FastPayAccountInfoRequest,
    FastPayAccountInfoResponse,
    FastPayAuthorityAnnouncement,
    FastPayAuthoritySignature,
    FastPayCertifiedTransferOrder,
    FastPayError,
    FastPayFragment,
    FastPayHeader,
    FastPayMessage,
    FastPaySealed,
    FastPaySignedTransferOrder,
    FastPayTransfer,
    FastPayTransferOrder,
)
from meshframes.layers.hwmp import GANN, PERR, PREP, PREQ, RANN, PERRDestination, PREQTarget
from meshframes.layers.machdr import HTControl
from meshframes.layers.meshctl import MeshControl, VendorMeshControl, mesh_control_rule
from meshframes.layers.sae import SAECommit, SAECommitRejected, SAEConfirm

__all__ = [
    "AMPE", "AMPEEncrypted", "GANN", "MIC", "PERR", "PREP", "PREQ", "RANN",
    "AuthorityAnnouncementElement", "BeaconTiming", "FastPayAccountInfoRequest",
    "FastPayAccountInfoResponse", "FastPayAuthorityAnnouncement", "FastPayAuthoritySignature",
    "FastPayCertifiedTransferOrder", "FastPayError", "FastPayFragment", "FastPayHeader",
    "FastPayMessage", "FastPaySealed", "FastPaySignedTransferOrder", "FastPayTransfer",
    "FastPayTransferOrder", "GateAnnouncement", "HTControl", "HWMPMeshPathSelection", "MalformedLayer",
    "MeshAction", "MeshAwakeWindow", "MeshChannelSwitchParameters", "MeshConfiguration",
    "MeshControl", "MeshGroupKeyAcknowledge", "MeshGroupKeyInform", "MeshID",
    "MeshPeeringManagement", "MultihopAction", "MultihopMeshControl", "PERRDestination", "PREQTarget",
    "PeeringClose", "PeeringConfirm", "PeeringOpen", "ProxyInformation", "ProxyUpdate",
    "ProxyUpdateConfirmation", "ReturnedAction", "SAECommit", "SAECommitRejected", "SAEConfirm",
    "SelfProtectedAction", "VendorMeshControl",
    "VendorSpecificAction", "VendorSpecificProtectedAction", "mesh_control_rule",
]

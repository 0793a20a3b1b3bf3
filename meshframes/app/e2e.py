"""End-to-end sealing of the FastPay frames a node originates and the ones
addressed to it (docs/sealing.md, "End to end"; docs/app.md, "Sealing").

The mesh node builds and fragments FastPay frames itself, so sealing sits
where the frames are bytes: it is a frame layer of the node's runtime
(`NodeRuntime(layers=...)`), above the per-hop link security of a secure
mesh, so a frame is sealed end to end first and per hop second. Each
fragment is sealed on its own with the peer's identity, found in the
`Directory` by the frame's mesh DA.

- transmit: a unicast FastPay frame whose mesh SA is us is sealed for the
  identity bound to its mesh DA; with no identity known it is refused and
  counted (`e2e-no-identity`), never sent in the clear. Relayed frames,
  group frames (announcements) and non-FastPay frames pass unchanged.
- receive: a sealed frame whose mesh DA is us is opened and handed up as
  `Opened` with the identity that sealed it; the runtime carries that
  identity to the application (`Deliver.sealed_by`) beside the frame, so
  "sealed" never rests on flags bit 0, which anyone can set on the air.
  A refusal is dropped and counted in the sealer's `rejected` by reason.
  A sealed frame that would reach us without being opened here is
  refused: a sealed group frame, by mesh DA or by A1 (`e2e-sealed-group`:
  end-to-end keys are pairwise, and the forwarder delivers what a group
  A1 carries). Frames for other stations pass unopened: relays forward
  what they can neither read nor alter.
- bindings: the sealer chooses the mesh SA it seals, so an opened frame
  proves who sealed it, not where that party is. It only confirms a
  binding an announcement made (`Directory.confirm_sealed`); a frame
  sealed by one identity under a station the directory knows as another
  is dropped (`e2e-sender-not-at-source`), so a throw-away identity can
  neither displace an authority's binding nor speak for its station. One
  from a station no announcement bound yet is delivered under its
  sealer's identity and counted in `unannounced`; replies to it wait for
  its announcement.
"""

from __future__ import annotations

from collections import Counter

from meshframes.codec.header import is_group
from meshframes.hosts.base import Clock
from meshframes.hosts.runtime import Opened
from meshframes.mesh.events import Refused
from meshframes.seal.e2e import FLAG_SEALED, E2ESealer, parse_fastpay_frame
from meshframes.seal.errors import E2EError, NotFastPay

from .directory import Directory

E2E_NO_IDENTITY = "e2e-no-identity"
E2E_SEALED_GROUP = "e2e-sealed-group"
E2E_SENDER_NOT_AT_SOURCE = "e2e-sender-not-at-source"
# Offset of A1 in every MAC header (frame control, duration, then A1).
_A1 = slice(4, 10)


class E2ELink:
    """One node's end-to-end sealing; `sealer.rejected` and `dropped` count
    what it refused on receive and on transmit."""

    def __init__(self, mac: bytes, sealer: E2ESealer, directory: Directory, clock: Clock) -> None:
        self.mac = mac
        self.sealer = sealer
        self.directory = directory
        self.clock = clock
        self.dropped: Counter[str] = Counter()
        self.sealed = 0
        self.opened = 0
        self.unannounced = 0

    def protect(self, mpdu: bytes) -> bytes | Refused:
        try:
            layout = parse_fastpay_frame(mpdu)
        except NotFastPay:
            return mpdu
        if layout.source != self.mac or is_group(layout.destination) or layout.flags & FLAG_SEALED:
            return mpdu
        peer = self.directory.identity_of(layout.destination)
        if peer is None:
            self.dropped[E2E_NO_IDENTITY] += 1
            return Refused(E2E_NO_IDENTITY, layout.destination.hex(":"))
        try:
            sealed = self.sealer.seal_frame(peer, mpdu)
        except E2EError as error:
            return Refused(str(error.reason), str(error))  # also counted by the sealer in tx_refused
        self.sealed += 1
        return sealed

    def unprotect(self, mpdu: bytes) -> bytes | Opened | Refused:
        try:
            layout = parse_fastpay_frame(mpdu)
        except NotFastPay:
            return mpdu
        if not layout.flags & FLAG_SEALED:
            return mpdu
        if is_group(layout.destination) or is_group(mpdu[_A1]):
            self.dropped[E2E_SEALED_GROUP] += 1
            return Refused(E2E_SEALED_GROUP, f"from {layout.source.hex(':')}")
        if layout.destination != self.mac:
            return mpdu
        try:
            sender, plain = self.sealer.open_frame(mpdu)
        except E2EError as error:
            return Refused(str(error.reason), str(error))  # also counted by the sealer in rejected
        held = self.directory.identity_of(layout.source)
        if held is not None and held != sender:
            self.dropped[E2E_SENDER_NOT_AT_SOURCE] += 1
            return Refused(E2E_SENDER_NOT_AT_SOURCE, f"sealed by {sender[:4].hex()}, but"
                                                     f" {layout.source.hex(':')} is {held[:4].hex()}")
        self.opened += 1
        if not self.directory.confirm_sealed(sender, layout.source, self.clock.now()):
            self.unannounced += 1
        return Opened(plain, sender)

    def refusals(self) -> Counter[str]:
        """Everything refused, receive and transmit, by reason."""
        total: Counter[str] = Counter({str(k): v for k, v in self.sealer.rejected.items()})
        total.update({str(k): v for k, v in self.sealer.tx_refused.items()})
        total.update(self.dropped)
        return total

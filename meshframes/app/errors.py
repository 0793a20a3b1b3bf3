"""Why the application refused an input: one reason per way it can be
wrong, counted per reason by whoever refuses (h11's "the error names the
problem" applied to FastPay over the mesh)."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Counter keys of application-level refusals (docs/app.md)."""

    # Framing (docs/wire-format.md, "Message types and payload")
    UNKNOWN_MESSAGE_TYPE = "unknown-message-type"
    UNDECODABLE = "undecodable"
    TYPE_MISMATCH = "type-mismatch"
    # Discovery
    ANNOUNCE_WRONG_COMMITTEE = "announce-wrong-committee"
    ANNOUNCE_UNKNOWN_AUTHORITY = "announce-unknown-authority"
    ANNOUNCE_WEIGHT_MISMATCH = "announce-weight-mismatch"
    ANNOUNCE_E2E_KEY_MISMATCH = "announce-e2e-key-mismatch"
    ANNOUNCE_BAD_IDENTITY = "announce-bad-identity"
    ANNOUNCE_CONFLICTS_AUTHENTICATED = "announce-conflicts-authenticated"
    ANNOUNCE_OWN_IDENTITY = "announce-own-identity"
    # Who sent it, and how
    UNKNOWN_SENDER = "unknown-sender"
    E2E_REQUIRED = "e2e-required"
    # Sealed on the air but not opened by our e2e layer (sealing is off,
    # or the message did not come through it).
    E2E_NOT_OPENED = "e2e-sealed-not-opened"
    # What it is, for this role
    UNEXPECTED_MESSAGE = "unexpected-message"
    CERTIFICATE_NOT_FOR_US = "certificate-not-for-us"
    BAD_CERTIFICATE = "bad-certificate"
    # The authority's store failed: it answers nothing until rebuilt.
    AUTHORITY_FAILED = "authority-store-failed"
    # Sending
    DISCOVERY_QUEUE_OVERFLOW = "discovery-queue-overflow"
    # Driving
    UNKNOWN_TIMER = "unknown-timer"


class AppRefusal(Exception):
    """An input refused with `reason` (the counter key) and a detail that
    says what was seen ("got X, expected Y")."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail

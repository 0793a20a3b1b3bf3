"""Why a frame or payload was refused, as one exception class per reason.

Every refusal names its reason twice: as the exception's class (so callers
can catch exactly what they handle) and as a `SealReason` value (so a receiver
can count refusals per reason in a `collections.Counter` and tests can
assert that the right counter moved). Nothing here is fatal to a node: a
refused frame is dropped and counted, the sealer's state is unchanged.
"""

from __future__ import annotations

from enum import StrEnum


class SealReason(StrEnum):
    """Counter keys, one per way a frame or payload can be refused."""

    # Per hop (CCMP, 802.11-2020 12.5.3)
    TOO_SHORT = "too-short"
    NOT_PROTECTED = "not-protected"
    NOT_PROTECTABLE = "not-protectable"
    NO_EXT_IV = "no-ext-iv"
    UNKNOWN_KEY = "unknown-key"
    UNKNOWN_KEY_ID = "unknown-key-id"
    REPLAY = "replay"
    PN_ROLLBACK = "pn-rollback"
    MIC_FAILURE = "mic-failure"
    PN_EXHAUSTED = "pn-exhausted"
    # Peering (AMPE element protection)
    AMPE_MALFORMED = "ampe-malformed"
    AMPE_AUTH_FAILURE = "ampe-auth-failure"
    AMPE_CIPHER_MISMATCH = "ampe-cipher-mismatch"
    AMPE_NONCE_MISMATCH = "ampe-nonce-mismatch"
    AMPE_PMK_MISMATCH = "ampe-pmk-mismatch"
    # End to end (client <-> authority)
    E2E_NOT_SEALED = "e2e-not-sealed"
    E2E_ALREADY_SEALED = "e2e-already-sealed"
    E2E_TOO_SHORT = "e2e-too-short"
    E2E_BAD_IDENTITY = "e2e-bad-identity"
    E2E_REPLAY = "e2e-replay"
    E2E_TOO_OLD = "e2e-too-old"
    E2E_AUTH_FAILURE = "e2e-auth-failure"
    E2E_SEQUENCE_EXHAUSTED = "e2e-sequence-exhausted"


class SaeRefusal(StrEnum):
    """Counter keys of the SAE engine (meshframes.seal.sae): why a frame
    was dropped or a protocol instance ended (802.11-2020 12.4)."""

    MALFORMED = "sae-malformed"
    UNSUPPORTED_GROUP = "sae-unsupported-group"
    MODE_MISMATCH = "sae-h2e-mismatch"
    UNKNOWN_PASSWORD_IDENTIFIER = "sae-unknown-password-identifier"
    SCALAR_OUT_OF_RANGE = "sae-scalar-out-of-range"
    ELEMENT_INVALID = "sae-element-invalid"
    REFLECTION = "sae-reflection"
    SHARED_SECRET_IDENTITY = "sae-shared-secret-identity"
    CONFIRM_MISMATCH = "sae-confirm-mismatch"
    STALE_SEND_CONFIRM = "sae-stale-send-confirm"
    TOKEN_REQUIRED = "sae-token-required"
    TOKEN_INVALID = "sae-token-invalid"
    TOO_MANY_INSTANCES = "sae-too-many-instances"
    UNEXPECTED = "sae-unexpected"
    PEER_REFUSED = "sae-peer-refused"
    RETRANSMISSIONS_EXHAUSTED = "sae-retransmissions-exhausted"


class SealError(Exception):
    """A frame or payload this layer refuses; `reason` is the counter key."""

    reason: SealReason


class HopError(SealError):
    """Refused by the per-hop CCMP layer."""


class FrameTooShort(HopError):
    reason = SealReason.TOO_SHORT


class NotProtected(HopError):
    """The Protected Frame bit is clear where protection is required."""

    reason = SealReason.NOT_PROTECTED


class NotProtectable(HopError):
    """A frame CCMP does not protect (control frames, null data,
    non-robust action categories such as 127)."""

    reason = SealReason.NOT_PROTECTABLE


class NoExtIV(HopError):
    """CCMP always sets the Ext IV bit (12.5.3.2); a header without it is
    not a CCMP header."""

    reason = SealReason.NO_EXT_IV


class UnknownKey(HopError):
    """No key at all for this transmitter (never peered, or peering closed)."""

    reason = SealReason.UNKNOWN_KEY


class UnknownKeyId(HopError):
    """The transmitter has keys, but none under the frame's key id."""

    reason = SealReason.UNKNOWN_KEY_ID


class Replayed(HopError):
    """A PN inside the receive window that was already accepted."""

    reason = SealReason.REPLAY


class PnRollback(HopError):
    """A PN older than the receive window: it can no longer be told apart
    from a replay, so 12.5.3.4.4's rule (PN must grow) refuses it."""

    reason = SealReason.PN_ROLLBACK


class MicFailure(HopError):
    """The CCM MIC does not verify: header (AAD) or body altered, wrong key,
    or a truncated frame. CCM cannot tell these apart, by design."""

    reason = SealReason.MIC_FAILURE


class PnExhausted(HopError):
    """The transmit PN reached 2^48 - 1; the key must be replaced
    (re-peering) before anything else is sent with it."""

    reason = SealReason.PN_EXHAUSTED


class AmpeError(SealError):
    """Refused while opening the protected AMPE element of a peering frame."""


class AmpeMalformed(AmpeError):
    """No MIC element where the protected part should start, or the
    decrypted AMPE element is not one."""

    reason = SealReason.AMPE_MALFORMED


class AmpeAuthFailure(AmpeError):
    """The AES-SIV MIC does not verify: a peer without the passphrase, a
    frame altered in flight, or one meant for another link."""

    reason = SealReason.AMPE_AUTH_FAILURE


class AmpeCipherMismatch(AmpeError):
    """The AMPE element selects a pairwise cipher other than CCMP-128, the
    only one this mesh offers in its RSNE."""

    reason = SealReason.AMPE_CIPHER_MISMATCH


class AmpeNonceMismatch(AmpeError):
    """The nonces do not belong to the current peering: the sender names a
    nonce of ours we never sent (or no longer use), or its own nonce changed
    mid-peering. This is what stops a recorded peering frame, whose MIC
    still verifies (the AEK never changes between two stations), from being
    replayed into a later peering."""

    reason = SealReason.AMPE_NONCE_MISMATCH


class AmpePmkMismatch(AmpeError):
    """The Chosen PMK (PMKID) of the Mesh Peering Management element is not
    ours for this link: the sender derived its PMK from another passphrase
    or another mesh ID."""

    reason = SealReason.AMPE_PMK_MISMATCH


class E2EError(SealError):
    """Refused by the end-to-end (client <-> authority) layer."""


class NotSealed(E2EError):
    """The FastPay flags say the payload is not end-to-end sealed."""

    reason = SealReason.E2E_NOT_SEALED


class AlreadySealed(E2EError):
    """Asked to seal a payload whose sealed flag is already set."""

    reason = SealReason.E2E_ALREADY_SEALED


class SealedTooShort(E2EError):
    reason = SealReason.E2E_TOO_SHORT


class BadIdentity(E2EError):
    """The sender's identity is not a usable Ed25519 public key."""

    reason = SealReason.E2E_BAD_IDENTITY


class E2EReplayed(E2EError):
    reason = SealReason.E2E_REPLAY


class E2ETooOld(E2EError):
    reason = SealReason.E2E_TOO_OLD


class E2EAuthFailure(E2EError):
    """The CCM tag does not verify: payload or header altered by a relay,
    re-routed to another destination, or sealed by someone other than the
    identity it names (a forged sender)."""

    reason = SealReason.E2E_AUTH_FAILURE


class SequenceExhausted(E2EError):
    reason = SealReason.E2E_SEQUENCE_EXHAUSTED

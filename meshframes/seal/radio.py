"""The per-hop rule of a secure mesh STA: seal what must be protected,
open what arrives.

`protect_for_air` and `open_from_air` work on MPDU bytes; the node host
applies them through the protect/unprotect hooks
(meshframes.mesh.rsn), and `meshframes.hosts.sealed.SealedRadio` applies
them around any radio (simulated air, pcap replay, a monitor interface) so
that engines that know nothing of sealing can run in a secure mesh:

* transmit: data frames and robust action frames are sealed with
  `HopSealer`; a FastPay frame in category 127 is first moved to 126, as
  docs/wire-format.md prescribes for protected FastPay frames. A frame that
  needs protection but has no key yet (peering not finished) is dropped, never
  sent in the clear, and counted in `hop.tx_refused`. Everything else
  (beacons, peering frames, other vendors' category 127) goes out as it is.
* receive: frames addressed to another station (a monitor interface hears
  the whole channel) are not ours to open (`addressed_elsewhere`; the
  callers drop or pass them and count them). Protected frames are opened; refusals are dropped and counted
  in `hop.rejected`. An unprotected frame that should have been protected is
  dropped and counted as `not-protected` (as 802.11w does for robust
  management frames); that includes our FastPay frames in category 127,
  which a secure mesh only ever sends as protected 126 frames. The rest is
  passed up unchanged.
"""

from __future__ import annotations

from meshframes.codec import mpdu
from meshframes.codec.action import CATEGORY_VENDOR, CATEGORY_VENDOR_PROTECTED
from meshframes.codec.elements import MESHFRAMES_OUI, OUI_LEN
from meshframes.seal import ccmp
from meshframes.seal.errors import NotProtected
from meshframes.seal.hop import HopSealer


def _clear_fastpay_category(frame: bytes) -> int | None:
    """Where the Category of an unprotected category-127 FastPay action
    frame is; None for any other frame."""
    if mpdu.is_protected(frame):
        return None
    offset = mpdu.category_offset(frame)
    if (
        offset is not None
        and frame[offset] == CATEGORY_VENDOR
        and mpdu.action_body(frame, offset)[:OUI_LEN] == MESHFRAMES_OUI
    ):
        return offset
    return None


def protect_for_air(hop: HopSealer, frame: bytes) -> bytes:
    """What a secure mesh STA transmits for the plaintext MPDU `frame`.
    Raises `HopError` (counted in `hop.tx_refused`) when the frame needs
    protection and cannot get it; it must then not be sent at all."""
    layout = ccmp.protection_layout(frame)
    if layout is None:
        # Category 127 is not robust: only a frame CCMP leaves in the clear
        # can be one of ours to move to 126.
        offset = _clear_fastpay_category(frame)
        if offset is None:
            return frame
        frame = mpdu.with_category(frame, offset, CATEGORY_VENDOR_PROTECTED)
        layout = ccmp.protection_layout(frame)
        assert layout is not None  # 126 is robust
    return hop.seal_parsed(frame, *layout)


def open_from_air(hop: HopSealer, frame: bytes) -> bytes:
    """The plaintext of an MPDU addressed to us (or a group) in a secure
    mesh. Raises `HopError` (counted in `hop.rejected`) for a protected
    frame that does not open and for a cleartext frame that must be
    protected."""
    if mpdu.is_protected(frame):
        return hop.open(frame)
    if ccmp.needs_protection(frame) or _clear_fastpay_category(frame) is not None:
        error = NotProtected("frame arrived in the clear where a secure mesh requires protection")
        hop.rejected[error.reason] += 1
        raise error
    return frame

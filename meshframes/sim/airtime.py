"""Time on air of an 802.11 OFDM PPDU (802.11-2020 17.4.3, 5 GHz timing:
no 2.4 GHz signal extension) and the MAC timing around it."""

from __future__ import annotations

SLOT = 9e-6
SIFS = 16e-6
DIFS = SIFS + 2 * SLOT
CW_MIN = 15
CW_MAX = 1023
_PREAMBLE_AND_SIGNAL = 20e-6
_SYMBOL = 4e-6
FCS_LEN = 4
ACK_LEN = 14
OFDM_RATES_100KBPS = (60, 90, 120, 180, 240, 360, 480, 540)


def ppdu_duration(mpdu_len: int, rate_100kbps: int) -> float:
    """TXTIME for an MPDU of `mpdu_len` bytes (FCS added here):
    preamble + SIGNAL + 4 us per symbol, SERVICE (16) and tail (6) bits."""
    if rate_100kbps not in OFDM_RATES_100KBPS:
        raise ValueError(f"rate {rate_100kbps / 10} Mb/s is not an OFDM rate")
    bits_per_symbol = rate_100kbps * 4 // 10
    symbols = -(-(16 + 8 * (mpdu_len + FCS_LEN) + 6) // bits_per_symbol)
    return _PREAMBLE_AND_SIGNAL + _SYMBOL * symbols


def ack_duration(basic_rate_100kbps: int = 60) -> float:
    """SIFS plus the ACK that answers an individually addressed frame."""
    return SIFS + ppdu_duration(ACK_LEN - FCS_LEN, basic_rate_100kbps)

"""meshframes: FastPay payments over raw IEEE 802.11s mesh frames."""

__version__ = "0.1.0"

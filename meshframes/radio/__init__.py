"""Transports that move 802.11 frames between engines and a medium."""

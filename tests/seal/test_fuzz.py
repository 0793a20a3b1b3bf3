"""Arbitrary bytes, damaged frames and made-up fragments never crash a
receiver: every input is either opened or refused with a counted
`SealError`."""

from __future__ import annotations

import contextlib
import hashlib
from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from meshframes.codec.fastpay import FastPayFragment, MessageType
from meshframes.seal.ampe import open_ampe
from meshframes.seal.e2e import FLAG_SEALED, E2EIdentity, E2ESealer
from meshframes.seal.errors import SealError, SealReason
from meshframes.seal.hop import HopSealer
from meshframes.seal.keys import GroupKey

from .conftest import MAC_A, MAC_B, MAC_C
from .frames import fastpay_frame, mesh_data

TK = bytes(range(16))


def receiver() -> HopSealer:
    node = HopSealer(MAC_B)
    node.keys.install_pairwise(MAC_A, TK)
    node.keys.install_group_rx(MAC_A, GroupKey(TK, 1))
    return node


def sealed_frames() -> list[bytes]:
    sender = HopSealer(MAC_A)
    sender.keys.install_pairwise(MAC_B, TK)
    return [
        sender.seal(mesh_data(MAC_A, MAC_B, MAC_A, MAC_C, b"x" * 40)),
        sender.seal(fastpay_frame(MAC_A, MAC_B, MAC_A, MAC_C, b"y" * 40)),
    ]


def refused_or_opened(open_: Callable[[Any], object], counter: Counter[SealReason], data: object) -> None:
    before = sum(counter.values())
    try:
        open_(data)
    except SealError as error:
        assert counter[error.reason] >= 1
        assert sum(counter.values()) == before + 1


@settings(max_examples=300)
@given(st.binary(max_size=120))
def test_hop_open_survives_arbitrary_bytes(data):
    """Random octets: refused with a reason (or, by luck, opened), never an
    unexpected exception."""
    node = receiver()
    refused_or_opened(node.open, node.rejected, data)


@settings(max_examples=200)
@given(st.sampled_from(sealed_frames()), st.integers(0, 200), st.binary(max_size=8), st.integers(0, 200))
def test_hop_open_survives_truncated_and_spliced_frames(frame, cut, splice, at):
    """A genuine sealed frame cut short, with octets spliced in."""
    data = frame[:cut]
    data = data[:at] + splice + data[at:]
    node = receiver()
    refused_or_opened(node.open, node.rejected, data)


CLIENT = E2EIdentity(hashlib.sha256(b"client").digest()).public
payloads = st.one_of(st.binary(max_size=120), st.binary(min_size=8, max_size=80).map(lambda tail: CLIENT + tail))
macs = st.sampled_from([MAC_A, MAC_B, MAC_C, b"\xff" * 6])


@settings(max_examples=300)
@given(payloads, macs, macs)
def test_e2e_open_survives_arbitrary_payloads(payload, destination, source):
    """FastPay fragments with the sealed flag and any payload octets, some
    of them naming a real identity so that the tag check itself is
    reached, between any end-to-end addresses."""
    node = E2ESealer(E2EIdentity(hashlib.sha256(b"authority").digest()), initial_sequence=1)
    fragment = FastPayFragment(MessageType.FASTPAY_ORDER, FLAG_SEALED, 7, 0, 1, payload)
    refused_or_opened(lambda f: node.open_fragment(f, destination, source), node.rejected, fragment)


fragments = st.builds(FastPayFragment, st.integers(0, 255), st.integers(0, 255), st.integers(0, 0xFFFF),
                      st.integers(0, 255), st.integers(0, 255), st.one_of(st.binary(max_size=160), payloads),
                      st.integers(0, 255))


@settings(max_examples=300)
@given(fragments)
def test_e2e_open_survives_arbitrary_fragments(fragment):
    """Arbitrary header fields and octets handed to the end-to-end layer."""
    node = E2ESealer(E2EIdentity(hashlib.sha256(b"authority").digest()), initial_sequence=1)
    refused_or_opened(lambda f: node.open_fragment(f, MAC_C, MAC_A), node.rejected, fragment)


@settings(max_examples=200)
@given(st.binary(max_size=120))
def test_open_ampe_survives_arbitrary_bytes(data):
    """Arbitrary octets where the MIC element should be."""
    with contextlib.suppress(SealError):
        open_ampe(bytes(32), sender=MAC_A, receiver=MAC_B, body_before_mic=b"\x0f\x01", protected=data)

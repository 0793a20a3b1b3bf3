"""Scalar-op through OpenSSL's ECDH (x) and the curve equation (y, its sign
fixed by x of the next multiple) against the `ecdsa` package's own point
multiplication, on every supported group, at the edges of the scalar range
and at random scalars and points."""

from __future__ import annotations

import pytest
from ecdsa.ellipticcurve import INFINITY
from hypothesis import given, settings
from hypothesis import strategies as st

from meshframes.seal.sae_crypto import SUPPORTED_GROUPS, SaeCryptoError, ecc_group


def _same(group_number: int, k: int, base_scalar: int) -> None:
    group = ecc_group(group_number)
    p = group.prime
    base = group.generator * base_scalar
    point = group.point(int(base.x()), int(base.y()))
    mine, theirs = group.scalar_op(k, point), point * k
    if theirs == INFINITY:
        assert mine == INFINITY
        return
    assert (int(mine.x()) % p, int(mine.y()) % p) == (int(theirs.x()) % p, int(theirs.y()) % p)


@pytest.mark.parametrize("group_number", SUPPORTED_GROUPS)
@pytest.mark.parametrize(("orders", "offset"), [(0, 0), (0, 1), (0, 2), (0, 3), (0, -1), (0, -2), (1, -1), (1, -2),
                                                (1, 0), (1, 1), (2, 5)])
def test_edges_of_the_scalar_range(group_number: int, orders: int, offset: int) -> None:
    """k = orders * n + offset, n the group's order."""
    _same(group_number, orders * ecc_group(group_number).order + offset, 0xC0FFEE)


@settings(max_examples=40, deadline=None)
@given(group_number=st.sampled_from(SUPPORTED_GROUPS), k=st.integers(min_value=1, max_value=2**521),
       base=st.integers(min_value=1, max_value=2**64))
def test_random_scalars_and_points(group_number: int, k: int, base: int) -> None:
    _same(group_number, k, base)


@pytest.mark.parametrize("group_number", SUPPORTED_GROUPS)
def test_x_of_scalar_op_and_the_identity(group_number: int) -> None:
    group = ecc_group(group_number)
    point = group.generator * 7
    assert group.x_of_scalar_op(12345, point) == group.x_of(point * 12345)
    with pytest.raises(SaeCryptoError):
        group.x_of_scalar_op(group.order, point)
    with pytest.raises(SaeCryptoError):
        group.x_of_scalar_op(5, INFINITY)

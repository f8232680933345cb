"""Stripe maths (worked examples and properties) and the codecs."""

from __future__ import annotations

import doctest
import importlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3gw.storage.erasure import (
    PyECLibCodec,
    StripeCodec,
    client_range_to_stripe_range,
    codec_for,
    default_ec_type,
    stripe_block_range,
    stripe_count,
    stripe_length,
    stripe_slice,
    stripe_span,
    write_quorum,
)

MiB = 1 << 20


@pytest.mark.parametrize("module", ["erasure", "placement", "storage"])
def test_doctests(module) -> None:
    res = doctest.testmod(importlib.import_module(f"s3gw.storage.{module}"))
    assert res.failed == 0 and res.attempted > 0


def test_worked_example_5mib_object() -> None:
    # A 5 MiB + 10 byte object in 1 MiB stripes: 6 stripes, the last of 10 bytes.
    size = 5 * MiB + 10
    assert stripe_count(size, MiB) == 6
    assert stripe_length(5, size, MiB) == 10
    # Range: bytes=1048000-2098000 (inclusive) -> stripes 0..2, block range (0, 3)
    start, end = 1048000, 2098000
    assert client_range_to_stripe_range(start, end, MiB) == (0, 3 * MiB - 1)
    assert stripe_block_range(start, end - start + 1, MiB) == (0, 3)
    assert stripe_slice(0, start, end - start + 1, MiB) == (1048000, MiB)
    assert stripe_slice(2, start, end - start + 1, MiB) == (0, 2098001 - 2 * MiB)
    # the last byte alone: only the last stripe
    assert stripe_span(size - 1, 1, MiB) == (5, 6)


def test_quorum() -> None:
    assert write_quorum(6, 3) == 7
    assert write_quorum(6, 0) == 6
    assert write_quorum(1, 1) == 2


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10_000), st.integers(1, 3000), st.data())
def test_slices_cover_the_range_exactly(size, block, data) -> None:
    offset = data.draw(st.integers(0, size))
    length = data.draw(st.integers(0, size - offset))
    first, end = stripe_span(offset, length, block)
    covered = []
    for s in range(first, end):
        lo, hi = stripe_slice(s, offset, length, block)
        assert 0 <= lo < hi <= stripe_length(s, size, block)
        covered.append((s * block + lo, s * block + hi))
    # contiguous, exactly [offset, offset + length)
    if length == 0:
        assert covered == []
    else:
        assert covered[0][0] == offset and covered[-1][1] == offset + length
        assert all(a[1] == b[0] for a, b in zip(covered, covered[1:]))
        assert 0 <= first < end <= stripe_count(size, block)


def test_default_ec_type_is_isal() -> None:
    assert default_ec_type() in ("isa_l_rs_vand", "liberasurecode_rs_vand")


@pytest.fixture(scope="module")
def rs() -> PyECLibCodec:
    return codec_for(default_ec_type(), 6, 3)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5000))
def test_fragment_size_matches_encoder(length) -> None:
    c = codec_for(default_ec_type(), 6, 3)
    frags = c.encode(os.urandom(length))
    assert len(frags) == 9
    assert {len(f) for f in frags} == {c.fragment_size(length)}


@pytest.mark.parametrize("length", [1, 5, 6, 7, 1000, MiB])
def test_decode_paths_agree(rs, length) -> None:
    data = os.urandom(length)
    frags = dict(enumerate(rs.encode(data)))
    assert rs.decode(frags, length) == data  # fast path
    assert rs.decode({i: frags[i] for i in (3, 4, 5, 6, 7, 8)}, length) == data  # parity
    assert rs.decode({i: frags[i] for i in (0, 2, 4, 6, 7, 8)}, length) == data
    assert all(rs.check_fragment(i, f, length) for i, f in frags.items())
    rebuilt = rs.reconstruct({i: frags[i] for i in range(3, 9)}, [0, 2], length)
    assert rebuilt == [frags[0], frags[2]]


def test_check_fragment_rejects_swaps(rs) -> None:
    frags = rs.encode(b"x" * 1000)
    assert not rs.check_fragment(1, frags[0], 1000)  # wrong index
    assert not rs.check_fragment(0, frags[0], 999)  # wrong stripe length
    assert not rs.check_fragment(0, frags[0][:-1], 1000)  # truncated
    assert not rs.check_fragment(0, b"\0" * len(frags[0]), 1000)


def test_memoryview_fragments_are_safe(rs) -> None:
    # liberasurecode aborts the process on a memoryview: the codec converts.
    data = os.urandom(5000)
    frags = {i: memoryview(f) for i, f in enumerate(rs.encode(memoryview(data)))}
    assert rs.decode({i: frags[i] for i in range(3, 9)}, 5000) == data
    assert rs.decode(frags, 5000) == data


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 8), st.binary(min_size=1, max_size=300))
def test_striping_without_parity(k, data) -> None:
    c = StripeCodec(k)
    frags = c.encode(data)
    assert len(frags) == k and {len(f) for f in frags} == {c.fragment_size(len(data))}
    assert c.decode(dict(enumerate(frags)), len(data)) == data
    with pytest.raises(ValueError):
        c.reconstruct(dict(enumerate(frags)), [0], len(data))
    if k > 1:
        with pytest.raises(ValueError):
            c.decode(dict(list(enumerate(frags))[1:]), len(data))


def test_codec_for_caches_and_validates() -> None:
    assert codec_for("stripe", 4, 0) is codec_for("stripe", 4, 0)
    with pytest.raises(ValueError):
        codec_for("stripe", 0, 0)

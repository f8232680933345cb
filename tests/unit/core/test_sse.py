"""The encrypted object format (s3gw/core/sse.py): packages, ranges, and what a changed byte,
a moved package or a cut-off end do."""

from __future__ import annotations

import asyncio
import os

import pytest

from s3gw.core import sse as S


def _chunks(data: bytes, size: int = 100_000):
    async def gen():
        for i in range(0, len(data), size):
            yield data[i : i + size]

    return gen()


def _decrypt(sealed: bytes, key: bytes, iv: bytes, part: int, plain_size: int, offset: int, length: int) -> bytes:
    _, ct_off, ct_len, _ = S.cipher_range(offset, length, plain_size)

    async def run() -> bytes:
        out = b""
        async for c in S.decrypt_range(
            _chunks(sealed[ct_off : ct_off + ct_len]), key, iv, part, plain_size, offset, length
        ):
            out += c
        return out

    return asyncio.run(run())


@pytest.mark.parametrize("size", [1, S.PACKAGE - 1, S.PACKAGE, S.PACKAGE + 1, 3 * S.PACKAGE + 17])
def test_round_trip_and_every_range(size: int) -> None:
    key, iv = S.new_data_key(), S.new_iv()
    plain = os.urandom(size)
    enc = S.Encryptor(key, iv, 3)
    sealed = b"".join(enc.update(plain[i : i + 7777]) for i in range(0, size, 7777)) + enc.finish()
    assert len(sealed) == S.sealed_size(size)
    if size >= 16:  # a shorter random string may turn up in the ciphertext by chance
        assert plain[:64] not in sealed
    for off, n in [(0, size), (0, 1), (size - 1, 1), (size // 2, (size + 1) // 2), (max(0, S.PACKAGE - 3), 6)]:
        n = min(n, size - off)
        if n > 0:
            assert _decrypt(sealed, key, iv, 3, size, off, n) == plain[off : off + n], (off, n)


def test_a_range_reads_only_the_packages_covering_it() -> None:
    first, off, length, skip = S.cipher_range(10 * S.PACKAGE + 5, 100, 100 * S.PACKAGE)
    assert (first, off, length, skip) == (10, 10 * S.SEALED_PACKAGE, S.SEALED_PACKAGE, 5)


def test_packages_cannot_be_changed_moved_cut_or_read_under_another_part() -> None:
    key, iv = S.new_data_key(), S.new_iv()
    plain = os.urandom(3 * S.PACKAGE)
    sealed = S.encrypt_all(key, iv, 1, plain)
    size = len(plain)
    flipped = bytearray(sealed)
    flipped[100] ^= 1
    with pytest.raises(S.Tampered):
        _decrypt(bytes(flipped), key, iv, 1, size, 0, size)
    p = S.SEALED_PACKAGE
    swapped = sealed[p : 2 * p] + sealed[:p] + sealed[2 * p :]
    with pytest.raises(S.Tampered):
        _decrypt(swapped, key, iv, 1, size, 0, size)
    with pytest.raises(S.Tampered):  # the last package dropped: the one before is not final
        _decrypt(sealed[: 2 * p], key, iv, 1, 2 * S.PACKAGE, 0, 2 * S.PACKAGE)
    with pytest.raises(S.Tampered):  # another part number (a part swapped with another)
        _decrypt(sealed, key, iv, 2, size, 0, size)
    with pytest.raises(S.Tampered):  # another write's iv
        _decrypt(sealed, key, S.new_iv(), 1, size, 0, size)


def test_the_same_plaintext_never_encrypts_the_same_twice() -> None:
    key = S.new_data_key()
    plain = b"a" * 1000
    assert S.encrypt_all(key, S.new_iv(), 0, plain) != S.encrypt_all(key, S.new_iv(), 0, plain)


def test_customer_key_sealing_is_bound_to_the_object() -> None:
    ck, dk = os.urandom(32), S.new_data_key()
    sealed = S.seal_with_customer_key(ck, dk, "b", "k")
    assert S.open_with_customer_key(ck, sealed, "b", "k") == dk
    with pytest.raises(S.Tampered):
        S.open_with_customer_key(ck, sealed, "b", "other")
    with pytest.raises(S.Tampered):
        S.open_with_customer_key(os.urandom(32), sealed, "b", "k")
    assert S.key_check(ck) != S.key_check(os.urandom(32))


@pytest.mark.parametrize("sizes", [[1], [7, 65545, 3, 200_000], [S.SEALED_PACKAGE], [20_000] * 12, [174_843] * 3])
def test_packages_split_across_any_buffers_open_in_one_piece_per_drain(sizes: list[int]) -> None:
    """``feed`` holds the buffers as they come (a package may span several), ``drain`` opens every
    complete one; ``update`` copies what it keeps, so a caller reusing its buffer changes nothing."""
    key, iv = S.new_data_key(), S.new_iv()
    plain = os.urandom(4 * S.PACKAGE + 123)
    sealed = S.encrypt_all(key, iv, 0, plain)
    dec = S.Decryptor(key, iv, 0, 0, len(plain))
    out, pos, i = b"", 0, 0
    while pos < len(sealed):
        n = sizes[i % len(sizes)]
        dec.feed(sealed[pos : pos + n])
        pos, i = pos + n, i + 1
        got = dec.drain()
        assert len(got) % S.PACKAGE == 0 and dec.pending < S.SEALED_PACKAGE
        out += got
    assert out + dec.finish() == plain
    dec = S.Decryptor(key, iv, 0, 0, len(plain))
    buf, out = bytearray(sizes[0]), b""
    for pos in range(0, len(sealed), len(buf)):
        piece = sealed[pos : pos + len(buf)]
        buf[: len(piece)] = piece
        out += dec.update(memoryview(buf)[: len(piece)])
        buf[:] = bytes(len(buf))  # the caller reuses its buffer
    assert out + dec.finish() == plain


def test_sealing_from_reused_buffers_keeps_what_it_was_given() -> None:
    key, iv = S.new_data_key(), S.new_iv()
    plain = os.urandom(3 * S.PACKAGE + 5)
    enc = S.Encryptor(key, iv, 0)
    buf, sealed = bytearray(50_000), b""
    for pos in range(0, len(plain), len(buf)):
        piece = plain[pos : pos + len(buf)]
        buf[: len(piece)] = piece
        sealed += enc.update(memoryview(buf)[: len(piece)])
        buf[:] = bytes(len(buf))
    sealed += enc.finish()
    assert sealed == S.encrypt_all(key, iv, 0, plain)

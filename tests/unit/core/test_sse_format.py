"""The stored form of an encrypted object never changes (s3gw/core/sse.py): objects written by
any earlier version stay readable. The expected digests were made by the first release of the
format; a change to how packages are sealed must keep them."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from s3gw.core import sse as S

KEY = bytes(range(32))
IV = bytes(range(32, 64))
DATA = bytes((i * 7 + 3) % 251 for i in range(3 * S.PACKAGE + 1000))
SEALED_SHA256 = {
    0: "1fc4809283395685cd2ff8dc31eefd0237ae0eedd7957b61daffce82ca2957e2",
    2: "42db0fa9c9943a05eaccefc49cba01607871acbb6191ac00abef0cd677941bb6",
}


@pytest.mark.parametrize("part", sorted(SEALED_SHA256))
@pytest.mark.parametrize("step", [1000, S.PACKAGE, 100_000, len(DATA)])
def test_sealing_gives_the_same_bytes_as_the_first_release(part: int, step: int) -> None:
    enc = S.Encryptor(KEY, IV, part)
    sealed = b"".join(bytes(enc.update(DATA[i : i + step])) for i in range(0, len(DATA), step)) + enc.finish()
    assert len(sealed) == S.sealed_size(len(DATA))
    assert hashlib.sha256(sealed).hexdigest() == SEALED_SHA256[part]


@pytest.mark.parametrize("part", sorted(SEALED_SHA256))
def test_the_first_release_bytes_open_again(part: int) -> None:
    sealed = S.encrypt_all(KEY, IV, part, DATA)
    assert hashlib.sha256(sealed).hexdigest() == SEALED_SHA256[part]

    async def read(offset: int, length: int) -> bytes:
        _, ct_off, ct_len, _ = S.cipher_range(offset, length, len(DATA))

        async def source():
            for i in range(ct_off, ct_off + ct_len, 70_001):  # chunks that straddle packages
                yield sealed[i : min(i + 70_001, ct_off + ct_len)]

        return b"".join([bytes(p) async for p in S.decrypt_range(source(), KEY, IV, part, len(DATA), offset, length)])

    for offset, length in [(0, len(DATA)), (S.PACKAGE - 5, 10), (len(DATA) - 1, 1), (123, 2 * S.PACKAGE)]:
        assert asyncio.run(read(offset, length)) == DATA[offset : offset + length]

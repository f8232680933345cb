"""s3gw.core.checksums against published check values, botocore's own checksums and awscrt."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib

import pytest
from awscrt import checksums as crt
from botocore import httpchecksum as bc
from hypothesis import given, settings
from hypothesis import strategies as st

from s3gw.core.checksums import (
    ALGORITHMS,
    CRC_ALGORITHMS,
    combine_crc,
    composite,
    decode_b64,
    digest_size,
    full_object_crc,
    header_name,
    new_checksum,
)

# The CRC catalogue "check" values (CRC of b"123456789") and the SHA digests.
CHECK = {
    "CRC32": "cbf43926",
    "CRC32C": "e3069283",
    "CRC64NVME": "ae8b14860a799888",
    "SHA1": "f7c3bc1d808e04732adf679965ccc34ca7ae3441",
    "SHA256": "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225",
}

# botocore's implementations (what the SDK computes and sends).
BOTOCORE = {
    "CRC32": bc.Crc32Checksum,
    "CRC32C": bc.CrtCrc32cChecksum,
    "CRC64NVME": bc.CrtCrc64NvmeChecksum,
    "SHA1": bc.Sha1Checksum,
    "SHA256": bc.Sha256Checksum,
}

CRT_COMBINE = {"CRC32": crt.combine_crc32, "CRC32C": crt.combine_crc32c, "CRC64NVME": crt.combine_crc64nvme}
CRT_CRC = {"CRC32": crt.crc32, "CRC32C": crt.crc32c, "CRC64NVME": crt.crc64nvme}


def checksum_of(algo: str, data: bytes) -> bytes:
    ck = new_checksum(algo)
    ck.update(data)
    return ck.digest()


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_check_values(algo: str) -> None:
    assert checksum_of(algo, b"123456789").hex() == CHECK[algo]


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_empty(algo: str) -> None:
    ck = new_checksum(algo)
    assert len(ck.digest()) == digest_size(algo)
    if algo in CRC_ALGORITHMS:
        assert ck.digest() == bytes(digest_size(algo))


@pytest.mark.parametrize("algo", ALGORITHMS)
@pytest.mark.parametrize("size", [0, 1, 7, 100, 65536 + 3])
def test_matches_botocore(algo: str, size: int) -> None:
    data = os.urandom(size)
    ref = BOTOCORE[algo]()
    ref.update(data)
    ck = new_checksum(algo)
    ck.update(data)
    assert ck.b64() == ref.b64digest()


def test_aws_trailer_example_crc32c() -> None:
    # S3 API reference, sigv4-streaming-trailers: 66560 bytes of 'a' carry
    # the trailer x-amz-checksum-crc32c:sOO8/Q==.
    ck = new_checksum("crc32c")
    ck.update(b"a" * 65536)
    ck.update(b"a" * 1024)
    assert ck.b64() == "sOO8/Q=="


@settings(max_examples=60, deadline=None)
@given(algo=st.sampled_from(ALGORITHMS), data=st.binary(max_size=2000), cuts=st.lists(st.integers(0, 2000), max_size=8))
def test_incremental_equals_one_shot(algo: str, data: bytes, cuts: list[int]) -> None:
    ck = new_checksum(algo)
    prev = 0
    for cut in sorted(c for c in cuts if c <= len(data)) + [len(data)]:
        ck.update(data[prev:cut])
        prev = cut
    assert ck.digest() == checksum_of(algo, data)
    assert ck.digest() == ck.digest()  # digest() does not finalise


def test_names() -> None:
    assert header_name("CRC32") == "x-amz-checksum-crc32"
    assert header_name("crc64nvme") == "x-amz-checksum-crc64nvme"
    assert [header_name(a) for a in ALGORITHMS] == [
        "x-amz-checksum-crc32",
        "x-amz-checksum-crc32c",
        "x-amz-checksum-crc64nvme",
        "x-amz-checksum-sha1",
        "x-amz-checksum-sha256",
    ]
    assert new_checksum("sha256").algorithm == "SHA256"
    for bad in ("MD5", "crc", "", "SHA512"):
        with pytest.raises(ValueError):
            new_checksum(bad)
        with pytest.raises(ValueError):
            header_name(bad)


def test_decode_b64() -> None:
    assert decode_b64("CRC32", "y/Q5Jg==") == bytes.fromhex("cbf43926")
    assert decode_b64("CRC32", "y/Q5Jg") is None  # missing padding
    assert decode_b64("CRC32", "y/Q5Jg==AA") is None
    assert decode_b64("CRC32", "rosUhgp5mIg=") is None  # a CRC64 value
    assert decode_b64("CRC64NVME", "rosUhgp5mIg=") == bytes.fromhex("ae8b14860a799888")
    assert decode_b64("SHA256", "!!!!") is None


# ------------------------------------------------------------------ combination


@settings(max_examples=150, deadline=None)
@given(algo=st.sampled_from(CRC_ALGORITHMS), a=st.binary(max_size=600), b=st.binary(max_size=600))
def test_combine_equals_crc_of_concatenation(algo: str, a: bytes, b: bytes) -> None:
    got = combine_crc(algo, checksum_of(algo, a), checksum_of(algo, b), len(b))
    assert got == checksum_of(algo, a + b)


@pytest.mark.parametrize("algo", CRC_ALGORITHMS)
@pytest.mark.parametrize("len2", [0, 1, 2, 3, 8, 255, 4096, 5 * 1024**3, 2**40 + 12345])
def test_combine_matches_awscrt_for_large_lengths(algo: str, len2: int) -> None:
    # Lengths we cannot materialise: the CRT's combine is the reference.
    c1 = CRT_CRC[algo](b"first part")
    c2 = CRT_CRC[algo](b"second part, pretending to be long")
    size = digest_size(algo)
    got = combine_crc(algo, c1.to_bytes(size, "big"), c2.to_bytes(size, "big"), len2)
    assert int.from_bytes(got, "big") == CRT_COMBINE[algo](c1, c2, len2)


@pytest.mark.parametrize("algo", CRC_ALGORITHMS)
def test_combine_over_a_megabyte_of_zeros(algo: str) -> None:
    a, b = b"x" * 10, bytes(1 << 20)
    assert combine_crc(algo, checksum_of(algo, a), checksum_of(algo, b), len(b)) == checksum_of(algo, a + b)


@pytest.mark.parametrize("algo", CRC_ALGORITHMS)
def test_full_object_crc_of_parts(algo: str) -> None:
    parts = [os.urandom(n) for n in (5 * 1024 * 1024, 1234, 0, 77)]
    got = full_object_crc(algo, [(checksum_of(algo, p), len(p)) for p in parts])
    assert got == checksum_of(algo, b"".join(parts))
    assert full_object_crc(algo, []) == checksum_of(algo, b"")


def test_combine_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        combine_crc("SHA256", bytes(32), bytes(32), 1)
    with pytest.raises(ValueError):
        combine_crc("CRC32", bytes(8), bytes(4), 1)
    with pytest.raises(ValueError):
        combine_crc("CRC32", bytes(4), bytes(4), -1)


# ------------------------------------------------------------------ composite


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_composite_is_checksum_of_part_checksums(algo: str) -> None:
    parts = [b"part one" * 1000, b"part two", b"3"]
    digests = [checksum_of(algo, p) for p in parts]
    want = base64.b64encode(checksum_of(algo, b"".join(digests))).decode()
    assert composite(algo, digests) == f"{want}-3"


def test_composite_independent_reference() -> None:
    d1, d2 = hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()
    assert composite("SHA256", [d1, d2]) == base64.b64encode(hashlib.sha256(d1 + d2).digest()).decode() + "-2"
    c1, c2 = zlib.crc32(b"a").to_bytes(4, "big"), zlib.crc32(b"b").to_bytes(4, "big")
    assert composite("CRC32", [c1, c2]) == base64.b64encode(zlib.crc32(c1 + c2).to_bytes(4, "big")).decode() + "-2"

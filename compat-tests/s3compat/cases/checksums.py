"""Flexible checksums: each algorithm through boto3's defaults (aws-chunked with a
trailing checksum) and through explicit headers, wrong values, checksum mode on
reads, Content-MD5 together with a checksum."""

from __future__ import annotations

import base64
import hashlib
import zlib

from ..core import CHECKSUM_HEADERS, add, call, case, raw_obs

ALGOS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
BODY = b"checksum me please" * 100
CH = ("etag", "content-length") + CHECKSUM_HEADERS


def _algo_put(algo, variant):
    def fn(c):
        s3 = c.s3(variant)
        o = {
            "put": call(lambda: s3.put_object(Bucket=c.bucket, Key="k", Body=BODY, ChecksumAlgorithm=algo), headers=CH)
        }
        o["head-mode"] = call(lambda: s3.head_object(Bucket=c.bucket, Key="k", ChecksumMode="ENABLED"), headers=CH)
        o["head-plain"] = call(lambda: c.admin.head_object(Bucket=c.bucket, Key="k"), headers=CH)
        o["get-mode"] = call(lambda: s3.get_object(Bucket=c.bucket, Key="k", ChecksumMode="ENABLED"), headers=CH)
        o["get-range-mode"] = call(
            lambda: s3.get_object(Bucket=c.bucket, Key="k", ChecksumMode="ENABLED", Range="bytes=0-9"), headers=CH
        )
        return o

    return fn


for algo in ALGOS:
    for variant in ("boto3", "boto3-wr"):
        add(
            f"checksums.put[{algo}].{variant}",
            "PutObject",
            variant,
            _algo_put(algo, variant),
            {"put.status": 200, f"head-mode.h.x-amz-checksum-{algo.lower()}": lambda v: bool(v)},
        )


def _b64(d: bytes) -> str:
    return base64.b64encode(d).decode()


GOOD = {
    "CRC32": _b64(zlib.crc32(BODY).to_bytes(4, "big")),
    "SHA1": _b64(hashlib.sha1(BODY).digest()),
    "SHA256": _b64(hashlib.sha256(BODY).digest()),
}
WRONG = {
    "CRC32": _b64(zlib.crc32(b"other").to_bytes(4, "big")),
    "SHA1": _b64(hashlib.sha1(b"other").digest()),
    "SHA256": _b64(hashlib.sha256(b"other").digest()),
    "CRC32C": _b64(b"\x00\x00\x00\x01"),
}


def _explicit(algo, value):
    def fn(c):
        return {
            "put": call(
                lambda: c.admin.put_object(Bucket=c.bucket, Key="k", Body=BODY, **{f"Checksum{algo}": value}),
                headers=CH,
            ),
            "head": call(lambda: c.admin.head_object(Bucket=c.bucket, Key="k", ChecksumMode="ENABLED"), headers=CH),
        }

    return fn


for algo, v in GOOD.items():
    add(f"checksums.explicit-right[{algo}]", "PutObject", "boto3-wr", _explicit(algo, v), {"put.status": 200})
for algo, v in WRONG.items():
    add(
        f"checksums.explicit-wrong[{algo}]",
        "PutObject",
        "boto3-wr",
        _explicit(algo, v),
        {"put.status": 400, "head.status": 404},
    )
add(
    "checksums.explicit-bad-base64[SHA256]",
    "PutObject",
    "boto3-wr",
    _explicit("SHA256", "%%%not-base64"),
    {"put.status": 400},
)
add(
    "checksums.explicit-short[SHA256]",
    "PutObject",
    "boto3-wr",
    _explicit("SHA256", _b64(b"short")),
    {"put.status": 400},
)


def _raw_put(headers):
    def fn(c):
        r = c.raw.request("PUT", f"/{c.bucket}/k", body=BODY, headers=headers)
        h = c.raw.request("HEAD", f"/{c.bucket}/k", headers={"x-amz-checksum-mode": "ENABLED"})
        return {
            "put": raw_obs(r, headers=CH),
            "head": {"status": h.status, "h": {k: v for k, v in h.headers.items() if k in CHECKSUM_HEADERS}},
        }

    return fn


RAW = {
    "crc32-right": {"x-amz-checksum-crc32": GOOD["CRC32"]},
    "crc32-wrong": {"x-amz-checksum-crc32": WRONG["CRC32"]},
    "sdk-algorithm-without-value": {"x-amz-sdk-checksum-algorithm": "CRC32"},
    "two-checksums": {"x-amz-checksum-crc32": GOOD["CRC32"], "x-amz-checksum-sha1": GOOD["SHA1"]},
    "unknown-algorithm": {"x-amz-sdk-checksum-algorithm": "MD4"},
    "md5-and-crc32": {"content-md5": _b64(hashlib.md5(BODY).digest()), "x-amz-checksum-crc32": GOOD["CRC32"]},
    "md5-wrong-crc32-right": {"content-md5": _b64(hashlib.md5(b"x").digest()), "x-amz-checksum-crc32": GOOD["CRC32"]},
    "checksum-type-full-object": {"x-amz-checksum-crc32": GOOD["CRC32"], "x-amz-checksum-type": "FULL_OBJECT"},
}
for label, h in RAW.items():
    add(f"checksums.raw[{label}]", "PutObject", "http", _raw_put(h), {"put.status": lambda s: s in (200, 400)})


@case("checksums.get-mode-without-stored", "GetObject", "boto3-wr", {"get.status": 200})
def _(c):
    """An object written without any checksum, read with checksum mode."""
    c.raw.request("PUT", f"/{c.bucket}/k", body=b"no checksum")
    return {
        "get": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k", ChecksumMode="ENABLED"), headers=CH, read=True)
    }


@case("checksums.response-validation", "GetObject", "boto3", {"get.body": "validated"})
def _(c):
    """boto3 validates the response checksum it is sent (when_supported)."""
    s3 = c.s3()
    s3.put_object(Bucket=c.bucket, Key="k", Body=b"validated", ChecksumAlgorithm="CRC32C")
    return {"get": call(lambda: s3.get_object(Bucket=c.bucket, Key="k"), headers=CH, read=True)}


@case("checksums.copy-keeps-checksum", "CopyObject", "boto3", {"copy.status": 200})
def _(c):
    s3 = c.s3()
    s3.put_object(Bucket=c.bucket, Key="k", Body=BODY, ChecksumAlgorithm="SHA256")
    return {
        "copy": call(
            lambda: s3.copy_object(Bucket=c.bucket, Key="d", CopySource={"Bucket": c.bucket, "Key": "k"}),
            "CopyObjectResult",
            headers=CH,
        ),
        "head": call(lambda: s3.head_object(Bucket=c.bucket, Key="d", ChecksumMode="ENABLED"), headers=CH),
    }


@case("checksums.copy-new-algorithm", "CopyObject", "boto3", {"copy.status": 200})
def _(c):
    s3 = c.s3()
    s3.put_object(Bucket=c.bucket, Key="k", Body=BODY, ChecksumAlgorithm="CRC32")
    return {
        "copy": call(
            lambda: s3.copy_object(
                Bucket=c.bucket, Key="d", CopySource={"Bucket": c.bucket, "Key": "k"}, ChecksumAlgorithm="SHA1"
            ),
            "CopyObjectResult",
            headers=CH,
        ),
        "head": call(lambda: s3.head_object(Bucket=c.bucket, Key="d", ChecksumMode="ENABLED"), headers=CH),
    }


@case("checksums.delete-objects-md5-free", "DeleteObjects", "boto3", {"r.status": 200})
def _(c):
    """boto3's default sends DeleteObjects with a CRC32 checksum and no Content-MD5."""
    c.put("a", b"x")
    return {
        "r": call(
            lambda: c.s3().delete_objects(Bucket=c.bucket, Delete={"Objects": [{"Key": "a"}], "Quiet": True}),
            no_headers=True,
        )
    }

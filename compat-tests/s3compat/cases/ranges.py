"""Ranges: single byte ranges (open, suffix, past the end), unsatisfiable and
ignored forms, partNumber on a single-part object, HEAD with Range."""

from __future__ import annotations

from ..core import add, call, raw_obs

BODY = bytes(range(100))
RH = ("content-range", "content-length", "etag", "accept-ranges")

RANGES = {
    "first-byte": ("bytes=0-0", 206),
    "first-10": ("bytes=0-9", 206),
    "middle": ("bytes=10-19", 206),
    "last-byte": ("bytes=99-99", 206),
    "open-end": ("bytes=90-", 206),
    "suffix-10": ("bytes=-10", 206),
    "suffix-whole": ("bytes=-100", 206),
    "suffix-longer": ("bytes=-200", 206),
    "end-past-size": ("bytes=90-200", 206),
    "whole-explicit": ("bytes=0-99", 206),
    "start-at-size": ("bytes=100-", 416),
    "start-past-size": ("bytes=200-300", 416),
    "suffix-zero": ("bytes=-0", 416),
    "reversed": ("bytes=5-2", 416),  # MinIO: 416 (AWS ignores the header: 200)
    "garbage": ("bytes=abc", 200),
    "wrong-unit": ("items=0-1", 200),
    "multi-range": ("bytes=0-1,3-4", 200),
    "spaces": ("bytes= 0-1", 200),
    "no-equals": ("bytes 0-1", 200),
}


def _get(rng: str, method: str):
    def fn(c):
        c.put("r", BODY)
        if method == "GET":
            o = call(lambda: c.admin.get_object(Bucket=c.bucket, Key="r", Range=rng), headers=RH, read=True)
        else:
            o = call(lambda: c.admin.head_object(Bucket=c.bucket, Key="r", Range=rng), headers=RH)
        return {"r": o}

    return fn


for label, (rng, status) in RANGES.items():
    add(f"ranges.get[{label}]", "GetObject", "boto3-wr", _get(rng, "GET"), {"r.status": status})
for label in ("first-10", "suffix-10", "open-end", "start-past-size", "garbage"):
    add(
        f"ranges.head[{label}]",
        "HeadObject",
        "boto3-wr",
        _get(RANGES[label][0], "HEAD"),
        {"r.status": lambda s: s in (200, 206, 416)},
    )


def _empty(rng):
    def fn(c):
        c.put("e", b"")
        return {"r": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="e", Range=rng), headers=RH, read=True)}

    return fn


for label, rng in {"zero-zero": "bytes=0-0", "open": "bytes=0-", "suffix": "bytes=-1"}.items():
    add(
        f"ranges.empty-object[{label}]",
        "GetObject",
        "boto3-wr",
        _empty(rng),
        {"r.status": lambda s: s in (200, 206, 416)},
    )


def _part(n):
    def fn(c):
        c.put("p", BODY)
        return {
            "get": call(
                lambda: c.admin.get_object(Bucket=c.bucket, Key="p", PartNumber=n),
                headers=RH + ("x-amz-mp-parts-count",),
                read=True,
            ),
            "head": call(
                lambda: c.admin.head_object(Bucket=c.bucket, Key="p", PartNumber=n),
                headers=RH + ("x-amz-mp-parts-count",),
            ),
        }

    return fn


add("ranges.part-number[1]", "GetObject", "boto3-wr", _part(1), {"get.status": 206})
add("ranges.part-number[2]", "GetObject", "boto3-wr", _part(2), {"get.code": "InvalidPartNumber"})
add("ranges.part-number[10001]", "GetObject", "boto3-wr", _part(10001), {"get.status": lambda s: s >= 400})


def _part_and_range(c):
    c.put("p", BODY)
    return {
        "r": raw_obs(
            c.raw.request("GET", f"/{c.bucket}/p", query=[("partNumber", "1")], headers={"range": "bytes=0-1"}),
            headers=RH,
        )
    }


add("ranges.part-number-and-range", "GetObject", "http", _part_and_range, {"r.status": 400})


def _minio_range(offset, length):
    def fn(c):
        c.put("r", BODY)
        from ..core import minio_err

        def get():
            r = c.minio.get_object(c.bucket, "r", offset=offset, length=length)
            try:
                return {"status": r.status, "content-range": r.headers.get("content-range"), "body": r.read()}
            finally:
                r.close()
                r.release_conn()

        return {"r": minio_err(get)}

    return fn


for label, (off, ln) in {
    "offset-10": (10, 0),
    "offset-10-len-5": (10, 5),
    "offset-0-len-1": (0, 1),
    "offset-past-end": (150, 0),
    "len-past-end": (95, 20),
}.items():
    add(f"ranges.minio-py[{label}]", "GetObject", "minio-py", _minio_range(off, ln), {"r": lambda r: r is not None})

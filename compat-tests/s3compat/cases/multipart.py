"""Multipart uploads: the full flow, part-level reads, listing uploads and parts,
abort, copy parts, checksums, and the error paths (InvalidPart, InvalidPartOrder,
EntityTooSmall, NoSuchUpload, bad part numbers)."""

from __future__ import annotations

import io

from ..core import CHECKSUM_HEADERS, add, call, call_list, case

MiB = 1 << 20
P1 = b"1" * (5 * MiB)
P2 = b"2" * 1024
MH = ("etag", "content-length", "x-amz-mp-parts-count", "content-range") + CHECKSUM_HEADERS


def _create(c, s3=None, key="mp", **kw):
    s3 = s3 or c.admin
    return s3.create_multipart_upload(Bucket=c.bucket, Key=key, **kw)["UploadId"]


def _upload(c, uid, n, data, s3=None, key="mp", **kw):
    s3 = s3 or c.admin
    return s3.upload_part(Bucket=c.bucket, Key=key, UploadId=uid, PartNumber=n, Body=data, **kw)


def _complete(c, uid, parts):
    """CompleteMultipartUpload of "mp" with ``parts`` ((number, ETag) pairs), to hand to ``call``."""
    doc = {"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]}
    return lambda: c.admin.complete_multipart_upload(Bucket=c.bucket, Key="mp", UploadId=uid, MultipartUpload=doc)


def _flow(variant, checksum=None):
    def fn(c):
        s3 = c.s3(variant)
        kw = {"ChecksumAlgorithm": checksum} if checksum else {}
        o = {}
        o["create"] = call(
            lambda: s3.create_multipart_upload(Bucket=c.bucket, Key="mp", Metadata={"m": "1"}, **kw),
            "Key",
            "UploadId",
            headers=("x-amz-checksum-algorithm", "x-amz-checksum-type"),
        )
        uid = o["create"].get("UploadId")
        if not uid:
            return o
        parts = []
        for n, data in ((1, P1), (2, P2)):
            r = call(
                lambda: s3.upload_part(Bucket=c.bucket, Key="mp", UploadId=uid, PartNumber=n, Body=data, **kw),
                "ETag",
                headers=("etag",) + CHECKSUM_HEADERS,
            )
            o[f"part{n}"] = r
            part = {"PartNumber": n, "ETag": r.get("ETag")}
            if checksum:
                part[f"Checksum{checksum}"] = r["h"].get(f"x-amz-checksum-{checksum.lower()}")
            parts.append(part)
        o["list-parts"] = call_list(lambda: s3.list_parts(Bucket=c.bucket, Key="mp", UploadId=uid))
        o["complete"] = call(
            lambda: s3.complete_multipart_upload(
                Bucket=c.bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts}
            ),
            "ETag",
            "Key",
            headers=("x-amz-version-id",) + CHECKSUM_HEADERS,
        )
        o["head"] = call(
            lambda: s3.head_object(Bucket=c.bucket, Key="mp", ChecksumMode="ENABLED"), "Metadata", headers=MH
        )
        o["head-part1"] = call(lambda: s3.head_object(Bucket=c.bucket, Key="mp", PartNumber=1), headers=MH)
        o["get-part2"] = call(lambda: s3.get_object(Bucket=c.bucket, Key="mp", PartNumber=2), headers=MH, read=True)
        o["get-part3"] = call(lambda: s3.get_object(Bucket=c.bucket, Key="mp", PartNumber=3), headers=MH)
        o["get-range-across"] = call(
            lambda: s3.get_object(Bucket=c.bucket, Key="mp", Range=f"bytes={5 * MiB - 2}-{5 * MiB + 1}"),
            headers=MH,
            read=True,
        )
        o["uploads-after"] = call_list(lambda: s3.list_multipart_uploads(Bucket=c.bucket))
        return o

    return fn


for variant in ("boto3", "boto3-wr"):
    add(
        f"multipart.flow.{variant}",
        "CompleteMultipartUpload",
        variant,
        _flow(variant),
        {
            "complete.status": 200,
            "complete.ETag": lambda e: e.endswith('-2"'),
            "head-part1.h.x-amz-mp-parts-count": "2",
        },
    )
for algo in ("CRC32", "CRC32C", "SHA1", "SHA256"):
    add(
        f"multipart.flow-checksum[{algo}]",
        "CompleteMultipartUpload",
        "boto3",
        _flow("boto3", algo),
        {"complete.status": 200},
    )


@case("multipart.complete.wrong-etag", "CompleteMultipartUpload", "boto3-wr", {"r.code": "InvalidPart"})
def _(c):
    uid = _create(c)
    _upload(c, uid, 1, P2)
    return {"r": call(_complete(c, uid, [(1, '"00000000000000000000000000000000"')]))}


@case("multipart.complete.missing-part", "CompleteMultipartUpload", "boto3-wr", {"r.code": "InvalidPart"})
def _(c):
    uid = _create(c)
    e = _upload(c, uid, 1, P2)["ETag"]
    return {"r": call(_complete(c, uid, [(1, e), (2, e)]))}


@case("multipart.complete.out-of-order", "CompleteMultipartUpload", "boto3-wr", {"r.code": "InvalidPartOrder"})
def _(c):
    uid = _create(c)
    e1 = _upload(c, uid, 1, P1)["ETag"]
    e2 = _upload(c, uid, 2, P2)["ETag"]
    return {"r": call(_complete(c, uid, [(2, e2), (1, e1)]))}


@case("multipart.complete.too-small", "CompleteMultipartUpload", "boto3-wr", {"r.code": "EntityTooSmall"})
def _(c):
    uid = _create(c)
    e1 = _upload(c, uid, 1, P2)["ETag"]
    e2 = _upload(c, uid, 2, P2)["ETag"]
    return {"r": call(_complete(c, uid, [(1, e1), (2, e2)]))}


@case(
    "multipart.complete.single-small-part",
    "CompleteMultipartUpload",
    "boto3-wr",
    {
        "r.status": 200,
        "r.ETag": '"' + __import__("hashlib").md5(__import__("hashlib").md5(P2).digest()).hexdigest() + '-1"',
    },
)
def _(c):
    uid = _create(c)
    e1 = _upload(c, uid, 1, P2)["ETag"]
    return {
        "r": call(
            _complete(c, uid, [(1, e1)]),
            "ETag",
        )
    }


@case("multipart.complete.empty-list", "CompleteMultipartUpload", "boto3-wr", {"r.status": 400})
def _(c):
    uid = _create(c)
    return {"r": call(_complete(c, uid, []))}


@case("multipart.complete.twice", "CompleteMultipartUpload", "boto3-wr", {"first.status": 200})
def _(c):
    uid = _create(c)
    f = _complete(c, uid, [(1, _upload(c, uid, 1, P2)["ETag"])])
    return {"first": call(f, "ETag"), "second": call(f, "ETag")}


@case("multipart.upload-part.no-such-upload", "UploadPart", "boto3-wr", {"r.code": "NoSuchUpload", "r.status": 404})
def _(c):
    return {
        "r": call(
            lambda: c.admin.upload_part(
                Bucket=c.bucket, Key="mp", UploadId="bm9zdWNoLXVwbG9hZA", PartNumber=1, Body=b"x"
            )
        )
    }


@case("multipart.abort", "AbortMultipartUpload", "boto3-wr", {"abort.status": 204, "parts.code": "NoSuchUpload"})
def _(c):
    uid = _create(c)
    _upload(c, uid, 1, P2)
    return {
        "abort": call(lambda: c.admin.abort_multipart_upload(Bucket=c.bucket, Key="mp", UploadId=uid)),
        "parts": call(lambda: c.admin.list_parts(Bucket=c.bucket, Key="mp", UploadId=uid)),
        "again": call(lambda: c.admin.abort_multipart_upload(Bucket=c.bucket, Key="mp", UploadId=uid)),
        "object": call(lambda: c.admin.head_object(Bucket=c.bucket, Key="mp"), headers=()),
    }


for n, want in ((0, 400), (10001, 400), (10000, 200)):
    add(
        f"multipart.part-number[{n}]",
        "UploadPart",
        "boto3-wr",
        (lambda n: lambda c: {"r": call(lambda: _upload(c, _create(c), n, b"x"), headers=("etag",))})(n),
        {"r.status": want},
    )


@case("multipart.part-overwrite", "UploadPart", "boto3-wr", {"parts.status": 200})
def _(c):
    uid = _create(c)
    _upload(c, uid, 1, b"first")
    _upload(c, uid, 1, b"second!")
    return {"parts": call_list(lambda: c.admin.list_parts(Bucket=c.bucket, Key="mp", UploadId=uid))}


@case("multipart.list-parts.paged", "ListParts", "boto3-wr", {"p1.IsTruncated": True})
def _(c):
    uid = _create(c)
    for n in (1, 2, 3):
        _upload(c, uid, n, b"p" * n)
    p1 = call_list(lambda: c.admin.list_parts(Bucket=c.bucket, Key="mp", UploadId=uid, MaxParts=2))
    p2 = call_list(lambda: c.admin.list_parts(Bucket=c.bucket, Key="mp", UploadId=uid, MaxParts=2, PartNumberMarker=2))
    return {"p1": p1, "p2": p2}


@case("multipart.list-uploads", "ListMultipartUploads", "boto3-wr", {"all.status": 200})
def _(c):
    for k in ("a/1", "a/2", "b", "c/d/e"):
        _create(c, key=k)
    return {
        "all": call_list(lambda: c.admin.list_multipart_uploads(Bucket=c.bucket)),
        "prefix": call_list(lambda: c.admin.list_multipart_uploads(Bucket=c.bucket, Prefix="a/")),
        "delim": call_list(lambda: c.admin.list_multipart_uploads(Bucket=c.bucket, Delimiter="/")),
        "max1": call_list(lambda: c.admin.list_multipart_uploads(Bucket=c.bucket, MaxUploads=1)),
    }


@case("multipart.list-uploads.empty", "ListMultipartUploads", "boto3-wr", {"all.status": 200})
def _(c):
    return {"all": call_list(lambda: c.admin.list_multipart_uploads(Bucket=c.bucket))}


@case("multipart.upload-part-copy", "UploadPartCopy", "boto3-wr", {"complete.status": 200})
def _(c):
    c.put("src", P1 + P2)
    uid = _create(c)
    r1 = call(
        lambda: c.admin.upload_part_copy(
            Bucket=c.bucket,
            Key="mp",
            UploadId=uid,
            PartNumber=1,
            CopySource={"Bucket": c.bucket, "Key": "src"},
            CopySourceRange=f"bytes=0-{5 * MiB - 1}",
        ),
        "CopyPartResult",
    )
    r2 = call(
        lambda: c.admin.upload_part_copy(
            Bucket=c.bucket,
            Key="mp",
            UploadId=uid,
            PartNumber=2,
            CopySource={"Bucket": c.bucket, "Key": "src"},
            CopySourceRange=f"bytes={5 * MiB}-{5 * MiB + 1023}",
        ),
        "CopyPartResult",
    )
    parts = [(n, (r.get("CopyPartResult") or {}).get("ETag")) for n, r in ((1, r1), (2, r2))]
    return {"r1": r1, "r2": r2, "complete": call(_complete(c, uid, parts), "ETag")}


@case("multipart.upload-part-copy.bad-range", "UploadPartCopy", "boto3-wr", {"r.status": 400})
def _(c):
    c.put("src", b"short")
    uid = _create(c)
    return {
        "r": call(
            lambda: c.admin.upload_part_copy(
                Bucket=c.bucket,
                Key="mp",
                UploadId=uid,
                PartNumber=1,
                CopySource={"Bucket": c.bucket, "Key": "src"},
                CopySourceRange="bytes=0-100",
            )
        )
    }


@case("multipart.transfer-manager", "CompleteMultipartUpload", "boto3", {"head.status": 200})
def _(c):
    from boto3.s3.transfer import TransferConfig

    cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=2)
    c.s3().upload_fileobj(io.BytesIO(b"t" * (11 * MiB)), c.bucket, "tm", Config=cfg)
    return {"head": call(lambda: c.admin.head_object(Bucket=c.bucket, Key="tm"), headers=MH)}


@case("multipart.create.missing-bucket", "CreateMultipartUpload", "boto3-wr", {"r.code": "NoSuchBucket"}, bucket=None)
def _(c):
    return {"r": call(lambda: c.admin.create_multipart_upload(Bucket=c.name(), Key="k"))}


@case("multipart.get-part-of-single-part-object", "GetObject", "boto3-wr", {"r.status": 206})
def _(c):
    c.put("k", b"single")
    return {"r": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k", PartNumber=1), headers=MH, read=True)}

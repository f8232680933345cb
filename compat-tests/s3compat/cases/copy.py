"""CopyObject: directives, copy onto itself, conditions on the source, errors."""

from __future__ import annotations

import datetime as dt

from ..core import add, call, case

PAST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FUTURE = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
HEAD_H = ("etag", "content-length", "content-type", "cache-control", "content-disposition", "x-amz-version-id")


def _src(c, key="src", body=b"copy me", **kw):
    return c.put(key, body, ContentType="text/plain", Metadata={"origin": "src"}, CacheControl="no-cache", **kw)


def _copy(c, src_key="src", dest="dst", dest_bucket=None, src_bucket=None, **kw):
    return call(
        lambda: c.admin.copy_object(
            Bucket=dest_bucket or c.bucket,
            Key=dest,
            CopySource={"Bucket": src_bucket or c.bucket, "Key": src_key},
            **kw,
        ),
        "CopyObjectResult",
        headers=("x-amz-version-id", "x-amz-copy-source-version-id", "content-type"),
    )


def _head(c, key="dst", bucket=None):
    return call(lambda: c.admin.head_object(Bucket=bucket or c.bucket, Key=key), "Metadata", headers=HEAD_H)


@case("copy.same-bucket", "CopyObject", "boto3-wr", {"copy.status": 200, "head.Metadata": {"origin": "src"}})
def _(c):
    _src(c)
    return {"copy": _copy(c), "head": _head(c), "body": c.admin.get_object(Bucket=c.bucket, Key="dst")["Body"].read()}


@case("copy.cross-bucket", "CopyObject", "boto3-wr", {"copy.status": 200, "head.status": 200})
def _(c):
    _src(c)
    other = c.make_bucket(suffix="-2")
    return {"copy": _copy(c, dest_bucket=other), "head": _head(c, bucket=other)}


@case("copy.replace-metadata", "CopyObject", "boto3-wr", {"copy.status": 200, "head.Metadata": {"new": "yes"}})
def _(c):
    _src(c)
    return {
        "copy": _copy(c, MetadataDirective="REPLACE", Metadata={"new": "yes"}, ContentType="application/json"),
        "head": _head(c),
    }


@case("copy.replace-without-headers", "CopyObject", "boto3-wr", {"copy.status": 200})
def _(c):
    _src(c)
    return {"copy": _copy(c, MetadataDirective="REPLACE"), "head": _head(c)}


@case("copy.copy-directive-ignores-new-metadata", "CopyObject", "boto3-wr", {"head.Metadata": {"origin": "src"}})
def _(c):
    _src(c)
    return {"copy": _copy(c, MetadataDirective="COPY", Metadata={"new": "ignored"}), "head": _head(c)}


@case("copy.onto-itself-no-change", "CopyObject", "boto3-wr", {"copy.code": "InvalidRequest", "copy.status": 400})
def _(c):
    _src(c)
    return {"copy": _copy(c, dest="src")}


@case("copy.onto-itself-replace", "CopyObject", "boto3-wr", {"copy.status": 200, "head.Metadata": {"changed": "1"}})
def _(c):
    _src(c)
    return {
        "copy": _copy(c, dest="src", MetadataDirective="REPLACE", Metadata={"changed": "1"}),
        "head": _head(c, "src"),
    }


@case(
    "copy.onto-itself-replace-content-type",
    "CopyObject",
    "boto3-wr",
    {"copy.status": 200, "head.h.content-type": "image/png"},
)
def _(c):
    _src(c)
    return {"copy": _copy(c, dest="src", MetadataDirective="REPLACE", ContentType="image/png"), "head": _head(c, "src")}


@case("copy.bad-directive", "CopyObject", "boto3-wr", {"copy.code": "InvalidArgument"})
def _(c):
    _src(c)
    return {"copy": _copy(c, MetadataDirective="MOVE")}


@case("copy.missing-source-key", "CopyObject", "boto3-wr", {"copy.code": "NoSuchKey", "copy.status": 404})
def _(c):
    return {"copy": _copy(c, src_key="nope")}


@case("copy.missing-source-bucket", "CopyObject", "boto3-wr", {"copy.code": "NoSuchBucket"})
def _(c):
    return {"copy": _copy(c, src_bucket=c.name("-nosuch"))}


@case("copy.missing-dest-bucket", "CopyObject", "boto3-wr", {"copy.code": "NoSuchBucket"})
def _(c):
    _src(c)
    return {"copy": _copy(c, dest_bucket=c.name("-nosuch"))}


@case("copy.empty-object", "CopyObject", "boto3-wr", {"copy.status": 200, "head.h.content-length": "0"})
def _(c):
    _src(c, body=b"")
    return {"copy": _copy(c), "head": _head(c)}


@case("copy.6MiB-object", "CopyObject", "boto3-wr", {"copy.status": 200, "head.h.content-length": str(6 << 20)})
def _(c):
    _src(c, body=b"6" * (6 << 20))
    return {"copy": _copy(c), "head": _head(c)}


@case("copy.odd-source-key", "CopyObject", "boto3-wr", {"copy.status": 200})
def _(c):
    k = "src dir/\u00e9 + %20?&#.txt"
    _src(c, key=k)
    return {"copy": _copy(c, src_key=k, dest="\u65e5\u672c dst"), "head": _head(c, "\u65e5\u672c dst")}


@case("copy.source-version-null", "CopyObject", "boto3-wr", {"copy.status": 200})
def _(c):
    _src(c)
    return {
        "copy": call(
            lambda: c.admin.copy_object(
                Bucket=c.bucket, Key="dst", CopySource={"Bucket": c.bucket, "Key": "src", "VersionId": "null"}
            ),
            "CopyObjectResult",
            headers=("x-amz-version-id", "x-amz-copy-source-version-id"),
        )
    }


@case("copy.source-raw-no-slash", "CopyObject", "http", {"copy.status": 400})
def _(c):
    from ..core import raw_obs

    return {
        "copy": raw_obs(c.raw.request("PUT", f"/{c.bucket}/dst", headers={"x-amz-copy-source": c.bucket}), headers=())
    }


@case("copy.source-raw-leading-slash", "CopyObject", "http", {"copy.status": 200})
def _(c):
    from ..core import raw_obs

    _src(c)
    return {
        "copy": raw_obs(
            c.raw.request("PUT", f"/{c.bucket}/dst", headers={"x-amz-copy-source": f"/{c.bucket}/src"}), headers=()
        )
    }


@case("copy.source-raw-url-encoded", "CopyObject", "http", {"copy.status": 200})
def _(c):
    from ..core import raw_obs

    _src(c, key="a b+c")
    return {
        "copy": raw_obs(
            c.raw.request("PUT", f"/{c.bucket}/dst", headers={"x-amz-copy-source": f"{c.bucket}/a%20b%2Bc"}), headers=()
        )
    }


@case("copy.boto3-default", "CopyObject", "boto3", {"copy.status": 200})
def _(c):
    _src(c)
    return {
        "copy": call(
            lambda: c.s3().copy_object(Bucket=c.bucket, Key="dst", CopySource={"Bucket": c.bucket, "Key": "src"}),
            "CopyObjectResult",
            headers=("x-amz-version-id",),
        )
    }


@case("copy.managed-copy", "CopyObject", "boto3", {"head.status": 200})
def _(c):
    _src(c)
    c.s3().copy({"Bucket": c.bucket, "Key": "src"}, c.bucket, "managed")
    return {"head": _head(c, "managed")}


CONDS = {
    "if-match-right": (lambda e: {"CopySourceIfMatch": e}, 200),
    "if-match-wrong": (lambda e: {"CopySourceIfMatch": '"deadbeef"'}, 412),
    "if-match-star": (lambda e: {"CopySourceIfMatch": "*"}, 200),
    "if-none-match-right": (lambda e: {"CopySourceIfNoneMatch": e}, 412),
    "if-none-match-wrong": (lambda e: {"CopySourceIfNoneMatch": '"deadbeef"'}, 200),
    "if-modified-since-past": (lambda e: {"CopySourceIfModifiedSince": PAST}, 200),
    "if-modified-since-future": (lambda e: {"CopySourceIfModifiedSince": FUTURE}, 412),
    "if-unmodified-since-past": (lambda e: {"CopySourceIfUnmodifiedSince": PAST}, 412),
    "if-unmodified-since-future": (lambda e: {"CopySourceIfUnmodifiedSince": FUTURE}, 200),
    # AWS lets a true if-match win over a false if-unmodified-since (and if-none-match
    # over if-modified-since); MinIO, the reference, fails either condition.
    "match-right-unmodified-past": (lambda e: {"CopySourceIfMatch": e, "CopySourceIfUnmodifiedSince": PAST}, 412),
    "none-match-wrong-modified-future": (
        lambda e: {"CopySourceIfNoneMatch": '"x"', "CopySourceIfModifiedSince": FUTURE},
        412,
    ),
    "none-match-right-modified-past": (lambda e: {"CopySourceIfNoneMatch": e, "CopySourceIfModifiedSince": PAST}, 412),
}
for label, (kw, status) in CONDS.items():
    add(
        f"copy.condition[{label}]",
        "CopyObject",
        "boto3-wr",
        (lambda kw: lambda c: {"copy": _copy(c, **kw(_src(c)["ETag"]))})(kw),
        {"copy.status": status},
    )

"""Tagging: object tags (PutObjectTagging, the x-amz-tagging header, tag counts,
limits) and bucket tags."""

from __future__ import annotations

from ..core import add, call, case

TS = lambda d: [{"Key": k, "Value": v} for k, v in d.items()]  # noqa: E731


def _tags(r):
    if "TagSet" in r:
        r["TagSet"] = sorted(r["TagSet"], key=lambda t: t["Key"])
    return r


@case(
    "tagging.object.put-get-delete",
    "PutObjectTagging",
    "boto3-wr",
    {"put.status": 200, "get.TagSet": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}], "after.TagSet": []},
)
def _(c):
    c.put("k", b"x")
    return {
        "put": call(
            lambda: c.admin.put_object_tagging(Bucket=c.bucket, Key="k", Tagging={"TagSet": TS({"a": "1", "b": ""})}),
            headers=("x-amz-version-id",),
        ),
        "get": _tags(call(lambda: c.admin.get_object_tagging(Bucket=c.bucket, Key="k"), "TagSet", no_headers=True)),
        "head": call(lambda: c.admin.head_object(Bucket=c.bucket, Key="k"), headers=("x-amz-tagging-count",)),
        "delete": call(lambda: c.admin.delete_object_tagging(Bucket=c.bucket, Key="k"), headers=()),
        "after": _tags(call(lambda: c.admin.get_object_tagging(Bucket=c.bucket, Key="k"), "TagSet", no_headers=True)),
    }


@case("tagging.object.header-on-put", "PutObject", "boto3-wr", {"get.h.x-amz-tagging-count": "2"})
def _(c):
    c.admin.put_object(Bucket=c.bucket, Key="k", Body=b"x", Tagging="a=1&b=two%20words")
    return {
        "get": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k"), headers=("x-amz-tagging-count",)),
        "tags": _tags(call(lambda: c.admin.get_object_tagging(Bucket=c.bucket, Key="k"), "TagSet", no_headers=True)),
    }


@case("tagging.object.header-bad", "PutObject", "boto3-wr", {"put.status": 400})
def _(c):
    return {"put": call(lambda: c.admin.put_object(Bucket=c.bucket, Key="k", Body=b"x", Tagging="=nokey"), headers=())}


LIMITS = {
    "11-tags": {f"k{i}": "v" for i in range(11)},
    "10-tags": {f"k{i}": "v" for i in range(10)},
    "key-128": {"k" * 128: "v"},
    "key-129": {"k" * 129: "v"},
    "value-256": {"k": "v" * 256},
    "value-257": {"k": "v" * 257},
    "aws-prefix": {"aws:reserved": "v"},
    "unicode": {"\u00e9t\u00e9": "\u65e5\u672c"},
}
OK_LIMITS = {"10-tags", "key-128", "value-256", "aws-prefix"}  # MinIO refuses non-ASCII tags
for label, tags in LIMITS.items():
    add(
        f"tagging.object.limits[{label}]",
        "PutObjectTagging",
        "boto3-wr",
        (
            lambda tags: (
                lambda c: (
                    c.put("k", b"x"),
                    {
                        "put": call(
                            lambda: c.admin.put_object_tagging(Bucket=c.bucket, Key="k", Tagging={"TagSet": TS(tags)}),
                            headers=(),
                        )
                    },
                )[1]
            )
        )(tags),
        {"put.status": 200 if label in OK_LIMITS else 400},
    )


@case("tagging.object.duplicate-keys", "PutObjectTagging", "boto3-wr", {"put.status": 400})
def _(c):
    c.put("k", b"x")
    return {
        "put": call(
            lambda: c.admin.put_object_tagging(
                Bucket=c.bucket, Key="k", Tagging={"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]}
            ),
            headers=(),
        )
    }


@case("tagging.object.missing-key", "GetObjectTagging", "boto3-wr", {"get.code": "NoSuchKey"})
def _(c):
    return {"get": call(lambda: c.admin.get_object_tagging(Bucket=c.bucket, Key="nope"))}


@case("tagging.object.copy-replace", "CopyObject", "boto3-wr", {"tags.TagSet": [{"Key": "new", "Value": "1"}]})
def _(c):
    c.admin.put_object(Bucket=c.bucket, Key="k", Body=b"x", Tagging="old=1")
    cp = call(
        lambda: c.admin.copy_object(
            Bucket=c.bucket,
            Key="d",
            CopySource={"Bucket": c.bucket, "Key": "k"},
            TaggingDirective="REPLACE",
            Tagging="new=1",
        ),
        headers=(),
    )
    return {
        "copy": cp,
        "tags": _tags(call(lambda: c.admin.get_object_tagging(Bucket=c.bucket, Key="d"), "TagSet", no_headers=True)),
    }


@case("tagging.object.copy-keeps", "CopyObject", "boto3-wr", {"tags.TagSet": [{"Key": "old", "Value": "1"}]})
def _(c):
    c.admin.put_object(Bucket=c.bucket, Key="k", Body=b"x", Tagging="old=1")
    c.admin.copy_object(Bucket=c.bucket, Key="d", CopySource={"Bucket": c.bucket, "Key": "k"})
    return {
        "tags": _tags(call(lambda: c.admin.get_object_tagging(Bucket=c.bucket, Key="d"), "TagSet", no_headers=True))
    }


@case("tagging.object.boto3-default", "PutObjectTagging", "boto3", {"put.status": 200})
def _(c):
    c.put("k", b"x")
    return {
        "put": call(
            lambda: c.s3().put_object_tagging(Bucket=c.bucket, Key="k", Tagging={"TagSet": TS({"z": "9"})}), headers=()
        )
    }


@case(
    "tagging.bucket.put-get-delete",
    "PutBucketTagging",
    "boto3-wr",
    {"put.status": 200, "get.TagSet": [{"Key": "team", "Value": "s3"}], "after.code": "NoSuchTagSet"},
)
def _(c):
    return {
        "put": call(
            lambda: c.admin.put_bucket_tagging(Bucket=c.bucket, Tagging={"TagSet": TS({"team": "s3"})}), headers=()
        ),
        "get": _tags(call(lambda: c.admin.get_bucket_tagging(Bucket=c.bucket), "TagSet", no_headers=True)),
        "delete": call(lambda: c.admin.delete_bucket_tagging(Bucket=c.bucket), headers=()),
        "after": call(lambda: c.admin.get_bucket_tagging(Bucket=c.bucket)),
    }


@case("tagging.bucket.none", "GetBucketTagging", "boto3-wr", {"get.code": "NoSuchTagSet", "get.status": 404})
def _(c):
    return {"get": call(lambda: c.admin.get_bucket_tagging(Bucket=c.bucket))}


@case("tagging.bucket.too-many", "PutBucketTagging", "boto3-wr", {"put.status": 400})
def _(c):
    return {
        "put": call(
            lambda: c.admin.put_bucket_tagging(
                Bucket=c.bucket, Tagging={"TagSet": TS({f"k{i}": "v" for i in range(51)})}
            )
        )
    }


@case("tagging.minio-py", "SetObjectTags", "minio-py", {"r.ok": {"x": "1"}})
def _(c):
    from minio.commonconfig import Tags

    from ..core import minio_err

    c.put("k", b"x")
    t = Tags.new_object_tags()
    t["x"] = "1"
    return {
        "r": minio_err(
            lambda: (c.minio.set_object_tags(c.bucket, "k", t), dict(c.minio.get_object_tags(c.bucket, "k") or {}))[1]
        )
    }

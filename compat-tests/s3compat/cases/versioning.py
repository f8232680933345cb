"""Versioning: PutBucketVersioning/GetBucketVersioning, versions and delete markers,
reads by version id, suspended buckets and the null version, ListObjectVersions."""

from __future__ import annotations

from ..core import call, call_list, case

VH = ("etag", "x-amz-version-id", "x-amz-delete-marker", "content-length")


def _vs(c, status, bucket=None):
    return call(
        lambda: c.admin.put_bucket_versioning(Bucket=bucket or c.bucket, VersioningConfiguration={"Status": status})
    )


def _get_vs(c, bucket=None):
    return call(
        lambda: c.admin.get_bucket_versioning(Bucket=bucket or c.bucket), "Status", "MFADelete", no_headers=True
    )


@case("versioning.get-unset", "GetBucketVersioning", "boto3-wr", {"r.status": 200})
def _(c):
    return {"r": _get_vs(c)}


@case("versioning.enable", "PutBucketVersioning", "boto3-wr", {"put.status": 200, "get.Status": "Enabled"})
def _(c):
    return {"put": _vs(c, "Enabled"), "get": _get_vs(c)}


@case("versioning.suspend", "PutBucketVersioning", "boto3-wr", {"put.status": 200, "get.Status": "Suspended"})
def _(c):
    _vs(c, "Enabled")
    return {"put": _vs(c, "Suspended"), "get": _get_vs(c)}


@case("versioning.suspend-never-enabled", "PutBucketVersioning", "boto3-wr", {"put.status": 200})
def _(c):
    return {"put": _vs(c, "Suspended"), "get": _get_vs(c)}


@case("versioning.bad-status", "PutBucketVersioning", "boto3-wr", {"put.status": 400})
def _(c):
    return {"put": _vs(c, "Sometimes")}


@case("versioning.malformed", "PutBucketVersioning", "http", {"put.status": 400})
def _(c):
    from ..core import raw_obs

    return {
        "put": raw_obs(
            c.raw.request("PUT", f"/{c.bucket}", query=[("versioning", "")], body=b"<Versioning"), headers=()
        )
    }


@case("versioning.missing-bucket", "GetBucketVersioning", "boto3-wr", {"r.code": "NoSuchBucket"}, bucket=None)
def _(c):
    return {"r": call(lambda: c.admin.get_bucket_versioning(Bucket=c.name()))}


def _two_versions(c, key="k"):
    v1 = c.put(key, b"one")
    v2 = c.put(key, b"two!")
    return v1.get("VersionId"), v2.get("VersionId")


@case(
    "versioning.put-two-versions", "PutObject", "boto3-wr", {"distinct": True, "list.status": 200}, bucket="versioned"
)
def _(c):
    v1, v2 = _two_versions(c)
    return {
        "distinct": bool(v1 and v2 and v1 != v2),
        "ids": {"VersionId": [v1, v2]},
        "list": call_list(lambda: c.admin.list_object_versions(Bucket=c.bucket)),
    }


@case(
    "versioning.get-old-version", "GetObject", "boto3-wr", {"old.body": "one", "new.body": "two!"}, bucket="versioned"
)
def _(c):
    v1, v2 = _two_versions(c)
    return {
        "old": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k", VersionId=v1), headers=VH, read=True),
        "new": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k"), headers=VH, read=True),
        "head-old": call(lambda: c.admin.head_object(Bucket=c.bucket, Key="k", VersionId=v1), headers=VH),
    }


@case(
    "versioning.delete-makes-marker",
    "DeleteObject",
    "boto3-wr",
    {"delete.h.x-amz-delete-marker": "true", "get.code": "NoSuchKey", "get.h.x-amz-delete-marker": "true"},
    bucket="versioned",
)
def _(c):
    _two_versions(c)
    d = call(lambda: c.admin.delete_object(Bucket=c.bucket, Key="k"), "DeleteMarker", "VersionId", headers=VH)
    return {
        "delete": d,
        "get": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k"), headers=VH),
        "head": call(lambda: c.admin.head_object(Bucket=c.bucket, Key="k"), headers=VH),
        "get-marker": call(
            lambda: c.admin.get_object(Bucket=c.bucket, Key="k", VersionId=d.get("VersionId", "x")), headers=VH
        ),
        "head-marker": call(
            lambda: c.admin.head_object(Bucket=c.bucket, Key="k", VersionId=d.get("VersionId", "x")), headers=VH
        ),
        "list": call_list(lambda: c.admin.list_object_versions(Bucket=c.bucket)),
        "list-v2": call_list(lambda: c.admin.list_objects_v2(Bucket=c.bucket)),
    }


@case(
    "versioning.delete-version",
    "DeleteObject",
    "boto3-wr",
    {"delete.status": 204, "get.body": "one"},
    bucket="versioned",
)
def _(c):
    v1, v2 = _two_versions(c)
    return {
        "delete": call(lambda: c.admin.delete_object(Bucket=c.bucket, Key="k", VersionId=v2), "VersionId", headers=VH),
        "get": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k"), headers=VH, read=True),
    }


@case("versioning.delete-marker-removed-restores", "DeleteObject", "boto3-wr", {"get.body": "two!"}, bucket="versioned")
def _(c):
    _two_versions(c)
    mid = c.admin.delete_object(Bucket=c.bucket, Key="k").get("VersionId")
    return {
        "delete": call(
            lambda: c.admin.delete_object(Bucket=c.bucket, Key="k", VersionId=mid), "DeleteMarker", headers=VH
        ),
        "get": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k"), headers=VH, read=True),
    }


@case(
    "versioning.delete-missing-key-makes-marker", "DeleteObject", "boto3-wr", {"delete.status": 204}, bucket="versioned"
)
def _(c):
    return {
        "delete": call(lambda: c.admin.delete_object(Bucket=c.bucket, Key="ghost"), "DeleteMarker", headers=VH),
        "list": call_list(lambda: c.admin.list_object_versions(Bucket=c.bucket)),
    }


@case("versioning.get-missing-version", "GetObject", "boto3-wr", {"r.status": 404}, bucket="versioned")
def _(c):
    _two_versions(c)
    return {
        "r": call(
            lambda: c.admin.get_object(Bucket=c.bucket, Key="k", VersionId="9b2cf535-f27d-4a65-a4f4-ea3c4c1e6e42")
        )
    }


@case("versioning.get-bad-version-id", "GetObject", "boto3-wr", {"r.status": 400}, bucket="versioned")
def _(c):
    _two_versions(c)
    return {"r": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k", VersionId="not-a-version"))}


@case("versioning.suspended-null-version", "PutObject", "boto3-wr", {"get-null.body": "null2"}, bucket="versioned")
def _(c):
    c.put("k", b"versioned")
    _vs(c, "Suspended")
    p = call(lambda: c.admin.put_object(Bucket=c.bucket, Key="k", Body=b"null1"), headers=VH)
    call(lambda: c.admin.put_object(Bucket=c.bucket, Key="k", Body=b"null2"), headers=VH)
    return {
        "put": p,
        "list": call_list(lambda: c.admin.list_object_versions(Bucket=c.bucket)),
        "get-null": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k", VersionId="null"), headers=VH, read=True),
        "delete": call(lambda: c.admin.delete_object(Bucket=c.bucket, Key="k"), headers=VH),
    }


@case("versioning.list.paged", "ListObjectVersions", "boto3-wr", {"p1.IsTruncated": True}, bucket="versioned")
def _(c):
    for k in ("a", "b"):
        _two_versions(c, k)
    p1 = c.admin.list_object_versions(Bucket=c.bucket, MaxKeys=3)
    o = {"p1": call_list(lambda: p1)}
    o["p2"] = call_list(
        lambda: c.admin.list_object_versions(
            Bucket=c.bucket,
            MaxKeys=3,
            KeyMarker=p1.get("NextKeyMarker", ""),
            VersionIdMarker=p1.get("NextVersionIdMarker", ""),
        )
    )
    return o


@case("versioning.list.prefix-delimiter", "ListObjectVersions", "boto3-wr", {"r.status": 200}, bucket="versioned")
def _(c):
    for k in ("d/1", "d/2", "e"):
        c.put(k, b"x")
    c.admin.delete_object(Bucket=c.bucket, Key="e")
    return {
        "r": call_list(lambda: c.admin.list_object_versions(Bucket=c.bucket, Delimiter="/")),
        "p": call_list(lambda: c.admin.list_object_versions(Bucket=c.bucket, Prefix="d/")),
    }


@case("versioning.copy-from-version", "CopyObject", "boto3-wr", {"get.body": "one"}, bucket="versioned")
def _(c):
    v1, _ = _two_versions(c)
    cp = call(
        lambda: c.admin.copy_object(
            Bucket=c.bucket, Key="copy", CopySource={"Bucket": c.bucket, "Key": "k", "VersionId": v1}
        ),
        headers=("x-amz-version-id", "x-amz-copy-source-version-id"),
    )
    return {"copy": cp, "get": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="copy"), headers=(), read=True)}


@case("versioning.delete-objects-versions", "DeleteObjects", "boto3-wr", {"r.status": 200}, bucket="versioned")
def _(c):
    v1, v2 = _two_versions(c)
    r = call(
        lambda: c.admin.delete_objects(
            Bucket=c.bucket, Delete={"Objects": [{"Key": "k", "VersionId": v1}, {"Key": "k"}]}
        ),
        "Deleted",
        "Errors",
        no_headers=True,
    )
    return {"r": r, "list": call_list(lambda: c.admin.list_object_versions(Bucket=c.bucket))}


@case("versioning.head-version-headers", "HeadObject", "boto3", {"head.status": 200}, bucket="versioned")
def _(c):
    s3 = c.s3()
    s3.put_object(Bucket=c.bucket, Key="k", Body=b"x")
    return {"head": call(lambda: s3.head_object(Bucket=c.bucket, Key="k"), headers=VH)}


@case("versioning.minio-py", "SetBucketVersioning", "minio-py", {"r.ok": "Enabled"})
def _(c):
    from minio.commonconfig import ENABLED
    from minio.versioningconfig import VersioningConfig

    from ..core import minio_err

    return {
        "r": minio_err(
            lambda: (
                c.minio.set_bucket_versioning(c.bucket, VersioningConfig(ENABLED)),
                c.minio.get_bucket_versioning(c.bucket).status,
            )[1]
        )
    }


@case("versioning.aws-cli", "PutBucketVersioning", "aws-cli", {"rc": 0, "get.Status": "Enabled"})
def _(c):
    r = c.aws("s3api", "put-bucket-versioning", "--bucket", c.bucket, "--versioning-configuration", "Status=Enabled")
    g = c.aws("s3api", "get-bucket-versioning", "--bucket", c.bucket)
    return {"rc": r.rc, "code": r.code, "get": g.json}

"""GetObjectAttributes (``?attributes``): ETag, Checksum, ObjectParts with part checksums and
paging, StorageClass, ObjectSize; versions, delete markers and refusals. boto3, the aws CLI
and raw HTTP, the same on every target."""

from __future__ import annotations

import json

from ..core import call, case, raw_obs

ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]
MiB = 1 << 20
FIELDS = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")


def _attrs(c, key: str, attrs: list[str] = ALL, **kw) -> dict:
    return call(
        lambda: c.s3("boto3-wr").get_object_attributes(Bucket=c.bucket, Key=key, ObjectAttributes=attrs, **kw),
        *FIELDS,
        headers=("x-amz-version-id",),
    )


def _multipart(c, key: str, algo: str = "CRC32", sizes: tuple[int, ...] = (5 * MiB, 5 * MiB, 10)) -> None:
    s3 = c.s3("boto3-wr")
    up = s3.create_multipart_upload(Bucket=c.bucket, Key=key, ChecksumAlgorithm=algo)
    parts = []
    for i, n in enumerate(sizes, 1):
        p = s3.upload_part(
            Bucket=c.bucket, Key=key, UploadId=up["UploadId"], PartNumber=i, Body=b"p" * n, ChecksumAlgorithm=algo
        )
        parts.append({"PartNumber": i, "ETag": p["ETag"], f"Checksum{algo}": p[f"Checksum{algo}"]})
    s3.complete_multipart_upload(Bucket=c.bucket, Key=key, UploadId=up["UploadId"], MultipartUpload={"Parts": parts})


@case("attributes.simple", "GetObjectAttributes", "boto3-wr", {"all.status": 200, "all.ObjectSize": 5})
def _(c):
    c.s3("boto3-wr").put_object(Bucket=c.bucket, Key="k", Body=b"hello", ChecksumAlgorithm="SHA256")
    c.put("plain", b"no checksum")
    return {
        "all": _attrs(c, "k"),
        "some": _attrs(c, "k", ["ObjectSize", "ETag"]),
        "no-checksum": _attrs(c, "plain", ["Checksum", "ObjectSize"]),
    }


@case("attributes.multipart-paged", "GetObjectAttributes", "boto3-wr", {"first.status": 200, "rest.status": 200})
def _(c):
    """A multipart object's parts with their checksums, two pages."""
    _multipart(c, "mp")
    return {
        "first": _attrs(c, "mp", MaxParts=2),
        "rest": _attrs(c, "mp", ["ObjectParts"], MaxParts=2, PartNumberMarker=2),
        "past": _attrs(c, "mp", ["ObjectParts"], PartNumberMarker=5),
    }


@case(
    "attributes.versions",
    "GetObjectAttributes",
    "boto3-wr",
    {"old.status": 200, "deleted.status": 404, "marker-version.status": 405, "missing.status": 404},
    bucket="versioned",
)
def _(c):
    s3 = c.s3("boto3-wr")
    v1 = c.put("k", b"one")["VersionId"]
    c.put("k", b"two!")
    dm = s3.delete_object(Bucket=c.bucket, Key="k")["VersionId"]
    return {
        "old": _attrs(c, "k", ["ObjectSize", "ETag"], VersionId=v1),
        "deleted": _attrs(c, "k", ["ObjectSize"]),
        "marker-version": _attrs(c, "k", ["ObjectSize"], VersionId=dm),
        "missing": _attrs(c, "nope", ["ObjectSize"]),
    }


@case(
    "attributes.refused",
    "GetObjectAttributes",
    "http",
    {"no-header.status": 400, "bad-name.status": 400, "bad-max.status": 400},
)
def _(c):
    c.put("k", b"x")
    out = {}
    for label, headers in (
        ("no-header", {}),
        ("bad-name", {"x-amz-object-attributes": "ETag,Colour"}),
        ("bad-max", {"x-amz-object-attributes": "ObjectParts", "x-amz-max-parts": "many"}),
    ):
        out[label] = raw_obs(c.raw.request("GET", f"/{c.bucket}/k", [("attributes", "")], headers), headers=())
    return out


@case("attributes.aws-cli", "GetObjectAttributes", "aws-cli", {"r.rc": 0})
def _(c):
    c.put("k", b"from the cli")
    r = c.aws(
        "s3api",
        "get-object-attributes",
        "--bucket",
        c.bucket,
        "--key",
        "k",
        "--object-attributes",
        "ETag",
        "ObjectSize",
        "StorageClass",
    )
    doc = json.loads(r.out) if r.rc == 0 and r.out.strip() else {}
    doc.pop("LastModified", None)
    return {"r": {"rc": r.rc, "doc": doc}}

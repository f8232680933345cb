"""GetObjectAttributes against a live gateway, through boto3 and the aws CLI (which got 501
NotImplemented before): ETag, Checksum, ObjectParts with part checksums and paging,
StorageClass, ObjectSize; versions, delete markers, refusals."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server
from tests.functional.rawhttp import signed_request

MiB = 1 << 20
ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]


def test_a_simple_object(s3, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"hello", ChecksumAlgorithm="SHA256")
    r = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=ALL)
    assert r["ETag"] == put["ETag"].strip('"') and r["ObjectSize"] == 5 and r["StorageClass"] == "STANDARD"
    assert r["Checksum"] == {"ChecksumSHA256": put["ChecksumSHA256"], "ChecksumType": "FULL_OBJECT"}
    assert r["ObjectParts"]["TotalPartsCount"] == 1 and r["ObjectParts"]["Parts"] == [{"PartNumber": 1, "Size": 5}]
    only = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ObjectSize"])
    assert "ETag" not in only and "Checksum" not in only and only["ObjectSize"] == 5


def test_parts_with_their_checksums_paged(s3, bucket: str) -> None:
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm="CRC32")
    parts = []
    for i, n in enumerate((5 * MiB, 5 * MiB, 10), 1):
        p = s3.upload_part(
            Bucket=bucket,
            Key="mp",
            UploadId=up["UploadId"],
            PartNumber=i,
            Body=bytes([i]) * n,
            ChecksumAlgorithm="CRC32",
        )
        parts.append({"PartNumber": i, "ETag": p["ETag"], "ChecksumCRC32": p["ChecksumCRC32"]})
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": parts})
    first = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=ALL, MaxParts=2)
    op = first["ObjectParts"]
    assert (op["TotalPartsCount"], op["MaxParts"], op["IsTruncated"], op["NextPartNumberMarker"]) == (3, 2, True, 2)
    assert [(p["PartNumber"], p["Size"], p["ChecksumCRC32"]) for p in op["Parts"]] == [
        (1, 5 * MiB, parts[0]["ChecksumCRC32"]),
        (2, 5 * MiB, parts[1]["ChecksumCRC32"]),
    ]
    assert first["Checksum"]["ChecksumType"] == "COMPOSITE" and "-" not in first["Checksum"]["ChecksumCRC32"]
    assert first["ETag"].endswith("-3") and first["ObjectSize"] == 10 * MiB + 10
    rest = s3.get_object_attributes(
        Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts"], MaxParts=2, PartNumberMarker=2
    )["ObjectParts"]
    assert not rest["IsTruncated"] and [p["PartNumber"] for p in rest["Parts"]] == [3]


def test_versions_and_delete_markers(s3, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"two!")
    r = s3.get_object_attributes(Bucket=bucket, Key="k", VersionId=v1, ObjectAttributes=["ObjectSize"])
    assert r["ObjectSize"] == 3 and r["VersionId"] == v1
    dm = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    for kw, code in (({}, "NoSuchKey"), ({"VersionId": dm}, "MethodNotAllowed")):
        with pytest.raises(ClientError) as e:
            s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ObjectSize"], **kw)
        assert e.value.response["Error"]["Code"] == code


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-amz-object-attributes": "ETag,Colour"},
        {"x-amz-object-attributes": "ObjectParts", "x-amz-max-parts": "many"},
    ],
)
def test_refused(server: Server, s3, bucket: str, headers: dict[str, str]) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = signed_request(server, "GET", f"/{bucket}/k?attributes", b"", headers)
    assert r.status == 400 and b"<Code>InvalidArgument</Code>" in r.body


def test_the_aws_cli(server: Server, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="cli", Body=b"from the cli")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    cp = subprocess.run(
        [
            "aws",
            "--endpoint-url",
            server.url,
            "s3api",
            "get-object-attributes",
            "--bucket",
            bucket,
            "--key",
            "cli",
            "--object-attributes",
            "ETag",
            "ObjectSize",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cp.returncode == 0, cp.stderr
    assert json.loads(cp.stdout)["ObjectSize"] == 12

"""Multipart uploads with boto3, the transfer manager, the aws CLI and minio-py."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import zlib
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from minio import Minio

from tests.functional.test_clients import aws

MiB = 1 << 20


def err(e: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


def mp_etag(parts: list[bytes]) -> str:
    return hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + f"-{len(parts)}"


def upload(s3, bucket: str, key: str, parts: list[bytes], **create) -> dict:
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    done = []
    for n, data in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=data)
        done.append({"PartNumber": n, "ETag": r["ETag"]})
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done})


def test_basic_multipart(s3, bucket: str) -> None:
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(1234)]
    r = upload(s3, bucket, "mp", parts, ContentType="text/x-mp", Metadata={"m": "1"})
    assert r["ETag"] == f'"{mp_etag(parts)}"'
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == b"".join(parts)
    assert got["ContentType"] == "text/x-mp" and got["Metadata"] == {"m": "1"}
    assert got["ETag"] == r["ETag"]
    rng = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={5 * MiB - 10}-{5 * MiB + 10}")["Body"].read()
    assert rng == b"".join(parts)[5 * MiB - 10 : 5 * MiB + 11]


def test_part_number_reads(s3, bucket: str) -> None:
    parts = [os.urandom(5 * MiB), os.urandom(100)]
    upload(s3, bucket, "pn", parts)
    for n, data in enumerate(parts, 1):
        got = s3.get_object(Bucket=bucket, Key="pn", PartNumber=n)
        assert got["Body"].read() == data
        assert got["PartsCount"] == 2
        head = s3.head_object(Bucket=bucket, Key="pn", PartNumber=n)
        assert head["ContentLength"] == len(data) and head["PartsCount"] == 2
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="pn", PartNumber=3)
    assert err(e) == (416, "InvalidPartNumber")


def test_rules(s3, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="rules")["UploadId"]
    small = s3.upload_part(Bucket=bucket, Key="rules", UploadId=uid, PartNumber=1, Body=b"x" * 100)["ETag"]
    last = s3.upload_part(Bucket=bucket, Key="rules", UploadId=uid, PartNumber=2, Body=b"y")["ETag"]

    def completing(parts: list[dict[str, Any]]) -> tuple[int, str]:
        """The error completing the upload with ``parts`` answers."""
        with pytest.raises(ClientError) as e:
            s3.complete_multipart_upload(Bucket=bucket, Key="rules", UploadId=uid, MultipartUpload={"Parts": parts})
        return err(e)

    one, two = {"PartNumber": 1, "ETag": small}, {"PartNumber": 2, "ETag": last}
    assert completing([one, two]) == (400, "EntityTooSmall")
    assert completing([two, one]) == (400, "InvalidPartOrder")
    assert completing([{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]) == (400, "InvalidPart")
    assert completing([{"PartNumber": 7, "ETag": small}]) == (400, "InvalidPart")
    for bad, code in ((0, "InvalidPart"), (10001, "InvalidArgument")):  # MinIO's codes
        with pytest.raises(ClientError) as e:
            s3.upload_part(Bucket=bucket, Key="rules", UploadId=uid, PartNumber=bad, Body=b"z")
        assert err(e)[1] == code
    # a single small part is fine: the last part may be any size
    r = s3.complete_multipart_upload(
        Bucket=bucket, Key="rules", UploadId=uid, MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": last}]}
    )
    assert s3.get_object(Bucket=bucket, Key="rules")["Body"].read() == b"y"
    assert r["ETag"] == f'"{mp_etag([b"y"])}"'
    # the upload is gone now
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="rules", UploadId=uid, PartNumber=1, Body=b"z")
    assert err(e) == (404, "NoSuchUpload")


def test_replace_part_and_subset(s3, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="sub")["UploadId"]
    a = os.urandom(5 * MiB)
    s3.upload_part(Bucket=bucket, Key="sub", UploadId=uid, PartNumber=1, Body=os.urandom(5 * MiB))
    e1 = s3.upload_part(Bucket=bucket, Key="sub", UploadId=uid, PartNumber=1, Body=a)["ETag"]  # replaces
    s3.upload_part(Bucket=bucket, Key="sub", UploadId=uid, PartNumber=2, Body=b"dropped")
    e3 = s3.upload_part(Bucket=bucket, Key="sub", UploadId=uid, PartNumber=3, Body=b"tail")["ETag"]
    listed = s3.list_parts(Bucket=bucket, Key="sub", UploadId=uid)["Parts"]
    assert [p["PartNumber"] for p in listed] == [1, 2, 3] and listed[0]["ETag"] == e1
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="sub",
        UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 3, "ETag": e3}]},
    )
    assert s3.get_object(Bucket=bucket, Key="sub")["Body"].read() == a + b"tail"


def test_list_parts_pagination(s3, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="lp")["UploadId"]
    for n in range(1, 8):
        s3.upload_part(Bucket=bucket, Key="lp", UploadId=uid, PartNumber=n, Body=b"p" * n)
    seen, marker = [], 0
    while True:
        r = s3.list_parts(Bucket=bucket, Key="lp", UploadId=uid, MaxParts=3, PartNumberMarker=marker)
        seen += [p["PartNumber"] for p in r.get("Parts", [])]
        if not r["IsTruncated"]:
            break
        marker = r["NextPartNumberMarker"]
    assert seen == list(range(1, 8))
    s3.abort_multipart_upload(Bucket=bucket, Key="lp", UploadId=uid)
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="lp", UploadId=uid)
    assert err(e) == (404, "NoSuchUpload")
    # aborting again succeeds, as in MinIO
    assert s3.abort_multipart_upload(Bucket=bucket, Key="lp", UploadId=uid)["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_list_multipart_uploads(s3, bucket: str) -> None:
    ids = {}
    for key in ("a/1", "a/2", "b", "c/d/e", "a/1"):
        ids.setdefault(key, []).append(s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"])
    r = s3.list_multipart_uploads(Bucket=bucket)
    assert [u["Key"] for u in r["Uploads"]] == ["a/1", "a/1", "a/2", "b", "c/d/e"]
    r = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [u["Key"] for u in r.get("Uploads", [])] == ["b"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "c/"]
    seen, km, im = [], "", ""
    while True:
        r = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2, KeyMarker=km, UploadIdMarker=im)
        seen += [(u["Key"], u["UploadId"]) for u in r.get("Uploads", [])]
        if not r["IsTruncated"]:
            break
        km, im = r["NextKeyMarker"], r.get("NextUploadIdMarker", "")
    assert sorted(seen) == sorted((k, u) for k, us in ids.items() for u in us) and len(seen) == 5
    for k, us in ids.items():
        for u in us:
            s3.abort_multipart_upload(Bucket=bucket, Key=k, UploadId=u)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def test_upload_part_copy(s3, bucket: str) -> None:
    src = os.urandom(7 * MiB)
    s3.put_object(Bucket=bucket, Key="src", Body=src)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]

    def copy_part(number: int, **extra: str) -> Any:
        """UploadPartCopy of "src" as part ``number`` of the upload (``extra``: its copy conditions)."""
        return s3.upload_part_copy(
            Bucket=bucket,
            Key="dst",
            UploadId=uid,
            PartNumber=number,
            CopySource={"Bucket": bucket, "Key": "src"},
            **extra,
        )

    p1 = copy_part(1, CopySourceRange=f"bytes=0-{5 * MiB - 1}")
    p2 = copy_part(2, CopySourceRange=f"bytes={5 * MiB}-{7 * MiB - 1}")
    with pytest.raises(ClientError) as e:
        copy_part(3, CopySourceIfMatch='"nope"')
    assert err(e) == (412, "PreconditionFailed")
    with pytest.raises(ClientError) as e:
        copy_part(3, CopySourceRange=f"bytes=0-{7 * MiB}")
    assert err(e)[0] == 400
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="dst",
        UploadId=uid,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
                {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]},
            ]
        },
    )
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == src


@pytest.mark.parametrize(
    "algo,kind",
    [("CRC32", "FULL_OBJECT"), ("CRC64NVME", "FULL_OBJECT"), ("SHA256", "COMPOSITE"), ("CRC32C", "COMPOSITE")],
)
def test_multipart_checksums(s3, bucket: str, algo: str, kind: str) -> None:
    parts = [os.urandom(5 * MiB), os.urandom(777)]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="ck", ChecksumAlgorithm=algo, ChecksumType=kind)["UploadId"]
    done = []
    for n, data in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key="ck", UploadId=uid, PartNumber=n, Body=data, ChecksumAlgorithm=algo)
        done.append({"PartNumber": n, "ETag": r["ETag"], f"Checksum{algo}": r[f"Checksum{algo}"]})
    r = s3.complete_multipart_upload(Bucket=bucket, Key="ck", UploadId=uid, MultipartUpload={"Parts": done})
    value = r[f"Checksum{algo}"]
    if algo == "CRC32" and kind == "FULL_OBJECT":
        assert value == base64.b64encode(zlib.crc32(b"".join(parts)).to_bytes(4, "big")).decode()
    if kind == "COMPOSITE":
        assert value.endswith("-2")
    head = s3.head_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
    assert head[f"Checksum{algo}"] == value


def test_concurrent_completes_one_winner(s3, bucket: str) -> None:
    parts = [os.urandom(5 * MiB), b"end"]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="race")["UploadId"]
    done = [
        {"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="race", UploadId=uid, PartNumber=n, Body=d)["ETag"]}
        for n, d in enumerate(parts, 1)
    ]
    results: list[str] = []

    def complete() -> None:
        try:
            s3.complete_multipart_upload(Bucket=bucket, Key="race", UploadId=uid, MultipartUpload={"Parts": done})
            results.append("ok")
        except ClientError as e:
            results.append(e.response["Error"]["Code"])

    threads = [threading.Thread(target=complete) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["NoSuchUpload"] * 3 + ["ok"]
    assert s3.get_object(Bucket=bucket, Key="race")["Body"].read() == b"".join(parts)


def test_transfer_manager_and_clis(server, s3, bucket: str, tmp_path) -> None:
    data = os.urandom(23 * MiB + 5)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    cfg = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=4)
    s3.upload_file(str(src), bucket, "tm", Config=cfg)
    assert s3.head_object(Bucket=bucket, Key="tm")["ETag"].endswith('-3"')
    out = tmp_path / "down.bin"
    s3.download_file(bucket, "tm", str(out), Config=cfg)  # ranged GETs in parallel
    assert out.read_bytes() == data
    r = aws(server, "s3", "cp", str(src), f"s3://{bucket}/cli")
    assert r.returncode == 0, r.stderr
    assert s3.head_object(Bucket=bucket, Key="cli")["ETag"].endswith('-3"')
    m = Minio(f"127.0.0.1:{server.port}", access_key=server.access_key, secret_key=server.secret_key, secure=False)
    m.fput_object(bucket, "minio-py", str(src), part_size=5 * MiB)
    assert s3.get_object(Bucket=bucket, Key="minio-py")["Body"].read() == data

"""Object reads and writes through boto3 (current defaults) against a live server."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os

import pytest
from botocore.exceptions import ClientError

from tests.functional.conftest import s3_client
from tests.functional.rawhttp import signed_request


def err(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    r = exc.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


@pytest.mark.parametrize("size", [0, 1, 1000, 128 * 1024, 128 * 1024 + 1, 1 << 20, 6 * (1 << 20) + 12345])
def test_put_get_roundtrip(s3, bucket: str, size: int) -> None:
    data = os.urandom(size)
    put = s3.put_object(Bucket=bucket, Key=f"obj-{size}", Body=data)
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key=f"obj-{size}")
    assert got["Body"].read() == data
    assert got["ContentLength"] == size
    assert got["ETag"] == put["ETag"]
    head = s3.head_object(Bucket=bucket, Key=f"obj-{size}")
    assert head["ContentLength"] == size and head["ETag"] == put["ETag"]


def test_metadata_and_content_headers(s3, bucket: str) -> None:
    expires = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    s3.put_object(
        Bucket=bucket,
        Key="meta",
        Body=b"hello",
        ContentType="text/plain; charset=utf-8",
        CacheControl="max-age=60",
        ContentDisposition='attachment; filename="a.txt"',
        ContentEncoding="identity",
        ContentLanguage="en",
        Expires=expires,
        Metadata={"color": "blue", "Mixed-Case": "Value"},
    )
    head = s3.head_object(Bucket=bucket, Key="meta")
    assert head["ContentType"] == "text/plain; charset=utf-8"
    assert head["CacheControl"] == "max-age=60"
    assert head["ContentDisposition"] == 'attachment; filename="a.txt"'
    assert head["ContentEncoding"] == "identity"
    assert head["ContentLanguage"] == "en"
    assert head["Expires"] == expires
    assert head["Metadata"] == {"color": "blue", "mixed-case": "Value"}
    assert head["AcceptRanges"] == "bytes"


def test_missing_key(s3, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="nope")
    assert err(e) == (404, "NoSuchKey")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="nope")
    assert err(e)[0] == 404


def test_overwrite_and_delete(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"one")
    s3.put_object(Bucket=bucket, Key="k", Body=b"two" * 100000)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two" * 100000
    assert s3.delete_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k")
    # deleting a missing key is not an error
    assert s3.delete_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_content_md5(s3, bucket: str) -> None:
    body = b"payload"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket=bucket, Key="md5", Body=body, ContentMD5=good)
    bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="md5-bad", Body=body, ContentMD5=bad)
    assert err(e) == (400, "BadDigest")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="md5-bad")
    assert err(e)[0] == 404  # nothing was written
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="md5-bad", Body=body, ContentMD5="not-base64!")
    assert err(e) == (400, "InvalidDigest")


def test_conditional_writes(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="c", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="c", Body=b"second", IfNoneMatch="*")
    assert err(e) == (412, "PreconditionFailed")
    etag = s3.head_object(Bucket=bucket, Key="c")["ETag"]
    s3.put_object(Bucket=bucket, Key="c", Body=b"third", IfMatch=etag)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="c", Body=b"fourth", IfMatch=etag)
    assert err(e) == (412, "PreconditionFailed")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="never", Body=b"x", IfMatch=etag)
    assert err(e) == (404, "NoSuchKey")
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"third"


RANGE_DATA = bytes(range(256)) * 40  # 10240 bytes


@pytest.mark.parametrize(
    "header,start,end",
    [
        ("bytes=0-0", 0, 0),
        ("bytes=10-19", 10, 19),
        ("bytes=10240-", None, None),
        ("bytes=100-", 100, 10239),
        ("bytes=-100", 10140, 10239),
        ("bytes=-99999", 0, 10239),
        ("bytes=5000-999999", 5000, 10239),
    ],
)
def test_ranges(s3, bucket: str, header: str, start: int | None, end: int | None) -> None:
    s3.put_object(Bucket=bucket, Key="r", Body=RANGE_DATA)
    if start is None:
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket=bucket, Key="r", Range=header)
        assert err(e) == (416, "InvalidRange")
        return
    got = s3.get_object(Bucket=bucket, Key="r", Range=header)
    assert got["Body"].read() == RANGE_DATA[start : end + 1]
    assert got["ContentRange"] == f"bytes {start}-{end}/{len(RANGE_DATA)}"
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206


def test_invalid_range_forms(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="r", Body=RANGE_DATA)
    for header in ("bytes=5-2", "bytes=-0"):
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket=bucket, Key="r", Range=header)
        assert err(e) == (416, "InvalidRange")
    # unparsable ranges are ignored: the whole object, 200
    for header in ("bytes=a-b", "bytes=0-1,5-6", "pages=1-2"):
        got = s3.get_object(Bucket=bucket, Key="r", Range=header)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert got["Body"].read() == RANGE_DATA


def test_large_range_across_stripes(s3, bucket: str) -> None:
    data = os.urandom(9 * (1 << 20) + 7)
    s3.put_object(Bucket=bucket, Key="big", Body=data)
    for a, b in [(0, 1), ((1 << 20) * 6 - 3, (1 << 20) * 6 + 3), (1234567, 8765432), (len(data) - 10, len(data) - 1)]:
        got = s3.get_object(Bucket=bucket, Key="big", Range=f"bytes={a}-{b}")["Body"].read()
        assert got == data[a : b + 1]


def test_read_conditions(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="cond", Body=b"x")
    head = s3.head_object(Bucket=bucket, Key="cond")
    etag, mtime = head["ETag"], head["LastModified"]
    past, future = mtime - dt.timedelta(days=1), mtime + dt.timedelta(days=1)
    assert s3.get_object(Bucket=bucket, Key="cond", IfMatch=etag)["Body"].read() == b"x"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfMatch='"0000"')
    assert err(e)[0] == 412
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfNoneMatch=etag)
    assert err(e)[0] == 304
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfModifiedSince=future)
    assert err(e)[0] == 304
    assert s3.get_object(Bucket=bucket, Key="cond", IfModifiedSince=past)["Body"].read() == b"x"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfUnmodifiedSince=past)
    assert err(e)[0] == 412
    # MinIO's order: If-None-Match, If-Modified-Since, If-Match, If-Unmodified-Since
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfMatch='"0000"', IfModifiedSince=future)
    assert err(e)[0] == 304
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="cond", IfNoneMatch=etag)
    assert err(e)[0] == 304


def test_error_answers_about_a_version_carry_its_headers(s3, bucket: str) -> None:
    """The headers the API renders from what a core error is about (the record it names, the object's size):
    a failed read condition carries the version's ETag and Last-Modified, a delete marker says so with its
    version id, an unsatisfiable range the object's size, a Range with partNumber Accept-Ranges."""

    def answer(call, **kw) -> tuple[int, str, dict[str, str]]:
        with pytest.raises(ClientError) as e:
            call(Bucket=bucket, **kw)
        meta = e.value.response["ResponseMetadata"]
        return meta["HTTPStatusCode"], e.value.response["Error"]["Code"], meta["HTTPHeaders"]

    s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    head = s3.head_object(Bucket=bucket, Key="k")
    last_modified = head["ResponseMetadata"]["HTTPHeaders"]["last-modified"]
    for call, kw in ((s3.get_object, {"IfNoneMatch": head["ETag"]}), (s3.head_object, {"IfMatch": '"0000"'})):
        status, _, h = answer(call, Key="k", **kw)
        assert status in (304, 412) and (h["etag"], h["last-modified"]) == (head["ETag"], last_modified)
    status, code, h = answer(s3.get_object, Key="k", Range="bytes=100-200")
    assert (status, code, h["actualobjectsize"]) == (416, "InvalidRange", "5")
    status, code, h = answer(s3.get_object, Key="k", Range="bytes=0-1", PartNumber=1)
    assert (status, code, h["accept-ranges"]) == (400, "InvalidRequest", "bytes")
    status, code, h = answer(s3.get_object, Key="absent")
    assert (status, code) == (404, "NoSuchKey") and "x-amz-delete-marker" not in h and "etag" not in h

    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    status, code, h = answer(s3.get_object, Key="k")
    assert (status, code, h["x-amz-delete-marker"], h["x-amz-version-id"]) == (404, "NoSuchKey", "true", marker)
    assert "last-modified" in h
    status, code, h = answer(s3.head_object, Key="k", VersionId=marker)
    assert (status, h["x-amz-delete-marker"], h["x-amz-version-id"]) == (405, "true", marker)


def test_response_overrides(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="o", Body=b"x", ContentType="text/plain")
    got = s3.get_object(
        Bucket=bucket,
        Key="o",
        ResponseContentType="application/json",
        ResponseCacheControl="no-cache",
        ResponseContentDisposition="inline",
        ResponseContentEncoding="gzip",
        ResponseContentLanguage="fr",
        ResponseExpires=dt.datetime(2031, 1, 1, tzinfo=dt.UTC),
    )
    assert got["ContentType"] == "application/json"
    assert got["CacheControl"] == "no-cache"
    assert got["ContentDisposition"] == "inline"
    assert got["ContentEncoding"] == "gzip"
    assert got["ContentLanguage"] == "fr"


def test_delete_objects_verbose_and_quiet(s3, bucket: str) -> None:
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"d/{i}", Body=b"x")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "d/0"}, {"Key": "d/1"}, {"Key": "missing"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["d/0", "d/1", "missing"]
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "d/2"}, {"Key": "d/3"}], "Quiet": True})
    assert "Deleted" not in r and "Errors" not in r
    left = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert left == ["d/4"]


def test_delete_objects_malformed(server, bucket: str) -> None:
    body = b"<Delete><Object><Key>a</Key></Object>"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    r = signed_request(server, "POST", f"/{bucket}?delete", body, {"Content-MD5": md5})
    assert r.status == 400 and b"<Code>MalformedXML</Code>" in r.body


def test_copy_object(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"copy me", ContentType="text/x-src", Metadata={"a": "1"})
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == b"copy me"
    assert got["ContentType"] == "text/x-src" and got["Metadata"] == {"a": "1"}
    s3.copy_object(
        Bucket=bucket,
        Key="dst2",
        CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="REPLACE",
        ContentType="text/x-new",
        Metadata={"b": "2"},
    )
    head = s3.head_object(Bucket=bucket, Key="dst2")
    assert head["ContentType"] == "text/x-new" and head["Metadata"] == {"b": "2"}


def test_copy_large_object(s3, bucket: str) -> None:
    data = os.urandom(3 * (1 << 20) + 11)
    s3.put_object(Bucket=bucket, Key="big-src", Body=data)
    r = s3.copy_object(Bucket=bucket, Key="big-dst", CopySource=f"{bucket}/big-src")
    assert r["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert s3.get_object(Bucket=bucket, Key="big-dst")["Body"].read() == data


def test_copy_onto_itself(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="self", Body=b"same", Metadata={"v": "1"})
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"})
    assert err(e) == (400, "InvalidRequest")
    s3.copy_object(
        Bucket=bucket,
        Key="self",
        CopySource={"Bucket": bucket, "Key": "self"},
        MetadataDirective="REPLACE",
        Metadata={"v": "2"},
    )
    got = s3.get_object(Bucket=bucket, Key="self")
    assert got["Body"].read() == b"same" and got["Metadata"] == {"v": "2"}


def test_copy_conditions(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    etag = s3.head_object(Bucket=bucket, Key="src")["ETag"]
    src = {"Bucket": bucket, "Key": "src"}
    s3.copy_object(Bucket=bucket, Key="ok", CopySource=src, CopySourceIfMatch=etag)
    for kw in (
        {"CopySourceIfMatch": '"beef"'},
        {"CopySourceIfNoneMatch": etag},
        {"CopySourceIfModifiedSince": dt.datetime.now(dt.UTC) + dt.timedelta(days=1)},
        {"CopySourceIfUnmodifiedSince": dt.datetime(2000, 1, 1, tzinfo=dt.UTC)},
    ):
        with pytest.raises(ClientError) as e:
            s3.copy_object(Bucket=bucket, Key="no", CopySource=src, **kw)
        assert err(e) == (412, "PreconditionFailed")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="no")
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="no", CopySource={"Bucket": bucket, "Key": "absent"})
    assert err(e) == (404, "NoSuchKey")


@pytest.mark.parametrize("algo", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_flexible_checksums(server, bucket: str, algo: str) -> None:
    s3 = s3_client(server)
    data = os.urandom(200 * 1024)
    put = s3.put_object(Bucket=bucket, Key=f"ck-{algo}", Body=data, ChecksumAlgorithm=algo)
    value = put[f"Checksum{algo}"]
    got = s3.get_object(Bucket=bucket, Key=f"ck-{algo}", ChecksumMode="ENABLED")
    assert got["Body"].read() == data  # botocore validates the returned checksum too
    assert got[f"Checksum{algo}"] == value
    head = s3.head_object(Bucket=bucket, Key=f"ck-{algo}", ChecksumMode="ENABLED")
    assert head[f"Checksum{algo}"] == value


def test_wrong_checksum_is_refused(server, bucket: str) -> None:
    body = b"checked body"
    r = signed_request(
        server, "PUT", f"/{bucket}/wrong-ck", body, {"x-amz-checksum-crc32": base64.b64encode(b"\0\0\0\0").decode()}
    )
    assert r.status == 400 and b"XAmzContentChecksumMismatch" in r.body
    r = signed_request(server, "HEAD", f"/{bucket}/wrong-ck")
    assert r.status == 404


def test_checksums_when_required(server, bucket: str) -> None:
    s3 = s3_client(server, request_checksum_calculation="when_required", response_checksum_validation="when_required")
    s3.put_object(Bucket=bucket, Key="plain", Body=b"abc")
    assert s3.get_object(Bucket=bucket, Key="plain")["Body"].read() == b"abc"

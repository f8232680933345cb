"""Malformed requests get clear S3 errors: never a 500, a hang, or a partial object."""

from __future__ import annotations

import hashlib
import os
import socket

import pytest

from s3gw.api.handlers import NOT_IMPLEMENTED
from s3gw.api.router import Op
from tests.functional.rawhttp import send, signed_request
from tests.sigv4_client import amz_now, sign
from tests.waiting import wait_until


def test_bad_xml_bodies(server, bucket: str) -> None:
    for body in (
        b"<Delete><Object>",
        b"not xml at all",
        b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><Delete/>",
        b"<Delete></Delete>",
        b"<Other/>",
    ):
        r = signed_request(
            server,
            "POST",
            f"/{bucket}?delete",
            body,
            {"Content-MD5": __import__("base64").b64encode(hashlib.md5(body).digest()).decode()},
        )
        assert r.status == 400, (body, r.status, r.body)
        assert b"<Code>MalformedXML</Code>" in r.body
    r = signed_request(server, "PUT", "/malformed-create-bucket", b"<CreateBucketConfiguration>")
    assert r.status == 400 and b"MalformedXML" in r.body


@pytest.mark.parametrize(
    "key,code",
    [
        ("a/../b", b"XMinioInvalidResourceName"),
        ("./x", b"XMinioInvalidResourceName"),
        ("a//b", b"XMinioInvalidObjectName"),
        ("s" * 256, b"XMinioInvalidObjectName"),
        ("k/" * 513, b"KeyTooLongError"),
    ],
)
def test_invalid_keys(server, bucket: str, key: str, code: bytes) -> None:
    from urllib.parse import quote

    r = signed_request(server, "PUT", f"/{bucket}/{quote(key)}", b"x")
    assert r.status == 400 and code in r.body


def test_invalid_utf8_path(server, bucket: str) -> None:
    r = send(server, "GET", f"/{bucket}/%ff%fe", {"Host": f"127.0.0.1:{server.port}"})
    assert r.status == 400


def test_garbage_authorization(server, bucket: str) -> None:
    for auth in (
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=x",
        "Bearer abc",
        "AWS abc:def",
        "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=zz",
    ):
        r = send(
            server,
            "GET",
            f"/{bucket}",
            {
                "Host": f"127.0.0.1:{server.port}",
                "Authorization": auth,
                "x-amz-date": amz_now(),
                "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
            },
        )
        assert 400 <= r.status < 500, (auth, r.status, r.body)


def test_huge_header_is_refused_not_crashed(server, bucket: str) -> None:
    r = send(server, "GET", f"/{bucket}", {"Host": f"127.0.0.1:{server.port}", "x-amz-meta-big": "a" * 100_000})
    assert 400 <= r.status < 500


def test_truncated_plain_body_leaves_nothing(server, s3, bucket: str) -> None:
    body = b"x" * 100_000
    date = amz_now()
    headers, *_ = sign(
        "PUT",
        f"/{bucket}/cut",
        [],
        {"host": f"127.0.0.1:{server.port}"},
        "UNSIGNED-PAYLOAD",
        server.access_key,
        server.secret_key,
        date,
    )
    headers["content-length"] = str(len(body))
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    req = f"PUT /{bucket}/cut HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    s.sendall(req.encode() + body[:50_000])
    s.close()  # the client goes away mid-body
    # the server has finished with the request once its access-log line is written
    log = os.path.join(server.data, f"server-{server.port}.log")
    wait_until(
        lambda: [
            x
            for x in open(log, errors="replace")
            if x.startswith("{") and '"PutObject"' in x and f'"{bucket}"' in x and '"cut"' in x
        ],
        "the server to log the cut-off PUT",
    )
    r = signed_request(server, "HEAD", f"/{bucket}/cut")
    assert r.status == 404


def test_checksum_header_errors(server, bucket: str) -> None:
    # an unknown x-amz-sdk-checksum-algorithm is ignored (MinIO stores the object)
    r = signed_request(server, "PUT", f"/{bucket}/ck", b"x", {"x-amz-sdk-checksum-algorithm": "MD6"})
    assert r.status == 200
    # a malformed value, or two checksum headers, are InvalidArgument and store nothing
    for headers in (
        {"x-amz-checksum-crc32": "not base64!"},
        {"x-amz-checksum-crc32": "AAAAAAAA"},
        {"x-amz-checksum-crc32": "AAAAAA==", "x-amz-checksum-sha1": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="},
    ):
        r = signed_request(server, "PUT", f"/{bucket}/ck2", b"x", headers)
        assert r.status == 400 and b"<Code>InvalidArgument</Code>" in r.body, (headers, r.body)
    assert signed_request(server, "HEAD", f"/{bucket}/ck2").status == 404


# one request for each operation s3gw routes but does not build (api/handlers.py NOT_IMPLEMENTED)
NOT_BUILT = {
    Op.PutBucketWebsite: ("PUT", "?website"),
    Op.DeleteBucketWebsite: ("DELETE", "?website"),
    Op.GetBucketLogging: ("GET", "?logging"),
    Op.PutBucketLogging: ("PUT", "?logging"),
    Op.GetBucketAccelerateConfiguration: ("GET", "?accelerate"),
    Op.PutBucketAccelerateConfiguration: ("PUT", "?accelerate"),
    Op.GetBucketRequestPayment: ("GET", "?requestPayment"),
    Op.PutBucketRequestPayment: ("PUT", "?requestPayment"),
    Op.GetBucketOwnershipControls: ("GET", "?ownershipControls"),
    Op.PutBucketOwnershipControls: ("PUT", "?ownershipControls"),
    Op.DeleteBucketOwnershipControls: ("DELETE", "?ownershipControls"),
    Op.GetObjectTorrent: ("GET", "/k?torrent"),
    Op.RestoreObject: ("POST", "/k?restore"),
    Op.SelectObjectContent: ("POST", "/k?select&select-type=2"),
}


def test_every_operation_not_built_is_listed_here() -> None:
    assert set(NOT_BUILT) == NOT_IMPLEMENTED


@pytest.mark.parametrize("op", sorted(NOT_BUILT), ids=str)
def test_not_implemented_is_s3_xml(server, bucket: str, op: Op) -> None:
    method, target = NOT_BUILT[op]
    r = signed_request(server, method, f"/{bucket}{target}", b"<Configuration/>" if method in ("PUT", "POST") else b"")
    assert r.status == 501 and b"<Code>NotImplemented</Code>" in r.body, (r.status, r.body[:300])
    assert b"<Message>A header you provided implies functionality that is not implemented</Message>" in r.body


def test_missing_content_length(server, bucket: str) -> None:
    date = amz_now()
    headers, *_ = sign(
        "PUT",
        f"/{bucket}/nolen",
        [],
        {"host": f"127.0.0.1:{server.port}"},
        "UNSIGNED-PAYLOAD",
        server.access_key,
        server.secret_key,
        date,
    )
    r = send(server, "PUT", f"/{bucket}/nolen", headers)
    assert r.status == 411 and b"MissingContentLength" in r.body


def test_head_errors_have_no_body(server, bucket: str) -> None:
    r = signed_request(server, "HEAD", f"/{bucket}/absent")
    assert r.status == 404 and r.body == b""


# ---------------------------------------------------------------- hostile XML documents (security issue, hole 5)
HOSTILE_SIZE = 4_700_000


def test_deeply_nested_tagging_is_malformed_and_keeps_the_tags(server, s3, bucket: str) -> None:
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "a"}]})
    n = HOSTILE_SIZE // 7
    deep = b"<Tagging>" + b"<a>" * n + b"</a>" * n + b"</Tagging>"
    for body in (deep, b"<Tagging></Tagging>", b"<Tagging><Other/></Tagging>"):
        r = signed_request(server, "PUT", f"/{bucket}?tagging", body)
        assert r.status == 400 and b"<Code>MalformedXML</Code>" in r.body, (body[:40], r.status, r.body[:300])
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "a"}]
    s3.put_object(Bucket=bucket, Key="o", Body=b"x", Tagging="k=v")
    r = signed_request(server, "PUT", f"/{bucket}/o?tagging", b"<Tagging/>")
    assert r.status == 400 and b"<Code>MalformedXML</Code>" in r.body
    assert s3.get_object_tagging(Bucket=bucket, Key="o")["TagSet"] == [{"Key": "k", "Value": "v"}]
    # an empty TagSet is still how a client clears the tags
    r = signed_request(server, "PUT", f"/{bucket}?tagging", b"<Tagging><TagSet></TagSet></Tagging>")
    assert r.status in (200, 204), r.body


def test_complete_multipart_with_a_flood_of_parts_is_malformed(server, s3, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="flood")["UploadId"]
    part = b"<Part><PartNumber>1</PartNumber><ETag>x</ETag></Part>"
    body = b"<CompleteMultipartUpload>" + part * (HOSTILE_SIZE // len(part)) + b"</CompleteMultipartUpload>"
    r = signed_request(server, "POST", f"/{bucket}/flood?uploadId={uid}", body)
    assert r.status == 400 and b"<Code>MalformedXML</Code>" in r.body, (r.status, r.body[:300])
    deep = b"<CompleteMultipartUpload>" + b"<Part>" * 100_000 + b"</Part>" * 100_000 + b"</CompleteMultipartUpload>"
    r = signed_request(server, "POST", f"/{bucket}/flood?uploadId={uid}", deep)
    assert r.status == 400 and b"<Code>MalformedXML</Code>" in r.body, (r.status, r.body[:300])
    s3.abort_multipart_upload(Bucket=bucket, Key="flood", UploadId=uid)

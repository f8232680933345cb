"""POST Object (browser form uploads) against a real gateway: forms made by boto3's
generate_presigned_post, minio-py's presigned_post_policy and ``mc share upload``,
every policy condition refused when violated (and nothing stored), content-length-range
enforced while the file streams, success_action_status / redirect answers, and who may
upload (the signer's policies; anonymous forms are refused).

The gateway is this module's own: the users created here must not leak into the shared one.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import shlex
import socket
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from minio import Minio
from minio.datatypes import PostPolicy

from s3gw.admin_cli import OpsClient
from tests.conftest import ACCESS_KEY, SECRET_KEY, Server, start_server
from tests.functional.rawhttp import Response, send

BOUNDARY = "----s3gwFormBoundary7MA4YWxkTrZu0gW"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(str(tmp_path_factory.mktemp("post-gw")))
    yield srv
    srv.stop()


def client(gw: Server, access: str = ACCESS_KEY, secret: str = SECRET_KEY, version: str = "s3v4") -> Any:
    return boto3.client(
        "s3",
        endpoint_url=gw.url,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(signature_version=version, retries={"max_attempts": 1}),
    )


@pytest.fixture
def bucket(gw: Server) -> Iterator[str]:
    s3 = client(gw)
    name = f"post-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    for obj in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=obj["Key"])
    s3.delete_bucket(Bucket=name)


def multipart(
    fields: list[tuple[str, str]] | dict[str, str], file: bytes | None = b"hello, form", filename: str = "hello.txt"
) -> bytes:
    """A multipart/form-data body: the fields in order, then the file part (S3 wants it last)."""
    items = list(fields.items()) if isinstance(fields, dict) else fields
    out = bytearray()
    for name, value in items:
        out += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n').encode()
    if file is not None:
        out += (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + file
            + b"\r\n"
        )
    out += f"--{BOUNDARY}--\r\n".encode()
    return bytes(out)


def post_form(
    gw: Server,
    bucket: str,
    fields: Any,
    file: bytes | None = b"hello, form",
    filename: str = "hello.txt",
    headers: dict[str, str] | None = None,
) -> Response:
    body = multipart(fields, file, filename)
    return send(
        gw,
        "POST",
        f"/{bucket}",
        {
            "Host": f"127.0.0.1:{gw.port}",
            "Content-Length": str(len(body)),
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            **(headers or {}),
        },
        body,
    )


def error(r: Response) -> tuple[int, str, str]:
    text = r.body.decode()
    code = text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else ""
    msg = html.unescape(text.split("<Message>", 1)[1].split("</Message>", 1)[0]) if "<Message>" in text else ""
    return r.status, code, msg


def exists(gw: Server, bucket: str, key: str) -> bool:
    try:
        client(gw).head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as e:
        assert e.response["Error"]["Code"] == "404"
        return False


def presigned(
    gw: Server,
    bucket: str,
    key: str,
    *,
    fields: dict[str, str] | None = None,
    conditions: list[Any] | None = None,
    expires: int = 300,
    version: str = "s3v4",
    access: str = ACCESS_KEY,
    secret: str = SECRET_KEY,
) -> dict[str, str]:
    post = client(gw, access, secret, version).generate_presigned_post(
        bucket, key, Fields=fields, Conditions=conditions, ExpiresIn=expires
    )
    return dict(post["fields"])


# ---------------------------------------------------------------- clients' forms


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_boto3_presigned_post_uploads_and_reads_back(gw: Server, bucket: str, version: str) -> None:
    data = b"a browser upload \x00\xff" * 1000
    form = presigned(
        gw,
        bucket,
        "uploads/${filename}",
        version=version,
        fields={"Content-Type": "text/plain", "x-amz-meta-owner": "alice", "Cache-Control": "no-cache"},
        conditions=[
            {"Content-Type": "text/plain"},
            {"x-amz-meta-owner": "alice"},
            {"Cache-Control": "no-cache"},
            ["content-length-range", 1, 1 << 20],
        ],
    )
    r = post_form(gw, bucket, form, data, filename="C:/Users/alice/report.txt")
    assert r.status == 204, r.body
    key = "uploads/report.txt"  # ${filename}, the base name of the part's filename
    assert r.headers["etag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert r.headers["location"] == f"{gw.url}/{bucket}/{key}"
    got = client(gw).get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == data
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"owner": "alice"}
    assert got["CacheControl"] == "no-cache" and got["ETag"] == r.headers["etag"]


def test_large_file_streams_into_shards(gw: Server, bucket: str) -> None:
    data = bytes(range(256)) * (24 * 4096)  # 24 MiB: erasure-coded shards, not inline
    form = presigned(gw, bucket, "big.bin", conditions=[["content-length-range", 0, 32 << 20]])
    r = post_form(gw, bucket, form, data)
    assert r.status == 204, r.body
    got = client(gw).get_object(Bucket=bucket, Key="big.bin")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()


def test_minio_py_presigned_post_policy(gw: Server, bucket: str) -> None:
    mc = Minio(f"127.0.0.1:{gw.port}", access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False, region="us-east-1")
    policy = PostPolicy(bucket, datetime.now(UTC) + timedelta(minutes=5))
    policy.add_starts_with_condition("key", "minio-py/")
    policy.add_content_length_range_condition(1, 1000)
    form = mc.presigned_post_policy(policy)
    r = post_form(gw, bucket, {**form, "key": "minio-py/obj.bin"}, b"from minio-py")
    assert r.status == 204, r.body
    assert client(gw).get_object(Bucket=bucket, Key="minio-py/obj.bin")["Body"].read() == b"from minio-py"
    r = post_form(gw, bucket, {**form, "key": "elsewhere/obj.bin"}, b"from minio-py")
    assert error(r)[:2] == (403, "AccessDenied")


def test_mc_share_upload_form(gw: Server, bucket: str, mc_bin: str, tmp_path: Any) -> None:
    cfg = str(tmp_path / "mc")
    mc = [mc_bin, "--config-dir", cfg, "--no-color"]
    subprocess.run(
        [*mc, "alias", "set", "s3gw", gw.url, ACCESS_KEY, SECRET_KEY], check=True, capture_output=True, timeout=60
    )
    for target, key in ((f"s3gw/{bucket}/mc/one.txt", "mc/one.txt"), (f"s3gw/{bucket}/dir/", "dir/two.txt")):
        args = ["share", "upload", "--json"] + (["--recursive"] if target.endswith("/") else []) + [target]
        out = subprocess.run([*mc, *args], check=True, capture_output=True, text=True, timeout=60).stdout
        curl = shlex.split(json.loads(out)["share"])  # curl URL -F name=value ... -F file=@<FILE>
        assert curl[0] == "curl" and curl[1] == f"{gw.url}/{bucket}/"
        fields = [tuple(curl[i + 1].split("=", 1)) for i, a in enumerate(curl) if a == "-F"]
        fields = [(n, v.replace("<NAME>", "two.txt")) for n, v in fields if n != "file"]
        r = post_form(gw, bucket, fields, b"via mc share upload")
        assert r.status == 204, r.body
        got = client(gw).get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == b"via mc share upload"
        assert got["ContentType"] == "text/plain"  # no Content-Type field: MinIO types it by the extension


# ---------------------------------------------------------------- answers


def test_success_action_status_201_and_200(gw: Server, bucket: str) -> None:
    form = presigned(
        gw, bucket, "k201", fields={"success_action_status": "201"}, conditions=[{"success_action_status": "201"}]
    )
    r = post_form(gw, bucket, form, b"x")
    assert r.status == 201 and r.headers["content-type"] == "application/xml"
    etag = f'"{hashlib.md5(b"x").hexdigest()}"'
    assert r.body.decode() == (
        '<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse>'
        f"<Bucket>{bucket}</Bucket><Key>k201</Key><ETag>{etag.replace(chr(34), '&#34;')}"
        f"</ETag><Location>{gw.url}/{bucket}/k201</Location></PostResponse>"
    )
    form = presigned(
        gw, bucket, "k200", fields={"success_action_status": "200"}, conditions=[{"success_action_status": "200"}]
    )
    r = post_form(gw, bucket, form, b"x")
    assert r.status == 200 and r.body == b"" and r.headers["etag"] == etag


def test_success_action_redirect_303(gw: Server, bucket: str) -> None:
    target = "https://app.example/done?from=upload#top"
    form = presigned(
        gw,
        bucket,
        "photo 1.jpg",
        fields={"success_action_redirect": target},
        conditions=[["starts-with", "$success_action_redirect", "https://app.example/"]],
    )
    r = post_form(gw, bucket, form, b"jpeg")
    assert r.status == 303 and r.body == b""
    loc = urlsplit(r.headers["location"])
    assert (loc.scheme, loc.netloc, loc.path, loc.fragment) == ("https", "app.example", "/done", "top")
    assert parse_qs(loc.query) == {
        "bucket": [bucket],
        "key": ["photo 1.jpg"],
        "from": ["upload"],
        "etag": [f'"{hashlib.md5(b"jpeg").hexdigest()}"'],
    }
    assert loc.query.index("bucket=") < loc.query.index("etag=") < loc.query.index("from=")  # sorted, as Go encodes
    assert exists(gw, bucket, "photo 1.jpg")
    # the redirect is a form field like any other: one the policy did not allow is refused
    form = presigned(gw, bucket, "evil.jpg")
    r = post_form(gw, bucket, {**form, "success_action_redirect": "https://evil.example/"}, b"jpeg")
    assert error(r)[:2] == (403, "AccessDenied") and not exists(gw, bucket, "evil.jpg")


def test_tagging_field(gw: Server, bucket: str) -> None:
    tagging = "<Tagging><TagSet><Tag><Key>project</Key><Value>blue</Value></Tag></TagSet></Tagging>"
    form = presigned(gw, bucket, "tagged", fields={"tagging": tagging}, conditions=[{"tagging": tagging}])
    assert post_form(gw, bucket, form, b"t").status == 204
    tags = client(gw).get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"]
    assert tags == [{"Key": "project", "Value": "blue"}]


# ---------------------------------------------------------------- refusals, nothing stored

VIOLATIONS = {
    # name: (form change, expected status, code, message fragment)
    "key outside the prefix": ({"key": "other/x.txt"}, 403, "AccessDenied", "Policy Condition failed"),
    "wrong content type": ({"Content-Type": "text/html"}, 403, "AccessDenied", "Policy Condition failed"),
    "extra metadata field": ({"x-amz-meta-evil": "1"}, 403, "AccessDenied", '"X-Amz-Meta-Evil" not specified'),
    "extra header field": (
        {"Content-Disposition": "attachment"},
        403,
        "AccessDenied",
        '"Content-Disposition" not specified',
    ),
    "tampered signature": ({"x-amz-signature": "0" * 64}, 403, "SignatureDoesNotMatch", ""),
    "tampered policy": (
        {
            "policy": base64.b64encode(
                json.dumps({"expiration": "2099-01-01T00:00:00Z", "conditions": []}).encode()
            ).decode()
        },
        403,
        "SignatureDoesNotMatch",
        "",
    ),
    "unknown access key": (
        {"x-amz-credential": "nobody/20240101/us-east-1/s3/aws4_request"},
        403,
        "InvalidAccessKeyId",
        "",
    ),
    "policy not base64": ({"policy": "%%%"}, 403, "SignatureDoesNotMatch", ""),
}


@pytest.mark.parametrize("case", list(VIOLATIONS))
def test_violated_condition_is_refused_and_nothing_stored(gw: Server, bucket: str, case: str) -> None:
    change, status, code, fragment = VIOLATIONS[case]
    form = presigned(
        gw,
        bucket,
        "in/${filename}",
        fields={"Content-Type": "image/png"},
        conditions=[["starts-with", "$Content-Type", "image/"]],
    )
    form["key"] = "in/x.txt"
    r = post_form(gw, bucket, {**form, **change}, b"payload")
    st, c, msg = error(r)
    assert (st, c) == (status, code), r.body
    assert fragment in msg
    assert client(gw).list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_expired_policy_is_refused(gw: Server, bucket: str) -> None:
    form = presigned(gw, bucket, "late.txt", expires=-5)
    assert error(post_form(gw, bucket, form)) == (
        403,
        "AccessDenied",
        "Access Denied. (Invalid according to Policy: Policy expired)",
    )
    assert not exists(gw, bucket, "late.txt")


def test_content_length_range(gw: Server, bucket: str) -> None:
    form = presigned(gw, bucket, "sized", conditions=[["content-length-range", 10, 20]])
    assert error(post_form(gw, bucket, form, b"x" * 9))[:2] == (400, "EntityTooSmall")
    assert error(post_form(gw, bucket, form, b"x" * 21))[:2] == (400, "EntityTooLarge")
    assert not exists(gw, bucket, "sized")
    assert post_form(gw, bucket, form, b"x" * 20).status == 204
    # AWS: a range of [0, 0] admits only an empty file (MinIO reads a zero maximum as "no limit")
    form = presigned(gw, bucket, "empty", conditions=[["content-length-range", 0, 0]])
    assert error(post_form(gw, bucket, form, b"x"))[:2] == (400, "EntityTooLarge")
    assert post_form(gw, bucket, form, b"").status == 204


def test_content_length_range_is_enforced_while_streaming(gw: Server, bucket: str) -> None:
    """A file past the maximum is refused when its bytes pass it, not after the whole body.

    The request announces 64 MiB but sends only 2 MiB and waits: a gateway that
    waited for the end of the body would never answer EntityTooLarge.
    """
    form = presigned(gw, bucket, "huge", conditions=[["content-length-range", 0, 1 << 20]])
    head = multipart(form, file=None)[: -len(f"--{BOUNDARY}--\r\n")]
    head += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="h"\r\n\r\n').encode()
    announced = len(head) + (64 << 20)
    with socket.create_connection(("127.0.0.1", gw.port), timeout=60) as sock:
        sock.sendall(
            (
                f"POST /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{gw.port}\r\nContent-Length: {announced}\r\n"
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n"
            ).encode()
            + head
        )
        sock.sendall(b"z" * (2 << 20))
        answer = b""
        while b"</Error>" not in answer:
            piece = sock.recv(65536)
            if not piece:
                break
            answer += piece
    assert answer.startswith(b"HTTP/1.1 400") and b"<Code>EntityTooLarge</Code>" in answer, answer[:300]
    assert not exists(gw, bucket, "huge")


def test_truncated_body_stores_nothing(gw: Server, bucket: str) -> None:
    form = presigned(gw, bucket, "cut")
    body = multipart(form, b"y" * 100000)
    with socket.create_connection(("127.0.0.1", gw.port), timeout=60) as sock:
        sock.sendall(
            (
                f"POST /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{gw.port}\r\nContent-Length: {len(body)}\r\n"
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n"
            ).encode()
            + body[:60000]
        )
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(65536):
            pass
    assert not exists(gw, bucket, "cut")


def test_malformed_forms(gw: Server, bucket: str) -> None:
    form = presigned(gw, bucket, "m")
    assert error(post_form(gw, bucket, form, file=None)) == (
        400,
        "MalformedPOSTRequest",
        "The body of your POST request is not well-formed multipart/form-data. (The file or text content is missing)",
    )
    no_key = {k: v for k, v in form.items() if k != "key"}
    assert "(The name of the uploaded key is missing)" in error(post_form(gw, bucket, no_key))[2]
    # a field over 1 MiB (MinIO's maxFormFieldSize), and more than 1000 parts
    assert error(post_form(gw, bucket, {**form, "x-ignore-pad": "p" * ((1 << 20) + 1)}))[:2] == (
        400,
        "MalformedPOSTRequest",
    )
    many = list(form.items()) + [(f"x-ignore-{i}", "v") for i in range(1001)]
    assert error(post_form(gw, bucket, many))[:2] == (400, "MalformedPOSTRequest")
    # what s3gw does not do is refused, not ignored
    lock = presigned(
        gw,
        bucket,
        "m",
        fields={"x-amz-object-lock-mode": "GOVERNANCE"},
        conditions=[{"x-amz-object-lock-mode": "GOVERNANCE"}],
    )
    assert error(post_form(gw, bucket, lock))[:2] == (501, "NotImplemented")
    body = multipart(form)
    r = send(
        gw,
        "POST",
        f"/{bucket}",
        {"Host": f"127.0.0.1:{gw.port}", "Content-Length": str(len(body)), "Content-Type": "multipart/form-data"},
        body,
    )
    assert error(r)[:2] == (400, "MalformedPOSTRequest")
    assert client(gw).list_objects_v2(Bucket=bucket).get("KeyCount") == 0


# ---------------------------------------------------------------- who may upload


def test_anonymous_form_is_refused(gw: Server, bucket: str) -> None:
    # no signature, no credential: only a bucket policy could allow it, and s3gw has none yet
    r = post_form(gw, bucket, {"key": "anon.txt"})
    assert error(r)[:2] == (403, "AccessDenied")
    policy = base64.b64encode(
        json.dumps(
            {"expiration": "2099-01-01T00:00:00Z", "conditions": [{"bucket": bucket}, {"key": "anon.txt"}]}
        ).encode()
    ).decode()
    assert error(post_form(gw, bucket, {"key": "anon.txt", "policy": policy}))[:2] == (403, "AccessDenied")
    assert not exists(gw, bucket, "anon.txt")


def test_signer_needs_put_object_on_the_key(gw: Server, bucket: str, tmp_path: Any) -> None:
    ops = OpsClient(gw.url, ACCESS_KEY, SECRET_KEY)
    suffix = uuid.uuid4().hex[:8]
    users = {"ro": ("readonly",), "wo": ("writeonly",), "pfx": (f"post-prefix-{suffix}",)}
    ops.create_policy(
        f"post-prefix-{suffix}",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": [f"arn:aws:s3:::{bucket}/public/*"]}
                ],
            }
        ).encode(),
    )
    for name, policies in users.items():
        ops.add_user(f"{name}-{suffix}", f"{name}-secret-{suffix}", list(policies))

    def upload(who: str, key: str, **kw: Any) -> Response:
        form = presigned(gw, bucket, key, access=f"{who}-{suffix}", secret=f"{who}-secret-{suffix}", **kw)
        return post_form(gw, bucket, form, b"by " + who.encode())

    assert error(upload("ro", "a.txt"))[:2] == (403, "AccessDenied")
    assert upload("wo", "a.txt").status == 204
    assert error(upload("pfx", "private/b.txt"))[:2] == (403, "AccessDenied")
    assert upload("pfx", "public/b.txt").status == 204
    # tags are PutObjectTagging's power: writeonly alone may not set them (AWS)
    tagging = "<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"
    r = upload("wo", "tagged.txt", fields={"tagging": tagging}, conditions=[{"tagging": tagging}])
    assert error(r)[:2] == (403, "AccessDenied")
    assert sorted(o["Key"] for o in client(gw).list_objects_v2(Bucket=bucket)["Contents"]) == ["a.txt", "public/b.txt"]
    ops.set_status(f"wo-{suffix}", "disabled")
    assert error(upload("wo", "c.txt"))[:2] == (403, "InvalidAccessKeyId")

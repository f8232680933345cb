"""Requests signed by real clients verify; any change to a signed part does not.

boto3 runs its full request path (serializer, flexible checksums, signer) and
a ``before-send`` hook hands us the request instead of sending it; awscrt's
signer (the one of the CRT-based SDKs) is the second, independent signer.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from awscrt import auth as crt_auth
from awscrt import http as crt_http
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from multidict import CIMultiDict

from s3gw.auth import (
    STREAMING_MODES,
    STREAMING_PAYLOAD,
    UNSIGNED_PAYLOAD,
    AuthError,
    AuthResult,
    ChunkedDecoder,
    PayloadHasher,
)

from .helpers import AK, SK, Req, encode_signed, request_from, status_of

KEYS = [
    "plain.txt",
    "with space",
    "unicode/été/日本語/😀",
    "plus+sign",
    "percent%25and%",
    "tilde~",
    "equals=sign&amp",
    "dollar$,comma;semi:colon@at",
    "quote'\"bracket[]{}()",
    "a//double//slash",
    "trailing/",
    "star*bang!",
    "question?hash#",
    "back\\slash^caret`grave|pipe<>",
]


class _Raw:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b""


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    return body.read()


def _to_req(p: AWSPreparedRequest) -> Req:
    headers = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in p.headers.items()]
    return request_from(p.method, p.url, headers, _body_bytes(p.body))


class Capture:
    """A boto3 S3 client whose requests end up here instead of on the network."""

    def __init__(self, endpoint: str, access_key: str = AK, secret_key: str = SK, region: str = "us-east-1") -> None:
        self.requests: list[Req] = []
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )
        self.client.meta.events.register("before-send.s3", self._hook)

    def _hook(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        self.requests.append(_to_req(request))
        return AWSResponse(request.url, 200, {}, _Raw())

    def call(self, fn: Callable[..., Any], **kwargs: Any) -> Req:
        try:
            fn(**kwargs)
        except Exception:  # our fake 200 may not parse as the operation's response
            pass
        return self.requests[-1]


def receive(req: Req, now: datetime | None = None) -> tuple[AuthResult, bytes, dict[str, str]]:
    """What the gateway does: authenticate, then verify/decode the body."""
    res = req.verify(now=now)
    mode = res.content_sha256
    if mode in STREAMING_MODES:
        names = [n.strip().lower() for n in req.headers.get("x-amz-trailer", "").split(",") if n.strip()]
        declared = req.headers.get("x-amz-decoded-content-length")
        dec = ChunkedDecoder(res, mode, names, int(declared) if declared is not None else None)
        body = b"".join(dec.feed(req.body))
        return res, body, dec.finish()
    if mode != UNSIGNED_PAYLOAD:
        hasher = PayloadHasher(mode)
        hasher.update(req.body)
        hasher.finish()
    return res, req.body, {}


@pytest.fixture(params=["http://127.0.0.1:9000", "https://s3.example.com"], ids=["http", "https"])
def cap(request: pytest.FixtureRequest) -> Capture:
    return Capture(request.param)


# ------------------------------------------------------------------ happy paths


@pytest.mark.parametrize("key", KEYS)
def test_put_object_keys(cap: Capture, key: str) -> None:
    data = b"0123456789" * 3000
    req = cap.call(cap.client.put_object, Bucket="bkt", Key=key, Body=data, Metadata={"k": "v  with   spaces"})
    res, body, trailers = receive(req)
    assert res.access_key == AK and not res.presigned
    assert body == data
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    if req.raw_path.startswith("/bkt") and res.content_sha256 in STREAMING_MODES:
        # botocore over https: aws-chunked with the CRC32 as a trailer.
        assert trailers == {"x-amz-checksum-crc32": crc}
    else:
        assert req.headers["x-amz-checksum-crc32"] == crc


@pytest.mark.parametrize("key", KEYS)
def test_get_head_list(cap: Capture, key: str) -> None:
    receive(cap.call(cap.client.get_object, Bucket="bkt", Key=key, Range="bytes=0-9"))
    receive(cap.call(cap.client.head_object, Bucket="bkt", Key=key, VersionId="v+1/=="))
    req = cap.call(cap.client.list_objects_v2, Bucket="bkt", Prefix=key, Delimiter="/", StartAfter=key + "~", MaxKeys=7)
    assert ("prefix", key) in req.query
    receive(req)


def test_empty_body_and_multipart_calls(cap: Capture) -> None:
    receive(cap.call(cap.client.put_object, Bucket="bkt", Key="empty", Body=b""))
    receive(cap.call(cap.client.create_multipart_upload, Bucket="bkt", Key="k y"))
    receive(
        cap.call(cap.client.upload_part, Bucket="bkt", Key="k y", UploadId="a/b+c=", PartNumber=3, Body=b"x" * 70000)
    )
    req = cap.call(cap.client.delete_objects, Bucket="bkt", Delete={"Objects": [{"Key": "a b"}, {"Key": "c+d"}]})
    assert ("delete", "") in req.query
    receive(req)


@pytest.mark.parametrize("key", KEYS)
def test_presigned_urls(key: str) -> None:
    cap = Capture("http://127.0.0.1:9000")
    url = cap.client.generate_presigned_url(
        "get_object",
        Params={"Bucket": "bkt", "Key": key, "ResponseContentDisposition": 'attachment; filename="a b+c.txt"'},
        ExpiresIn=600,
    )
    res = request_from("GET", url, []).verify()
    assert res.presigned and res.content_sha256 == UNSIGNED_PAYLOAD
    put = cap.client.generate_presigned_url("put_object", Params={"Bucket": "bkt", "Key": key}, ExpiresIn=60)
    req = request_from("PUT", put, [], b"body")
    assert receive(req)[1] == b"body"


# ------------------------------------------------------------------ tampering


def _tamper_cases(req: Req) -> dict[str, Req]:
    def copy(**changes: Any) -> Req:
        fields = {
            "method": req.method,
            "raw_path": req.raw_path,
            "query": list(req.query),
            "headers": CIMultiDict(req.headers),
            "body": req.body,
        }
        fields.update(changes)
        return Req(**fields)

    def with_header(name: str, value: str) -> Req:
        h = CIMultiDict(req.headers)
        h[name] = value
        return copy(headers=h)

    auth = req.headers["Authorization"]
    sig = auth.rsplit("Signature=", 1)[1]
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    return {
        "method": copy(method="POST" if req.method != "POST" else "PUT"),
        "path": copy(raw_path=req.raw_path + "x"),
        "path-case": copy(raw_path=req.raw_path.swapcase()),
        "query-value": copy(query=[(k, v + "x") for k, v in req.query] or [("x", "")]),
        "query-added": copy(query=req.query + [("versionId", "1")]),
        "host": with_header("Host", "evil.example.com"),
        "signed-header": with_header("x-amz-content-sha256", "0" * 64),
        "date": with_header("X-Amz-Date", (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")),
        "signature": with_header("Authorization", auth[: -len(sig)] + flipped),
        "signed-headers-list": with_header(
            "Authorization", auth.replace("SignedHeaders=host;", "SignedHeaders=host;user-agent;")
        ),
    }


def test_any_change_to_a_signed_part_fails() -> None:
    cap = Capture("http://127.0.0.1:9000")
    req = cap.call(cap.client.list_objects_v2, Bucket="bkt", Prefix="a b+c", MaxKeys=5)
    receive(req)
    for name, bad in _tamper_cases(req).items():
        with pytest.raises(AuthError) as e:
            bad.verify()
        assert e.value.code == "SignatureDoesNotMatch", name
        assert status_of(e.value) == 403


def test_unsigned_headers_may_change() -> None:
    cap = Capture("http://127.0.0.1:9000")
    req = cap.call(cap.client.get_object, Bucket="bkt", Key="k")
    req.headers["User-Agent"] = "something else"
    req.headers["X-Forwarded-For"] = "10.0.0.1"
    receive(req)


def test_header_value_whitespace_is_canonicalised() -> None:
    cap = Capture("http://127.0.0.1:9000")
    req = cap.call(cap.client.put_object, Bucket="bkt", Key="k", Body=b"x", Metadata={"m": "a   b"})
    assert req.headers["x-amz-meta-m"] == "a   b"
    req.headers["x-amz-meta-m"] = "  a b  "  # trimmed and collapsed: the same canonical value
    receive(req)
    req.headers["x-amz-meta-m"] = "a b c"
    with pytest.raises(AuthError, match="SignatureDoesNotMatch"):
        receive(req)


def test_tampered_body_fails() -> None:
    cap = Capture("http://127.0.0.1:9000")
    req = cap.call(cap.client.put_object, Bucket="bkt", Key="k", Body=b"hello world")
    req.body = b"hello World"
    with pytest.raises(AuthError) as e:
        receive(req)
    assert e.value.code == "XAmzContentSHA256Mismatch"


def test_tampered_presigned_url_fails() -> None:
    cap = Capture("http://127.0.0.1:9000")
    url = cap.client.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "k"}, ExpiresIn=600)
    for bad in (
        url.replace("/bkt/k", "/bkt/j"),
        url.replace("X-Amz-Expires=600", "X-Amz-Expires=601"),
        url + "&versionId=3",
        url.replace("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=host%3Brange"),
    ):
        req = request_from("GET", bad, [("Range", "bytes=0-1")])
        with pytest.raises(AuthError) as e:
            req.verify()
        assert e.value.code == "SignatureDoesNotMatch", bad


# ------------------------------------------------------------------ failures


def test_unknown_access_key() -> None:
    cap = Capture("http://127.0.0.1:9000", access_key="AKIDUNKNOWN")
    with pytest.raises(AuthError) as e:
        receive(cap.call(cap.client.get_object, Bucket="bkt", Key="k"))
    assert (e.value.code, status_of(e.value)) == ("InvalidAccessKeyId", 403)
    url = cap.client.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "k"})
    with pytest.raises(AuthError, match="InvalidAccessKeyId"):
        request_from("GET", url, []).verify()


def test_wrong_secret() -> None:
    cap = Capture("http://127.0.0.1:9000", secret_key="not-the-secret")
    with pytest.raises(AuthError, match="SignatureDoesNotMatch"):
        receive(cap.call(cap.client.get_object, Bucket="bkt", Key="k"))


def test_clock_skew() -> None:
    cap = Capture("http://127.0.0.1:9000")
    req = cap.call(cap.client.get_object, Bucket="bkt", Key="k")
    t = datetime.strptime(req.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    req.verify(now=t + timedelta(minutes=14))
    req.verify(now=t - timedelta(minutes=14))
    for delta in (timedelta(minutes=16), -timedelta(minutes=16), timedelta(days=3)):
        with pytest.raises(AuthError) as e:
            req.verify(now=t + delta)
        assert (e.value.code, status_of(e.value)) == ("RequestTimeTooSkewed", 403)


def test_presigned_expiry_and_not_yet_valid() -> None:
    cap = Capture("http://127.0.0.1:9000")
    url = cap.client.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "k"}, ExpiresIn=60)
    req = request_from("GET", url, [])
    t = datetime.strptime(dict(req.query)["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    req.verify(now=t + timedelta(seconds=60))
    with pytest.raises(AuthError) as e:
        req.verify(now=t + timedelta(seconds=61))
    assert (e.value.code, e.value.message) == ("AccessDenied", "Request has expired")
    req.verify(now=t - timedelta(minutes=14))  # a signer slightly ahead of us
    with pytest.raises(AuthError) as e:
        req.verify(now=t - timedelta(minutes=16))
    assert (e.value.code, e.value.message) == ("AccessDenied", "Request is not valid yet")


def test_region() -> None:
    cap = Capture("http://127.0.0.1:9000", region="eu-west-1")
    req = cap.call(cap.client.get_object, Bucket="bkt", Key="k")
    with pytest.raises(AuthError) as e:
        req.verify(region="us-east-1")
    assert e.value.code == "AuthorizationHeaderMalformed"
    assert "expecting 'us-east-1'" in e.value.message
    assert req.verify(region="").region == "eu-west-1"  # MinIO: ListBuckets / GetBucketLocation
    assert req.verify(region="eu-west-1").region == "eu-west-1"


# ------------------------------------------------------------------ awscrt signer


def _crt_sign(
    method: str, path: str, headers: list[tuple[str, str]], *, query_auth: bool = False, body_value: str | None = None
) -> Req:
    req = crt_http.HttpRequest(method, path, crt_http.HttpHeaders(headers))
    config = crt_auth.AwsSigningConfig(
        algorithm=crt_auth.AwsSigningAlgorithm.V4,
        signature_type=(
            crt_auth.AwsSignatureType.HTTP_REQUEST_QUERY_PARAMS
            if query_auth
            else crt_auth.AwsSignatureType.HTTP_REQUEST_HEADERS
        ),
        credentials_provider=crt_auth.AwsCredentialsProvider.new_static(AK, SK),
        region="us-east-1",
        service="s3",
        date=datetime.now(UTC),
        use_double_uri_encode=False,  # S3 rules
        should_normalize_uri_path=False,
        signed_body_value=body_value if body_value is not None else UNSIGNED_PAYLOAD,
        signed_body_header_type=(
            crt_auth.AwsSignedBodyHeaderType.NONE
            if query_auth
            else crt_auth.AwsSignedBodyHeaderType.X_AMZ_CONTENT_SHA_256
        ),
        expiration_in_seconds=300 if query_auth else None,
    )
    crt_auth.aws_sign_request(req, config).result(10)
    return request_from(method, "http://s3.example.com" + req.path, list(req.headers))


@pytest.mark.parametrize(
    "path", ["/bkt/a%20b", "/bkt/caf%C3%A9%2Bx%3D", "/bkt/k?prefix=a%2Fb%20c&list-type=2", "/bkt?acl"]
)
def test_awscrt_signed(path: str) -> None:
    headers = [("Host", "s3.example.com"), ("x-amz-meta-a", "1")]
    res = _crt_sign("GET", path, headers).verify()
    assert res.content_sha256 == UNSIGNED_PAYLOAD
    res = _crt_sign("GET", path, headers, query_auth=True).verify()
    assert res.presigned


def test_awscrt_signed_streaming_seed() -> None:
    data = bytes(range(256)) * 300
    req = _crt_sign(
        "PUT",
        "/bkt/chunked%20object",
        [
            ("Host", "s3.example.com"),
            ("Content-Encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", str(len(data))),
        ],
        body_value=STREAMING_PAYLOAD,
    )
    res = req.verify()
    assert res.content_sha256 == STREAMING_PAYLOAD
    req.body = encode_signed(res, data, chunk_size=8192)
    assert receive(req)[1] == data

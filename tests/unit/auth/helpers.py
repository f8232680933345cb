"""Shared helpers for the auth tests: credentials, requests as the gateway sees them, encoders.

A request is reduced to what ``authenticate`` receives from aiohttp: the method,
the raw path, ``request.query`` (yarl decodes it, '+' included as a space) and
a case-insensitive multidict of headers.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import yarl
from multidict import CIMultiDict

from s3gw.api.errors import S3Error
from s3gw.auth import EMPTY_SHA256, STREAMING_PAYLOAD, AuthError, AuthResult, authenticate, derive_signing_key

# The credentials of AWS's documentation examples.
AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def chunked_example_auth() -> AuthResult:
    """What authenticate() returns for AWS's chunked-upload example (see test_aws_examples)."""
    return AuthResult(
        anonymous=False,
        access_key=AK,
        region="us-east-1",
        amz_date="20130524T000000Z",
        scope="20130524/us-east-1/s3/aws4_request",
        signature="4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        signing_key=derive_signing_key(SK, "20130524", "us-east-1"),
        content_sha256=STREAMING_PAYLOAD,
    )


def lookup(access_key: str) -> str | None:
    return {AK: SK, "second-key": "second-secret"}.get(access_key)


@dataclass
class Req:
    method: str
    raw_path: str
    query: list[tuple[str, str]]
    headers: CIMultiDict[str]
    body: bytes = b""

    def verify(self, now: datetime | None = None, region: str = "us-east-1") -> AuthResult:
        return authenticate(self.method, self.raw_path, self.query, self.headers, lookup, now=now, region=region)


def host_of(url: yarl.URL) -> str:
    """The Host header an HTTP client sends (default ports dropped)."""
    assert url.host is not None
    if url.port is None or url.port == {"http": 80, "https": 443}.get(url.scheme):
        return url.host
    return f"{url.host}:{url.port}"


def request_from(method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes = b"") -> Req:
    """What aiohttp hands the gateway for this request."""
    u = yarl.URL(url, encoded=True)
    h: CIMultiDict[str] = CIMultiDict(headers)
    if "host" not in h:
        h["Host"] = host_of(u)
    return Req(method, u.raw_path, list(u.query.items()), h, body)


# ------------------------------------------------------------- aws-chunked encoding


def _hmac_hex(key: bytes, msg: str) -> str:
    return hmac.new(key, msg.encode(), hashlib.sha256).hexdigest()


def chunk_signature(auth: AuthResult, prev: str, data: bytes) -> str:
    sts = "\n".join(
        ["AWS4-HMAC-SHA256-PAYLOAD", auth.amz_date, auth.scope, prev, EMPTY_SHA256, hashlib.sha256(data).hexdigest()]
    )
    return _hmac_hex(auth.signing_key, sts)


def trailer_signature(auth: AuthResult, prev: str, trailer_block: bytes) -> str:
    sts = "\n".join(
        ["AWS4-HMAC-SHA256-TRAILER", auth.amz_date, auth.scope, prev, hashlib.sha256(trailer_block).hexdigest()]
    )
    return _hmac_hex(auth.signing_key, sts)


def split(data: bytes, chunk_size: int) -> list[bytes]:
    return [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)]


def encode_signed(
    auth: AuthResult,
    data: bytes,
    chunk_size: int = 8192,
    trailers: dict[str, str] | None = None,
    *,
    final_crlf: bool = True,
) -> bytes:
    """aws-chunked with chunk signatures, as the AWS SDKs (Java, Go, .NET, CRT) send it.

    ``trailers`` None is STREAMING-AWS4-HMAC-SHA256-PAYLOAD; a dict (maybe
    empty) is the -TRAILER variant, trailers signed as ``name:value\\n`` lines.
    """
    out = bytearray()
    prev = auth.signature
    for chunk in split(data, chunk_size) + [b""]:
        prev = chunk_signature(auth, prev, chunk)
        out += f"{len(chunk):x};chunk-signature={prev}\r\n".encode()
        if chunk:
            out += chunk + b"\r\n"
    if trailers is None:
        if final_crlf:
            out += b"\r\n"
        return bytes(out)
    block = "".join(f"{k}:{v}\n" for k, v in trailers.items()).encode()
    for k, v in trailers.items():
        out += f"{k}:{v}\r\n".encode()
    out += f"x-amz-trailer-signature:{trailer_signature(auth, prev, block)}\r\n".encode()
    if final_crlf:
        out += b"\r\n"
    return bytes(out)


def encode_unsigned(data: bytes, chunk_size: int = 8192, trailers: dict[str, str] | None = None) -> bytes:
    """STREAMING-UNSIGNED-PAYLOAD-TRAILER framing (botocore's AwsChunkedWrapper)."""
    out = bytearray()
    for chunk in split(data, chunk_size):
        out += f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    out += b"0\r\n"
    for k, v in (trailers or {}).items():
        out += f"{k}:{v}\r\n".encode()
    out += b"\r\n"
    return bytes(out)


# ------------------------------------------------------------- a literal signer


def literal_signature(
    secret: str,
    canonical_request: str,
    amz_date: str = "20130524T000000Z",
    scope: str = "20130524/us-east-1/s3/aws4_request",
) -> str:
    """Sign a canonical request written out by hand (independent of s3gw's canonicalisation)."""
    date, region, service, _ = scope.split("/")
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sts = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical_request.encode()).hexdigest()}"
    return _hmac_hex(key, sts)


def status_of(err: AuthError) -> int:
    """The HTTP status a client gets for an auth error: its row's in the one S3 error table (the auth
    layer keeps no status of its own)."""
    return S3Error(err.name, err.message).status

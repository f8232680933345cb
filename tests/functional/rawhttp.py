"""Signed raw HTTP requests, for what SDKs refuse to send (bad names, bad bodies, odd headers)."""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from urllib.parse import urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import Server


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def send(server: Server, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> Response:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            # non-ASCII values go as UTF-8 (how servers decode them), not http.client's latin-1
            conn.putheader(k, v if v.isascii() else v.encode())
        conn.endheaders()
        if body:
            conn.send(body)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


def sign(
    server: Server,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    secret: str | None = None,
    access: str | None = None,
    payload_hash: str | None = None,
) -> dict[str, str]:
    """SigV4 headers for a request, as botocore computes them."""
    url = server.url + path
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    if payload_hash is not None:
        req.headers["x-amz-content-sha256"] = payload_hash
    creds = Credentials(access or server.access_key, secret or server.secret_key)
    S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    out = {k: v for k, v in req.headers.items()}
    out["Host"] = urlsplit(url).netloc
    if body and "Content-Length" not in out:
        out["Content-Length"] = str(len(body))
    return out


def signed_request(
    server: Server, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None, **kw: str
) -> Response:
    hdrs = sign(server, method, path, body, headers, **kw)
    if method in ("PUT", "POST") and "Content-Length" not in hdrs:
        hdrs["Content-Length"] = str(len(body))
    return send(server, method, path, hdrs, body)

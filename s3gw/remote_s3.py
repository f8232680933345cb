"""The S3 client of bucket replication (core/replicate.py's ``Remote``): SigV4-signed
requests to a remote target's endpoint over aiohttp, bodies streamed.

Written from the AWS SigV4 documentation (as ``admin_client.py`` is), with the payload
sent as ``UNSIGNED-PAYLOAD`` so that a body is streamed without being read twice; every
header the request carries is signed (the host, the x-amz-*/x-minio-* replication
headers, the content type and metadata). It lives at the composition root, not in the
core: the core stays free of HTTP clients (tests/unit/test_layers.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from yarl import URL

from .core.replicate import Body
from .core.replication import Target

UNSIGNED = "UNSIGNED-PAYLOAD"


def _enc(v: str) -> str:
    return quote(v, safe="-_.~")


def sign(
    method: str,
    url_base: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    access: str,
    secret: str,
    region: str,
    now: dt.datetime | None = None,
) -> tuple[str, dict[str, str]]:
    """(URL, headers with the SigV4 authorisation) for a request whose payload is unsigned."""
    host = urlsplit(url_base).netloc
    t = now or dt.datetime.now(dt.UTC)
    amz_date = t.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    h = {k.lower(): " ".join(str(v).strip().split()) for k, v in headers.items()}
    h.update({"host": host, "x-amz-content-sha256": UNSIGNED, "x-amz-date": amz_date})
    h.pop("content-length", None)
    signed = sorted(h)
    qs = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in sorted(query.items()))
    canonical_path = quote(path, safe="/-_.~")
    canonical = "\n".join(
        [method, canonical_path, qs, "".join(f"{k}:{h[k]}\n" for k in signed), ";".join(signed), UNSIGNED]
    )
    scope = f"{date}/{region}/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    h["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders={';'.join(signed)}, Signature={sig}"
    )
    del h["host"]
    return url_base.rstrip("/") + canonical_path + (f"?{qs}" if qs else ""), h


class RemoteS3:
    """``core.replicate.Remote`` over one aiohttp session (opened on first use)."""

    def __init__(self, connect_timeout: float = 10.0, read_timeout: float = 120.0) -> None:
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout, sock_read=read_timeout)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, auto_decompress=False)
        return self._session

    async def send(
        self,
        target: Target,
        secret: str,
        method: str,
        key: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: Body = b"",
        size: int = 0,
    ) -> tuple[int, dict[str, str], bytes]:
        url, signed = sign(
            method,
            target.endpoint,
            f"/{target.target_bucket}/{key}",
            query,
            headers,
            target.access_key,
            secret,
            target.region or "us-east-1",
        )
        data: Any = body
        if isinstance(body, bytes):
            signed["content-length"] = str(len(body))
        else:
            signed["content-length"] = str(size)
        try:
            # the path and query are encoded already, exactly as signed: sent as they are
            async with self._client().request(
                method, URL(url, encoded=True), headers=signed, data=data, skip_auto_headers=("Content-Type",)
            ) as r:
                out = await r.read()
                return r.status, {k.lower(): v for k, v in r.headers.items()}, out
        except aiohttp.ClientError as e:
            raise OSError(f"{target.endpoint}: {e}") from e

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

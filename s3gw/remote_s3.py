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
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from .common import sigv4sign
from .core.replicate import Body
from .core.replication import Target

UNSIGNED = "UNSIGNED-PAYLOAD"


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
    h = {k.lower(): " ".join(str(v).strip().split()) for k, v in headers.items()}
    h["host"] = urlsplit(url_base).netloc
    h.pop("content-length", None)
    h = sigv4sign.sign(method, path, query, h, UNSIGNED, access, secret, region, now)
    del h["host"]
    qs = sigv4sign.canonical_query(query)
    return url_base.rstrip("/") + sigv4sign.canonical_path(path) + (f"?{qs}" if qs else ""), h


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

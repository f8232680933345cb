"""The aiohttp application: one fixed pipeline for every S3 request.

route -> authenticate -> authorise -> handler -> render (DESIGN.md). Handlers
receive a ``Request`` context and return a response; every failure on the way
is turned into S3 XML here, through the one error table.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Awaitable

from aiohttp import web

from ..auth import AuthError, AuthResult, ChunkedDecoder, PayloadHasher, authenticate
from ..core.checksums import ALGORITHMS, new_checksum
from ..core.errors import CoreError
from ..core.service import Core
from ..core import MetaUnavailable
from . import xml as X
from .errors import S3Error, render
from .router import BadPath, Operation, route

log = logging.getLogger("s3gw.api")
access_log = logging.getLogger("s3gw.access")

CORE = web.AppKey("core", Core)
SETTINGS = web.AppKey("settings", "Settings")

READ_CHUNK = 256 * 1024
MAX_XML_BODY = 5 * 1024 * 1024


@dataclass
class Settings:
    credentials: dict[str, str]            # access key -> secret key
    region: str = "us-east-1"
    domains: tuple[str, ...] = ()          # virtual-hosted-style domains
    read_timeout: float = 0.0              # server.read_timeout: next piece of a request body (0: none)
    write_timeout: float = 0.0             # server.write_timeout: client taking the next piece (0: none)


@dataclass
class Request:
    """What a handler gets: the aiohttp request, the operation, the caller, the core."""

    http: web.Request
    op: Operation
    auth: AuthResult
    core: Core
    settings: Settings
    request_id: str
    headers: dict[str, str] = field(default_factory=dict)   # response headers every answer carries

    @property
    def query(self) -> Any:
        return self.http.query

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.http.headers.get(name, default)

    def payload(self) -> "RequestPayload":
        return RequestPayload(self.http, self.auth)

    async def read_body(self, limit: int = MAX_XML_BODY, require_integrity: bool = False) -> bytes:
        """A small request document (XML), verified like any payload, bounded in size.

        Content-MD5 and x-amz-checksum-* (header or trailer) are checked when
        sent; ``require_integrity`` makes one of them mandatory, as S3 does for
        DeleteObjects and the object-lock calls (MinIO accepts either).
        """
        out = bytearray()
        p = self.payload()
        async for chunk in p:
            out += chunk
            if len(out) > limit:
                raise S3Error("MaxMessageLengthExceeded")
        trailers = await p.trailers()
        body = bytes(out)
        sent = {**{k.lower(): v for k, v in self.http.headers.items()}, **trailers}
        md5 = sent.get("content-md5")
        found = md5 is not None
        if md5 is not None and base64.b64encode(hashlib.md5(body).digest()).decode() != md5.strip():
            raise S3Error("BadDigest")
        for algo in ALGORITHMS:
            value = sent.get(f"x-amz-checksum-{algo.lower()}")
            if value is None:
                continue
            found = True
            ck = new_checksum(algo)
            ck.update(body)
            if ck.b64() != value.strip():
                raise S3Error("XAmzContentChecksumMismatch")
        if require_integrity and not found:
            raise S3Error("MissingContentMD5")
        return body

    async def read_document(self, root: str, *, require_integrity: bool = False,
                            optional: bool = False) -> dict[str, Any] | None:
        """The request's XML document, whose root element must be ``root``.

        Returns its children as a dict ({} for an empty element), None for an
        empty body when ``optional``; anything else is MalformedXML.
        """
        body = await self.read_body(require_integrity=require_integrity)
        if optional and not body.strip():
            return None
        try:
            doc = X.parse(body)
        except X.XMLError as e:
            raise S3Error("MalformedXML") from e
        if root not in doc:
            raise S3Error("MalformedXML")
        value = doc[root]
        return value if isinstance(value, dict) else {}


class RequestPayload:
    """The request body as the core wants it: verified while it streams.

    x-amz-content-sha256 decides how: a hex digest is hashed and compared at the
    end; STREAMING-* bodies go through the aws-chunked decoder, which checks
    every chunk signature and collects the trailers; UNSIGNED-PAYLOAD is taken
    as it comes. Content-Length (and x-amz-decoded-content-length) must be met
    exactly: a short body is IncompleteBody and nothing is committed.
    """

    def __init__(self, http: web.Request, auth: AuthResult) -> None:
        self._http = http
        mode = auth.content_sha256 or http.headers.get("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        self._decoder: ChunkedDecoder | None = None
        self._hasher: PayloadHasher | None = None
        self._trailers: dict[str, str] = {}
        if mode.startswith("STREAMING-"):
            names = [t.strip().lower() for t in http.headers.get("x-amz-trailer", "").split(",") if t.strip()]
            decoded = http.headers.get("x-amz-decoded-content-length")
            length = int(decoded) if decoded and decoded.isdigit() else None
            self._decoder = ChunkedDecoder(auth, mode, names, length)
        elif mode != "UNSIGNED-PAYLOAD" and not auth.anonymous:
            self._hasher = PayloadHasher(mode)
        self._expected = http.content_length
        self._received = 0

    async def _chunks(self) -> AsyncIterator[bytes]:
        """The raw body as it arrives, each piece within ``Settings.read_timeout`` (RequestTimeout)."""
        settings = self._http.app.get(SETTINGS)
        limit = settings.read_timeout if settings is not None else 0.0
        if not limit:
            async for data in self._http.content.iter_chunked(READ_CHUNK):
                yield data
            return
        while True:
            try:
                async with asyncio.timeout(limit):
                    data = await self._http.content.read(READ_CHUNK)
            except TimeoutError as e:
                raise S3Error("RequestTimeout") from e
            if not data:
                return
            yield data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for data in self._chunks():
                self._received += len(data)
                if self._decoder is not None:
                    for piece in self._decoder.feed(data):
                        yield piece
                else:
                    if self._hasher is not None:
                        self._hasher.update(data)
                    yield data
        except (ConnectionResetError, OSError) as e:
            raise S3Error("IncompleteBody") from e

    async def trailers(self) -> dict[str, str]:
        if self._expected is not None and self._received != self._expected:
            raise S3Error("IncompleteBody")
        if self._decoder is not None:
            self._trailers = self._decoder.finish()
        elif self._hasher is not None:
            self._hasher.finish()
        return self._trailers


Handler = Callable[[Request], Awaitable[web.StreamResponse]]


def new_request_id() -> str:
    return os.urandom(8).hex().upper()


def to_s3_error(exc: BaseException) -> S3Error:
    """The boundary where core, auth and store failures become S3 errors."""
    if isinstance(exc, S3Error):
        return exc
    if isinstance(exc, CoreError):
        return S3Error(exc.code, exc.message if exc.message != exc.code else "", exc.headers)
    if isinstance(exc, AuthError):
        return S3Error(exc.code, exc.message, status=exc.status)
    if isinstance(exc, MetaUnavailable):
        return S3Error("ServiceUnavailable")
    log.error("internal error", exc_info=exc)
    return S3Error("InternalError")


def error_response(err: S3Error, http: web.Request, request_id: str, op: Operation | None) -> web.Response:
    headers = {"x-amz-request-id": request_id, "Server": "s3gw", **err.headers}
    if err.status == 304 or http.method == "HEAD":
        # HEAD answers and 304s carry no body (RFC 9110; S3 sends the code in no header)
        return web.Response(status=err.status, headers=headers)
    body = render(err, http.path, request_id, op.bucket if op else "", op.key if op else "")
    headers["Content-Type"] = "application/xml"
    return web.Response(status=err.status, body=body, headers=headers)


def make_handler(handlers: dict[str, Handler]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(http: web.Request) -> web.StreamResponse:
        core = http.app[CORE]
        settings = http.app[SETTINGS]
        request_id = new_request_id()
        started = time.monotonic()
        op: Operation | None = None
        try:
            op = route(http.method, http.raw_path, http.query, http.headers, http.host, settings.domains)
            # ListBuckets and GetBucketLocation are region-agnostic: clients sign
            # them with whatever region they are configured for (MinIO accepts any).
            any_region = op.name in ("ListBuckets", "GetBucketLocation")
            auth = authenticate(
                http.method, http.rel_url.raw_path, list(http.query.items()), http.headers,
                settings.credentials.get, region="" if any_region else settings.region,
            )
            authorize(op, auth)
            handler = handlers.get(op.name)
            if handler is None:
                raise S3Error("NotImplemented")
            rq = Request(http, op, auth, core, settings, request_id)
            resp = await handler(rq)
            resp.headers.setdefault("x-amz-request-id", request_id)
            resp.headers.setdefault("Server", "s3gw")
        except BadPath:
            resp = error_response(S3Error("XMinioInvalidObjectName"), http, request_id, op)
        except Exception as exc:  # every failure becomes S3 XML
            resp = error_response(to_s3_error(exc), http, request_id, op)
        access_log.info(
            "%s %s %s %d %.1fms", request_id, op.name if op else "-", http.path, resp.status,
            (time.monotonic() - started) * 1000,
        )
        return resp

    return handle


def authorize(op: Operation, auth: AuthResult) -> None:
    """Only authenticated callers may do anything (no anonymous access policies yet)."""
    if auth.anonymous:
        raise S3Error("AccessDenied")

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
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..auth import (
    AuthError,
    AuthResult,
    ChunkedDecoder,
    PayloadHasher,
    authenticate,
    claimed_access_key,
    security_token_sent,
)
from ..common.numbers import parse_uint
from ..core import CommitUnknown, MetaUnavailable
from ..core import errors as E
from ..core.checksums import ALGORITHMS, new_checksum
from ..core.errors import CoreError, OutcomeUnknown
from ..core.expiry import LifecycleWorker
from ..core.iam import Iam, Principal, check_session_token
from ..core.notify import REQUEST, EventSource
from ..core.ops import Operations
from ..core.repair import Repair
from ..core.runtime_config import RuntimeConfig
from ..core.service import Core
from . import xml as X
from .authz import copy_source, is_write, required
from .errors import S3Error, render
from .observe import REQUEST_ID, S3_INFO, Telemetry, new_request_id
from .policy_context import request_context, source_ip
from .router import BadPath, Op, Operation, route
from .trace import TraceHub

log = logging.getLogger(__name__)

CORE = web.AppKey("core", Core)
SETTINGS = web.AppKey("settings", "Settings")
IAM = web.AppKey("iam", Iam)  # users and policies (core/iam.py)
OPS = web.AppKey("ops", Operations)  # maintenance mode, usage, drive probes (core/ops.py)
REPAIR = web.AppKey("repair", Repair)  # heal worker, scanner, heal sequences (core/repair.py)
LIFECYCLE = web.AppKey("lifecycle", LifecycleWorker)  # lifecycle rules and stale uploads (core/expiry.py)
TELEMETRY = web.AppKey("telemetry", Telemetry)  # metrics and the access/audit logs (api/observe.py)
RUNTIME = web.AppKey(
    "runtime", RuntimeConfig
)  # mc admin config: what may change while running (core/runtime_config.py)
TRACER = web.AppKey("tracer", TraceHub)  # mc admin trace's subscribers, across processes (api/trace.py)

READ_CHUNK = 256 * 1024
MAX_XML_BODY = 5 * 1024 * 1024


async def read_small_body(request: web.Request, limit: int, too_large: Exception, timed_out: Exception) -> bytes:
    """The whole small body of a call outside the S3 API (admin, STS): ``too_large`` when it has
    more than ``limit`` bytes (by its Content-Length, or as read), ``timed_out`` when a piece does
    not come within server.read_timeout."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    settings = request.app.get(SETTINGS)
    wait = (settings.read_timeout if settings is not None else 0.0) or None
    body = bytearray()
    while True:
        try:
            async with asyncio.timeout(wait):
                piece = await request.content.read(limit + 1 - len(body))
        except TimeoutError:
            raise timed_out from None
        if not piece:
            return bytes(body)
        body += piece
        if len(body) > limit:
            raise too_large


@dataclass
class Settings:
    credentials: dict[str, str]  # access key -> secret key
    region: str = "us-east-1"
    domains: tuple[str, ...] = ()  # virtual-hosted-style domains
    metrics_auth: str = "bearer"  # "bearer" or "public" (docs/operations.md)
    metrics_token: str = ""  # static bearer token for the metrics endpoints
    metrics_token_max_lifetime: float = 100 * 365 * 86400.0  # a JWT's exp at most this far ahead (mc: 100 years)
    read_timeout: float = 0.0  # server.read_timeout: next piece of a request body (0: none)
    write_timeout: float = 0.0  # server.write_timeout: client taking the next piece (0: none)
    trusted_proxies: tuple[Any, ...] = ()  # server.trusted_proxies: networks whose X-Forwarded-For is believed


@dataclass(frozen=True)
class Decision:
    """What ``authorize`` allowed beyond the operation itself: the headers whose effect the
    caller may not have (an optional ``authz.Need`` denied) are not honoured."""

    refused: frozenset[str] = frozenset()

    def honours(self, header: str) -> bool:
        return header not in self.refused


@dataclass
class Request:
    """What a handler gets: the aiohttp request, the operation, the caller, the core."""

    http: web.Request
    op: Operation
    auth: AuthResult
    core: Core
    settings: Settings
    request_id: str
    headers: dict[str, str] = field(default_factory=dict)  # response headers every answer carries
    principal: Principal | None = None  # the verified caller (None without IAM)
    decision: Decision = field(default_factory=Decision)  # what authorize allowed (headers honoured)

    async def authorize(self, op: Operation, version: str | None = None) -> Decision:
        """``authorize`` for a part of this request (DeleteObjects: each key, as DeleteObject,
        with the version its entry names)."""
        return await authorize(self.http, op, self.auth, self.principal, version)

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.http.headers.get(name, default)

    def payload(self) -> RequestPayload:
        return RequestPayload(self.http, self.auth)

    async def read_body(
        self, limit: int = MAX_XML_BODY, require_integrity: bool = False, body_checksums: bool = True
    ) -> bytes:
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
        for algo in ALGORITHMS if body_checksums else ():
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

    async def document(self, root: str, *, require_integrity: bool = False) -> dict[str, Any]:
        """The request's XML document, which must be there (``read_document``)."""
        doc = await self.read_document(root, require_integrity=require_integrity)
        assert doc is not None
        return doc

    async def read_document(
        self,
        root: str,
        *,
        require_integrity: bool = False,
        optional: bool = False,
        body_checksums: bool = True,
        max_elements: int = X.MAX_ELEMENTS,
    ) -> dict[str, Any] | None:
        """The request's XML document, whose root element must be ``root``.

        Returns its children as a dict ({} for an empty element), None for an
        empty body when ``optional``; anything else is MalformedXML, and so is
        a document nested deeper than X.MAX_DEPTH or with more than
        ``max_elements`` elements (parsing stops there). Large documents are
        parsed off the event loop.
        """
        body = await self.read_body(require_integrity=require_integrity, body_checksums=body_checksums)
        if optional and not body.strip():
            return None
        try:
            doc = await X.parse_async(body, max_elements=max_elements)
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
            length = None
            if decoded is not None:
                if not decoded:
                    raise S3Error("MissingContentLength")
                try:
                    length = parse_uint(decoded)
                except ValueError:
                    # MinIO answers this with an InternalError (strconv's error unmapped); a 400 it is
                    raise S3Error("InvalidArgument", "x-amz-decoded-content-length must be a number of bytes") from None
            self._decoder = ChunkedDecoder(auth, mode, names, length)
        elif mode != "UNSIGNED-PAYLOAD":
            self._hasher = PayloadHasher(mode)  # anonymous uploads (a bucket policy) are checked too
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


def to_s3_error(
    exc: BaseException, request_id: str = "", op: Operation | None = None, key: str | None = None
) -> S3Error:
    """The boundary where core, auth and store failures become S3 errors.

    A core error's headers are built here, from what it says it is about
    (``error_headers``); an auth error's status is its table row's. Anything
    else is a bug or an outage nobody named: logged with the request id, the
    operation, the bucket and the key (``key``: the one a DeleteObjects entry
    names), and answered InternalError.
    """
    if isinstance(exc, S3Error):
        return exc
    if isinstance(exc, (OutcomeUnknown, CommitUnknown)):
        # a write whose COMMIT failed without an answer: it may have taken effect (docs/metadata.md, Failures)
        what = f"version {exc.version_id}" if isinstance(exc, OutcomeUnknown) and exc.version_id else "the change"
        log.warning(
            "request %s (%s %s/%s): outcome unknown: the metadata store failed during the commit and did "
            "not answer again in time; %s may have been stored (settled in the background, logged then)",
            request_id,
            op.name.value if op is not None else "-",
            op.bucket if op is not None else "",
            key if key is not None else (op.key if op is not None else ""),
            what,
            extra={"request_id": request_id},
        )
    if isinstance(exc, CoreError):
        return S3Error(exc.code, exc.message if exc.message != exc.code else "", error_headers(exc))
    if isinstance(exc, AuthError):
        return S3Error(exc.name, exc.message)
    if isinstance(exc, MetaUnavailable):
        return S3Error("ServiceUnavailable")
    operation = op.name.value if op is not None else ""
    bucket = op.bucket if op is not None else ""
    key = key if key is not None else (op.key if op is not None else "")
    log.error(
        "internal error: request %s, operation %s, bucket %r, key %r: %s",
        request_id,
        operation or "-",
        bucket,
        key,
        f"{type(exc).__name__}: {exc}",
        exc_info=exc,
        extra={"request_id": request_id, "operation": operation, "bucket": bucket, "key": key},
    )
    return S3Error("InternalError")


def error_headers(exc: CoreError) -> dict[str, str]:
    """The response headers a core error carries, rendered from what it is about (S3's and MinIO's answers):

    * about a delete marker (GET/HEAD of a key whose latest version is one, or
      of the marker by its id): ``x-amz-delete-marker``, its version id and
      Last-Modified;
    * a GET/HEAD condition that failed (304 NotModified, 412 PreconditionFailed)
      on a version: its ETag and Last-Modified;
    * InvalidRange: ``ActualObjectSize``, the size of the object;
    * a Range together with partNumber: ``Accept-Ranges: bytes``.
    """
    rec = exc.record
    if rec is not None and rec.delete_marker:
        return {
            "x-amz-delete-marker": "true",
            "x-amz-version-id": rec.version_id,
            "Last-Modified": X.http_date(rec.mtime),
        }
    if rec is not None and isinstance(exc, (E.NotModified, E.PreconditionFailed)):
        return {"ETag": f'"{rec.etag}"', "Last-Modified": X.http_date(rec.mtime)}
    if isinstance(exc, E.InvalidRange) and exc.object_size is not None:
        return {"ActualObjectSize": str(exc.object_size)}
    if isinstance(exc, E.RangeWithPartNumber):
        return {"Accept-Ranges": "bytes"}
    return {}


def error_response(err: S3Error, http: web.Request, request_id: str, op: Operation | None) -> web.Response:
    headers = {"x-amz-request-id": request_id, "Server": "s3gw", **err.headers}
    if err.status == 304 or http.method == "HEAD":
        # HEAD answers and 304s carry no body (RFC 9110; S3 sends the code in no header)
        return web.Response(status=err.status, headers=headers)
    body = render(err, http.path, request_id, op.bucket if op else "", op.key if op else "")
    headers["Content-Type"] = "application/xml"
    return web.Response(status=err.status, body=body, headers=headers)


def make_handler(handlers: Mapping[Op, Handler]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The S3 pipeline over a handler table that answers every operation (api/handlers.py)."""
    missing = [op.value for op in Op if op not in handlers and op != Op.MethodNotAllowed]
    if missing:
        raise ValueError(f"operations without a handler: {', '.join(missing)}")

    async def handle(http: web.Request) -> web.StreamResponse:
        core = http.app[CORE]
        settings = http.app[SETTINGS]
        request_id = http.get(REQUEST_ID) or new_request_id()
        telemetry = http.app.get(TELEMETRY)
        info: dict[str, Any] = {}  # what the access/audit logs and the metrics learn (api/observe.py)
        http[S3_INFO] = info
        op: Operation | None = None
        counted = False
        try:
            op = route(http.method, http.raw_path, http.query, http.headers, http.host, settings.domains)
            info.update(operation=op.name, bucket=op.bucket, key=op.key)
            if telemetry is not None:
                telemetry.begin(op.name)
                counted = True
            principal: Principal | None = None
            decision = Decision()
            if op.name == Op.PostObject and is_form_upload(http):
                # A browser form upload carries its credentials in the form, not in the
                # headers: its handler reads the fields (bounded), verifies the policy
                # signature and calls authorize() before the file streams (api/postobject.py).
                auth = FORM_PENDING
            else:
                principal, lookup = await resolve_principal(http, settings)
                # Any region in the credential scope is accepted, as MinIO does when
                # no region is configured (clients sign with whatever they were set to).
                auth = authenticate(
                    http.method,
                    http.rel_url.raw_path,
                    list(http.query.items()),
                    http.headers,
                    lookup,
                    region="",
                )
                info["access_key"] = auth.access_key
                check_session_token(
                    None if auth.anonymous else principal,
                    auth.session_token,
                    security_token_sent(http.headers, http.query.items()),
                )
                if op.name == Op.MethodNotAllowed:  # e.g. PUT / : MinIO routes only GET on the service root
                    raise S3Error("MethodNotAllowed")
                decision = await authorize(http, op, auth, principal, version_of(op))
            if op.invalid is not None:  # a query parameter that did not parse (router.py)
                raise S3Error(op.invalid.code, op.invalid.message)
            handler = handlers[op.name]
            REQUEST.set(event_source(http, op, auth, settings, request_id))  # for bucket notifications
            rq = Request(http, op, auth, core, settings, request_id, principal=principal, decision=decision)
            resp = await handler(rq)
            resp.headers.setdefault("x-amz-request-id", request_id)
            resp.headers.setdefault("Server", "s3gw")
        except BadPath:
            info["error"] = "XMinioInvalidObjectName"
            resp = error_response(S3Error("XMinioInvalidObjectName"), http, request_id, op)
        except Exception as exc:  # every failure becomes S3 XML
            err = to_s3_error(exc, request_id, op)
            info["error"] = err.code
            resp = error_response(err, http, request_id, op)
        finally:
            if counted and telemetry is not None and op is not None:
                telemetry.end(op.name)
        return resp

    return handle


ACCOUNT_DISABLED = "Your account is disabled; please contact your administrator."
MAINTENANCE_MESSAGE = "s3gw is in maintenance mode: writes are refused, reads are served. Retry later."


def event_source(
    http: web.Request, op: Operation, auth: AuthResult, settings: Settings, request_id: str
) -> EventSource:
    """Who is asking, as a bucket-notification event record tells it (core/notify.py)."""
    peer = http.transport.get_extra_info("peername") if http.transport is not None else None
    port = str(peer[1]) if isinstance(peer, tuple) and len(peer) > 1 else ""
    return EventSource(
        operation=op.name.value,
        principal=getattr(auth, "access_key", "") or "",
        source_ip=source_ip(http.remote or "", http.headers.get("X-Forwarded-For"), settings.trusted_proxies),
        host=http.remote or "",
        port=port,
        user_agent=http.headers.get("User-Agent", ""),
        request_id=request_id,
    )


def is_form_upload(http: web.Request) -> bool:
    """POST with a multipart/form-data body: a browser form upload (MinIO isRequestPostPolicySignatureV4)."""
    ctype = http.headers.get("Content-Type", "")
    return http.method == "POST" and ctype.split(";", 1)[0].strip().lower() == "multipart/form-data"


#: what a form upload is known as until its handler has verified the form's signature
FORM_PENDING = AuthResult(anonymous=True)


async def resolve_principal(
    http: web.Request,
    settings: Settings,
    claimed: str | None = None,
) -> tuple[Principal | None, Callable[[str], str | None]]:
    """Who the request claims to be, and the secret lookup signature verification uses.

    The claimed access key (from the headers or query, or ``claimed``: the
    form fields of a POST upload) is looked up (asynchronously: users live in
    the metadata store) before the signature is checked; a disabled user is
    refused there, with MinIO's answer (InvalidAccessKeyId, "account is
    disabled"). Without users (an app built with no IAM) only the configured
    credentials exist.
    """
    iam = http.app.get(IAM)
    if iam is None:
        return None, settings.credentials.get
    if claimed is None:
        claimed = claimed_access_key(http.headers, http.query)
    principal = await iam.principal(claimed) if claimed else None
    if principal is not None and not principal.enabled:
        raise S3Error("InvalidAccessKeyId", ACCOUNT_DISABLED)

    def lookup(access_key: str) -> str | None:
        if principal is not None and access_key == principal.access_key:
            return principal.secret_key
        return None

    return principal, lookup


def version_of(op: Operation) -> str | None:
    """The version an object request names (its ``versionId``, parsed by the router), if any."""
    return op.version_id if op.key else None


async def authorize(
    http: web.Request, op: Operation, auth: AuthResult, principal: Principal | None = None, version: str | None = None
) -> Decision:
    """May this caller do this operation, with these headers, on this version, now? The one
    place that checks.

    * every ``authz.required`` permission must be granted: the operation's
      action on its resource, the version action when ``version`` names one
      (``authz.VERSION_NEEDS``), the actions of headers that do another API's
      work (lock, legal hold, tagging), the copy source's read; an optional
      one denied (the governance bypass) is not honoured (``Decision``)
      rather than refused;
    * ``Iam.authorize`` (core/iam.py) decides each, from the caller's identity
      policies and the bucket's policy together, with the request's condition
      context (``policy_context.request_context``): an explicit Deny in either
      refuses, an Allow in either allows; root may do everything; an anonymous
      caller has only the bucket policy (this includes unsigned browser form
      uploads, PostObject, which api/postobject.py authorises here as
      anonymous);
    * without IAM (an app built with no users) anonymous callers are refused;
    * in maintenance mode every write is refused (503, reads are served).

    DeleteObjects asks again for each key (``Request.authorize``, authz.PER_KEY).
    """
    refused: set[str] = set()
    iam = http.app.get(IAM)
    if iam is None:
        if auth.anonymous:
            raise S3Error("AccessDenied")
    elif principal is None or not principal.root:
        caller = None if auth.anonymous else principal
        if caller is None and not auth.anonymous:
            raise S3Error("AccessDenied")
        settings = http.app.get(SETTINGS)
        ctx = request_context(
            http, op, auth, caller, settings.trusted_proxies if settings is not None else (), version=version
        )
        for need in required(op, http.headers, version):
            if await iam.authorize(
                caller, need.action, need.resource, ctx, _existing_tags(http, op, need.resource, version)
            ):
                continue
            if not need.optional:
                raise S3Error("AccessDenied")
            refused.add(need.header)
    ops = http.app.get(OPS)
    if ops is not None and is_write(op.name) and (await ops.maintenance.current()).enabled:
        raise S3Error("ServiceUnavailable", MAINTENANCE_MESSAGE, {"Retry-After": "30", "x-s3gw-maintenance": "on"})
    return Decision(frozenset(refused))


def _existing_tags(
    http: web.Request, op: Operation, resource: str, version: str | None
) -> Callable[[], Awaitable[dict[str, str] | None]] | None:
    """How to read the tags of the object ``resource`` names (``s3:ExistingObjectTag``), if it names one:
    the operation's object (the version it names), or the copy source (the version it names)."""
    core = http.app.get(CORE)
    bucket, _, key = resource[len("arn:aws:s3:::") :].partition("/")
    if core is None or not key:
        return None
    if not (op.key and (bucket, key) == (op.bucket, op.key)):
        src = copy_source(http.headers)
        version = src[2] if src is not None else None
    return lambda: core.existing_tags(bucket, key, version)

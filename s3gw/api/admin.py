"""The one way into every admin API under ``/minio/admin/``: MinIO's admin API
that ``mc`` speaks (``madmin.py``) and s3gw's own (``s3gw_admin.py``).

Each admin API is a table of routes (``Routes``): method, path, the IAM admin
action it needs, the handler. ``add_routes`` registers every table through the
same path, and nothing else registers an admin route, so every admin request,
whatever API it speaks, goes (MinIO's ``validateAdminReq``, STYLE.md 13):

1. **gate** (``gate``, a middleware): every path under ``/minio/admin/``, known
   or not, any method. An unsigned request is refused here with AccessDenied,
   before any user is looked up, any body read or any key derived (madmin's
   Argon2id), so an anonymous caller learns nothing and costs next to nothing.
   A CORS preflight passes (browsers send it without credentials; its answer
   reveals nothing: api/cors.py), as MinIO answers it before any route.
2. **route**: the tables' routes, then a catch-all for any other admin path
   (``unknown_admin_api``: MinIO's 426 XMinioAdminVersionMismatch, after the
   signature is verified).
3. **body** (``read_body``): PUT and POST bodies (and a DELETE's), read whole, bounded (1 MiB),
   each piece within ``server.read_timeout``.
4. **authenticate, then authorise** (``authenticate``): SigV4 in any region
   (madmin signs with none), the body's SHA-256 against the signed one, then
   the route's admin action against the caller's policies (conditions
   included); a self-service route lets a user act on itself.
5. **handler** ``(request, principal, body) -> response``.
6. **errors**: every refusal is MinIO's JSON error document (``AdminError``);
   IAM errors keep their MinIO code, a metadata outage is 503
   XMinioServerNotInitialized, anything unexpected is logged and answered
   InternalError (a handler already streaming its answer is cut instead).

Every admin call is audited (``AUDIT_INFO``: action, target, caller).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..auth import AuthError, claimed_access_key, is_sha256_hex, security_token_sent, signature_kind
from ..auth import authenticate as verify_signature
from ..core import MetaUnavailable
from ..core.errors import CoreError
from ..core.iam import IamError, Principal, check_session_token
from ..core.keys import KeyAdmin
from .app import IAM, OPS, SETTINGS, read_small_body
from .errors import S3Error
from .observe import AUDIT_INFO, REQUEST_ID, request_key
from .policy_context import request_context

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/minio/admin/"
KMS_PREFIX = "/minio/kms/"  # MinIO's KMS API (mc admin kms key ...): api/kms_admin.py
MAX_ADMIN_BODY = 1 << 20
DENIED = "Access Denied."
#: set by ``stream`` once a handler's answer has started: an error after that cuts the connection
STREAMING = request_key("admin_streaming", bool)
#: the policy condition context of an authenticated admin call (``require`` evaluates against it)
ADMIN_CONTEXT = request_key("admin_context", Any)
#: what an ``owner`` check already decrypted of the body (madmin's sealed documents), for the handler
OPENED = request_key("admin_opened", bytes)

AdminHandler = Callable[[web.Request, Principal, bytes], Awaitable[web.StreamResponse]]
KEYS = web.AppKey("keys", KeyAdmin)  # the KMS (None inside: none configured), for api/kms_admin.py


# --------------------------------------------------------------------------- errors


class AdminError(Exception):
    """An admin call refused: MinIO's JSON error document (cmd/api-errors.go codes)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


BAD_JSON = ("XMinioAdminConfigBadJSON", "JSON configuration provided is of incorrect format")


def as_admin_error(request: web.Request, e: Exception) -> AdminError:
    """The one translation of what an admin handler raised into MinIO's admin errors."""
    if isinstance(e, AdminError):
        return e
    if isinstance(e, IamError):
        return AdminError(e.code, e.message or e.code, e.status)
    if isinstance(e, MetaUnavailable):
        return AdminError("XMinioServerNotInitialized", f"metadata store unavailable: {e}", 503)
    if isinstance(e, CoreError):  # an S3 error of the core (NoSuchBucket, ...): its row of the one table
        err = S3Error(e.code, e.message if e.message != e.code else "")
        return AdminError(err.code, err.message, err.status)
    log.exception("admin call %s %s failed (request %s)", request.method, request.path, request.get(REQUEST_ID, ""))
    return AdminError("InternalError", S3Error("InternalError").message, 500)


def error_response(request: web.Request, e: AdminError) -> web.Response:
    rid = request.get(REQUEST_ID, "")
    doc = {"Code": e.code, "Message": e.message, "Resource": request.path, "RequestId": rid, "HostId": rid}
    info = request.get(AUDIT_INFO)
    if info is not None:
        info["error"] = e.code
    return web.json_response(doc, status=e.status, headers={"x-amz-request-id": rid})


# --------------------------------------------------------------------------- gate, body, authentication


@web.middleware
async def gate(request: web.Request, handler: Any) -> web.StreamResponse:
    """Step 1: an unsigned request under /minio/admin/ is refused before anything else runs."""
    preflight = request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
    if (
        request.path.startswith((ADMIN_PREFIX, KMS_PREFIX))
        and not preflight
        and signature_kind(request.headers, request.query) is None
    ):
        request[AUDIT_INFO] = {"action": "admin:Anonymous", "target": request.path}
        return error_response(request, AdminError("AccessDenied", DENIED, 403))
    return await handler(request)


async def read_body(request: web.Request, limit: int = MAX_ADMIN_BODY) -> bytes:
    """The whole (small) body, each piece within server.read_timeout (RequestTimeout past it)."""
    return await read_small_body(
        request,
        limit,
        AdminError("XMinioAdminConfigTooLarge", "Configuration data provided exceeds the allowed maximum", 400),
        AdminError("RequestTimeout", S3Error("RequestTimeout").message, 400),
    )


async def authenticate(
    request: web.Request, action: str | None, body: bytes | None = b"", target: str = "", *, self_service: bool = False
) -> Principal:
    """Authenticate an admin call (SigV4, any region: madmin signs with none) and
    check ``action`` against the caller's policies (None: authenticate only);
    the body's SHA-256 must match the signed x-amz-content-sha256 (``body``
    None: not read, not checked). ``self_service``: a user may act on itself
    (``target`` is its own access key) without the action unless a policy
    denies it explicitly, as MinIO lets a user read its own info and change its
    own secret (its ``DenyOnly`` check). Every admin call is audited."""
    audit: dict[str, Any] = {"action": action or "admin:Unknown", "target": target}
    request[AUDIT_INFO] = audit
    if signature_kind(request.headers, request.query) is None:  # anonymous: nothing is looked up
        raise AdminError("AccessDenied", DENIED, 403)
    iam = request.app[IAM]
    claimed = claimed_access_key(request.headers, request.query)
    principal = await iam.principal(claimed) if claimed else None
    if principal is not None and not principal.enabled:
        raise AdminError("InvalidAccessKeyId", "Your account is disabled; please contact your administrator.", 403)

    def lookup(access_key: str) -> str | None:
        return principal.secret_key if principal is not None and access_key == principal.access_key else None

    try:
        auth = verify_signature(
            request.method, request.rel_url.raw_path, list(request.query.items()), request.headers, lookup, region=""
        )
    except AuthError as e:
        raise AdminError(e.code, e.message, S3Error(e.name).status) from None
    if auth.anonymous or principal is None or auth.access_key != principal.access_key:
        raise AdminError("AccessDenied", DENIED, 403)
    try:
        check_session_token(principal, auth.session_token, security_token_sent(request.headers, request.query.items()))
    except CoreError as e:
        raise AdminError(e.code, e.message, 403) from None
    audit["access_key"] = principal.access_key
    if (
        body is not None
        and is_sha256_hex(auth.content_sha256 or "")
        and hashlib.sha256(body).hexdigest() != auth.content_sha256
    ):
        raise AdminError(
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
            400,
        )
    request[ADMIN_CONTEXT] = request_context(request, None, auth, principal, request.app[SETTINGS].trusted_proxies)
    if action is not None:
        await require(request, principal, action, self_service and target == principal.access_key)
    return principal


async def require(request: web.Request, principal: Principal, action: str, own: bool = False) -> None:
    """The authorisation step of an authenticated admin call: the caller's policies must allow
    ``action`` (conditions included: aws:SourceIp, ...); for the caller's own things (``own``:
    itself, its own service accounts) it is enough that no policy denies it explicitly
    (MinIO's ``DenyOnly``). AccessDenied otherwise."""
    iam = request.app[IAM]
    ctx = request.get(ADMIN_CONTEXT)
    if await iam.allowed(principal, action, context=ctx):
        return
    if own and not await iam.denied(principal, action, context=ctx):
        return
    raise AdminError("AccessDenied", DENIED, 403)


async def stream(request: web.Request, headers: dict[str, str]) -> web.StreamResponse:
    """Start a streamed answer (NDJSON, a backup file). Past this point an error
    cannot become a JSON document any more: the connection is cut instead."""
    resp = web.StreamResponse(headers=headers)
    await resp.prepare(request)
    request[STREAMING] = True
    return resp


# --------------------------------------------------------------------------- the router


#: is this call about the caller's own things (its service accounts, ...)? Run after authentication,
#: before authorisation; may read (and stash in OPENED) the body, may refuse with its own error
OwnerCheck = Callable[[web.Request, Principal, bytes], Awaitable[bool]]


@dataclass(frozen=True)
class AdminRoute:
    method: str
    path: str
    action: str | Callable[[web.Request], str]  # the IAM admin action (a few depend on the query)
    handler: AdminHandler
    self_service: bool = False  # a user may act on itself (?accessKey= is its own key)
    owner: OwnerCheck | None = None  # own things need only the absence of a Deny (``require``)


class Routes:
    """The route table of one admin API, filled by the ``route`` decorator and
    registered by ``add_routes`` (the only way an admin route is registered)."""

    def __init__(self, prefix: str) -> None:
        if not prefix.startswith((ADMIN_PREFIX, KMS_PREFIX)):
            raise ValueError(f"admin routes live under {ADMIN_PREFIX} (or MinIO's KMS API, {KMS_PREFIX})")
        self.prefix = prefix
        self._routes: list[AdminRoute] = []

    def route(
        self,
        method: str,
        path: str,
        action: str | Callable[[web.Request], str],
        *,
        self_service: bool = False,
        owner: OwnerCheck | None = None,
    ) -> Callable[[AdminHandler], AdminHandler]:
        def wrap(fn: AdminHandler) -> AdminHandler:
            self._routes.append(AdminRoute(method, self.prefix + path, action, fn, self_service, owner))
            return fn

        return wrap

    def __iter__(self) -> Iterator[AdminRoute]:
        return iter(self._routes)


#: MinIO's KMS API (``/minio/kms/v1``): its routes are in api/kms_admin.py
KMS_ROUTES = Routes(KMS_PREFIX + "v1")


def _serve(route: AdminRoute) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Steps 3 to 6 for one route."""

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            # PUT and POST bodies; a DELETE's too when it has one (madmin's del-config-kv)
            has_body = request.method in ("PUT", "POST") or (request.method == "DELETE" and request.body_exists)
            body = await read_body(request) if has_body else b""
            action = route.action(request) if callable(route.action) else route.action
            target = request.query.get("accessKey", "") if route.self_service else ""
            if route.owner is None:
                principal = await authenticate(request, action, body, target, self_service=route.self_service)
            else:
                principal = await authenticate(request, None, body, target)
                request[AUDIT_INFO]["action"] = action
                await require(request, principal, action, await route.owner(request, principal, body))
            return await route.handler(request, principal, body)
        except Exception as e:
            if request.get(STREAMING):
                raise
            return error_response(request, as_admin_error(request, e))

    handler.__name__ = route.handler.__name__
    handler.admin_route = route  # type: ignore[attr-defined]  # what tests/unit/api/test_admin.py checks
    return handler


def add_routes(app: web.Application, *apis: Routes) -> None:
    """Register every admin API's routes, then the catch-all for any other admin
    path; before the S3 catch-all route (aiohttp matches in order)."""
    for api in (*apis, KMS_ROUTES):
        for route in api:
            app.router.add_route(route.method, route.path, _serve(route))
    # any other admin call, any method (known paths included): MinIO's answer for an admin API it does not
    # have, not an S3 answer about a bucket named "minio" (an unsigned one never gets here: ``gate``)
    app.router.add_route("*", ADMIN_PREFIX + "{tail:.*}", unknown_admin_api)
    app.router.add_route("*", KMS_PREFIX + "{tail:.*}", kms_not_configured)


#: MinIO's KMS API paths -> the action its handlers check (policy.KMS*Action)
_KMS_ACTIONS = {
    "status": "kms:Status",
    "metrics": "kms:Metrics",
    "apis": "kms:API",
    "version": "kms:Version",
    "key/create": "kms:CreateKey",
    "key/list": "kms:ListKeys",
    "key/status": "kms:KeyStatus",
    "key/delete": "kms:DeleteKey",
    "key/import": "kms:ImportKey",
}
KMS_NOT_CONFIGURED = AdminError("NotImplemented", "Server side encryption specified but KMS is not configured", 501)


async def kms_not_configured(request: web.Request) -> web.Response:
    """A KMS call s3gw does not serve (api/kms_admin.py serves key status and list): MinIO's
    answer when no KMS is configured (ErrKMSNotConfigured: 501 NotImplemented), else MinIO's
    kms:NotSupported (the built-in KMS's, e.g. to create a key); after authenticating and
    authorising the call like MinIO's handlers."""
    tail = request.path[len(KMS_PREFIX) :].split("/", 1)[-1]
    try:
        await authenticate(request, _KMS_ACTIONS.get(tail, "admin:KMSKeyStatus"), None, request.path)
    except Exception as e:
        return error_response(request, as_admin_error(request, e))
    keys = request.app.get(KEYS)
    if keys is not None and keys.configured:
        return error_response(
            request, AdminError("kms:NotSupported", "The operation is not supported by s3gw's KMS", 501)
        )
    return error_response(request, KMS_NOT_CONFIGURED)


_API_VERSION = re.compile(r"^/minio.*/(v\d+)/.*")
S3GW_ADMIN_PREFIX = ADMIN_PREFIX + "s3gw/v1"


async def unknown_admin_api(request: web.Request) -> web.Response:
    """MinIO's errorResponseHandler for /minio/admin paths: 426 XMinioAdminVersionMismatch, the
    message naming the API version the path asks for. Only after the caller's signature is verified
    (MinIO answers anyone; s3gw tells an unsigned caller nothing but AccessDenied)."""
    try:
        await authenticate(request, None, None, request.path)
    except Exception as e:
        return error_response(request, as_admin_error(request, e))
    m = _API_VERSION.match(request.path)
    version = m.group(1) if m else "unknown"
    if request.path.startswith(S3GW_ADMIN_PREFIX + "/") or version == "v3":
        mode = "mode-server-xl" if request.app[OPS].embedded else "mode-server-distributed-xl"
        desc = f"This 'admin' API is not supported by server in '{mode}'"
    elif version in ("v1", "v2"):
        desc = (
            f"Server expects client requests with 'admin' API version 'v3', found '{version}', "
            "please upgrade the client to latest releases"
        )
    else:
        desc = (
            f"Unexpected client 'admin' API version found '{version}', expected 'v3', "
            "please downgrade the client to older releases"
        )
    return error_response(request, AdminError("XMinioAdminVersionMismatch", desc, 426))

"""CORS as MinIO answers it: one allow-list of origins for the whole server.

MinIO (community) has no per-bucket CORS configuration (PutBucketCors answers
NotImplemented, GetBucketCors NoSuchCORSConfiguration); it wraps every route in
rs/cors (cmd/api-router.go corsHandler) with the origins of
``api cors_allow_origin`` (MINIO_API_CORS_ALLOW_ORIGIN, default ``*``). This
module gives the same answers, header for header:

* a preflight (OPTIONS with Access-Control-Request-Method) is answered here,
  before routing and without authentication: 204, ``Vary: Origin,
  Access-Control-Request-Method, Access-Control-Request-Headers``, and for an
  allowed origin and method ``Access-Control-Allow-Origin`` (the origin
  itself, never ``*``: credentials are allowed), ``-Allow-Methods`` (the
  requested one), ``-Allow-Headers`` (the requested ones: every header is
  allowed), ``-Allow-Credentials: true``; no Max-Age (MinIO sets none);
* any other OPTIONS is 200 with an empty body (no route of MinIO takes
  OPTIONS; its fallback writes nothing for it);
* every other answer, errors included, carries ``Vary: Origin`` and, for an
  allowed origin, ``Access-Control-Allow-Origin``, ``-Expose-Headers`` (MinIO's
  list) and ``-Allow-Credentials: true``. A disallowed origin gets no CORS
  header at all.

Origins are matched case-sensitively, ``*`` standing for any run of characters
(MinIO wildcard.MatchSimple): ``https://*.example.com``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from functools import lru_cache

from aiohttp import web

# rs/cors Options.AllowedMethods in MinIO's corsHandler (compared case-sensitively)
ALLOWED_METHODS = frozenset({"GET", "PUT", "HEAD", "POST", "DELETE", "OPTIONS", "PATCH"})
# MinIO's commonS3Headers as rs/cors sends them (each through Go's CanonicalHeaderKey)
EXPOSE_HEADERS = (
    "Date, Etag, Server, Connection, Accept-Ranges, Content-Range, Content-Encoding, Content-Length, "
    "Content-Type, Content-Disposition, Last-Modified, Content-Language, Cache-Control, Retry-After, "
    "X-Amz-Bucket-Region, Expires, X-Amz*, X-Amz*, *"
)
PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


class Origins:
    """The allow-list (patterns); ``patterns`` may be replaced while the app runs
    (``mc admin config set ALIAS api cors_allow_origin=...``)."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns: tuple[str, ...] = tuple(patterns)


ORIGINS = web.AppKey("cors_origins", Origins)  # set by install()
_PREFLIGHT = "s3gw.cors.preflight"  # request key: this answer is a preflight's, already complete


@lru_cache(maxsize=256)
def _pattern(p: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in p.split("*")), re.DOTALL)


def origin_allowed(origin: str, allowed: Sequence[str]) -> bool:
    """Does ``origin`` match one of the patterns (``*``: any run of characters, case-sensitive)?

    >>> origin_allowed("https://app.example.com", ["https://*.example.com"])
    True
    >>> origin_allowed("https://APP.example.com", ["https://app.example.com"]), origin_allowed("x", [])
    (False, False)
    """
    return any(p == origin or ("*" in p and _pattern(p).fullmatch(origin)) for p in allowed)


def _allowed_origin(request: web.Request) -> str | None:
    origin = request.headers.get("Origin", "")
    allowed = request.app.get(ORIGINS)
    if not origin or not origin_allowed(origin, allowed.patterns if allowed is not None else ("*",)):
        return None
    return origin


def preflight(request: web.Request) -> web.Response:
    """The answer to a preflight: 204, with the grants when the origin and method are allowed."""
    request[_PREFLIGHT] = True
    resp = web.Response(status=204, headers={"Server": "s3gw"})
    resp.headers["Vary"] = PREFLIGHT_VARY
    origin = _allowed_origin(request)
    method = request.headers.get("Access-Control-Request-Method", "")
    if origin is None or method not in ALLOWED_METHODS:
        return resp
    resp.headers["Access-Control-Allow-Origin"] = origin
    resp.headers["Access-Control-Allow-Methods"] = method
    requested = request.headers.getall("Access-Control-Request-Headers", [])
    if requested and requested[0]:
        for value in requested:
            resp.headers.add("Access-Control-Allow-Headers", value)
    resp.headers["Access-Control-Allow-Credentials"] = "true"
    return resp


@web.middleware
async def cors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """OPTIONS never reaches a route (nor authentication); everything else goes on."""
    if request.method == "OPTIONS":
        if request.headers.get("Access-Control-Request-Method"):
            return preflight(request)
        return web.Response(status=200, headers={"Server": "s3gw"})
    return await handler(request)


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """CORS headers on every actual answer, errors and streamed bodies included (before headers go out)."""
    if request.get(_PREFLIGHT):
        return
    response.headers.add("Vary", "Origin")
    origin = _allowed_origin(request)
    if origin is None or request.method not in ALLOWED_METHODS:
        return
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    response.headers["Access-Control-Allow-Credentials"] = "true"


def install(app: web.Application, origins: Sequence[str]) -> None:
    """Serve CORS on every route of ``app`` for ``origins`` (patterns; ["*"] allows any origin)."""
    app[ORIGINS] = Origins(origins)
    app.middlewares.append(cors_middleware)
    app.on_response_prepare.append(_on_prepare)

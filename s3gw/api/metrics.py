"""Prometheus endpoints and their authentication (docs/operations.md)::

    GET /metrics                     s3gw's series (Prometheus text)
    GET /minio/v2/metrics/cluster    MinIO-named cluster series
    GET /minio/v2/metrics/bucket     MinIO-named bucket usage
    GET /minio/v2/metrics/node       MinIO-named series of this gateway
    GET /debug/db-stats              the metadata store's pool (JSON)

Each scrape reads the state series from the core (``refresh``: drives, queues,
usage, maintenance, the metadata pool) into the telemetry's ``State``; the
series themselves are defined and rendered by ``observe.Telemetry``, which also
counts the requests. Authentication is the metrics one, not the admin one
(``metrics_allowed``): public, a static bearer token, or a JWT as
``mc admin prometheus generate`` makes it; a refusal is S3's XML AccessDenied.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import time
from typing import Any

from aiohttp import web

from ..auth import MAX_CLOCK_SKEW
from ..common.numbers import json_number
from .app import CORE, IAM, LIFECYCLE, OPS, REPAIR, SETTINGS, TELEMETRY
from .errors import S3Error, render
from .observe import REQUEST_ID

log = logging.getLogger(__name__)

#: longest bearer token looked at (mc's JWTs are about 250 bytes)
MAX_TOKEN = 8192


def _b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


async def metrics_allowed(request: web.Request) -> bool:
    """Public, a static bearer token, or a JWT as ``mc admin prometheus generate``
    makes it (HS512 signed with the secret key of ``sub``, which must be root
    or allowed ``admin:Prometheus``; ``exp`` required and bounded)."""
    settings = request.app[SETTINGS]
    if settings.metrics_auth == "public":
        return True
    h = request.headers.get("Authorization", "")
    if not h.startswith("Bearer "):
        return False
    token = h[7:].strip()
    if settings.metrics_token and hmac.compare_digest(token.encode(), settings.metrics_token.encode()):
        return True
    if len(token) > MAX_TOKEN:
        return False
    try:
        head_b64, claims_b64, sig_b64 = token.split(".")
        head, claims = json.loads(_b64url(head_b64)), json.loads(_b64url(claims_b64))
        sig = _b64url(sig_b64)
    except (ValueError, RecursionError):  # RecursionError: JSON nested past the stack
        return False
    if not isinstance(head, dict) or head.get("alg") not in ("HS512", "HS256") or not isinstance(claims, dict):
        return False
    # exp is required (a token without one would never expire) and bounded: at most
    # metrics_token_max_lifetime ahead (default 100 years: what mc generates), with
    # the clock skew S3 allows
    try:
        exp = json_number(claims.get("exp"))  # a NumericDate (RFC 7519): a JSON number, nothing else
    except ValueError:
        return False
    now = time.time()
    if exp < now or exp > now + settings.metrics_token_max_lifetime + MAX_CLOCK_SKEW.total_seconds():
        return False
    iam = request.app[IAM]
    p = await iam.principal(str(claims.get("sub", "")))
    if p is None or not p.enabled or p.kind == "sts":  # temporary credentials sign with their token
        return False
    algo = hashlib.sha512 if head["alg"] == "HS512" else hashlib.sha256
    want = hmac.new(p.secret_key.encode(), f"{head_b64}.{claims_b64}".encode(), algo).digest()
    if not hmac.compare_digest(want, sig):
        return False
    return await iam.allowed(p, "admin:Prometheus")


def _denied(request: web.Request) -> web.Response:
    rid = request.get(REQUEST_ID, "")
    body = render(S3Error("AccessDenied"), request.path, rid)
    return web.Response(status=403, body=body, headers={"Content-Type": "application/xml", "x-amz-request-id": rid})


async def refresh(request: web.Request, *, usage: bool = True) -> None:
    """Read what the state series show from the core, into the telemetry's State."""
    ops = request.app[OPS]
    s = request.app[TELEMETRY].state
    s.storage_state = await ops.probe.get()
    try:
        s.healing = await ops.queue_stats()
    except Exception as e:
        log.warning("maintenance stats unavailable: %s", e)
        s.healing = {}
    repair = request.app.get(REPAIR)
    s.worker = dict(repair.worker_totals) if repair is not None else {}
    s.sequences = dict(repair.sequence_totals) if repair is not None else {}
    lifecycle = request.app.get(LIFECYCLE)
    s.lifecycle = dict(lifecycle.stats) if lifecycle is not None else {}
    s.kms = request.app[CORE].kms_metrics()
    if usage:
        s.usage = await ops.usage.get()
    s.maintenance = (await ops.maintenance.current()).enabled
    s.meta_pool = ops.pool_stats()
    s.meta_histogram = ops.query_histogram()
    try:
        s.notify = await request.app[CORE].notification_status()
    except Exception as e:
        log.warning("notification outbox stats unavailable: %s", e)
        s.notify = {}
    try:
        s.replication = await request.app[CORE].replication_status()
    except Exception as e:
        log.warning("replication queue stats unavailable: %s", e)
        s.replication = {}


def _metrics(kind: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        if not await metrics_allowed(request):
            return _denied(request)
        tel = request.app[TELEMETRY]
        await refresh(request, usage=kind != "node")
        registry = {
            "s3gw": tel.registry,
            "cluster": tel.minio_cluster,
            "bucket": tel.minio_bucket,
            "node": tel.minio_node,
        }[kind]
        return tel.render(registry)

    handler.__name__ = f"metrics_{kind}"
    return handler


async def db_stats(request: web.Request) -> web.Response:
    if not await metrics_allowed(request):
        return _denied(request)
    ops = request.app[OPS]
    doc = ops.pool_stats()
    with contextlib.suppress(Exception):
        t0 = time.monotonic()
        await asyncio.wait_for(ops.ping(), 5.0)
        doc["ping_ms"] = round((time.monotonic() - t0) * 1000, 3)
    return web.json_response(doc)


SCRAPES = (
    ("/metrics", "s3gw"),
    ("/minio/v2/metrics/cluster", "cluster"),
    ("/minio/v2/metrics/bucket", "bucket"),
    ("/minio/v2/metrics/node", "node"),
)


def add_routes(app: web.Application) -> None:
    """Register before the S3 catch-all route (aiohttp matches in order)."""
    for path, kind in SCRAPES:
        app.router.add_route("GET", path, _metrics(kind))
    app.router.add_route("GET", "/debug/db-stats", db_stats)

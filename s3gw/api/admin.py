"""Health and admin endpoints, beside the S3 pipeline (registered by the
composition root before the S3 catch-all route).

Health, unauthenticated as in MinIO (load balancers probe them)::

    GET|HEAD /minio/health/live           200 while the process serves
    GET|HEAD /minio/health/cluster        200 while a write can reach quorum, else 503
    GET|HEAD /minio/health/cluster/read   200 while a read can reach quorum, else 503

Both cluster checks carry ``x-minio-write-quorum`` and ``x-minio-read-quorum``
(shards needed), as MinIO's ``ClusterCheckHandler`` does.

Admin, SigV4-signed with a configured credential (``s3gw admin`` signs them),
under MinIO's reserved ``/minio/admin`` prefix::

    GET  /minio/admin/s3gw/v1/info        nodes, drives, healing state (JSON)
    POST /minio/admin/s3gw/v1/heal?bucket=&prefix=&deep=true&dry-run=true
         NDJSON: progress lines while it runs, then {"done": true, ...summary}
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..auth import AuthError, authenticate
from ..core.repair import HealSummary, Repair
from .app import CORE, SETTINGS

log = logging.getLogger("s3gw.admin")

REPAIR = web.AppKey("repair", Repair)
ADMIN = "/minio/admin/s3gw/v1"


def _quorum_headers(q: dict[str, Any]) -> dict[str, str]:
    return {"x-minio-write-quorum": str(q["write_quorum"]), "x-minio-read-quorum": str(q["read_quorum"])}


async def health_live(request: web.Request) -> web.Response:
    return web.Response(status=200)


async def health_cluster(request: web.Request) -> web.Response:
    repair = request.app[REPAIR]
    q = repair.quorum()
    ok = q["write"]
    if ok:
        try:
            await request.app[CORE].meta.ping()
        except Exception:
            ok = False
    return web.Response(status=200 if ok else 503, headers=_quorum_headers(q))


async def health_cluster_read(request: web.Request) -> web.Response:
    q = request.app[REPAIR].quorum()
    return web.Response(status=200 if q["read"] else 503, headers=_quorum_headers(q))


def _authenticated(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                   ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        settings = request.app[SETTINGS]
        try:
            result = authenticate(request.method, request.rel_url.raw_path, list(request.query.items()),
                                  request.headers, settings.credentials.get, region=settings.region)
        except AuthError as e:
            return web.json_response({"error": e.code, "message": e.message}, status=e.status)
        if result.anonymous:
            return web.json_response({"error": "AccessDenied", "message": "admin calls must be signed"},
                                     status=403)
        return await handler(request)

    return wrapped


async def admin_info(request: web.Request) -> web.Response:
    return web.json_response(await request.app[REPAIR].info())


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("1", "true", "yes", "on")


async def admin_heal(request: web.Request) -> web.StreamResponse:
    repair = request.app[REPAIR]
    bucket = request.query.get("bucket") or None
    prefix = request.query.get("prefix", "")
    if prefix and not bucket:
        return web.json_response({"error": "InvalidArgument", "message": "prefix needs a bucket"}, status=400)
    if bucket is not None and await request.app[CORE].meta.get_bucket(bucket) is None:
        return web.json_response({"error": "NoSuchBucket", "message": bucket}, status=404)
    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await resp.prepare(request)

    async def progress(s: HealSummary) -> None:
        d = s.to_dict()
        d.pop("problems")
        await resp.write((json.dumps(d) + "\n").encode())

    summary = await repair.run_heal(bucket, prefix, deep=_flag(request, "deep"),
                                    dry_run=_flag(request, "dry-run"), progress=progress)
    await resp.write((json.dumps({"done": True, **summary.to_dict()}) + "\n").encode())
    await resp.write_eof()
    return resp


def add_routes(app: web.Application) -> None:
    """Register before the S3 catch-all route (aiohttp matches in order)."""
    r = app.router
    for path, handler in (("/minio/health/live", health_live), ("/minio/health/cluster", health_cluster),
                          ("/minio/health/cluster/read", health_cluster_read)):
        r.add_route("GET", path, handler)
        r.add_route("HEAD", path, handler)
    r.add_route("GET", f"{ADMIN}/info", _authenticated(admin_info))
    r.add_route("POST", f"{ADMIN}/heal", _authenticated(admin_heal))

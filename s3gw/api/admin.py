"""Health and admin endpoints, beside the S3 pipeline (registered by the
composition root before the S3 catch-all route).

Health, unauthenticated as in MinIO (load balancers probe them)::

    GET|HEAD /minio/health/live           200 while the process serves
    GET|HEAD /minio/health/cluster        200 while a write can reach quorum, else 503
    GET|HEAD /minio/health/cluster/read   200 while a read can reach quorum, else 503

Both cluster checks carry ``x-minio-write-quorum`` and ``x-minio-read-quorum``
(shards needed), as MinIO's ``ClusterCheckHandler`` does. ``?maintenance=true``
answers 412 when taking this node down would lose quorum (an embedded gateway
holds every drive; a cluster-form gateway none), and the write check answers
412 while s3gw's maintenance mode is on (docs/operations.md).

(s3gw's admin calls ``/minio/admin/s3gw/v1/info`` and ``/heal`` are in ``ops.py``,
behind the one admin authentication.)
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from aiohttp import web

from ..core.repair import Repair
from .app import CORE, OPS

log = logging.getLogger("s3gw.admin")

REPAIR = web.AppKey("repair", Repair)


def _quorum_headers(q: dict[str, Any]) -> dict[str, str]:
    return {"x-minio-write-quorum": str(q["write_quorum"]), "x-minio-read-quorum": str(q["read_quorum"]),
            "x-minio-storage-class-defaults": "false"}


def _maintenance_mode(request: web.Request) -> bool:
    """The deployment's maintenance mode (docs/operations.md), as last read."""
    ops = request.app.get(OPS)
    return ops is not None and ops.maintenance.known().enabled


def _with_maintenance(request: web.Request, headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "x-s3gw-maintenance": "on" if _maintenance_mode(request) else "off"}


def _quorum_without_this_node(request: web.Request, need: int) -> bool:
    """``?maintenance=true``: would quorum hold with this node's drives gone?
    MinIO counts the drives online minus the ones local to the node asked. A
    cluster-form gateway holds no drives; an embedded one holds all of them."""
    storage = request.app[CORE].storage
    if storage.cluster is None:
        return False
    return len(storage.online_drives()) >= need


async def health_live(request: web.Request) -> web.Response:
    return web.Response(status=200, headers=_with_maintenance(request, {}))


async def health_cluster(request: web.Request) -> web.Response:
    """MinIO's ClusterCheckHandler: 200 when a write reaches quorum, 503 when not;
    with ``?maintenance=true`` 412 when taking this node down would lose write
    quorum (orchestrators ask before draining a node). s3gw's maintenance mode
    (writes refused) also answers 412, which ``mc ready`` shows as maintenance."""
    repair = request.app[REPAIR]
    q = repair.quorum()
    ok = q["write"]
    if ok:
        try:
            await request.app[CORE].meta.ping()
        except Exception:
            ok = False
    ops = request.app.get(OPS)
    if ops is not None:
        with contextlib.suppress(Exception):
            await ops.maintenance.current()
    headers = _with_maintenance(request, _quorum_headers(q))
    if request.query.get("maintenance") == "true":
        ok = ok and _quorum_without_this_node(request, q["write_quorum"])
        return web.Response(status=200 if ok else 412, headers=headers)
    if ok and _maintenance_mode(request):
        return web.Response(status=412, headers=headers)
    return web.Response(status=200 if ok else 503, headers=headers)


async def health_cluster_read(request: web.Request) -> web.Response:
    q = request.app[REPAIR].quorum()
    headers = _with_maintenance(request, _quorum_headers(q))
    ok = q["read"]
    if request.query.get("maintenance") == "true":
        ok = ok and _quorum_without_this_node(request, q["read_quorum"])
        return web.Response(status=200 if ok else 412, headers=headers)
    return web.Response(status=200 if ok else 503, headers=headers)


def add_routes(app: web.Application) -> None:
    """Register before the S3 catch-all route (aiohttp matches in order)."""
    r = app.router
    for path, handler in (("/minio/health/live", health_live), ("/minio/health/cluster", health_cluster),
                          ("/minio/health/cluster/read", health_cluster_read)):
        r.add_route("GET", path, handler)
        r.add_route("HEAD", path, handler)

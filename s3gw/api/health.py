"""Health probes, unauthenticated as in MinIO (load balancers and Kubernetes
probe them; docs/operations.md is their contract)::

    GET|HEAD /health/live                 200 {"status": "live", "uptime", "maintenance"}
    GET|HEAD /health/ready                200 when metadata answers and a read quorum is reachable, else 503 (JSON)
    GET|HEAD /minio/health/live           200 while the process serves
    GET|HEAD /minio/health/ready          the /health/ready test, MinIO's shape (no body)
    GET|HEAD /minio/health/cluster        200 while a write can reach quorum, else 503
    GET|HEAD /minio/health/cluster/read   200 while a read can reach quorum, else 503

Every answer carries ``x-s3gw-maintenance: on|off``. Both cluster checks
carry ``x-minio-write-quorum`` and ``x-minio-read-quorum`` (shards needed), as
MinIO's ``ClusterCheckHandler`` does. ``?maintenance=true`` answers 412 when
taking this node down would lose quorum (an embedded gateway holds every
drive; a cluster-form gateway none), and the write check answers 412 while
s3gw's maintenance mode is on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiohttp import web

from .app import CORE, OPS, REPAIR

#: longest a probe waits for the metadata store
PING_TIMEOUT = 5.0


def _maintenance_on(request: web.Request) -> bool:
    """The deployment's maintenance mode (docs/operations.md), as last read (no I/O)."""
    ops = request.app.get(OPS)
    return ops is not None and ops.maintenance.known().enabled


def _headers(request: web.Request, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**(extra or {}), "x-s3gw-maintenance": "on" if _maintenance_on(request) else "off"}


def _quorum_headers(q: dict[str, Any]) -> dict[str, str]:
    return {
        "x-minio-write-quorum": str(q["write_quorum"]),
        "x-minio-read-quorum": str(q["read_quorum"]),
        "x-minio-storage-class-defaults": "false",
    }


# --------------------------------------------------------------------------- liveness


async def live(request: web.Request) -> web.Response:
    """s3gw's liveness: JSON with the uptime and the maintenance mode."""
    ops = request.app.get(OPS)
    body = {
        "status": "live",
        "uptime": round(time.time() - ops.started, 3) if ops else None,
        "maintenance": ops.maintenance.known().enabled if ops else False,
    }
    return web.json_response(body, headers=_headers(request))


async def minio_live(request: web.Request) -> web.Response:
    """MinIO's liveness: 200, no body."""
    return web.Response(status=200, headers=_headers(request))


# --------------------------------------------------------------------------- readiness


async def readiness(request: web.Request) -> tuple[bool, dict[str, Any]]:
    """Ready: the metadata store answers and a read quorum of drives is reachable."""
    ops = request.app[OPS]
    st = ops.storage_state()
    metadata = "ok"
    try:
        await asyncio.wait_for(ops.ping(), PING_TIMEOUT)
    except Exception as e:
        metadata = f"{type(e).__name__}: {e}"
    maintenance = (await ops.maintenance.current()).enabled if metadata == "ok" else ops.maintenance.known().enabled
    ready = metadata == "ok" and st.read_ok
    warnings = []
    if metadata == "ok":
        # a warning, not unreadiness: the gateway serves; its copies to a remote site are late
        try:
            rep = await asyncio.wait_for(request.app[CORE].replication_status(), PING_TIMEOUT)
        except Exception:
            rep = {}
        if rep.get("lagging"):
            warnings.append(
                f"replication lag {rep['oldest_pending_seconds']:.0f}s exceeds {rep['lag_warning']:.0f}s "
                f"({rep['pending']} copies pending, {rep['failed']} failed)"
            )
    return ready, {
        "status": "ready" if ready else "not ready",
        "warnings": warnings,
        "metadata": metadata,
        "maintenance": maintenance,
        "read_quorum": st.read_ok,
        "write_quorum": st.write_ok,
        "nodes": {"online": st.nodes_online, "total": len(st.nodes)},
        "drives": {"online": st.drives_online, "total": len(st.drives)},
    }


async def ready(request: web.Request) -> web.Response:
    ok, body = await readiness(request)
    return web.json_response(body, status=200 if ok else 503, headers=_headers(request))


async def minio_ready(request: web.Request) -> web.Response:
    ok, _ = await readiness(request)
    headers = _headers(request)
    if not ok:
        headers["x-minio-server-status"] = "offline"
    return web.Response(status=200 if ok else 503, headers=headers)


# --------------------------------------------------------------------------- cluster checks


async def cluster(request: web.Request) -> web.Response:
    """MinIO's ClusterCheckHandler: 200 when a write reaches quorum, 503 when not;
    with ``?maintenance=true`` 412 when taking this node down would lose write
    quorum (orchestrators ask before draining a node). s3gw's maintenance mode
    (writes refused) also answers 412, which ``mc ready`` shows as maintenance."""
    ops = request.app[OPS]
    q = request.app[REPAIR].quorum()
    ok = q["write"]
    if ok:
        try:
            await ops.ping()
        except Exception:
            ok = False
    with contextlib.suppress(Exception):
        await ops.maintenance.current()
    headers = _headers(request, _quorum_headers(q))
    if request.query.get("maintenance") == "true":
        ok = ok and ops.quorum_without_this_gateway(q["write_quorum"])
        return web.Response(status=200 if ok else 412, headers=headers)
    if ok and _maintenance_on(request):
        return web.Response(status=412, headers=headers)
    return web.Response(status=200 if ok else 503, headers=headers)


async def cluster_read(request: web.Request) -> web.Response:
    q = request.app[REPAIR].quorum()
    headers = _headers(request, _quorum_headers(q))
    ok = q["read"]
    if request.query.get("maintenance") == "true":
        ok = ok and request.app[OPS].quorum_without_this_gateway(q["read_quorum"])
        return web.Response(status=200 if ok else 412, headers=headers)
    return web.Response(status=200 if ok else 503, headers=headers)


PROBES = (
    ("/health/live", live),
    ("/health/ready", ready),
    ("/minio/health/live", minio_live),
    ("/minio/health/ready", minio_ready),
    ("/minio/health/cluster", cluster),
    ("/minio/health/cluster/read", cluster_read),
)


def add_routes(app: web.Application) -> None:
    """Register before the S3 catch-all route (aiohttp matches in order)."""
    for path, handler in PROBES:
        app.router.add_route("GET", path, handler)
        app.router.add_route("HEAD", path, handler)

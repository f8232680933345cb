"""MinIO's admin API for operating a running deployment (``/minio/admin/v3``, madmin-go's
wire formats): the live trace (``mc admin trace``), run-time configuration (``mc admin
config``) and data usage (``mc admin info``, ``mc du``, ``mc stat BUCKET``).

The routes join madmin's one table (``madmin.ROUTES``), through the one admin path
(``admin.py``).
"""

from __future__ import annotations

import contextlib
import json
import time

from aiohttp import web

from ..core.iam import Principal
from ..core.runtime_config import parse_duration
from . import trace
from .admin import BAD_JSON, AdminError, stream
from .app import OPS, RUNTIME, TRACER
from .madmin import ROUTES, _open, _rfc3339, _seal
from .observe import AUDIT_INFO

# --------------------------------------------------------------------------- trace

#: madmin's query flags (ServiceTraceOpts.AddParams) -> TraceType bits s3gw can produce
_TRACE_FLAGS = {"s3": trace.TRACE_S3, "internal": trace.TRACE_INTERNAL}


@ROUTES.route("GET", "/trace", "admin:ServerTrace")
async def trace_stream(request: web.Request, principal: Principal, body: bytes) -> web.StreamResponse:
    """MinIO's TraceHandler: trace records as JSON lines, a space each idle second, until the
    client goes away. s3gw produces S3 and internal (admin, STS, health, metrics) records; the
    other types (storage, OS, scanner...) are accepted and stay silent."""
    q = request.query
    types = 0
    for flag, bit in _TRACE_FLAGS.items():
        if q.get(flag) == "true":
            types |= bit
    try:
        threshold = int(parse_duration(q.get("threshold") or "0") * 1e9)
    except ValueError:
        raise AdminError("InvalidRequest", "Invalid Request") from None
    flt = trace.TraceFilter(types=types, only_errors=q.get("err") == "true", threshold_ns=threshold)
    resp = await stream(
        request, {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    with contextlib.suppress(ConnectionError, RuntimeError):
        async for line in request.app[TRACER].subscribe(flt):
            await resp.write(line if line is not None else b" ")
    return resp


# --------------------------------------------------------------------------- run-time configuration
# MinIO checks admin:ConfigUpdate for every config call, reads included.


async def _kv_body(request: web.Request, principal: Principal, body: bytes) -> str:
    try:
        return (await _open(principal.secret_key, body)).decode("utf-8")
    except UnicodeDecodeError:
        raise AdminError(*BAD_JSON) from None


def _applied(resp: web.Response) -> web.Response:
    resp.headers["x-minio-config-applied"] = "true"  # applied at once: no restart needed (madmin)
    return resp


@ROUTES.route("GET", "/get-config-kv", "admin:ConfigUpdate")
async def get_config_kv(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    words = request.query.get("key", "").split()
    rc = request.app[RUNTIME]
    await rc.refresh()  # what the store holds now (another process may have just changed it)
    text = rc.render(words[0] if words else "")
    if len(words) > 1:  # "api requests_max": that key only
        line = text.split(" ", 1)
        kv = [p for p in line[1].split() if p.split("=", 1)[0] in words[1:]] if len(line) > 1 else []
        text = f"{words[0]} " + " ".join(kv) + "\n"
    return web.Response(body=await _seal(principal.secret_key, text.encode()), content_type="application/octet-stream")


@ROUTES.route("GET", "/config", "admin:ConfigUpdate")
async def get_config(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    """``mc admin config export``: every sub-system's KV line."""
    await request.app[RUNTIME].refresh()
    text = request.app[RUNTIME].render()
    return web.Response(body=await _seal(principal.secret_key, text.encode()), content_type="application/octet-stream")


@ROUTES.route("PUT", "/set-config-kv", "admin:ConfigUpdate")
async def set_config_kv(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    text = await _kv_body(request, principal, body)
    request[AUDIT_INFO].update(target="config", detail=text[:200])
    await request.app[RUNTIME].set(text)
    return _applied(web.Response(status=200))


@ROUTES.route("PUT", "/config", "admin:ConfigUpdate")
async def set_config(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    """``mc admin config import``: a whole configuration, as exported (static keys unchanged)."""
    text = await _kv_body(request, principal, body)
    request[AUDIT_INFO].update(target="config", detail="import")
    await request.app[RUNTIME].set(text)
    return _applied(web.Response(status=200))


@ROUTES.route("DELETE", "/del-config-kv", "admin:ConfigUpdate")
async def del_config_kv(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    text = await _kv_body(request, principal, body)
    request[AUDIT_INFO].update(target="config", detail="reset " + text[:200])
    await request.app[RUNTIME].reset(text)
    return _applied(web.Response(status=200))


@ROUTES.route("GET", "/help-config-kv", "admin:ConfigUpdate")
async def help_config_kv(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    return web.json_response(request.app[RUNTIME].help(request.query.get("subSys", ""), request.query.get("key", "")))


@ROUTES.route("GET", "/list-config-history-kv", "admin:ConfigUpdate")
async def list_config_history(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    raw = request.query.get("count", "10")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        raise AdminError("InvalidRequest", "Invalid Request")
    entries = await request.app[RUNTIME].history(int(raw) or 10)
    doc = [{"restoreId": rid, "createTime": _rfc3339(created), "data": data} for rid, created, data in entries]
    return web.Response(
        body=await _seal(principal.secret_key, json.dumps(doc).encode()), content_type="application/octet-stream"
    )


@ROUTES.route("PUT", "/restore-config-history-kv", "admin:ConfigUpdate")
async def restore_config_history(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    rid = request.query.get("restoreId", "")
    request[AUDIT_INFO].update(target="config", detail="restore " + rid)
    await request.app[RUNTIME].restore(rid)
    return web.Response(status=200)


@ROUTES.route("DELETE", "/clear-config-history-kv", "admin:ConfigUpdate")
async def clear_config_history(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    rid = request.query.get("restoreId", "")
    request[AUDIT_INFO].update(target="config", detail="clear " + rid)
    await request.app[RUNTIME].clear_history(rid)
    return web.Response(status=200)


# --------------------------------------------------------------------------- data usage


@ROUTES.route("GET", "/datausageinfo", "admin:DataUsageInfo")
async def data_usage_info(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    """MinIO's DataUsageInfo (``mc stat BUCKET``'s usage, ``mc admin info``): per-bucket counts and
    sizes, exact from the metadata store's counters (core/ops.py Usage), and the capacity of the
    drives when ``capacity=true``. Size histograms are not kept (empty)."""
    ops = request.app[OPS]
    usage = await ops.usage.get()
    buckets = {
        b: {
            "size": u["bytes"],
            "objectsCount": u["objects"],
            "versionsCount": u["versions"],
            "deleteMarkersCount": u["delete_markers"],
            "objectsSizesHistogram": {},
            "objectsVersionsHistogram": {},
            "objectsPendingReplicationTotalSize": 0,
            "objectsFailedReplicationTotalSize": 0,
            "objectsReplicatedTotalSize": 0,
            "objectReplicaTotalSize": 0,
            "objectsPendingReplicationCount": 0,
            "objectsFailedReplicationCount": 0,
        }
        for b, u in sorted(usage.items())
    }
    doc: dict[str, object] = {
        "lastUpdate": _rfc3339(time.time()),
        "objectsCount": sum(u["objects"] for u in usage.values()),
        "objectsTotalSize": sum(u["bytes"] for u in usage.values()),
        "versionsCount": sum(u["versions"] for u in usage.values()),
        "deleteMarkersCount": sum(u["delete_markers"] for u in usage.values()),
        "bucketsCount": len(usage),
        "bucketsUsageInfo": buckets,
        "bucketsSizes": {b: u["bytes"] for b, u in sorted(usage.items())},
        "objectsPendingReplicationTotalSize": 0,
        "objectsFailedReplicationTotalSize": 0,
        "objectsReplicatedTotalSize": 0,
        "objectsReplicaTotalSize": 0,
        "objectsPendingReplicationCount": 0,
        "objectsFailedReplicationCount": 0,
        "tierStats": {},
    }
    if request.query.get("capacity") == "true":
        st = await ops.probe.get()
        doc.update(
            capacity=sum(d.total for d in st.drives),
            freeCapacity=sum(d.free for d in st.drives),
            usedCapacity=sum(d.used for d in st.drives),
        )
    return web.json_response(doc)

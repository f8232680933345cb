"""MinIO's admin API for operating a running deployment (``/minio/admin/v3``, madmin-go's
wire formats): the live trace (``mc admin trace``), run-time configuration (``mc admin
config``) and data usage (``mc admin info``, ``mc du``, ``mc stat BUCKET``).

The routes join madmin's one table (``madmin.ROUTES``), through the one admin path
(``admin.py``).
"""

from __future__ import annotations

import contextlib
import re

from aiohttp import web

from ..core.iam import Principal
from . import trace
from .admin import AdminError, stream
from .app import TRACER
from .madmin import ROUTES

# --------------------------------------------------------------------------- trace

#: madmin's query flags (ServiceTraceOpts.AddParams) -> TraceType bits s3gw can produce
_TRACE_FLAGS = {"s3": trace.TRACE_S3, "internal": trace.TRACE_INTERNAL}
_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
            "h": 3_600_000_000_000}


def parse_go_duration(text: str) -> int:
    """Go's time.Duration text (``0s``, ``1.5s``, ``2m30s``, ``100ms``) in nanoseconds.

    >>> parse_go_duration("0s"), parse_go_duration("1m30s"), parse_go_duration("250ms")
    (0, 90000000000, 250000000)
    """
    if not text or len(text) > 64:
        return 0
    pos, total = 0, 0.0
    for m in _GO_DURATION.finditer(text):
        if m.start() != pos:
            raise ValueError(text)
        total += float(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
    if pos != len(text):
        raise ValueError(text)
    return int(total)


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
        threshold = parse_go_duration(q.get("threshold", ""))
    except ValueError:
        raise AdminError("InvalidRequest", "Invalid Request") from None
    flt = trace.TraceFilter(types=types, only_errors=q.get("err") == "true", threshold_ns=threshold)
    resp = await stream(request, {"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                  "X-Accel-Buffering": "no"})
    with contextlib.suppress(ConnectionError, RuntimeError):
        async for line in request.app[TRACER].subscribe(flt):
            await resp.write(line if line is not None else b" ")
    return resp

"""Telemetry of a gateway: Prometheus series, the JSON access log, the audit log.

One aiohttp middleware sees every request (S3, admin, health, metrics): it
counts ``http_requests_total`` / ``http_request_duration_seconds`` and writes
the access log line. The S3 pipeline (``app.make_handler``) leaves what it
learnt in the request (``S3_INFO``: operation, bucket, key, error code, who),
admin handlers leave the admin action (``AUDIT_INFO``); the middleware turns
those into the per-operation series and the audit record.

State series (drives, nodes, queues, usage, maintenance, the metadata pool)
are read from the core when a scrape comes (``api/metrics.py`` ``refresh``),
and rendered by collectors. Each app has its own registries: no module-level
state, several gateways in one process do not mix.
"""

from __future__ import annotations

import asyncio
import json
import logging
import logging.handlers
import os
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    UnknownMetricFamily,
)

from ..auth import claimed_access_key
from ..common.version import VERSION
from . import trace
from .authz import is_write

#: the access and audit logs' logger names: documented for operators (docs/operations.md), so fixed
ACCESS_LOGGER = "s3gw.access"
AUDIT_LOGGER = "s3gw.audit"
access_log = logging.getLogger(ACCESS_LOGGER)
audit_log = logging.getLogger(AUDIT_LOGGER)
log = logging.getLogger(__name__)

# Per-request storage (aiohttp's RequestKey where it exists, 3.12+; plain names before)
_RequestKey: Any = getattr(web, "RequestKey", None)


def request_key(name: str, kind: type) -> Any:
    return _RequestKey(name, kind) if _RequestKey is not None else f"s3gw.{name}"


REQUEST_ID = request_key("request_id", str)  # the id every answer carries as x-amz-request-id
S3_INFO = request_key("s3", dict)  # what the S3 pipeline learnt (operation, bucket, key, error, caller)
AUDIT_INFO = request_key("audit", dict)  # the admin action a handler performs (for the audit log)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: paths probed every few seconds: counted, but kept out of the access log
QUIET_PREFIXES = ("/health/", "/minio/health/", "/metrics", "/minio/v2/metrics/")
_METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH"})


def new_request_id() -> str:
    """The id of one request (``x-amz-request-id``, the error body's RequestId, the logs): 16 hex digits,
    as MinIO's. The one generator: the telemetry middleware assigns it first, the S3 pipeline reuses it."""
    return os.urandom(8).hex().upper()


def setup_log(logger: logging.Logger, dest: str) -> None:
    """Send one of the JSON logs to ``stderr`` (default), ``stdout``, a file, or nowhere (``off``).

    The line is the JSON document alone (no level or logger prefix), so the
    log stream can be fed to a JSON parser as it is. Files are reopened when
    rotated away (WatchedFileHandler: logrotate without copytruncate works).
    """
    for h in list(logger.handlers):
        logger.removeHandler(h)
    logger.propagate = False
    if dest == "off":
        logger.disabled = True
        return
    logger.disabled = False
    logger.setLevel(logging.INFO)
    if dest in ("", "stderr"):
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
    elif dest == "stdout":
        handler = logging.StreamHandler(sys.stdout)
    else:
        handler = logging.handlers.WatchedFileHandler(dest)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


@dataclass
class OpStats:
    requests: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    inflight: int = 0
    received: int = 0
    sent: int = 0
    codes: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class State:
    """What a scrape reads from the core (filled by ``api/metrics.py`` ``refresh``)."""

    storage_state: Any = None  # core.ops.StorageState
    healing: dict[str, Any] = field(default_factory=dict)
    worker: dict[str, int] = field(default_factory=dict)  # the heal queue worker's totals
    sequences: dict[str, int] = field(default_factory=dict)  # heal sequences' (mc admin heal) totals
    lifecycle: dict[str, int] = field(default_factory=dict)  # the lifecycle worker's totals (core/expiry.py)
    usage: dict[str, dict[str, int]] = field(default_factory=dict)
    maintenance: bool = False
    meta_pool: dict[str, Any] = field(default_factory=dict)
    meta_histogram: tuple[list[tuple[str, int]], int, float] | None = None
    notify: dict[str, Any] = field(default_factory=dict)  # bucket notifications (core/notify.py status)
    replication: dict[str, Any] = field(default_factory=dict)  # bucket replication (core/replicate.py status)
    kms: dict[str, Any] = field(default_factory=dict)  # KMS calls and rewrap results (kms/stats.py snapshot)


class Telemetry:
    def __init__(self, server: str = "", tracer: trace.TraceHub | None = None) -> None:
        self.server = server  # this gateway's HOST:PORT (MinIO's "server" label)
        self.tracer = tracer  # mc admin trace's subscribers (api/trace.py); None: no tracing
        self.started = time.time()
        self.ops: dict[str, OpStats] = defaultdict(OpStats)
        self.state = State()
        disable_created_metrics()  # no *_created series (process-wide; nothing here wants them)
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "http_requests",
            "HTTP requests answered, by method and status",
            ["method", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_Collector(self._s3gw_series))
        self.minio_cluster = CollectorRegistry(auto_describe=True)
        self.minio_cluster.register(_Collector(self._minio_cluster_series))
        self.minio_bucket = CollectorRegistry(auto_describe=True)
        self.minio_bucket.register(_Collector(self._minio_bucket_series))
        self.minio_node = CollectorRegistry(auto_describe=True)
        self.minio_node.register(_Collector(self._minio_node_series))

    # -- the request path -------------------------------------------------------
    def begin(self, operation: str) -> None:
        self.ops[operation].inflight += 1

    def end(self, operation: str) -> None:
        self.ops[operation].inflight -= 1

    def middleware(self) -> Callable[..., Awaitable[web.StreamResponse]]:
        @web.middleware
        async def observe(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            request[REQUEST_ID] = new_request_id()
            started = time.monotonic()
            wall = time.time()
            resp: web.StreamResponse | None = None
            status = 500
            try:
                resp = await handler(request)
                status = resp.status
                return resp
            except web.HTTPException as e:
                status = e.status
                raise
            except asyncio.CancelledError:
                status = 499  # the client went away (nginx's code for it)
                raise
            finally:
                try:
                    seconds = time.monotonic() - started
                    self.observe(request, resp, status, seconds)
                    if self.tracer is not None and self.tracer.active:  # nobody tracing: nothing more
                        self._trace(request, resp, status, wall, seconds)
                except Exception:  # telemetry must never break a request
                    log.exception("telemetry failed")

        return observe

    def observe(self, request: web.Request, resp: web.StreamResponse | None, status: int, seconds: float) -> None:
        method = request.method if request.method in _METHODS else "OTHER"  # bounded label values
        self.http_requests.labels(method, str(status)).inc()
        self.http_duration.labels(method).observe(seconds)
        s3: dict[str, Any] | None = request.get(S3_INFO)
        sent = _sent_bytes(resp, request.method)
        received = request.content_length or 0
        if s3 is not None and s3.get("operation"):
            st = self.ops[s3["operation"]]
            st.requests += 1
            st.received += received
            st.sent += sent
            if status >= 500:
                st.errors_5xx += 1
            elif status >= 400:
                st.errors_4xx += 1
            if s3.get("error"):
                st.codes[s3["error"]] += 1
        quiet = request.path.startswith(QUIET_PREFIXES) and status < 500
        s3 = s3 or {}
        rid = (resp.headers.get("x-amz-request-id") if resp is not None else None) or request.get(REQUEST_ID)
        record = {
            "time": _iso(time.time()),
            "request_id": rid,
            "remote": request.remote,
            "method": request.method,
            "path": request.path,
            "operation": s3.get("operation") or _route_name(request),
            "bucket": s3.get("bucket", ""),
            "key": s3.get("key", ""),
            "status": status,
            "error": s3.get("error"),
            "bytes_in": received,
            "bytes_out": sent,
            "duration_ms": round(seconds * 1000, 3),
            "access_key": s3.get("access_key", ""),
            "user_agent": request.headers.get("User-Agent", ""),
        }
        if not quiet and access_log.isEnabledFor(logging.INFO):
            access_log.info(json.dumps(record, separators=(",", ":")))
        audit: dict[str, Any] | None = request.get(AUDIT_INFO)
        if audit is None and s3.get("operation") and is_write(s3["operation"]):
            audit = {"action": s3["operation"]}
        if audit is None and request.path.startswith("/minio/admin/"):
            # an admin endpoint that did not describe itself (s3gw admin info/heal): still audited
            audit = {
                "action": _route_name(request),
                "access_key": claimed_access_key(request.headers, request.query) or "",
                "target": request.query.get("bucket", ""),
            }
        if audit is not None and audit_log.isEnabledFor(logging.INFO):
            entry = {
                "time": record["time"],
                "request_id": rid,
                "access_key": audit.get("access_key") or s3.get("access_key", ""),
                "remote": request.remote,
                "action": audit["action"],
                "bucket": s3.get("bucket", ""),
                "key": s3.get("key", ""),
                "target": audit.get("target", ""),
                "status": status,
                "error": s3.get("error") or audit.get("error"),
                "version_id": resp.headers.get("x-amz-version-id") if resp is not None else None,
            }
            if audit.get("detail"):
                entry["detail"] = audit["detail"]
            audit_log.info(json.dumps(entry, separators=(",", ":")))

    def _trace(
        self, request: web.Request, resp: web.StreamResponse | None, status: int, wall: float, seconds: float
    ) -> None:
        assert self.tracer is not None
        s3: dict[str, Any] = request.get(S3_INFO) or {}
        op = trace.operation_name(request.path, s3.get("operation"))
        self.tracer.publish(
            trace.record(
                request,
                resp,
                status,
                wall,
                seconds,
                op,
                request.content_length or 0,
                _sent_bytes(resp, request.method),
                request.host,
            )
        )

    # -- scrapes ------------------------------------------------------------------
    def render(self, registry: CollectorRegistry) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE})

    # s3gw's own series
    def _s3gw_series(self) -> Iterator[Metric]:
        yield _gauge("s3gw_build_info", "s3gw build", {"version": VERSION}, 1)
        yield _gauge("s3gw_uptime_seconds", "Seconds since this gateway started", {}, time.time() - self.started)
        req = CounterMetricFamily("s3gw_s3_requests", "S3 requests by operation", labels=["operation"])
        err = CounterMetricFamily(
            "s3gw_s3_errors", "S3 requests answered with an error, by S3 code", labels=["operation", "code"]
        )
        rx = CounterMetricFamily("s3gw_s3_received_bytes", "Request body bytes (in)", labels=["operation"])
        tx = CounterMetricFamily("s3gw_s3_sent_bytes", "Response body bytes (out)", labels=["operation"])
        inflight = 0
        for op, st in sorted(self.ops.items()):
            req.add_metric([op], st.requests)
            rx.add_metric([op], st.received)
            tx.add_metric([op], st.sent)
            for code, n in sorted(st.codes.items()):
                err.add_metric([op, code], n)
            inflight += st.inflight
        yield from (req, err, rx, tx)
        yield _gauge("s3gw_s3_requests_inflight", "S3 requests being served now", {}, inflight)
        s = self.state
        if s.storage_state is not None:
            used = GaugeMetricFamily(
                "storage_used_bytes", "Used bytes of each drive's file system", labels=["drive", "node"]
            )
            total = GaugeMetricFamily(
                "storage_total_bytes", "Size of each drive's file system", labels=["drive", "node"]
            )
            free = GaugeMetricFamily("storage_free_bytes", "Free bytes of each drive", labels=["drive", "node"])
            up = GaugeMetricFamily("s3gw_drive_up", "1 when the drive is online", labels=["drive", "node"])
            for d in s.storage_state.drives:
                used.add_metric([d.id, d.node], d.used)
                total.add_metric([d.id, d.node], d.total)
                free.add_metric([d.id, d.node], d.free)
                up.add_metric([d.id, d.node], 1 if d.online else 0)
            yield from (used, total, free, up)
            node_up = GaugeMetricFamily("s3gw_node_up", "1 when the storage node is online", labels=["node"])
            for n in s.storage_state.nodes:
                node_up.add_metric([n["id"]], 1 if n["online"] else 0)
            yield node_up
            nd, nn = len(s.storage_state.drives), len(s.storage_state.nodes)
            yield _gauge("s3gw_drives_online", "Drives online", {}, s.storage_state.drives_online)
            yield _gauge("s3gw_drives_offline", "Drives offline", {}, nd - s.storage_state.drives_online)
            yield _gauge("s3gw_nodes_online", "Storage nodes online", {}, s.storage_state.nodes_online)
            yield _gauge("s3gw_nodes_offline", "Storage nodes offline", {}, nn - s.storage_state.nodes_online)
            yield _gauge("s3gw_write_quorum_ok", "1 when a write can reach quorum", {}, int(s.storage_state.write_ok))
            yield _gauge("s3gw_read_quorum_ok", "1 when a read can reach quorum", {}, int(s.storage_state.read_ok))
        h = s.healing
        if "heal_queued" in h:
            yield _gauge("s3gw_heal_queue_depth", "Object versions queued for healing", {}, h["heal_queued"])
            yield _gauge("s3gw_heal_failed", "Object versions kept as unrecoverable", {}, h.get("heal_failed", 0))
            yield _gauge("s3gw_gc_queue_depth", "Shard sets waiting for garbage collection", {}, h.get("gc_queued", 0))
            yield _gauge("s3gw_write_intents", "Shard sets being written (or orphaned)", {}, h.get("write_intents", 0))
        healed = CounterMetricFamily("s3gw_healed_objects", "Objects healed", labels=["source"])
        healed.add_metric(["worker"], s.worker.get("healed", 0))
        healed.add_metric(["admin"], s.sequences.get("healed", 0))
        yield healed
        expired = CounterMetricFamily(
            "s3gw_lifecycle_expired", "What lifecycle rules expired (this gateway)", labels=["kind"]
        )
        for kind in ("objects", "versions", "delete_markers"):
            expired.add_metric([kind], s.lifecycle.get(f"expired_{kind}", 0))
        yield expired
        yield _counter(
            "s3gw_lifecycle_aborted_uploads",
            "Incomplete multipart uploads aborted (rules and api.stale_uploads_expiry; this gateway)",
            s.lifecycle.get("aborted_uploads", 0),
        )
        yield _counter(
            "s3gw_lifecycle_skipped_locked",
            "Versions a rule made due but retention or legal hold kept",
            s.lifecycle.get("skipped_locked", 0),
        )
        yield from _kms_series(s.kms)
        yield _gauge("s3gw_maintenance_mode", "1 while maintenance mode is on", {}, int(s.maintenance))
        if s.notify:
            n = s.notify
            yield _gauge(
                "s3gw_notify_events_pending", "Bucket notification events waiting in the outbox", {}, n["pending"]
            )
            yield _gauge("s3gw_notify_events_dead", "Events given up on after every attempt", {}, n["dead"])
            yield _gauge(
                "s3gw_notify_oldest_pending_seconds", "Age of the oldest event waiting", {}, n["oldest_pending_seconds"]
            )
            delivered = CounterMetricFamily("s3gw_notify_events_delivered", "Events delivered by this gateway")
            delivered.add_metric([], n["delivered"])
            failures = CounterMetricFamily("s3gw_notify_send_failures", "Delivery attempts that failed (retried)")
            failures.add_metric([], n["failures"])
            yield from (delivered, failures)
        if s.replication:
            yield from _replication_series(s.replication)
        ub = GaugeMetricFamily("s3gw_bucket_usage_bytes", "Bytes of live objects per bucket", labels=["bucket"])
        uo = GaugeMetricFamily("s3gw_bucket_objects", "Live objects per bucket", labels=["bucket"])
        for b, u in sorted(s.usage.items()):
            ub.add_metric([b], u["bytes"])
            uo.add_metric([b], u["objects"])
        yield from (ub, uo)
        m = s.meta_pool
        if m:
            yield _gauge(
                "s3gw_meta_pool_size",
                "Metadata store connections (SQLite: worker threads)",
                {},
                m.get("max_size", m.get("pool_size", 0)),
            )
            yield _gauge("s3gw_meta_pool_in_use", "Metadata store calls holding a connection", {}, m.get("in_use", 0))
            yield _gauge(
                "s3gw_meta_pool_waiting", "Metadata store calls waiting for a connection", {}, m.get("waiting", 0)
            )
            yield _counter("s3gw_meta_pool_waits", "Metadata store calls that had to wait", m.get("waits", 0))
            yield _counter("s3gw_meta_calls", "Metadata store calls", m.get("calls", 0))
            yield _counter("s3gw_meta_errors", "Metadata store calls that failed", m.get("errors", 0))
        if s.meta_histogram is not None:
            buckets, count, total_s = s.meta_histogram
            hist = HistogramMetricFamily("s3gw_meta_call_seconds", "Metadata store call latency")
            hist.add_metric([], buckets, total_s)
            yield hist

    # MinIO's names (cmd/metrics-v2.go)
    def _minio_s3_series(self) -> Iterator[Metric]:
        srv = ["server", "api"]
        families = {
            "req": CounterMetricFamily("minio_s3_requests", "Total number of S3 requests", labels=srv),
            "err": CounterMetricFamily(
                "minio_s3_requests_errors", "Total number of S3 requests with (4xx and 5xx) errors", labels=srv
            ),
            "4xx": CounterMetricFamily(
                "minio_s3_requests_4xx_errors", "Total number of S3 requests with (4xx) errors", labels=srv
            ),
            "5xx": CounterMetricFamily(
                "minio_s3_requests_5xx_errors", "Total number of S3 requests with (5xx) errors", labels=srv
            ),
            "inf": GaugeMetricFamily(
                "minio_s3_requests_inflight_total", "Total number of S3 requests currently in flight", labels=srv
            ),
            # MinIO names these counters without _total, which prometheus_client's counter
            # type would add: exposed untyped, so the names stay exactly MinIO's
            "rx": UnknownMetricFamily(
                "minio_s3_traffic_received_bytes", "Total number of s3 bytes received", labels=["server"]
            ),
            "tx": UnknownMetricFamily(
                "minio_s3_traffic_sent_bytes", "Total number of s3 bytes sent", labels=["server"]
            ),
        }
        rx = tx = 0
        for op, st in sorted(self.ops.items()):
            lab = [self.server, op.lower()]
            families["req"].add_metric(lab, st.requests)
            families["err"].add_metric(lab, st.errors_4xx + st.errors_5xx)
            families["4xx"].add_metric(lab, st.errors_4xx)
            families["5xx"].add_metric(lab, st.errors_5xx)
            families["inf"].add_metric(lab, st.inflight)
            rx += st.received
            tx += st.sent
        families["rx"].add_metric([self.server], rx)
        families["tx"].add_metric([self.server], tx)
        yield from families.values()

    def _minio_cluster_series(self) -> Iterator[Metric]:
        s = self.state
        lab = {"server": self.server}
        if s.storage_state is not None:
            st = s.storage_state
            raw_total = sum(d.total for d in st.drives if d.online)
            raw_free = sum(d.free for d in st.drives if d.online)
            ratio = st.k / (st.k + st.m) if st.k + st.m else 1.0
            yield _gauge(
                "minio_cluster_capacity_raw_total_bytes", "Total capacity online in the cluster", lab, raw_total
            )
            yield _gauge(
                "minio_cluster_capacity_raw_free_bytes", "Total free capacity online in the cluster", lab, raw_free
            )
            yield _gauge(
                "minio_cluster_capacity_usable_total_bytes",
                "Total usable capacity online in the cluster",
                lab,
                int(raw_total * ratio),
            )
            yield _gauge(
                "minio_cluster_capacity_usable_free_bytes",
                "Total free usable capacity online in the cluster",
                lab,
                int(raw_free * ratio),
            )
            nd, nn = len(st.drives), len(st.nodes)
            yield _gauge(
                "minio_cluster_drive_online_total", "Total drives online in this cluster", lab, st.drives_online
            )
            yield _gauge(
                "minio_cluster_drive_offline_total", "Total drives offline in this cluster", lab, nd - st.drives_online
            )
            yield _gauge("minio_cluster_drive_total", "Total drives in this cluster", lab, nd)
            yield _gauge("minio_cluster_nodes_online_total", "Total number of MinIO nodes online", lab, st.nodes_online)
            yield _gauge(
                "minio_cluster_nodes_offline_total", "Total number of MinIO nodes offline", lab, nn - st.nodes_online
            )
            yield _gauge("minio_cluster_health_status", "Get current cluster health status", lab, int(st.write_ok))
            yield _gauge(
                "minio_cluster_write_quorum", "Maximum write quorum across all pools and sets", lab, st.write_quorum
            )
        usage = s.usage
        yield _gauge(
            "minio_cluster_usage_object_total",
            "Total number of objects in a cluster",
            lab,
            sum(u["objects"] for u in usage.values()),
        )
        yield _gauge(
            "minio_cluster_usage_total_bytes",
            "Total cluster usage in bytes",
            lab,
            sum(u["bytes"] for u in usage.values()),
        )
        yield _gauge(
            "minio_cluster_usage_version_total",
            "Total number of versions (includes delete marker) in a cluster",
            lab,
            sum(u["versions"] for u in usage.values()),
        )
        yield _gauge(
            "minio_cluster_usage_deletemarker_total",
            "Total number of delete markers in a cluster",
            lab,
            sum(u["delete_markers"] for u in usage.values()),
        )
        yield _gauge("minio_cluster_bucket_total", "Total number of buckets in the cluster", lab, len(usage))
        yield from self._minio_s3_series()
        heal = CounterMetricFamily(
            "minio_heal_objects_heal", "Objects healed in current self healing run", labels=["server", "type"]
        )
        heal.add_metric([self.server, "object"], s.worker.get("healed", 0) + s.sequences.get("healed", 0))
        yield heal
        herr = CounterMetricFamily(
            "minio_heal_objects_errors",
            "Objects for which healing failed in current self healing run",
            labels=["server", "type"],
        )
        herr.add_metric([self.server, "object"], s.worker.get("failed", 0) + s.sequences.get("failed", 0))
        yield herr
        if "heal_queued" in s.healing:
            yield _gauge(
                "minio_heal_objects_total", "Objects scanned since server start", lab, s.healing["heal_queued"]
            )

    def _minio_bucket_series(self) -> Iterator[Metric]:
        fams = [
            GaugeMetricFamily("minio_bucket_usage_total_bytes", "Total bucket size in bytes", labels=["bucket"]),
            GaugeMetricFamily("minio_bucket_usage_object_total", "Total number of objects", labels=["bucket"]),
            GaugeMetricFamily(
                "minio_bucket_usage_version_total",
                "Total number of versions (includes delete marker)",
                labels=["bucket"],
            ),
            GaugeMetricFamily(
                "minio_bucket_usage_deletemarker_total", "Total number of delete markers", labels=["bucket"]
            ),
        ]
        for b, u in sorted(self.state.usage.items()):
            fams[0].add_metric([b], u["bytes"])
            fams[1].add_metric([b], u["objects"])
            fams[2].add_metric([b], u["versions"])
            fams[3].add_metric([b], u["delete_markers"])
        yield from fams

    def _minio_node_series(self) -> Iterator[Metric]:
        yield from self._minio_s3_series()
        st = self.state.storage_state
        if st is None:
            return
        local = [d for d in st.drives if d.node == "local"]
        lab = {"server": self.server}
        yield _gauge(
            "minio_node_drive_online_total", "Total drives online in this node", lab, sum(d.online for d in local)
        )
        yield _gauge(
            "minio_node_drive_offline_total", "Total drives offline in this node", lab, sum(not d.online for d in local)
        )
        yield _gauge("minio_node_drive_total", "Total drives in this node", lab, len(local))
        used = GaugeMetricFamily(
            "minio_node_drive_used_bytes", "Total storage used on a drive", labels=["server", "drive"]
        )
        free = GaugeMetricFamily(
            "minio_node_drive_free_bytes", "Total storage available on a drive", labels=["server", "drive"]
        )
        total = GaugeMetricFamily(
            "minio_node_drive_total_bytes", "Total storage on a drive", labels=["server", "drive"]
        )
        for d in local:
            used.add_metric([self.server, d.id], d.used)
            free.add_metric([self.server, d.id], d.free)
            total.add_metric([self.server, d.id], d.total)
        yield from (used, free, total)


class _Collector:
    def __init__(self, fn: Callable[[], Iterator[Metric]]) -> None:
        self._fn = fn

    def collect(self) -> Iterator[Metric]:
        return self._fn()

    def describe(self) -> list[Metric]:
        return []


def _gauge(name: str, doc: str, labels: dict[str, str], value: float) -> GaugeMetricFamily:
    g = GaugeMetricFamily(name, doc, labels=list(labels))
    g.add_metric(list(labels.values()), value)
    return g


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _replication_series(r: dict[str, Any]) -> Iterator[Metric]:
    """Bucket replication (docs/data-management.md): the queue (all gateways) and this gateway's worker."""
    yield _gauge("s3gw_replication_pending", "Replication operations waiting in the queue", {}, r["pending"])
    yield _gauge(
        "s3gw_replication_pending_bytes", "Bytes of the versions waiting to be replicated", {}, r["pending_bytes"]
    )
    yield _gauge("s3gw_replication_failed", "Replication operations given up on (FAILED)", {}, r["failed"])
    yield _gauge(
        "s3gw_replication_oldest_pending_seconds",
        "Age of the oldest waiting operation (lag)",
        {},
        r["oldest_pending_seconds"],
    )
    yield _counter("s3gw_replication_replicated", "Operations this gateway replicated", r["replicated"])
    yield _counter("s3gw_replication_replicated_bytes", "Bytes this gateway replicated", r["replicated_bytes"])
    per = CounterMetricFamily(
        "s3gw_replication_failures", "Replication attempts that failed, per target (retried)", labels=["target"]
    )
    for arn, n in sorted(r.get("failures_by_target", {}).items()):
        per.add_metric([arn], n)
    yield per
    pend = GaugeMetricFamily("s3gw_replication_target_pending", "Operations waiting, per target", labels=["target"])
    for arn, t in sorted(r.get("targets", {}).items()):
        pend.add_metric([arn], t.get("pending", 0))
    yield pend


def _kms_series(k: dict[str, Any]) -> Iterator[Metric]:
    """The KMS's calls by operation and outcome, their latency, and what rewraps did
    (docs/encryption.md); nothing when no snapshot was read."""
    if not k:
        return
    calls = CounterMetricFamily(
        "s3gw_kms_requests",
        "KMS calls of this gateway by operation (generate, open, rewrap) and outcome (ok, error, unavailable)",
        labels=["operation", "outcome"],
    )
    for (op, outcome), n in sorted(k["calls"].items()):
        calls.add_metric([op, outcome], n)
    yield calls
    hist = HistogramMetricFamily("s3gw_kms_request_seconds", "KMS call latency by operation", labels=["operation"])
    for op, (buckets, _count, total_s) in sorted(k["latency"].items()):
        hist.add_metric([op], buckets, total_s)
    yield hist
    rewrap = CounterMetricFamily(
        "s3gw_kms_rewrap_objects",
        "Object versions rewraps on this gateway re-sealed, skipped (already current, or changed) or failed",
        labels=["result"],
    )
    for result, n in sorted(k["rewrap"].items()):
        rewrap.add_metric([result], n)
    yield rewrap


def _sent_bytes(resp: web.StreamResponse | None, method: str = "GET") -> int:
    """Body bytes of an answer (aiohttp's body_length counts the headers too)."""
    if resp is None or method == "HEAD" or resp.status in (204, 304):
        return 0
    if not resp.prepared:
        body = getattr(resp, "body", None)
        return len(body) if isinstance(body, (bytes, bytearray)) else int(resp.content_length or 0)
    if resp.content_length is not None:
        return int(resp.content_length)
    return max(0, int(resp.body_length or 0) - _header_size(resp))


def _header_size(resp: web.StreamResponse) -> int:
    return 17 + sum(len(k) + len(v) + 4 for k, v in resp.headers.items()) + 2


def _route_name(request: web.Request) -> str:
    """An operation name for requests outside the S3 pipeline (admin, health, metrics)."""
    p = request.path
    if p.startswith("/minio/admin/"):
        return "admin:" + p.split("/minio/admin/", 1)[1].split("?", 1)[0]
    return p


__all__ = ["AUDIT_INFO", "REQUEST_ID", "S3_INFO", "Telemetry", "new_request_id", "setup_log"]

"""A storage node's own Prometheus series (``GET /metrics`` on the node's port).

Drive capacity and state are read when a scrape comes; request counters are
kept by the node's middleware (``NodeMetrics.observe``). Access: public when
``S3GW_METRICS_AUTH=public``, else ``Authorization: Bearer $S3GW_METRICS_TOKEN``
(or the token in ``S3GW_METRICS_TOKEN_FILE``) -- the same variables as the
gateway's. The cluster secret is never accepted here: a scraper must not hold it.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PUBLIC_PATHS = ("/metrics", "/minio/health/live")


def metrics_access(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(mode, token) from the environment."""
    env = os.environ if env is None else env
    mode = env.get("S3GW_METRICS_AUTH") or (
        "public" if env.get("MINIO_PROMETHEUS_AUTH_TYPE", "").lower() == "public" else "bearer"
    )
    token = env.get("S3GW_METRICS_TOKEN", "")
    if not token and env.get("S3GW_METRICS_TOKEN_FILE"):
        with open(env["S3GW_METRICS_TOKEN_FILE"]) as f:
            token = f.read().strip()
    return mode, token


def allowed(authorization: str | None, mode: str, token: str) -> bool:
    """Public, or the right static bearer token (none configured: refused).

    >>> allowed(None, "public", ""), allowed("Bearer t0k", "bearer", "t0k"), allowed("Bearer x", "bearer", "")
    (True, True, False)
    """
    if mode == "public":
        return True
    if not token or not authorization or not authorization.startswith("Bearer "):
        return False
    return hmac.compare_digest(authorization[7:].strip().encode(), token.encode())


class NodeMetrics:
    def __init__(self, node_id: str) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.node_id = node_id
        self.started = time.time()
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "s3gw_node_requests",
            "Node protocol requests by operation and status",
            ["op", "status"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "s3gw_node_request_seconds",
            "Node protocol request latency",
            ["op"],
            registry=self.registry,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self.received = Counter("s3gw_node_received_bytes", "Request body bytes received", registry=self.registry)
        self.sent = Counter("s3gw_node_sent_bytes", "Response body bytes sent", registry=self.registry)
        self.drives: list[dict[str, Any]] = []
        self.registry.register(_Drives(self))

    def observe(self, op: str, status: int, seconds: float, received: int, sent: int) -> None:
        self.requests.labels(op, str(status)).inc()
        self.seconds.labels(op).observe(seconds)
        self.received.inc(received)
        self.sent.inc(sent)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Drives:
    def __init__(self, m: NodeMetrics) -> None:
        self.m = m

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        lab = ["node", "drive"]
        fams = {
            k: GaugeMetricFamily(f"s3gw_node_drive_{k}", doc, labels=lab)
            for k, doc in (
                ("total_bytes", "Size of the drive's file system"),
                ("free_bytes", "Bytes free for shards"),
                ("used_bytes", "Used bytes of the drive's file system"),
                ("up", "1 when the drive passes its checks"),
            )
        }
        for d in self.m.drives:
            labels = [self.m.node_id, d["name"]]
            fams["total_bytes"].add_metric(labels, d.get("total", 0))
            fams["free_bytes"].add_metric(labels, d.get("free", 0))
            fams["used_bytes"].add_metric(labels, d.get("used", 0))
            fams["up"].add_metric(labels, 1 if d.get("ok") else 0)
        yield from fams.values()
        up = GaugeMetricFamily("s3gw_node_uptime_seconds", "Seconds since the node started", labels=["node"])
        up.add_metric([self.m.node_id], time.time() - self.m.started)
        yield up

"""Call statistics of a metadata store: what ``/debug/db-stats`` and the
``s3gw_meta_*`` series show.

A backend wraps each store call in ``begin`` / ``acquired`` / ``end``:
``begin`` when the call is asked for, ``acquired`` when it got its connection
(PostgreSQL: out of the pool) or its turn on the worker thread (SQLite), ``end``
when it finished. The time between the first two is the *wait*; between the
first and the last the *latency*. ``acquired`` may run on another thread, so
every update holds a lock (a handful of integer updates: negligible next to a
SQL round trip).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import deque
from typing import Any

#: upper bounds (seconds) of the latency histogram, Prometheus style (cumulative, +Inf implied)
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Call:
    __slots__ = ("started", "acquired")

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.acquired: float | None = None


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one).

    >>> percentile([1.0, 2.0, 3.0, 4.0], 0.5), percentile([1.0, 2.0, 3.0, 4.0], 0.99), percentile([], 0.5)
    (2.0, 4.0, 0.0)
    """
    if not sorted_values:
        return 0.0
    i = max(0, min(len(sorted_values) - 1, int(q * len(sorted_values) + 0.999999) - 1))
    return sorted_values[i]


class PoolStats:
    def __init__(self, backend: str, size: int) -> None:
        self.backend = backend
        self.size = size  # connections (PostgreSQL max) / worker threads (SQLite)
        self._lock = threading.Lock()
        self.in_use = 0  # calls holding a connection now
        self.waiting = 0  # calls waiting for one now
        self.calls = 0
        self.errors = 0
        self.waits = 0  # calls that had to wait (> 1 ms) for a connection
        self.wait_seconds = 0.0
        self.latency_seconds = 0.0
        self.histogram = [0] * (len(BUCKETS) + 1)
        self._recent: deque[tuple[float, float]] = deque(maxlen=2048)  # (latency, wait) of recent calls

    def begin(self) -> Call:
        with self._lock:
            self.waiting += 1
        return Call()

    def acquired(self, call: Call) -> None:
        if call.acquired is not None:  # a retried call acquires again: count it once
            return
        call.acquired = time.monotonic()
        waited = call.acquired - call.started
        with self._lock:
            self.waiting -= 1
            self.in_use += 1
            if waited > 0.001:
                self.waits += 1
            self.wait_seconds += waited

    def end(self, call: Call, ok: bool = True) -> None:
        now = time.monotonic()
        latency = now - call.started
        waited = (call.acquired or now) - call.started
        with self._lock:
            if call.acquired is None:
                self.waiting -= 1
            else:
                self.in_use -= 1
            self.calls += 1
            if not ok:
                self.errors += 1
            self.latency_seconds += latency
            self.histogram[bisect.bisect_left(BUCKETS, latency)] += 1
            self._recent.append((latency, waited))

    def snapshot(self, **extra: Any) -> dict[str, Any]:
        with self._lock:
            recent = list(self._recent)
            out: dict[str, Any] = {
                "backend": self.backend,
                "pool_size": self.size,
                "in_use": self.in_use,
                "waiting": self.waiting,
                "calls": self.calls,
                "errors": self.errors,
                "waits": self.waits,
                "wait_seconds_total": round(self.wait_seconds, 6),
            }
        lat = sorted(r[0] for r in recent)
        waits = sorted(r[1] for r in recent)

        def ms(v: float) -> float:
            return round(v * 1000, 3)

        out["latency_ms"] = {
            "p50": ms(percentile(lat, 0.5)),
            "p95": ms(percentile(lat, 0.95)),
            "p99": ms(percentile(lat, 0.99)),
            "max": ms(lat[-1] if lat else 0.0),
            "window": len(lat),
        }
        out["wait_ms"] = {
            "p50": ms(percentile(waits, 0.5)),
            "p99": ms(percentile(waits, 0.99)),
            "max": ms(waits[-1] if waits else 0.0),
        }
        out.update(extra)
        return out

    def histogram_snapshot(self) -> tuple[list[tuple[str, int]], int, float]:
        """Cumulative (le, count) pairs with +Inf, the count, and the sum: a Prometheus histogram."""
        with self._lock:
            counts, total, s = list(self.histogram), self.calls, self.latency_seconds
        out, acc = [], 0
        for bound, c in zip(BUCKETS, counts):
            acc += c
            out.append((repr(bound), acc))
        out.append(("+Inf", total))
        return out, total, s

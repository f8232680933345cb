"""What a gateway asked of its KMS, and what rewraps did: the ``s3gw_kms_*`` series
(docs/encryption.md). Each call is counted where it is made (``KMSStats.call``: the core's data
path and the admin key check), so the KMS implementations stay as they are; the scrape reads a
snapshot.

Operations: ``generate`` (a new object's data key), ``open`` (an object's data key, to read
or copy it), ``rewrap`` (re-seal under the current master key version); the key status check
(``mc admin kms key status``) is one ``generate`` and one ``open`` as well. Outcomes: ``ok``;
``error``: the KMS answered no (the named key does not exist); ``unavailable``: it could
not do it (unreachable, refused, a sealed key that does not open): the request got 503.

>>> s = KMSStats()
>>> s.observe("open", "ok", 0.003); s.observe("open", "unavailable", 2.0)
>>> calls = s.snapshot()["calls"]
>>> calls[("open", "ok")], calls[("open", "unavailable")], calls[("generate", "ok")]
(1, 1, 0)
>>> buckets, count, total = s.snapshot()["latency"]["open"]
>>> buckets[3], buckets[-1], count
(('0.005', 1), ('+Inf', 2), 2)
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from . import KeyNotFound, KMSError

_T = TypeVar("_T")

OPERATIONS = ("generate", "open", "rewrap")
OUTCOMES = ("ok", "error", "unavailable")
#: upper bounds (seconds) of the latency histogram (cumulative, +Inf implied): the built-in KMS
#: answers in microseconds, a remote one in milliseconds to its timeout
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: what a rewrap did with each SSE-S3/SSE-KMS version it looked at
REWRAP_RESULTS = ("resealed", "skipped", "failed")


class KMSStats:
    """Counters of one gateway process (asyncio: updated on the event loop only, no lock)."""

    def __init__(self) -> None:
        self.calls: dict[tuple[str, str], int] = {}
        self._hist: dict[str, list[int]] = {}
        self._sum: dict[str, float] = {}
        self.rewrap: dict[str, int] = dict.fromkeys(REWRAP_RESULTS, 0)

    def observe(self, operation: str, outcome: str, seconds: float) -> None:
        self.calls[(operation, outcome)] = self.calls.get((operation, outcome), 0) + 1
        hist = self._hist.setdefault(operation, [0] * (len(BUCKETS) + 1))
        hist[bisect.bisect_left(BUCKETS, seconds)] += 1
        self._sum[operation] = self._sum.get(operation, 0.0) + seconds

    async def call(self, operation: str, call: Awaitable[_T]) -> _T:
        """Await one KMS call, counting it by operation and outcome with its latency."""
        t0 = time.monotonic()
        try:
            result = await call
        except KeyNotFound:
            self.observe(operation, "error", time.monotonic() - t0)
            raise
        except KMSError:
            self.observe(operation, "unavailable", time.monotonic() - t0)
            raise
        except Exception:
            self.observe(operation, "error", time.monotonic() - t0)
            raise
        self.observe(operation, "ok", time.monotonic() - t0)
        return result

    def rewrapped(self, result: str) -> None:
        self.rewrap[result] += 1

    def snapshot(self) -> dict[str, Any]:
        """``calls``: (operation, outcome) -> count; ``latency``: operation -> (cumulative
        (le, count) pairs ending with +Inf, count, sum) as a Prometheus histogram; ``rewrap``:
        result -> count. Every operation, outcome and result is there, zero until it happens
        (a series that exists from the start is one ``rate()`` and alerts can use)."""
        calls = {(op, out): 0 for op in OPERATIONS for out in OUTCOMES}
        calls.update(self.calls)
        latency = {}
        for op in OPERATIONS:
            counts = self._hist.get(op, [0] * (len(BUCKETS) + 1))
            out, acc = [], 0
            for bound, c in zip(BUCKETS, counts):
                acc += c
                out.append((repr(bound), acc))
            total = acc + counts[-1]
            out.append(("+Inf", total))
            latency[op] = (out, total, self._sum.get(op, 0.0))
        return {"calls": calls, "latency": latency, "rewrap": dict(self.rewrap)}

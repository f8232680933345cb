#!/usr/bin/env python3
"""s3gw performance check: a short, bounded PUT/GET benchmark through the S3 API.

Writes --objects objects of --size bytes with --concurrency parallel requests
(and never for longer than --max-seconds), reads every one back and checks its
bytes, deletes them, and reports MiB/s and p50/p99 latency for PUT and GET.
It replaces the MinIO module's `mc admin speedtest`, which mc now refuses
("Deprecated command. Please use 'mc support perf' instead"); `mc support perf`
in turn asks the servers to generate the load themselves through MinIO's admin
speedtest API, which s3gw does not implement. A client-side benchmark measures
what clients get, through the same load balancer, and works against any S3
endpoint. For the full matrix of sizes and concurrencies: bench/s3bench.py.

Verdict: CRITICAL when requests fail or bytes differ; WARNING below
--min-put-mibs / --min-get-mibs, above --max-p99-ms, or when throughput fell
under --degraded (default 50%) of the saved baseline (--save-baseline stores
this run as the baseline for the endpoint).

Replaces "Run performance test: mc admin speedtest" in the MinIO production
operations module (incident response "performance", daily checklist); see
ops/incident-response.md.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3gwops as ops  # noqa: E402

UNITS = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "K": 1 << 10, "M": 1 << 20, "B": 1}


def size_arg(s: str) -> int:
    for unit in sorted(UNITS, key=len, reverse=True):
        if s.endswith(unit):
            return int(float(s[: -len(unit)]) * UNITS[unit])
    return int(s)


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def run_bench(t: ops.Target, bucket: str, size: int, count: int, conc: int, max_s: float) -> dict:
    prefix = f"perf-check/{uuid.uuid4().hex}/"
    body = os.urandom(size)
    deadline = time.monotonic() + max_s
    res: dict = {"put": [], "get": [], "errors": [], "put_bytes": 0, "get_bytes": 0}
    lock = threading.Lock()
    written: list[str] = []

    def put(i: int) -> None:
        if time.monotonic() > deadline:
            return
        key = f"{prefix}{i:06d}"
        r = t.s3("PUT", bucket, key, body=body, timeout=120)
        with lock:
            if r.status == 200:
                res["put"].append(r.seconds)
                res["put_bytes"] += size
                written.append(key)
            else:
                res["errors"].append(f"PUT {key}: {ops.describe(r)}")

    def get(key: str) -> None:
        r = t.s3("GET", bucket, key, timeout=120)
        with lock:
            if r.status == 200 and r.body == body:
                res["get"].append(r.seconds)
                res["get_bytes"] += size
            else:
                res["errors"].append(f"GET {key}: " + (ops.describe(r) if r.status != 200 else "content differs"))

    with ThreadPoolExecutor(conc) as ex:
        t0 = time.monotonic()
        list(ex.map(put, range(count)))
        res["put_seconds"] = time.monotonic() - t0
        t0 = time.monotonic()
        list(ex.map(get, list(written)))
        res["get_seconds"] = time.monotonic() - t0
        list(ex.map(lambda k: t.s3("DELETE", bucket, k), list(written)))
    return res


def main() -> int:
    p = ops.parser(__doc__)
    p.add_argument(
        "--bucket",
        default=os.environ.get("S3GW_CANARY_BUCKET", "ops-canary"),
        help="bucket to write into (created if missing; objects are deleted afterwards)",
    )
    p.add_argument("--size", type=size_arg, default=1 << 20, help="object size (default 1MiB)")
    p.add_argument("--objects", type=int, default=32, help="objects to write and read (default 32)")
    p.add_argument("--concurrency", type=int, default=4, help="parallel requests (default 4)")
    p.add_argument("--max-seconds", type=float, default=20.0, help="stop writing after this long (default 20)")
    p.add_argument("--min-put-mibs", type=float, default=0.0, help="warn below this PUT MiB/s")
    p.add_argument("--min-get-mibs", type=float, default=0.0, help="warn below this GET MiB/s")
    p.add_argument("--max-p99-ms", type=float, default=0.0, help="warn when PUT or GET p99 exceeds this")
    p.add_argument("--baseline", default=None, help="baseline file (default $S3GW_OPS_STATE/perf-<host>.json)")
    p.add_argument("--save-baseline", action="store_true", help="store this run as the baseline")
    p.add_argument(
        "--degraded",
        type=float,
        default=float(os.environ.get("S3GW_OPS_PERF_DEGRADED", "0.5")),
        help="warn when throughput is below this fraction of the baseline (default $S3GW_OPS_PERF_DEGRADED or 0.5)",
    )
    args = p.parse_args()
    t = ops.target_from(args)
    rep = ops.Report("s3gw performance check", json_out=args.json)
    rep.head(t.endpoint)
    rep.begin(f"PUT/GET of {args.objects} x {ops.fmt_bytes(args.size)}, concurrency {args.concurrency}")
    head = t.s3("HEAD", args.bucket)
    if head.status == 404:
        t.s3("PUT", args.bucket)
    elif head.status != 200:
        rep.crit(f"bucket {args.bucket}: {ops.describe(head)}")
        return rep.finish()
    r = run_bench(t, args.bucket, args.size, args.objects, args.concurrency, args.max_seconds)
    mib = 1 << 20
    put_mibs = r["put_bytes"] / mib / r["put_seconds"] if r["put_seconds"] else 0.0
    get_mibs = r["get_bytes"] / mib / r["get_seconds"] if r["get_seconds"] else 0.0
    result = {
        "put_mibs": round(put_mibs, 2),
        "get_mibs": round(get_mibs, 2),
        "put_objs": round(len(r["put"]) / r["put_seconds"], 1) if r["put_seconds"] else 0.0,
        "get_objs": round(len(r["get"]) / r["get_seconds"], 1) if r["get_seconds"] else 0.0,
        "put_p50_ms": round(pct(r["put"], 0.5) * 1000, 1),
        "put_p99_ms": round(pct(r["put"], 0.99) * 1000, 1),
        "get_p50_ms": round(pct(r["get"], 0.5) * 1000, 1),
        "get_p99_ms": round(pct(r["get"], 0.99) * 1000, 1),
        "objects": len(r["put"]),
        "size": args.size,
        "concurrency": args.concurrency,
        "ts": time.time(),
    }
    rep.facts["result"] = result
    rep.info(
        f"PUT {result['put_mibs']:.1f} MiB/s ({result['put_objs']} obj/s), p50 {result['put_p50_ms']} ms, "
        f"p99 {result['put_p99_ms']} ms"
    )
    rep.info(
        f"GET {result['get_mibs']:.1f} MiB/s ({result['get_objs']} obj/s), p50 {result['get_p50_ms']} ms, "
        f"p99 {result['get_p99_ms']} ms (every byte checked)"
    )
    if r["errors"]:
        rep.crit(f"{len(r['errors'])} request(s) failed: " + "; ".join(r["errors"][:3]))
    elif not r["put"]:
        rep.crit("no object was written")
    else:
        rep.ok(f"{len(r['put'])} objects written, read back and deleted without error")
    if len(r["put"]) < args.objects and not r["errors"]:
        rep.warn(f"only {len(r['put'])} of {args.objects} objects written in --max-seconds {args.max_seconds:g}")
    for what, got, floor in (("PUT", put_mibs, args.min_put_mibs), ("GET", get_mibs, args.min_get_mibs)):
        if floor and got < floor:
            rep.warn(f"{what} {got:.1f} MiB/s is below {floor:g} MiB/s")
    if args.max_p99_ms:
        for what in ("put", "get"):
            if result[f"{what}_p99_ms"] > args.max_p99_ms:
                rep.warn(f"{what.upper()} p99 {result[f'{what}_p99_ms']} ms exceeds {args.max_p99_ms:g} ms")

    rep.begin("baseline")
    path = args.baseline or os.path.join(ops.state_dir(), f"perf-{t.host.replace(':', '_')}.json")
    try:
        with open(path) as f:
            base = json.load(f)
    except (OSError, ValueError):
        base = None
    if base and (base.get("size"), base.get("concurrency")) == (args.size, args.concurrency):
        for k in ("put_mibs", "get_mibs"):
            if base.get(k) and result[k] < args.degraded * base[k]:
                rep.warn(
                    f"{k.split('_')[0].upper()} {result[k]} MiB/s is under {args.degraded:.0%} of the baseline "
                    f"{base[k]} MiB/s ({time.strftime('%Y-%m-%d', time.gmtime(base['ts']))})"
                )
            elif base.get(k):
                rep.ok(f"{k.split('_')[0].upper()} {result[k]} MiB/s vs baseline {base[k]} MiB/s")
    elif base:
        rep.info(f"baseline in {path} was taken with another size/concurrency: not compared")
    else:
        rep.info(f"no baseline yet ({path}); store one from a healthy day with --save-baseline")
    if args.save_baseline and not r["errors"]:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(result, f, indent=2)
        rep.info(f"baseline saved to {path}")
    return rep.finish()


if __name__ == "__main__":
    ops.run(main)

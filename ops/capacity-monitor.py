#!/usr/bin/env python3
"""s3gw capacity report: drive fullness, per-bucket usage, growth trend and a forecast.

1. Storage capacity (`s3gw admin info`): every drive's file system, raw and
   usable (x k/(k+m)) totals, and the fullest drive - with rendezvous placement
   every drive takes its share of new shards, so the fullest drive is the one
   that starts refusing writes (DiskFull, node --reserve-mb) first.
2. Per-bucket usage: the gateway's usage metrics (/minio/v2/metrics/bucket,
   no listing), else `mc du` per bucket (lists every object: slow on big buckets).
3. Growth: each run appends a snapshot to a history file; the trend over
   --window days gives bytes/day and the days until the fullest drive reaches
   --crit-pct. With Prometheus, the same from the metrics:
   predict_linear(storage_used_bytes[7d], 30*86400) > storage_total_bytes * 0.8
4. Verdict: WARNING at --warn-pct (plan the expansion), CRITICAL at --crit-pct
   or when a drive has no free space left, WARNING when the forecast says the
   critical mark is less than --forecast-days away.

Port of "Step 1: Capacity Planning and Monitoring" of the MinIO production
operations module; see ops/capacity.md.
"""

from __future__ import annotations

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3gwops as ops  # noqa: E402

DAY = 86400.0


def main() -> int:
    p = ops.parser(__doc__)
    p.add_argument("--warn-pct", type=float, default=70.0, help="fullest drive %% to warn at (default 70: plan)")
    p.add_argument("--crit-pct", type=float, default=80.0, help="fullest drive %% that is critical (default 80: alert)")
    p.add_argument(
        "--history",
        default=None,
        help="JSON-lines history of snapshots (default $S3GW_OPS_STATE/capacity-<host>.jsonl)",
    )
    p.add_argument("--no-record", action="store_true", help="do not append this run to the history")
    p.add_argument("--window", type=float, default=7.0, help="days of history for the trend (default 7)")
    p.add_argument(
        "--forecast-days",
        type=float,
        default=30.0,
        help="warn when the critical mark is fewer days away than this (default 30)",
    )
    p.add_argument("--no-buckets", action="store_true", help="skip per-bucket usage")
    args = p.parse_args()
    t = ops.target_from(args)
    rep = ops.Report("s3gw capacity report", json_out=args.json)
    rep.head(t.endpoint)

    rep.begin("1. storage capacity")
    try:
        info = t.info()
    except (ops.Unavailable, RuntimeError) as e:
        rep.crit(f"s3gw admin info: {e}")
        return rep.finish()
    e = info.get("erasure", {})
    k, m = e.get("data") or 1, e.get("parity") or 0
    drives = ops.drive_usage(info)
    known = [d for d in drives if d["pct"] is not None]
    for d in drives:
        rep.info(
            f"{d['id']:<34} {'-' if d['pct'] is None else format(d['pct'], '5.1f') + '%'} used, "
            f"{ops.fmt_bytes(d['free']):>10} free of {ops.fmt_bytes(d['total']):>10}"
            + ("" if d["ok"] else "  (offline)")
        )
    if not known:
        rep.crit("no drive reported its capacity")
        return rep.finish()
    raw_total = sum(d["total"] for d in known)
    raw_free = sum(d["free"] for d in known)
    rep.info(
        f"raw {ops.fmt_bytes(raw_total)}, free {ops.fmt_bytes(raw_free)}; usable for data "
        f"(x {k}/{k + m}) {ops.fmt_bytes(raw_total * k / (k + m))}, free {ops.fmt_bytes(raw_free * k / (k + m))}"
        "  (drives sharing a file system are each counted, as MinIO and the metrics count them)"
    )
    full = max(known, key=lambda d: d["pct"])
    rep.facts.update(
        fullest_drive=full["id"], fullest_pct=round(full["pct"], 2), raw_total=raw_total, raw_free=raw_free
    )
    line = f"fullest drive {full['id']}: {full['pct']:.1f}% used, {ops.fmt_bytes(full['free'])} free"
    empty = [d for d in known if d["free"] == 0]
    if empty:
        rep.crit(
            f"{len(empty)} drive(s) with no space left for new shards (full, or below the node's "
            f"--reserve-mb): " + ", ".join(d["id"] for d in empty[:9])
        )
    elif full["pct"] >= args.crit_pct:
        rep.crit(line + f" (critical at {args.crit_pct:g}%)")
    elif full["pct"] >= args.warn_pct:
        rep.warn(line + f" (plan expansion at {args.warn_pct:g}%)")
    else:
        rep.ok(line + f" (warn at {args.warn_pct:g}%, critical at {args.crit_pct:g}%)")
    offline = [d for d in drives if not d["ok"]]
    if offline:
        rep.warn(f"{len(offline)} drive(s) offline: their capacity is missing from the totals")

    logical = None
    if not args.no_buckets:
        rep.begin("2. per-bucket usage")
        logical = bucket_usage(rep, t)

    rep.begin("3. growth trend")
    trend(rep, args, t, full, logical)

    rep.begin("4. recommendations")
    for line in (
        "plan capacity expansion at 70% (add storage nodes: ops/scale.py plan)",
        "alert at 80%: the fullest drive refuses new shards at 100% (or at the node's --reserve-mb)",
        "review lifecycle/expiry of old data and noncurrent versions monthly: `mc ilm rule ls ALIAS/BUCKET`, "
        "`mc ilm rule add --expire-days N | --noncurrent-expire-days N ALIAS/BUCKET` (docs/data-management.md)",
        "watch the trend weekly: this report's history, or predict_linear on storage_used_bytes",
    ):
        rep.info(line)
    return rep.finish()


def bucket_usage(rep: ops.Report, t: ops.Target) -> int | None:
    samples = ops.metrics(t, "/minio/v2/metrics/bucket")
    rows: list[tuple[str, float, float | None]] = []
    source = ""
    if samples:
        by_bucket: dict[str, list[float]] = {}
        for name, lab, v in samples:
            if name in ("minio_bucket_usage_total_bytes", "minio_bucket_usage_object_total") and "bucket" in lab:
                by_bucket.setdefault(lab["bucket"], [0.0, 0.0])[0 if name.endswith("bytes") else 1] = v
        rows = [(b, vals[0], vals[1]) for b, vals in sorted(by_bucket.items())]
        source = "usage metrics (/minio/v2/metrics/bucket)"
    if not source:
        try:
            buckets = t.list_buckets()
        except RuntimeError as e:
            rep.crit(f"cannot list buckets: {e}")
            return None
        try:
            for b in buckets:
                docs = t.mc_json("du", f"{ops.MC_ALIAS}/{b}", timeout=3600)
                doc = next((d for d in docs if d.get("status") == "success"), {})
                rows.append((b, float(doc.get("size", 0)), doc.get("objects")))
            source = "mc du"
        except ops.Unavailable as e:
            rep.unknown(f"no usage metrics and {e}")
            return None
        except RuntimeError as e:
            rep.warn(f"mc du: {e}")
            return None
    total = sum(r[1] for r in rows)
    for b, size, objects in sorted(rows, key=lambda r: -r[1]):
        rep.info(f"{b:<40} {ops.fmt_bytes(size):>10}" + (f"  {int(objects)} objects" if objects is not None else ""))
    rep.ok(f"{len(rows)} bucket(s), {ops.fmt_bytes(total)} of object data (from {source})")
    rep.facts["buckets"] = {r[0]: r[1] for r in rows}
    return int(total)


def trend(rep: ops.Report, args, t: ops.Target, full: dict, logical: int | None) -> None:
    host = t.host.replace(":", "_").replace("/", "_")
    path = args.history or os.path.join(ops.state_dir(), f"capacity-{host}.jsonl")
    now = time.time()
    snap = {
        "ts": now,
        "drive": full["id"],
        "pct": full["pct"],
        "free": full["free"],
        "total": full["total"],
        "logical": logical,
    }
    history = []
    try:
        with open(path) as f:
            history = [json.loads(x) for x in f if x.strip()]
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as e:
        rep.warn(f"history {path} unreadable: {e}")
    if not args.no_record:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "a") as f:
            f.write(json.dumps(snap) + "\n")
    window = [h for h in history if now - h["ts"] <= args.window * DAY and now - h["ts"] > 60]
    if not window:
        rep.info(
            f"no snapshot from the last {args.window:g} days yet in {path}: "
            "run this daily (ops/runbooks/daily.py does) to get a trend"
        )
        return
    old = min(window, key=lambda h: h["ts"])
    days = (now - old["ts"]) / DAY
    pct_per_day = (full["pct"] - old["pct"]) / days
    line = f"fullest drive {old['pct']:.1f}% -> {full['pct']:.1f}% over {days:.1f} days ({pct_per_day:+.2f} %/day)"
    if logical is not None and old.get("logical") is not None:
        line += f"; object data {ops.fmt_bytes((logical - old['logical']) / days)}/day"
    rep.facts["pct_per_day"] = round(pct_per_day, 4)
    if pct_per_day <= 0:
        rep.ok(line + ": not growing")
        return
    left = (args.crit_pct - full["pct"]) / pct_per_day
    rep.facts["days_to_critical"] = round(left, 1)
    if left < args.forecast_days:
        rep.warn(line + f": {args.crit_pct:g}% in {max(left, 0):.0f} days (< {args.forecast_days:g})")
    else:
        rep.ok(line + f": {args.crit_pct:g}% in {left:.0f} days")


if __name__ == "__main__":
    ops.run(main)

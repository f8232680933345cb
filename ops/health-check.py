#!/usr/bin/env python3
"""s3gw health check: is the store up, in quorum, writable and readable right now?

Checks, in order: the gateway's liveness and readiness endpoints and the cluster
write/read quorum checks (what a load balancer sees); every other gateway named
with --gateways; nodes, drives, quorum and the heal queue (`s3gw admin info`);
drive fullness; a canary PUT/GET/DELETE through the S3 API; optionally a heal
dry run, backup freshness and Kubernetes pod state; the root credentials.

Port of "Step 5: Health Checks and Monitoring" of the MinIO production
operations module; see ops/health-check.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3gwops as ops  # noqa: E402


def main() -> int:
    p = ops.parser(__doc__)
    p.add_argument(
        "--gateways",
        default=os.environ.get("S3GW_GATEWAYS", ""),
        help="other gateway URLs behind the same load balancer, comma separated",
    )
    p.add_argument(
        "--canary-bucket",
        default=os.environ.get("S3GW_CANARY_BUCKET", "ops-canary"),
        help="bucket for the canary object (created if missing; default ops-canary)",
    )
    p.add_argument("--no-canary", action="store_true", help="skip the PUT/GET/DELETE canary (read-only check)")
    p.add_argument(
        "--slow",
        type=float,
        default=float(os.environ.get("S3GW_OPS_SLOW", "2")),
        help="canary PUT+GET seconds above which to warn (default $S3GW_OPS_SLOW or 2)",
    )
    p.add_argument(
        "--heal-dry-run",
        action="store_true",
        help="also run `s3gw admin heal --dry-run` over everything (reads every object's shard list)",
    )
    p.add_argument("--warn-pct", type=float, default=80.0, help="drive use %% to warn at (default 80)")
    p.add_argument("--crit-pct", type=float, default=90.0, help="drive use %% that is critical (default 90)")
    p.add_argument(
        "--backup-dir",
        default=os.environ.get("S3GW_BACKUP_DIR"),
        help="directory of backups (ops/backup.py run); warn when the newest is older than --backup-max-age",
    )
    p.add_argument("--backup-max-age", type=float, default=26.0, help="hours (default 26)")
    p.add_argument(
        "--namespace",
        default=os.environ.get("S3GW_K8S_NAMESPACE"),
        help="Kubernetes namespace: also check the s3gw pods there with kubectl",
    )
    args = p.parse_args()
    t = ops.target_from(args)
    rep = ops.Report("s3gw health check", json_out=args.json)
    rep.head(t.endpoint)

    rep.begin("1. gateway endpoints (what the load balancer sees)")
    alive = ops.check_endpoints(rep, t)
    for url in [u.strip() for u in args.gateways.split(",") if u.strip()]:
        g = t.with_endpoint(url)
        live, ready = g.probe("/health/live"), g.probe("/health/ready")
        if live.status == 0:
            rep.crit(f"gateway {url} does not answer: {live.error}")
        elif ready.status == 200:
            rep.ok(f"gateway {url} live and ready")
        else:
            rep.warn(f"gateway {url} live, readiness {ops.describe(ready)}")
    if not alive:
        return rep.finish(["the gateway is down: see `ops/incident-response.py pod-crash`"])

    rep.begin("2. cluster (s3gw admin info)")
    info = None
    try:
        info = t.info()
        rep.facts["info"] = {k: info.get(k) for k in ("erasure", "quorum")}
        ops.check_cluster(rep, info)
        if info.get("version"):
            rep.info(f"s3gw version {info['version']}")
    except ops.Unavailable as e:
        rep.unknown(str(e))
    except RuntimeError as e:
        rep.crit(f"admin info failed: {e}")

    # the MinIO module's own test: does `mc admin info` work against this endpoint?
    try:
        docs = t.mc_json("admin", "info", ops.MC_ALIAS, timeout=60)
        i = next((d for d in docs if d.get("status") == "success"), {}).get("info", {})
        b = i.get("backend") or {}
        line = (
            f"mc admin info: mode {i.get('mode')}, {len(i.get('servers') or [])} server(s), "
            f"drives {b.get('onlineDisks')} online / {b.get('offlineDisks')} offline"
        )
        (rep.ok if i.get("mode") == "online" and not b.get("offlineDisks") else rep.warn)(line)
    except ops.Unavailable as e:
        rep.info(f"not cross-checked with mc admin info: {e}")
    except RuntimeError as e:
        rep.warn(f"mc admin info fails: {e}")

    rep.begin("3. capacity")
    if info is not None:
        usage = [d for d in ops.drive_usage(info) if d["pct"] is not None]
        if usage:
            full = max(usage, key=lambda d: d["pct"])
            msg = (
                f"fullest drive {full['id']}: {full['pct']:.1f}% used, {ops.fmt_bytes(full['free'])} free "
                f"(of {ops.fmt_bytes(full['total'])})"
            )
            if full["free"] == 0 or full["pct"] >= args.crit_pct:
                rep.crit(msg + (" - no space left for new shards" if full["free"] == 0 else ""))
            elif full["pct"] >= args.warn_pct:
                rep.warn(msg)
            else:
                rep.ok(msg)
        else:
            rep.unknown("no drive reported its capacity")

    rep.begin("4. data path (canary through the S3 API)")
    if args.no_canary:
        rep.info("skipped (--no-canary)")
    elif rep.facts.get("maintenance"):
        lst = t.s3("GET", args.canary_bucket, query={"list-type": "2", "max-keys": "1"})
        if lst.status in (200, 404):
            rep.ok(f"maintenance: writes not tried; a listing is served ({ops.describe(lst)} in {ops.ms(lst.seconds)})")
        else:
            rep.crit(f"maintenance: even reads fail: ListObjectsV2 {ops.describe(lst)}")
    else:
        ops.canary(rep, t, args.canary_bucket, slow=args.slow)

    if args.heal_dry_run:
        rep.begin("5. storage integrity (s3gw admin heal --dry-run)")
        try:
            s = t.admin("heal", "--dry-run", timeout=3600)
            line = (
                f"scanned {s.get('scanned')}, healthy {s.get('healthy')}, would heal {s.get('would_heal')}, "
                f"unrecoverable {s.get('unrecoverable')}, failed {s.get('failed')}"
            )
            if s.get("unrecoverable"):
                rep.crit(line)
            elif s.get("would_heal") or s.get("failed"):
                rep.warn(line + " - run `s3gw admin heal`")
            else:
                rep.ok(line)
        except ops.Unavailable as e:
            rep.unknown(str(e))
        except RuntimeError as e:
            rep.crit(f"heal dry run failed: {e}")

    rep.begin("6. security")
    if t.access == "minioadmin" or t.secret == "minioadmin":
        rep.warn("the root user has the well-known default credentials (minioadmin)")
    else:
        rep.ok("root credentials are not the defaults")
    host = t.host.rsplit(":", 1)[0].strip("[]")
    if t.endpoint.startswith("http://") and host not in ("127.0.0.1", "localhost", "::1"):
        rep.warn(
            f"plain HTTP to {t.host}: credentials' signatures and data travel unencrypted "
            "(set security.tls, or terminate TLS at the ingress)"
        )
    anon = t.s3("GET", anonymous=True)
    if anon.status == 200:
        rep.crit("an anonymous request can list the buckets")
    else:
        rep.ok(f"anonymous ListBuckets refused ({ops.describe(anon)})")

    if args.backup_dir:
        rep.begin("7. backups")
        newest = newest_backup(args.backup_dir)
        if newest is None:
            rep.warn(f"no backup found in {args.backup_dir}")
        else:
            age_h = (time.time() - os.path.getmtime(newest)) / 3600
            msg = f"newest backup {os.path.basename(newest)}, {age_h:.1f} h old"
            (rep.warn if age_h > args.backup_max_age else rep.ok)(msg)

    if args.namespace:
        rep.begin("8. Kubernetes pods")
        pods(rep, args.namespace)

    return rep.finish()


def newest_backup(d: str) -> str | None:
    try:
        entries = [os.path.join(d, e) for e in os.listdir(d) if not e.startswith(".")]
    except OSError:
        return None
    return max(entries, key=os.path.getmtime, default=None)


def pods(rep: ops.Report, namespace: str) -> None:
    if not ops.which("kubectl"):
        rep.unknown("kubectl not installed")
        return
    cp = subprocess.run(
        [
            "kubectl",
            "get",
            "pods",
            "-n",
            namespace,
            "-l",
            "app.kubernetes.io/name=s3gw",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.status.phase} "
            '{.status.containerStatuses[*].ready}{"\\n"}{end}',
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if cp.returncode != 0:
        rep.unknown(f"kubectl get pods: {cp.stderr.strip()[-300:]}")
        return
    rows = [r.split() for r in cp.stdout.splitlines() if r.strip()]
    bad = [r for r in rows if len(r) < 3 or r[1] != "Running" or "false" in r[2:]]
    if not rows:
        rep.crit(f"no s3gw pods in namespace {namespace}")
    elif bad:
        rep.warn(f"{len(bad)} of {len(rows)} pods not running and ready: " + ", ".join(r[0] for r in bad))
    else:
        rep.ok(f"{len(rows)} pods running and ready")


if __name__ == "__main__":
    ops.run(main)

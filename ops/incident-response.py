#!/usr/bin/env python3
"""s3gw incident response: diagnose one kind of incident against the live store.

  pod-crash      a gateway or storage node down: which, quorum left, crash logs
  storage-full   full drives, whether writes still work, the largest objects
  network-issue  DNS, connect and probe latency to the gateways, gateway->node reachability
  performance    a bounded PUT/GET benchmark, heal backlog, slow drives, pool waits
  security       default or public access, users, authentication failures, TLS
  data-loss      unrecoverable objects (heal dry run), versioning, backups

Each prints what it found and what to do, and exits non-zero while the
incident's symptom is present (so it doubles as the "is it over?" check).
`help` lists the types.

Port of "Step 6: Incident Response Procedures" of the MinIO production
operations module; see ops/incident-response.md.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import sys
import time
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3gwops as ops  # noqa: E402

TYPES = {
    "pod-crash": "a gateway or storage node crashed or is down",
    "storage-full": "drives full: writes fail with DiskFull / SlowDownWrite",
    "network-issue": "connectivity between clients, gateways and nodes",
    "performance": "slow requests or low throughput",
    "security": "suspected unauthorized access",
    "data-loss": "objects missing or unreadable",
}
AUTH_ERRORS = ("AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "RequestTimeTooSkewed")


def main() -> int:
    p = ops.parser(__doc__)
    p.add_argument("incident", choices=["help", *TYPES])
    p.add_argument(
        "--gateways", default=os.environ.get("S3GW_GATEWAYS", ""), help="every other gateway URL, comma separated"
    )
    p.add_argument(
        "--namespace",
        default=os.environ.get("S3GW_K8S_NAMESPACE"),
        help="Kubernetes namespace: add pod, event, log and policy checks with kubectl",
    )
    p.add_argument("--bucket", default="", help="data-loss/storage-full: limit to this bucket")
    p.add_argument("--deep", action="store_true", help="data-loss: verify every block's bitrot hash too")
    p.add_argument("--canary-bucket", default=os.environ.get("S3GW_CANARY_BUCKET", "ops-canary"))
    p.add_argument("--backup-dir", default=os.environ.get("S3GW_BACKUP_DIR"), help="data-loss: where backups are")
    p.add_argument("--warn-pct", type=float, default=80.0, help="storage-full: drive use %% to warn at")
    p.add_argument("--crit-pct", type=float, default=90.0, help="storage-full: drive use %% that is critical")
    p.add_argument(
        "--slow-ms",
        type=float,
        default=float(os.environ.get("S3GW_OPS_SLOW_MS", "500")),
        help="network-issue/performance: probe or drive latency to warn at (default $S3GW_OPS_SLOW_MS or 500)",
    )
    p.add_argument(
        "--max-auth-failures",
        type=int,
        default=100,
        help="security: authentication failures since the last run to warn at (default 100)",
    )
    p.add_argument("--perf-objects", type=int, default=16, help="performance: objects to write (default 16)")
    p.add_argument("--perf-size", default="1MiB", help="performance: object size (default 1MiB)")
    args = p.parse_args()
    if args.incident == "help":
        print("s3gw incident response - types:")
        for k, v in TYPES.items():
            print(f"  {k:<14} {v}")
        print(f"\nusage: {os.path.basename(sys.argv[0])} <type> [--endpoint URL] [--gateways URL,...] [--namespace NS]")
        return 0
    t = ops.target_from(args)
    rep = ops.Report(f"s3gw incident response: {args.incident}", json_out=args.json)
    rep.head(t.endpoint)
    handler = {
        "pod-crash": pod_crash,
        "storage-full": storage_full,
        "network-issue": network_issue,
        "performance": performance,
        "security": security,
        "data-loss": data_loss,
    }[args.incident]
    actions = handler(rep, t, args)
    return rep.finish(actions)


def info_or_report(rep: ops.Report, t: ops.Target) -> dict | None:
    try:
        return t.info()
    except ops.Unavailable as e:
        rep.unknown(str(e))
    except RuntimeError as e:
        rep.crit(f"s3gw admin info: {e}")
    return None


# --------------------------------------------------------------------------- pod crash


def pod_crash(rep: ops.Report, t: ops.Target, args) -> list[str]:
    rep.begin("1. gateways")
    down_gw = []
    for g in ops.gateway_list(t, args.gateways):
        live, ready = g.probe("/health/live"), g.probe("/health/ready")
        if live.status == 0:
            down_gw.append(g.endpoint)
            rep.crit(f"gateway {g.endpoint} does not answer: {live.error}")
        elif ready.status == 503:
            rep.crit(f"gateway {g.endpoint} live but not ready: {ready.body.decode('utf-8', 'replace')[:200]}")
        else:
            rep.ok(f"gateway {g.endpoint} answers (live {live.status}, ready {ready.status})")
    rep.begin("2. storage nodes")
    info = None if t.endpoint in down_gw else info_or_report(rep, t)
    down_nodes = []
    if info is not None:
        ops.check_cluster(rep, info)
        down_nodes = [n for n in info["nodes"] if not n.get("online")]
        for n in down_nodes:
            rep.info(
                f"node {n['url']} (id {n['node_id']}) down: {n.get('error') or 'no answer'}; "
                f"drives {', '.join(n.get('drives') or [])}"
            )
    if args.namespace:
        rep.begin("3. Kubernetes")
        k8s_pods(rep, args.namespace)
    actions = []
    if down_gw:
        actions += [
            f"restart the gateway(s) {', '.join(down_gw)} (systemd: systemctl restart s3gw; Kubernetes: "
            "the Deployment restarts it - `kubectl describe pod` shows why it died: OOMKilled -> raise "
            "gateway.resources.limits.memory)",
            "the other gateways keep serving: check the load balancer took the dead one out (/health/ready)",
        ]
    if down_nodes:
        actions += [
            "restart the node process(es) on their own drives (Kubernetes: `kubectl delete pod "
            "<release>-s3gw-node-<i>`; the StatefulSet brings it back with the same volumes)",
            "writes made while a node was down left its shards missing; they are queued and healed when "
            "it returns - watch `s3gw admin info` (heal queue) or force it with `s3gw admin heal`",
            "if a node's drives are lost for good, start it on new empty drives: heal rebuilds its shards",
            "never restart more nodes at once than the parity count (3 for 6+3): see ops/update.py",
        ]
    return actions


def k8s_pods(rep: ops.Report, ns: str) -> None:
    out = ops.kubectl(rep, "get", "pods", "-n", ns, "-l", "app.kubernetes.io/name=s3gw", "-o", "json")
    if out is None:
        return
    pods = json.loads(out).get("items", [])
    bad = []
    for pod in pods:
        name = pod["metadata"]["name"]
        for cs in pod.get("status", {}).get("containerStatuses", []):
            waiting = (cs.get("state", {}).get("waiting") or {}).get("reason")
            last = (cs.get("lastState", {}).get("terminated") or {}).get("reason")
            if waiting or not cs.get("ready") or cs.get("restartCount", 0) > 0:
                bad.append(name)
                (rep.crit if waiting == "CrashLoopBackOff" or not cs.get("ready") else rep.warn)(
                    f"pod {name}: ready={cs.get('ready')}, restarts {cs.get('restartCount')}, "
                    f"waiting {waiting or '-'}, last termination {last or '-'}"
                )
    if pods and not bad:
        rep.ok(f"{len(pods)} pods ready, no restarts")
    for name in bad[:3]:
        logs = ops.kubectl(rep, "logs", "-n", ns, name, "--previous", "--tail=20")
        if logs:
            rep.info(f"last log lines of the previous {name}:")
            for line in logs.splitlines()[-20:]:
                rep.info(f"  | {line}")
    ev = ops.kubectl(rep, "get", "events", "-n", ns, "--sort-by=.lastTimestamp")
    if ev:
        rep.info("recent events:")
        for line in ev.splitlines()[-10:]:
            rep.info(f"  | {line}")


# --------------------------------------------------------------------------- storage full


def storage_full(rep: ops.Report, t: ops.Target, args) -> list[str]:
    rep.begin("1. drives")
    info = info_or_report(rep, t)
    full = []
    if info is not None:
        usage = [d for d in ops.drive_usage(info) if d["pct"] is not None]
        full = [d for d in usage if d["free"] == 0]
        hot = [d for d in usage if d["free"] and d["pct"] >= args.warn_pct]
        for d in sorted(usage, key=lambda d: -d["pct"])[:5]:
            rep.info(f"{d['id']:<34} {d['pct']:5.1f}% used, {ops.fmt_bytes(d['free'])} free")
        if full:
            rep.crit(
                f"{len(full)} of {len(usage)} drives have no space for new shards: "
                + ", ".join(d["id"] for d in full[:9])
            )
        crit = [d for d in hot if d["pct"] >= args.crit_pct]
        if crit:
            rep.crit(f"{len(crit)} drive(s) at or above {args.crit_pct:g}%")
        elif hot:
            rep.warn(f"{len(hot)} drive(s) at or above {args.warn_pct:g}%")
        elif not full:
            rep.ok(f"no drive above {args.warn_pct:g}%")
        e = info.get("erasure", {})
        writable = len(usage) - len(full)
        # (full drives are online: writes keep the normal geometry and need k+1 shards)
        needs = e.get("write_shards") or e.get("write_quorum") or 0
        if full and writable < needs:
            rep.crit(
                f"only {writable} drives can take shards, a write needs {needs}: "
                "every new object larger than the inline limit fails"
            )
    rep.begin("2. can a write still land?")
    ops.canary(rep, t, args.canary_bucket, size=1 << 20)
    rep.begin("3. largest objects")
    try:
        buckets = [args.bucket] if args.bucket else t.list_buckets()
        for b in buckets:
            objs = sorted(t.list_objects(b, limit=10000), key=lambda o: -o["size"])[:5]
            if objs:
                rep.info(f"{b}: " + ", ".join(f"{o['key']} ({ops.fmt_bytes(o['size'])})" for o in objs))
    except RuntimeError as e:
        rep.warn(f"listing: {e}")
    return (
        [
            "free space: delete what is not needed (`mc rm --recursive --force ALIAS/BUCKET/PREFIX`), and old "
            "noncurrent versions (`mc rm --versions --older-than 30d ALIAS/BUCKET`); deleted shards are removed by "
            "the GC worker within seconds",
            "then implement lifecycle policies so it does not fill again: `mc ilm rule add --noncurrent-expire-days "
            "30 ALIAS/BUCKET`, `mc ilm rule add --prefix tmp/ --expire-days 7 ALIAS/BUCKET` (docs/data-management.md); "
            "abandoned multipart uploads are aborted after api.stale_uploads_expiry (24h)",
            "add storage nodes (ops/scale.py plan): new objects spread over every node, so the full ones fill "
            "more slowly",
            "grow the volumes: Kubernetes with a StorageClass that allows expansion - raise "
            "nodes.persistence.size and patch each PVC (`kubectl patch pvc drive-1-<release>-s3gw-node-0 ...`)",
            "the node's --reserve-mb (helm: nodes.reserveMB) keeps headroom for the OS; lower it only briefly",
            "after the incident: ops/capacity-monitor.py daily, alert at 80%",
        ]
        if full or info is None
        else []
    )


# --------------------------------------------------------------------------- network


def network_issue(rep: ops.Report, t: ops.Target, args) -> list[str]:
    rep.begin("1. client -> gateways")
    for g in ops.gateway_list(t, args.gateways):
        u = urlsplit(g.endpoint)
        host, port = u.hostname or "", u.port or (443 if u.scheme == "https" else 80)
        t0 = time.monotonic()
        try:
            addrs = sorted({a[4][0] for a in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)})
            rep.ok(f"{host} resolves to {', '.join(addrs)} in {ops.ms(time.monotonic() - t0)}")
        except socket.gaierror as e:
            rep.crit(f"{host} does not resolve: {e}")
            continue
        t0 = time.monotonic()
        try:
            with socket.create_connection((host, port), timeout=args.timeout):
                rep.ok(f"TCP connect {host}:{port} in {ops.ms(time.monotonic() - t0)}")
        except OSError as e:
            rep.crit(f"TCP connect {host}:{port}: {e}")
            continue
        samples = [g.probe("/minio/health/live") for _ in range(5)]
        bad = [s for s in samples if s.status != 200]
        lat = sorted(s.seconds for s in samples)
        msg = f"5 probes of {g.endpoint}/minio/health/live: min {ops.ms(lat[0])}, max {ops.ms(lat[-1])}"
        if bad:
            rep.crit(msg + f", {len(bad)} failed ({ops.describe(bad[0])})")
        elif lat[-1] * 1000 > args.slow_ms:
            rep.warn(msg + f" (slower than {args.slow_ms:g} ms)")
        else:
            rep.ok(msg)
    rep.begin("2. gateway -> storage nodes")
    info = info_or_report(rep, t)
    down = []
    if info is not None:
        down = [n for n in info["nodes"] if not n.get("online")]
        for n in down:
            rep.warn(f"node {n['url']} unreachable from the gateway: {n.get('error') or 'no answer'}")
        if not down:
            rep.ok(f"all {len(info['nodes'])} node(s) reachable from the gateway")
        slow = [d for d in info.get("drives", []) if (d.get("latency") or 0) * 1000 > args.slow_ms]
        for d in slow:
            rep.warn(f"drive {d['id']} answered its health probe in {ops.ms(d['latency'])}")
        if not info.get("quorum", {}).get("write", True):
            rep.crit("write quorum lost: too many nodes unreachable")
    if args.namespace:
        rep.begin("3. Kubernetes services and policies")
        svc = ops.kubectl(rep, "get", "svc,endpoints", "-n", args.namespace, "-l", "app.kubernetes.io/name=s3gw")
        if svc:
            for line in svc.splitlines():
                rep.info(f"  | {line}")
        pol = ops.kubectl(rep, "get", "networkpolicy", "-n", args.namespace)
        if pol is not None:
            rep.info(f"network policies: {len(pol.splitlines()) - 1 if pol.strip() else 0}")
    return (
        [
            "a node unreachable from the gateway but running: check the route and firewall/NetworkPolicy "
            "between them (the node port, 9090), and that both hold the same cluster secret ('refused' in "
            "s3gw admin info means the secret differs)",
            "'timeout' errors with the node process alive: the node is overloaded or its disk hangs; check "
            "its drive latency (s3gw admin info) and the host's I/O",
            "clients cannot reach the gateways: DNS, the load balancer's health checks (/health/ready), TLS "
            "certificates at the ingress",
            "from inside Kubernetes: `kubectl run nettest --rm -it --image=busybox -- "
            "wget -qO- http://<release>-s3gw:8080/minio/health/live`",
        ]
        if rep.worst()
        else []
    )


# --------------------------------------------------------------------------- performance


def _load_perf():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "perf-check.py")
    spec = importlib.util.spec_from_file_location("perf_check", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def performance(rep: ops.Report, t: ops.Target, args) -> list[str]:
    perf = _load_perf()
    rep.begin("1. benchmark (replaces `mc admin speedtest`: see ops/perf-check.py)")
    head = t.s3("HEAD", args.canary_bucket)
    if head.status == 404:
        t.s3("PUT", args.canary_bucket)
    size = perf.size_arg(args.perf_size)
    before = ops.metrics(t)
    r = perf.run_bench(t, args.canary_bucket, size, args.perf_objects, 4, 30.0)
    if r["errors"]:
        rep.crit(f"{len(r['errors'])} benchmark request(s) failed: {'; '.join(r['errors'][:3])}")
    if r["put"]:
        put_p99, get_p99 = perf.pct(r["put"], 0.99) * 1000, perf.pct(r["get"], 0.99) * 1000
        msg = (
            f"PUT {r['put_bytes'] / (1 << 20) / r['put_seconds']:.1f} MiB/s (p99 {put_p99:.0f} ms), "
            f"GET {r['get_bytes'] / (1 << 20) / r['get_seconds']:.1f} MiB/s (p99 {get_p99:.0f} ms), "
            f"{len(r['put'])} x {ops.fmt_bytes(size)}"
        )
        if max(put_p99, get_p99) > args.slow_ms * 4:
            rep.warn(msg + f": p99 above {args.slow_ms * 4:g} ms")
        else:
            rep.ok(msg)
    rep.begin("2. background work and drives")
    info = info_or_report(rep, t)
    if info is not None:
        h = info.get("healing", {})
        if h.get("scan_running"):
            rep.info("a scanner pass is running (it reads metadata and stats shards: pace it with --scan-pace)")
        if h.get("admin_heal") and not h["admin_heal"].get("finished"):
            rep.warn("an admin heal is running: it competes with client I/O")
        q = h.get("heal_queued") or 0
        (rep.warn if q > 1000 else rep.ok)(f"heal queue {q}")
        lat = sorted(((d.get("latency") or 0) * 1000, d["id"]) for d in info.get("drives", []) if d.get("ok"))
        if lat:
            worst = lat[-1]
            (rep.warn if worst[0] > args.slow_ms else rep.ok)(
                f"slowest drive health probe {worst[1]}: {worst[0]:.0f} ms (median {lat[len(lat) // 2][0]:.0f} ms)"
            )
    samples = ops.metrics(t)
    if samples:
        inflight = ops.metric_sum(samples, "s3gw_s3_requests_inflight")
        waits = ops.metric_sum(samples, "s3gw_meta_pool_waits_total")
        waits0 = ops.metric_sum(before, "s3gw_meta_pool_waits_total") if before else None
        if inflight is not None:
            rep.info(f"S3 requests in flight on this gateway: {inflight:.0f}")
        if waits is not None and waits0 is not None:
            rep.info(
                f"metadata pool waits during the benchmark: {waits - waits0:.0f} (many: raise "
                "database.max_connections, or the database is the bottleneck - /debug/db-stats)"
            )
    else:
        rep.info("metrics not readable (set S3GW_METRICS_TOKEN): no in-flight / pool figures")
    if args.namespace:
        rep.begin("3. Kubernetes resources")
        top = ops.kubectl(rep, "top", "pods", "-n", args.namespace, "-l", "app.kubernetes.io/name=s3gw")
        if top:
            for line in top.splitlines():
                rep.info(f"  | {line}")
    return (
        [
            "CPU-bound gateways: add gateways (HPA maxReplicas, or ops/scale.py) - they share nothing but the "
            "metadata store",
            "slow drives: compare drive latencies in `s3gw admin info`; a failing disk slows every write that "
            "places a shard on it - take its node out (stop it) and let heal rebuild elsewhere",
            "metadata: /debug/db-stats and s3gw_meta_call_seconds; PostgreSQL pool waits -> max_connections",
            "background work: a running heal or scan competes with clients; pace with --scan-pace",
            "record a baseline on a good day: ops/perf-check.py --save-baseline",
        ]
        if rep.worst()
        else []
    )


# --------------------------------------------------------------------------- security


def security(rep: ops.Report, t: ops.Target, args) -> list[str]:
    rep.begin("1. credentials and transport")
    if t.access == "minioadmin" or t.secret == "minioadmin":
        rep.crit("the root user has the default credentials (minioadmin): anyone can administer this store")
    else:
        rep.ok("root credentials are not the defaults")
    host = urlsplit(t.endpoint).hostname or ""
    if t.endpoint.startswith("http://") and host not in ("127.0.0.1", "localhost", "::1"):
        rep.warn(f"plain HTTP to {host}: enable TLS (security.tls) or terminate it at the ingress")
    rep.begin("2. anonymous access")
    anon = t.s3("GET", anonymous=True)
    if anon.status == 200:
        rep.crit("anonymous ListBuckets succeeds")
    else:
        rep.ok(f"anonymous ListBuckets refused ({ops.describe(anon)})")
    try:
        buckets = t.list_buckets()
    except RuntimeError as e:
        rep.crit(str(e))
        buckets = []
    public = []
    for b in buckets:
        r = t.s3("GET", b, query={"list-type": "2", "max-keys": "1"}, anonymous=True)
        if r.status == 200:
            public.append(b)
    if public:
        rep.warn(f"bucket(s) listable without credentials: {', '.join(public)} (intended? check the bucket policy)")
    elif buckets:
        rep.ok(f"none of {len(buckets)} bucket(s) is listable anonymously")
    rep.begin("3. users")
    try:
        doc = t.admin("user", "list")
        users = doc.get("users", [])
        admins = [u["access_key"] for u in users if {"consoleAdmin", "readwrite"} & set(u.get("policies") or [])]
        disabled = [u["access_key"] for u in users if u.get("status") != "enabled"]
        rep.ok(
            f"{len(users)} user(s); with readwrite/consoleAdmin: {', '.join(admins) or 'none'}; "
            f"disabled: {', '.join(disabled) or 'none'}"
        )
        for u in users:
            rep.info(
                f"{u['access_key']:<24} {u.get('status', '?'):<9} policies {','.join(u.get('policies') or []) or '-'}"
            )
    except ops.Unavailable as e:
        rep.unknown(str(e))
    except RuntimeError as e:
        rep.warn(f"user list: {e}")
    rep.begin("4. authentication failures (metrics)")
    samples = ops.metrics(t)
    if samples is None:
        rep.unknown("metrics not readable: cannot count authentication failures (set S3GW_METRICS_TOKEN)")
    else:
        counts = {c: ops.metric_sum(samples, "s3gw_s3_errors_total", code=c) or 0.0 for c in AUTH_ERRORS}
        total = sum(counts.values())
        state = os.path.join(ops.state_dir(), f"auth-failures-{t.host.replace(':', '_')}.json")
        prev = None
        try:
            with open(state) as f:
                prev = json.load(f)
        except (OSError, ValueError):
            pass
        with open(state, "w") as f:
            json.dump({"ts": time.time(), "total": total}, f)
        since = total - prev["total"] if prev and total >= prev["total"] else total
        detail = ", ".join(f"{c} {v:.0f}" for c, v in counts.items() if v)
        msg = (
            f"{since:.0f} authentication failure(s) "
            + (f"since the last check {time.time() - prev['ts']:.0f}s ago" if prev else "since the gateway started")
            + (f" (totals: {detail})" if detail else "")
        )
        (rep.warn if since >= args.max_auth_failures else rep.ok)(msg)
    if args.namespace:
        rep.begin("5. Kubernetes")
        pol = ops.kubectl(rep, "get", "networkpolicy", "-n", args.namespace, "-o", "name")
        if pol is not None:
            (rep.ok if pol.strip() else rep.warn)(f"network policies: {pol.split() or 'none'}")
        logs = ops.kubectl(
            rep, "logs", "-n", args.namespace, "-l", "app.kubernetes.io/component=gateway", "--tail=2000"
        )
        if logs:
            denied = [x for x in logs.splitlines() if any(c in x for c in AUTH_ERRORS)]
            rep.info(f"{len(denied)} refused request(s) in the last 2000 log lines per gateway")
    return (
        [
            "a leaked key: `s3gw admin user disable KEY` at once, then `s3gw admin user add KEY NEWSECRET`",
            "root credentials: set new S3GW_ROOT_USER/S3GW_ROOT_PASSWORD with the old ones in "
            "S3GW_ROOT_USER_OLD/S3GW_ROOT_PASSWORD_OLD for one start (re-seals the users' secrets), "
            "then a rolling restart (ops/update.py rolling-restart)",
            "who did what: the audit log (logger s3gw.audit, --audit-log FILE) has every write and admin call "
            "with its access key and source address",
            "public buckets: remove the bucket policy (`mc anonymous set none ALIAS/BUCKET`)",
        ]
        if rep.worst()
        else []
    )


# --------------------------------------------------------------------------- data loss


def data_loss(rep: ops.Report, t: ops.Target, args) -> list[str]:
    rep.begin("1. scope: every object's shards (s3gw admin heal --dry-run)")
    unrecoverable = 0
    try:
        heal_args = (
            ["heal"] + ([args.bucket] if args.bucket else []) + ["--dry-run"] + (["--deep"] if args.deep else [])
        )
        s = t.admin(*heal_args, timeout=24 * 3600)
        unrecoverable = s.get("unrecoverable") or 0
        line = (
            f"scanned {s.get('scanned')}: healthy {s.get('healthy')}, would heal {s.get('would_heal')}, "
            f"unrecoverable {unrecoverable}, offline {s.get('offline')}, failed {s.get('failed')}"
        )
        if unrecoverable:
            rep.crit(line)
            for prob in (s.get("problems") or [])[:20]:
                rep.info(
                    f"{prob.get('outcome')}: {prob.get('object')} ({prob.get('version_id')}): {prob.get('detail')}"
                )
        elif s.get("would_heal") or s.get("offline"):
            rep.warn(line + ": shards missing but every object is recoverable - run `s3gw admin heal`")
        else:
            rep.ok(line)
    except ops.Unavailable as e:
        rep.unknown(str(e))
    except RuntimeError as e:
        rep.crit(f"heal dry run: {e}")
    info = info_or_report(rep, t)
    if info is not None:
        h = info.get("healing", {})
        if h.get("heal_failed"):
            rep.warn(f"{h['heal_failed']} version(s) kept as unrecoverable by the heal worker")
        down = [n["url"] for n in info.get("nodes", []) if not n.get("online")]
        if down:
            rep.warn(
                f"nodes offline: {', '.join(down)} - their shards may come back with them: "
                "restart them before concluding data is lost"
            )
    rep.begin("2. versioning (can deletes be undone?)")
    try:
        buckets = [args.bucket] if args.bucket else t.list_buckets()
    except RuntimeError as e:
        rep.crit(str(e))
        buckets = []
    unversioned = []
    for b in buckets:
        r = t.s3("GET", b, query={"versioning": ""})
        state = (
            "Enabled"
            if b"<Status>Enabled</Status>" in r.body
            else ("Suspended" if b"<Status>Suspended</Status>" in r.body else "Off")
        )
        if state != "Enabled":
            unversioned.append(f"{b} ({state})")
    if unversioned:
        rep.info(
            f"no versioning on: {', '.join(unversioned)} - deleted or overwritten objects there cannot be "
            "recovered from the store itself"
        )
    elif buckets:
        rep.ok(f"versioning enabled on all {len(buckets)} bucket(s): deleted objects are noncurrent versions")
    rep.begin("3. backups")
    if args.backup_dir:
        try:
            entries = sorted(
                (os.path.getmtime(os.path.join(args.backup_dir, e)), e)
                for e in os.listdir(args.backup_dir)
                if not e.startswith(".")
            )
        except OSError as e:
            entries = []
            rep.warn(f"{args.backup_dir}: {e}")
        if entries:
            age = (time.time() - entries[-1][0]) / 3600
            rep.ok(f"{len(entries)} backup file(s); newest {entries[-1][1]} ({age:.1f} h old)")
        else:
            rep.warn(f"no backups in {args.backup_dir}")
    else:
        rep.info("no --backup-dir given: metadata backups not checked (ops/backup.py)")
    return (
        [
            "do not write to the affected buckets until the scope is known",
            "deleted by a client, versioning on: `mc ls --versions ALIAS/BUCKET/KEY` then "
            "`mc cp --version-id ID ALIAS/BUCKET/KEY ALIAS/BUCKET/KEY` (or remove the delete marker)",
            "shards missing but recoverable: `s3gw admin heal` rebuilds them",
            "unrecoverable: more than the parity count of shards is gone (m=3 for 6+3) - bring back any offline "
            "node or drive first; the object's bytes cannot be rebuilt otherwise",
            "metadata lost or corrupted (the bytes are on the nodes): stop the gateways and `s3gw admin restore "
            "BACKUP --data DIR` / `--database-url URL` (ops/backup.py restore)",
            "prevent: versioning on important buckets (`mc version enable`), object lock for retention, "
            "daily metadata backups (ops/backup.py run) and a weekly restore test",
        ]
        if rep.worst()
        else []
    )


if __name__ == "__main__":
    ops.run(main)

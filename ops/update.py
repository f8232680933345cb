#!/usr/bin/env python3
"""s3gw update and rollback: versions, and rolling restarts that keep the store available.

  check            the version each gateway runs (s3gw_build_info), mixed versions
                   (an update half done), and - with --namespace - the images deployed.
  rolling-restart  restart storage nodes one at a time, then gateways one at a time,
                   while a canary client keeps writing and reading through the
                   gateways that are not being restarted. Before each step the
                   cluster must be whole again (all nodes online, heal queue
                   drained), so no more than one shard of any object is ever
                   missing. CRITICAL if any canary request failed.
                   How a process is restarted is yours to say (systemd, Kubernetes,
                   a supervisor): --restart-node-cmd / --restart-gateway-cmd, with
                   {index} {url} {host} {port} {node_id} filled in. To update, install
                   the new version first; to roll back, install the old one - the
                   procedure is the same.
  helm-upgrade     Kubernetes: helm upgrade (--set image.tag=...), wait for the
                   StatefulSet and Deployment rollouts (the PodDisruptionBudgets keep
                   it to one pod at a time) with the canary running through the Service.
  helm-rollback    Kubernetes: helm rollback to --revision (default: the previous one),
                   same watch.

Port of "Step 4: Update and Upgrade Procedures" of the MinIO production
operations module; see ops/update.md.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3gwops as ops  # noqa: E402


class Canary(threading.Thread):
    """PUT/GET/DELETE of a small object every --canary-interval seconds, round-robin
    over the gateways not excluded at the moment (what a load balancer does with
    readiness). Every failure is kept with its time."""

    def __init__(self, gateways: list[ops.Target], bucket: str, interval: float) -> None:
        super().__init__(daemon=True)
        self.gateways, self.bucket, self.interval = gateways, bucket, interval
        self.excluded: set[str] = set()
        self.stop_event = threading.Event()
        self.ok = 0
        self.failures: list[str] = []
        self.lock = threading.Lock()

    def run(self) -> None:
        i = 0
        while not self.stop_event.is_set():
            with self.lock:
                live = [g for g in self.gateways if g.endpoint not in self.excluded]
            if live:
                g = live[i % len(live)]
                i += 1
                self.once(g)
            self.stop_event.wait(self.interval)

    def once(self, g: ops.Target) -> None:
        key = f"rolling-canary/{uuid.uuid4().hex}"
        body = os.urandom(200 << 10)  # above the inline limit: a real erasure-coded write
        ts = time.strftime("%H:%M:%S")
        put = g.s3("PUT", self.bucket, key, body=body, timeout=30)
        if put.status != 200:
            self.failures.append(f"{ts} PUT via {g.endpoint}: {ops.describe(put)}")
            return
        get = g.s3("GET", self.bucket, key, timeout=30)
        if get.status != 200 or get.body != body:
            self.failures.append(
                f"{ts} GET via {g.endpoint}: " + (ops.describe(get) if get.status != 200 else "content differs")
            )
            return
        g.s3("DELETE", self.bucket, key, timeout=30)
        self.ok += 1

    def exclude(self, endpoint: str | None) -> None:
        with self.lock:
            self.excluded = {endpoint} if endpoint else set()

    def stop(self) -> None:
        self.stop_event.set()
        self.join(60)


def main() -> int:
    p = ops.parser(__doc__)
    p.add_argument("action", choices=["check", "rolling-restart", "helm-upgrade", "helm-rollback"])
    p.add_argument(
        "--gateways",
        default=os.environ.get("S3GW_GATEWAYS", ""),
        help="every other gateway URL (rolling-restart restarts them all, one at a time)",
    )
    p.add_argument(
        "--restart-node-cmd", default="", help="shell command restarting one node ({index} {url} {node_id} ...)"
    )
    p.add_argument("--restart-gateway-cmd", default="", help="shell command restarting one gateway ({index} {url} ...)")
    p.add_argument("--only", choices=["nodes", "gateways"], help="restart only these")
    p.add_argument(
        "--node-indexes",
        default="",
        help="restart only these nodes (0-based positions in `s3gw admin info`, comma separated): "
        "a first node as a canary of an update, or the nodes of one machine",
    )
    p.add_argument(
        "--step-timeout", type=float, default=120.0, help="seconds for one process to come back (default 120)"
    )
    p.add_argument(
        "--drain",
        type=float,
        default=2.0,
        help="seconds a gateway is out of the canary's rotation before its restart (the load balancer's drain)",
    )
    p.add_argument(
        "--heal-backlog",
        type=int,
        default=0,
        help="heal queue depth to wait for after each node (default 0: fully healed)",
    )
    p.add_argument("--canary-bucket", default=os.environ.get("S3GW_CANARY_BUCKET", "ops-canary"))
    p.add_argument("--canary-interval", type=float, default=0.2, help="seconds between canary requests (default 0.2)")
    p.add_argument(
        "--allow-downtime",
        action="store_true",
        help="restart a single gateway although nothing serves while it is down",
    )
    p.add_argument("--namespace", default=os.environ.get("S3GW_K8S_NAMESPACE"))
    p.add_argument("--release", default=os.environ.get("S3GW_HELM_RELEASE", "s3gw"))
    p.add_argument("--chart", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helm", "s3gw"))
    p.add_argument("--set", action="append", default=[], help="helm-upgrade: --set KEY=VALUE (e.g. image.tag=0.2.0)")
    p.add_argument("--revision", default="", help="helm-rollback: revision (default: the previous one)")
    args = p.parse_args()
    t = ops.target_from(args)
    gateways = ops.gateway_list(t, args.gateways)
    rep = ops.Report(f"s3gw {args.action}", json_out=args.json)
    rep.head(", ".join(g.endpoint for g in gateways))
    if args.action == "check":
        return check(rep, gateways, args)
    if args.action == "rolling-restart":
        return rolling_restart(rep, t, gateways, args)
    return helm(rep, t, gateways, args)


# --------------------------------------------------------------------------- check


def version_of(g: ops.Target) -> str | None:
    samples = ops.metrics(g)
    if not samples:
        return None
    for name, labels, _ in samples:
        if name == "s3gw_build_info" and "version" in labels:
            return labels["version"]
    return None


def check(rep: ops.Report, gateways: list[ops.Target], args) -> int:
    rep.begin("versions running")
    versions = {}
    for g in gateways:
        v = version_of(g)
        versions[g.endpoint] = v
        if v is None:
            rep.unknown(f"{g.endpoint}: version unknown (no s3gw_build_info in /metrics; set S3GW_METRICS_TOKEN?)")
        else:
            rep.ok(f"{g.endpoint}: s3gw {v}")
    distinct = {v for v in versions.values() if v}
    if len(distinct) > 1:
        rep.warn(f"mixed versions {sorted(distinct)}: an update is half done - finish it or roll back")
    try:
        import importlib.metadata as md

        rep.info(f"s3gw installed here: {md.version('s3gw')}")
    except Exception:
        pass
    if args.namespace:
        rep.begin("Kubernetes")
        out = ops.kubectl(
            rep,
            "get",
            "deployment,statefulset",
            "-n",
            args.namespace,
            "-l",
            "app.kubernetes.io/name=s3gw",
            "-o",
            'jsonpath={range .items[*]}{.kind}/{.metadata.name} {.spec.template.spec.containers[0].image}{"\\n"}{end}',
        )
        if out:
            images = {line.split()[1] for line in out.splitlines() if len(line.split()) > 1}
            for line in out.splitlines():
                rep.info(line)
            (rep.warn if len(images) > 1 else rep.ok)(f"images deployed: {', '.join(sorted(images))}")
        hist = ops.kubectl(
            rep, "get", "secret", "-n", args.namespace, "-l", f"owner=helm,name={args.release}", "-o", "name"
        )
        if hist is not None:
            rep.info(f"helm revisions kept: {len(hist.split())} (helm history {args.release} -n {args.namespace})")
    rep.begin("where updates come from")
    rep.info("release notes: the project's CHANGELOG / tags; with helm: `helm search repo s3gw --versions`")
    rep.info("before updating: ops/backup.py run (metadata backup), then ops/update.py rolling-restart or helm-upgrade")
    return rep.finish()


# --------------------------------------------------------------------------- rolling restart


def fill(cmd: str, **kw: object) -> str:
    return cmd.format(**{k: shlex.quote(str(v)) for k, v in kw.items()})


def run_cmd(rep: ops.Report, cmd: str) -> bool:
    cp = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=600)
    if cp.returncode != 0:
        rep.crit(f"`{cmd}` failed ({cp.returncode}): {(cp.stderr or cp.stdout).strip()[-300:]}")
        return False
    return True


def cluster_whole(t: ops.Target, backlog: int) -> tuple[bool, str]:
    try:
        info = t.info()
    except (ops.Unavailable, RuntimeError) as e:
        return False, f"admin info: {e}"
    down = [n["url"] for n in info["nodes"] if not n.get("online")]
    q = info.get("quorum", {})
    queued = info.get("healing", {}).get("heal_queued") or 0
    if down:
        return False, f"nodes offline: {', '.join(down)}"
    if not (q.get("write") and q.get("read")):
        return False, "quorum not held"
    if queued > backlog:
        return False, f"heal queue {queued}"
    return True, f"{len(info['nodes'])} nodes online, heal queue {queued}"


def wait_for(pred, timeout: float, interval: float = 0.3):
    deadline = time.monotonic() + timeout
    while True:
        ok, why = pred()
        if ok or time.monotonic() > deadline:
            return ok, why
        time.sleep(interval)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


def rolling_restart(rep: ops.Report, t: ops.Target, gateways: list[ops.Target], args) -> int:
    do_nodes = args.only in (None, "nodes")
    do_gateways = args.only in (None, "gateways")
    rep.begin("preflight")
    if do_nodes and not args.restart_node_cmd:
        rep.unknown("--restart-node-cmd is needed to restart nodes (or --only gateways)")
    if do_gateways and not args.restart_gateway_cmd:
        rep.unknown("--restart-gateway-cmd is needed to restart gateways (or --only nodes)")
    if do_gateways and len(gateways) < 2 and not args.allow_downtime:
        rep.crit("one gateway: nothing serves while it restarts - add a gateway (--gateways) or --allow-downtime")
    for g in gateways:
        r = g.probe("/minio/health/cluster")
        if r.status != 200:
            rep.crit(f"{g.endpoint}: /minio/health/cluster {ops.describe(r)} - not healthy, not restarting anything")
    ok, why = cluster_whole(t, args.heal_backlog)
    (rep.ok if ok else rep.crit)(f"cluster {'whole' if ok else 'not whole'}: {why}")
    if rep.worst() in (ops.CRITICAL, ops.UNKNOWN):
        return rep.finish(["fix the cluster first (ops/health-check.py); a rolling restart needs every node up"])
    info = t.info()
    nodes = info["nodes"]
    embedded = len(nodes) == 1 and nodes[0].get("node_id") == "local"
    if embedded:
        do_nodes = False
        rep.info("embedded deployment: no storage nodes to restart")
    if t.s3("HEAD", args.canary_bucket).status == 404:
        t.s3("PUT", args.canary_bucket)
    canary = Canary(gateways, args.canary_bucket, args.canary_interval)
    canary.start()
    t_start = time.monotonic()
    try:
        if do_nodes:
            chosen = {int(x) for x in args.node_indexes.split(",") if x.strip()} or set(range(len(nodes)))
            rep.begin(f"storage nodes, one at a time ({len(chosen)} of {len(nodes)})")
            for i, n in enumerate(nodes):
                if i not in chosen:
                    continue
                u = urlsplit(n["url"])
                cmd = fill(
                    args.restart_node_cmd, index=i, url=n["url"], node_id=n["node_id"], host=u.hostname, port=u.port
                )
                t0 = time.monotonic()
                if not run_cmd(rep, cmd):
                    break
                # see it go (its port stops answering), or the gateway could still report the old process
                wait_for(lambda u=u: (not port_open(u.hostname or "", u.port or 80), ""), 5.0, 0.05)
                ok, why = wait_for(lambda: cluster_whole(t, args.heal_backlog), args.step_timeout)
                if not ok:
                    rep.crit(
                        f"node {n['url']} restarted but the cluster is not whole after "
                        f"{args.step_timeout:g}s ({why}): stopping here"
                    )
                    break
                rep.ok(f"node {i} {n['url']} back in {time.monotonic() - t0:.1f}s ({why})")
        if do_gateways and rep.worst() != ops.CRITICAL:
            rep.begin(f"gateways, one at a time ({len(gateways)})")
            for i, g in enumerate(gateways):
                u = urlsplit(g.endpoint)
                canary.exclude(g.endpoint if len(gateways) > 1 else None)
                time.sleep(args.drain)
                t0 = time.monotonic()
                if not run_cmd(
                    rep,
                    fill(args.restart_gateway_cmd, index=i, url=g.endpoint, host=u.hostname, port=u.port, node_id=""),
                ):
                    break
                wait_for(lambda g=g: (g.probe("/health/live", timeout=1).status == 0, ""), 5.0, 0.1)
                ok, why = wait_for(
                    lambda g=g: (g.probe("/minio/health/cluster", timeout=2).status == 200, ""), args.step_timeout
                )
                if not ok:
                    rep.crit(f"gateway {g.endpoint} not healthy {args.step_timeout:g}s after its restart: stopping")
                    break
                canary.exclude(None)
                rep.ok(f"gateway {i} {g.endpoint} back in {time.monotonic() - t0:.1f}s")
    finally:
        canary.exclude(None)
        time.sleep(max(args.canary_interval * 3, 0.5))
        canary.stop()
    rep.begin("availability during the restart")
    took = time.monotonic() - t_start
    if canary.failures:
        rep.crit(
            f"{len(canary.failures)} of {canary.ok + len(canary.failures)} canary requests failed in "
            f"{took:.0f}s: " + "; ".join(canary.failures[:5])
        )
    elif canary.ok == 0:
        rep.crit("the canary made no request")
    else:
        rep.ok(f"{canary.ok} canary write+read cycles in {took:.0f}s, none failed")
    ok, why = cluster_whole(t, args.heal_backlog)
    (rep.ok if ok else rep.crit)(f"after: {why}")
    return rep.finish()


# --------------------------------------------------------------------------- helm


def helm(rep: ops.Report, t: ops.Target, gateways: list[ops.Target], args) -> int:
    rep.begin(args.action)
    if not args.namespace:
        rep.unknown("--namespace is needed")
        return rep.finish()
    if not ops.which("helm"):
        rep.unknown("helm not installed (scripts/go-tools.sh helm builds the pinned one)")
        return rep.finish()
    if args.action == "helm-upgrade":
        cmd = ["helm", "upgrade", args.release, args.chart, "-n", args.namespace, "--reuse-values"]
        for s in args.set:
            cmd += ["--set", s]
    else:
        cmd = ["helm", "rollback", args.release] + ([args.revision] if args.revision else []) + ["-n", args.namespace]
    ok, why = cluster_whole(t, args.heal_backlog)
    if not ok:
        rep.crit(f"cluster not whole before the {args.action}: {why}")
        return rep.finish()
    if t.s3("HEAD", args.canary_bucket).status == 404:
        t.s3("PUT", args.canary_bucket)
    canary = Canary(gateways, args.canary_bucket, args.canary_interval)
    canary.start()
    try:
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if cp.returncode != 0:
            rep.crit(f"{' '.join(cmd)}: {cp.stderr.strip()[-400:]}")
            return rep.finish()
        rep.ok(" ".join(cmd))
        full = args.release if "s3gw" in args.release else f"{args.release}-s3gw"
        for kind, name in (("statefulset", f"{full}-node"), ("deployment", f"{full}-gateway")):
            out = ops.kubectl(
                rep, "rollout", "status", f"{kind}/{name}", "-n", args.namespace, "--timeout=60m", timeout=3700
            )
            if out is not None:
                rep.ok(f"{kind}/{name} rolled out")
        ok, why = wait_for(lambda: cluster_whole(t, args.heal_backlog), args.step_timeout)
        (rep.ok if ok else rep.crit)(f"after: {why}")
    finally:
        canary.stop()
    if canary.failures:
        rep.crit(f"{len(canary.failures)} canary requests failed during the rollout: {'; '.join(canary.failures[:5])}")
    else:
        rep.ok(f"{canary.ok} canary cycles through {t.endpoint}, none failed")
    return rep.finish(
        ["if it went wrong: ops/update.py helm-rollback --namespace NS --release R"] if rep.worst() else []
    )


if __name__ == "__main__":
    ops.run(main)

#!/usr/bin/env python3
"""s3gw scaling: plan an expansion, and verify one (storage nodes and gateways).

  plan     the current layout (nodes, drives, erasure coding, fullest drive) and
           what to add: how many nodes for --target-pct after --add-bytes more
           data, and the steps (Kubernetes with the chart, or plain processes).
  verify   after adding: every gateway (--gateways) sees --expect-nodes nodes
           online with their drives, quorum holds, a canary write and read works
           through each gateway, and - when `s3gw admin export-manifest` is there -
           new objects are placed on the new nodes too.
  helm     Kubernetes: `helm upgrade --reuse-values` with --nodes / --gateways-min /
           --gateways-max, wait for the rollout, then `verify`.

Adding nodes moves no existing data: each version's placement is stored with it,
new drives only take part in new placements (docs/cluster.md). Gateways share
nothing but the metadata store: add them behind the load balancer (HPA).

Port of "Step 2: Scaling Operations" of the MinIO production operations module;
see ops/scaling.md.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3gwops as ops  # noqa: E402


def main() -> int:
    p = ops.parser(__doc__)
    p.add_argument("action", choices=["plan", "verify", "helm"])
    p.add_argument("--gateways", default=os.environ.get("S3GW_GATEWAYS", ""), help="every other gateway URL")
    p.add_argument("--expect-nodes", type=int, default=0, help="verify: storage nodes that must be online")
    p.add_argument("--expect-drives", type=int, default=0, help="verify: drives that must be online")
    p.add_argument("--canary-bucket", default=os.environ.get("S3GW_CANARY_BUCKET", "ops-canary"))
    p.add_argument("--wait", type=float, default=30.0, help="verify: seconds to wait for the nodes (default 30)")
    p.add_argument("--target-pct", type=float, default=70.0, help="plan: fullest-drive %% to stay under (default 70)")
    p.add_argument("--add-bytes", type=float, default=0.0, help="plan: object data expected to arrive (bytes)")
    p.add_argument("--namespace", default=os.environ.get("S3GW_K8S_NAMESPACE"), help="helm: namespace")
    p.add_argument("--release", default=os.environ.get("S3GW_HELM_RELEASE", "s3gw"), help="helm: release name")
    p.add_argument("--chart", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helm", "s3gw"))
    p.add_argument("--nodes", type=int, default=0, help="helm: new nodes.replicas")
    p.add_argument("--gateways-min", type=int, default=0, help="helm: new gateway.autoscaling.minReplicas")
    p.add_argument("--gateways-max", type=int, default=0, help="helm: new gateway.autoscaling.maxReplicas")
    args = p.parse_args()
    t = ops.target_from(args)
    rep = ops.Report(f"s3gw scaling: {args.action}", json_out=args.json)
    rep.head(t.endpoint)
    if args.action == "plan":
        return plan(rep, t, args)
    if args.action == "helm":
        if not helm_upgrade(rep, args):
            return rep.finish()
        args.expect_nodes = args.expect_nodes or args.nodes
    return verify(rep, t, args)


def plan(rep: ops.Report, t: ops.Target, args) -> int:
    rep.begin("current layout")
    try:
        info = t.info()
    except (ops.Unavailable, RuntimeError) as e:
        rep.crit(f"s3gw admin info: {e}")
        return rep.finish()
    e = info["erasure"]
    k, m = e["data"], e["parity"]
    nodes, drives = info["nodes"], ops.drive_usage(info)
    embedded = len(nodes) == 1 and nodes[0].get("node_id") == "local"
    rep.info(
        f"{'embedded (one machine)' if embedded else 'cluster'}: {len(nodes)} node(s), {len(drives)} drive(s), "
        f"erasure coding {k}+{m}"
    )
    known = [d for d in drives if d["pct"] is not None]
    if not known:
        rep.crit("no drive reported its capacity")
        return rep.finish()
    full = max(known, key=lambda d: d["pct"])
    rep.info(f"fullest drive {full['id']}: {full['pct']:.1f}% of {ops.fmt_bytes(full['total'])}")
    if not embedded and len(nodes) < k + m:
        rep.warn(
            f"{len(nodes)} nodes for {k}+{m}: some objects keep two shards on one node, so losing that node "
            f"costs two shards - run at least {k + m} nodes"
        )
    else:
        rep.ok(
            f"one shard per node possible ({len(nodes)} nodes >= {k + m})"
            if not embedded
            else "embedded: every drive is on this machine; scale out with the cluster form (docs/cluster.md)"
        )
    rep.begin("what to add")
    per_drive = sum(d["total"] for d in known) / len(known)
    drives_per_node = max(1, round(len(drives) / max(1, len(nodes))))
    used = sum(d["total"] - d["free"] for d in known)
    want_used = used + args.add_bytes * (k + m) / k  # raw bytes after the new data lands
    need_drives = math.ceil(want_used / (per_drive * args.target_pct / 100))
    add_drives = max(0, need_drives - len(known))
    add_nodes = math.ceil(add_drives / drives_per_node)
    rep.facts.update(add_nodes=add_nodes, add_drives=add_drives)
    if add_nodes:
        rep.warn(
            f"to stay under {args.target_pct:g}% with {ops.fmt_bytes(args.add_bytes)} more data: add "
            f"{add_nodes} node(s) of {drives_per_node} x {ops.fmt_bytes(per_drive)} drives "
            f"(existing data stays where it is; new objects spread over all nodes, so the old ones fill "
            f"more slowly rather than draining)"
        )
    else:
        rep.ok(f"no node needed to stay under {args.target_pct:g}% with {ops.fmt_bytes(args.add_bytes)} more data")
    steps = [
        "Kubernetes (helm/s3gw): ops/scale.py helm --namespace NS --release R --nodes N "
        "(helm upgrade --reuse-values --set nodes.replicas=N; the StatefulSet adds pods with new volume claims, "
        "the ConfigMap's node list grows and the gateways roll one at a time)",
        "processes: start the new nodes (`s3gw node --data ... --secret-file cluster.secret`), add their URLs to "
        "storage.nodes (or --nodes) of every gateway, then ops/update.py rolling-restart --only gateways",
        f"then: ops/scale.py verify --expect-nodes {len(nodes) + add_nodes if not embedded else 'N'}",
        "more gateways: raise gateway.autoscaling.maxReplicas (the HPA adds them at 70% CPU / 80% memory) or "
        "start another `s3gw serve --config` on the same metadata store and put it behind the load balancer",
        "bigger drives: raise nodes.persistence.size with a StorageClass that allows volume expansion",
    ]
    for s in steps:
        rep.info(s)
    return rep.finish()


def verify(rep: ops.Report, t: ops.Target, args) -> int:
    gateways = ops.gateway_list(t, args.gateways)
    rep.begin("nodes as every gateway sees them")
    deadline = time.monotonic() + args.wait
    info = None
    for g in gateways:
        while True:
            try:
                info = g.info()
            except (ops.Unavailable, RuntimeError) as e:
                rep.crit(f"{g.endpoint}: s3gw admin info: {e}")
                info = None
                break
            online = sum(1 for n in info["nodes"] if n.get("online"))
            drives = sum(1 for d in info["drives"] if d.get("state") in ("online", "ok", None) and d.get("ok", True))
            good = (not args.expect_nodes or (online == args.expect_nodes == len(info["nodes"]))) and (
                not args.expect_drives or drives == args.expect_drives
            )
            if good or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if info is None:
            continue
        msg = f"{g.endpoint}: {online}/{len(info['nodes'])} nodes online, {drives} drives online"
        if args.expect_nodes and (online != args.expect_nodes or len(info["nodes"]) != args.expect_nodes):
            rep.crit(msg + f", expected {args.expect_nodes} nodes (is its node list updated and was it restarted?)")
        elif args.expect_drives and drives != args.expect_drives:
            rep.crit(msg + f", expected {args.expect_drives} drives")
        else:
            rep.ok(msg)
        q = info.get("quorum", {})
        if not (q.get("write") and q.get("read")):
            rep.crit(f"{g.endpoint}: quorum lost (write {q.get('write')}, read {q.get('read')})")
    rep.begin("data path through every gateway")
    for g in gateways:
        ops.canary(rep, g, args.canary_bucket, size=256 << 10)
    if info is not None and args.expect_nodes:
        placement(rep, t, info, args.canary_bucket)
    return rep.finish()


def placement(rep: ops.Report, t: ops.Target, info: dict, bucket: str) -> None:
    """New objects land on every node, the new ones included (needs export-manifest)."""
    prefix = f"scale-verify/{uuid.uuid4().hex}/"
    keys = [f"{prefix}{i}" for i in range(12)]
    for key in keys:
        t.s3("PUT", bucket, key, body=os.urandom(256 << 10))
    import json
    import tempfile

    fd, tmp = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    try:
        t.admin("export-manifest", "--output", tmp, "--bucket", bucket, "--prefix", prefix)
        with open(tmp) as f:
            out = f.read()
        node_of = {d["id"]: d.get("node_id") for d in info.get("drives", [])}
        used: set[str] = set()
        for line in out.splitlines():
            doc = json.loads(line) if line.strip().startswith("{") else {}
            for pl in doc.get("placement") or []:
                used.update(node_of.get(s) or s.split("/")[0] for s in pl.get("shards", []))
        all_nodes = {n["node_id"] for n in info["nodes"]}
        unused = all_nodes - used
        if unused:
            rep.warn(
                f"{len(keys)} new objects placed on {len(used)} of {len(all_nodes)} nodes; none on "
                f"{', '.join(sorted(unused))}"
            )
        else:
            rep.ok(f"{len(keys)} new objects spread over all {len(all_nodes)} nodes")
    except ops.Unavailable as e:
        rep.info(f"placement not checked: {e}")
    except (RuntimeError, ValueError) as e:
        rep.info(f"placement not checked: {e}")
    finally:
        os.unlink(tmp)
        for key in keys:
            t.s3("DELETE", bucket, key)


def helm_upgrade(rep: ops.Report, args) -> bool:
    rep.begin("helm upgrade")
    sets = []
    if args.nodes:
        sets += ["--set", f"nodes.replicas={args.nodes}"]
    if args.gateways_min:
        sets += ["--set", f"gateway.autoscaling.minReplicas={args.gateways_min}"]
    if args.gateways_max:
        sets += ["--set", f"gateway.autoscaling.maxReplicas={args.gateways_max}"]
    if not sets or not args.namespace:
        rep.unknown("helm needs --namespace and at least one of --nodes, --gateways-min, --gateways-max")
        return False
    if not ops.which("helm"):
        rep.unknown("helm not installed (scripts/go-tools.sh helm builds the pinned one)")
        return False
    cmd = [
        "helm",
        "upgrade",
        args.release,
        args.chart,
        "-n",
        args.namespace,
        "--reuse-values",
        *sets,
        "--wait",
        "--timeout",
        "30m",
    ]
    cp = subprocess.run(cmd, capture_output=True, text=True)
    if cp.returncode != 0:
        rep.crit(f"{' '.join(cmd)}: {cp.stderr.strip()[-400:]}")
        return False
    rep.ok(" ".join(cmd))
    full = args.release if "s3gw" in args.release else f"{args.release}-s3gw"  # the chart's fullname
    for kind, name in (("statefulset", f"{full}-node"), ("deployment", f"{full}-gateway")):
        out = ops.kubectl(
            rep, "rollout", "status", f"{kind}/{name}", "-n", args.namespace, "--timeout=30m", timeout=1900
        )
        if out is not None:
            rep.ok(f"{kind}/{name} rolled out")
    return True


if __name__ == "__main__":
    ops.run(main)

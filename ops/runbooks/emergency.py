#!/usr/bin/env python3
"""s3gw emergency triage: how bad is it (P1/P2/P3), and which incident response applies.

Probes the gateways and the cluster once, classifies the situation with the
severity levels of ops/runbooks/emergency.md, then runs the matching
ops/incident-response.py diagnoses:

  P1 critical   no gateway answers, or write/read quorum lost, or metadata down
                -> pod-crash (+ data-loss when read quorum is lost)
  P2 high       degraded: nodes/drives offline, a gateway down, drives full,
                maintenance on, canary failing -> pod-crash / storage-full / network-issue
  P3 medium     working but slow -> performance
  OK            nothing found (exit 0)

Exit code: the worst finding - 2 for a P1 (or when a diagnosis finds something
critical, such as drives with no space left), 1 for P2 and P3, 0 when healthy.
Port of runbooks/emergency/emergency-procedures.md of the MinIO production
operations module.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import s3gwops as ops  # noqa: E402


def main() -> int:
    p = ops.parser(__doc__)
    p.add_argument("--gateways", default=os.environ.get("S3GW_GATEWAYS", ""))
    p.add_argument("--namespace", default=os.environ.get("S3GW_K8S_NAMESPACE"))
    p.add_argument("--canary-bucket", default=os.environ.get("S3GW_CANARY_BUCKET", "ops-canary"))
    p.add_argument(
        "--slow",
        type=float,
        default=float(os.environ.get("S3GW_OPS_SLOW", "2")),
        help="canary seconds above which it is a P3 (default $S3GW_OPS_SLOW or 2)",
    )
    p.add_argument("--crit-pct", type=float, default=95.0, help="drive use %% treated as storage full (default 95)")
    args = p.parse_args()
    t = ops.target_from(args)
    rep = ops.Report("s3gw emergency triage", json_out=args.json)
    rep.head(t.endpoint)
    probe = ops.Report("probe", json_out=True)  # collected silently, summarised below
    gws = ops.gateway_list(t, args.gateways)
    answering = [g for g in gws if g.probe("/minio/health/live").status != 0]
    info = None
    try:
        info = t.info() if t in answering else (answering[0].info() if answering else None)
    except (ops.Unavailable, RuntimeError):
        info = None
    incidents: list[str] = []
    severity = "OK"
    rep.begin("triage")
    if not answering:
        rep.crit("P1: no gateway answers")
        severity, incidents = "P1", ["pod-crash", "network-issue"]
    else:
        for g in gws:
            if g not in answering:
                rep.warn(f"P2: gateway {g.endpoint} does not answer")
                severity, incidents = "P2", incidents + ["pod-crash"]
        ready = answering[0].probe("/health/ready")
        if ready.status == 503:
            rep.crit(f"P1: gateways not ready: {ready.body.decode('utf-8', 'replace')[:200]}")
            severity = "P1"
            incidents.append("pod-crash")
        if info is not None:
            q = info.get("quorum", {})
            down = [n for n in info["nodes"] if not n.get("online")]
            if not q.get("read", True):
                rep.crit(f"P1: read quorum lost ({len(down)} node(s) down): objects unreadable")
                severity, incidents = "P1", incidents + ["pod-crash", "data-loss"]
            elif not q.get("write", True):
                rep.crit(f"P1: write quorum lost ({len(down)} node(s) down): every write fails")
                severity, incidents = "P1", incidents + ["pod-crash"]
            elif down:
                rep.warn(f"P2: {len(down)} node(s) down, quorum held: " + ", ".join(n["url"] for n in down))
                severity = severity if severity == "P1" else "P2"
                incidents += ["pod-crash", "network-issue"]
            usage = [d for d in ops.drive_usage(info) if d["pct"] is not None]
            if any(d["free"] == 0 or d["pct"] >= args.crit_pct for d in usage):
                rep.warn("P2: drives full")
                severity = severity if severity == "P1" else "P2"
                incidents.append("storage-full")
        elif severity != "P1":
            rep.crit("P1: s3gw admin info fails: metadata store or gateway broken")
            severity = "P1"
            incidents.append("pod-crash")
        if severity == "OK":
            probe.begin("canary")
            if ops.canary(probe, answering[0], args.canary_bucket, slow=args.slow):
                if probe.worst() == ops.WARNING:
                    rep.warn(f"P3: slow: {probe.checks[-1].message}")
                    severity, incidents = "P3", ["performance"]
            else:
                rep.warn(f"P2: canary failed: {probe.checks[-1].message}")
                severity, incidents = "P2", ["pod-crash", "storage-full"]
    if severity == "OK":
        rep.ok("no emergency: gateways answer, quorum held, a write and read work")
        return rep.finish()
    rep.facts["severity"] = severity
    rep.info(f"severity {severity}; running: {', '.join(dict.fromkeys(incidents))}")
    common = (
        ops.target_args(args)
        + (["--gateways", args.gateways] if args.gateways else [])
        + (["--namespace", args.namespace] if args.namespace else [])
    )
    for i, inc in enumerate(dict.fromkeys(incidents), 1):
        ops.run_step(rep, f"{i}. incident response: {inc}", "incident-response.py", inc, *common)
    response = {
        "P1": "P1 - respond now (< 15 min): page the on-call, open an incident channel, tell stakeholders",
        "P2": "P2 - respond within 1 hour: assess the scope, work around, plan the fix",
        "P3": "P3 - respond within 4 hours: find the cause, optimise, watch it improve",
    }[severity]
    rep.checks = [c for c in rep.checks if c.level != ops.OK] + [c for c in rep.checks if c.level == ops.OK]
    if severity == "P1":
        rep.crit(response)
    else:
        rep.warn(response)
    return rep.finish(["follow ops/runbooks/emergency.md for the recovery procedures"])


if __name__ == "__main__":
    ops.run(main)

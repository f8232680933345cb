#!/usr/bin/env python3
"""s3gw maintenance mode: check, on, off - and verify that the gateways obey.

  check   maintenance state (`s3gw admin maintenance status`), gateway health,
          nodes/drives/heal queue; WARNING while maintenance is on.
  on      `s3gw admin maintenance on --reason ...`, then verify on every gateway
          (--gateways) that writes are refused (503) while reads are served and
          /minio/health/cluster answers 412 (what `mc ready` reports as maintenance).
  off     `s3gw admin maintenance off`, then verify that writes work again
          (a canary PUT/GET/DELETE on every gateway).

Maintenance mode is stored in the metadata store, so one command covers every
gateway sharing it. Unlike the deployment guide's maintenance.sh (scale the API
down and re-point the Service), the S3 API stays up for reads, and Kubernetes
keeps routing to the gateways (they stay ready).

Port of "Step 3: Automated Maintenance Procedures" of the MinIO production
operations module; see ops/maintenance.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3gwops as ops  # noqa: E402


def main() -> int:
    p = ops.parser(__doc__)
    p.add_argument("action", choices=["check", "on", "off"])
    p.add_argument("--reason", default="planned maintenance", help="recorded with `on`")
    p.add_argument(
        "--gateways",
        default=os.environ.get("S3GW_GATEWAYS", ""),
        help="every gateway URL to verify (default: the endpoint only)",
    )
    p.add_argument("--canary-bucket", default=os.environ.get("S3GW_CANARY_BUCKET", "ops-canary"))
    p.add_argument("--wait", type=float, default=10.0, help="seconds for the gateways to follow (default 10)")
    p.add_argument(
        "--namespace",
        default=os.environ.get("S3GW_K8S_NAMESPACE"),
        help="also annotate the gateway Deployment (s3gw.io/maintenance) with kubectl",
    )
    args = p.parse_args()
    t = ops.target_from(args)
    gateways = [t] + [
        t.with_endpoint(u.strip())
        for u in args.gateways.split(",")
        if u.strip() and u.strip().rstrip("/") != t.endpoint
    ]
    rep = ops.Report(f"s3gw maintenance {args.action}", json_out=args.json)
    rep.head(", ".join(g.endpoint for g in gateways))

    if args.action == "check":
        rep.begin("maintenance state")
        state = status(rep, t)
        if state is not None:
            if state.get("enabled"):
                since = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(state["since"])) if state.get("since") else "?"
                rep.warn(
                    f"maintenance mode ON since {since} by {state.get('by') or '?'}: "
                    f"{state.get('reason') or 'no reason given'} - writes are refused"
                )
            else:
                rep.ok("maintenance mode off")
        rep.begin("gateways")
        for g in gateways:
            ops.check_endpoints(rep, g)
        rep.begin("cluster")
        try:
            ops.check_cluster(rep, t.info())
        except (ops.Unavailable, RuntimeError) as e:
            rep.crit(f"s3gw admin info: {e}")
        if args.namespace:
            annotate(rep, args.namespace, None)
        return rep.finish()

    rep.begin(f"maintenance {args.action}")
    try:
        if args.action == "on":
            t.admin("maintenance", "on", "--reason", args.reason)
        else:
            t.admin("maintenance", "off")
        rep.ok(f"`s3gw admin maintenance {args.action}` accepted")
    except ops.Unavailable as e:
        rep.unknown(str(e))
        return rep.finish()
    except RuntimeError as e:
        rep.crit(str(e))
        return rep.finish()
    want_on = args.action == "on"

    rep.begin("verify every gateway")
    for g in gateways:
        verify(rep, g, want_on, args.canary_bucket, args.wait)
    if args.namespace:
        annotate(rep, args.namespace, want_on)
    actions = ["do the work; then `ops/maintenance.py off`"] if want_on else []
    return rep.finish(actions)


def status(rep: ops.Report, t: ops.Target) -> dict | None:
    try:
        return t.admin("maintenance", "status")
    except ops.Unavailable as e:
        rep.unknown(str(e))
    except RuntimeError as e:
        rep.crit(f"maintenance status: {e}")
    return None


def verify(rep: ops.Report, g: ops.Target, want_on: bool, bucket: str, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        cluster = g.probe("/minio/health/cluster")
        flag = cluster.headers.get("x-s3gw-maintenance")
        on = cluster.status == 412 or flag == "on"
        if on == want_on or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    if on != want_on:
        rep.crit(
            f"{g.endpoint}: still reports maintenance {'off' if want_on else 'on'} after {wait:g}s "
            f"(/minio/health/cluster {cluster.status}, x-s3gw-maintenance {flag})"
        )
        return
    rep.ok(f"{g.endpoint}: /minio/health/cluster {cluster.status}, x-s3gw-maintenance {flag}")
    if want_on:
        key = f"maintenance-probe/{uuid.uuid4().hex}"
        put = g.s3("PUT", bucket, key, body=b"must be refused")
        if put.status == 503:
            rep.ok(
                f"{g.endpoint}: writes refused (PUT {ops.describe(put)}, Retry-After "
                f"{put.headers.get('retry-after', '-')})"
            )
        else:
            rep.crit(f"{g.endpoint}: a write was not refused during maintenance: PUT {ops.describe(put)}")
            if put.status == 200:
                g.s3("DELETE", bucket, key)
        lst = g.s3("GET")
        if lst.status == 200:
            rep.ok(f"{g.endpoint}: reads served (ListBuckets 200)")
        else:
            rep.crit(f"{g.endpoint}: reads refused during maintenance: ListBuckets {ops.describe(lst)}")
    else:
        ops.canary(rep, g, bucket)


def annotate(rep: ops.Report, namespace: str, on: bool | None) -> None:
    if not ops.which("kubectl"):
        rep.unknown("kubectl not installed")
        return
    sel = "app.kubernetes.io/name=s3gw,app.kubernetes.io/component=gateway"
    if on is None:
        return
    value = (
        f"s3gw.io/maintenance={time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}" if on else "s3gw.io/maintenance-"
    )
    cp = subprocess.run(
        ["kubectl", "annotate", "deployment", "-n", namespace, "-l", sel, "--overwrite", value],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if cp.returncode == 0:
        rep.ok(f"gateway Deployment annotated ({value})")
    else:
        rep.warn(f"kubectl annotate: {cp.stderr.strip()[-300:]}")


if __name__ == "__main__":
    ops.run(main)

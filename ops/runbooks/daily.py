#!/usr/bin/env python3
"""s3gw daily checklist, automated: health, capacity, performance, security, backups.

Runs, in order: ops/health-check.py, ops/capacity-monitor.py (which records the
day's snapshot for the growth trend), ops/perf-check.py (a short benchmark,
compared with the saved baseline), ops/incident-response.py security (default
or public access, users, authentication failures since yesterday), and - with
--backup-dir - ops/backup.py verify. Each step's report is shown; the verdict is
the worst step's. What cannot be automated (incident review, capacity planning
decisions) is listed at the end: ops/runbooks/daily.md is the checklist.

Port of runbooks/daily/daily-checklist.md of the MinIO production operations
module.
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
    p.add_argument("--backup-dir", default=os.environ.get("S3GW_BACKUP_DIR"))
    p.add_argument("--warn-pct", default="70", help="capacity warning %% (default 70)")
    p.add_argument("--crit-pct", default="80", help="capacity critical %% (default 80)")
    p.add_argument("--perf-objects", default="16", help="objects in the daily benchmark (default 16)")
    args = p.parse_args()
    t = ops.target_from(args)  # fail early (UNKNOWN) without a target
    rep = ops.Report("s3gw daily checklist", json_out=args.json)
    rep.head(t.endpoint)
    common = ops.target_args(args)
    extra = (["--gateways", args.gateways] if args.gateways else []) + (
        ["--namespace", args.namespace] if args.namespace else []
    )
    ops.run_step(
        rep,
        "1. system health",
        "health-check.py",
        *common,
        *extra,
        "--warn-pct",
        args.warn_pct,
        "--crit-pct",
        str(max(float(args.crit_pct), float(args.warn_pct))),
    )
    ops.run_step(
        rep, "2. capacity", "capacity-monitor.py", *common, "--warn-pct", args.warn_pct, "--crit-pct", args.crit_pct
    )
    ops.run_step(rep, "3. performance", "perf-check.py", *common, "--objects", args.perf_objects)
    ops.run_step(
        rep,
        "4. security",
        "incident-response.py",
        "security",
        *common,
        *(["--namespace", args.namespace] if args.namespace else []),
    )
    if args.backup_dir:
        ops.run_step(rep, "5. backups", "backup.py", "verify", *common, "--dir", args.backup_dir)
    return rep.finish(
        [
            "end of day: review the day's incidents and update their notes (ops/runbooks/daily.md)",
            "capacity: act on a WARNING from step 2 (ops/scale.py plan)",
            "a failed step: run its incident response (ops/runbooks/emergency.py triages)",
        ]
    )


if __name__ == "__main__":
    ops.run(main)

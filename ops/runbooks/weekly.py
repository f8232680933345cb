#!/usr/bin/env python3
"""s3gw weekly maintenance, automated: versions, integrity scrub, backup restore test, access review, trend.

Runs: ops/update.py check (versions, a half-done update), ops/health-check.py
--heal-dry-run (every object's shards verified; --deep makes it check every
block's bitrot hash, which reads all the data: schedule it off-peak),
ops/backup.py verify --restore-test (with --backup-dir), ops/incident-response.py
security (users and policies to review), ops/capacity-monitor.py (the week's
growth and the forecast). Verdict: the worst step's. ops/runbooks/weekly.md is
the checklist, with what stays manual.

Port of runbooks/weekly/weekly-maintenance.md of the MinIO production
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
    p.add_argument("--backup-dir", default=os.environ.get("S3GW_BACKUP_DIR"))
    p.add_argument("--deep", action="store_true", help="deep scrub: verify every block's bitrot hash")
    p.add_argument("--warn-pct", default="70")
    p.add_argument("--crit-pct", default="80")
    args = p.parse_args()
    t = ops.target_from(args)
    rep = ops.Report("s3gw weekly maintenance", json_out=args.json)
    rep.head(t.endpoint)
    common = ops.target_args(args)
    gw = ["--gateways", args.gateways] if args.gateways else []
    ns = ["--namespace", args.namespace] if args.namespace else []
    ops.run_step(rep, "1. system updates", "update.py", "check", *common, *gw, *ns)
    if args.deep:
        ops.run_step(rep, "2. integrity scrub (deep)", "incident-response.py", "data-loss", "--deep", *common)
    else:
        ops.run_step(
            rep,
            "2. integrity scrub",
            "health-check.py",
            "--heal-dry-run",
            "--no-canary",
            *common,
            *gw,
            "--warn-pct",
            args.warn_pct,
            "--crit-pct",
            str(max(float(args.crit_pct), float(args.warn_pct))),
        )
    if args.backup_dir:
        ops.run_step(
            rep, "3. backup restore test", "backup.py", "verify", "--restore-test", *common, "--dir", args.backup_dir
        )
    else:
        rep.begin("3. backup restore test")
        rep.warn("no --backup-dir: the weekly restore test was not run")
    ops.run_step(rep, "4. security review", "incident-response.py", "security", *common, *ns)
    ops.run_step(
        rep,
        "5. capacity trend",
        "capacity-monitor.py",
        *common,
        "--warn-pct",
        args.warn_pct,
        "--crit-pct",
        args.crit_pct,
    )
    return rep.finish(
        [
            "plan an update window if step 1 shows a new release (ops/update.py)",
            "review users and policies listed in step 4; remove what is not needed",
            "update the runbooks and contacts (ops/runbooks/weekly.md)",
        ]
    )


if __name__ == "__main__":
    ops.run(main)

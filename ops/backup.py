#!/usr/bin/env python3
"""s3gw metadata backups: take one, verify them, test a restore.

  run      `s3gw admin backup` (SQLite online backup / pg_dump -Fc, taken by the
           gateway) and `s3gw admin export-manifest` (every object version and
           where its shards are) into --dir, time-stamped; keeps the newest --keep.
  verify   the newest backup is younger than --max-age hours, non-empty, of a
           known format (SQLite: PRAGMA integrity_check and the s3gw tables;
           pg_dump custom format: its PGDMP header), and has its manifest.
           --restore-test also restores it into a scratch directory with
           `s3gw admin restore --data` (SQLite) and compares the object count
           with the manifest's summary.

Objects' bytes are protected by erasure coding on the nodes; the metadata
(buckets, versions, layouts, users) is the part to back up - without it the
shards cannot be found. Port of the deployment guide's backup.sh / recover.sh
and of the MinIO module's "verify backup completion" checks; see ops/backup.md.
"""

from __future__ import annotations

import glob
import json
import os
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3gwops as ops  # noqa: E402


def main() -> int:
    p = ops.parser(__doc__)
    p.add_argument("action", choices=["run", "verify"])
    p.add_argument(
        "--dir",
        default=os.environ.get("S3GW_BACKUP_DIR"),
        required=not os.environ.get("S3GW_BACKUP_DIR"),
        help="backup directory (default $S3GW_BACKUP_DIR)",
    )
    p.add_argument("--keep", type=int, default=14, help="run: backups to keep (default 14)")
    p.add_argument("--max-age", type=float, default=26.0, help="verify: hours (default 26)")
    p.add_argument("--restore-test", action="store_true", help="verify: restore into a scratch directory too")
    args = p.parse_args()
    t = ops.target_from(args)
    rep = ops.Report(f"s3gw backup {args.action}", json_out=args.json)
    rep.head(t.endpoint)
    os.makedirs(args.dir, exist_ok=True)
    if args.action == "run":
        return run_backup(rep, t, args)
    return verify(rep, t, args)


def run_backup(rep: ops.Report, t: ops.Target, args) -> int:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    rep.begin("metadata backup")
    meta = os.path.join(args.dir, f"metadata-{stamp}.backup")
    try:
        doc = t.admin("backup", "--output", meta, timeout=6 * 3600)
        rep.ok(f"{meta}: {ops.fmt_bytes(os.path.getsize(meta))}" + (f" ({doc})" if isinstance(doc, dict) else ""))
    except ops.Unavailable as e:
        rep.unknown(str(e))
        return rep.finish()
    except (RuntimeError, OSError) as e:
        rep.crit(f"backup failed: {e}")
        return rep.finish()
    rep.begin("object manifest")
    manifest = os.path.join(args.dir, f"manifest-{stamp}.jsonl")
    try:
        doc = t.admin("export-manifest", "--output", manifest, timeout=6 * 3600)
        rep.ok(
            f"{manifest}: "
            + (
                f"{doc.get('objects')} objects, {ops.fmt_bytes(doc.get('bytes'))}"
                if isinstance(doc, dict)
                else "written"
            )
        )
    except ops.Unavailable as e:
        rep.unknown(str(e))
    except RuntimeError as e:
        rep.crit(f"export-manifest failed: {e}")
    rep.begin("retention")
    old = sorted(glob.glob(os.path.join(args.dir, "metadata-*.backup")))[: -args.keep]
    for path in old:
        os.unlink(path)
        m = path.replace("metadata-", "manifest-").replace(".backup", ".jsonl")
        if os.path.exists(m):
            os.unlink(m)
    rep.ok(f"kept the newest {args.keep}; removed {len(old)}")
    return rep.finish(
        ["copy the directory off the cluster (another region/bucket): a backup on the same disks is no backup"]
    )


def backup_kind(path: str) -> str:
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"SQLite format 3"):
        return "sqlite"
    if head.startswith(b"PGDMP"):
        return "pg_dump"
    return "unknown"


def verify(rep: ops.Report, t: ops.Target, args) -> int:
    rep.begin("newest backup")
    backups = sorted(glob.glob(os.path.join(args.dir, "metadata-*.backup")))
    if not backups:
        rep.crit(f"no backup in {args.dir} (ops/backup.py run)")
        return rep.finish()
    newest = backups[-1]
    age = (time.time() - os.path.getmtime(newest)) / 3600
    size = os.path.getsize(newest)
    msg = f"{os.path.basename(newest)}: {ops.fmt_bytes(size)}, {age:.1f} h old ({len(backups)} kept)"
    if size == 0:
        rep.crit(msg + ": empty")
        return rep.finish()
    (rep.warn if age > args.max_age else rep.ok)(
        msg + (f" - older than {args.max_age:g} h" if age > args.max_age else "")
    )
    kind = backup_kind(newest)
    if kind == "sqlite":
        try:
            con = sqlite3.connect(f"file:{newest}?mode=ro", uri=True)
            check = con.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            con.close()
            if check != "ok":
                rep.crit(f"SQLite integrity_check: {check}")
            elif not {"buckets"} <= tables:
                rep.crit(f"not an s3gw metadata backup (tables: {', '.join(sorted(tables)[:8])})")
            else:
                rep.ok(f"SQLite backup: integrity ok, {len(tables)} tables")
        except sqlite3.Error as e:
            rep.crit(f"SQLite backup unreadable: {e}")
    elif kind == "pg_dump":
        rep.ok("pg_dump custom-format archive (PGDMP header); `pg_restore --list` shows its contents")
    else:
        rep.crit("unknown backup format (neither SQLite nor pg_dump custom format)")
    manifest = newest.replace("metadata-", "manifest-").replace(".backup", ".jsonl")
    summary = None
    if os.path.exists(manifest):
        with open(manifest) as f:
            for line in f:
                if line.startswith('{"summary"'):
                    summary = json.loads(line)["summary"]
        rep.ok(f"manifest {os.path.basename(manifest)}" + (f": {summary}" if summary else ""))
    else:
        rep.warn("no manifest beside the backup (object list and placements for a partial recovery)")
    if args.restore_test:
        rep.begin("restore test")
        if kind != "sqlite":
            rep.info(
                "restore test needs a PostgreSQL to restore into: "
                "s3gw admin restore BACKUP --database-url postgresql://.../scratch"
            )
        else:
            with tempfile.TemporaryDirectory(prefix="s3gw-restore-test-") as d:
                try:
                    t.admin("restore", newest, "--data", d, timeout=3600, endpoint=False)
                except ops.Unavailable as e:
                    rep.unknown(str(e))
                    return rep.finish()
                except RuntimeError as e:
                    rep.crit(f"restore failed: {e}")
                    return rep.finish()
                db = os.path.join(d, "meta", "s3gw.db")
                try:
                    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
                    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                    buckets = con.execute("SELECT count(*) FROM buckets").fetchone()[0]
                    con.close()
                    rep.ok(f"restored into a scratch directory: {buckets} bucket(s), {len(tables)} tables")
                except sqlite3.Error as e:
                    rep.crit(f"restored database unreadable: {e}")
    return rep.finish()


if __name__ == "__main__":
    ops.run(main)

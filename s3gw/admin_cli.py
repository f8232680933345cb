"""``s3gw admin user|policy|maintenance|export-manifest|backup|restore|kms`` (docs/operations.md is the
contract; the operations options of ``s3gw serve`` are configuration keys, ``s3gw/config.py``).

Users and policies go through the MinIO admin API (``/minio/admin/v3``, the
same endpoints ``mc admin`` uses, with madmin's sealed bodies: a new user's
secret never crosses the network in clear); maintenance, the manifest and
backups through s3gw's own (``/minio/admin/s3gw/v1``). ``restore`` works on a
stopped deployment's metadata directly.

Exit codes: 0 done, 1 the gateway refused or the work found problems, 2 usage
or connection errors. ``--json`` prints one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any, TextIO

from .admin_client import signed_request
from .api.madmin_crypto import decrypt_data, encrypt_data
from .config import parse_duration

V3 = "/minio/admin/v3"
V1 = "/minio/admin/s3gw/v1"

OPS_COMMANDS = (
    "user",
    "policy",
    "svcacct",
    "group",
    "maintenance",
    "export-manifest",
    "backup",
    "restore",
    "kms",
    "replicate",
)


class AdminFailed(Exception):
    """The gateway answered with an error (exit 1)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.status, self.code, self.message = status, code, message


class OpsClient:
    """Signed calls to a gateway's admin APIs (SigV4 over the standard library)."""

    def __init__(self, endpoint: str, access: str, secret: str, region: str = "us-east-1") -> None:
        self.endpoint = endpoint.rstrip("/")
        self.access, self.secret, self.region = access, secret, region

    def open(
        self, method: str, path: str, query: dict[str, str] | None = None, body: bytes = b"", timeout: float | None = 60
    ) -> Any:
        req = signed_request(method, self.endpoint, path, query or {}, self.access, self.secret, self.region, body=body)
        try:
            return urllib.request.urlopen(req, timeout=timeout)
        except urllib.error.HTTPError as e:
            raw = e.read().decode("utf-8", "replace")
            try:
                doc = json.loads(raw)
                raise AdminFailed(e.code, doc.get("Code", ""), doc.get("Message", raw)) from None
            except (ValueError, AttributeError):
                raise AdminFailed(e.code, "", raw.strip() or str(e)) from None

    def call(self, method: str, path: str, query: dict[str, str] | None = None, body: bytes = b"") -> bytes:
        with self.open(method, path, query, body) as r:
            return r.read()

    # -- users (madmin wire formats) -----------------------------------------------
    def add_user(self, access_key: str, secret_key: str, policies: list[str] | None = None) -> None:
        doc: dict[str, Any] = {"secretKey": secret_key, "status": "enabled"}
        if policies:
            doc["policy"] = ",".join(policies)
        self.call(
            "PUT", f"{V3}/add-user", {"accessKey": access_key}, encrypt_data(self.secret, json.dumps(doc).encode())
        )

    def list_users(self) -> dict[str, Any]:
        return json.loads(decrypt_data(self.secret, self.call("GET", f"{V3}/list-users")))

    def user_info(self, access_key: str) -> dict[str, Any]:
        return json.loads(self.call("GET", f"{V3}/user-info", {"accessKey": access_key}))

    def set_status(self, access_key: str, status: str) -> None:
        self.call("PUT", f"{V3}/set-user-status", {"accessKey": access_key, "status": status})

    def remove_user(self, access_key: str) -> None:
        self.call("DELETE", f"{V3}/remove-user", {"accessKey": access_key})

    # -- policies -------------------------------------------------------------------
    def list_policies(self) -> dict[str, Any]:
        return json.loads(self.call("GET", f"{V3}/list-canned-policies"))

    def policy_info(self, name: str) -> dict[str, Any]:
        return json.loads(self.call("GET", f"{V3}/info-canned-policy", {"name": name}))

    def create_policy(self, name: str, document: bytes) -> None:
        self.call("PUT", f"{V3}/add-canned-policy", {"name": name}, document)

    def remove_policy(self, name: str) -> None:
        self.call("DELETE", f"{V3}/remove-canned-policy", {"name": name})

    def attach(self, user: str, names: list[str], attach: bool = True, group: str = "") -> dict[str, Any]:
        doc = {"policies": names, "group": group} if group else {"policies": names, "user": user}
        body = encrypt_data(self.secret, json.dumps(doc).encode())
        raw = self.call("POST", f"{V3}/idp/builtin/policy/{'attach' if attach else 'detach'}", None, body)
        return json.loads(decrypt_data(self.secret, raw))

    # -- service accounts (madmin wire formats: sealed bodies both ways) -------------------
    def _sealed(
        self, method: str, path: str, query: dict[str, str] | None = None, doc: dict[str, Any] | None = None
    ) -> Any:
        body = encrypt_data(self.secret, json.dumps(doc).encode()) if doc is not None else b""
        raw = self.call(method, path, query, body)
        return json.loads(decrypt_data(self.secret, raw)) if raw else None

    def add_svcacct(self, doc: dict[str, Any]) -> dict[str, Any]:
        return self._sealed("PUT", f"{V3}/add-service-account", None, doc)["credentials"]

    def list_svcaccts(self, user: str = "") -> list[dict[str, Any]]:
        return self._sealed("GET", f"{V3}/list-service-accounts", {"user": user} if user else None)["accounts"] or []

    def svcacct_info(self, access_key: str) -> dict[str, Any]:
        return self._sealed("GET", f"{V3}/info-service-account", {"accessKey": access_key})

    def edit_svcacct(self, access_key: str, doc: dict[str, Any]) -> None:
        self._sealed("POST", f"{V3}/update-service-account", {"accessKey": access_key}, doc)

    def remove_svcacct(self, access_key: str) -> None:
        self.call("DELETE", f"{V3}/delete-service-account", {"accessKey": access_key})

    # -- groups ---------------------------------------------------------------------
    def update_group(self, group: str, members: list[str], remove: bool = False) -> None:
        doc = {"group": group, "members": members, "isRemove": remove}
        self.call("PUT", f"{V3}/update-group-members", None, json.dumps(doc).encode())

    def group_info(self, group: str) -> dict[str, Any]:
        return json.loads(self.call("GET", f"{V3}/group", {"group": group}))

    def list_groups(self) -> list[str]:
        return json.loads(self.call("GET", f"{V3}/groups"))

    def set_group_status(self, group: str, status: str) -> None:
        self.call("PUT", f"{V3}/set-group-status", {"group": group, "status": status})

    # -- s3gw's own -----------------------------------------------------------------
    def replication_targets(self, bucket: str = "") -> list[dict[str, Any]]:
        return json.loads(self.call("GET", f"{V1}/replicate/targets", {"bucket": bucket} if bucket else None))

    def add_replication_target(self, bucket: str, doc: dict[str, str]) -> dict[str, Any]:
        body = encrypt_data(self.secret, json.dumps(doc).encode())  # the secret key travels sealed
        return json.loads(self.call("PUT", f"{V1}/replicate/targets", {"bucket": bucket}, body))

    def remove_replication_target(self, bucket: str, arn: str) -> None:
        self.call("DELETE", f"{V1}/replicate/targets", {"bucket": bucket, "arn": arn})

    def replication_status(self) -> dict[str, Any]:
        return json.loads(self.call("GET", f"{V1}/replicate/status"))

    def replication_resync(self, bucket: str, arn: str = "") -> dict[str, Any]:
        q = {"bucket": bucket, **({"arn": arn} if arn else {})}
        return json.loads(self.call("POST", f"{V1}/replicate/resync", q))

    def maintenance(self, state: str | None = None, reason: str = "") -> dict[str, Any]:
        if state is None:
            return json.loads(self.call("GET", f"{V1}/maintenance"))
        q = {"state": state}
        if reason:
            q["reason"] = reason
        return json.loads(self.call("PUT", f"{V1}/maintenance", q))

    def kms(self, action: str, key: str = "") -> dict[str, Any]:
        """``status`` or ``rotate`` of a KMS key ("" the default key)."""
        q = {"key": key} if key else {}
        return json.loads(self.call("GET" if action == "status" else "POST", f"{V1}/kms/{action}", q))


# --------------------------------------------------------------------------- argparse


def _common(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--endpoint", default=os.environ.get("S3GW_ENDPOINT", "http://127.0.0.1:8080"))
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--json", action="store_true", help="print JSON")
    ap.add_argument("--log-level", default="WARNING")


def _svcacct_options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--policy", default="", help="embedded policy (JSON file, - for stdin): narrows the user's")
    ap.add_argument("--name", default="")
    ap.add_argument("--description", default="")
    ap.add_argument("--expiry", default="", help="expires after DURATION (e.g. 30d, 12h; 15m to 365d)")


def add_admin_parsers(asub: Any) -> None:
    u = asub.add_parser("user", help="users: add, list, info, disable, enable, remove")
    usub = u.add_subparsers(dest="user_command", required=True)
    ua = usub.add_parser("add", help="create a user (or set its secret); the secret is read from stdin if omitted")
    ua.add_argument("access_key")
    ua.add_argument("secret_key", nargs="?")
    ua.add_argument("--policy", default="", help="policies to attach, comma separated (e.g. readwrite)")
    _common(ua)
    for name, hlp in (
        ("list", "every user"),
        ("info", "one user"),
        ("disable", "refuse the user's requests"),
        ("enable", "accept the user's requests again"),
        ("remove", "delete the user"),
    ):
        ap = usub.add_parser(name, help=hlp)
        if name != "list":
            ap.add_argument("access_key")
        _common(ap)

    p = asub.add_parser("policy", help="policies: list, info, create, remove, attach, detach")
    psub = p.add_subparsers(dest="policy_command", required=True)
    _common(psub.add_parser("list", help="canned and stored policies"))
    pi = psub.add_parser("info", help="a policy document")
    pi.add_argument("name")
    _common(pi)
    pc = psub.add_parser("create", help="store an IAM policy document (JSON file, - for stdin)")
    pc.add_argument("name")
    pc.add_argument("file")
    _common(pc)
    pr = psub.add_parser("remove", help="delete a stored policy")
    pr.add_argument("name")
    _common(pr)
    for name in ("attach", "detach"):
        pa = psub.add_parser(name, help=f"{name} policies to/from a user or a group")
        pa.add_argument("names", help="policy names, comma separated")
        who = pa.add_mutually_exclusive_group(required=True)
        who.add_argument("--user")
        who.add_argument("--group")
        _common(pa)

    g = asub.add_parser("group", help="groups of users: add, rm, info, ls, enable, disable")
    gsub = g.add_subparsers(dest="group_command", required=True)
    ga = gsub.add_parser("add", help="add users to a group (created when new)")
    ga.add_argument("group")
    ga.add_argument("members", nargs="+")
    _common(ga)
    gr = gsub.add_parser("rm", help="remove users from a group; with none, remove the (empty) group")
    gr.add_argument("group")
    gr.add_argument("members", nargs="*")
    _common(gr)
    _common(gsub.add_parser("ls", help="every group"))
    for name, hlp in (
        ("info", "a group's status, policies and members"),
        ("enable", "its policies apply to its members again"),
        ("disable", "its policies apply to nobody"),
    ):
        gp = gsub.add_parser(name, help=hlp)
        gp.add_argument("group")
        _common(gp)

    sa = asub.add_parser(
        "svcacct", help="service accounts (access keys) of a user: add, ls, info, edit, rm, enable, disable"
    )
    sasub = sa.add_subparsers(dest="svcacct_command", required=True)
    sadd = sasub.add_parser("add", help="a new access key for USER (generated unless --access-key/--secret-key)")
    sadd.add_argument("user")
    sadd.add_argument("--access-key", default="")
    sadd.add_argument("--secret-key", default="")
    _svcacct_options(sadd)
    _common(sadd)
    sls = sasub.add_parser("ls", help="a user's service accounts")
    sls.add_argument("user")
    _common(sls)
    for name, hlp in (
        ("info", "one service account (--policy: its effective policy)"),
        ("rm", "remove a service account"),
        ("enable", "accept its requests again"),
        ("disable", "refuse its requests"),
    ):
        sp = sasub.add_parser(name, help=hlp)
        sp.add_argument("access_key")
        if name == "info":
            sp.add_argument("--policy", action="store_true", help="print the policy document")
        _common(sp)
    sed = sasub.add_parser("edit", help="change a service account's secret, policy, name, description or expiry")
    sed.add_argument("access_key")
    sed.add_argument("--secret-key", default="")
    _svcacct_options(sed)
    _common(sed)

    m = asub.add_parser("maintenance", help="maintenance mode: writes refused, reads served")
    m.add_argument("state", choices=("on", "off", "status"))
    m.add_argument("--reason", default="")
    _common(m)

    e = asub.add_parser("export-manifest", help="every object version with its shard placement, as JSON lines")
    e.add_argument("--output", "-o", default="-", help="file (default: stdout)")
    e.add_argument("--bucket", default="")
    e.add_argument("--prefix", default="")
    _common(e)

    b = asub.add_parser("backup", help="consistent backup of the metadata (SQLite backup API / pg_dump)")
    b.add_argument("--output", "-o", required=True, help="backup file to write")
    _common(b)

    k = asub.add_parser("kms", help="server-side encryption keys: status, rotate, rewrap")
    ksub = k.add_subparsers(dest="kms_command", required=True)
    for name, hlp in (
        ("status", "a key's versions, when each was made, how many objects each protects, its rotation"),
        ("rotate", "make a new version of a key, current from now on (old ones keep decrypting)"),
    ):
        kp = ksub.add_parser(name, help=hlp)
        kp.add_argument("key", nargs="?", default="", help="the key (default: the KMS's default key)")
        _common(kp)
    kr = ksub.add_parser(
        "rewrap", help="re-seal every SSE-S3/SSE-KMS object's data key under the current master key version"
    )
    kr.add_argument("bucket", nargs="?", default="", help="only this bucket (default: every bucket)")
    _common(kr)

    rp = asub.add_parser("replicate", help="bucket replication: remote targets (add, ls, rm), status, resync")
    rpsub = rp.add_subparsers(dest="replicate_command", required=True)
    ra = rpsub.add_parser(
        "add", help="add a remote target of SOURCE_BUCKET; prints its ARN (use it, or arn:aws:s3:::BUCKET, in rules)"
    )
    ra.add_argument("bucket", metavar="SOURCE_BUCKET")
    ra.add_argument("target", metavar="TARGET_URL/BUCKET", help="e.g. https://dr.example.com:9000/backup")
    ra.add_argument("--access-key", required=True, help="an access key of the target allowed to write there")
    ra.add_argument("--secret-key-file", required=True, help="a file holding its secret key (- for stdin)")
    ra.add_argument("--target-region", default="", help="the target's region (default us-east-1)")
    _common(ra)
    rl = rpsub.add_parser("ls", help="remote targets (every bucket's, or one's); secrets are never shown")
    rl.add_argument("bucket", nargs="?", default="", metavar="SOURCE_BUCKET")
    _common(rl)
    rr = rpsub.add_parser("rm", help="remove a remote target (refused while a replication rule uses it)")
    rr.add_argument("bucket", metavar="SOURCE_BUCKET")
    rr.add_argument("arn")
    _common(rr)
    _common(rpsub.add_parser("status", help="the replication queue: pending, bytes, lag, failures per target"))
    rs = rpsub.add_parser("resync", help="queue a bucket's existing objects (rules with ExistingObjectReplication)")
    rs.add_argument("bucket", metavar="SOURCE_BUCKET")
    rs.add_argument("--arn", default="", help="only this target")
    _common(rs)

    r = asub.add_parser("restore", help="restore a metadata backup into a STOPPED deployment")
    r.add_argument("file", help="a file written by s3gw admin backup")
    where = r.add_mutually_exclusive_group(required=True)
    where.add_argument("--data", help="the data directory: writes DATA/meta/s3gw.db (SQLite backups)")
    where.add_argument("--database-url", help="postgresql://... to pg_restore into (pg_dump backups)")
    r.add_argument("--force", action="store_true", help="replace an existing SQLite database")
    _common(r)  # --endpoint is accepted for uniformity and ignored: restore works on stopped stores


# --------------------------------------------------------------------------- running


def _progress(tty: bool, text: str, out: TextIO = sys.stderr) -> None:
    print(("\r" if tty else "") + text, end="" if tty else "\n", file=out, flush=True)


def run(args: argparse.Namespace, root: tuple[str, str]) -> int:
    try:
        if args.admin_command == "restore":
            return _restore(args)
        client = OpsClient(args.endpoint, root[0], root[1], args.region)
        cmd = args.admin_command
        if cmd == "user":
            return _user(args, client)
        if cmd == "policy":
            return _policy(args, client)
        if cmd == "svcacct":
            return _svcacct(args, client)
        if cmd == "group":
            return _group(args, client)
        if cmd == "maintenance":
            st = client.maintenance(None if args.state == "status" else args.state, args.reason)
            if args.json:
                print(json.dumps(st))
            else:
                since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(st["since"])) if st.get("since") else ""
                print(
                    "maintenance mode: "
                    + (
                        f"ON since {since} by {st.get('by') or '?'}"
                        + (f" ({st['reason']})" if st.get("reason") else "")
                        if st["enabled"]
                        else "off"
                    )
                )
            return 0
        if cmd == "export-manifest":
            return _manifest(args, client)
        if cmd == "kms":
            return _kms(args, client)
        if cmd == "replicate":
            return _replicate(args, client)
        if cmd == "backup":
            return _backup(args, client)
    except AdminFailed as e:
        if getattr(args, "json", False):
            print(json.dumps({"ok": False, "status": e.status, "code": e.code, "message": e.message}))
        print(f"s3gw admin: {e}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        print(f"s3gw admin: {e}", file=sys.stderr)
        return 2
    return 2


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts)) if ts else "?"


def kms_report(st: dict[str, Any]) -> str:
    """``s3gw admin kms status``'s text: the key, then a line per version (the current one marked)."""
    rotation = (
        f"every {st['rotation_period'] / 86400:g} days, next {_when(st['next_rotation'])}"
        if st.get("rotation_period")
        else ("on (the KMS's own schedule)" if st.get("rotation_enabled") else "off (s3gw admin kms rotate)")
    )
    lines = [
        f"key {st['key_id']} ({st['backend']}{', default' if st.get('default') else ''})",
        f"  rotation: {rotation}",
        f"  objects: {'?' if st.get('objects') is None else st['objects']}",
        "  version  created                  objects",
    ]
    for v in st["versions"]:
        objects = "?" if v["objects"] is None else str(v["objects"])
        mark = "  (current)" if v["version"] == st["current"] else ""
        lines.append(f"  {v['version']:>7}  {_when(v['created']):<23}  {objects:>7}{mark}")
    return "\n".join(lines)


def split_target(target: str) -> tuple[str, str]:
    """``http(s)://host[:port]/BUCKET`` -> (endpoint, bucket)."""
    scheme, sep, rest = target.partition("://")
    host, _, bucket = rest.partition("/")
    bucket = bucket.strip("/")
    if not sep or scheme not in ("http", "https") or not host or not bucket or "/" in bucket:
        raise ValueError(f"the target must be http(s)://HOST[:PORT]/BUCKET, not {target!r}")
    return f"{scheme}://{host}", bucket


def _replicate(args: argparse.Namespace, c: OpsClient) -> int:
    sub = args.replicate_command
    if sub == "add":
        endpoint, bucket = split_target(args.target)
        if args.secret_key_file == "-":
            secret = sys.stdin.readline().rstrip("\r\n")
        else:
            with open(args.secret_key_file) as f:
                secret = f.read().strip()
        doc = {
            "endpoint": endpoint,
            "targetBucket": bucket,
            "accessKey": args.access_key,
            "secretKey": secret,
            "region": args.target_region,
        }
        arn = c.add_replication_target(args.bucket, doc)["arn"]
        return _ok(args, arn, arn=arn)
    if sub == "rm":
        c.remove_replication_target(args.bucket, args.arn)
        return _ok(args, f"removed {args.arn}", arn=args.arn)
    if sub == "resync":
        n = c.replication_resync(args.bucket, args.arn)["queued"]
        return _ok(args, f"{n} versions queued", queued=n)
    if sub == "status":
        st = c.replication_status()
        if args.json:
            print(json.dumps(st))
            return 0
        print(
            f"pending {st.get('pending', 0)} ({st.get('pending_bytes', 0)} bytes), "
            f"oldest {st.get('oldest_pending_seconds', 0):.0f}s, failed {st.get('failed', 0)}"
        )
        for arn, t in sorted(st.get("targets", {}).items()):
            print(f"  {arn}: pending {t.get('pending', 0)}, failed {t.get('dead', 0)}")
        return 0
    targets = c.replication_targets(args.bucket)
    if args.json:
        print(json.dumps(targets))
        return 0
    for t in targets:
        print(f"{t['sourcebucket']:<20} {t['endpoint']}/{t['targetbucket']}  {t['arn']}  (access key {t['accessKey']})")
    return 0


def _kms(args: argparse.Namespace, c: OpsClient) -> int:
    if args.kms_command == "rewrap":
        return _rewrap(args, c)
    st = c.kms(args.kms_command, args.key)
    print(json.dumps(st) if args.json else kms_report(st))
    return 0


def _ok(args: argparse.Namespace, text: str, **doc: Any) -> int:
    print(json.dumps({"ok": True, **doc}) if args.json else text)
    return 0


def _user(args: argparse.Namespace, c: OpsClient) -> int:
    sub = args.user_command
    if sub == "add":
        secret = args.secret_key
        if secret is None:
            secret = sys.stdin.readline().rstrip("\r\n")
        policies = [p for p in args.policy.split(",") if p]
        c.add_user(args.access_key, secret, policies or None)
        return _ok(
            args,
            f"added user {args.access_key}" + (f" with {','.join(policies)}" if policies else ""),
            access_key=args.access_key,
            policies=policies,
        )
    if sub == "list":
        users = c.list_users()
        rows = [
            {
                "access_key": k,
                "status": v.get("status", ""),
                "policies": [p for p in v.get("policyName", "").split(",") if p],
                "updated": v.get("updatedAt"),
            }
            for k, v in sorted(users.items())
        ]
        if args.json:
            print(json.dumps({"users": rows}))
        else:
            for r in rows:
                print(f"{r['status']:<9} {r['access_key']:<32} {','.join(r['policies']) or '-'}")
        return 0
    if sub == "info":
        info = c.user_info(args.access_key)
        doc = {
            "access_key": args.access_key,
            "status": info.get("status"),
            "policies": [p for p in info.get("policyName", "").split(",") if p],
            "updated": info.get("updatedAt"),
        }
        return _ok(args, f"{doc['access_key']}: {doc['status']}, policies {','.join(doc['policies']) or '-'}", **doc)
    if sub in ("disable", "enable"):
        c.set_status(args.access_key, "disabled" if sub == "disable" else "enabled")
        return _ok(
            args,
            f"user {args.access_key} {sub}d",
            access_key=args.access_key,
            status="disabled" if sub == "disable" else "enabled",
        )
    c.remove_user(args.access_key)
    return _ok(args, f"removed user {args.access_key}", access_key=args.access_key)


def _policy(args: argparse.Namespace, c: OpsClient) -> int:
    sub = args.policy_command
    if sub == "list":
        policies = c.list_policies()
        if args.json:
            print(json.dumps({"policies": policies}))
        else:
            for name in sorted(policies):
                print(name)
        return 0
    if sub == "info":
        doc = c.policy_info(args.name)
        print(json.dumps(doc, indent=None if args.json else 2))
        return 0
    if sub == "create":
        data = sys.stdin.buffer.read() if args.file == "-" else open(args.file, "rb").read()
        c.create_policy(args.name, data)
        return _ok(args, f"stored policy {args.name}", name=args.name)
    if sub == "remove":
        c.remove_policy(args.name)
        return _ok(args, f"removed policy {args.name}", name=args.name)
    names = [n for n in args.names.split(",") if n]
    res = c.attach(args.user or "", names, attach=sub == "attach", group=args.group or "")
    changed = res.get("policiesAttached" if sub == "attach" else "policiesDetached") or []
    who = args.user or f"group {args.group}"
    return _ok(
        args,
        f"{sub}ed {','.join(changed)} {'to' if sub == 'attach' else 'from'} {who}",
        user=args.user,
        group=args.group,
        changed=changed,
    )


def _group(args: argparse.Namespace, c: OpsClient) -> int:
    sub = args.group_command
    if sub == "add":
        c.update_group(args.group, args.members)
        return _ok(
            args, f"added {','.join(args.members)} to group {args.group}", group=args.group, members=args.members
        )
    if sub == "rm":
        c.update_group(args.group, args.members, remove=True)
        return _ok(
            args,
            f"removed {','.join(args.members)} from group {args.group}"
            if args.members
            else f"removed group {args.group}",
            group=args.group,
            members=args.members,
        )
    if sub == "ls":
        groups = c.list_groups()
        print(json.dumps({"groups": groups}) if args.json else "\n".join(groups))
        return 0
    if sub == "info":
        g = c.group_info(args.group)
        doc = {
            "group": g["name"],
            "status": g["status"],
            "members": g.get("members") or [],
            "policies": [p for p in g.get("policy", "").split(",") if p],
        }
        return _ok(
            args,
            f"{doc['group']}: {doc['status']}, policies {','.join(doc['policies']) or '-'}, "
            f"members {','.join(doc['members']) or '-'}",
            **doc,
        )
    c.set_group_status(args.group, "enabled" if sub == "enable" else "disabled")
    return _ok(args, f"group {args.group} {sub}d", group=args.group)


def _rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _svcacct_doc(args: argparse.Namespace, prefix: str = "") -> dict[str, Any]:
    """The madmin request fields the options give (``prefix``: "new" for update-service-account)."""

    def key(name: str) -> str:
        return prefix + name[0].upper() + name[1:] if prefix else name

    doc: dict[str, Any] = {}
    if args.policy:
        data = sys.stdin.read() if args.policy == "-" else open(args.policy).read()
        doc[key("policy")] = json.loads(data)
    for name in ("name", "description"):
        if getattr(args, name):
            doc[key(name)] = getattr(args, name)
    if args.expiry:
        doc[key("expiration")] = _rfc3339(time.time() + parse_duration(args.expiry))
    return doc


def _svcacct(args: argparse.Namespace, c: OpsClient) -> int:
    sub = args.svcacct_command
    if sub == "add":
        doc = {"targetUser": args.user, **_svcacct_doc(args)}
        if args.access_key or args.secret_key:
            doc.update(accessKey=args.access_key, secretKey=args.secret_key)
        cred = c.add_svcacct(doc)
        exp = cred.get("expiration", "")
        exp = "" if exp.startswith(("1970-", "0001-")) else exp
        out = {"access_key": cred["accessKey"], "secret_key": cred["secretKey"], "expiration": exp or None}
        if args.json:
            print(json.dumps({"ok": True, **out}))
        else:
            print(f"Access Key: {out['access_key']}\nSecret Key: {out['secret_key']}\nExpiration: {exp or 'no-expiry'}")
        return 0
    if sub == "ls":
        rows = c.list_svcaccts(args.user)
        if args.json:
            print(json.dumps({"accounts": rows}))
        else:
            for r in rows:
                exp = r.get("expiration", "")
                print(
                    f"{r['accessKey']:<22} {r['accountStatus']:<4} "
                    f"{'no-expiry' if exp.startswith(('1970-', '0001-')) else exp:<22} {r.get('name', '')}"
                )
        return 0
    if sub == "info":
        info = c.svcacct_info(args.access_key)
        if args.json:
            print(json.dumps({"access_key": args.access_key, **info}))
        elif args.policy:
            print(info.get("policy", ""))
        else:
            print(
                f"AccessKey: {args.access_key}\nParentUser: {info.get('parentUser')}\n"
                f"Status: {info.get('accountStatus')}\nName: {info.get('name', '')}\n"
                f"Description: {info.get('description', '')}\n"
                f"Policy: {'implied' if info.get('impliedPolicy') else 'embedded'}\n"
                f"Expiration: {info.get('expiration') or 'no-expiry'}"
            )
        return 0
    if sub == "rm":
        c.remove_svcacct(args.access_key)
        return _ok(args, f"removed service account {args.access_key}", access_key=args.access_key)
    if sub in ("enable", "disable"):
        c.edit_svcacct(args.access_key, {"newStatus": "on" if sub == "enable" else "off"})
        return _ok(
            args,
            f"service account {args.access_key} {sub}d",
            access_key=args.access_key,
            status="enabled" if sub == "enable" else "disabled",
        )
    doc = _svcacct_doc(args, "new")
    if args.secret_key:
        doc["newSecretKey"] = args.secret_key
    if not doc:
        raise ValueError("nothing to change: give --secret-key, --policy, --name, --description or --expiry")
    c.edit_svcacct(args.access_key, doc)
    return _ok(args, f"edited service account {args.access_key}", access_key=args.access_key)


def _rewrap(args: argparse.Namespace, c: OpsClient) -> int:
    """``s3gw admin kms rewrap [BUCKET]``: progress on stderr, the summary at the end. Running it
    again after an interruption carries on (versions already re-sealed are skipped)."""
    q = {"bucket": args.bucket} if args.bucket else {}
    tty = sys.stderr.isatty()
    final: dict[str, Any] = {}
    with c.open("POST", f"{V1}/kms/rewrap", q, timeout=None) as r:
        for line in r:
            if not line.strip():
                continue
            doc = json.loads(line)
            if doc.get("done"):
                final = doc
                break
            _progress(tty, f"rewrap: {doc['scanned']} versions, {doc['rewrapped']} re-sealed, {doc['failed']} failed")
    if tty:
        print(file=sys.stderr)
    if not final:
        raise OSError("the rewrap stream ended early (no summary line): run it again to carry on")
    final.pop("done")
    _ok(
        args,
        f"rewrap: {final['scanned']} versions, {final['encrypted']} encrypted by the KMS, {final['rewrapped']} "
        f"re-sealed, {final['current']} already current, {final['failed']} failed",
        **final,
    )
    return 1 if final["failed"] else 0


def _manifest(args: argparse.Namespace, c: OpsClient) -> int:
    q = {k: v for k, v in (("bucket", args.bucket), ("prefix", args.prefix)) if v}
    to_stdout = args.output == "-"
    tmp = None if to_stdout else args.output + ".partial"
    out = sys.stdout.buffer if to_stdout else open(tmp, "wb")  # type: ignore[arg-type]
    tty = sys.stderr.isatty()
    summary: dict[str, Any] = {}
    lines = 0
    started = time.monotonic()
    try:
        with c.open("GET", f"{V1}/manifest", q, timeout=None) as r:
            for line in r:
                if line.startswith(b'{"summary"'):
                    summary = json.loads(line)["summary"]
                    continue
                out.write(line)
                lines += 1
                if lines % 1000 == 0:
                    _progress(tty, f"exported {lines} versions ({time.monotonic() - started:.0f}s)")
        out.flush()
    finally:
        if not to_stdout:
            out.close()
    if not summary:
        raise OSError("the manifest stream ended early (no summary line)")
    if tmp is not None:
        os.replace(tmp, args.output)
    if tty and lines >= 1000:
        print(file=sys.stderr)
    doc = {**summary, "output": args.output, "lines": lines}
    msg = f"manifest: {summary['versions']} versions, {summary['objects']} objects, {summary['bytes']} bytes"
    if args.json and not to_stdout:
        print(json.dumps({"ok": True, **doc}))
    else:
        print(msg + ("" if to_stdout else f" -> {args.output}"), file=sys.stderr if to_stdout else sys.stdout)
    return 0


def _backup(args: argparse.Namespace, c: OpsClient) -> int:
    tmp = args.output + ".partial"
    tty = sys.stderr.isatty()
    done = 0
    with c.open("GET", f"{V1}/backup", timeout=None) as r, open(tmp, "wb") as f:
        total = int(r.headers.get("Content-Length") or 0)
        kind = r.headers.get("x-s3gw-backup-format", "")
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            f.write(chunk)
            done += len(chunk)
            if tty:
                _progress(True, f"backup: {done >> 20} / {total >> 20} MiB")
        f.flush()
        os.fsync(f.fileno())
    if total and done != total:
        os.unlink(tmp)
        raise OSError(f"backup truncated: {done} of {total} bytes")
    os.replace(tmp, args.output)
    if tty:
        print(file=sys.stderr)
    return _ok(args, f"backup ({kind}, {done} bytes) -> {args.output}", output=args.output, bytes=done, format=kind)


def backup_kind(path: str) -> str:
    with open(path, "rb") as f:
        head = f.read(16)
    if head == b"SQLite format 3\x00":
        return "sqlite"
    if head.startswith(b"PGDMP"):
        return "pg_dump"
    raise ValueError(f"{path} is neither an SQLite database nor a pg_dump archive")


def _restore(args: argparse.Namespace) -> int:
    kind = backup_kind(args.file)
    if args.data:
        if kind != "sqlite":
            raise ValueError("a pg_dump backup restores with --database-url")
        check_sqlite_backup(args.file)
        dest = os.path.join(args.data, "meta", "s3gw.db")
        if os.path.exists(dest) and not args.force:
            raise ValueError(f"{dest} exists: stop the gateway and give --force to replace it")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        for suffix in ("-wal", "-shm"):  # a stale WAL must not be replayed over the restored file
            if os.path.exists(dest + suffix):
                os.unlink(dest + suffix)
        tmp = dest + ".restore"
        shutil.copyfile(args.file, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dest)
        return _ok(args, f"restored {args.file} -> {dest}", output=dest, format=kind)
    if kind != "pg_dump":
        raise ValueError("an SQLite backup restores with --data")
    from .meta.postgres import dsn_command_args

    conn, env = dsn_command_args(args.database_url)
    cp = subprocess.run(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            *conn,
            args.file,
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    if cp.returncode != 0:
        print(cp.stderr.strip(), file=sys.stderr)
        return 1
    return _ok(args, f"restored {args.file} into the database", format=kind)


def check_sqlite_backup(path: str) -> None:
    """A usable s3gw metadata file: intact, with the s3gw schema."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        ok = db.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            raise ValueError(f"{path}: integrity check failed: {ok}")
        if db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] is None:
            raise ValueError(f"{path}: no s3gw schema")
    except sqlite3.DatabaseError as e:
        raise ValueError(f"{path}: not an s3gw metadata database ({e})") from None
    finally:
        db.close()

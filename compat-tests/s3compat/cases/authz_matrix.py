"""The authorisation matrix (tests/authz_matrix.py) side by side: the same requests, by the
same kinds of users, against s3gw and MinIO; the two must agree on allowed or AccessDenied.

One case per caller and row (``authz.<caller>.<row>``, e.g. ``authz.readonly.GetObject+version``);
its observation is the decision for each target the row is sent to (``{"main/pub": "allow",
"main/private": "deny", ...}``). Users are real on both: on MinIO (and any other endpoint)
created with ``mc admin user add`` / ``mc admin policy create`` / ``mc admin policy attach``, on
s3gw with ``s3gw admin user add --policy`` / ``s3gw admin policy create``; so are the other
callers: a group's member (``group add``, ``policy attach --group``), a service account with an
embedded policy (``svcacct add --policy``) and temporary credentials with a session policy
(boto3's ``sts.assume_role`` on each target).

Where MinIO decides otherwise (s3gw follows AWS where MinIO is laxer), the difference is one
of the rules in ``RULES``, modelled in ``minio_decision``; ``divergences()`` lists, for
compat-tests/divergences.py, exactly the cases those rules change, each with its reasons.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from .. import clients
from ..core import SetupFailed, add, empty_and_delete
from ..targets import REPO

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests import authz_matrix as M  # noqa: E402  (one definition for the functional and the compat matrix)

BOUNDARY = "compatMatrixBoundary5e2a"


def _s3gw_admin(t, *args: str) -> None:
    env = {**os.environ, "S3GW_ROOT_USER": t.access_key, "S3GW_ROOT_PASSWORD": t.secret_key, "PYTHONPATH": str(REPO)}
    r = subprocess.run(
        [sys.executable, "-m", "s3gw.cli", "admin", *args, "--endpoint", t.url],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if r.returncode != 0:
        raise SetupFailed(f"s3gw admin {' '.join(args[:3])}: {r.stderr.strip()[-300:]}")


def _mc_admin(c, *args: str) -> None:
    r = c.mc("admin", *args)
    if r.rc != 0:
        raise SetupFailed(f"mc admin {' '.join(args[:3])}: {r.errors or r.err.strip()[-300:]}")


def _make_users(c, w: M.World, token: str) -> dict[str, tuple[str, str, str | None]]:
    """One set of credentials per caller (``Caller.kind``): users, a group's member, a service
    account and temporary credentials, made with ``s3gw admin`` on s3gw and ``mc admin`` / STS
    elsewhere; each as (access key, secret key, session token)."""
    t = c.t
    for logical, make in M.STORED.items():
        path = c.file(f"authz-{logical}.json", M.json_policy(make(w)).encode())
        if t.kind == "s3gw":
            _s3gw_admin(t, "policy", "create", w.policies[logical], str(path))
        else:
            _mc_admin(c, "policy", "create", "t", w.policies[logical], str(path))
    keys: dict[str, tuple[str, str, str | None]] = {}
    groups = []
    for i, caller in enumerate(M.CALLERS):
        if caller.anonymous:
            continue
        name, secret = f"mx{token}{i}", f"mx-secret-{token}-{i}"
        held = ",".join(caller.policy_names(w))
        if caller.kind == "group":
            group = f"mxg{token}{i}"
            groups.append(group)
            if t.kind == "s3gw":
                _s3gw_admin(t, "user", "add", name, secret)
                _s3gw_admin(t, "group", "add", group, name)
                _s3gw_admin(t, "policy", "attach", held, "--group", group)
            else:
                _mc_admin(c, "user", "add", "t", name, secret)
                _mc_admin(c, "group", "add", "t", group, name)
                _mc_admin(c, "policy", "attach", "t", *caller.policy_names(w), "--group", group)
        elif t.kind == "s3gw":
            _s3gw_admin(t, "user", "add", name, secret, "--policy", held)
        else:
            _mc_admin(c, "user", "add", "t", name, secret)
            _mc_admin(c, "policy", "attach", "t", *caller.policy_names(w), "--user", name)
        keys[caller.name] = (name, secret, None)
        if caller.kind == "svcacct":
            own = c.file(f"authz-own-{i}.json", M.json_policy(caller.own_documents(w)[0]).encode())
            key, ksecret = f"MXSA{token}{i}"[:20], f"mx-svc-secret-{token}-{i}"
            if t.kind == "s3gw":
                _s3gw_admin(
                    t, "svcacct", "add", name, "--access-key", key, "--secret-key", ksecret, "--policy", str(own)
                )
            else:
                _mc_admin(
                    c,
                    "user",
                    "svcacct",
                    "add",
                    "t",
                    name,
                    "--access-key",
                    key,
                    "--secret-key",
                    ksecret,
                    "--policy",
                    str(own),
                )
            keys[caller.name] = (key, ksecret, None)
        elif caller.kind == "sts":
            try:
                cred = clients.sts_with_keys(t, name, secret).assume_role(
                    RoleArn="arn:aws:iam::123456789012:role/matrix",
                    RoleSessionName="matrix",
                    DurationSeconds=43200,
                    Policy=M.json_policy(caller.own_documents(w)[0]),
                )["Credentials"]
            except Exception as e:  # noqa: BLE001 - any failure is the setup's
                raise SetupFailed(f"AssumeRole: {e}") from e
            keys[caller.name] = (cred["AccessKeyId"], cred["SecretAccessKey"], cred["SessionToken"])
    if t.kind == "external":  # a server the suite does not throw away: leave no users behind
        names = [f"mx{token}{i}" for i, caller in enumerate(M.CALLERS) if not caller.anonymous]
        t.cache.setdefault("finalizers", []).append(
            lambda: [
                *(c.mc("admin", "group", "remove", "t", g, *names) for g in groups),
                *(c.mc("admin", "group", "remove", "t", g) for g in groups),
                *(c.mc("admin", "user", "remove", "t", n) for n in names),
                *(c.mc("admin", "policy", "remove", "t", p) for p in w.policies.values()),
            ]
        )
    return keys


def _restore(c, w: M.World) -> None:
    for logical, make in M.BUCKET_POLICIES.items():
        c.setup(lambda: c.admin.put_bucket_policy(Bucket=w.b(logical), Policy=M.json_policy(make(w))))


def _world(c) -> tuple[M.World, dict[str, tuple[str, str]]]:
    """The buckets, objects, policies and users of the matrix on this target, made once."""
    cache = c.t.cache
    if "authz-world" not in cache:
        token = c.token
        w = M.World.named(f"c{token}-mx")
        try:
            for logical, kind in M.BUCKETS.items():
                name = w.b(logical)
                c.setup(lambda: c.admin.create_bucket(Bucket=name, ObjectLockEnabledForBucket=kind == "locked"))
                admin = c.admin
                cache.setdefault("finalizers", []).append(lambda name=name: empty_and_delete(admin, name))
                if kind == "versioned":
                    c.setup(
                        lambda: c.admin.put_bucket_versioning(
                            Bucket=name, VersioningConfiguration={"Status": "Enabled"}
                        )
                    )
                for key in M.OBJECTS:
                    w.versions[(logical, key)] = c.put(key, b"x", bucket=name)["VersionId"]
            _restore(c, w)
            keys = _make_users(c, w, token)
            cache["authz-world"] = (w, keys, None)
        except SetupFailed as e:
            cache["authz-world"] = (w, {}, str(e))
    w, keys, problem = cache["authz-world"]
    if problem:
        raise SetupFailed(problem)
    return w, keys


def _form(c, caller: M.Caller, keys: dict, req: M.Req) -> clients.RawResponse:
    bucket = req.path.strip("/")
    if caller.anonymous:
        fields: dict[str, Any] = {"key": req.form_key}
    else:
        access, secret, token = keys[caller.name]
        s3 = clients.boto3_with_keys(c.t, access, secret, session_token=token)
        fields = s3.generate_presigned_post(bucket, req.form_key)["fields"]
    body = bytearray()
    for name, value in fields.items():
        body += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    body += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'.encode()
    body += b"form\r\n" + f"--{BOUNDARY}--\r\n".encode()
    return c.raw.request(
        "POST",
        f"/{bucket}",
        headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
        body=bytes(body),
        sign=False,
    )


def _send(c, caller: M.Caller, keys: dict, req: M.Req) -> clients.RawResponse:
    if req.form_key is not None:
        return _form(c, caller, keys, req)
    if caller.anonymous:
        return c.raw.request(req.method, req.path, req.query, req.headers, req.body, sign=False)
    access, secret, token = keys[caller.name]
    headers = {**req.headers, "x-amz-security-token": token} if token else req.headers
    return c.raw.request(req.method, req.path, req.query, headers, req.body, access_key=access, secret_key=secret)


def _case(caller: M.Caller, row: M.Row):
    def fn(c) -> dict:
        w, keys = _world(c)
        out = {}
        for target in row.targets:
            req = row.build(w, target)
            try:
                r = _send(c, caller, keys, req)
            finally:
                if row.restore:
                    _restore(c, w)
            out[target.name] = M.outcome(req, r.status, r.body)
        return out

    fn.__doc__ = f"{caller.name} sends {row.id} to each of its targets"
    return fn


# --------------------------------------------------------------------------- MinIO's rules
# Where MinIO decides otherwise than AWS (which tests/authz_matrix.py models and s3gw follows),
# modelled here rule by rule from its handlers (cmd/*-handlers.go, cmd/auth-handler.go,
# cmd/api-router.go). The divergences of these cases are computed from them
# (``divergences()``): a case whose decisions differ between the two models is a strict
# expected divergence, with the reasons of the rules that make the difference. A wrong model
# shows as a failure: an undeclared difference, or a declared one that is not there (XPASS).

RULES: dict[str, str] = {
    "bucket-policy-users": "deliberate: a bucket policy binds users too (AWS: its Allow grants them, its Deny refuses "
    "them); MinIO consults it for anonymous callers only",
    "version-actions": "deliberate: a request naming a version (versionId, or a copy source's) also needs AWS's "
    "version action (s3:GetObjectVersion, s3:DeleteObjectVersion, s3:*VersionTagging, "
    "s3:*VersionAcl, s3:GetObjectVersionAttributes), as well as the plain one; MinIO checks only "
    "the plain action (only the version ones for GetObjectAttributes, only a Deny of "
    "s3:DeleteObjectVersion for signed deletes)",
    "tagging-header": "deliberate: x-amz-tagging on a write also needs s3:PutObjectTagging (AWS); MinIO does not check it",
    "authorise-first": "deliberate: s3gw authorises every request before answering NotImplemented; MinIO answers "
    "PUT ?website/?logging/?accelerate/?requestPayment, ?ownershipControls and ?torrent with "
    "501, and DELETE ?website with 204, without looking at the caller",
    "dummy-actions": "deliberate: ACL calls and the GETs of website/logging/accelerate/requestPayment need AWS's "
    "actions (s3:GetBucketAcl, s3:PutObjectAcl, s3:GetBucketWebsite, ...); MinIO checks "
    "s3:GetBucketPolicy / s3:PutBucketPolicy on the bucket for them",
    "ownership-delete": "MinIO routes DELETE ?ownershipControls to DeleteBucket (s3:DeleteBucket); s3gw answers "
    "DeleteBucketOwnershipControls (s3:PutBucketOwnershipControls, then NotImplemented)",
    "list-buckets": "deliberate: ListBuckets needs s3:ListAllMyBuckets (AWS); MinIO answers a user without it with "
    "the buckets it may list or locate (AccessDenied when there are none)",
    "retention-unlocked": "MinIO answers PutObjectRetention on a bucket without object lock with "
    "InvalidBucketObjectLockConfiguration before it authorises; s3gw authorises first",
    "list-versions": "deliberate: ListObjectVersions needs s3:ListBucketVersions (AWS); MinIO falls back to "
    "s3:ListBucket",
    "post-anonymous": "deliberate: an unsigned form upload is anonymous (AccessDenied unless a bucket policy lets "
    "everyone put); MinIO answers AuthorizationQueryParametersError",
}

#: operations MinIO answers without authorising (rule authorise-first)
MINIO_UNCHECKED = {
    "PutBucketWebsite",
    "DeleteBucketWebsite",
    "PutBucketLogging",
    "PutBucketAccelerateConfiguration",
    "PutBucketRequestPayment",
    "GetBucketOwnershipControls",
    "PutBucketOwnershipControls",
    "GetObjectTorrent",
}
#: operation -> the action MinIO checks on the bucket instead of AWS's (rules dummy-actions, ownership-delete)
MINIO_BUCKET_ACTIONS = {
    "GetBucketAcl": ("s3:GetBucketPolicy", "dummy-actions"),
    "GetObjectAcl": ("s3:GetBucketPolicy", "dummy-actions"),
    "PutBucketAcl": ("s3:PutBucketPolicy", "dummy-actions"),
    "PutObjectAcl": ("s3:PutBucketPolicy", "dummy-actions"),
    "GetBucketWebsite": ("s3:GetBucketPolicy", "dummy-actions"),
    "GetBucketLogging": ("s3:GetBucketPolicy", "dummy-actions"),
    "GetBucketAccelerateConfiguration": ("s3:GetBucketPolicy", "dummy-actions"),
    "GetBucketRequestPayment": ("s3:GetBucketPolicy", "dummy-actions"),
    "DeleteBucketOwnershipControls": ("s3:DeleteBucket", "ownership-delete"),
}


def _minio_allowed(c: M.Caller, w: M.World, need: M.Need, ctx: dict, rules: set[str]) -> bool:
    return M.allowed(c, w, need, ctx, users_bucket_policy="bucket-policy-users" not in rules)


def minio_decision(c: M.Caller, r: M.Row, w: M.World, t: M.Target, rules: set[str]) -> bool:
    """MinIO's decision for one cell, with the given rules of RULES applied (all: MinIO; none: AWS)."""
    ctx = M.context(r, w, t)
    op = r.op
    if "authorise-first" in rules and op in MINIO_UNCHECKED:
        return True
    if "post-anonymous" in rules and op == "PostObject" and c.anonymous:
        return True
    if "list-buckets" in rules and op == "ListBuckets" and not c.anonymous:
        return any(
            _minio_allowed(c, w, M.Need(a, w.arn(b)), {"s3:prefix": ""}, rules)
            for b in M.BUCKETS
            for a in ("s3:ListBucket", "s3:GetBucketLocation")
        )
    if "retention-unlocked" in rules and op == "PutObjectRetention" and M.BUCKETS[t.bucket] != "locked":
        return True
    needs = r.needs(w, t)
    if op in MINIO_BUCKET_ACTIONS and MINIO_BUCKET_ACTIONS[op][1] in rules:
        needs = [M.Need(MINIO_BUCKET_ACTIONS[op][0], w.arn(t.bucket))]
    deny_only: list[M.Need] = []
    if "version-actions" in rules and r.version:
        version_actions = set(M.VERSION_ACTIONS[op])
        if op == "GetObjectAttributes":  # MinIO: the version actions instead of the plain ones
            needs = [n for n in needs if n.action not in ("s3:GetObjectAttributes", "s3:GetObject")]
        else:
            deny_only = [n for n in needs if n.action == "s3:DeleteObjectVersion" and not c.anonymous]
            needs = [n for n in needs if n.action not in version_actions]
    if "version-actions" in rules:  # the copy source's version
        needs = [n for n in needs if not (n.action == "s3:GetObjectVersion" and op in ("CopyObject", "UploadPartCopy"))]
    if "tagging-header" in rules and "+tagging" in r.id:
        needs = [n for n in needs if n.action != "s3:PutObjectTagging"]
    for n in deny_only:
        if _denied(c, w, n, ctx):
            return False
    for n in needs:
        if _minio_allowed(c, w, n, ctx, rules):
            continue
        if (
            "list-versions" in rules
            and n.action == "s3:ListBucketVersions"
            and _minio_allowed(c, w, M.Need("s3:ListBucket", n.resource), ctx, rules)
        ):
            continue
        return False
    return True


def _denied(c: M.Caller, w: M.World, need: M.Need, ctx: dict) -> bool:
    """Does an explicit Deny of the caller's policies match? (MinIO's DenyOnly check of
    s3:DeleteObjectVersion for signed deletes of a version.) A derived credential's own policy
    must allow the action, not merely not deny it (MinIO's isAllowedBySessionPolicy: DenyOnly off)."""
    docs = c.documents(w)
    if any(st["Effect"] == "Deny" and M._applies(st, need, ctx, False) for d in docs for st in d["Statement"]):
        return True
    own = [st for d in c.own_documents(w) for st in d["Statement"]]
    return bool(own) and (
        any(st["Effect"] == "Deny" and M._applies(st, need, ctx, False) for st in own)
        or not any(st["Effect"] == "Allow" and M._applies(st, need, ctx, False) for st in own)
    )


def _observe(c: M.Caller, r: M.Row, w: M.World, rules: set[str]) -> dict[str, str]:
    return {t.name: "allow" if minio_decision(c, r, w, t, rules) else "deny" for t in r.targets}


def divergences() -> dict[str, str]:
    """case id -> reason, for every case where MinIO's rules and AWS's give other decisions."""
    w = M.World.named("model")
    for logical in M.BUCKETS:
        for key in M.OBJECTS:
            w.versions[(logical, key)] = "v"
    out = {}
    for c in M.CALLERS:
        for r in M.ROWS:
            aws = {t.name: "allow" if M.expected(c, r, w, t) else "deny" for t in r.targets}
            if _observe(c, r, w, set(RULES)) == aws:
                continue
            why = [name for name in RULES if _observe(c, r, w, {name}) != aws]
            out[f"authz.{c.name}.{r.id}"] = "; ".join(RULES[n] for n in why) or "MinIO's rules together"
    return out


for _caller in M.CALLERS:
    for _row in M.ROWS:
        add(
            f"authz.{_caller.name}.{_row.id}",
            _row.op,
            "http",
            _case(_caller, _row),
            {t.name: lambda v: v in ("allow", "deny") for t in _row.targets},
            bucket=None,
        )

"""Identities beyond users, the same commands on every target: service accounts (``mc admin
user svcacct``, ``mc admin accesskey``), groups (``mc admin group``, ``mc admin policy
entities``) and temporary credentials (boto3's ``sts.assume_role``, then S3 with them).

Every target is driven with mc (root's alias ``t``) and boto3 alike; what a case observes is
normalised to what both must agree on: no secrets, no generated names, no timestamps.
"""

from __future__ import annotations

import json
import time
from typing import Any

from botocore.exceptions import ClientError

from .. import clients
from ..core import SetupFailed, case
from .mc import obs

ROLE = {"RoleArn": "arn:aws:iam::123456789012:role/compat", "RoleSessionName": "compat"}


def _doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _read_pub(bucket: str) -> dict:
    return {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"arn:aws:s3:::{bucket}/pub/*"]}


def _admin(c, *args: str) -> Any:
    r = c.mc("admin", *args)
    if r.rc != 0:
        raise SetupFailed(f"mc admin {' '.join(args[:3])}: {r.errors or r.err.strip()[-300:]}")
    return r


def _user(c, suffix: str, *policies: str) -> tuple[str, str]:
    name, secret = f"u{c.token}{suffix}", f"secret-{c.token}-{suffix}"
    _admin(c, "user", "add", "t", name, secret)
    if policies:
        _admin(c, "policy", "attach", "t", *policies, "--user", name)
    c.t.cache.setdefault("finalizers", []).append(lambda: c.mc("admin", "user", "remove", "t", name))
    return name, secret


def _fill(c) -> None:
    for k in ("pub/a", "private/b"):
        c.put(k, k.encode())


def _mc(c, r, *names: str) -> dict:
    """An mc answer with the generated names it carries replaced by their roles."""
    o = obs(r, sort=False)
    text = json.dumps(o)
    for i, n in enumerate(names):
        text = text.replace(n, f"<name{i}>")
    out = json.loads(text)
    for ln in out["lines"]:
        ln.pop("secretKey", None)
        ln.pop("expiration", None)
        if not str(ln.get("accessKey", "<name")).startswith("<name"):
            ln.pop("accessKey")  # a generated key
        if isinstance(ln.get("policy"), dict):
            ln["policy"] = _policy_shape(ln["policy"])
    return out


def _policy_shape(doc: dict) -> list:
    """A policy as (effect, actions, resources) per statement: servers normalise the text differently."""
    return sorted(
        [st.get("Effect"), sorted(_list(st.get("Action"))), sorted(_list(st.get("Resource")))]
        for st in doc.get("Statement") or []
    )


def _list(v: Any) -> list:
    return [] if v is None else [v] if isinstance(v, str) else list(v)


def _decisions(s3, bucket: str) -> dict:
    """What some credentials may do here: allowed, or the error code."""

    def one(fn) -> str:
        try:
            fn()
            return "allow"
        except ClientError as e:
            return e.response["Error"]["Code"]

    return {
        "get-pub": one(lambda: s3.get_object(Bucket=bucket, Key="pub/a")),
        "get-private": one(lambda: s3.get_object(Bucket=bucket, Key="private/b")),
        "put": one(lambda: s3.put_object(Bucket=bucket, Key="pub/new", Body=b"n")),
        "list": one(lambda: s3.list_objects_v2(Bucket=bucket)),
    }


# --------------------------------------------------------------------------- service accounts


@case(
    "identity.svcacct-lifecycle",
    "ServiceAccounts",
    "mc",
    {"add.rc": 0, "info.rc": 0, "ls.rc": 0, "disable.rc": 0, "edit.rc": 0, "rm.rc": 0, "gone.rc": 1},
)
def _(c):
    """mc admin user svcacct add (own keys, policy, name, description), info, ls, disable, edit, rm."""
    user, _ = _user(c, "sa", "readwrite")
    key, secret = f"SA{c.token}"[:20], f"sa-secret-{c.token}"
    pol = c.file("sa-policy.json", _doc(_read_pub(c.bucket)).encode())
    names = (user, key)
    out = {
        "add": _mc(
            c,
            c.mc(
                "admin",
                "user",
                "svcacct",
                "add",
                "t",
                user,
                "--access-key",
                key,
                "--secret-key",
                secret,
                "--policy",
                str(pol),
                "--name",
                "ci",
                "--description",
                "the CI",
            ),
            *names,
        )
    }
    out["info"] = _mc(c, c.mc("admin", "user", "svcacct", "info", "t", key), *names)
    out["ls"] = _mc(c, c.mc("admin", "user", "svcacct", "ls", "t", user), *names)
    out["disable"] = _mc(c, c.mc("admin", "user", "svcacct", "disable", "t", key), *names)
    out["disabled"] = _mc(c, c.mc("admin", "user", "svcacct", "info", "t", key), *names)
    out["edit"] = _mc(c, c.mc("admin", "user", "svcacct", "edit", "t", key, "--description", "nightly"), *names)
    out["edited"] = _mc(c, c.mc("admin", "accesskey", "info", "t", key), *names)
    out["rm"] = _mc(c, c.mc("admin", "user", "svcacct", "rm", "t", key), *names)
    out["gone"] = _mc(c, c.mc("admin", "user", "svcacct", "info", "t", key), *names)
    return out


@case(
    "identity.svcacct-effective",
    "ServiceAccounts",
    "boto3-wr",
    {
        "own.get-pub": "allow",
        "own.get-private": "AccessDenied",
        "own.put": "AccessDenied",
        "implied.put": "allow",
        "narrow-user.put": "AccessDenied",
    },
)
def _(c):
    """A service account's requests: its user's policies narrowed by its own (the intersection)."""
    _fill(c)
    user, _ = _user(c, "se", "readwrite")
    reader, _ = _user(c, "sr", "readonly")
    pol = c.file("se-policy.json", _doc(_read_pub(c.bucket)).encode())
    wide = c.file(
        "se-wide.json", _doc({"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}).encode()
    )
    keys = {}
    for label, parent, extra in (
        ("own", user, ("--policy", str(pol))),
        ("implied", user, ()),
        ("narrow-user", reader, ("--policy", str(wide))),
    ):
        k, s = f"SE{c.token}{label[:2]}"[:20].upper(), f"se-secret-{c.token}-{label}"
        _admin(c, "user", "svcacct", "add", "t", parent, "--access-key", k, "--secret-key", s, *extra)
        keys[label] = (k, s)
    return {label: _decisions(clients.boto3_with_keys(c.t, *ks), c.bucket) for label, ks in keys.items()}


@case(
    "identity.svcacct-user-disabled",
    "ServiceAccounts",
    "boto3-wr",
    {
        "before.list": "allow",
        "disabled.list": "AccessDenied",
        "enabled.list": "allow",
        "removed.list": "InvalidAccessKeyId",
    },
)
def _(c):
    _fill(c)
    user, _ = _user(c, "sd", "readwrite")
    k, s = f"SD{c.token}"[:20], f"sd-secret-{c.token}"
    _admin(c, "user", "svcacct", "add", "t", user, "--access-key", k, "--secret-key", s)
    s3 = clients.boto3_with_keys(c.t, k, s)
    out = {"before": _decisions(s3, c.bucket)}
    _admin(c, "user", "disable", "t", user)
    out["disabled"] = _decisions(s3, c.bucket)
    _admin(c, "user", "enable", "t", user)
    out["enabled"] = _decisions(s3, c.bucket)
    _admin(c, "user", "remove", "t", user)
    out["removed"] = _decisions(s3, c.bucket)
    return out


@case(
    "identity.svcacct-errors", "ServiceAccounts", "mc", {"no-user.rc": 1, "taken.rc": 1, "long-key.rc": 1}, bucket=None
)
def _(c):
    user, _ = _user(c, "sx")
    k = f"SX{c.token}"[:20]
    _admin(c, "user", "svcacct", "add", "t", user, "--access-key", k, "--secret-key", "sx-secret-0123")
    return {
        "no-user": obs(c.mc("admin", "user", "svcacct", "add", "t", f"nobody{c.token}")),
        "taken": obs(
            c.mc("admin", "user", "svcacct", "add", "t", user, "--access-key", k, "--secret-key", "sx-secret-0123")
        ),
        "long-key": obs(
            c.mc(
                "admin", "user", "svcacct", "add", "t", user, "--access-key", "K" * 21, "--secret-key", "sx-secret-0123"
            )
        ),
    }


# --------------------------------------------------------------------------- groups


@case(
    "identity.group-lifecycle",
    "Groups",
    "mc",
    {"add.rc": 0, "info.rc": 0, "attach.rc": 0, "disable.rc": 0, "not-empty.rc": 1, "remove.rc": 0, "gone.rc": 1},
    bucket=None,
)
def _(c):
    """mc admin group add, info, policy attach --group, disable, remove (not empty, members, group)."""
    a, _ = _user(c, "ga")
    b, _ = _user(c, "gb")
    g = f"g{c.token}"
    names = (a, b, g)
    out = {"add": _mc(c, c.mc("admin", "group", "add", "t", g, a, b), *names)}
    out["info"] = _mc(c, c.mc("admin", "group", "info", "t", g), *names)
    out["attach"] = _mc(c, c.mc("admin", "policy", "attach", "t", "readonly", "--group", g), *names)
    out["attached"] = _mc(c, c.mc("admin", "group", "info", "t", g), *names)
    out["member"] = {
        k: v
        for k, v in _mc(c, c.mc("admin", "user", "info", "t", a), *names)["lines"][0].items()
        if k in ("memberOf", "policyName", "userStatus")
    }
    out["disable"] = _mc(c, c.mc("admin", "group", "disable", "t", g), *names)
    out["disabled"] = _mc(c, c.mc("admin", "group", "info", "t", g), *names)
    out["not-empty"] = _mc(c, c.mc("admin", "group", "remove", "t", g), *names)
    out["remove"] = _mc(c, c.mc("admin", "group", "remove", "t", g, a, b), *names)
    out["remove-group"] = _mc(c, c.mc("admin", "group", "remove", "t", g), *names)
    out["gone"] = _mc(c, c.mc("admin", "group", "info", "t", g), *names)
    return out


@case(
    "identity.group-effective",
    "Groups",
    "boto3-wr",
    {
        "member.get-pub": "allow",
        "member.put": "AccessDenied",
        "with-own.put": "allow",
        "denied.get-private": "AccessDenied",
        "disabled.get-pub": "AccessDenied",
    },
)
def _(c):
    """A member's effective policy: its own ∪ its enabled groups' (a Deny anywhere wins)."""
    _fill(c)
    user, secret = _user(c, "ge")
    g = f"ge{c.token}"
    _admin(c, "group", "add", "t", g, user)
    c.t.cache.setdefault("finalizers", []).append(lambda: c.mc("admin", "group", "remove", "t", g, user))
    _admin(c, "policy", "attach", "t", "readonly", "--group", g)
    s3 = clients.boto3_with_keys(c.t, user, secret)
    out = {"member": _decisions(s3, c.bucket)}
    _admin(c, "policy", "attach", "t", "readwrite", "--user", user)
    out["with-own"] = _decisions(s3, c.bucket)
    name = f"gdeny{c.token}"
    f = c.file(
        "gdeny.json",
        _doc(
            {"Effect": "Deny", "Action": ["s3:GetObject"], "Resource": [f"arn:aws:s3:::{c.bucket}/private/*"]}
        ).encode(),
    )
    _admin(c, "policy", "create", "t", name, str(f))
    c.t.cache.setdefault("finalizers", []).append(lambda: c.mc("admin", "policy", "remove", "t", name))
    _admin(c, "policy", "attach", "t", name, "--group", g)
    out["denied"] = _decisions(s3, c.bucket)
    _admin(c, "policy", "detach", "t", "readwrite", "--user", user)
    _admin(c, "group", "disable", "t", g)
    out["disabled"] = _decisions(s3, c.bucket)
    return out


@case("identity.policy-entities", "Groups", "mc", {"r.rc": 0}, bucket=None)
def _(c):
    user, _ = _user(c, "pe", "readonly")
    g = f"pe{c.token}"
    _admin(c, "group", "add", "t", g, user)
    c.t.cache.setdefault("finalizers", []).append(lambda: c.mc("admin", "group", "remove", "t", g, user))
    _admin(c, "policy", "attach", "t", "writeonly", "--group", g)
    r = _mc(c, c.mc("admin", "policy", "entities", "t", "--user", user, "--group", g), user, g)
    for ln in r["lines"]:
        ln.get("result", {}).pop("timestamp", None)
    return {"r": r}


# --------------------------------------------------------------------------- temporary credentials


def _sts(c, access: str, secret: str):
    return clients.sts_with_keys(c.t, access, secret)


def _assume(c, access: str, secret: str, **kw) -> dict:
    try:
        cred = _sts(c, access, secret).assume_role(**ROLE, **kw)["Credentials"]
    except ClientError as e:
        return {"code": e.response["Error"]["Code"], "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}
    return {"cred": cred}


@case(
    "identity.sts-assume-role",
    "AssumeRole",
    "boto3-wr",
    {
        "default.key-length": 20,
        "default.lifetime": 3600,
        "short.lifetime": 900,
        "default.s3.put": "allow",
        "session.s3.get-pub": "allow",
        "session.s3.put": "AccessDenied",
    },
)
def _(c):
    """sts.assume_role, then S3 with the credentials; the session policy narrows the user's."""
    _fill(c)
    user, secret = _user(c, "st", "readwrite")
    out: dict[str, Any] = {}
    for label, kw in (
        ("default", {}),
        ("short", {"DurationSeconds": 900}),
        ("session", {"Policy": _doc(_read_pub(c.bucket))}),
    ):
        started = time.time()
        r = _assume(c, user, secret, **kw)
        if "cred" not in r:
            out[label] = r
            continue
        cred = r["cred"]
        out[label] = {
            "key-length": len(cred["AccessKeyId"]),
            "token": bool(cred["SessionToken"]),
            "lifetime": int(round((cred["Expiration"].timestamp() - started) / 60.0)) * 60,
            "s3": _decisions(
                clients.boto3_with_keys(
                    c.t, cred["AccessKeyId"], cred["SecretAccessKey"], session_token=cred["SessionToken"]
                ),
                c.bucket,
            ),
        }
    return out


@case(
    "identity.sts-token",
    "AssumeRole",
    "boto3-wr",
    {
        "none.list": "InvalidTokenId",
        "wrong.list": "InvalidTokenId",
        "user-with-token.list": "InvalidTokenId",
        "from-temporary.code": "AccessDenied",
        "from-svcacct.code": "AccessDenied",
        "disabled.list": "AccessDenied",
    },
)
def _(c):
    """The session token is required, must be the credentials' own, and is refused elsewhere;
    temporary credentials and service accounts assume no roles; a user's disable ends them."""
    _fill(c)
    user, secret = _user(c, "tk", "readwrite")
    cred = _assume(c, user, secret)["cred"]
    ak, sk, token = cred["AccessKeyId"], cred["SecretAccessKey"], cred["SessionToken"]
    other = _assume(c, user, secret)["cred"]["SessionToken"]
    k, s = f"TK{c.token}"[:20], f"tk-secret-{c.token}"
    _admin(c, "user", "svcacct", "add", "t", user, "--access-key", k, "--secret-key", s)
    out = {
        "none": _decisions(clients.boto3_with_keys(c.t, ak, sk), c.bucket),
        "wrong": _decisions(clients.boto3_with_keys(c.t, ak, sk, session_token=other), c.bucket),
        "user-with-token": _decisions(clients.boto3_with_keys(c.t, user, secret, session_token=token), c.bucket),
        "from-temporary": _assume_with(c, ak, sk, token),
        "from-svcacct": _assume(c, k, s),
    }
    _admin(c, "user", "disable", "t", user)
    out["disabled"] = _decisions(clients.boto3_with_keys(c.t, ak, sk, session_token=token), c.bucket)
    return out


def _assume_with(c, ak: str, sk: str, token: str) -> dict:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "sts",
        endpoint_url=c.t.url,
        aws_access_key_id=ak,
        aws_secret_access_key=sk,
        aws_session_token=token,
        region_name=c.t.region,
        config=Config(retries={"max_attempts": 1}),
    )
    try:
        client.assume_role(**ROLE)
        return {"code": None}
    except ClientError as e:
        return {"code": e.response["Error"]["Code"], "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}


@case(
    "identity.sts-errors",
    "AssumeRole",
    "http",
    {
        "version.status": 400,
        "action.status": 400,
        "short.status": 400,
        "bad-policy.status": 400,
        "no-version-policy.status": 400,
        "bad-secret.status": 403,
    },
)
def _(c):
    """AssumeRole's refusals: STS error documents (code and status)."""
    user, secret = _user(c, "se2", "readwrite")
    base = {"Action": "AssumeRole", "Version": "2011-06-15"}
    out = {}
    for label, form, sk in (
        ("version", {**base, "Version": "2010-01-01"}, secret),
        ("action", {**base, "Action": "GetCallerIdentity"}, secret),
        ("short", {**base, "DurationSeconds": "899"}, secret),
        ("long", {**base, "DurationSeconds": "43201"}, secret),
        ("bad-policy", {**base, "Policy": "{not json"}, secret),
        (
            "no-version-policy",
            {**base, "Policy": json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})},
            secret,
        ),
        ("bad-secret", base, "not-the-secret"),
    ):
        out[label] = _sts_form(c, user, sk, form)
    return out


def _sts_form(c, access: str, secret: str, form: dict[str, str]) -> dict:
    """A raw AssumeRole (values boto3 refuses to send), signed for service sts; code and status."""
    import re
    from urllib.parse import urlencode

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = urlencode(form)
    req = AWSRequest(
        "POST", c.t.url + "/", data=body, headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    )
    SigV4Auth(Credentials(access, secret), "sts", c.t.region).add_auth(req)
    headers = {k.lower(): v for k, v in req.headers.items()}
    r = c.raw.send("POST", "/", "", headers, body.encode())
    m = re.search(rb"<Code>([^<]*)</Code>", r.body)
    return {"status": r.status, "code": m.group(1).decode() if m else None}

"""Bucket policies (docs/policies.md): the S3 calls, validation errors, and anonymous
access through them (unsigned requests, `mc anonymous`)."""

from __future__ import annotations

import json

from ..core import add, call, case, raw_obs
from .mc import obs

ARN = "arn:aws:s3:::"


def _doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _everyone(action, resource, effect="Allow", **extra) -> dict:
    return {"Effect": effect, "Principal": {"AWS": ["*"]}, "Action": action, "Resource": resource, **extra}


def _fill(c) -> None:
    for k in ("pub/a", "secret/b", "top"):
        c.put(k, k.encode())


def _anon(c, method: str, path: str, **kw) -> dict:
    return raw_obs(c.raw.request(method, path, sign=False, **kw), headers=())


def _shape(text: str) -> list:
    """A policy document as sets of actions and resources per statement (servers normalise differently)."""
    doc = json.loads(text)
    return sorted([st["Effect"], sorted(st["Action"]), sorted(st["Resource"])] for st in doc["Statement"])


@case(
    "policies.put-get-delete",
    "PutBucketPolicy",
    "boto3-wr",
    {"put.status": 204, "get.status": 200, "delete.status": 204, "after.code": "NoSuchBucketPolicy"},
)
def _(c):
    doc = _doc(
        _everyone(["s3:GetObject"], [f"{ARN}{c.bucket}/*"]),
        _everyone(["s3:ListBucket", "s3:GetBucketLocation"], [f"{ARN}{c.bucket}"]),
    )
    put = call(lambda: c.admin.put_bucket_policy(Bucket=c.bucket, Policy=doc), no_headers=True)
    got = call(lambda: c.admin.get_bucket_policy(Bucket=c.bucket), "Policy", no_headers=True)
    if "Policy" in got:
        got["Policy"] = _shape(got["Policy"])
    return {
        "put": put,
        "get": got,
        "delete": call(lambda: c.admin.delete_bucket_policy(Bucket=c.bucket), no_headers=True),
        "after": call(lambda: c.admin.get_bucket_policy(Bucket=c.bucket), no_headers=True),
    }


MALFORMED = {
    "not-json": lambda b: "{not json",
    "other-bucket-resource": lambda b: _doc(_everyone("s3:GetObject", ARN + "elsewhere/*")),
    "no-principal": lambda b: _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{ARN}{b}/*"}),
    "bad-effect": lambda b: _doc({**_everyone("s3:GetObject", f"{ARN}{b}/*"), "Effect": "Maybe"}),
    "object-action-bucket-resource": lambda b: _doc(_everyone("s3:GetObject", f"{ARN}{b}")),
    "bad-cidr": lambda b: _doc(
        _everyone("s3:GetObject", f"{ARN}{b}/*", Condition={"IpAddress": {"aws:SourceIp": "nowhere"}})
    ),
    "unknown-condition-key": lambda b: _doc(
        _everyone("s3:GetObject", f"{ARN}{b}/*", Condition={"StringEquals": {"aws:Nope": "x"}})
    ),
    "key-not-for-action": lambda b: _doc(
        _everyone("s3:GetObject", f"{ARN}{b}/*", Condition={"StringEquals": {"s3:prefix": "x"}})
    ),
}

for label, make in MALFORMED.items():

    def _malformed(c, make=make):
        r = call(lambda: c.admin.put_bucket_policy(Bucket=c.bucket, Policy=make(c.bucket)), no_headers=True)
        return {"put": r, "after": call(lambda: c.admin.get_bucket_policy(Bucket=c.bucket), no_headers=True)}

    add(
        f"policies.malformed[{label}]",
        "PutBucketPolicy",
        "boto3-wr",
        _malformed,
        {"put.code": "MalformedPolicy", "put.status": 400, "after.code": "NoSuchBucketPolicy"},
    )


@case(
    "policies.anonymous.download",
    "GetObject",
    "http",
    {"before.status": 403, "get.status": 200, "list.status": 200, "put.status": 403, "buckets.status": 403},
)
def _(c):
    _fill(c)
    before = _anon(c, "GET", f"/{c.bucket}/top")
    c.setup(
        lambda: c.admin.put_bucket_policy(
            Bucket=c.bucket,
            Policy=_doc(
                _everyone(["s3:ListBucket"], [f"{ARN}{c.bucket}"]), _everyone(["s3:GetObject"], [f"{ARN}{c.bucket}/*"])
            ),
        )
    )
    return {
        "before": before,
        "get": _anon(c, "GET", f"/{c.bucket}/top"),
        "list": _anon(c, "GET", f"/{c.bucket}", query=[("list-type", "2")]),
        "put": _anon(c, "PUT", f"/{c.bucket}/new", body=b"x"),
        "buckets": _anon(c, "GET", "/"),
    }


@case("policies.anonymous.deny-wins", "GetObject", "http", {"pub.status": 200, "secret.status": 403})
def _(c):
    _fill(c)
    c.setup(
        lambda: c.admin.put_bucket_policy(
            Bucket=c.bucket,
            Policy=_doc(
                _everyone(["s3:GetObject"], [f"{ARN}{c.bucket}/*"]),
                _everyone(["s3:GetObject"], [f"{ARN}{c.bucket}/secret/*"], effect="Deny"),
            ),
        )
    )
    return {"pub": _anon(c, "GET", f"/{c.bucket}/pub/a"), "secret": _anon(c, "GET", f"/{c.bucket}/secret/b")}


@case("policies.anonymous.upload", "PutObject", "http", {"put.status": 200, "get.status": 403})
def _(c):
    c.setup(
        lambda: c.admin.put_bucket_policy(
            Bucket=c.bucket, Policy=_doc(_everyone(["s3:PutObject"], [f"{ARN}{c.bucket}/inbox/*"]))
        )
    )
    return {
        "put": _anon(c, "PUT", f"/{c.bucket}/inbox/x", body=b"x"),
        "get": _anon(c, "GET", f"/{c.bucket}/inbox/x"),
        "elsewhere": _anon(c, "PUT", f"/{c.bucket}/x", body=b"x"),
    }


@case(
    "policies.anonymous.prefix-condition",
    "ListObjectsV2",
    "http",
    {"pub.status": 200, "all.status": 403, "secret.status": 403},
)
def _(c):
    _fill(c)
    c.setup(
        lambda: c.admin.put_bucket_policy(
            Bucket=c.bucket,
            Policy=_doc(
                _everyone(["s3:ListBucket"], [f"{ARN}{c.bucket}"], Condition={"StringEquals": {"s3:prefix": ["pub/"]}})
            ),
        )
    )
    lst = lambda *q: _anon(c, "GET", f"/{c.bucket}", query=[("list-type", "2"), *q])  # noqa: E731
    return {"pub": lst(("prefix", "pub/")), "all": lst(), "secret": lst(("prefix", "secret/"))}


@case("policies.anonymous.source-ip", "GetObject", "http", {"loopback.status": 200, "elsewhere.status": 403})
def _(c):
    _fill(c)
    policy = lambda net: _doc(
        _everyone(
            ["s3:GetObject"],
            [f"{ARN}{c.bucket}/*"],  # noqa: E731
            Condition={"IpAddress": {"aws:SourceIp": [net]}},
        )
    )
    c.setup(lambda: c.admin.put_bucket_policy(Bucket=c.bucket, Policy=policy("127.0.0.0/8")))
    loopback = _anon(c, "GET", f"/{c.bucket}/top")
    c.setup(lambda: c.admin.put_bucket_policy(Bucket=c.bucket, Policy=policy("203.0.113.0/24")))
    return {"loopback": loopback, "elsewhere": _anon(c, "GET", f"/{c.bucket}/top")}


@case("policies.status", "GetBucketPolicyStatus", "boto3-wr", {"none.PolicyStatus": {"IsPublic": False}})
def _(c):
    none = call(lambda: c.admin.get_bucket_policy_status(Bucket=c.bucket), "PolicyStatus", no_headers=True)
    c.setup(
        lambda: c.admin.put_bucket_policy(
            Bucket=c.bucket,
            Policy=_doc(
                _everyone(["s3:ListBucket"], [f"{ARN}{c.bucket}"]), _everyone(["s3:GetObject"], [f"{ARN}{c.bucket}/*"])
            ),
        )
    )
    public = call(lambda: c.admin.get_bucket_policy_status(Bucket=c.bucket), "PolicyStatus", no_headers=True)
    return {"none": none, "public": public}


def _sorted(o):
    """mc prints the policy as the server sent it; MinIO's action sets come out in map order."""
    if isinstance(o, dict):
        return {k: _sorted(v) for k, v in o.items()}
    if isinstance(o, list):
        items = [_sorted(v) for v in o]
        return sorted(items, key=repr) if all(isinstance(v, str) for v in items) else items
    return o


@case(
    "policies.mc-anonymous", "mc anonymous", "mc", {"set.rc": 0, "get.rc": 0, "list.rc": 0, "none.rc": 0, "after.rc": 0}
)
def _(c):
    out = {
        "set": obs(c.mc("anonymous", "set", "download", c.alias())),
        "upload": obs(c.mc("anonymous", "set", "upload", c.alias("inbox"))),
        "get": _sorted(obs(c.mc("anonymous", "get", c.alias()))),
        "list": obs(c.mc("anonymous", "list", c.alias())),
    }
    c.mc("anonymous", "set", "none", c.alias("inbox"))
    out["none"] = obs(c.mc("anonymous", "set", "none", c.alias()))
    out["after"] = obs(c.mc("anonymous", "get", c.alias()))
    return out

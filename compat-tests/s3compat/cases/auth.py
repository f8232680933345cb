"""Authentication: SigV4 header and presigned forms, and their failures (bad
signature, unknown key, skewed clock, expired or not-yet-valid presigned URLs,
wrong scope, payload hash mismatch, anonymous requests)."""

from __future__ import annotations

import datetime as dt
import hashlib

from ..clients import boto3_with_keys
from ..core import add, call, case, raw_obs

NOW = lambda: dt.datetime.now(dt.UTC)  # noqa: E731


def _obj(c):
    c.put("k", b"auth body")
    return f"/{c.bucket}/k"


def _raw(method="GET", **kw):
    def fn(c):
        path = _obj(c)
        return {"r": raw_obs(c.raw.request(method, path, **kw), headers=("etag",))}

    return fn


SIGNED = {
    "valid": ({}, 200),
    "wrong-secret": ({"secret_key": "not-the-secret"}, "SignatureDoesNotMatch"),
    "tampered-signature": ({"tamper_signature": True}, "SignatureDoesNotMatch"),
    "unknown-access-key": ({"access_key": "NOSUCHACCESSKEY"}, "InvalidAccessKeyId"),
    "clock-ahead-20min": ({"when": "+1200"}, "RequestTimeTooSkewed"),
    "clock-behind-20min": ({"when": "-1200"}, "RequestTimeTooSkewed"),
    "clock-ahead-10min": ({"when": "+600"}, 200),
    "clock-behind-10min": ({"when": "-600"}, 200),
    # MinIO without a configured region accepts any region in the scope
    "wrong-region-scope": ({"region": "eu-west-1"}, 200),
    "payload-hash-mismatch": ({"payload_hash": hashlib.sha256(b"other").hexdigest()}, None),
    "unsigned-payload": ({"payload_hash": "UNSIGNED-PAYLOAD"}, 200),
    "signed-host-differs": ({"signed_host": "example.com"}, "SignatureDoesNotMatch"),
}


def _when(kw):
    kw = dict(kw)
    if isinstance(kw.get("when"), str):
        kw["when"] = NOW() + dt.timedelta(seconds=int(kw["when"]))
    return kw


def _signed(kw, method):
    def fn(c):
        path = _obj(c)
        body = b"new body" if method == "PUT" else b""
        return {"r": raw_obs(c.raw.request(method, path, body=body, **_when(kw)), headers=("etag",))}

    return fn


for label, (kw, want) in SIGNED.items():
    for method in ("GET", "PUT"):
        if label == "payload-hash-mismatch" and method == "GET":
            continue
        exp = (
            {"r.status": want}
            if isinstance(want, int)
            else ({"r.code": want} if want else {"r.status": lambda s: s >= 400})
        )
        if label == "payload-hash-mismatch":
            exp = {"r.code": "XAmzContentSHA256Mismatch"}
        add(
            f"auth.sigv4[{label}].{method.lower()}",
            f"{'GetObject' if method == 'GET' else 'PutObject'}",
            "http",
            _signed(kw, method),
            exp,
        )


def _raw_headers(headers, sign=False):
    def fn(c):
        path = _obj(c)
        return {"r": raw_obs(c.raw.request("GET", path, headers=headers, sign=sign), headers=())}

    return fn


add("auth.anonymous.get-object", "GetObject", "http", _raw_headers({}), {"r.code": "AccessDenied", "r.status": 403})
add(
    "auth.anonymous.list-buckets",
    "ListBuckets",
    "http",
    lambda c: {"r": raw_obs(c.raw.request("GET", "/", sign=False), headers=())},
    {"r.code": "AccessDenied"},
    bucket=None,
)
add(
    "auth.anonymous.list-objects",
    "ListObjectsV2",
    "http",
    lambda c: {"r": raw_obs(c.raw.request("GET", f"/{c.bucket}", query=[("list-type", "2")], sign=False), headers=())},
    {"r.code": "AccessDenied"},
)
add(
    "auth.malformed-header",
    "GetObject",
    "http",
    _raw_headers({"authorization": "AWS4-HMAC-SHA256 garbage"}),
    {"r.status": lambda s: s in (400, 403)},
)
add(
    "auth.sigv2-header",
    "GetObject",
    "http",
    _raw_headers({"authorization": "AWS compat-root:c2lnbmF0dXJl", "date": "Sat, 01 Jan 2000 00:00:00 GMT"}),
    {"r.status": 403},
)
add(
    "auth.unknown-algorithm",
    "GetObject",
    "http",
    _raw_headers(
        {
            "authorization": "AWS4-HMAC-SHA512 Credential=x/20000101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00"
        }
    ),
    {"r.status": lambda s: s in (400, 403)},
)
add(
    "auth.missing-signed-headers",
    "GetObject",
    "http",
    _raw_headers(
        {
            "x-amz-date": "20000101T000000Z",
            "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
            "authorization": "AWS4-HMAC-SHA256 Credential=compat-root/20000101/us-east-1/s3/aws4_request, Signature=00",
        }
    ),
    {"r.status": lambda s: s in (400, 403)},
)


@case("auth.date-header-instead-of-x-amz-date", "GetObject", "http", {"r.status": lambda s: s in (200, 400)})
def _(c):
    path = _obj(c)
    now = NOW()
    return {
        "r": raw_obs(
            c.raw.request(
                "GET", path, headers={"date": now.strftime("%a, %d %b %Y %H:%M:%S GMT"), "x-amz-date": ""}, when=now
            ),
            headers=(),
        )
    }


# ---- presigned URLs

PRESIGN = {
    "valid": ({}, 200),
    "expired": ({"when": "-3600", "expires": 60}, "AccessDenied"),
    "not-yet-valid": ({"when": "+3600"}, None),
    "expires-max-7d": ({"expires": 604800}, 200),
    "expires-over-7d": ({"expires": 604801}, "AuthorizationQueryParametersError"),
    "expires-zero": ({"expires": 0}, None),
    "tampered": ({"tamper_signature": True}, "SignatureDoesNotMatch"),
    "wrong-secret": ({"secret_key": "nope"}, "SignatureDoesNotMatch"),
    "wrong-region": ({"region": "eu-west-1"}, 200),  # as above
}


def _presigned(kw, method):
    def fn(c):
        path = _obj(c)
        url = c.raw.presign(method, path, **_when(kw))
        r = c.raw.send_url(method, url, body=b"presigned put" if method == "PUT" else b"")
        o = {"r": raw_obs(r, headers=("etag",), body=method == "GET" and r.status == 200)}
        if method == "PUT":
            o["after"] = c.admin.get_object(Bucket=c.bucket, Key="k")["Body"].read()
        return o

    return fn


for label, (kw, want) in PRESIGN.items():
    for method in ("GET", "PUT"):
        exp = (
            {"r.status": want}
            if isinstance(want, int)
            else ({"r.code": want} if want else {"r.status": lambda s: s >= 400})
        )
        add(
            f"auth.presigned[{label}].{method.lower()}",
            "GetObject" if method == "GET" else "PutObject",
            "http",
            _presigned(kw, method),
            exp,
        )


@case("auth.presigned.boto3-generated", "GetObject", "boto3", {"r.status": 200, "r.body": "auth body"})
def _(c):
    _obj(c)
    url = c.s3().generate_presigned_url("get_object", Params={"Bucket": c.bucket, "Key": "k"}, ExpiresIn=300)
    return {"r": raw_obs(c.raw.send_url("GET", url.split(c.t.hostport, 1)[1]), headers=(), body=True)}


@case("auth.presigned.boto3-put", "PutObject", "boto3", {"r.status": 200, "after": "via presigned"})
def _(c):
    url = c.s3().generate_presigned_url("put_object", Params={"Bucket": c.bucket, "Key": "p"}, ExpiresIn=300)
    r = c.raw.send_url("PUT", url.split(c.t.hostport, 1)[1], body=b"via presigned")
    return {"r": raw_obs(r, headers=("etag",)), "after": c.admin.get_object(Bucket=c.bucket, Key="p")["Body"].read()}


@case("auth.presigned.minio-py", "GetObject", "minio-py", {"r.status": 200, "r.body": "auth body"})
def _(c):
    _obj(c)
    url = c.minio.presigned_get_object(c.bucket, "k")
    return {"r": raw_obs(c.raw.send_url("GET", url.split(c.t.hostport, 1)[1]), headers=(), body=True)}


# ---- SDK clients with bad keys


def _bad_boto(variant, op):
    def fn(c):
        _obj(c)
        s3 = boto3_with_keys(c.t, c.t.access_key, "wrong-secret", variant)
        if op == "get":
            return {"r": call(lambda: s3.get_object(Bucket=c.bucket, Key="k"), headers=())}
        if op == "head":
            return {"r": call(lambda: s3.head_object(Bucket=c.bucket, Key="k"), headers=())}
        if op == "put":
            return {"r": call(lambda: s3.put_object(Bucket=c.bucket, Key="k", Body=b"x"), headers=())}
        return {"r": call(lambda: s3.list_objects_v2(Bucket=c.bucket), headers=())}

    return fn


for variant in ("boto3", "boto3-wr"):
    for op, opname, want in (
        ("get", "GetObject", "SignatureDoesNotMatch"),
        ("head", "HeadObject", "403"),
        ("put", "PutObject", "SignatureDoesNotMatch"),
        ("list", "ListObjectsV2", "SignatureDoesNotMatch"),
    ):
        add(f"auth.wrong-secret.{op}.{variant}", opname, variant, _bad_boto(variant, op), {"r.code": want})


@case("auth.unknown-key.boto3", "ListBuckets", "boto3", {"r.code": "InvalidAccessKeyId"}, bucket=None)
def _(c):
    s3 = boto3_with_keys(c.t, "NOSUCHKEY12345", "whatever", "boto3")
    return {"r": call(lambda: s3.list_buckets(), headers=())}


@case("auth.wrong-secret.minio-py", "StatObject", "minio-py", {"r.code": "SignatureDoesNotMatch"})
def _(c):
    from minio import Minio

    from ..core import minio_err

    _obj(c)
    m = Minio(c.t.hostport, access_key=c.t.access_key, secret_key="wrong", secure=False, region=c.t.region)
    return {"r": minio_err(lambda: m.get_object(c.bucket, "k").read())}


@case("auth.skewed-clock.boto3", "ListObjectsV2", "boto3", {"r.code": "RequestTimeTooSkewed"})
def _(c):
    """boto3 signs with the local clock; shift it 20 minutes ahead for one request."""
    from unittest import mock

    import botocore.auth as ba

    real = dt.datetime

    class Skewed(dt.datetime):
        @classmethod
        def utcnow(cls):
            return real.utcnow() + dt.timedelta(minutes=20)

        @classmethod
        def now(cls, tz=None):
            return real.now(tz) + dt.timedelta(minutes=20)

    s3 = boto3_with_keys(c.t, c.t.access_key, c.t.secret_key, "boto3")
    with mock.patch.object(ba.datetime, "datetime", Skewed):
        return {"r": call(lambda: s3.list_objects_v2(Bucket=c.bucket), headers=())}

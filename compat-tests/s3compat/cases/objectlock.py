"""Object lock: buckets created with lock, default retention, per-object retention
and legal hold, deletes refused and bypassed, the error paths. Only GOVERNANCE
retention is set on objects, so every case can clean up after itself."""

from __future__ import annotations

import datetime as dt

from ..core import call, case

LH = (
    "etag",
    "x-amz-version-id",
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold",
)


def _until(days=1):
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).replace(microsecond=0)


@case(
    "lock.bucket-config",
    "GetObjectLockConfiguration",
    "boto3-wr",
    {"r.ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled"}},
    bucket="locked",
)
def _(c):
    return {
        "r": call(
            lambda: c.admin.get_object_lock_configuration(Bucket=c.bucket), "ObjectLockConfiguration", no_headers=True
        ),
        "versioning": call(lambda: c.admin.get_bucket_versioning(Bucket=c.bucket), "Status", no_headers=True),
    }


@case(
    "lock.config-on-plain-bucket",
    "GetObjectLockConfiguration",
    "boto3-wr",
    {"r.code": "ObjectLockConfigurationNotFoundError"},
)
def _(c):
    return {"r": call(lambda: c.admin.get_object_lock_configuration(Bucket=c.bucket))}


@case("lock.enable-on-existing-bucket", "PutObjectLockConfiguration", "boto3-wr", {"r.status": lambda s: s >= 400})
def _(c):
    return {
        "r": call(
            lambda: c.admin.put_object_lock_configuration(
                Bucket=c.bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
            )
        )
    }


@case("lock.default-retention", "PutObjectLockConfiguration", "boto3-wr", {"put.status": 200}, bucket="locked")
def _(c):
    cfg = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}
    o = {"put": call(lambda: c.admin.put_object_lock_configuration(Bucket=c.bucket, ObjectLockConfiguration=cfg))}
    o["get"] = call(
        lambda: c.admin.get_object_lock_configuration(Bucket=c.bucket), "ObjectLockConfiguration", no_headers=True
    )
    o["obj"] = call(lambda: c.admin.put_object(Bucket=c.bucket, Key="k", Body=b"x"), headers=())
    o["head"] = call(lambda: c.admin.head_object(Bucket=c.bucket, Key="k"), headers=("x-amz-object-lock-mode",))
    return o


@case(
    "lock.default-retention-days-and-years",
    "PutObjectLockConfiguration",
    "boto3-wr",
    {"put.status": 400},
    bucket="locked",
)
def _(c):
    cfg = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1, "Years": 1}}}
    return {"put": call(lambda: c.admin.put_object_lock_configuration(Bucket=c.bucket, ObjectLockConfiguration=cfg))}


@case(
    "lock.put-with-retention-headers",
    "PutObject",
    "boto3-wr",
    {"put.status": 200, "head.h.x-amz-object-lock-mode": "GOVERNANCE"},
    bucket="locked",
)
def _(c):
    put = call(
        lambda: c.admin.put_object(
            Bucket=c.bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=_until()
        ),
        headers=(),
    )
    return {
        "put": put,
        "head": call(lambda: c.admin.head_object(Bucket=c.bucket, Key="k"), headers=LH),
        "retention": call(lambda: c.admin.get_object_retention(Bucket=c.bucket, Key="k"), "Retention", no_headers=True),
    }


@case("lock.put-retention-plain-bucket", "PutObject", "boto3-wr", {"put.status": 400})
def _(c):
    return {
        "put": call(
            lambda: c.admin.put_object(
                Bucket=c.bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=_until()
            ),
            headers=(),
        )
    }


@case("lock.put-mode-without-date", "PutObject", "boto3-wr", {"put.status": 400}, bucket="locked")
def _(c):
    return {
        "put": call(
            lambda: c.admin.put_object(Bucket=c.bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE"), headers=()
        )
    }


@case(
    "lock.retention-set-get",
    "PutObjectRetention",
    "boto3-wr",
    {"put.status": 200, "get.Retention.Mode": "GOVERNANCE"},
    bucket="locked",
)
def _(c):
    c.put("k", b"x")
    return {
        "put": call(
            lambda: c.admin.put_object_retention(
                Bucket=c.bucket, Key="k", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": _until()}
            )
        ),
        "get": call(lambda: c.admin.get_object_retention(Bucket=c.bucket, Key="k"), "Retention", no_headers=True),
    }


@case(
    "lock.retention-get-none",
    "GetObjectRetention",
    "boto3-wr",
    {"get.code": "NoSuchObjectLockConfiguration"},
    bucket="locked",
)
def _(c):
    c.put("k", b"x")
    return {"get": call(lambda: c.admin.get_object_retention(Bucket=c.bucket, Key="k"), "Retention", no_headers=True)}


@case("lock.retention-past-date", "PutObjectRetention", "boto3-wr", {"put.status": 400}, bucket="locked")
def _(c):
    c.put("k", b"x")
    return {
        "put": call(
            lambda: c.admin.put_object_retention(
                Bucket=c.bucket, Key="k", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": _until(-1)}
            )
        )
    }


@case("lock.retention-bad-mode", "PutObjectRetention", "http", {"put.status": 400}, bucket="locked")
def _(c):
    import base64
    import hashlib

    from ..core import raw_obs

    c.put("k", b"x")
    body = f"<Retention><Mode>FOREVER</Mode><RetainUntilDate>{_until().strftime('%Y-%m-%dT%H:%M:%SZ')}</RetainUntilDate></Retention>".encode()
    return {
        "put": raw_obs(
            c.raw.request(
                "PUT",
                f"/{c.bucket}/k",
                query=[("retention", "")],
                body=body,
                headers={"content-md5": base64.b64encode(hashlib.md5(body).digest()).decode()},
            ),
            headers=(),
        )
    }


@case(
    "lock.delete-locked-version",
    "DeleteObject",
    "boto3-wr",
    {"plain.status": 204, "locked.code": "InvalidRequest", "bypass.status": 204},
    bucket="locked",
)
def _(c):
    v = c.admin.put_object(
        Bucket=c.bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=_until()
    )["VersionId"]
    return {
        "plain": call(lambda: c.admin.delete_object(Bucket=c.bucket, Key="k"), headers=("x-amz-delete-marker",)),
        "locked": call(lambda: c.admin.delete_object(Bucket=c.bucket, Key="k", VersionId=v)),
        "bypass": call(
            lambda: c.admin.delete_object(Bucket=c.bucket, Key="k", VersionId=v, BypassGovernanceRetention=True),
            headers=(),
        ),
    }


@case(
    "lock.shorten-governance",
    "PutObjectRetention",
    "boto3-wr",
    {"shorten.code": "InvalidRequest", "bypass.status": 200},
    bucket="locked",
)
def _(c):
    c.admin.put_object(
        Bucket=c.bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=_until(2)
    )
    ret = {"Mode": "GOVERNANCE", "RetainUntilDate": _until(1)}
    return {
        "shorten": call(lambda: c.admin.put_object_retention(Bucket=c.bucket, Key="k", Retention=ret)),
        "bypass": call(
            lambda: c.admin.put_object_retention(
                Bucket=c.bucket, Key="k", Retention=ret, BypassGovernanceRetention=True
            )
        ),
    }


@case(
    "lock.legal-hold",
    "PutObjectLegalHold",
    "boto3-wr",
    {
        "on.status": 200,
        "get.LegalHold": {"Status": "ON"},
        "delete.code": "InvalidRequest",
        "off.status": 200,
        "delete-after.status": 204,
    },
    bucket="locked",
)
def _(c):
    v = c.admin.put_object(Bucket=c.bucket, Key="k", Body=b"x")["VersionId"]
    o = {"on": call(lambda: c.admin.put_object_legal_hold(Bucket=c.bucket, Key="k", LegalHold={"Status": "ON"}))}
    o["get"] = call(lambda: c.admin.get_object_legal_hold(Bucket=c.bucket, Key="k"), "LegalHold", no_headers=True)
    o["head"] = call(lambda: c.admin.head_object(Bucket=c.bucket, Key="k"), headers=LH)
    o["delete"] = call(
        lambda: c.admin.delete_object(Bucket=c.bucket, Key="k", VersionId=v, BypassGovernanceRetention=True)
    )
    o["off"] = call(lambda: c.admin.put_object_legal_hold(Bucket=c.bucket, Key="k", LegalHold={"Status": "OFF"}))
    o["delete-after"] = call(lambda: c.admin.delete_object(Bucket=c.bucket, Key="k", VersionId=v), headers=())
    return o


@case("lock.legal-hold-plain-bucket", "PutObjectLegalHold", "boto3-wr", {"on.status": 400})
def _(c):
    c.put("k", b"x")
    return {"on": call(lambda: c.admin.put_object_legal_hold(Bucket=c.bucket, Key="k", LegalHold={"Status": "ON"}))}


@case(
    "lock.legal-hold-get-none",
    "GetObjectLegalHold",
    "boto3-wr",
    {"get.code": "NoSuchObjectLockConfiguration"},
    bucket="locked",
)
def _(c):
    c.put("k", b"x")
    return {"get": call(lambda: c.admin.get_object_legal_hold(Bucket=c.bucket, Key="k"), "LegalHold", no_headers=True)}


@case("lock.suspend-versioning", "PutBucketVersioning", "boto3-wr", {"r.code": "InvalidBucketState"}, bucket="locked")
def _(c):
    return {
        "r": call(
            lambda: c.admin.put_bucket_versioning(Bucket=c.bucket, VersioningConfiguration={"Status": "Suspended"})
        )
    }


@case("lock.put-needs-content-md5", "PutObject", "http", {"r.status": lambda s: s in (200, 400)}, bucket="locked")
def _(c):
    """A PUT with lock headers and no Content-MD5/checksum: AWS requires one."""
    from ..core import raw_obs

    h = {
        "x-amz-object-lock-mode": "GOVERNANCE",
        "x-amz-object-lock-retain-until-date": _until().strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return {"r": raw_obs(c.raw.request("PUT", f"/{c.bucket}/k", body=b"x", headers=h), headers=())}

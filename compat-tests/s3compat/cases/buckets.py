"""Buckets: create (name rules), head, list, location, delete."""

from __future__ import annotations

from ..core import add, call, case, raw_obs


def _tok(c) -> str:
    return c.token  # 6 hex characters, unique to the run


# name builders (token keeps names unique to a run against a shared endpoint)
VALID = {
    "min-3-chars": lambda t: t[:3],
    "max-63-chars": lambda t: t + "x" * 57,
    "dots": lambda t: f"{t}.a.b",
    "dashes": lambda t: f"{t}-a-b",
    "digits-only": lambda t: str(int(t, 16) % 10**6).rjust(6, "1"),
    "starts-with-digit": lambda t: f"9{t}",
    "ends-with-digit": lambda t: f"{t}bk9",
}
INVALID = {
    "2-chars": lambda t: t[:2],
    "64-chars": lambda t: t + "x" * 58,
    "uppercase": lambda t: f"{t}Abc",
    "underscore": lambda t: f"{t}_ab",
    "ip-address": lambda t: "192.168.5.4",
    "leading-dash": lambda t: f"-{t}",
    "trailing-dash": lambda t: f"{t}-",
    "leading-dot": lambda t: f".{t}",
    "trailing-dot": lambda t: f"{t}.",
    "double-dot": lambda t: f"{t}..ab",
    "dot-dash": lambda t: f"{t}.-ab",
    "dash-dot": lambda t: f"{t}-.ab",
    "space": lambda t: f"{t} ab",
    "non-ascii": lambda t: f"{t}\u00e9",
}
# AWS refuses these, MinIO (the reference) accepts them
MINIO_ACCEPTS = {
    "xn-prefix": lambda t: f"xn--{t}",
    "s3alias-suffix": lambda t: f"{t}-s3alias",
    "sthree-prefix": lambda t: f"sthree-{t}",
    "dotted-labels": lambda t: ".".join([t] + ["a" * 10] * 5),
}


def _create_and_head(name_fn):
    def fn(c):
        name = name_fn(c.token)
        c.track(name)
        created = call(lambda: c.admin.create_bucket(Bucket=name), "Location", headers=("location",))
        head = call(lambda: c.admin.head_bucket(Bucket=name), headers=("x-amz-bucket-region",))
        return {"create": created, "head": head}

    return fn


def _raw_create(name_fn):
    def fn(c):
        name = name_fn(c.token)
        c.track(name)
        r = c.raw.request("PUT", f"/{name}")
        h = c.raw.request("HEAD", f"/{name}")
        return {"create": raw_obs(r, headers=("location",)), "head": {"status": h.status}}

    return fn


for label, f in VALID.items():
    add(
        f"buckets.create.valid[{label}]",
        "CreateBucket",
        "boto3-wr",
        _create_and_head(f),
        {"create.status": 200, "head.status": 200},
        bucket=None,
    )
for label, f in MINIO_ACCEPTS.items():
    add(
        f"buckets.create.aws-invalid[{label}]",
        "CreateBucket",
        "http",
        _raw_create(f),
        {"create.status": 200},
        bucket=None,
    )
for label, f in INVALID.items():
    add(
        f"buckets.create.invalid[{label}]",
        "CreateBucket",
        "http",
        _raw_create(f),
        {"create.status": lambda s: s >= 400},
        bucket=None,
    )
for label in ("uppercase", "underscore", "2-chars", "64-chars", "double-dot", "ip-address"):
    add(
        f"buckets.create.invalid-boto3[{label}]",
        "CreateBucket",
        "boto3-wr",
        _create_and_head(INVALID[label]),
        {"create.code": "InvalidBucketName"},
        bucket=None,
    )


@case(
    "buckets.create.already-owned",
    "CreateBucket",
    "boto3-wr",
    {"again.code": "BucketAlreadyOwnedByYou", "again.status": 409},
)
def _(c):
    return {"again": call(lambda: c.admin.create_bucket(Bucket=c.bucket))}


@case("buckets.create.location-us-east-1", "CreateBucket", "boto3-wr", {"create.status": 200}, bucket=None)
def _(c):
    name = c.name()
    c.track(name)
    r = call(lambda: c.admin.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-east-1"}))
    return {
        "create": r,
        "location": call(lambda: c.admin.get_bucket_location(Bucket=name), "LocationConstraint", no_headers=True),
    }


@case("buckets.create.location-other-region", "CreateBucket", "boto3-wr", {"create.status": 200}, bucket=None)
def _(c):
    name = c.name()
    c.track(name)
    return {
        "create": call(
            lambda: c.admin.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        )
    }


@case("buckets.create.malformed-config", "CreateBucket", "http", {"create.code": "MalformedXML"}, bucket=None)
def _(c):
    name = c.name()
    c.track(name)
    return {"create": raw_obs(c.raw.request("PUT", f"/{name}", body=b"<CreateBucketConfiguration><Loc"))}


@case("buckets.head.exists", "HeadBucket", "boto3-wr", {"head.status": 200})
def _(c):
    return {"head": call(lambda: c.admin.head_bucket(Bucket=c.bucket), headers=("x-amz-bucket-region",))}


@case("buckets.head.missing", "HeadBucket", "boto3-wr", {"head.status": 404, "head.code": "404"}, bucket=None)
def _(c):
    return {"head": call(lambda: c.admin.head_bucket(Bucket=c.name()))}


@case("buckets.head.missing-raw", "HeadBucket", "http", {"head.status": 404, "head.body": ""}, bucket=None)
def _(c):
    r = c.raw.request("HEAD", f"/{c.name()}")
    return {"head": {"status": r.status, "body": r.body}}


@case("buckets.list.contains", "ListBuckets", "boto3-wr", {"list.status": 200, "list.found": True})
def _(c):
    r = c.admin.list_buckets()
    mine = [b for b in r["Buckets"] if b["Name"] == c.bucket]
    return {
        "list": {
            "status": r["ResponseMetadata"]["HTTPStatusCode"],
            "found": len(mine) == 1,
            "fields": sorted(mine[0]) if mine else None,
            "owner": sorted(r.get("Owner", {})),
        }
    }


@case("buckets.list.prefix", "ListBuckets", "boto3-wr", {"list.status": 200})
def _(c):
    r = call(lambda: c.admin.list_buckets(Prefix=c.bucket[:8], MaxBuckets=1000), "Prefix", no_headers=True)
    return {"list": r}


@case("buckets.location.get", "GetBucketLocation", "boto3-wr", {"loc.status": 200})
def _(c):
    return {"loc": call(lambda: c.admin.get_bucket_location(Bucket=c.bucket), "LocationConstraint", no_headers=True)}


@case("buckets.location.missing", "GetBucketLocation", "boto3-wr", {"loc.code": "NoSuchBucket"}, bucket=None)
def _(c):
    return {"loc": call(lambda: c.admin.get_bucket_location(Bucket=c.name()))}


@case("buckets.delete.empty", "DeleteBucket", "boto3-wr", {"delete.status": 204, "head.status": 404})
def _(c):
    return {
        "delete": call(lambda: c.admin.delete_bucket(Bucket=c.bucket)),
        "head": call(lambda: c.admin.head_bucket(Bucket=c.bucket)),
    }


@case("buckets.delete.not-empty", "DeleteBucket", "boto3-wr", {"delete.code": "BucketNotEmpty", "delete.status": 409})
def _(c):
    c.put("k", b"x")
    return {"delete": call(lambda: c.admin.delete_bucket(Bucket=c.bucket))}


@case(
    "buckets.delete.missing",
    "DeleteBucket",
    "boto3-wr",
    {"delete.code": "NoSuchBucket", "delete.status": 404},
    bucket=None,
)
def _(c):
    return {"delete": call(lambda: c.admin.delete_bucket(Bucket=c.name()))}


@case("buckets.delete.after-objects-removed", "DeleteBucket", "boto3-wr", {"delete.status": 204})
def _(c):
    c.put("a/b", b"x")
    c.admin.delete_object(Bucket=c.bucket, Key="a/b")
    return {"delete": call(lambda: c.admin.delete_bucket(Bucket=c.bucket))}


@case("buckets.recreate-after-delete", "CreateBucket", "boto3-wr", {"again.status": 200})
def _(c):
    c.admin.delete_bucket(Bucket=c.bucket)
    return {"again": call(lambda: c.admin.create_bucket(Bucket=c.bucket))}


@case("buckets.list-objects.missing-bucket", "ListObjectsV2", "boto3-wr", {"list.code": "NoSuchBucket"}, bucket=None)
def _(c):
    return {"list": call(lambda: c.admin.list_objects_v2(Bucket=c.name()))}


@case("buckets.unsupported-subresource.acl", "GetBucketAcl", "boto3-wr", {"acl.status": 200})
def _(c):
    r = call(lambda: c.admin.get_bucket_acl(Bucket=c.bucket), "Grants", no_headers=True)
    if "Grants" in r:
        r["Grants"] = [g.get("Permission") for g in r["Grants"]]
    return {"acl": r}


@case("buckets.policy.missing", "GetBucketPolicy", "boto3-wr", {"policy.code": "NoSuchBucketPolicy"})
def _(c):
    return {"policy": call(lambda: c.admin.get_bucket_policy(Bucket=c.bucket))}


@case(
    "buckets.encryption.missing",
    "GetBucketEncryption",
    "boto3-wr",
    {"enc.code": "ServerSideEncryptionConfigurationNotFoundError"},
)
def _(c):
    return {"enc": call(lambda: c.admin.get_bucket_encryption(Bucket=c.bucket))}


@case(
    "buckets.lifecycle.missing",
    "GetBucketLifecycleConfiguration",
    "boto3-wr",
    {"lc.code": "NoSuchLifecycleConfiguration"},
)
def _(c):
    return {"lc": call(lambda: c.admin.get_bucket_lifecycle_configuration(Bucket=c.bucket))}


@case("buckets.cors.missing", "GetBucketCors", "boto3-wr", {"cors.status": 404})
def _(c):
    return {"cors": call(lambda: c.admin.get_bucket_cors(Bucket=c.bucket))}


@case("buckets.create.boto3-default", "CreateBucket", "boto3", {"create.status": 200}, bucket=None)
def _(c):
    name = c.name()
    c.track(name)
    return {"create": call(lambda: c.s3().create_bucket(Bucket=name), "Location", headers=("location",))}

"""Bucket lifecycle configuration (docs/data-management.md): round trips through boto3 and mc,
and the validation errors, code and message, as MinIO answers them."""

from __future__ import annotations

import base64
import hashlib
import re

from ..core import call, case

RULES = [
    {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 30}},
    {
        "ID": "tagged",
        "Status": "Disabled",
        "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "k", "Value": "v"}, {"Key": "j", "Value": "w"}]}},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 7, "NewerNoncurrentVersions": 2},
    },
    {"ID": "markers", "Status": "Enabled", "Filter": {}, "Expiration": {"ExpiredObjectDeleteMarker": True}},
    {
        "ID": "dated",
        "Status": "Enabled",
        "Filter": {"Tag": {"Key": "a", "Value": "b"}},
        "Expiration": {"Date": "2030-01-01T00:00:00Z"},
    },
    {"ID": "sized", "Status": "Enabled", "Filter": {"ObjectSizeGreaterThan": 1000}, "Expiration": {"Days": 1}},
    {"ID": "legacy", "Status": "Enabled", "Prefix": "old/", "Expiration": {"Days": 2}},
]


def _rules(resp: dict) -> list:
    """The rules as read back, dates as text (boto3 parses them)."""
    out = []
    for r in resp.get("Rules", []):
        r = dict(r)
        exp = dict(r.get("Expiration", {}))
        if "Date" in exp:
            exp["Date"] = exp["Date"].strftime("%Y-%m-%dT%H:%M:%SZ")
            r["Expiration"] = exp
        out.append(r)
    return out


@case(
    "lifecycle.round-trip",
    "PutBucketLifecycleConfiguration",
    "boto3-wr",
    {"put.status": 200, "get.status": 200, "delete.status": 204, "after.code": "NoSuchLifecycleConfiguration"},
)
def _(c):
    s3 = c.admin
    put = call(lambda: s3.put_bucket_lifecycle_configuration(Bucket=c.bucket, LifecycleConfiguration={"Rules": RULES}))
    try:
        got = s3.get_bucket_lifecycle_configuration(Bucket=c.bucket)
        get = {"status": got["ResponseMetadata"]["HTTPStatusCode"], "rules": _rules(got)}
    except Exception as e:  # observed, not raised: the other target's answer is compared
        get = {"error": type(e).__name__}
    delete = call(lambda: s3.delete_bucket_lifecycle(Bucket=c.bucket))
    after = call(lambda: s3.get_bucket_lifecycle_configuration(Bucket=c.bucket))
    return {"put": put, "get": get, "delete": delete, "after": after}


@case("lifecycle.mc-ilm", "mc ilm rule", "mc", {"add.rc": 0, "ls.rc": 0, "rm.rc": 0})
def _(c):
    def obs(r):
        return {"rc": r.rc, "errors": r.errors}

    add = c.mc("ilm", "rule", "add", c.alias(), "--prefix", "logs/", "--expire-days", "7")
    ls = c.mc("ilm", "rule", "ls", c.alias())
    rules = c.admin.get_bucket_lifecycle_configuration(Bucket=c.bucket)["Rules"]
    shape = [{k: v for k, v in r.items() if k != "ID"} for r in rules]
    rm = c.mc("ilm", "rule", "rm", "--all", "--force", c.alias())
    return {"add": obs(add), "ls": obs(ls), "rules": shape, "rm": obs(rm)}


EXP = "<Expiration><Days>1</Days></Expiration>"
BAD = {
    "no-rule": "",
    "long-id": f"<Rule><ID>{'x' * 256}</ID><Status>Enabled</Status><Filter/>{EXP}</Rule>",
    "no-status": f"<Rule><Filter/>{EXP}</Rule>",
    "bad-status": f"<Rule><Status>On</Status><Filter/>{EXP}</Rule>",
    "zero-days": "<Rule><Status>Enabled</Status><Filter/><Expiration><Days>0</Days></Expiration></Rule>",
    "days-and-date": "<Rule><Status>Enabled</Status><Filter/><Expiration><Days>1</Days>"
    "<Date>2030-01-01T00:00:00Z</Date></Expiration></Rule>",
    "date-not-midnight": "<Rule><Status>Enabled</Status><Filter/><Expiration><Date>2030-01-01T10:00:00Z</Date>"
    "</Expiration></Rule>",
    "marker-with-days": "<Rule><Status>Enabled</Status><Filter/><Expiration><Days>1</Days>"
    "<ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>",
    "empty-expiration": "<Rule><Status>Enabled</Status><Filter/><Expiration></Expiration></Rule>",
    "no-action": "<Rule><Status>Enabled</Status><Filter/></Rule>",
    "two-predicates": "<Rule><Status>Enabled</Status><Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value>"
    f"</Tag></Filter>{EXP}</Rule>",
    "and-of-one": f"<Rule><Status>Enabled</Status><Filter><And><Prefix>a</Prefix></And></Filter>{EXP}</Rule>",
    "duplicate-tag": "<Rule><Status>Enabled</Status><Filter><And><Tag><Key>k</Key><Value>1</Value></Tag>"
    f"<Tag><Key>k</Key><Value>2</Value></Tag></And></Filter>{EXP}</Rule>",
    "unknown-filter-element": f"<Rule><Status>Enabled</Status><Filter><Foo/></Filter>{EXP}</Rule>",
    "duplicate-id": f"<Rule><ID>a</ID><Status>Enabled</Status><Filter/>{EXP}</Rule>" * 2,
    "empty-noncurrent": "<Rule><Status>Enabled</Status><Filter/><NoncurrentVersionExpiration>"
    "</NoncurrentVersionExpiration></Rule>",
}


def _put(c, body: bytes) -> dict:
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    r = c.raw.request("PUT", f"/{c.bucket}", query=[("lifecycle", "")], headers={"Content-MD5": md5}, body=body)
    m = re.search(rb"<Message>([^<]*)</Message>", r.body)
    return {"status": r.status, "code": r.code, "message": m.group(1).decode() if m else None}


for _name, _rules_xml in BAD.items():

    @case(f"lifecycle.invalid.{_name}", "PutBucketLifecycleConfiguration", "http", {"put.status": 400})
    def _(c, xml=_rules_xml):
        return {"put": _put(c, f"<LifecycleConfiguration>{xml}</LifecycleConfiguration>".encode())}


@case("lifecycle.invalid.not-xml", "PutBucketLifecycleConfiguration", "http", {"put.code": "MalformedXML"})
def _(c):
    return {"put": {k: v for k, v in _put(c, b"<LifecycleConfiguration><Rule>").items() if k != "message"}}


@case("lifecycle.abort-uploads-only", "PutBucketLifecycleConfiguration", "http")
def _(c):
    """A rule whose only action is AbortIncompleteMultipartUpload (applied by s3gw, dropped by MinIO)."""
    rule = (
        "<Rule><ID>mpu</ID><Status>Enabled</Status><Filter><Prefix>up/</Prefix></Filter>"
        "<AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload>"
        "</Rule>"
    )
    return {"put": _put(c, f"<LifecycleConfiguration>{rule}</LifecycleConfiguration>".encode())}

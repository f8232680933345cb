"""Bucket and object sub-resources: versioning, object lock, retention, legal hold, tagging, policy."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from ..core import NULL_VERSION, lock, tagging
from ..core import policy as P
from . import xml as X
from .app import IAM, Handler, Request
from .errors import S3Error
from .handlers import bypass_governance, governance_denied, version_param, xml_response


async def parse_document(rq: Request, root: str, require_integrity: bool = False) -> dict[str, Any]:
    doc = await rq.read_document(root, require_integrity=require_integrity)
    assert doc is not None
    return doc


def version_headers(version_id: str) -> dict[str, str]:
    return {"x-amz-version-id": version_id} if version_id != NULL_VERSION else {}


# ---------------------------------------------------------------- versioning
async def put_bucket_versioning(rq: Request) -> web.StreamResponse:
    conf = await parse_document(rq, "VersioningConfiguration")
    status = conf.get("Status")
    if status not in ("Enabled", "Suspended"):
        raise S3Error("IllegalVersioningConfigurationException" if status else "MalformedXML")
    await rq.core.set_versioning(rq.op.bucket, status)
    return web.Response(status=200)


async def get_bucket_versioning(rq: Request) -> web.StreamResponse:
    brec = await rq.core.bucket(rq.op.bucket)
    # a bucket that was never versioned answers with an empty configuration
    return xml_response(X.document("VersioningConfiguration", X.el("Status", brec.versioning) if brec.versioning else None))


# ---------------------------------------------------------------- object lock
async def put_lock_config(rq: Request) -> web.StreamResponse:
    conf = await parse_document(rq, "ObjectLockConfiguration", require_integrity=True)
    enabled = conf.get("ObjectLockEnabled") == "Enabled"
    rule = None
    if conf.get("Rule") is not None:
        dr = (conf["Rule"] or {}).get("DefaultRetention") if isinstance(conf["Rule"], dict) else None
        if not isinstance(dr, dict):
            raise S3Error("MalformedXML")
        rule = lock.parse_rule(dr.get("Mode"), dr.get("Days"), dr.get("Years"))
    await rq.core.set_lock_config(rq.op.bucket, enabled, rule)
    return web.Response(status=200)


async def get_lock_config(rq: Request) -> web.StreamResponse:
    rule = await rq.core.lock_config(rq.op.bucket)
    rule_xml = None
    if rule:
        period = X.el("Days", rule["days"]) if "days" in rule else X.el("Years", rule["years"])
        rule_xml = X.el("Rule", X.el("DefaultRetention", X.el("Mode", rule["mode"]), period))
    return xml_response(X.document("ObjectLockConfiguration", X.el("ObjectLockEnabled", "Enabled"), rule_xml))


async def put_retention(rq: Request) -> web.StreamResponse:
    conf = await parse_document(rq, "Retention", require_integrity=True)
    mode, until = conf.get("Mode"), conf.get("RetainUntilDate")
    new = None
    if mode or until:
        if mode not in lock.MODES or not until:
            raise S3Error("MalformedXML")
        new = {"mode": mode, "until": lock.parse_date(until)}
        if new["until"] <= time.time():
            raise S3Error("InvalidRequest", "the retain until date must be in the future")
    with governance_denied(rq):
        await rq.core.set_retention(rq.op.bucket, rq.op.key, version_param(rq), new, bypass_governance(rq))
    return web.Response(status=200)


async def get_retention(rq: Request) -> web.StreamResponse:
    rec = await rq.core.get_record(rq.op.bucket, rq.op.key, version_param(rq))
    ret = rec.info.get("ret")
    if not ret:
        raise S3Error("NoSuchObjectLockConfiguration")
    return xml_response(X.document("Retention", X.el("Mode", ret["mode"]),
                                   X.el("RetainUntilDate", lock.iso(ret["until"]))))


async def put_legal_hold(rq: Request) -> web.StreamResponse:
    conf = await parse_document(rq, "LegalHold", require_integrity=True)
    status = conf.get("Status")
    if status not in ("ON", "OFF"):
        raise S3Error("MalformedXML")
    await rq.core.set_legal_hold(rq.op.bucket, rq.op.key, version_param(rq), status)
    return web.Response(status=200)


async def get_legal_hold(rq: Request) -> web.StreamResponse:
    brec = await rq.core.bucket(rq.op.bucket)
    rec = await rq.core.get_record(rq.op.bucket, rq.op.key, version_param(rq))
    if not brec.object_lock or not rec.info.get("hold"):
        raise S3Error("NoSuchObjectLockConfiguration")
    return xml_response(X.document("LegalHold", X.el("Status", rec.info["hold"])))


# ---------------------------------------------------------------- tagging
def parse_tagset(conf: dict[str, Any], limit: int) -> dict[str, str]:
    """The tags of a Tagging document. TagSet is required (AWS's schema): a document
    without it is MalformedXML, never "no tags" (MinIO would wipe the tags); an
    empty ``<TagSet/>`` is an empty set."""
    if "TagSet" not in conf:
        raise S3Error("MalformedXML")
    tagset = conf.get("TagSet")
    if tagset is not None and not isinstance(tagset, dict):
        tagset = {}
    pairs = []
    for tag in X.as_list((tagset or {}).get("Tag")):
        if not isinstance(tag, dict) or tag.get("Key") is None:
            raise S3Error("InvalidTag", "The TagKey you have provided is invalid")
        pairs.append((str(tag["Key"]), str(tag.get("Value") or "")))
    return tagging.validate(pairs, limit)


def tagset_xml(tags: dict[str, str]) -> bytes:
    items = [X.el("Tag", X.el("Key", k), X.el("Value", v)) for k, v in tags.items()]
    return X.document("Tagging", X.el("TagSet", *items))


async def put_object_tagging(rq: Request) -> web.StreamResponse:
    tags = parse_tagset(await parse_document(rq, "Tagging"), tagging.MAX_OBJECT_TAGS)
    rec = await rq.core.set_tags(rq.op.bucket, rq.op.key, version_param(rq), tags)
    return web.Response(status=200, headers=version_headers(rec.version_id))


async def get_object_tagging(rq: Request) -> web.StreamResponse:
    rec = await rq.core.get_record(rq.op.bucket, rq.op.key, version_param(rq))
    return xml_response(tagset_xml(rec.info.get("tags", {})), headers=version_headers(rec.version_id))


async def delete_object_tagging(rq: Request) -> web.StreamResponse:
    rec = await rq.core.set_tags(rq.op.bucket, rq.op.key, version_param(rq), {})
    return web.Response(status=204, headers=version_headers(rec.version_id))


async def put_bucket_tagging(rq: Request) -> web.StreamResponse:
    tags = parse_tagset(await parse_document(rq, "Tagging"), tagging.MAX_BUCKET_TAGS)
    await rq.core.set_bucket_tags(rq.op.bucket, tags)
    return web.Response(status=200)


async def get_bucket_tagging(rq: Request) -> web.StreamResponse:
    return xml_response(tagset_xml(await rq.core.bucket_tags(rq.op.bucket)))


async def delete_bucket_tagging(rq: Request) -> web.StreamResponse:
    await rq.core.set_bucket_tags(rq.op.bucket, None)
    return web.Response(status=204)


# ---------------------------------------------------------------- bucket policy
def _iam(rq: Request) -> Any:
    iam = rq.http.app.get(IAM)
    if iam is None:                      # an app built without users keeps no policies
        raise S3Error("NotImplemented")
    return iam


async def put_bucket_policy(rq: Request) -> web.StreamResponse:
    """A JSON policy document (core/policy.py grammar), 20 KiB at most; 204 as S3 and MinIO answer."""
    iam = _iam(rq)
    await rq.core.bucket(rq.op.bucket)
    length = rq.http.content_length
    decoded = rq.header("x-amz-decoded-content-length")
    if decoded is not None and decoded.isascii() and decoded.isdigit() and len(decoded) < 20:
        length = int(decoded)          # aws-chunked: the document's own length
    if not length:
        raise S3Error("MissingContentLength")
    if length > P.MAX_BUCKET_POLICY:
        raise S3Error("PolicyTooLarge")
    body = await rq.read_body(limit=P.MAX_BUCKET_POLICY)
    try:
        await iam.put_bucket_policy(rq.op.bucket, body)
    except P.PolicyError as e:
        raise S3Error("MalformedPolicy", str(e)) from None
    return web.Response(status=204)


async def get_bucket_policy(rq: Request) -> web.StreamResponse:
    iam = _iam(rq)
    await rq.core.bucket(rq.op.bucket)
    text = await iam.bucket_policy_text(rq.op.bucket)
    if text is None:
        raise S3Error("NoSuchBucketPolicy")
    return web.Response(status=200, body=text.encode(), content_type="application/json")


async def delete_bucket_policy(rq: Request) -> web.StreamResponse:
    iam = _iam(rq)
    await rq.core.bucket(rq.op.bucket)
    await iam.delete_bucket_policy(rq.op.bucket)
    return web.Response(status=204)


async def get_bucket_policy_status(rq: Request) -> web.StreamResponse:
    """IsPublic as AWS defines it (core/policy.py ``is_public``): the policy lets anyone in."""
    iam = _iam(rq)
    await rq.core.bucket(rq.op.bucket)
    policy = await iam.bucket_policy(rq.op.bucket)
    public = policy is not None and P.is_public(policy)
    return xml_response(X.document("PolicyStatus", X.el("IsPublic", "true" if public else "false")))


HANDLERS: dict[str, Handler] = {
    "PutBucketVersioning": put_bucket_versioning,
    "GetBucketVersioning": get_bucket_versioning,
    "PutObjectLockConfiguration": put_lock_config,
    "GetObjectLockConfiguration": get_lock_config,
    "PutObjectRetention": put_retention,
    "GetObjectRetention": get_retention,
    "PutObjectLegalHold": put_legal_hold,
    "GetObjectLegalHold": get_legal_hold,
    "PutObjectTagging": put_object_tagging,
    "GetObjectTagging": get_object_tagging,
    "DeleteObjectTagging": delete_object_tagging,
    "PutBucketTagging": put_bucket_tagging,
    "GetBucketTagging": get_bucket_tagging,
    "DeleteBucketTagging": delete_bucket_tagging,
    "PutBucketPolicy": put_bucket_policy,
    "GetBucketPolicy": get_bucket_policy,
    "DeleteBucketPolicy": delete_bucket_policy,
    "GetBucketPolicyStatus": get_bucket_policy_status,
}

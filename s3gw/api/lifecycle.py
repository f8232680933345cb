"""Bucket lifecycle configuration: Put, Get, Delete (the rules: core/lifecycle.py; applied by
core/expiry.py), and the x-amz-expiration header of object responses."""

from __future__ import annotations

from aiohttp import web

from ..core import VersionRecord
from ..core import lifecycle as L
from . import xml as X
from .app import Request
from .errors import S3Error
from .xml import xml_response

#: the largest configuration document read: 1000 rules with long IDs, prefixes and tags fit
MAX_LIFECYCLE_BODY = 1024 * 1024
#: elements in one document: 1000 rules of up to ~20 elements (And with tags)
MAX_ELEMENTS = 40_000


async def put_bucket_lifecycle(rq: Request) -> web.StreamResponse:
    await rq.core.bucket(rq.op.bucket)  # NoSuchBucket before the document (MinIO's order)
    # S3 and MinIO require Content-MD5 (or a checksum) on this call
    body = await rq.read_body(limit=MAX_LIFECYCLE_BODY, require_integrity=True)
    try:
        doc = await X.parse_async(body, max_elements=MAX_ELEMENTS)
    except X.XMLError as e:
        raise S3Error("MalformedXML") from e
    # MinIO accepts either root name (the old PutBucketLifecycle called it BucketLifecycleConfiguration)
    root = next(iter(doc))
    if root not in ("LifecycleConfiguration", "BucketLifecycleConfiguration"):
        raise S3Error("MalformedXML")
    value = doc[root]
    if isinstance(value, str) and value.strip():
        raise S3Error("MalformedXML")
    lc = L.parse(value if isinstance(value, dict) else {})
    await rq.core.set_lifecycle(rq.op.bucket, lc)
    return web.Response(status=200)


async def get_bucket_lifecycle(rq: Request) -> web.StreamResponse:
    lc = await rq.core.lifecycle(rq.op.bucket)
    return xml_response(X.document("LifecycleConfiguration", *(_rule_xml(r) for r in lc.rules)))


async def delete_bucket_lifecycle(rq: Request) -> web.StreamResponse:
    await rq.core.set_lifecycle(rq.op.bucket, None)
    return web.Response(status=204)


def _tag(k: str, v: str) -> str:
    return X.el("Tag", X.el("Key", k), X.el("Value", v))


def _filter_xml(r: L.Rule) -> str | None:
    """The Filter as MinIO marshals it: And, else Tag, else Prefix with the sizes."""
    if not r.has_filter:
        return None
    if r.use_and:
        return X.el(
            "Filter",
            X.el(
                "And",
                X.el("ObjectSizeGreaterThan", r.size_gt) if r.size_gt else None,
                X.el("ObjectSizeLessThan", r.size_lt) if r.size_lt else None,
                X.el("Prefix", r.prefix) if r.prefix_set else None,
                *(_tag(k, v) for k, v in r.tags),
            ),
        )
    if r.tags:
        return X.el("Filter", _tag(*r.tags[0]))
    return X.el(
        "Filter",
        X.el("Prefix", r.prefix) if r.prefix_set else None,
        X.el("ObjectSizeLessThan", r.size_lt) if r.size_lt else None,
        X.el("ObjectSizeGreaterThan", r.size_gt) if r.size_gt else None,
    )


def _rule_xml(r: L.Rule) -> str:
    expiration = None
    if r.expiration_days is not None or r.expiration_date is not None or r.expired_object_delete_marker is not None:
        marker = r.expired_object_delete_marker
        expiration = X.el(
            "Expiration",
            X.el("Days", r.expiration_days) if r.expiration_days is not None else None,
            X.el("Date", r.expiration_date) if r.expiration_date else None,
            X.el("ExpiredObjectDeleteMarker", "true" if marker else "false") if marker is not None else None,
        )
    noncurrent = None
    if r.expires_noncurrent:
        noncurrent = X.el(
            "NoncurrentVersionExpiration",
            X.el("NoncurrentDays", r.noncurrent_days) if r.noncurrent_days is not None else None,
            X.el("NewerNoncurrentVersions", r.newer_noncurrent_versions) if r.newer_noncurrent_versions else None,
        )
    abort = None
    if r.abort_days is not None:
        abort = X.el("AbortIncompleteMultipartUpload", X.el("DaysAfterInitiation", r.abort_days))
    return X.el(
        "Rule",
        X.el("ID", r.id),
        X.el("Status", r.status),
        _filter_xml(r),
        X.el("Prefix", r.legacy) if r.legacy_prefix else None,
        expiration,
        noncurrent,
        abort,
    )


async def expiration_headers(rq: Request, rec: VersionRecord, headers: dict[str, str]) -> None:
    """Add x-amz-expiration when a lifecycle rule will expire this version, as MinIO writes it:
    ``expiry-date="Fri, 23 Dec 2012 00:00:00 GMT", rule-id="picture-deletion-rule"``."""
    due = await rq.core.expiration(rec)
    if due is not None:
        rule_id, when = due
        headers["x-amz-expiration"] = f'expiry-date="{X.http_date(when)}", rule-id="{rule_id}"'

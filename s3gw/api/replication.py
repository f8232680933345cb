"""Bucket replication configuration: Put, Get, Delete (the rules and their checks:
core/replication.py; the remote targets: ``s3gw admin replicate``)."""

from __future__ import annotations

from aiohttp import web

from ..core import errors as E
from ..core import replication as R
from . import xml as X
from .app import Request
from .errors import S3Error
from .xml import xml_response

#: elements in one document: 1000 rules of up to ~25 elements (And with tags)
MAX_ELEMENTS = 40_000


async def put_bucket_replication(rq: Request) -> web.StreamResponse:
    brec = await rq.core.bucket(rq.op.bucket)  # NoSuchBucket, then versioning, then the document (MinIO's order)
    if brec.versioning != "Enabled":
        raise E.ReplicationNeedsVersioning(bucket=rq.op.bucket)
    body = await rq.read_body(limit=R.MAX_DOCUMENT)
    try:
        doc = await X.parse_async(body, max_elements=MAX_ELEMENTS)
    except X.XMLError as e:
        raise S3Error("MalformedXML") from e
    if "ReplicationConfiguration" not in doc:
        raise S3Error("MalformedXML")
    value = doc["ReplicationConfiguration"]
    await rq.core.set_replication(rq.op.bucket, value if isinstance(value, dict) else {})
    return web.Response(status=200)


async def get_bucket_replication(rq: Request) -> web.StreamResponse:
    rc = await rq.core.replication(rq.op.bucket)
    return xml_response(
        X.document("ReplicationConfiguration", *(_rule_xml(r) for r in rc.rules), X.el("Role", rc.role))
    )


async def delete_bucket_replication(rq: Request) -> web.StreamResponse:
    await rq.core.set_replication(rq.op.bucket, None)
    return web.Response(status=200)  # MinIO answers 200 here (mc and minio-go expect it), not 204


def _status(name: str, status: str) -> str:
    return X.el(name, X.el("Status", status))


def _tag(k: str, v: str) -> str:
    return X.el("Tag", X.el("Key", k), X.el("Value", v))


def _filter_xml(r: R.Rule) -> str:
    """MinIO's Filter.MarshalXML: And when it has a prefix and tags (or several tags), else Tag, else Prefix."""
    if len(r.tags) > 1 or (r.tags and r.prefix):
        return X.el("Filter", X.el("And", X.el("Prefix", r.prefix) if r.prefix else None, *(_tag(*t) for t in r.tags)))
    if r.tags:
        return X.el("Filter", _tag(*r.tags[0]))
    return X.el("Filter", X.el("Prefix", r.prefix))


def _rule_xml(r: R.Rule) -> str:
    """A rule in MinIO's field order (its Rule struct)."""
    return X.el(
        "Rule",
        X.el("ID", r.id) if r.id else None,
        X.el("Status", r.status),
        X.el("Priority", r.priority),
        _status("DeleteMarkerReplication", r.delete_marker),
        _status("DeleteReplication", r.delete),
        X.el(
            "Destination",
            X.el("Bucket", r.destination),
            X.el("StorageClass", r.storage_class) if r.storage_class else None,
        ),
        X.el("SourceSelectionCriteria", _status("ReplicaModifications", r.replica_modifications)),
        _filter_xml(r),
        _status("ExistingObjectReplication", r.existing),
    )

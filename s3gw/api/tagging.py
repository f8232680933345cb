"""Tag sets of buckets and objects."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..core import tagging
from . import xml as X
from .app import Request
from .authz import REPLICATION_REQUEST
from .errors import S3Error
from .headers import version_headers
from .xml import xml_response


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
    tags = parse_tagset(await rq.document("Tagging"), tagging.MAX_OBJECT_TAGS)
    # a replication request's tag change (another site's) is not replicated again: no loops
    replica = rq.http.headers.get(REPLICATION_REQUEST, "").strip().lower() == "true"
    rec = await rq.core.set_tags(rq.op.bucket, rq.op.key, rq.op.version_id, tags, replica=replica)
    return web.Response(status=200, headers=version_headers(rec.version_id))


async def get_object_tagging(rq: Request) -> web.StreamResponse:
    rec = await rq.core.get_record(rq.op.bucket, rq.op.key, rq.op.version_id)
    return xml_response(tagset_xml(rec.info.tags), headers=version_headers(rec.version_id))


async def delete_object_tagging(rq: Request) -> web.StreamResponse:
    replica = rq.http.headers.get(REPLICATION_REQUEST, "").strip().lower() == "true"
    rec = await rq.core.set_tags(rq.op.bucket, rq.op.key, rq.op.version_id, {}, replica=replica)
    return web.Response(status=204, headers=version_headers(rec.version_id))


async def put_bucket_tagging(rq: Request) -> web.StreamResponse:
    tags = parse_tagset(await rq.document("Tagging"), tagging.MAX_BUCKET_TAGS)
    await rq.core.set_bucket_tags(rq.op.bucket, tags)
    return web.Response(status=200)


async def get_bucket_tagging(rq: Request) -> web.StreamResponse:
    return xml_response(tagset_xml(await rq.core.bucket_tags(rq.op.bucket)))


async def delete_bucket_tagging(rq: Request) -> web.StreamResponse:
    await rq.core.set_bucket_tags(rq.op.bucket, None)
    return web.Response(status=204)

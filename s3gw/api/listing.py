"""Listings: buckets, objects (V1 and V2), versions, multipart uploads. The router parsed the parameters."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..core import NULL_VERSION, VersionRecord
from . import xml as X
from .acl import initiator, owner
from .app import Request
from .router import MAX_KEYS, MAX_UPLOADS, Listing, token_encode
from .xml import xml_response


async def list_buckets(rq: Request) -> web.StreamResponse:
    buckets = await rq.core.list_buckets()
    items = [X.el("Bucket", X.el("Name", b.name), X.el("CreationDate", X.iso8601(b.created))) for b in buckets]
    return xml_response(X.document("ListAllMyBucketsResult", owner(), X.el("Buckets", *items)))


def _params(rq: Request) -> tuple[Listing, Any]:
    """The listing's parameters (the router parsed them) and the encoder of the keys and prefixes it answers."""
    lst = rq.op.listing
    assert lst is not None
    return lst, X.url_encode if lst.url else lambda s: s


def _contents(rec: VersionRecord, enc: Any, with_owner: bool) -> str:
    return X.el(
        "Contents",
        X.el("Key", enc(rec.key)),
        X.el("LastModified", X.iso8601(rec.mtime)),
        X.el("ETag", f'"{rec.etag}"'),
        X.el("Size", rec.size),
        owner() if with_owner else None,
        X.el("StorageClass", rec.info.storage_class or "STANDARD"),
    )


def _result(root: str, children: list[str | None], prefixes: list[str], lst: Listing, enc: Any) -> web.Response:
    """The end every listing shares: its common prefixes, then EncodingType when the keys are URL-encoded."""
    children += [X.el("CommonPrefixes", X.el("Prefix", enc(p))) for p in prefixes]
    if lst.url:
        children.append(X.el("EncodingType", "url"))
    return xml_response(X.document(root, *children))


async def list_objects(rq: Request) -> web.StreamResponse:
    lst, enc = _params(rq)
    prefix, delimiter, marker, max_keys = lst.prefix, lst.delimiter, lst.marker, lst.max_keys
    page = await rq.core.list_objects(rq.op.bucket, prefix, delimiter, marker, min(max_keys, MAX_KEYS))
    # element order as MinIO writes it; MinIO sends NextMarker on every truncated
    # page (AWS only with a delimiter)
    children = [
        X.el("Name", rq.op.bucket),
        X.el("Prefix", enc(prefix)),
        X.el("Marker", enc(marker)),
        X.el("NextMarker", enc(page.next_marker)) if page.truncated else None,
        X.el("MaxKeys", max_keys),
        X.el("Delimiter", enc(delimiter)) if delimiter else None,
        X.el("IsTruncated", "true" if page.truncated else "false"),
    ]
    children += [_contents(r, enc, True) for r in page.entries]
    return _result("ListBucketResult", children, page.prefixes, lst, enc)


async def list_objects_v2(rq: Request) -> web.StreamResponse:
    lst, enc = _params(rq)
    prefix, delimiter, marker, max_keys = lst.prefix, lst.delimiter, lst.marker, lst.max_keys
    start_after, token, fetch_owner = lst.start_after, lst.token, lst.fetch_owner  # marker: the token's, if sent
    page = await rq.core.list_objects(rq.op.bucket, prefix, delimiter, marker, min(max_keys, MAX_KEYS))
    children = [
        X.el("Name", rq.op.bucket),
        X.el("Prefix", enc(prefix)),
        X.el("StartAfter", enc(start_after)) if start_after else None,
        X.el("ContinuationToken", token) if token else None,
        X.el("NextContinuationToken", token_encode(page.next_marker)) if page.truncated else None,
        X.el("KeyCount", len(page.entries) + len(page.prefixes)),
        X.el("MaxKeys", max_keys),
        X.el("Delimiter", enc(delimiter)) if delimiter else None,
        X.el("IsTruncated", "true" if page.truncated else "false"),
    ]
    children += [_contents(r, enc, fetch_owner) for r in page.entries]
    return _result("ListBucketResult", children, page.prefixes, lst, enc)


async def list_object_versions(rq: Request) -> web.StreamResponse:
    lst, enc = _params(rq)
    prefix, delimiter, key_marker, version_marker, max_keys = (
        lst.prefix,
        lst.delimiter,
        lst.marker,
        lst.id_marker,
        lst.max_keys,
    )
    page = await rq.core.list_versions(
        rq.op.bucket, prefix, delimiter, key_marker, version_marker, min(max_keys, MAX_KEYS)
    )
    # element order as MinIO writes it (strict XML consumers notice)
    children = [
        X.el("Name", rq.op.bucket),
        X.el("Prefix", enc(prefix)),
        X.el("KeyMarker", enc(key_marker)),
        X.el("NextKeyMarker", enc(page.next_marker)) if page.truncated else None,
        # MinIO always sends the element: empty unless truncated after a non-null version
        X.el("NextVersionIdMarker", page.next_version_marker if page.next_version_marker != NULL_VERSION else ""),
        X.el("VersionIdMarker", version_marker),
        X.el("MaxKeys", max_keys),
        X.el("Delimiter", enc(delimiter)) if delimiter else None,
        X.el("IsTruncated", "true" if page.truncated else "false"),
    ]
    for r in page.entries:
        tail = [X.el("IsLatest", "true" if r.is_latest else "false"), X.el("VersionId", r.version_id)]
        if r.delete_marker:
            children.append(
                X.el(
                    "DeleteMarker",
                    X.el("Key", enc(r.key)),
                    X.el("LastModified", X.iso8601(r.mtime)),
                    owner(),
                    X.el("StorageClass", "STANDARD"),
                    *tail,
                )
            )
        else:
            children.append(
                X.el(
                    "Version",
                    X.el("Key", enc(r.key)),
                    X.el("LastModified", X.iso8601(r.mtime)),
                    X.el("ETag", f'"{r.etag}"'),
                    X.el("Size", r.size),
                    owner(),
                    X.el("StorageClass", r.info.storage_class or "STANDARD"),
                    *tail,
                )
            )
    return _result("ListVersionsResult", children, page.prefixes, lst, enc)


async def list_multipart_uploads(rq: Request) -> web.StreamResponse:
    lst, enc = _params(rq)
    prefix, delimiter, key_marker, id_marker, max_uploads = (
        lst.prefix,
        lst.delimiter,
        lst.marker,
        lst.id_marker,
        lst.max_keys,
    )
    page = await rq.core.list_uploads(
        rq.op.bucket, prefix, delimiter, key_marker, id_marker, min(max_uploads, MAX_UPLOADS)
    )
    children = [
        X.el("Bucket", rq.op.bucket),
        X.el("KeyMarker", enc(key_marker)),
        X.el("UploadIdMarker", id_marker),
        X.el("NextKeyMarker", enc(page.next_key_marker)),
        X.el("NextUploadIdMarker", page.next_upload_id_marker),
        X.el("Delimiter", enc(delimiter)) if delimiter else None,
        X.el("Prefix", enc(prefix)),
        X.el("MaxUploads", max_uploads),
        X.el("IsTruncated", "true" if page.truncated else "false"),
    ]
    for up in page.uploads:
        children.append(
            X.el(
                "Upload",
                X.el("Key", enc(up.key)),
                X.el("UploadId", up.upload_id),
                initiator(),
                owner(),
                X.el("StorageClass", up.info.storage_class or ""),
                X.el("Initiated", X.iso8601(up.initiated)),
            )
        )
    return _result("ListMultipartUploadsResult", children, page.prefixes, lst, enc)

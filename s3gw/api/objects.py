"""Objects: GetObject/HeadObject, PutObject, CopyObject, DeleteObject, DeleteObjects.

Handlers stay terse (STYLE.md item 9): the semantics live in ``s3gw.core``.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..core import NULL_VERSION
from ..core.conditions import Conditions
from . import authz
from . import xml as X
from .app import Request, to_s3_error
from .authz import PER_KEY
from .errors import S3Error
from .headers import (
    check_content_length,
    is_replication_request,
    object_response_headers,
    put_options,
    replica_source,
    sse_request,
    write_headers,
)
from .lifecycle import expiration_headers
from .locking import bypass_governance, governance_denied
from .router import Operation
from .xml import xml_response


async def put_object(rq: Request) -> web.StreamResponse:
    check_content_length(rq)
    opts = put_options(rq)
    rec = await rq.core.put_object(rq.op.bucket, rq.op.key, rq.payload(), opts)
    headers = write_headers(rec, opts.sse)
    await expiration_headers(rq, rec, headers)
    return web.Response(status=200, headers=headers)


def _conditions(rq: Request) -> Conditions:
    return Conditions(
        if_match=rq.header("If-Match"),
        if_none_match=rq.header("If-None-Match"),
        if_modified_since=rq.header("If-Modified-Since"),
        if_unmodified_since=rq.header("If-Unmodified-Since"),
    )


def copy_source_conditions(rq: Request) -> Conditions:
    """The x-amz-copy-source-if-* headers of CopyObject and UploadPartCopy: conditions on the source."""
    return Conditions(
        if_match=rq.header("x-amz-copy-source-if-match"),
        if_none_match=rq.header("x-amz-copy-source-if-none-match"),
        if_modified_since=rq.header("x-amz-copy-source-if-modified-since"),
        if_unmodified_since=rq.header("x-amz-copy-source-if-unmodified-since"),
    )


#: transport write buffer of a big GET (bytes queued before a write waits for the client)
_SEND_BUFFER = 2 << 20


async def get_object(rq: Request) -> web.StreamResponse:
    head = rq.http.method == "HEAD"
    read = await rq.core.get_object(
        rq.op.bucket,
        rq.op.key,
        version_id=rq.op.version_id,
        range_header=rq.header("Range"),
        cond=_conditions(rq),
        part_number=rq.op.part_number,
        with_body=not head,
        sse=sse_request(rq),
    )
    headers = object_response_headers(rq, read)
    if read.record.is_latest:
        await expiration_headers(rq, read.record, headers)
    status = 206 if read.partial else 200
    if head or read.body is None:
        return web.Response(status=status, headers=headers)
    body = read.body
    # Fetch the first piece before sending headers, so a read failure can
    # still be answered with an S3 error instead of a truncated 200.
    try:
        first = await body.__anext__()
    except StopAsyncIteration:
        first = b""
    resp = web.StreamResponse(status=status, headers=headers)
    await resp.prepare(rq.http)
    transport = rq.http.transport
    limits = None
    if transport is not None and read.length > _SEND_BUFFER:
        limits = transport.get_write_buffer_limits()
        # Let a big body queue up to a few stripes in the transport before a write waits
        # for the client (the default, 64 KiB, wakes the handler for every fragment);
        # the connection's next requests get the default back (below).
        transport.set_write_buffer_limits(high=_SEND_BUFFER)
    try:
        # server.write_timeout: a client that stops reading. One deadline, armed around
        # each write only (never while the storage reads), instead of a timer task per
        # write (wait_for).
        limit = rq.settings.write_timeout or None
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(None) as deadline:
            if first:
                if limit:
                    deadline.reschedule(loop.time() + limit)
                await resp.write(first)
                deadline.reschedule(None)
            async for chunk in body:
                if limit:
                    deadline.reschedule(loop.time() + limit)
                await resp.write(chunk)
                if limit:
                    deadline.reschedule(None)
    except Exception:
        # Headers are gone: the only honest signal left is a cut connection
        # (the client sees fewer bytes than Content-Length, never wrong data).
        if rq.http.transport is not None:
            rq.http.transport.close()
        raise
    finally:
        # the read ends now, however it ended (its shards are no longer protected from GC)
        await body.aclose()
    await resp.write_eof()
    if limits is not None and transport is not None and not transport.is_closing():
        transport.set_write_buffer_limits(high=limits[1], low=limits[0])
    return resp


async def delete_object(rq: Request) -> web.StreamResponse:
    replica = is_replication_request(rq)
    replica_marker = None
    if replica and (rq.header("x-minio-source-deletemarker") or "").strip().lower() == "true":
        # MinIO's delete-marker replication: place the source's marker (its version id and time)
        replica_marker = replica_source(rq)
        if replica_marker is None:
            raise S3Error("InvalidArgument", "Invalid version id specified")
    with governance_denied(rq):
        removed, marker = await rq.core.delete_object(
            rq.op.bucket,
            rq.op.key,
            None if replica_marker is not None else rq.op.version_id,
            bypass_governance=bypass_governance(rq),
            replica=replica,
            replica_marker=replica_marker,
        )
    headers: dict[str, str] = {}
    if marker is not None and marker.version_id != NULL_VERSION:
        # a null delete marker (suspended bucket) is not announced, as MinIO does
        headers["x-amz-delete-marker"] = "true"
        headers["x-amz-version-id"] = marker.version_id
    elif removed is not None and rq.op.version_id:
        headers["x-amz-version-id"] = removed.version_id
        if removed.delete_marker:
            headers["x-amz-delete-marker"] = "true"
    return web.Response(status=204, headers=headers)


async def delete_objects(rq: Request) -> web.StreamResponse:
    root = await rq.read_document("Delete", require_integrity=True)
    assert root is not None
    objects = X.as_list(root.get("Object"))
    if not objects or len(objects) > 1000:
        raise S3Error("MalformedXML")
    quiet = str(root.get("Quiet", "false")).strip().lower() == "true"
    await rq.core.bucket(rq.op.bucket)
    out = []
    for obj in objects:
        if not isinstance(obj, dict) or obj.get("Key") is None:
            raise S3Error("MalformedXML")
        key = obj["Key"] if isinstance(obj["Key"], str) else ""
        vid = obj.get("VersionId") or None
        try:
            # each key is authorised as its own DeleteObject (authz.PER_KEY): a denied one is an Error entry
            decision = await rq.authorize(Operation(PER_KEY[rq.op.name], rq.op.bucket, key), vid)
            with governance_denied(rq, decision):
                removed, marker = await rq.core.delete_object(
                    rq.op.bucket, key, vid, bypass_governance=bypass_governance(rq, decision)
                )
        except Exception as exc:  # one key's failure is reported in the document
            err = to_s3_error(exc, rq.request_id, rq.op, key)
            out.append(
                X.el(
                    "Error",
                    X.el("Key", key),
                    X.el("VersionId", vid) if vid else None,
                    X.el("Code", err.code),
                    X.el("Message", err.message),
                )
            )
            continue
        if quiet:
            continue
        children = [X.el("Key", key)]
        if vid:
            children.append(X.el("VersionId", vid))
            if removed is not None and removed.delete_marker:
                children += [X.el("DeleteMarker", "true"), X.el("DeleteMarkerVersionId", vid)]
        elif marker is not None:
            children += [X.el("DeleteMarker", "true"), X.el("DeleteMarkerVersionId", marker.version_id)]
        out.append(X.el("Deleted", *children))
    return xml_response(X.document("DeleteResult", *out))


def parse_copy_source(value: str) -> tuple[str, str, str | None]:
    """x-amz-copy-source as (bucket, key, version): ``authz.parse_copy_source`` (the parser that
    authorisation used), its refusal as InvalidArgument.

    >>> parse_copy_source("/b/a%20b?versionId=x")
    ('b', 'a b', 'x')
    """
    try:
        return authz.parse_copy_source(value)
    except ValueError as e:
        raise S3Error("InvalidArgument", str(e)) from None


async def copy_object(rq: Request) -> web.StreamResponse:
    src_bucket, src_key, src_version = parse_copy_source(rq.header("x-amz-copy-source") or "")
    directive = (rq.header("x-amz-metadata-directive") or "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown metadata directive.")
    tag_directive = (rq.header("x-amz-tagging-directive") or "COPY").upper()
    if tag_directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown tagging directive.")
    opts = put_options(rq)
    opts.if_match = opts.if_none_match = None
    opts.content_md5 = None
    cond = copy_source_conditions(rq)
    src, rec = await rq.core.copy_object(
        src_bucket,
        src_key,
        src_version,
        rq.op.bucket,
        rq.op.key,
        cond=cond,
        replace_meta=directive == "REPLACE",
        replace_tags=tag_directive == "REPLACE",
        opts=opts,
        src_sse=sse_request(rq, copy_source=True),
    )
    headers = write_headers(rec, opts.sse)
    await expiration_headers(rq, rec, headers)
    if src_version is not None:
        headers["x-amz-copy-source-version-id"] = src.version_id
    body = X.document("CopyObjectResult", X.el("LastModified", X.iso8601(rec.mtime)), X.el("ETag", f'"{rec.etag}"'))
    return xml_response(body, headers=headers)

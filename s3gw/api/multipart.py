"""Multipart uploads: create, upload a part (or copy one), complete, abort, list the parts."""

from __future__ import annotations

from aiohttp import web

from ..common.numbers import parse_int
from ..common.records import Checksum
from ..core.multipart import CompletedPart
from . import xml as X
from .acl import initiator, owner
from .app import Request
from .errors import S3Error
from .headers import check_content_length, put_options, sse_headers, sse_request, write_headers
from .lifecycle import expiration_headers
from .objects import copy_source_conditions, parse_copy_source
from .router import MAX_PARTS
from .xml import xml_response

# <Part> with PartNumber, ETag and up to five Checksum* elements (and room to spare):
# the element budget of a CompleteMultipartUpload document
MAX_PART_ELEMENTS = 10


def _upload_id(rq: Request) -> str:
    uid = rq.op.upload_id
    if not uid:
        raise S3Error("NoSuchUpload")
    return uid


def _part_number(rq: Request) -> int:
    """UploadPart's partNumber: what does not parse (strconv.Atoi in MinIO; the router left None) is InvalidPart."""
    if rq.op.part_number is None:
        raise S3Error("InvalidPart")
    return rq.op.part_number


def _checksum_el(ck: Checksum | None) -> str | None:
    return X.el(f"Checksum{ck.algo}", ck.value) if ck else None


async def create_multipart_upload(rq: Request) -> web.StreamResponse:
    opts = put_options(rq)
    up = await rq.core.create_upload(rq.op.bucket, rq.op.key, opts)
    # no SSE headers here: MinIO's NewMultipartUploadHandler sends none (the parts and the
    # completed object's answers do)
    headers = {}
    if opts.checksum_algo:
        headers["x-amz-checksum-algorithm"] = opts.checksum_algo
        headers["x-amz-checksum-type"] = opts.checksum_type
    body = X.document(
        "InitiateMultipartUploadResult",
        X.el("Bucket", rq.op.bucket),
        X.el("Key", rq.op.key),
        X.el("UploadId", up.upload_id),
    )
    return xml_response(body, headers=headers)


async def upload_part(rq: Request) -> web.StreamResponse:
    check_content_length(rq)
    opts = put_options(rq)
    part = await rq.core.upload_part(rq.op.bucket, rq.op.key, _upload_id(rq), _part_number(rq), rq.payload(), opts)
    headers = {"ETag": f'"{part.etag}"', **sse_headers(part.info.sse, opts.sse)}
    ck = part.info.checksum
    if ck:
        headers[f"x-amz-checksum-{ck.algo.lower()}"] = ck.value
    return web.Response(status=200, headers=headers)


async def upload_part_copy(rq: Request) -> web.StreamResponse:
    src_bucket, src_key, src_version = parse_copy_source(rq.header("x-amz-copy-source") or "")
    cond = copy_source_conditions(rq)
    src, part = await rq.core.upload_part_copy(
        rq.op.bucket,
        rq.op.key,
        _upload_id(rq),
        _part_number(rq),
        src_bucket,
        src_key,
        src_version,
        rq.header("x-amz-copy-source-range"),
        cond,
        sse=sse_request(rq),
        src_sse=sse_request(rq, copy_source=True),
    )
    headers = {"x-amz-copy-source-version-id": src.version_id} if src.version_id != "null" else {}
    headers.update(sse_headers(part.info.sse, sse_request(rq)))
    body = X.document(
        "CopyPartResult",
        X.el("LastModified", X.iso8601(part.mtime)),
        X.el("ETag", f'"{part.etag}"'),
        _checksum_el(part.info.checksum),
    )
    return xml_response(body, headers=headers)


async def complete_multipart_upload(rq: Request) -> web.StreamResponse:
    # x-amz-checksum-* on CompleteMultipartUpload describe the object (mc sends
    # them), not this XML body: only Content-MD5 is checked against the body
    root = await rq.read_document(
        "CompleteMultipartUpload", body_checksums=False, max_elements=1 + MAX_PART_ELEMENTS * MAX_PARTS
    )
    assert root is not None
    chosen = []
    for p in X.as_list(root.get("Part")):
        if not isinstance(p, dict) or p.get("PartNumber") is None or p.get("ETag") is None:
            raise S3Error("MalformedXML")
        try:
            number = parse_int(p["PartNumber"])  # a string of ASCII digits, not an element or junk
        except ValueError as e:
            raise S3Error("MalformedXML") from e
        ck = next((v for k, v in p.items() if k.startswith("Checksum") and isinstance(v, str)), None)
        chosen.append(CompletedPart(number, str(p["ETag"]), ck))
    rec = await rq.core.complete_upload(
        rq.op.bucket,
        rq.op.key,
        _upload_id(rq),
        chosen,
        if_match=rq.header("If-Match"),
        if_none_match=rq.header("If-None-Match"),
    )
    # the request carries no customer key: as AWS's and MinIO's, the answer names no SSE-C algorithm
    headers = {
        k: v for k, v in write_headers(rec).items() if not k.startswith("x-amz-server-side-encryption-customer-")
    }
    await expiration_headers(rq, rec, headers)
    ck = rec.info.checksum
    out = X.document(
        "CompleteMultipartUploadResult",
        X.el("Location", f"{rq.http.scheme}://{rq.http.host}/{rq.op.bucket}/{rq.op.key}"),
        X.el("Bucket", rq.op.bucket),
        X.el("Key", rq.op.key),
        X.el("ETag", f'"{rec.etag}"'),
        _checksum_el(ck),
        X.el("ChecksumType", ck.type) if ck else None,
    )
    return xml_response(out, headers=headers)


async def abort_multipart_upload(rq: Request) -> web.StreamResponse:
    await rq.core.abort_upload(rq.op.bucket, rq.op.key, _upload_id(rq))
    return web.Response(status=204)


async def list_parts(rq: Request) -> web.StreamResponse:
    assert rq.op.listing is not None
    marker, max_parts = rq.op.listing.part_marker, rq.op.listing.max_keys
    up, parts, truncated = await rq.core.list_parts(
        rq.op.bucket, rq.op.key, _upload_id(rq), marker, min(max_parts, MAX_PARTS)
    )
    items = [
        X.el(
            "Part",
            X.el("PartNumber", p.part_number),
            X.el("LastModified", X.iso8601(p.mtime)),
            X.el("ETag", f'"{p.etag}"'),
            X.el("Size", p.size),
            _checksum_el(p.info.checksum),
        )
        for p in parts
    ]
    body = X.document(
        "ListPartsResult",
        X.el("Bucket", rq.op.bucket),
        X.el("Key", rq.op.key),
        X.el("UploadId", up.upload_id),
        initiator(),
        owner(),
        X.el("StorageClass", up.info.storage_class or "STANDARD"),
        X.el("PartNumberMarker", marker),
        X.el("NextPartNumberMarker", parts[-1].part_number if parts and truncated else 0),
        X.el("MaxParts", max_parts),
        X.el("IsTruncated", "true" if truncated else "false"),
        X.el("ChecksumAlgorithm", up.info.checksum_algo) if up.info.checksum_algo else None,
        X.el("ChecksumType", up.info.checksum_type) if up.info.checksum_algo else None,
        *items,
    )
    return xml_response(body)

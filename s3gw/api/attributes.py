"""GetObjectAttributes (``GET /bucket/key?attributes``): what HEAD tells and more, as one
XML document — ETag, Checksum, ObjectParts (with each part's checksum, paged with
``x-amz-max-parts`` / ``x-amz-part-number-marker``), StorageClass, ObjectSize — for the
attributes ``x-amz-object-attributes`` names. As AWS and MinIO answer it; where they
differ, MinIO (an object not uploaded in parts is one part; ``MaxParts`` defaults to
10000; a composite checksum without its ``-N`` suffix).

Authorisation (``s3:GetObjectAttributes`` and ``s3:GetObject``, the version actions for a
``versionId``) is the pipeline's (api/authz.py); the version, delete markers and
preconditions are the core's, as for HEAD.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from aiohttp import web

from ..common.numbers import parse_int
from ..common.records import Checksum
from ..core import NULL_VERSION
from ..core.conditions import Conditions
from ..core.errors import CoreError
from . import xml as X
from .app import Request, to_s3_error
from .errors import S3Error
from .headers import sse_request
from .xml import http_date

ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")
DEFAULT_MAX_PARTS = 10000  # MinIO's maxPartsList (AWS: 1000)
_DM_HEADERS = ("x-amz-delete-marker", "x-amz-version-id")
_ALGOS = ("CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME")


def _int_header(rq: Request, name: str) -> int:
    raw = (rq.header(name) or "").strip()
    if not raw:
        return 0
    try:
        return parse_int(raw, -(2**31), 2**31 - 1)  # Go's strconv.Atoi, bounded
    except ValueError:
        raise S3Error("InvalidArgument", f"Unable to parse {name}, value should be an integer") from None


def _checksum_elements(ck: Checksum | None) -> list[str]:
    if ck is None or (ck.algo or "").upper() not in _ALGOS:
        return []
    return [X.el(f"Checksum{ck.algo.upper()}", str(ck.value).split("-", 1)[0])]


async def get_object_attributes(rq: Request) -> web.StreamResponse:
    wanted = {
        a.strip() for v in rq.http.headers.getall("x-amz-object-attributes", []) for a in v.split(",") if a.strip()
    }
    if not wanted or any(a not in ATTRIBUTES for a in wanted):
        raise S3Error("InvalidArgument", "Invalid attribute name specified.")
    max_parts = _int_header(rq, "x-amz-max-parts") or DEFAULT_MAX_PARTS
    marker = _int_header(rq, "x-amz-part-number-marker")
    cond = Conditions(
        if_match=rq.header("If-Match"),
        if_none_match=rq.header("If-None-Match"),
        if_modified_since=rq.header("If-Modified-Since"),
        if_unmodified_since=rq.header("If-Unmodified-Since"),
    )
    try:
        read = await rq.core.get_object(
            rq.op.bucket, rq.op.key, version_id=rq.op.version_id, cond=cond, with_body=False, sse=sse_request(rq)
        )
    except CoreError as e:
        # MinIO answers a delete marker here without HEAD's x-amz-delete-marker / version headers
        err = to_s3_error(e)
        err.headers = {k: v for k, v in err.headers.items() if k.lower() not in _DM_HEADERS}
        raise err from None
    rec = read.record
    children: list[Any] = []
    if "ETag" in wanted:
        children.append(X.el("ETag", rec.etag))
    ck = rec.info.checksum
    if "Checksum" in wanted and ck:
        children.append(X.el("Checksum", *_checksum_elements(ck), X.el("ChecksumType", ck.type) if ck.type else None))
    if "ObjectParts" in wanted:
        parts: list[Any] = (
            list(rec.layout.parts)
            if rec.layout is not None and rec.layout.parts
            else [SimpleNamespace(number=1, size=rec.size, checksum=None)]
        )  # a single-part object: one part
        page = [p for p in parts if p.number > marker][:max_parts] if max_parts > -1 else []
        nxt = page[-1].number if page else 0
        children.append(
            X.el(
                "ObjectParts",
                X.el("IsTruncated", "true" if nxt != len(parts) else "false"),
                X.el("MaxParts", max_parts),
                X.el("NextPartNumberMarker", nxt),
                X.el("PartNumberMarker", marker),
                X.el("PartsCount", len(parts)),
                *[
                    X.el("Part", X.el("PartNumber", p.number), X.el("Size", p.size), *_checksum_elements(p.checksum))
                    for p in page
                ],
            )
        )
    if "StorageClass" in wanted:
        children.append(X.el("StorageClass", rec.info.storage_class or "STANDARD"))
    if "ObjectSize" in wanted:
        children.append(X.el("ObjectSize", rec.size))
    headers = {"Last-Modified": http_date(rec.mtime)}
    if rec.version_id != NULL_VERSION:
        headers["x-amz-version-id"] = rec.version_id
    return web.Response(
        body=X.document("GetObjectAttributesResponse", *children), content_type="application/xml", headers=headers
    )

"""Headers in and out: what a write stores from its request headers, and what an answer says of a version.

``put_options`` turns a PUT's (a copy's, a multipart create's) headers into the
core's ``PutOptions``; ``write_headers`` and ``object_response_headers`` render
a version record as the response headers of a write and of a GET/HEAD, with the
request's response-* overrides (parsed by the router) applied last.
"""

from __future__ import annotations

import re
from typing import Any

from ..core import NULL_VERSION, VersionRecord, checksums, lock, tagging
from ..core.service import DEFAULT_CONTENT_TYPE, ObjectRead, PutOptions
from .app import Request
from .errors import S3Error
from .router import RESPONSE_OVERRIDES
from .xml import http_date

# Stored with the object and returned on GET/HEAD as they were sent.
STORED_HEADERS = ("cache-control", "content-disposition", "content-encoding", "content-language", "expires")
CHECKSUM_HEADERS = {f"x-amz-checksum-{a}": a.upper() for a in ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")}


def put_options(rq: Request) -> PutOptions:
    """Everything a PUT (or copy with REPLACE, or multipart create) stores from its headers."""
    h = rq.http.headers
    opts = PutOptions()
    opts.content_type = h.get("Content-Type", "")
    for name, value in h.items():
        lname = name.lower()
        if lname.startswith("x-amz-meta-"):
            opts.user_meta[lname] = value
        elif lname in STORED_HEADERS:
            opts.headers[lname] = value
    enc = opts.headers.get("content-encoding")
    if enc is not None:
        # aws-chunked is transfer framing, not a property of the object
        rest = [e.strip() for e in enc.split(",") if e.strip() and e.strip().lower() != "aws-chunked"]
        if rest:
            opts.headers["content-encoding"] = ",".join(rest)
        else:
            del opts.headers["content-encoding"]
    opts.content_md5 = h.get("Content-MD5")
    opts.storage_class = h.get("x-amz-storage-class", "")
    opts.if_match = h.get("If-Match")
    opts.if_none_match = h.get("If-None-Match")
    checksum_options(h, opts)
    if "x-amz-tagging" in h:
        opts.tags = tagging.parse_header(h["x-amz-tagging"])
    opts.retention = lock.retention(h.get("x-amz-object-lock-mode"), h.get("x-amz-object-lock-retain-until-date"))
    hold = h.get("x-amz-object-lock-legal-hold")
    if hold is not None:
        if hold not in ("ON", "OFF"):
            raise S3Error("InvalidArgument", "Legal Hold must be either of 'ON' or 'OFF'")
        opts.legal_hold = hold
    return opts


def checksum_options(h: Any, opts: PutOptions) -> None:
    """Flexible checksums, by MinIO's rules.

    A value arrives in one ``x-amz-checksum-<algo>`` header or in the trailer
    that ``x-amz-trailer`` announces, and is then verified and stored.
    ``x-amz-sdk-checksum-algorithm`` alone asks for nothing (MinIO ignores it,
    unknown names included); ``x-amz-checksum-algorithm`` (CreateMultipartUpload)
    names the parts' algorithm. Malformed or conflicting headers are
    InvalidArgument.
    """
    given = [(name, CHECKSUM_HEADERS[name]) for name in CHECKSUM_HEADERS if name in h]
    if len(given) > 1:
        raise S3Error(
            "InvalidArgument", "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
        )
    algo = None
    if given:
        name, algo = given[0]
        opts.checksum_value = h[name].strip()
        if checksums.decode_b64(algo, opts.checksum_value) is None:
            raise S3Error("InvalidArgument", f"Value for {name} header is invalid.")
    trailer = h.get("x-amz-trailer", "").strip().lower()
    if trailer:
        if trailer not in CHECKSUM_HEADERS or (algo and algo != CHECKSUM_HEADERS[trailer]):
            raise S3Error("InvalidArgument", "The value specified in the x-amz-trailer header is not supported")
        algo = CHECKSUM_HEADERS[trailer]
    declared = (h.get("x-amz-checksum-algorithm") or "").upper()
    if algo is None and declared in checksums.ALGORITHMS:
        algo = declared
    opts.checksum_algo = algo
    kind = h.get("x-amz-checksum-type")
    if kind:
        opts.checksum_type = kind.upper()
    elif algo:
        # S3's defaults: CRC64NVME only exists as a full-object checksum, the others are composite
        opts.checksum_type = "FULL_OBJECT" if algo == "CRC64NVME" else "COMPOSITE"


def check_content_length(rq: Request) -> None:
    if rq.http.content_length is None and "chunked" not in rq.http.headers.get("Transfer-Encoding", "").lower():
        raise S3Error("MissingContentLength")


def write_headers(rec: VersionRecord) -> dict[str, str]:
    out = {"ETag": f'"{rec.etag}"'}
    if rec.version_id != NULL_VERSION:
        out["x-amz-version-id"] = rec.version_id
    ck = rec.info.checksum
    if ck:
        out[f"x-amz-checksum-{ck.algo.lower()}"] = ck.value
        out["x-amz-checksum-type"] = ck.type or "FULL_OBJECT"
    return out


def version_headers(version_id: str) -> dict[str, str]:
    return {"x-amz-version-id": version_id} if version_id != NULL_VERSION else {}


def object_response_headers(rq: Request, read: ObjectRead) -> dict[str, str]:
    rec = read.record
    h: dict[str, str] = {
        "ETag": f'"{rec.etag}"',
        "Last-Modified": http_date(rec.mtime),
        "Content-Type": rec.info.content_type or DEFAULT_CONTENT_TYPE,
        "Accept-Ranges": "bytes",
        "Content-Length": str(read.length),
    }
    info = rec.info
    for name, value in info.headers.items():
        h[name.title()] = value
    h.update(info.user_meta)
    if rec.version_id != NULL_VERSION:
        h["x-amz-version-id"] = rec.version_id
    if info.storage_class:
        h["x-amz-storage-class"] = info.storage_class
    if info.tags:
        h["x-amz-tagging-count"] = str(len(info.tags))
    ret = info.retention
    if ret:
        h["x-amz-object-lock-mode"] = ret.mode
        h["x-amz-object-lock-retain-until-date"] = lock.iso(ret.until)
    if info.legal_hold:
        h["x-amz-object-lock-legal-hold"] = info.legal_hold
    if read.partial:
        h["Content-Range"] = f"bytes {read.offset}-{read.offset + read.length - 1}/{rec.size}"
    parts = rec.layout.parts if rec.layout is not None else None
    if parts and rq.op.part_number:
        h["x-amz-mp-parts-count"] = str(len(parts))
    ck = info.checksum
    if parts and rq.op.part_number:
        # a part read carries that part's own checksum, when the upload declared an algorithm (MinIO)
        ck = read.part_checksum if ck else None
    elif read.partial:
        ck = None
    if ck and (rq.header("x-amz-checksum-mode") or "").upper() == "ENABLED":
        h[f"x-amz-checksum-{ck.algo.lower()}"] = ck.value
        if ck.type is not None:  # a part's own checksum has no type
            h["x-amz-checksum-type"] = ck.type
    for param, value in rq.op.overrides:
        if _CONTROL.search(value):
            # a header cannot carry control characters (HTTP field-value grammar)
            raise S3Error("InvalidArgument", f"Invalid value for {param}")
        h[RESPONSE_OVERRIDES[param]] = value
    return h


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

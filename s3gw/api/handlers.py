"""One handler per S3 operation: parse the request, call the core, render the answer.

Handlers stay terse (STYLE.md item 9): the semantics live in ``s3gw.core``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from ..common.numbers import parse_int
from ..core import checksums, lock, tagging
from ..core.conditions import Conditions
from ..core.errors import GovernanceLocked
from ..core.service import DEFAULT_CONTENT_TYPE, ObjectRead, PutOptions, http_date
from ..core import NULL_VERSION, VersionRecord
from . import xml as X
from . import authz
from .app import IAM, Decision, Handler, Request, to_s3_error
from .authz import BYPASS_GOVERNANCE, PER_KEY
from .router import Operation
from .errors import S3Error

# MinIO's single owner (SDKs and mc show these in listings)
OWNER_ID = "02d6176db174dc93cb1b899f7c6078f08654445fe8cf1b6ce98d8855f66bdbf4"
OWNER_NAME = "minio"
MAX_KEYS = 1000

# Stored with the object and returned on GET/HEAD as they were sent.
STORED_HEADERS = ("cache-control", "content-disposition", "content-encoding", "content-language", "expires")
RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}
CHECKSUM_HEADERS = {f"x-amz-checksum-{a}": a.upper() for a in ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")}


def xml_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/xml", headers=headers)


def owner() -> str:
    return X.el("Owner", X.el("ID", OWNER_ID), X.el("DisplayName", OWNER_NAME))


def int_param(rq: Request, name: str, default: int, lo: int = 0, hi: int = 2**31 - 1) -> int:
    value = rq.query.get(name)
    if value is None or value == "":
        return default
    try:
        return parse_int(value, lo, hi)     # Go's strconv.Atoi, as MinIO: ASCII digits, an optional sign
    except ValueError:
        raise S3Error("InvalidArgument", f"Argument {name} must be an integer between {lo} and {hi}") from None


def version_param(rq: Request) -> str | None:
    vid = rq.query.get("versionId")
    return vid if vid else None


# ---------------------------------------------------------------- service / bucket
async def list_buckets(rq: Request) -> web.StreamResponse:
    buckets = await rq.core.list_buckets()
    items = [X.el("Bucket", X.el("Name", b.name), X.el("CreationDate", X.iso8601(b.created))) for b in buckets]
    return xml_response(X.document("ListAllMyBucketsResult", owner(), X.el("Buckets", *items)))


async def create_bucket(rq: Request) -> web.StreamResponse:
    # The LocationConstraint is checked for form only: like MinIO with no
    # region configured, any region is accepted.
    await rq.read_document("CreateBucketConfiguration", optional=True)
    lock = (rq.header("x-amz-bucket-object-lock-enabled") or "").lower() == "true"
    await rq.core.create_bucket(rq.op.bucket, object_lock=lock)
    _forget_bucket_policy(rq)
    return web.Response(status=200, headers={"Location": "/" + rq.op.bucket})


async def head_bucket(rq: Request) -> web.StreamResponse:
    await rq.core.bucket(rq.op.bucket)
    return web.Response(status=200)


async def get_bucket_location(rq: Request) -> web.StreamResponse:
    await rq.core.bucket(rq.op.bucket)
    region = "" if rq.settings.region == "us-east-1" else rq.settings.region
    body = (X.HEADER + f'<LocationConstraint xmlns="{X.NS}">{X.text(region)}</LocationConstraint>').encode()
    return xml_response(body)


async def delete_bucket(rq: Request) -> web.StreamResponse:
    await rq.core.delete_bucket(rq.op.bucket)     # its policy goes with it (meta: same transaction)
    _forget_bucket_policy(rq)
    return web.Response(status=204)


def _forget_bucket_policy(rq: Request) -> None:
    """A bucket deleted or created here: no cached policy of an older bucket of that name applies."""
    iam = rq.http.app.get(IAM)
    if iam is not None:
        iam.forget_bucket(rq.op.bucket)


def _not_configured(code: str) -> Handler:
    """GET of a bucket configuration s3gw keeps none of: the S3 "does not exist" answer."""

    async def handler(rq: Request) -> web.StreamResponse:
        await rq.core.bucket(rq.op.bucket)
        raise S3Error(code)

    return handler


# ---------------------------------------------------------------- listing
def _encoder(rq: Request) -> Any:
    enc = rq.query.get("encoding-type")
    if enc is None or enc == "":
        return lambda s: s
    if enc.lower() != "url":
        raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request")
    return X.url_encode


def _contents(rec: VersionRecord, enc: Any, with_owner: bool) -> str:
    return X.el(
        "Contents",
        X.el("Key", enc(rec.key)),
        X.el("LastModified", X.iso8601(rec.mtime)),
        X.el("ETag", f'"{rec.etag}"'),
        X.el("Size", rec.size),
        owner() if with_owner else None,
        X.el("StorageClass", rec.info.get("sc", "STANDARD")),
    )


async def list_objects(rq: Request) -> web.StreamResponse:
    enc = _encoder(rq)
    prefix = rq.query.get("prefix", "")
    delimiter = rq.query.get("delimiter", "")
    marker = rq.query.get("marker", "")
    max_keys = int_param(rq, "max-keys", MAX_KEYS)
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
    children += [X.el("CommonPrefixes", X.el("Prefix", enc(p))) for p in page.prefixes]
    if rq.query.get("encoding-type"):
        children.append(X.el("EncodingType", "url"))
    return xml_response(X.document("ListBucketResult", *children))


def _token_encode(marker: str) -> str:
    return base64.urlsafe_b64encode(marker.encode()).decode()


def _token_decode(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError) as e:
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect") from e


async def list_objects_v2(rq: Request) -> web.StreamResponse:
    enc = _encoder(rq)
    prefix = rq.query.get("prefix", "")
    delimiter = rq.query.get("delimiter", "")
    start_after = rq.query.get("start-after", "")
    token = rq.query.get("continuation-token")
    if token is not None and token == "":
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect")
    marker = _token_decode(token) if token else start_after
    max_keys = int_param(rq, "max-keys", MAX_KEYS)
    fetch_owner = rq.query.get("fetch-owner", "").lower() == "true"
    page = await rq.core.list_objects(rq.op.bucket, prefix, delimiter, marker, min(max_keys, MAX_KEYS))
    children = [
        X.el("Name", rq.op.bucket),
        X.el("Prefix", enc(prefix)),
        X.el("StartAfter", enc(start_after)) if start_after else None,
        X.el("ContinuationToken", token) if token else None,
        X.el("NextContinuationToken", _token_encode(page.next_marker)) if page.truncated else None,
        X.el("KeyCount", len(page.entries) + len(page.prefixes)),
        X.el("MaxKeys", max_keys),
        X.el("Delimiter", enc(delimiter)) if delimiter else None,
        X.el("IsTruncated", "true" if page.truncated else "false"),
    ]
    children += [_contents(r, enc, fetch_owner) for r in page.entries]
    children += [X.el("CommonPrefixes", X.el("Prefix", enc(p))) for p in page.prefixes]
    if rq.query.get("encoding-type"):
        children.append(X.el("EncodingType", "url"))
    return xml_response(X.document("ListBucketResult", *children))


async def list_object_versions(rq: Request) -> web.StreamResponse:
    enc = _encoder(rq)
    prefix = rq.query.get("prefix", "")
    delimiter = rq.query.get("delimiter", "")
    key_marker = rq.query.get("key-marker", "")
    version_marker = rq.query.get("version-id-marker", "")
    if version_marker and not key_marker:
        raise S3Error("InvalidArgument", "A version-id marker cannot be specified without a key marker.")
    max_keys = int_param(rq, "max-keys", MAX_KEYS)
    page = await rq.core.list_versions(rq.op.bucket, prefix, delimiter, key_marker, version_marker,
                                       min(max_keys, MAX_KEYS))
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
            children.append(X.el("DeleteMarker", X.el("Key", enc(r.key)), X.el("LastModified", X.iso8601(r.mtime)),
                                 owner(), X.el("StorageClass", "STANDARD"), *tail))
        else:
            children.append(X.el("Version", X.el("Key", enc(r.key)), X.el("LastModified", X.iso8601(r.mtime)),
                                 X.el("ETag", f'"{r.etag}"'), X.el("Size", r.size), owner(),
                                 X.el("StorageClass", r.info.get("sc", "STANDARD")), *tail))
    children += [X.el("CommonPrefixes", X.el("Prefix", enc(p))) for p in page.prefixes]
    if rq.query.get("encoding-type"):
        children.append(X.el("EncodingType", "url"))
    return xml_response(X.document("ListVersionsResult", *children))


# ---------------------------------------------------------------- objects
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
    _checksum_options(h, opts)
    if "x-amz-tagging" in h:
        opts.tags = tagging.parse_header(h["x-amz-tagging"])
    opts.retention = lock.retention(h.get("x-amz-object-lock-mode"), h.get("x-amz-object-lock-retain-until-date"))
    hold = h.get("x-amz-object-lock-legal-hold")
    if hold is not None:
        if hold not in ("ON", "OFF"):
            raise S3Error("InvalidArgument", "Legal Hold must be either of 'ON' or 'OFF'")
        opts.legal_hold = hold
    return opts


def _checksum_options(h: Any, opts: PutOptions) -> None:
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
        raise S3Error("InvalidArgument", "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
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


def _check_content_length(rq: Request) -> None:
    if rq.http.content_length is None and "chunked" not in rq.http.headers.get("Transfer-Encoding", "").lower():
        raise S3Error("MissingContentLength")


def write_headers(rec: VersionRecord) -> dict[str, str]:
    out = {"ETag": f'"{rec.etag}"'}
    if rec.version_id != NULL_VERSION:
        out["x-amz-version-id"] = rec.version_id
    ck = rec.info.get("ck")
    if ck:
        out[f"x-amz-checksum-{ck['algo'].lower()}"] = ck["value"]
        out["x-amz-checksum-type"] = ck.get("type", "FULL_OBJECT")
    return out


async def put_object(rq: Request) -> web.StreamResponse:
    _check_content_length(rq)
    opts = put_options(rq)
    rec = await rq.core.put_object(rq.op.bucket, rq.op.key, rq.payload(), opts)
    return web.Response(status=200, headers=write_headers(rec))


def object_response_headers(rq: Request, read: ObjectRead) -> dict[str, str]:
    rec = read.record
    h: dict[str, str] = {
        "ETag": f'"{rec.etag}"',
        "Last-Modified": http_date(rec.mtime),
        "Content-Type": rec.info.get("ct") or DEFAULT_CONTENT_TYPE,
        "Accept-Ranges": "bytes",
        "Content-Length": str(read.length),
    }
    for name, value in rec.info.get("hdr", {}).items():
        h[name.title()] = value
    h.update(rec.info.get("meta", {}))
    if rec.version_id != NULL_VERSION:
        h["x-amz-version-id"] = rec.version_id
    if rec.info.get("sc"):
        h["x-amz-storage-class"] = rec.info["sc"]
    if rec.info.get("tags"):
        h["x-amz-tagging-count"] = str(len(rec.info["tags"]))
    ret = rec.info.get("ret")
    if ret:
        h["x-amz-object-lock-mode"] = ret["mode"]
        h["x-amz-object-lock-retain-until-date"] = lock.iso(ret["until"])
    if rec.info.get("hold"):
        h["x-amz-object-lock-legal-hold"] = rec.info["hold"]
    if read.partial:
        h["Content-Range"] = f"bytes {read.offset}-{read.offset + read.length - 1}/{rec.size}"
    parts = (rec.layout or {}).get("parts")
    if parts and rq.query.get("partNumber"):
        h["x-amz-mp-parts-count"] = str(len(parts))
    ck = rec.info.get("ck")
    if parts and rq.query.get("partNumber"):
        # a part read carries that part's own checksum, when the upload declared an algorithm (MinIO)
        ck = read.part_checksum if ck else None
    elif read.partial:
        ck = None
    if ck and (rq.header("x-amz-checksum-mode") or "").upper() == "ENABLED":
        h[f"x-amz-checksum-{ck['algo'].lower()}"] = ck["value"]
        if "type" in ck:  # a part's own checksum has no type
            h["x-amz-checksum-type"] = ck["type"]
    for param, header in RESPONSE_OVERRIDES.items():
        if param in rq.query:
            value = rq.query[param]
            if _CONTROL.search(value):
                # a header cannot carry control characters (HTTP field-value grammar)
                raise S3Error("InvalidArgument", f"Invalid value for {param}")
            h[header] = value
    return h


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _conditions(rq: Request) -> Conditions:
    return Conditions(
        if_match=rq.header("If-Match"),
        if_none_match=rq.header("If-None-Match"),
        if_modified_since=rq.header("If-Modified-Since"),
        if_unmodified_since=rq.header("If-Unmodified-Since"),
    )


def _part_number(rq: Request) -> int | None:
    if "partNumber" not in rq.query:
        return None
    return int_param(rq, "partNumber", 0, 1, 10000)


async def get_object(rq: Request) -> web.StreamResponse:
    head = rq.http.method == "HEAD"
    read = await rq.core.get_object(
        rq.op.bucket, rq.op.key, version_id=version_param(rq), range_header=rq.header("Range"),
        cond=_conditions(rq), part_number=_part_number(rq), with_body=not head,
    )
    headers = object_response_headers(rq, read)
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
    try:
        limit = rq.settings.write_timeout or None   # server.write_timeout: a client that stops reading
        if first:
            await asyncio.wait_for(resp.write(first), limit)
        async for chunk in body:
            await asyncio.wait_for(resp.write(chunk), limit)
    except Exception:
        # Headers are gone: the only honest signal left is a cut connection
        # (the client sees fewer bytes than Content-Length, never wrong data).
        if rq.http.transport is not None:
            rq.http.transport.close()
        raise
    await resp.write_eof()
    return resp


def _bypass_asked(rq: Request) -> bool:
    return (rq.header(BYPASS_GOVERNANCE) or "").strip().lower() == "true"


def bypass_governance(rq: Request, decision: Decision | None = None) -> bool:
    """x-amz-bypass-governance-retention: true, from a caller allowed s3:BypassGovernanceRetention
    (``authorize`` decided; without the permission the header is not honoured)."""
    return _bypass_asked(rq) and (decision or rq.decision).honours(BYPASS_GOVERNANCE)


@contextmanager
def governance_denied(rq: Request, decision: Decision | None = None) -> Iterator[None]:
    """A GOVERNANCE lock that held only because the caller asked for a bypass it may not use
    is AccessDenied, as AWS and MinIO answer it (without the header: MinIO's ObjectLocked)."""
    try:
        yield
    except GovernanceLocked:
        if _bypass_asked(rq) and not bypass_governance(rq, decision):
            raise S3Error("AccessDenied") from None
        raise


async def delete_object(rq: Request) -> web.StreamResponse:
    with governance_denied(rq):
        removed, marker = await rq.core.delete_object(rq.op.bucket, rq.op.key, version_param(rq),
                                                      bypass_governance=bypass_governance(rq))
    headers: dict[str, str] = {}
    if marker is not None and marker.version_id != NULL_VERSION:
        # a null delete marker (suspended bucket) is not announced, as MinIO does
        headers["x-amz-delete-marker"] = "true"
        headers["x-amz-version-id"] = marker.version_id
    elif removed is not None and version_param(rq):
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
                removed, marker = await rq.core.delete_object(rq.op.bucket, key, vid,
                                                              bypass_governance=bypass_governance(rq, decision))
        except Exception as exc:  # one key's failure is reported in the document
            err = to_s3_error(exc)
            out.append(X.el("Error", X.el("Key", key), X.el("VersionId", vid) if vid else None,
                            X.el("Code", err.code), X.el("Message", err.message)))
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
    cond = Conditions(
        if_match=rq.header("x-amz-copy-source-if-match"),
        if_none_match=rq.header("x-amz-copy-source-if-none-match"),
        if_modified_since=rq.header("x-amz-copy-source-if-modified-since"),
        if_unmodified_since=rq.header("x-amz-copy-source-if-unmodified-since"),
    )
    src, rec = await rq.core.copy_object(
        src_bucket, src_key, src_version, rq.op.bucket, rq.op.key,
        cond=cond, replace_meta=directive == "REPLACE", replace_tags=tag_directive == "REPLACE", opts=opts,
    )
    headers = write_headers(rec)
    if src_version is not None:
        headers["x-amz-copy-source-version-id"] = src.version_id
    body = X.document("CopyObjectResult", X.el("LastModified", X.iso8601(rec.mtime)), X.el("ETag", f'"{rec.etag}"'))
    return xml_response(body, headers=headers)


def _acl_xml() -> bytes:
    grantee = X.raw(
        '<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">'
        + X.el("ID", OWNER_ID) + X.el("DisplayName", OWNER_NAME) + "</Grantee>"
    )
    grant = X.el("Grant", grantee, X.el("Permission", "FULL_CONTROL"))
    return X.document("AccessControlPolicy", owner(), X.el("AccessControlList", grant))


async def get_acl(rq: Request) -> web.StreamResponse:
    """ACLs are not kept: every bucket and object is private to its owner (MinIO answers the same grant)."""
    if rq.op.key:
        await rq.core.get_record(rq.op.bucket, rq.op.key, version_param(rq))
    else:
        await rq.core.bucket(rq.op.bucket)
    return xml_response(_acl_xml())


async def put_acl(rq: Request) -> web.StreamResponse:
    """Only the canned "private" ACL can be set (MinIO's rule); anything else is NotImplemented."""
    if rq.op.key:
        await rq.core.get_record(rq.op.bucket, rq.op.key, version_param(rq))
    else:
        await rq.core.bucket(rq.op.bucket)
    body = await rq.read_body()
    if (rq.header("x-amz-acl") or "private") != "private" or (body.strip() and b"FULL_CONTROL" not in body):
        raise S3Error("NotImplemented")
    return web.Response(status=200)


HANDLERS: dict[str, Handler] = {
    "GetBucketAcl": get_acl,
    "GetObjectAcl": get_acl,
    "PutBucketAcl": put_acl,
    "PutObjectAcl": put_acl,
    "ListBuckets": list_buckets,
    "CreateBucket": create_bucket,
    "HeadBucket": head_bucket,
    "GetBucketLocation": get_bucket_location,
    "DeleteBucket": delete_bucket,
    "ListObjects": list_objects,
    "ListObjectsV2": list_objects_v2,
    "ListObjectVersions": list_object_versions,
    "PutObject": put_object,
    "GetObject": get_object,
    "HeadObject": get_object,
    "DeleteObject": delete_object,
    "DeleteObjects": delete_objects,
    "CopyObject": copy_object,
    "GetBucketLifecycleConfiguration": _not_configured("NoSuchLifecycleConfiguration"),
    "GetBucketCors": _not_configured("NoSuchCORSConfiguration"),
    # MinIO's CORS is the server's allow-list (api/cors.py): bucket rules are NotImplemented once the bucket exists
    "PutBucketCors": _not_configured("NotImplemented"),
    "DeleteBucketCors": _not_configured("NotImplemented"),
    "GetBucketEncryption": _not_configured("ServerSideEncryptionConfigurationNotFoundError"),
    "GetBucketReplication": _not_configured("ReplicationConfigurationNotFoundError"),
    "GetBucketWebsite": _not_configured("NoSuchWebsiteConfiguration"),
}

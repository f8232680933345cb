"""Headers in and out: what a write stores from its request headers, and what an answer says of a version.

``put_options`` turns a PUT's (a copy's, a multipart create's) headers into the
core's ``PutOptions``; ``write_headers`` and ``object_response_headers`` render
a version record as the response headers of a write and of a GET/HEAD, with the
request's response-* overrides (parsed by the router) applied last.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
import uuid
from datetime import datetime
from typing import Any

from ..common.records import Encryption
from ..core import NULL_VERSION, VersionRecord, checksums, lock, tagging
from ..core import errors as E
from ..core import sse as S
from ..core.service import DEFAULT_CONTENT_TYPE, ObjectRead, PutOptions
from ..core.sse import SSERequest
from .app import Request
from .authz import REPLICATION_REQUEST
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
    opts.sse = sse_request(rq)
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
    replica = replica_source(rq)
    if replica is not None:
        opts.replica_version_id, opts.replica_mtime = replica
    return opts


def is_replication_request(rq: Request) -> bool:
    """MinIO's replication marker (authorised for s3:ReplicateObject / ReplicateDelete: authz.py)."""
    return rq.http.headers.get(REPLICATION_REQUEST, "").strip().lower() == "true"


def replica_source(rq: Request) -> tuple[str, float] | None:
    """A replication request's source version (``versionId``, a UUID) and time
    (``X-Minio-Source-Mtime``, RFC 3339), as minio-go sends them; None for any other request."""
    if not is_replication_request(rq):
        return None
    vid = rq.op.version_id
    if not vid:
        return None
    if vid == NULL_VERSION or not vid.isascii() or len(vid) > 45:
        raise S3Error("InvalidArgument", "Invalid version id specified")
    try:
        uuid.UUID(vid)
    except ValueError:
        raise S3Error("InvalidArgument", "Invalid version id specified") from None
    mtime = time.time()
    raw = rq.http.headers.get("x-minio-source-mtime", "").strip()
    if raw:
        try:
            mtime = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", raw).replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise S3Error("InvalidArgument", "Invalid source modification time") from None
    return vid, mtime


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


SSE = "x-amz-server-side-encryption"
SSE_KMS_KEY_ID = SSE + "-aws-kms-key-id"
SSE_KMS_CONTEXT = SSE + "-context"
COPY_SOURCE_SSE = "x-amz-copy-source-server-side-encryption"
#: MinIO strips this from a key id (and shows it in front of one)
KMS_ARN = "arn:aws:kms:"
MAX_KMS_CONTEXT = 4096  # bytes of the base64 SSE-KMS context


def sse_request(rq: Request, *, copy_source: bool = False) -> SSERequest:
    """The encryption a request's headers ask for, checked as MinIO checks them (crypto.ParseHTTP).

    SSE-S3 (``x-amz-server-side-encryption: AES256``), SSE-KMS (``aws:kms`` with
    an optional key id and base64 JSON context) or SSE-C (the customer key
    headers, over TLS only, the key's MD5 verified). ``copy_source``: the
    ``x-amz-copy-source-server-side-encryption-customer-*`` headers (SSE-C only).
    """
    h = rq.http.headers
    prefix = COPY_SOURCE_SSE if copy_source else SSE
    c_alg, c_key, c_md5 = (h.get(f"{prefix}-customer-{x}") for x in ("algorithm", "key", "key-md5"))
    alg = None if copy_source else h.get(SSE)
    if c_alg is not None or c_key is not None or c_md5 is not None:
        if alg is not None:
            raise E.IncompatibleEncryptionMethod()
        if not rq.http.secure:
            raise E.InsecureSSECustomerRequest()
        if c_alg != "AES256":
            raise E.InvalidSSECustomerAlgorithm()
        if not c_key:
            raise E.MissingSSECustomerKey()
        try:
            key = base64.b64decode(c_key, validate=True)
        except (binascii.Error, ValueError):
            raise E.InvalidSSECustomerKey() from None
        if len(key) != 32:
            raise E.InvalidSSECustomerKey()
        if not c_md5:
            raise E.MissingSSECustomerKeyMD5()
        if base64.b64encode(hashlib.md5(key).digest()).decode() != c_md5.strip():
            raise E.SSECustomerKeyMD5Mismatch()
        return SSERequest(S.SSE_C, customer_key=key, customer_key_md5=c_md5.strip())
    if copy_source:
        return SSERequest()
    key_id, context = h.get(SSE_KMS_KEY_ID), h.get(SSE_KMS_CONTEXT)
    if alg is None:
        if key_id is not None or context is not None:
            raise E.InvalidEncryptionMethod()
        return SSERequest()
    if alg == S.SSE_S3:
        if key_id is not None or context is not None:
            raise E.InvalidEncryptionMethod()
        req = SSERequest(S.SSE_S3)
    elif alg == S.SSE_KMS:
        req = SSERequest(S.SSE_KMS, key_id=kms_key_id(key_id or ""), context=_kms_context(context))
    else:
        raise E.InvalidEncryptionMethod()
    rq.core.check_encryption_request(req)
    return req


def kms_key_id(value: str) -> str:
    """A KMS key id as a request names it (MinIO strips ``arn:aws:kms:``; a whole AWS key ARN,
    ``arn:aws:kms:REGION:ACCOUNT:key/ID``, is kept as it is); checked for what a key name holds.

    >>> kms_key_id("arn:aws:kms:my-key"), kms_key_id("arn:aws:kms:us-east-1:1:key/k")
    ('my-key', 'arn:aws:kms:us-east-1:1:key/k')
    """
    key_id = value.strip()
    if key_id.startswith(KMS_ARN) and ":" not in key_id[len(KMS_ARN) :]:
        key_id = key_id[len(KMS_ARN) :]
    if key_id and (len(key_id) > 256 or not re.fullmatch(r"[A-Za-z0-9_\-./:+=@]+", key_id)):
        raise E.InvalidEncryptionKeyID()
    return key_id


def kms_arn(key_id: str) -> str:
    """A key id as responses show it: MinIO's ``arn:aws:kms:NAME`` for a built-in key's name; an
    AWS KMS key's ARN (what AWS KMS names the key that sealed a data key) as it is.

    >>> kms_arn("my-key"), kms_arn("arn:aws:kms:us-east-1:1:key/k")
    ('arn:aws:kms:my-key', 'arn:aws:kms:us-east-1:1:key/k')
    """
    return key_id if key_id.startswith("arn:") else KMS_ARN + key_id


def _kms_context(value: str | None) -> dict[str, str]:
    """``x-amz-server-side-encryption-context``: base64 of a JSON object of strings."""
    if not value:
        return {}
    if len(value) > MAX_KMS_CONTEXT:
        raise S3Error("InvalidArgument", "The encryption context is too large")
    try:
        doc = json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        raise S3Error("InvalidArgument", "The encryption context is not base64-encoded JSON") from None
    if not isinstance(doc, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in doc.items()):
        raise S3Error("InvalidArgument", "The encryption context must be a JSON object of strings")
    if {"bucket", "key"} & set(doc):
        # the object's own name is always part of the context (core/sse.py key_context)
        raise S3Error("InvalidArgument", "The encryption context may not name 'bucket' or 'key'")
    return doc


def sse_headers(enc: Encryption | None, req: SSERequest | None = None) -> dict[str, str]:
    """The headers that say how a version is encrypted (AWS's and MinIO's): the algorithm, the
    KMS key and context, or, for SSE-C, the algorithm and the key MD5 the client sent."""
    if enc is None:
        return {}
    if enc.alg == S.SSE_C:
        out = {f"{SSE}-customer-algorithm": "AES256"}
        if req is not None and req.customer_key_md5:
            out[f"{SSE}-customer-key-md5"] = req.customer_key_md5
        return out
    out = {SSE: enc.alg}
    if enc.alg == S.SSE_KMS:
        out[SSE_KMS_KEY_ID] = kms_arn(enc.key_id)
        if enc.context:
            out[SSE_KMS_CONTEXT] = base64.b64encode(json.dumps(dict(enc.context)).encode()).decode()
    return out


def check_content_length(rq: Request) -> None:
    if rq.http.content_length is None and "chunked" not in rq.http.headers.get("Transfer-Encoding", "").lower():
        raise S3Error("MissingContentLength")


def write_headers(rec: VersionRecord, sse: SSERequest | None = None) -> dict[str, str]:
    out = {"ETag": f'"{rec.etag}"', **sse_headers(rec.info.sse, sse)}
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
    h.update(sse_headers(info.sse, sse_request(rq) if info.sse is not None and info.sse.alg == S.SSE_C else None))
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
    if info.replication_status:
        h["x-amz-replication-status"] = info.replication_status
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

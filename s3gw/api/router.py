"""Pure routing: a request's method, path, query and headers -> the AWS operation and its parameters.

No I/O happens here (STYLE.md item 3). The router decides *what* a request is,
once, and parses the query parameters handlers need (version id, upload id,
part number, the listing's prefix, delimiter, markers, limits and encoding,
GetObject's response-* overrides) into a typed ``Operation``; handlers never
read the query string. Sub-resources are matched in the order S3 documents
them; an unknown one on a bucket or object falls through to the plain
operation, as AWS does.

A parameter that does not parse does not stop routing: the ``Operation``
carries it as ``invalid`` (the S3 error, as MinIO words it), and the pipeline
raises it once the request is authenticated and authorised, where handlers
used to find it (api/app.py).
"""

from __future__ import annotations

import base64
import binascii
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from ..common.numbers import parse_int


class Op(enum.StrEnum):
    """Every operation the router names, after the AWS API; a member equals its name (``Op.GetObject == "GetObject"``).

    The authorisation table (api/authz.py) and the handler table
    (api/handlers.py) are keyed by these; tests/unit/api/test_operations.py
    checks that each has an action and a handler, or is listed as not built.
    """

    @staticmethod
    def _generate_next_value_(name: str, start: int, count: int, last_values: list[Any]) -> str:
        return name

    # service and buckets
    ListBuckets = enum.auto()
    CreateBucket = enum.auto()
    DeleteBucket = enum.auto()
    HeadBucket = enum.auto()
    ListObjects = enum.auto()
    ListObjectsV2 = enum.auto()
    ListObjectVersions = enum.auto()
    ListMultipartUploads = enum.auto()
    GetBucketLocation = enum.auto()
    GetBucketVersioning = enum.auto()
    PutBucketVersioning = enum.auto()
    GetBucketTagging = enum.auto()
    PutBucketTagging = enum.auto()
    DeleteBucketTagging = enum.auto()
    GetObjectLockConfiguration = enum.auto()
    PutObjectLockConfiguration = enum.auto()
    GetBucketPolicy = enum.auto()
    GetBucketPolicyStatus = enum.auto()
    PutBucketPolicy = enum.auto()
    DeleteBucketPolicy = enum.auto()
    GetBucketLifecycleConfiguration = enum.auto()
    PutBucketLifecycleConfiguration = enum.auto()
    DeleteBucketLifecycle = enum.auto()
    GetBucketAcl = enum.auto()
    PutBucketAcl = enum.auto()
    GetBucketCors = enum.auto()
    PutBucketCors = enum.auto()
    DeleteBucketCors = enum.auto()
    GetBucketEncryption = enum.auto()
    PutBucketEncryption = enum.auto()
    DeleteBucketEncryption = enum.auto()
    GetBucketNotificationConfiguration = enum.auto()
    PutBucketNotificationConfiguration = enum.auto()
    GetBucketReplication = enum.auto()
    PutBucketReplication = enum.auto()
    DeleteBucketReplication = enum.auto()
    GetBucketWebsite = enum.auto()
    PutBucketWebsite = enum.auto()
    DeleteBucketWebsite = enum.auto()
    GetBucketLogging = enum.auto()
    PutBucketLogging = enum.auto()
    GetBucketAccelerateConfiguration = enum.auto()
    PutBucketAccelerateConfiguration = enum.auto()
    GetBucketRequestPayment = enum.auto()
    PutBucketRequestPayment = enum.auto()
    GetBucketOwnershipControls = enum.auto()
    PutBucketOwnershipControls = enum.auto()
    DeleteBucketOwnershipControls = enum.auto()
    DeleteObjects = enum.auto()
    PostObject = enum.auto()
    # objects
    GetObject = enum.auto()
    HeadObject = enum.auto()
    PutObject = enum.auto()
    CopyObject = enum.auto()
    DeleteObject = enum.auto()
    GetObjectTagging = enum.auto()
    PutObjectTagging = enum.auto()
    DeleteObjectTagging = enum.auto()
    GetObjectRetention = enum.auto()
    PutObjectRetention = enum.auto()
    GetObjectLegalHold = enum.auto()
    PutObjectLegalHold = enum.auto()
    GetObjectAcl = enum.auto()
    PutObjectAcl = enum.auto()
    GetObjectAttributes = enum.auto()
    GetObjectTorrent = enum.auto()
    RestoreObject = enum.auto()
    SelectObjectContent = enum.auto()
    # multipart uploads
    CreateMultipartUpload = enum.auto()
    UploadPart = enum.auto()
    UploadPartCopy = enum.auto()
    CompleteMultipartUpload = enum.auto()
    AbortMultipartUpload = enum.auto()
    ListParts = enum.auto()
    # no operation: a method the resource does not take (refused before authorisation)
    MethodNotAllowed = enum.auto()


MAX_KEYS = 1000  # max-keys: S3's default and the most a page holds
MAX_PARTS = 10000  # max-parts / max-uploads: MinIO's default and ceiling
MAX_UPLOADS = 10000

#: GetObject's response-* query parameters -> the response header each one sets
RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


@dataclass(frozen=True)
class Listing:
    """A listing's query parameters, parsed (S3's defaults when absent).

    ``marker`` is where the page starts after: ``marker`` (ListObjects),
    ``key-marker`` (versions, uploads), or ListObjectsV2's decoded
    ``continuation-token``, else its ``start-after``. ``max_keys`` is the
    limit as sent (``max-keys``, ``max-uploads``, ``max-parts``), echoed in
    the answer; a page holds at most the ceiling.
    """

    prefix: str = ""
    delimiter: str = ""
    url: bool = False  # encoding-type=url: keys and prefixes are URL-encoded in the answer
    max_keys: int = MAX_KEYS
    marker: str = ""
    id_marker: str = ""  # version-id-marker / upload-id-marker
    start_after: str = ""  # ListObjectsV2, echoed
    token: str | None = None  # ListObjectsV2 continuation-token as sent, echoed
    fetch_owner: bool = False  # ListObjectsV2
    part_marker: int = 0  # ListParts part-number-marker


@dataclass(frozen=True)
class Invalid:
    """A query parameter that does not parse: the S3 error it is answered with."""

    code: str
    message: str


@dataclass(frozen=True)
class Operation:
    """What a request is: the operation, its bucket and key, and its parsed query parameters.

    ``version_id`` (``versionId``, on any object operation; None when absent or
    empty), ``upload_id`` (the multipart calls; "" when sent empty, which names
    no upload), ``part_number`` (GetObject/HeadObject: 0 when sent empty;
    UploadPart/UploadPartCopy: None when it does not parse, which is
    InvalidPart), ``listing`` (the listing calls), ``overrides`` (GetObject's
    response-* parameters, in ``RESPONSE_OVERRIDES`` order, checked when the
    headers are built). ``invalid``: the first parameter that did not parse.
    """

    name: Op
    bucket: str = ""
    key: str = ""
    version_id: str | None = None
    upload_id: str | None = None
    part_number: int | None = None
    listing: Listing | None = None
    overrides: tuple[tuple[str, str], ...] = ()
    invalid: Invalid | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", Op(self.name))  # "GetObject" -> Op.GetObject; unknown: ValueError


class BadPath(ValueError):
    """The path is not valid UTF-8 after percent-decoding."""


# (method, query parameter) -> operation, tried in order, for bucket and object targets.
_BUCKET_SUBRESOURCES: dict[str, list[tuple[str, Op]]] = {
    "GET": [
        ("location", Op.GetBucketLocation),
        ("versioning", Op.GetBucketVersioning),
        ("tagging", Op.GetBucketTagging),
        ("object-lock", Op.GetObjectLockConfiguration),
        ("uploads", Op.ListMultipartUploads),
        ("versions", Op.ListObjectVersions),
        ("policy", Op.GetBucketPolicy),
        ("policyStatus", Op.GetBucketPolicyStatus),
        ("lifecycle", Op.GetBucketLifecycleConfiguration),
        ("acl", Op.GetBucketAcl),
        ("cors", Op.GetBucketCors),
        ("encryption", Op.GetBucketEncryption),
        ("notification", Op.GetBucketNotificationConfiguration),
        ("replication", Op.GetBucketReplication),
        ("website", Op.GetBucketWebsite),
        ("logging", Op.GetBucketLogging),
        ("accelerate", Op.GetBucketAccelerateConfiguration),
        ("requestPayment", Op.GetBucketRequestPayment),
        ("ownershipControls", Op.GetBucketOwnershipControls),
    ],
    "PUT": [
        ("versioning", Op.PutBucketVersioning),
        ("tagging", Op.PutBucketTagging),
        ("object-lock", Op.PutObjectLockConfiguration),
        ("policy", Op.PutBucketPolicy),
        ("lifecycle", Op.PutBucketLifecycleConfiguration),
        ("acl", Op.PutBucketAcl),
        ("cors", Op.PutBucketCors),
        ("encryption", Op.PutBucketEncryption),
        ("notification", Op.PutBucketNotificationConfiguration),
        ("replication", Op.PutBucketReplication),
        ("website", Op.PutBucketWebsite),
        ("logging", Op.PutBucketLogging),
        ("accelerate", Op.PutBucketAccelerateConfiguration),
        ("requestPayment", Op.PutBucketRequestPayment),
        ("ownershipControls", Op.PutBucketOwnershipControls),
    ],
    "DELETE": [
        ("tagging", Op.DeleteBucketTagging),
        ("policy", Op.DeleteBucketPolicy),
        ("lifecycle", Op.DeleteBucketLifecycle),
        ("cors", Op.DeleteBucketCors),
        ("encryption", Op.DeleteBucketEncryption),
        ("replication", Op.DeleteBucketReplication),
        ("website", Op.DeleteBucketWebsite),
        ("ownershipControls", Op.DeleteBucketOwnershipControls),
    ],
    "POST": [("delete", Op.DeleteObjects)],
}

_OBJECT_SUBRESOURCES: dict[str, list[tuple[str, Op]]] = {
    "GET": [
        ("uploadId", Op.ListParts),
        ("tagging", Op.GetObjectTagging),
        ("retention", Op.GetObjectRetention),
        ("legal-hold", Op.GetObjectLegalHold),
        ("acl", Op.GetObjectAcl),
        ("attributes", Op.GetObjectAttributes),
        ("torrent", Op.GetObjectTorrent),
    ],
    "PUT": [
        ("tagging", Op.PutObjectTagging),
        ("retention", Op.PutObjectRetention),
        ("legal-hold", Op.PutObjectLegalHold),
        ("acl", Op.PutObjectAcl),
    ],
    "DELETE": [("uploadId", Op.AbortMultipartUpload), ("tagging", Op.DeleteObjectTagging)],
    "POST": [
        ("uploads", Op.CreateMultipartUpload),
        ("uploadId", Op.CompleteMultipartUpload),
        ("restore", Op.RestoreObject),
        ("select", Op.SelectObjectContent),
    ],
}

_BUCKET_DEFAULT = {
    "GET": Op.ListObjects,
    "PUT": Op.CreateBucket,
    "HEAD": Op.HeadBucket,
    "DELETE": Op.DeleteBucket,
    "POST": Op.PostObject,
}
_OBJECT_DEFAULT = {
    "GET": Op.GetObject,
    "PUT": Op.PutObject,
    "HEAD": Op.HeadObject,
    "DELETE": Op.DeleteObject,
}


#: the operations ``route`` names outside the tables above (service, listing v2, uploads, copies)
_OTHER_OPERATIONS = ("ListBuckets", "ListObjectsV2", "UploadPart", "UploadPartCopy", "CopyObject", "MethodNotAllowed")

#: every operation name ``route`` can return: what authorisation (api/authz.py) and the
#: authorisation matrix (tests/authz_matrix.py) must each have a row for
OPERATIONS: frozenset[str] = frozenset(
    [name for table in (_BUCKET_SUBRESOURCES, _OBJECT_SUBRESOURCES) for pairs in table.values() for _, name in pairs]
    + list(_BUCKET_DEFAULT.values())
    + list(_OBJECT_DEFAULT.values())
    + list(_OTHER_OPERATIONS)
)


def split_path(raw_path: str) -> tuple[str, str]:
    """Percent-decode a raw request path into (bucket, key), path-style.

    The raw path is used (not a normalised one) so that keys such as "a/../b"
    or "a//b" reach the name checks exactly as sent.

    >>> split_path("/photos/2024/a%20b.jpg")
    ('photos', '2024/a b.jpg')
    >>> split_path("/photos/")
    ('photos', '')
    """
    path = raw_path.split("?", 1)[0]
    try:
        decoded = unquote(path, errors="strict")
    except UnicodeDecodeError as e:
        raise BadPath(path) from e
    decoded = decoded[1:] if decoded.startswith("/") else decoded
    bucket, _, key = decoded.partition("/")
    return bucket, key


def bucket_from_host(host: str, domains: tuple[str, ...]) -> str | None:
    """The bucket of a virtual-hosted-style Host header, or None for path style.

    >>> bucket_from_host("photos.s3.example.com:8080", ("s3.example.com",))
    'photos'
    >>> bucket_from_host("s3.example.com", ("s3.example.com",)) is None
    True
    """
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.lower()
    for domain in domains:
        suffix = "." + domain.lower()
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def route(
    method: str,
    raw_path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    host: str = "",
    domains: tuple[str, ...] = (),
) -> Operation:
    """Name the S3 operation a request asks for, with its parsed query parameters."""
    vhost_bucket = bucket_from_host(host, domains) if domains else None
    if vhost_bucket is not None:
        path = raw_path.split("?", 1)[0]
        try:
            key = unquote(path, errors="strict")[1:]
        except UnicodeDecodeError as e:
            raise BadPath(path) from e
        bucket = vhost_bucket
    else:
        bucket, key = split_path(raw_path)
    if not bucket:
        return Operation(Op.ListBuckets if method == "GET" else Op.MethodNotAllowed)
    return _with_parameters(_name(method, key, query, headers), bucket, key, query)


def _name(method: str, key: str, query: Mapping[str, str], headers: Mapping[str, str]) -> Op:
    table, default = (_OBJECT_SUBRESOURCES, _OBJECT_DEFAULT) if key else (_BUCKET_SUBRESOURCES, _BUCKET_DEFAULT)
    for param, name in table.get(method, []):
        if param in query:
            return name
    if key:
        if method == "PUT" and "uploadId" in query and "partNumber" in query:
            return Op.UploadPartCopy if "x-amz-copy-source" in headers else Op.UploadPart
        if method == "PUT" and "x-amz-copy-source" in headers:
            return Op.CopyObject
        return _OBJECT_DEFAULT.get(method, Op.MethodNotAllowed)
    if method == "GET" and query.get("list-type") == "2":
        return Op.ListObjectsV2
    return _BUCKET_DEFAULT.get(method, Op.MethodNotAllowed)


# ---------------------------------------------------------------- parameters
_UPLOAD_CALLS = {Op.ListParts, Op.UploadPart, Op.UploadPartCopy, Op.CompleteMultipartUpload, Op.AbortMultipartUpload}
_LISTINGS = {Op.ListObjects, Op.ListObjectsV2, Op.ListObjectVersions, Op.ListMultipartUploads, Op.ListParts}


class _Bad(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.invalid = Invalid(code, message)


def _with_parameters(name: Op, bucket: str, key: str, query: Mapping[str, str]) -> Operation:
    """The operation with the query parameters it takes, parsed; the first that does not parse as ``invalid``."""
    p: dict[str, Any] = {}
    try:
        if key and name != Op.MethodNotAllowed:
            p["version_id"] = query.get("versionId") or None
        if name in _UPLOAD_CALLS:
            p["upload_id"] = query.get("uploadId", "")
        if name in (Op.GetObject, Op.HeadObject):
            if "partNumber" in query:
                p["part_number"] = _int(query, "partNumber", 0, 1, 10000)
            p["overrides"] = tuple((q, query[q]) for q in RESPONSE_OVERRIDES if q in query)
        elif name in (Op.UploadPart, Op.UploadPartCopy):
            try:
                p["part_number"] = parse_int(query.get("partNumber", ""))  # strconv.Atoi, as MinIO
            except ValueError:
                pass  # None: InvalidPart, from the handler, after MissingContentLength (MinIO's order)
        if name in _LISTINGS:
            p["listing"] = _listing(name, query)
    except _Bad as e:
        p["invalid"] = e.invalid
    return Operation(name, bucket, key, **p)


def _int(query: Mapping[str, str], name: str, default: int, lo: int = 0, hi: int = 2**31 - 1) -> int:
    """A numeric query parameter (Go's strconv.Atoi, as MinIO: ASCII digits, an optional sign); absent or
    empty: the default."""
    value = query.get(name)
    if value is None or value == "":
        return default
    try:
        return parse_int(value, lo, hi)
    except ValueError:
        raise _Bad("InvalidArgument", f"Argument {name} must be an integer between {lo} and {hi}") from None


def _url_encoding(query: Mapping[str, str]) -> bool:
    enc = query.get("encoding-type")
    if enc is None or enc == "":
        return False
    if enc.lower() != "url":
        raise _Bad("InvalidArgument", "Invalid Encoding Method specified in Request")
    return True


def token_encode(marker: str) -> str:
    """ListObjectsV2's continuation token for a page that ends at ``marker`` (opaque to clients).

    >>> token_encode("photos/2006/"), token_decode("cGhvdG9zLzIwMDYv")
    ('cGhvdG9zLzIwMDYv', 'photos/2006/')
    """
    return base64.urlsafe_b64encode(marker.encode()).decode()


def token_decode(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError) as e:
        raise _Bad("InvalidArgument", "The continuation token provided is incorrect") from e


def _listing(name: Op, query: Mapping[str, str]) -> Listing:
    """A listing's parameters, checked in a fixed order: the first that does not parse is answered."""
    if name == Op.ListParts:
        part_marker = _int(query, "part-number-marker", 0, 0, 10000)
        return Listing(max_keys=_int(query, "max-parts", MAX_PARTS), part_marker=part_marker)
    url = _url_encoding(query)
    prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
    if name == Op.ListObjectsV2:
        start_after = query.get("start-after", "")
        token = query.get("continuation-token")
        if token is not None and token == "":
            raise _Bad("InvalidArgument", "The continuation token provided is incorrect")
        marker = token_decode(token) if token else start_after
        return Listing(
            prefix,
            delimiter,
            url,
            _int(query, "max-keys", MAX_KEYS),
            marker,
            start_after=start_after,
            token=token,
            fetch_owner=query.get("fetch-owner", "").lower() == "true",
        )
    if name == Op.ListObjectVersions:
        key_marker, version_marker = query.get("key-marker", ""), query.get("version-id-marker", "")
        if version_marker and not key_marker:
            raise _Bad("InvalidArgument", "A version-id marker cannot be specified without a key marker.")
        return Listing(prefix, delimiter, url, _int(query, "max-keys", MAX_KEYS), key_marker, version_marker)
    if name == Op.ListMultipartUploads:
        return Listing(
            prefix,
            delimiter,
            url,
            _int(query, "max-uploads", MAX_UPLOADS),
            query.get("key-marker", ""),
            query.get("upload-id-marker", ""),
        )
    return Listing(prefix, delimiter, url, _int(query, "max-keys", MAX_KEYS), query.get("marker", ""))

"""Pure routing: a request's method, path, query and headers -> the AWS operation.

No I/O happens here (STYLE.md item 3). The router decides *what* a request is,
once; handlers never look at the query string to decide again. Sub-resources
are matched in the order S3 documents them; an unknown one on a bucket or
object falls through to the plain operation, as AWS does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote


@dataclass(frozen=True)
class Operation:
    name: str
    bucket: str = ""
    key: str = ""


class BadPath(ValueError):
    """The path is not valid UTF-8 after percent-decoding."""


# (method, query parameter) -> operation, tried in order, for bucket and object targets.
_BUCKET_SUBRESOURCES: dict[str, list[tuple[str, str]]] = {
    "GET": [
        ("location", "GetBucketLocation"),
        ("versioning", "GetBucketVersioning"),
        ("tagging", "GetBucketTagging"),
        ("object-lock", "GetObjectLockConfiguration"),
        ("uploads", "ListMultipartUploads"),
        ("versions", "ListObjectVersions"),
        ("policy", "GetBucketPolicy"),
        ("policyStatus", "GetBucketPolicyStatus"),
        ("lifecycle", "GetBucketLifecycleConfiguration"),
        ("acl", "GetBucketAcl"),
        ("cors", "GetBucketCors"),
        ("encryption", "GetBucketEncryption"),
        ("notification", "GetBucketNotificationConfiguration"),
        ("replication", "GetBucketReplication"),
        ("website", "GetBucketWebsite"),
        ("logging", "GetBucketLogging"),
        ("accelerate", "GetBucketAccelerateConfiguration"),
        ("requestPayment", "GetBucketRequestPayment"),
        ("ownershipControls", "GetBucketOwnershipControls"),
    ],
    "PUT": [
        ("versioning", "PutBucketVersioning"),
        ("tagging", "PutBucketTagging"),
        ("object-lock", "PutObjectLockConfiguration"),
        ("policy", "PutBucketPolicy"),
        ("lifecycle", "PutBucketLifecycleConfiguration"),
        ("acl", "PutBucketAcl"),
        ("cors", "PutBucketCors"),
        ("encryption", "PutBucketEncryption"),
        ("notification", "PutBucketNotificationConfiguration"),
        ("replication", "PutBucketReplication"),
        ("website", "PutBucketWebsite"),
        ("logging", "PutBucketLogging"),
        ("accelerate", "PutBucketAccelerateConfiguration"),
        ("requestPayment", "PutBucketRequestPayment"),
        ("ownershipControls", "PutBucketOwnershipControls"),
    ],
    "DELETE": [
        ("tagging", "DeleteBucketTagging"),
        ("policy", "DeleteBucketPolicy"),
        ("lifecycle", "DeleteBucketLifecycle"),
        ("cors", "DeleteBucketCors"),
        ("encryption", "DeleteBucketEncryption"),
        ("replication", "DeleteBucketReplication"),
        ("website", "DeleteBucketWebsite"),
        ("ownershipControls", "DeleteBucketOwnershipControls"),
    ],
    "POST": [("delete", "DeleteObjects")],
}

_OBJECT_SUBRESOURCES: dict[str, list[tuple[str, str]]] = {
    "GET": [
        ("uploadId", "ListParts"),
        ("tagging", "GetObjectTagging"),
        ("retention", "GetObjectRetention"),
        ("legal-hold", "GetObjectLegalHold"),
        ("acl", "GetObjectAcl"),
        ("attributes", "GetObjectAttributes"),
        ("torrent", "GetObjectTorrent"),
    ],
    "PUT": [
        ("tagging", "PutObjectTagging"),
        ("retention", "PutObjectRetention"),
        ("legal-hold", "PutObjectLegalHold"),
        ("acl", "PutObjectAcl"),
    ],
    "DELETE": [("uploadId", "AbortMultipartUpload"), ("tagging", "DeleteObjectTagging")],
    "POST": [
        ("uploads", "CreateMultipartUpload"),
        ("uploadId", "CompleteMultipartUpload"),
        ("restore", "RestoreObject"),
        ("select", "SelectObjectContent"),
    ],
}

_BUCKET_DEFAULT = {
    "GET": "ListObjects",
    "PUT": "CreateBucket",
    "HEAD": "HeadBucket",
    "DELETE": "DeleteBucket",
    "POST": "PostObject",
}
_OBJECT_DEFAULT = {
    "GET": "GetObject",
    "PUT": "PutObject",
    "HEAD": "HeadObject",
    "DELETE": "DeleteObject",
}


#: the operations ``route`` names outside the tables above (service, listing v2, uploads, copies)
_OTHER_OPERATIONS = ("ListBuckets", "ListObjectsV2", "UploadPart", "UploadPartCopy", "CopyObject",
                     "MethodNotAllowed")

#: every operation name ``route`` can return: what authorisation (api/authz.py) and the
#: authorisation matrix (tests/authz_matrix.py) must each have a row for
OPERATIONS: frozenset[str] = frozenset(
    [name for table in (_BUCKET_SUBRESOURCES, _OBJECT_SUBRESOURCES) for pairs in table.values() for _, name in pairs]
    + list(_BUCKET_DEFAULT.values()) + list(_OBJECT_DEFAULT.values()) + list(_OTHER_OPERATIONS))


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


def route(method: str, raw_path: str, query: Mapping[str, str], headers: Mapping[str, str],
          host: str = "", domains: tuple[str, ...] = ()) -> Operation:
    """Name the S3 operation a request asks for."""
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
        return Operation("ListBuckets" if method == "GET" else "MethodNotAllowed")
    table, default = (_OBJECT_SUBRESOURCES, _OBJECT_DEFAULT) if key else (_BUCKET_SUBRESOURCES, _BUCKET_DEFAULT)
    for param, name in table.get(method, []):
        if param in query:
            return Operation(name, bucket, key)
    if key:
        if method == "PUT" and "uploadId" in query and "partNumber" in query:
            name = "UploadPartCopy" if "x-amz-copy-source" in headers else "UploadPart"
            return Operation(name, bucket, key)
        if method == "PUT" and "x-amz-copy-source" in headers:
            return Operation("CopyObject", bucket, key)
        return Operation(_OBJECT_DEFAULT.get(method, "MethodNotAllowed"), bucket, key)
    if method == "GET" and query.get("list-type") == "2":
        return Operation("ListObjectsV2", bucket)
    return Operation(_BUCKET_DEFAULT.get(method, "MethodNotAllowed"), bucket)

"""What an S3 request needs permission for: IAM actions on resources (``required``).

``app.authorize`` is the one place that checks them. The operation's own
action comes from ``ACTIONS``; headers that do another API's work add that
API's action (``HEADER_NEEDS``); copies add the source's read (``COPIES``);
DeleteObjects is authorised key by key (``PER_KEY``). The authorisation
matrix test is generated from these tables.

The table follows the actions the S3 API reference lists for each operation
(and MinIO's handlers, where they differ: MinIO checks ``s3:PutObject`` for
every step of a multipart upload, ``s3:ListBucket`` for HeadBucket). The
tables are keyed by the router's operations (``router.Op``, whose members equal
their names). Every operation the router can name has a row, or is ``EXEMPT``
(tests/unit/api/test_authz_table.py, tests/unit/api/test_operations.py); one
without would need ``s3:<OperationName>``, which only ``s3:*`` grants: unknown
means refused for restricted users, never allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from .router import Operation

ARN = "arn:aws:s3:::"

ACTIONS: dict[str, str] = {
    # service and buckets
    "ListBuckets": "s3:ListAllMyBuckets",
    "CreateBucket": "s3:CreateBucket",
    "DeleteBucket": "s3:DeleteBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "GetBucketLocation": "s3:GetBucketLocation",
    "GetBucketVersioning": "s3:GetBucketVersioning",
    "PutBucketVersioning": "s3:PutBucketVersioning",
    "GetBucketTagging": "s3:GetBucketTagging",
    "PutBucketTagging": "s3:PutBucketTagging",
    "DeleteBucketTagging": "s3:PutBucketTagging",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
    "GetBucketPolicy": "s3:GetBucketPolicy",
    "GetBucketPolicyStatus": "s3:GetBucketPolicyStatus",
    "PutBucketPolicy": "s3:PutBucketPolicy",
    "DeleteBucketPolicy": "s3:DeleteBucketPolicy",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "GetBucketAcl": "s3:GetBucketAcl",
    "PutBucketAcl": "s3:PutBucketAcl",
    "GetBucketCors": "s3:GetBucketCORS",
    "PutBucketCors": "s3:PutBucketCORS",
    "DeleteBucketCors": "s3:PutBucketCORS",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "PutBucketReplication": "s3:PutReplicationConfiguration",
    "DeleteBucketReplication": "s3:PutReplicationConfiguration",
    # configurations s3gw does not keep: authorised like any request, then NotImplemented
    # (or their "not configured" answer)
    "GetBucketWebsite": "s3:GetBucketWebsite",
    "PutBucketWebsite": "s3:PutBucketWebsite",
    "DeleteBucketWebsite": "s3:DeleteBucketWebsite",
    "GetBucketLogging": "s3:GetBucketLogging",
    "PutBucketLogging": "s3:PutBucketLogging",
    "GetBucketAccelerateConfiguration": "s3:GetAccelerateConfiguration",
    "PutBucketAccelerateConfiguration": "s3:PutAccelerateConfiguration",
    "GetBucketRequestPayment": "s3:GetBucketRequestPayment",
    "PutBucketRequestPayment": "s3:PutBucketRequestPayment",
    "GetBucketOwnershipControls": "s3:GetBucketOwnershipControls",
    "PutBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "DeleteBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    # objects
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "GetObjectTorrent": "s3:GetObjectTorrent",
    "SelectObjectContent": "s3:GetObject",
    "GetObjectAttributes": "s3:GetObjectAttributes",
    "PutObject": "s3:PutObject",
    "PostObject": "s3:PutObject",
    "CopyObject": "s3:PutObject",
    "DeleteObject": "s3:DeleteObject",
    "DeleteObjects": "s3:DeleteObject",  # each key (PER_KEY), not the request
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "UploadPartCopy": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "ListParts": "s3:ListMultipartUploadParts",
    "GetObjectTagging": "s3:GetObjectTagging",
    "PutObjectTagging": "s3:PutObjectTagging",
    "DeleteObjectTagging": "s3:DeleteObjectTagging",
    "GetObjectRetention": "s3:GetObjectRetention",
    "PutObjectRetention": "s3:PutObjectRetention",
    "GetObjectLegalHold": "s3:GetObjectLegalHold",
    "PutObjectLegalHold": "s3:PutObjectLegalHold",
    "GetObjectAcl": "s3:GetObjectAcl",
    "PutObjectAcl": "s3:PutObjectAcl",
    "RestoreObject": "s3:RestoreObject",
}

#: actions an operation needs besides its own: GetObjectAttributes reads the object (AWS: "you
#: need the s3:GetObject and s3:GetObjectAttributes permissions"; MinIO checks both too)
ALSO_NEEDS: dict[str, tuple[str, ...]] = {"GetObjectAttributes": ("s3:GetObject",)}

#: what naming a version adds (the ``versionId`` of the request, or of a DeleteObjects entry):
#: AWS's version actions ("to ... a specific version, you must have s3:GetObjectVersion", ...).
#: They come on top of the operation's own action, which MinIO checks (and AWS for deletes):
#: a Deny of s3:GetObject holds whatever version is asked for.
VERSION_NEEDS: dict[str, tuple[str, ...]] = {
    "GetObject": ("s3:GetObjectVersion",),
    "HeadObject": ("s3:GetObjectVersion",),
    "DeleteObject": ("s3:DeleteObjectVersion",),
    "GetObjectTagging": ("s3:GetObjectVersionTagging",),
    "PutObjectTagging": ("s3:PutObjectVersionTagging",),
    "DeleteObjectTagging": ("s3:DeleteObjectVersionTagging",),
    "GetObjectAcl": ("s3:GetObjectVersionAcl",),
    "PutObjectAcl": ("s3:PutObjectVersionAcl",),
    "GetObjectAttributes": ("s3:GetObjectVersionAttributes", "s3:GetObjectVersion"),
}

#: router operations that are not S3 APIs, so have no row: what they need falls back to
#: ``s3:<name>``, which only ``s3:*`` grants (no handler serves them)
EXEMPT = {"MethodNotAllowed": "no S3 API has this method on this path"}

#: the operations without a row in ACTIONS (router.Op members; tests/unit/api/test_operations.py)
NO_ACTION = frozenset(EXEMPT)

#: operations that change nothing (served in maintenance mode); everything else is a write
_READ_PREFIXES = ("Get", "Head", "List")
_READS_BY_POST = {"SelectObjectContent"}


def is_write(name: str) -> bool:
    """Does the operation change state? (What maintenance mode refuses and the audit log records.)

    >>> is_write("PutObject"), is_write("HeadObject"), is_write("DeleteObjects"), is_write("SelectObjectContent")
    (True, False, True, False)
    """
    return (
        not name.startswith(_READ_PREFIXES)
        and name not in _READS_BY_POST
        and name not in ("MethodNotAllowed", "NotImplemented")
    )


@dataclass(frozen=True)
class Need:
    """One permission a request needs: ``action`` on ``resource`` (a full ARN).

    ``header`` names the request header that brings the need ("" for the
    operation's own action). ``optional``: when denied, the request is not
    refused but goes on as if that header had not been sent (a bypass of
    governance retention the caller may not use is simply not honoured; the
    lock then holds).
    """

    action: str
    resource: str
    header: str = ""
    optional: bool = False


@dataclass(frozen=True)
class HeaderNeed:
    """A request header that does what a separate API does, and so needs that API's action."""

    header: str
    action: str
    value: str | None = None  # only when the header has this value (case-insensitive); None: when present
    optional: bool = False

    def applies(self, headers: Mapping[str, str]) -> bool:
        got = headers.get(self.header)
        return got is not None and (self.value is None or got.strip().lower() == self.value)


BYPASS_GOVERNANCE = "x-amz-bypass-governance-retention"

# Headers that do what another API does need that API's action as well as the
# operation's own (AWS: the "Permissions" of PutObject, CopyObject,
# CreateMultipartUpload, DeleteObject(s) and PutObjectRetention in the S3 API
# reference; MinIO checks the lock ones in checkPutObjectLockAllowed and
# enforceRetentionBypassForDelete, but not x-amz-tagging: AWS wins there).
_NEW_OBJECT = (
    HeaderNeed("x-amz-object-lock-mode", "s3:PutObjectRetention"),
    HeaderNeed("x-amz-object-lock-retain-until-date", "s3:PutObjectRetention"),
    HeaderNeed("x-amz-object-lock-legal-hold", "s3:PutObjectLegalHold"),
    HeaderNeed("x-amz-tagging", "s3:PutObjectTagging"),
)
_BYPASS = (HeaderNeed(BYPASS_GOVERNANCE, "s3:BypassGovernanceRetention", value="true", optional=True),)
# A bucket created with object lock has its lock configuration set and versioning enabled:
# AWS and MinIO (PutBucketHandler) need both actions for it.
_LOCKED_BUCKET = (
    HeaderNeed("x-amz-bucket-object-lock-enabled", "s3:PutBucketObjectLockConfiguration", value="true"),
    HeaderNeed("x-amz-bucket-object-lock-enabled", "s3:PutBucketVersioning", value="true"),
)
#: a bucket-replication write from another site (MinIO's header): it keeps the source's version
#: id and time and is stored as a REPLICA, so it needs MinIO's replication actions as well
REPLICATION_REQUEST = "x-minio-source-replication-request"
_REPLICA = (HeaderNeed(REPLICATION_REQUEST, "s3:ReplicateObject", value="true"),)
_REPLICA_DELETE = (HeaderNeed(REPLICATION_REQUEST, "s3:ReplicateDelete", value="true"),)
HEADER_NEEDS: dict[str, tuple[HeaderNeed, ...]] = {
    "CreateBucket": _LOCKED_BUCKET,
    "PutObject": _NEW_OBJECT + _REPLICA,
    "CopyObject": _NEW_OBJECT,
    "CreateMultipartUpload": _NEW_OBJECT + _REPLICA,
    "DeleteObject": _BYPASS + _REPLICA_DELETE,
    "PutObjectTagging": (HeaderNeed(REPLICATION_REQUEST, "s3:ReplicateTags", value="true"),),
    "DeleteObjectTagging": (HeaderNeed(REPLICATION_REQUEST, "s3:ReplicateTags", value="true"),),
    "PutObjectRetention": _BYPASS,
}

#: operations that read another object (x-amz-copy-source): s3:GetObject on it, and
#: s3:GetObjectVersion too when the source names a version (AWS CopyObject / UploadPartCopy)
COPIES = frozenset({"CopyObject", "UploadPartCopy"})

#: operations authorised once per object named in their body, as the operation given here
#: (the handler asks ``authorize`` for each; MinIO and AWS check DeleteObjects key by key)
PER_KEY = {"DeleteObjects": "DeleteObject"}


def resource_of(op: Operation) -> str:
    """The ARN an operation acts on: the object, the bucket, or every resource (service calls).

    >>> resource_of(Operation("GetObject", "photos", "2024/a.jpg")), resource_of(Operation("ListBuckets"))
    ('arn:aws:s3:::photos/2024/a.jpg', 'arn:aws:s3:::*')
    """
    if not op.bucket:
        return ARN + "*"
    return ARN + op.bucket + (f"/{op.key}" if op.key else "")


def required(op: Operation, headers: Mapping[str, str] | None = None, version: str | None = None) -> list[Need]:
    """Every permission a request needs, given its operation, headers and the version it
    names (one table for all).

    The operation's own action (``ACTIONS``) on its resource first, and any it
    always needs with it (``ALSO_NEEDS``), then the version actions when a
    version is named (``VERSION_NEEDS``), then one per header that does another
    API's work (``HEADER_NEEDS``), then the copy source's read. ``PER_KEY``
    operations need nothing here: each object named in the body is authorised
    as its own operation (with the version its entry names).

    >>> required(Operation("ListObjectsV2", "photos"))
    [Need(action='s3:ListBucket', resource='arn:aws:s3:::photos', header='', optional=False)]
    >>> [(n.action, n.header) for n in required(Operation("PutObject", "b", "k"),
    ...  {"x-amz-object-lock-mode": "COMPLIANCE", "x-amz-object-lock-retain-until-date": "2030-01-01T00:00:00Z"})]
    [('s3:PutObject', ''), ('s3:PutObjectRetention', 'x-amz-object-lock-mode')]
    >>> [(n.action, n.resource) for n in required(Operation("CopyObject", "b", "k"),
    ...  {"x-amz-copy-source": "/src/a%20b?versionId=3"})]
    [('s3:PutObject', 'arn:aws:s3:::b/k'), ('s3:GetObject', 'arn:aws:s3:::src/a b'), \
('s3:GetObjectVersion', 'arn:aws:s3:::src/a b')]
    >>> [n.optional for n in required(Operation("DeleteObject", "b", "k"), {BYPASS_GOVERNANCE: "True"})]
    [False, True]
    >>> [n.action for n in required(Operation("GetObject", "b", "k"), {}, version="3")]
    ['s3:GetObject', 's3:GetObjectVersion']
    >>> required(Operation("DeleteObjects", "b"), {})
    []
    """
    headers = headers if headers is not None else {}
    if op.name in PER_KEY:
        return []
    resource = resource_of(op)
    needs = [Need(ACTIONS.get(op.name, f"s3:{op.name}"), resource)]
    needs += [Need(a, resource) for a in ALSO_NEEDS.get(op.name, ())]
    if version:
        needs += [Need(a, resource) for a in VERSION_NEEDS.get(op.name, ())]
    for h in HEADER_NEEDS.get(op.name, ()):
        if h.applies(headers) and not any(n.action == h.action for n in needs):
            needs.append(Need(h.action, resource, h.header, h.optional))
    if op.name in COPIES:
        src = copy_source(headers)
        if src is not None:
            bucket, key, version = src
            needs.append(Need("s3:GetObject", f"{ARN}{bucket}/{key}", "x-amz-copy-source"))
            if version is not None:
                needs.append(Need("s3:GetObjectVersion", f"{ARN}{bucket}/{key}", "x-amz-copy-source"))
    return needs


def parse_copy_source(value: str) -> tuple[str, str, str | None]:
    """x-amz-copy-source: "/bucket/key?versionId=v", URL-encoded -> (bucket, key, version or None).

    The one parser of the header: what is authorised is what is copied.
    ValueError when it is not a valid copy source.

    >>> parse_copy_source("/b/a%20b?versionId=x"), parse_copy_source("b/k")
    (('b', 'a b', 'x'), ('b', 'k', None))
    """
    src, _, query = value.partition("?")
    version = None
    if query:
        name, _, v = query.partition("=")
        if name != "versionId":
            raise ValueError("Invalid copy source")
        version = unquote(v) or None
    try:
        path = unquote(src, errors="strict")
    except UnicodeDecodeError as e:
        raise ValueError("Invalid copy source") from e
    path = path[1:] if path.startswith("/") else path
    bucket, _, key = path.partition("/")
    if not bucket or not key:
        raise ValueError("Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
    return bucket, key, version


def copy_source(headers: Mapping[str, str]) -> tuple[str, str, str | None] | None:
    """The request's copy source (``parse_copy_source``), or None when absent or invalid
    (the handler then refuses the request, so nothing is read).

    >>> copy_source({"x-amz-copy-source": "/src/a%20b.txt?versionId=3"}), copy_source({})
    (('src', 'a b.txt', '3'), None)
    """
    raw = headers.get("x-amz-copy-source")
    if raw is None:
        return None
    try:
        return parse_copy_source(raw)
    except ValueError:
        return None

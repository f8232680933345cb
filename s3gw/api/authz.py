"""What an S3 operation needs permission for: its IAM action and resource.

The table follows the actions the S3 API reference lists for each operation
(and MinIO's handlers, where they differ: MinIO checks ``s3:PutObject`` for
every step of a multipart upload, ``s3:ListBucket`` for HeadBucket). An
operation missing from the table needs ``s3:<OperationName>``, which only
``s3:*`` grants: unknown means refused for restricted users, never allowed.
"""

from __future__ import annotations

from collections.abc import Mapping

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
    # objects
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "GetObjectTorrent": "s3:GetObject",
    "SelectObjectContent": "s3:GetObject",
    "GetObjectAttributes": "s3:GetObjectAttributes",
    "PutObject": "s3:PutObject",
    "PostObject": "s3:PutObject",
    "CopyObject": "s3:PutObject",
    "DeleteObject": "s3:DeleteObject",
    "DeleteObjects": "s3:DeleteObject",
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

#: operations that change nothing (served in maintenance mode); everything else is a write
_READ_PREFIXES = ("Get", "Head", "List")
_READS_BY_POST = {"SelectObjectContent"}


def is_write(name: str) -> bool:
    """Does the operation change state? (What maintenance mode refuses and the audit log records.)

    >>> is_write("PutObject"), is_write("HeadObject"), is_write("DeleteObjects"), is_write("SelectObjectContent")
    (True, False, True, False)
    """
    return not name.startswith(_READ_PREFIXES) and name not in _READS_BY_POST and name not in (
        "MethodNotAllowed", "NotImplemented")


def required(op: Operation) -> tuple[str, str]:
    """(IAM action, resource ARN) an operation needs.

    >>> required(Operation("GetObject", "photos", "2024/a.jpg"))
    ('s3:GetObject', 'arn:aws:s3:::photos/2024/a.jpg')
    >>> required(Operation("ListObjectsV2", "photos")), required(Operation("ListBuckets"))
    (('s3:ListBucket', 'arn:aws:s3:::photos'), ('s3:ListAllMyBuckets', 'arn:aws:s3:::*'))
    """
    action = ACTIONS.get(op.name, f"s3:{op.name}")
    if not op.bucket:
        return action, ARN + "*"
    if op.name == "DeleteObjects":   # the keys are in the body: the bucket's objects as a whole
        return action, f"{ARN}{op.bucket}/*"
    return action, ARN + op.bucket + (f"/{op.key}" if op.key else "")


def copy_source(headers: Mapping[str, str]) -> str | None:
    """The ``bucket/key`` of x-amz-copy-source (percent-decoded, version dropped), or None.

    >>> copy_source({"x-amz-copy-source": "/src/a%20b.txt?versionId=3"})
    'src/a b.txt'
    """
    from urllib.parse import unquote

    raw = headers.get("x-amz-copy-source")
    if not raw:
        return None
    path = raw.split("?", 1)[0]
    try:
        return unquote(path, errors="strict").lstrip("/")
    except UnicodeDecodeError:
        return None

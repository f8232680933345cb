"""Core errors: S3 semantics failures, named by their S3 error code, with no HTTP in them.

The API layer turns these into responses through its one error table
(``s3gw.api.errors``); the class name *is* the S3 code, so the translation is a
lookup, never a chain of ``if`` statements.
"""

from __future__ import annotations


class CoreError(Exception):
    """Base of every S3-visible error raised below the API layer."""

    code = "InternalError"

    def __init__(self, message: str = "", **headers: str) -> None:
        super().__init__(message or self.code)
        self.message = message
        # Extra response headers the API must send with this error
        # (x-amz-delete-marker, Last-Modified, x-amz-version-id, ...).
        self.headers = {k.replace("_", "-"): v for k, v in headers.items()}


def _error(name: str) -> type[CoreError]:
    return type(name, (CoreError,), {"code": name, "__module__": __name__})


# One class per S3 code raised by core (the list is the vocabulary, the table in
# s3gw/api/errors.py gives each its HTTP status and default message).
AccessDenied = _error("AccessDenied")
BadDigest = _error("BadDigest")
BadRequest = _error("BadRequest")
BucketAlreadyExists = _error("BucketAlreadyExists")
BucketAlreadyOwnedByYou = _error("BucketAlreadyOwnedByYou")
BucketNotEmpty = _error("BucketNotEmpty")
EntityTooLarge = _error("EntityTooLarge")
EntityTooSmall = _error("EntityTooSmall")
IncompleteBody = _error("IncompleteBody")
InvalidArgument = _error("InvalidArgument")
InvalidBucketName = _error("InvalidBucketName")
InvalidTokenId = _error("InvalidTokenId")
InvalidAccessKeyId = _error("InvalidAccessKeyId")
InvalidBucketState = _error("InvalidBucketState")
InvalidDigest = _error("InvalidDigest")
InvalidObjectName = _error("XMinioInvalidObjectName")
InvalidResourceName = _error("XMinioInvalidResourceName")
InvalidPart = _error("InvalidPart")
InvalidPartNumber = _error("InvalidPartNumber")
InvalidPartOrder = _error("InvalidPartOrder")
InvalidRange = _error("InvalidRange")
InvalidRequest = _error("InvalidRequest")
InvalidStorageClass = _error("InvalidStorageClass")
InvalidTag = _error("InvalidTag")
KeyTooLongError = _error("KeyTooLongError")
MalformedXML = _error("MalformedXML")
MetadataTooLarge = _error("MetadataTooLarge")
MethodNotAllowed = _error("MethodNotAllowed")
NoSuchBucket = _error("NoSuchBucket")
NoSuchKey = _error("NoSuchKey")
NoSuchUpload = _error("NoSuchUpload")
NoSuchVersion = _error("NoSuchVersion")
NoSuchTagSet = _error("NoSuchTagSet")
NotImplementedS3 = _error("NotImplemented")
NotModified = _error("NotModified")
PreconditionFailed = _error("PreconditionFailed")
SlowDownRead = _error("SlowDownRead")
SlowDownWrite = _error("SlowDownWrite")
XAmzContentChecksumMismatch = _error("XAmzContentChecksumMismatch")
ServiceUnavailable = _error("ServiceUnavailable")
NoSuchObjectLockConfiguration = _error("NoSuchObjectLockConfiguration")
ObjectLockConfigurationNotFoundError = _error("ObjectLockConfigurationNotFoundError")


class ObjectLocked(CoreError):
    """A retention or legal hold forbids this change (MinIO's ErrObjectLocked: 400 InvalidRequest)."""

    code = "InvalidRequest"

    def __init__(self, message: str = "Object is WORM protected and cannot be overwritten", **headers: str) -> None:
        super().__init__(message, **headers)


class GovernanceLocked(ObjectLocked):
    """GOVERNANCE retention forbids the change because it was not bypassed (the API answers
    AccessDenied when the caller asked for the bypass but may not use it, as AWS does)."""


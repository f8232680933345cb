"""Core errors: S3 semantics failures, named by their S3 error code, with no HTTP in them.

The API layer turns these into responses through its one error table
(``s3gw.api.errors``); the class name *is* the S3 code, so the translation is a
lookup, never a chain of ``if`` statements.

An error says what went wrong and to what: the bucket, the key, the version
and, when one was found, the version's record (MinIO's object errors carry
Bucket/Object/VersionID the same way). Response headers are not built here:
the API boundary (``s3gw.api.app.error_headers``) renders them from this
context (a delete marker's ``x-amz-delete-marker``, a 304's ``ETag``, ...).
"""

from __future__ import annotations

from ..meta.model import VersionRecord


class CoreError(Exception):
    """Base of every S3-visible error raised below the API layer."""

    code = "InternalError"
    #: the message when the raiser gives none ("": the table's, for the code)
    default_message = ""

    def __init__(
        self,
        message: str = "",
        *,
        bucket: str = "",
        key: str = "",
        version_id: str | None = None,
        record: VersionRecord | None = None,
    ) -> None:
        message = message or self.default_message
        super().__init__(message or self.code)
        self.message = message
        self.bucket = bucket or (record.bucket if record is not None else "")
        self.key = key or (record.key if record is not None else "")
        self.version_id = version_id if version_id is not None or record is None else record.version_id
        self.record = record  # the version the error is about, when one was found

    def about(self, rec: VersionRecord) -> CoreError:
        """This error, said of ``rec`` (its bucket, key, version and record); returns itself to raise."""
        self.record = rec
        self.bucket, self.key, self.version_id = rec.bucket, rec.key, rec.version_id
        return self

    def __repr__(self) -> str:
        where = "/".join(x for x in (self.bucket, self.key) if x)
        version = f" version {self.version_id}" if self.version_id else ""
        return f"{type(self).__name__}({self.message or self.code!r}{', ' + where if where else ''}{version})"


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
NoSuchLifecycleConfiguration = _error("NoSuchLifecycleConfiguration")
NotImplementedS3 = _error("NotImplemented")
NotModified = _error("NotModified")
PreconditionFailed = _error("PreconditionFailed")
SlowDownRead = _error("SlowDownRead")
SlowDownWrite = _error("SlowDownWrite")
XAmzContentChecksumMismatch = _error("XAmzContentChecksumMismatch")
ServiceUnavailable = _error("ServiceUnavailable")
NoSuchObjectLockConfiguration = _error("NoSuchObjectLockConfiguration")
ObjectLockConfigurationNotFoundError = _error("ObjectLockConfigurationNotFoundError")


def _variant(name: str, code: str) -> type[CoreError]:
    """A core error answered with another row of the table (``Code.Variant``: same S3 code, its own message)."""
    return type(name, (CoreError,), {"code": code, "__module__": __name__})


# Server-side encryption (core/sse.py): MinIO's cmd/api-errors.go rows
InsecureSSECustomerRequest = _variant("InsecureSSECustomerRequest", "InvalidRequest.InsecureSSECustomerRequest")
SSEMultipartEncrypted = _variant("SSEMultipartEncrypted", "InvalidRequest.SSEMultipartEncrypted")
SSEEncryptedObject = _variant("SSEEncryptedObject", "InvalidRequest.SSEEncryptedObject")
InvalidEncryptionParameters = _variant("InvalidEncryptionParameters", "InvalidRequest.InvalidEncryptionParameters")
InvalidEncryptionKeyID = _variant("InvalidEncryptionKeyID", "InvalidRequest.InvalidEncryptionKeyID")
InvalidEncryptionMethod = _variant("InvalidEncryptionMethod", "InvalidArgument.InvalidEncryptionMethod")
IncompatibleEncryptionMethod = _variant("IncompatibleEncryptionMethod", "InvalidArgument.IncompatibleEncryptionMethod")
InvalidSSECustomerAlgorithm = _variant("InvalidSSECustomerAlgorithm", "InvalidArgument.InvalidSSECustomerAlgorithm")
InvalidSSECustomerKey = _variant("InvalidSSECustomerKey", "InvalidArgument.InvalidSSECustomerKey")
MissingSSECustomerKey = _variant("MissingSSECustomerKey", "InvalidArgument.MissingSSECustomerKey")
MissingSSECustomerKeyMD5 = _variant("MissingSSECustomerKeyMD5", "InvalidArgument.MissingSSECustomerKeyMD5")
SSECustomerKeyMD5Mismatch = _variant("SSECustomerKeyMD5Mismatch", "InvalidArgument.SSECustomerKeyMD5Mismatch")
InvalidSSECustomerParameters = _variant("InvalidSSECustomerParameters", "InvalidArgument.InvalidSSECustomerParameters")
KMSNotConfigured = _variant("KMSNotConfigured", "NotImplemented.KMSNotConfigured")
KMSKeyNotFound = _variant("KMSKeyNotFound", "kms:KeyNotFound")
KMSUnavailable = _variant("KMSUnavailable", "ServiceUnavailable.KMS")
ObjectTampered = _variant("ObjectTampered", "InternalError.ObjectTampered")
ServerSideEncryptionConfigurationNotFoundError = _error("ServerSideEncryptionConfigurationNotFoundError")


class OutcomeUnknown(CoreError):
    """The metadata store failed while committing a write and did not answer again in
    time to tell whether it took effect (MinIO has no code for it: 503
    ServiceUnavailable; the API logs the request id with what was written)."""

    code = "ServiceUnavailable"


class InvalidRange(CoreError):
    """A Range that parses but cannot be satisfied; ``object_size``: the size of the object asked."""

    code = "InvalidRange"

    def __init__(self, message: str = "", *, object_size: int | None = None) -> None:
        super().__init__(message)
        self.object_size = object_size


class RangeWithPartNumber(CoreError):
    """GET/HEAD with both a Range header and ?partNumber= (MinIO's ErrInvalidRangePartNumber: 400
    InvalidRequest; the answer says the object does take byte ranges)."""

    code = "InvalidRequest"
    default_message = "Cannot specify both Range header and partNumber query parameter"


class ObjectLocked(CoreError):
    """A retention or legal hold forbids this change (MinIO's ErrObjectLocked: 400 InvalidRequest)."""

    code = "InvalidRequest"
    default_message = "Object is WORM protected and cannot be overwritten"


class GovernanceLocked(ObjectLocked):
    """GOVERNANCE retention forbids the change because it was not bypassed (the API answers
    AccessDenied when the caller asked for the bypass but may not use it, as AWS does)."""


# Bucket replication (core/replication.py): MinIO's cmd/api-errors.go rows
RemoteTargetNotFound = _variant("RemoteTargetNotFound", "XMinioAdminRemoteTargetNotFoundError")
RemoteArnInvalid = _variant("RemoteArnInvalid", "XMinioAdminBucketRemoteArnInvalid")
RemoteArnTypeInvalid = _variant("RemoteArnTypeInvalid", "XMinioAdminRemoteArnTypeInvalid")
RemoteRemoveDisallowed = _variant("RemoteRemoveDisallowed", "XMinioAdminRemoteRemoveDisallowed")
ReplicationNeedsVersioning = _variant("ReplicationNeedsVersioning", "InvalidRequest.ReplicationNeedsVersioning")
ReplicationTargetNeedsVersioning = _variant(
    "ReplicationTargetNeedsVersioning", "InvalidRequest.ReplicationTargetNeedsVersioning"
)
ReplicationConfigurationNotFoundError = _error("ReplicationConfigurationNotFoundError")

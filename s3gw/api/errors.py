"""The one S3 error table: name -> (HTTP status, message), and its XML rendering.

Every failure a client can see goes through ``S3Error``: core errors and auth
errors are *named* by their row here, so translating them is a table look-up
(STYLE.md: one error table, errors change vocabulary only at a boundary).
Statuses and messages follow MinIO's cmd/api-errors.go.

A row's name is its S3 code, or ``Code.Variant`` where MinIO answers one code
with another status or message depending on the cause (its table is keyed by
cause: ErrUnsignedHeaders is ``AccessDenied`` with 400). The auth layer raises
``AuthError`` with these names and no status: the status is the table's, and
nowhere else. A name that is not here is a bug: it is logged and answered
InternalError, and ``tests/unit/api/test_errors.py`` fails on every name the
source raises that the table lacks.
"""

from __future__ import annotations

import logging
from xml.sax.saxutils import escape as _escape

log = logging.getLogger(__name__)

# name: (status, message)
ERRORS: dict[str, tuple[int, str]] = {
    "AccessDenied": (403, "Access Denied."),
    "AccessDenied.MissingDateHeader": (400, "AWS authentication requires a valid Date or x-amz-date header"),
    "AccessDenied.MissingSignTag": (400, "Signature header missing Signature field."),
    "AccessDenied.UnsignedHeaders": (400, "There were headers present in the request which were not signed"),
    "AuthorizationHeaderMalformed": (
        400,
        "The authorization header is malformed; the region is wrong; expecting 'us-east-1'.",
    ),
    "AuthorizationQueryParametersError": (
        400,
        'Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
    ),
    "AuthorizationParametersError": (
        400,
        'Error parsing the Credential/X-Amz-Credential parameter; incorrect service. This endpoint belongs to "s3".',
    ),
    "BadRequest": (400, "400 BadRequest"),
    "BadDigest": (400, "The Content-Md5 you specified did not match what we received."),
    "BucketAlreadyExists": (
        409,
        "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
    ),
    "BucketAlreadyOwnedByYou": (
        409,
        "Your previous request to create the named bucket succeeded and you already own it.",
    ),
    "BucketNotEmpty": (409, "The bucket you tried to delete is not empty"),
    "EmptyRequestBody": (400, "Request body cannot be empty."),
    "EntityTooLarge": (400, "Your proposed upload exceeds the maximum allowed object size."),
    "EntityTooSmall": (400, "Your proposed upload is smaller than the minimum allowed object size."),
    "ExcessData": (400, "More data provided than indicated content length"),
    "ExpiredToken": (400, "The provided token has expired."),
    "IllegalVersioningConfigurationException": (
        400,
        "Indicates that the versioning configuration specified in the request is invalid.",
    ),
    "IncompleteBody": (400, "You did not provide the number of bytes specified by the Content-Length HTTP header."),
    "InternalError": (500, "We encountered an internal error, please try again."),
    "InvalidAccessKeyId": (403, "The Access Key Id you provided does not exist in our records."),
    "InvalidTokenId": (403, "The security token included in the request is invalid"),
    "InvalidArgument": (400, "Invalid argument"),
    "InvalidBucketName": (400, "The specified bucket is not valid."),
    "InvalidBucketState": (409, "Object Lock configuration cannot be enabled on existing buckets."),
    "InvalidDigest": (400, "The Content-Md5 you specified is not valid."),
    "InvalidEncodingMethod": (400, "Invalid Encoding Method specified in Request"),
    "InvalidLocationConstraint": (400, "The specified location-constraint is not valid"),
    "InvalidPart": (
        400,
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
    ),
    "InvalidPartNumber": (416, "The requested partnumber is not satisfiable"),
    "InvalidPartOrder": (
        400,
        "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
    ),
    "InvalidRange": (416, "The requested range is not satisfiable"),
    "InvalidRequest": (400, "Invalid Request"),
    # server-side encryption (MinIO's rows, by cause)
    "InvalidRequest.InsecureSSECustomerRequest": (
        400,
        "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
    ),
    "InvalidRequest.SSEMultipartEncrypted": (
        400,
        "The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters.",
    ),
    "InvalidRequest.SSEEncryptedObject": (
        400,
        "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
    ),
    "InvalidRequest.InvalidEncryptionParameters": (400, "The encryption parameters are not applicable to this object."),
    "InvalidRequest.ReplicationNeedsVersioning": (
        400,
        "Versioning must be 'Enabled' on the bucket to apply a replication configuration",
    ),
    "InvalidRequest.ReplicationTargetNeedsVersioning": (
        400,
        "Versioning must be 'Enabled' on the bucket to add a replication target",
    ),
    "InvalidRequest.InvalidEncryptionKeyID": (400, "The specified KMS KeyID contains unsupported characters"),
    "InvalidArgument.InvalidEncryptionMethod": (
        400,
        "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
    ),
    "InvalidArgument.IncompatibleEncryptionMethod": (
        400,
        "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
    ),
    "InvalidArgument.InvalidSSECustomerAlgorithm": (
        400,
        "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
    ),
    "InvalidArgument.InvalidSSECustomerKey": (400, "The secret key was invalid for the specified algorithm."),
    "InvalidArgument.MissingSSECustomerKey": (
        400,
        "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.",
    ),
    "InvalidArgument.MissingSSECustomerKeyMD5": (
        400,
        "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.",
    ),
    "InvalidArgument.SSECustomerKeyMD5Mismatch": (
        400,
        "The calculated MD5 hash of the key did not match the hash that was provided.",
    ),
    "InvalidArgument.InvalidSSECustomerParameters": (
        400,
        "The provided encryption parameters did not match the ones used originally.",
    ),
    "NotImplemented.KMSNotConfigured": (501, "Server side encryption specified but KMS is not configured"),
    # MinIO answers a KMS key it does not know with its KMS's own error (internal/kms: ErrKeyNotFound)
    "kms:KeyNotFound": (404, "key with given key ID does not exist"),
    "ServiceUnavailable.KMS": (503, "The key management service is unavailable. Please retry."),
    "InternalError.ObjectTampered": (
        500,
        "The object's encrypted data does not authenticate: it was altered or is corrupt (never served).",
    ),
    "InvalidRetentionDate": (400, "Date must be provided in ISO 8601 format"),
    "InvalidStorageClass": (400, "Invalid storage class."),
    "InvalidTag": (400, "The TagValue you have provided is invalid"),
    "InvalidToken": (400, "The provided token is malformed or otherwise invalid."),
    "KeyTooLongError": (400, "Your key is too long"),
    "MalformedDate": (400, "Invalid date format header, expected to be in ISO8601, RFC1123 or RFC1123Z time format."),
    "MalformedPolicy": (400, "Policies must be valid JSON and the first byte must be '{'"),
    "MalformedPOSTRequest": (400, "The body of your POST request is not well-formed multipart/form-data."),
    "MalformedTrailerError": (
        400,
        "The request contained trailing data that was not well-formed or did not conform to our published schema.",
    ),
    "MalformedXML": (400, "The XML you provided was not well-formed or did not validate against our published schema."),
    "MaxMessageLengthExceeded": (400, "Your request was too big."),
    "MetadataTooLarge": (400, "Your metadata headers exceed the maximum allowed metadata size."),
    "MethodNotAllowed": (405, "The specified method is not allowed against this resource."),
    "MissingContentLength": (411, "You must provide the Content-Length HTTP header."),
    "MissingContentMD5": (400, "Missing required header for this request: Content-Md5."),
    "MissingFields": (400, "Missing fields in request."),
    "MissingRequestBodyError": (400, "Request body is empty."),
    "MissingSecurityHeader": (400, "Your request was missing a required header"),
    "NoSuchBucket": (404, "The specified bucket does not exist"),
    "NoSuchBucketPolicy": (404, "The bucket policy does not exist"),
    "NoSuchCORSConfiguration": (404, "The CORS configuration does not exist"),
    "NoSuchKey": (404, "The specified key does not exist."),
    "NoSuchLifecycleConfiguration": (404, "The lifecycle configuration does not exist"),
    "NoSuchObjectLockConfiguration": (400, "The specified object does not have a ObjectLock configuration"),
    "NoSuchTagSet": (404, "The TagSet does not exist"),
    "NoSuchUpload": (
        404,
        "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    ),
    "NoSuchVersion": (404, "The specified version does not exist."),
    "NoSuchWebsiteConfiguration": (404, "The specified bucket does not have a website configuration"),
    "NotImplemented": (501, "A header you provided implies functionality that is not implemented"),
    "NotModified": (304, "Not Modified"),
    "ObjectLockConfigurationNotFoundError": (404, "Object Lock configuration does not exist for this bucket"),
    "PolicyTooLarge": (400, "Policy exceeds the maximum allowed document size."),
    "PostPolicyInvalidKeyName": (403, "Invalid according to Policy: Policy Condition failed"),
    "PreconditionFailed": (412, "At least one of the pre-conditions you specified did not hold"),
    "ReplicationConfigurationNotFoundError": (404, "The replication configuration was not found"),
    "RequestTimeout": (
        400,
        "Your socket connection to the server was not read from or written to within the timeout period.",
    ),
    "RequestTimeTooSkewed": (403, "The difference between the request time and the server's time is too large."),
    "RequestNotReadyYet": (403, "Request is not valid yet"),
    "ServerSideEncryptionConfigurationNotFoundError": (404, "The server side encryption configuration was not found"),
    "ServiceUnavailable": (503, "The service is unavailable. Please retry."),
    "SignatureDoesNotMatch": (
        403,
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    ),
    "SlowDown": (503, "Please reduce your request rate"),
    "SlowDownRead": (503, "Resource requested is unreadable, please reduce your request rate"),
    "SlowDownWrite": (503, "Resource requested is unwritable, please reduce your request rate"),
    "UnsupportedNotification": (
        400,
        "MinIO server does not support Topic or Cloud Function based notifications.",
    ),
    "UnsupportedMediaType": (415, "The request is not in a supported format."),
    "XAmzContentChecksumMismatch": (400, "The provided 'x-amz-checksum' header does not match what was computed."),
    "XAmzContentSHA256Mismatch": (400, "The provided 'x-amz-content-sha256' header does not match what was computed."),
    "XMinioAdminRemoteTargetNotFoundError": (404, "The remote target does not exist"),
    "XMinioAdminBucketRemoteArnInvalid": (400, "The bucket remote ARN does not have correct format"),
    "XMinioAdminRemoteArnTypeInvalid": (400, "The bucket remote ARN type is not valid"),
    "XMinioAdminRemoteRemoveDisallowed": (400, "This ARN is in use by an existing configuration"),
    "XMinioInvalidObjectName": (400, "Object name contains unsupported characters."),
    "XMinioInvalidResourceName": (400, 'Resource name contains bad components such as ".." or ".".'),
}


def code_of(name: str) -> str:
    """The S3 code of a table row (``AccessDenied.UnsignedHeaders`` -> ``AccessDenied``)."""
    return name.partition(".")[0]


class S3Error(Exception):
    """An error on its way to the client: its row (``name``), code, status, message, extra headers."""

    def __init__(self, code: str, message: str = "", headers: dict[str, str] | None = None) -> None:
        if code not in ERRORS:
            log.error("S3 error %r is not in the error table (s3gw/api/errors.py): answered InternalError", code)
            code = "InternalError"
        status, default = ERRORS[code]
        super().__init__(f"{code}: {message or default}")
        self.name = code
        self.code = code_of(code)
        self.status = status
        self.message = message or default
        self.headers = headers or {}


def escape(text: str) -> str:
    """Text in an error document as Go's encoding/xml writes it (MinIO): quotes as &#34; and &#39;
    ("'Date' must be at midnight GMT" reads &#39;Date&#39; there)."""
    return _escape(text, {'"': "&#34;", "'": "&#39;"})


def render(err: S3Error, resource: str, request_id: str, bucket: str = "", key: str = "") -> bytes:
    """S3's error document (MinIO adds BucketName/Key, which SDKs ignore)."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>',
        f"<Code>{escape(err.code)}</Code>",
        f"<Message>{escape(err.message)}</Message>",
    ]
    if key:
        parts.append(f"<Key>{escape(key)}</Key>")
    if bucket:
        parts.append(f"<BucketName>{escape(bucket)}</BucketName>")
    parts.append(f"<Resource>{escape(resource)}</Resource>")
    parts.append(f"<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>")
    return "".join(parts).encode()

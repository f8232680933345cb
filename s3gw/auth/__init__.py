"""S3 request authentication: AWS SigV4 (header and presigned) and body verification.

Pure code: no aiohttp, nothing from s3gw.core/meta/storage/api.

Typical use by the gateway::

    result = authenticate(request.method, request.rel_url.raw_path, list(request.query.items()),
                          request.headers, lookup_secret)
    mode = result.content_sha256
    if mode in STREAMING_MODES:       # aws-chunked body
        decoder = ChunkedDecoder(result, mode, trailer_names, decoded_length)
    elif mode == UNSIGNED_PAYLOAD:
        ...                           # nothing to verify
    else:                             # hex digest
        hasher = PayloadHasher(mode)
"""

from .errors import AuthError
from .sigv4 import (
    ALGORITHM,
    EMPTY_SHA256,
    MAX_CLOCK_SKEW,
    MAX_PRESIGN_EXPIRES,
    SIGNED_STREAMING_MODES,
    STREAMING_MODES,
    STREAMING_PAYLOAD,
    STREAMING_PAYLOAD_TRAILER,
    STREAMING_UNSIGNED_PAYLOAD_TRAILER,
    UNSIGNED_PAYLOAD,
    AuthResult,
    authenticate,
    canonical_query,
    canonical_uri,
    claimed_access_key,
    derive_signing_key,
    is_sha256_hex,
    security_token_sent,
    signature_kind,
)
from .streaming import MAX_LINE, ChunkedDecoder, PayloadHasher

__all__ = [
    "ALGORITHM",
    "EMPTY_SHA256",
    "MAX_CLOCK_SKEW",
    "MAX_LINE",
    "MAX_PRESIGN_EXPIRES",
    "SIGNED_STREAMING_MODES",
    "STREAMING_MODES",
    "STREAMING_PAYLOAD",
    "STREAMING_PAYLOAD_TRAILER",
    "STREAMING_UNSIGNED_PAYLOAD_TRAILER",
    "UNSIGNED_PAYLOAD",
    "AuthError",
    "AuthResult",
    "ChunkedDecoder",
    "PayloadHasher",
    "authenticate",
    "canonical_query",
    "canonical_uri",
    "claimed_access_key",
    "security_token_sent",
    "derive_signing_key",
    "is_sha256_hex",
    "signature_kind",
]

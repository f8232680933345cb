"""AWS Signature Version 2 (header ``AWS AKID:sig`` and presigned ``?AWSAccessKeyId=&Expires=&Signature=``).

MinIO still accepts V2, and boto3's ``generate_presigned_url`` produces V2 URLs
for S3 unless told ``signature_version="s3v4"``, so refusing V2 would break
ordinary presigned links. Spec: "Signing and authenticating REST requests"
(AWS S3 developer guide, legacy); MinIO cmd/signature-v2.go.

StringToSign = Verb \\n Content-MD5 \\n Content-Type \\n Date-or-Expires \\n
               CanonicalizedAmzHeaders CanonicalizedResource
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from ..common.numbers import parse_int
from .errors import AuthError, known_secret

# Sub-resources that are part of the V2 canonical resource (MinIO's resourceList).
SUBRESOURCES = frozenset(
    {
        "acl",
        "cors",
        "delete",
        "encryption",
        "legal-hold",
        "lifecycle",
        "location",
        "logging",
        "notification",
        "partNumber",
        "policy",
        "requestPayment",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
        "retention",
        "select",
        "select-type",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
    }
)

MAX_SKEW_SECONDS = 15 * 60
# A presigned V2 URL may not live longer than a V4 one (X-Amz-Expires <= 7 days,
# AWS's rule): Expires is absolute, so it may be at most a week (and the clock skew) ahead.
MAX_PRESIGN_SECONDS = 7 * 24 * 3600


def _canonical_amz_headers(headers: Mapping[str, str]) -> str:
    items: dict[str, list[str]] = {}
    getall = getattr(headers, "getall", None)
    for name in {k.lower() for k in headers.keys()}:
        if not name.startswith("x-amz-"):
            continue
        values = getall(name) if getall else [headers[name]]
        items[name] = [" ".join(v.split()) for v in values]
    return "".join(f"{k}:{','.join(items[k])}\n" for k in sorted(items))


def _canonical_resource(raw_path: str, query: list[tuple[str, str]]) -> str:
    subs = sorted((k, v) for k, v in query if k in SUBRESOURCES)
    if not subs:
        return raw_path
    return raw_path + "?" + "&".join(f"{k}={v}" if v else k for k, v in subs)


def string_to_sign(
    method: str, raw_path: str, query: list[tuple[str, str]], headers: Mapping[str, str], date: str
) -> str:
    return "\n".join(
        [
            method,
            headers.get("content-md5", ""),
            headers.get("content-type", ""),
            date,
            _canonical_amz_headers(headers) + _canonical_resource(raw_path, query),
        ]
    )


def _sign(secret: str, sts: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), sts.encode(), hashlib.sha1).digest()).decode()


def _parse_date(value: str) -> datetime:
    """RFC 1123 (the Date header) or ISO 8601 basic (x-amz-date), as MinIO accepts both.

    ASCII only and of a sane length: the standard library's parsers take other
    scripts' digits and overflow on a 20-digit zone offset.
    """
    bad = AuthError("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
    if not value.isascii() or len(value) > 64:
        raise bad
    try:
        t = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        try:
            t = datetime.strptime(value, "%Y%m%dT%H%M%SZ")
        except ValueError as e:
            raise bad from e
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def verify_header(
    method: str,
    raw_path: str,
    query: list[tuple[str, str]],
    headers: Mapping[str, str],
    lookup_secret: Callable[[str], str | None],
    now: datetime,
    authz: str,
) -> str:
    """Check ``Authorization: AWS AKID:signature``; returns the access key."""
    cred = authz[len("AWS ") :].strip()
    access_key, sep, signature = cred.rpartition(":")
    if not sep or not access_key or not signature:
        raise AuthError("MissingFields", "Missing fields in request.")
    secret = known_secret(lookup_secret, access_key)
    amz_date = headers.get("x-amz-date")
    date_value = headers.get("date", "")
    t = _parse_date(amz_date or date_value)
    if abs((now - t).total_seconds()) > MAX_SKEW_SECONDS:
        raise AuthError(
            "RequestTimeTooSkewed", "The difference between the request time and the server's time is too large."
        )
    # With x-amz-date the Date line is empty: x-amz-date is signed among the amz headers.
    sts = string_to_sign(method, raw_path, query, headers, "" if amz_date else date_value)
    if not hmac.compare_digest(_sign(secret, sts), signature):
        raise AuthError(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        )
    return access_key


def amz_query_headers(headers: Mapping[str, str], query: list[tuple[str, str]]) -> Mapping[str, str]:
    """A V2 presigned URL's x-amz-* query parameters count as headers in the string to sign
    (AWS "Query string request authentication": a temporary credential's
    x-amz-security-token goes in the query and in CanonicalizedAmzHeaders; botocore's
    HmacV1QueryAuth signs every x-amz-* header it moves to the query); a header sent
    as well keeps its own value.

    >>> dict(amz_query_headers({"host": "h"}, [("x-amz-security-token", "t"), ("prefix", "p")]))
    {'host': 'h', 'x-amz-security-token': 't'}
    """
    extra = {k.lower(): v for k, v in query if k.lower().startswith("x-amz-")}
    if not extra:
        return headers
    merged = {k.lower(): v for k, v in headers.items()}
    for k, v in extra.items():
        merged.setdefault(k, v)
    return merged


def verify_presigned(
    method: str,
    raw_path: str,
    query: list[tuple[str, str]],
    headers: Mapping[str, str],
    lookup_secret: Callable[[str], str | None],
    now: datetime,
) -> str:
    """Check a V2 presigned URL; returns the access key."""
    q = dict(query)
    access_key, expires, signature = q.get("AWSAccessKeyId", ""), q.get("Expires", ""), q.get("Signature", "")
    if not access_key or not expires or not signature:
        raise AuthError("MissingFields", "Missing fields in request.")
    try:
        expires_at = parse_int(expires)  # Go's strconv.ParseInt, as MinIO
    except ValueError:
        raise AuthError("AuthorizationQueryParametersError", "X-Amz-Expires should be a number") from None
    if expires_at - now.timestamp() > MAX_PRESIGN_SECONDS + MAX_SKEW_SECONDS:
        raise AuthError(
            "AuthorizationQueryParametersError",
            "Expires must be less than a week (in seconds) from now; that is, at most "
            f"{MAX_PRESIGN_SECONDS} seconds ahead",
        )
    secret = known_secret(lookup_secret, access_key)
    if now.timestamp() > expires_at:
        raise AuthError("AccessDenied", "Request has expired")
    rest = [(k, v) for k, v in query if k not in ("AWSAccessKeyId", "Expires", "Signature")]
    sts = string_to_sign(method, raw_path, rest, amz_query_headers(headers, rest), expires)
    if not hmac.compare_digest(_sign(secret, sts), signature):
        raise AuthError(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        )
    return access_key

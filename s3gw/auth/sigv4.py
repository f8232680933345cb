"""AWS Signature Version 4 verification for S3: Authorization header and presigned URLs.

References: the S3 API reference, "Authenticating Requests (AWS Signature
Version 4)" (sig-v4-header-based-auth.html, sigv4-query-string-auth.html), and
MinIO's implementation (cmd/signature-v4.go, cmd/signature-v4-parser.go,
cmd/auth-handler.go), which is the reference wherever the two differ; the
error codes and messages are MinIO's (cmd/api-errors.go).

Pure functions: no aiohttp, nothing from the rest of s3gw. The caller hands in
the request's method, its raw (still percent-encoded) path, its decoded query
pairs, a case-insensitive header mapping and a secret-key lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote_to_bytes

from ..common.numbers import parse_int
from . import sigv2
from .errors import AuthError, known_secret

__all__ = [
    "ALGORITHM",
    "AuthResult",
    "EMPTY_SHA256",
    "MAX_CLOCK_SKEW",
    "MAX_PRESIGN_EXPIRES",
    "SIGNED_STREAMING_MODES",
    "STREAMING_MODES",
    "STREAMING_PAYLOAD",
    "STREAMING_PAYLOAD_TRAILER",
    "STREAMING_UNSIGNED_PAYLOAD_TRAILER",
    "UNSIGNED_PAYLOAD",
    "authenticate",
    "canonical_headers",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "claimed_access_key",
    "derive_signing_key",
    "is_sha256_hex",
    "must_be_signed",
    "signature_kind",
    "string_to_sign",
    "unsigned_headers",
]

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

# x-amz-content-sha256 values other than a hex digest.
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_PAYLOAD_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_PAYLOAD_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
SIGNED_STREAMING_MODES = frozenset({STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER})
STREAMING_MODES = SIGNED_STREAMING_MODES | {STREAMING_UNSIGNED_PAYLOAD_TRAILER}

# MinIO's globalMaxSkewTime and AWS's documented limit.
MAX_CLOCK_SKEW = timedelta(minutes=15)
# Presigned URLs live at most 7 days (X-Amz-Expires <= 604800).
MAX_PRESIGN_EXPIRES = 604800

_ISO8601_RE = re.compile(r"[0-9]{8}T[0-9]{6}Z")  # ASCII digits (\d would take any script's)
_YYYYMMDD_RE = re.compile(r"\d{8}")
_SHA256_HEX_RE = re.compile(r"[0-9a-fA-F]{64}")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

# The presigned-URL query parameters (case-sensitive, as Go's url.Values in MinIO).
_Q_ALGORITHM = "X-Amz-Algorithm"
_Q_CREDENTIAL = "X-Amz-Credential"
_Q_DATE = "X-Amz-Date"
_Q_EXPIRES = "X-Amz-Expires"
_Q_SIGNED_HEADERS = "X-Amz-SignedHeaders"
_Q_SIGNATURE = "X-Amz-Signature"
_Q_CONTENT_SHA256 = "X-Amz-Content-Sha256"
_PRESIGN_REQUIRED = (_Q_ALGORITHM, _Q_CREDENTIAL, _Q_SIGNATURE, _Q_DATE, _Q_SIGNED_HEADERS, _Q_EXPIRES)

_MSG_CRED_MALFORMED = (
    "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; "
    'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
)
_MSG_UNSIGNED_HEADERS = "There were headers present in the request which were not signed"
_MSG_MISSING_CONTENT_SHA256 = "Missing required header for this request: x-amz-content-sha256"
_MSG_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check your key and signing method."
)
_MSG_CONTENT_SHA256 = "The provided 'x-amz-content-sha256' header does not match what was computed."


# x-amz-* request headers that change what an S3 request does or stores: they
# must be covered by the signature, else whoever holds a presigned URL (or sits
# on the path of a signed request) could add them. AWS requires every x-amz-*
# header to be signed ("Authenticating Requests: Using the Authorization
# Header": the CanonicalHeaders "must include ... any x-amz-* headers that you
# plan to include in your request"; for presigned URLs, signed or sent as query
# parameters) and answers AccessDenied "There were headers present in the
# request which were not signed"; MinIO checks only x-amz-meta-* on presigned
# URLs (checkMetaHeaders). This is the list of the request headers of PutObject,
# CopyObject, UploadPartCopy, CreateMultipartUpload, CreateBucket, DeleteObject(s)
# and the ACL/lock calls in the S3 API reference that have an effect; headers
# that can only make a request fail (x-amz-expected-bucket-owner, x-amz-mfa,
# If-* preconditions outside the copy source) or change nothing stored
# (x-amz-sdk-checksum-algorithm, x-amz-user-agent) may stay unsigned, as may
# x-amz-content-sha256 and x-amz-date (the signature covers their values anyway).
MUST_SIGN_PREFIXES = (
    "x-amz-copy-source",  # the source, -range, -if-*, -server-side-encryption-customer-*
    "x-amz-meta-",  # user metadata
    "x-amz-object-lock-",  # -mode, -retain-until-date, -legal-hold
    "x-amz-bucket-object-lock-",  # CreateBucket: -enabled, -token
    "x-amz-server-side-encryption",  # and its -customer-*, -aws-kms-*, -context, -bucket-key-enabled
    "x-amz-grant-",  # -read, -write, -read-acp, -write-acp, -full-control
    "x-amz-tagging",  # the tags, and -directive
    "x-amz-checksum-",  # a checksum to verify and store, -algorithm, -type
)
MUST_SIGN = frozenset(
    {
        "x-amz-acl",
        "x-amz-bypass-governance-retention",
        "x-amz-metadata-directive",
        "x-amz-storage-class",
        "x-amz-website-redirect-location",
        "x-amz-trailer",
        "x-amz-object-ownership",
        # temporary credentials' session token: the signature must cover it (SDKs sign it), else a token
        # could be swapped under a captured signature
        "x-amz-security-token",
    }
)

#: the session token of temporary credentials: a header, or a query parameter of a presigned URL
SECURITY_TOKEN = "x-amz-security-token"
_Q_SECURITY_TOKEN = "X-Amz-Security-Token"


def must_be_signed(name: str) -> bool:
    """Is this (lower-case) header one the signature must cover when present?

    >>> must_be_signed("x-amz-copy-source"), must_be_signed("x-amz-tagging-directive"), must_be_signed("range")
    (True, True, False)
    >>> must_be_signed("x-amz-content-sha256"), must_be_signed("x-amz-expected-bucket-owner")
    (False, False)
    """
    return name in MUST_SIGN or name.startswith(MUST_SIGN_PREFIXES)


def unsigned_headers(
    headers: Mapping[str, str], signed: Collection[str], query: Sequence[tuple[str, str]] = ()
) -> list[str]:
    """The headers present that ``must_be_signed`` but the signature does not cover, sorted.

    ``signed``: the SignedHeaders names. ``query`` (presigned URLs only): a
    header that repeats, value for value, a query parameter of its name is
    covered too, since the query string is signed (AWS lets presigned URLs
    carry x-amz-* values as parameters).

    >>> unsigned_headers({"x-amz-tagging": "a=b", "x-amz-acl": "private", "range": "bytes=0-1"}, ["host"])
    ['x-amz-acl', 'x-amz-tagging']
    >>> unsigned_headers({"x-amz-tagging": "a=b"}, ["host"], [("x-amz-tagging", "a=b")])
    []
    >>> unsigned_headers({"x-amz-tagging": "a=c"}, ["host"], [("x-amz-tagging", "a=b")])
    ['x-amz-tagging']
    """
    in_query = {k.lower(): v for k, v in query}
    out = []
    for name in sorted(_header_names(headers)):
        if not must_be_signed(name) or name in signed:
            continue
        values = _header_values(headers, name) or []
        if name in in_query and ",".join(values) == in_query[name]:
            continue
        out.append(name)
    return out


@dataclass(frozen=True)
class AuthResult:
    """The outcome of :func:`authenticate`.

    For a signed request, ``signing_key``, ``amz_date``, ``scope`` and
    ``signature`` are what the aws-chunked decoder needs to verify the chunk
    signature chain (the seed is ``signature``). ``content_sha256`` tells the
    caller how to treat the body: a lower-case hex digest (verify with
    :class:`~s3gw.auth.streaming.PayloadHasher`), ``UNSIGNED-PAYLOAD`` (nothing
    to verify) or one of the ``STREAMING-*`` modes (decode with
    :class:`~s3gw.auth.streaming.ChunkedDecoder`). Anonymous results carry it
    too (from the x-amz-content-sha256 header, UNSIGNED-PAYLOAD if absent).
    """

    anonymous: bool
    access_key: str = ""
    region: str = ""
    amz_date: str = ""  # the request's timestamp, ISO 8601 basic (as in the string to sign)
    scope: str = ""  # "20130524/us-east-1/s3/aws4_request"
    signature: str = ""  # the request's (seed) signature, lower-case hex
    signing_key: bytes = b""
    content_sha256: str = ""
    presigned: bool = False
    session_token: str | None = None  # x-amz-security-token as the signature covers it (None: none signed)


@dataclass(frozen=True)
class _Credential:
    access_key: str
    date: str  # yyyymmdd
    region: str
    service: str
    terminal: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminal}"


# ----------------------------------------------------------------- primitives


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def derive_signing_key(secret_key: str, date: str, region: str, service: str = "s3") -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")."""
    k = _hmac(("AWS4" + secret_key).encode("utf-8"), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def is_sha256_hex(value: str) -> bool:
    """True for 64 hex digits (either case: MinIO hex-decodes the value)."""
    return _SHA256_HEX_RE.fullmatch(value) is not None


def _uri_encode_bytes(raw: bytes, keep_slash: bool) -> str:
    """AWS UriEncode(): every byte but the unreserved set as %XX (upper-case hex)."""
    out: list[str] = []
    for b in raw:
        if b in _UNRESERVED or (keep_slash and b == 0x2F):
            out.append(chr(b))
        else:
            out.append(f"%{b:02X}")
    return "".join(out)


def canonical_uri(raw_path: str) -> str:
    """The CanonicalURI of a request path as received (percent-encoded).

    The path is percent-decoded and re-encoded byte by byte, keeping only the
    unreserved characters and '/'. This is MinIO's
    ``s3utils.EncodePath(req.URL.Path)``: it makes the result independent of
    how much the client chose to escape on the wire (space as %20, '+', '$',
    '=', '~' vs %7E, unicode ...), which is what every S3 SDK signs since each
    one fully encodes the key in the canonical request. No other normalisation
    (S3 does not collapse '//' or resolve '.').
    """
    if not raw_path:
        return "/"
    return _uri_encode_bytes(unquote_to_bytes(raw_path), keep_slash=True)


def _query_encode(value: str) -> str:
    # Everything but the unreserved set, '/' included (AWS UriEncode with
    # encodeSlash=true); str values are encoded as UTF-8.
    return quote(value, safe="-_.~", encoding="utf-8", errors="surrogateescape")


def canonical_query(query: Iterable[tuple[str, str]], exclude: Iterable[str] = ()) -> str:
    """CanonicalQueryString: UriEncode'd name=value pairs sorted by name then value.

    ``query`` holds the decoded pairs in received order; a valueless parameter
    (``?acl``) is ``("acl", "")`` and canonicalises to ``acl=``.
    """
    skip = set(exclude)
    pairs = sorted((_query_encode(k), _query_encode(v)) for k, v in query if k not in skip)
    return "&".join(f"{k}={v}" for k, v in pairs)


def _trim_all(value: str) -> str:
    # Trim and collapse inner runs of whitespace to one space (AWS "Trimall";
    # MinIO signV4TrimAll / botocore ' '.join(value.split())).
    return " ".join(value.split())


def _header_values(headers: Mapping[str, str], name: str) -> list[str] | None:
    getall = getattr(headers, "getall", None)
    if getall is not None:
        values = list(getall(name, []))
        return values or None
    value = headers.get(name)
    return None if value is None else [value]


def canonical_headers(headers: Mapping[str, str], signed: Sequence[str]) -> str:
    """CanonicalHeaders for the (lower-case, sorted) ``signed`` names: ``name:value\\n`` each.

    Repeated headers are joined with ',' in received order (MinIO
    getCanonicalHeaders). Raises AccessDenied (MinIO ErrUnsignedHeaders) if a
    signed header is absent from the request.
    """
    lines: list[str] = []
    for name in signed:
        values = _header_values(headers, name)
        if values is None:
            raise AuthError("AccessDenied.UnsignedHeaders", _MSG_UNSIGNED_HEADERS)
        lines.append(f"{name}:{','.join(_trim_all(v) for v in values)}\n")
    return "".join(lines)


def canonical_request(
    method: str,
    raw_path: str,
    query: str,
    headers: Mapping[str, str],
    signed: Sequence[str],
    payload_hash: str,
) -> str:
    """The canonical request (``query`` is already canonical)."""
    return "\n".join(
        [
            method,
            canonical_uri(raw_path),
            query,
            canonical_headers(headers, signed),
            ";".join(signed),
            payload_hash,
        ]
    )


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def _sign(key: bytes, sts: str) -> str:
    return hmac.new(key, sts.encode("utf-8"), hashlib.sha256).hexdigest()


def _same(computed: str, provided: str) -> bool:
    """Constant-time comparison (provided may hold anything the client sent)."""
    return hmac.compare_digest(computed.encode("ascii"), provided.encode("utf-8", "surrogateescape"))


# ---------------------------------------------------------------- parsing


def _parse_iso8601(value: str) -> datetime | None:
    if not _ISO8601_RE.fullmatch(value):
        return None
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _format_iso8601(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _region_ok(requested: str, configured: str) -> bool:
    # MinIO isValidRegion: an empty configured region accepts anything (MinIO
    # does this for ListBuckets / GetBucketLocation); old clients say "US".
    if not configured:
        return True
    if configured == "US":
        configured = "us-east-1"
    if requested == "US":
        requested = "us-east-1"
    return requested == configured


def _parse_credential(value: str, region: str, service: str = "s3") -> _Credential:
    """``<access key>/<yyyymmdd>/<region>/s3/aws4_request`` (MinIO parseCredentialHeader).

    The access key may itself contain '/': everything before the last four
    elements is the key.
    """
    expected_service = service
    elems = value.strip().split("/")
    if len(elems) < 5:
        raise AuthError("AuthorizationQueryParametersError", _MSG_CRED_MALFORMED)
    access_key = "/".join(elems[:-4])
    date, cred_region, service, terminal = elems[-4:]
    if not access_key:
        raise AuthError("InvalidAccessKeyId", "The Access Key Id you provided does not exist in our records.")
    if not _YYYYMMDD_RE.fullmatch(date) or _parse_iso8601(date + "T000000Z") is None:
        raise AuthError(
            "AuthorizationQueryParametersError",
            "Error parsing the X-Amz-Credential parameter; incorrect date format. "
            'This date in the credential must be in the format "yyyyMMdd".',
        )
    if not _region_ok(cred_region, region):
        raise AuthError(
            "AuthorizationHeaderMalformed",
            f"The authorization header is malformed; the region is wrong; expecting '{region}'.",
        )
    if service != expected_service:
        raise AuthError(
            "AuthorizationParametersError",
            "Error parsing the Credential/X-Amz-Credential parameter; incorrect service. "
            f'This endpoint belongs to "{expected_service}".',
        )
    if terminal != "aws4_request":
        raise AuthError(
            "AuthorizationQueryParametersError",
            'Error parsing the X-Amz-Credential parameter; incorrect terminal. This endpoint uses "aws4_request".',
        )
    return _Credential(access_key, date, cred_region, service, terminal)


def _parse_signed_headers(value: str) -> list[str]:
    """``host;range;x-amz-date`` -> sorted, de-duplicated lower-case names; host required."""
    if not value:
        raise AuthError("MissingFields", "Missing fields in request.")
    names = sorted({n.strip().lower() for n in value.split(";")})
    # An empty name ("host;;x") or a list without host: MinIO ErrUnsignedHeaders.
    if "" in names or "host" not in names:
        raise AuthError("AccessDenied.UnsignedHeaders", _MSG_UNSIGNED_HEADERS)
    return names


@dataclass(frozen=True)
class _HeaderAuth:
    credential: _Credential
    signed_headers: list[str]
    signature: str


def _parse_authorization(value: str, region: str, service: str = "s3") -> _HeaderAuth:
    """``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``.

    Strict about content, lenient about spacing (clients differ in the spaces
    after the commas). The three components may come in any order, each once;
    the error for a missing one is MinIO's.
    """
    v = value.strip()
    if not v:
        raise AuthError("InvalidArgument", "Authorization header is invalid -- one and only one ' ' (space) required.")
    if not v.startswith(ALGORITHM):
        raise AuthError(
            "InvalidRequest",
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        )
    rest = v[len(ALGORITHM) :]
    if not rest[:1].isspace():
        raise AuthError("InvalidArgument", "Authorization header is invalid -- one and only one ' ' (space) required.")
    parts = rest.split(",")
    if len(parts) != 3:
        raise AuthError("MissingFields", "Missing fields in request.")
    fields: dict[str, str] = {}
    for part in parts:
        key, sep, val = part.strip().partition("=")
        key, val = key.strip(), val.strip()
        # Only the credential may hold a further '=' (inside the access key;
        # MinIO splits it with SplitN(.., 2), the two others with Split).
        if not sep or not val or key in fields or (key != "Credential" and "=" in val):
            raise AuthError("MissingFields", "Missing fields in request.")
        fields[key] = val
    if "Credential" not in fields:
        raise AuthError("InvalidRequest", "Missing Credential field for this request.")
    if "SignedHeaders" not in fields:
        raise AuthError("InvalidArgument", "Signature header missing SignedHeaders field.")
    if "Signature" not in fields:
        raise AuthError("AccessDenied.MissingSignTag", "Signature header missing Signature field.")
    credential = _parse_credential(fields["Credential"], region, service)
    signed = _parse_signed_headers(fields["SignedHeaders"])
    return _HeaderAuth(credential, signed, fields["Signature"])


def _request_date(headers: Mapping[str, str]) -> tuple[datetime, str]:
    """The request time from X-Amz-Date, else Date (AWS and MinIO both allow Date).

    Returns the time and its ISO 8601 basic form, which is what goes into the
    string to sign. X-Amz-Date must be ISO 8601 basic; Date may also be in the
    HTTP (RFC 1123) format, in which case the signer is expected to have used
    the same instant in ISO 8601 form (AWS SigV4 "Handling dates").
    """
    amz = headers.get("x-amz-date")
    if amz:
        t = _parse_iso8601(amz.strip())
        if t is None:
            raise AuthError(
                "MalformedDate",
                "Invalid date format header, expected to be in ISO8601, RFC1123 or RFC1123Z time format.",
            )
        return t, amz.strip()
    date = headers.get("date")
    if not date:
        raise AuthError(
            "AccessDenied.MissingDateHeader", "AWS authentication requires a valid Date or x-amz-date header"
        )
    date = date.strip()
    t = _parse_iso8601(date)
    if t is None:
        try:
            t = parsedate_to_datetime(date) if date.isascii() and len(date) <= 64 else None
        except (TypeError, ValueError, IndexError, OverflowError):  # a 20-digit zone overflows
            t = None
        if t is None or t.tzinfo is None:
            raise AuthError(
                "MalformedDate",
                "Invalid date format header, expected to be in ISO8601, RFC1123 or RFC1123Z time format.",
            )
    return t, _format_iso8601(t)


def _first(query: Sequence[tuple[str, str]], name: str) -> str | None:
    for k, v in query:
        if k == name:
            return v
    return None


def _check_payload_value(value: str, presigned: bool) -> str:
    """Validate an x-amz-content-sha256 value; hex digests come back lower-cased.

    Anything else than a sha256 hex digest or a known keyword is MinIO's
    XAmzContentSHA256Mismatch (it hex-decodes the value and fails). Signed
    streaming needs the Authorization header (its signature is the seed of the
    chunk chain), so presigned URLs only take UNSIGNED-PAYLOAD, the unsigned
    trailer mode or a digest.
    """
    if is_sha256_hex(value):
        return value.lower()
    allowed = {UNSIGNED_PAYLOAD, STREAMING_UNSIGNED_PAYLOAD_TRAILER}
    if not presigned:
        allowed |= SIGNED_STREAMING_MODES
    if value in allowed:
        return value
    raise AuthError("XAmzContentSHA256Mismatch", _MSG_CONTENT_SHA256)


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        return now.replace(tzinfo=UTC)
    return now


# ---------------------------------------------------------------- verification


def authenticate(
    method: str,
    raw_path: str,
    query: list[tuple[str, str]],
    headers: Mapping[str, str],
    lookup_secret: Callable[[str], str | None],
    now: datetime | None = None,
    region: str = "us-east-1",
    service: str = "s3",
    body_sha256: str | None = None,
) -> AuthResult:
    """Verify a request's SigV4 signature (header or presigned) or recognise it as anonymous.

    ``raw_path``: the path as on the request line (percent-encoded; aiohttp's
    ``request.rel_url.raw_path``, not ``request.raw_path`` which keeps the
    query string: anything from a '?' on is ignored here).
    ``query``: decoded (name, value) pairs in received order.
    ``headers``: case-insensitive; multi-valued headers are read with
    ``getall`` when the mapping has it (multidict).
    ``lookup_secret``: access key -> secret key, or None if unknown.
    ``region``: the server's region; "" accepts any region in the credential
    scope (MinIO does that for ListBuckets and GetBucketLocation).
    ``service``: what the credential scope must name (``s3``; ``sts`` for AssumeRole).
    ``body_sha256``: the hex SHA-256 of a body already read whole (STS: the
    signed payload hash, where no x-amz-content-sha256 header is sent).

    The result's ``session_token`` is the x-amz-security-token the signature
    covers: a signed header (an unsigned one is refused: ``MUST_SIGN``; SigV2
    signs every x-amz-* header) or the X-Amz-Security-Token parameter of a SigV4
    presigned URL (the query is signed), or a V2 presigned URL's
    x-amz-security-token parameter (signed as a header, as AWS and botocore do).

    Raises :class:`AuthError` with MinIO's code on any failure.
    """
    t_now = _utc(now)
    raw_path = raw_path.split("?", 1)[0]
    kind = signature_kind(headers, {k for k, _ in query})
    header_token = headers.get(SECURITY_TOKEN)
    if kind == HEADER:
        authz = headers.get("authorization", "")
        if authz.startswith("AWS "):
            access_key = sigv2.verify_header(method, raw_path, query, headers, lookup_secret, t_now, authz)
            return replace(_v2_result(access_key, headers), session_token=header_token)
        result = _authenticate_header(
            method, raw_path, query, headers, lookup_secret, t_now, region, authz, service, body_sha256
        )
        return replace(result, session_token=header_token)
    if kind == PRESIGNED_V4:
        result = _authenticate_presigned(method, raw_path, query, headers, lookup_secret, t_now, region, service)
        q_token = _first(query, _Q_SECURITY_TOKEN)
        return replace(result, session_token=q_token if q_token is not None else header_token)
    if kind == PRESIGNED_V2:
        # SigV2 presigned URL: MinIO accepts it, and boto3 makes these by default.
        access_key = sigv2.verify_presigned(method, raw_path, query, headers, lookup_secret, t_now)
        # x-amz-* query parameters are signed as headers there (sigv2.amz_query_headers)
        q_token = next((v for k, v in query if k.lower() == SECURITY_TOKEN), None)
        return replace(
            _v2_result(access_key, headers, presigned=True),
            session_token=header_token if header_token is not None else q_token,
        )
    return AuthResult(anonymous=True, content_sha256=_anonymous_payload(headers))


def security_token_sent(headers: Mapping[str, str], query: Iterable[tuple[str, str]]) -> bool:
    """Does the request carry a session token at all (a header, or a query parameter in any case)?

    >>> security_token_sent({}, [("x-amz-security-token", "t")]), security_token_sent({}, [("prefix", "")])
    (True, False)
    """
    return headers.get(SECURITY_TOKEN) is not None or any(k.lower() == SECURITY_TOKEN for k, _ in query)


# How a request claims to be signed (signature_kind); None is anonymous.
HEADER, PRESIGNED_V4, PRESIGNED_V2 = "header", "presigned-v4", "presigned-v2"


def signature_kind(headers: Mapping[str, str], query_names: Collection[str]) -> str | None:
    """Which verification :func:`authenticate` runs for a request, decided from names alone.

    An Authorization header (V2 or V4) wins over query authentication (MinIO);
    any of X-Amz-Algorithm / X-Amz-Credential / X-Amz-Signature is a SigV4
    presigned URL (incomplete ones fail verification); ``AWSAccessKeyId``
    counts only together with ``Signature`` (SigV2 presigned). Anything else is
    anonymous: there is nothing to verify, so nothing about a user is looked up.

    >>> signature_kind({}, {"AWSAccessKeyId"}), signature_kind({}, {"AWSAccessKeyId", "Signature"})
    (None, 'presigned-v2')
    >>> signature_kind({"authorization": "AWS4-HMAC-SHA256 ..."}, {"X-Amz-Signature"})
    'header'
    """
    if headers.get("authorization") is not None:
        return HEADER
    if any(n in query_names for n in (_Q_ALGORITHM, _Q_CREDENTIAL, _Q_SIGNATURE)):
        return PRESIGNED_V4
    if "AWSAccessKeyId" in query_names and "Signature" in query_names:
        return PRESIGNED_V2
    return None


_V4_CREDENTIAL = re.compile(r"Credential=([^,\s]+)")


def claimed_access_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The access key a signed request claims (to look its secret up before verifying), else None.

    None for anonymous requests: an ``AWSAccessKeyId`` without a ``Signature``
    is not a claim, so an unsigned request never makes the gateway look a user
    up (which would tell existing names from unknown ones).

    >>> claimed_access_key({"authorization": "AWS4-HMAC-SHA256 Credential=alice/20240101/us-east-1/s3/"
    ...                     "aws4_request, SignedHeaders=host, Signature=00"}, {})
    'alice'
    >>> claimed_access_key({}, {"X-Amz-Credential": "bob/20240101/us-east-1/s3/aws4_request"})
    'bob'
    >>> claimed_access_key({"authorization": "AWS carol:c2ln"}, {})
    'carol'
    >>> claimed_access_key({}, {"AWSAccessKeyId": "dave", "Signature": "x"})
    'dave'
    >>> claimed_access_key({}, {"AWSAccessKeyId": "dave"}) is None
    True
    """
    kind = signature_kind(headers, query)
    if kind == HEADER:
        auth = headers.get("authorization", "")
        if auth.startswith("AWS4-"):
            m = _V4_CREDENTIAL.search(auth)
            return m.group(1).rsplit("/", 4)[0] if m else None
        if auth.startswith("AWS "):
            return auth[4:].rsplit(":", 1)[0].strip() or None
        return None
    if kind == PRESIGNED_V4:
        cred = query.get(_Q_CREDENTIAL)
        return cred.rsplit("/", 4)[0] if cred else None
    if kind == PRESIGNED_V2:
        return query.get("AWSAccessKeyId") or None
    return None


def _v2_result(access_key: str, headers: Mapping[str, str], presigned: bool = False) -> AuthResult:
    """V2 signs no payload: a sent x-amz-content-sha256 digest is still verified, streaming is refused."""
    sent = headers.get("x-amz-content-sha256")
    payload = UNSIGNED_PAYLOAD if sent is None else _check_payload_value(sent, presigned=True)
    if payload in SIGNED_STREAMING_MODES:
        raise AuthError("InvalidRequest", "Signed aws-chunked payloads need SigV4 authentication.")
    return AuthResult(anonymous=False, access_key=access_key, content_sha256=payload, presigned=presigned)


def _anonymous_payload(headers: Mapping[str, str]) -> str:
    # An anonymous body can still be an (unsigned) aws-chunked stream, or come
    # with a digest to verify. Signed streaming without an Authorization header
    # is MinIO's ErrAuthHeaderEmpty (it parses the absent header).
    sent = headers.get("x-amz-content-sha256")
    if sent is None:
        return UNSIGNED_PAYLOAD
    if sent in SIGNED_STREAMING_MODES:
        raise AuthError("InvalidArgument", "Authorization header is invalid -- one and only one ' ' (space) required.")
    return _check_payload_value(sent, presigned=True)


def _authenticate_header(
    method: str,
    raw_path: str,
    query: list[tuple[str, str]],
    headers: Mapping[str, str],
    lookup_secret: Callable[[str], str | None],
    now: datetime,
    region: str,
    authz: str,
    service: str = "s3",
    body_sha256: str | None = None,
) -> AuthResult:
    parsed = _parse_authorization(authz, region, service)
    cred = parsed.credential
    t, amz_date = _request_date(headers)
    if abs(now - t) > MAX_CLOCK_SKEW:
        raise AuthError(
            "RequestTimeTooSkewed", "The difference between the request time and the server's time is too large."
        )
    # AWS: "The x-amz-content-sha256 header is required for all AWS Signature
    # Version 4 requests" (sig-v4-header-based-auth), else 400 InvalidRequest.
    # MinIO signs its absence as the empty-body digest and then leaves the body
    # unverified; AWS wins: nothing is stored unverified. Other services (STS)
    # sign the body's digest without sending the header: the caller read the
    # (small) body and gives its digest (``body_sha256``), which is what is signed.
    sent_payload = headers.get("x-amz-content-sha256")
    if body_sha256 is not None:
        if sent_payload is not None and sent_payload != body_sha256:
            raise AuthError(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            )
        sent_payload = body_sha256
    if sent_payload is None:
        raise AuthError("InvalidRequest", _MSG_MISSING_CONTENT_SHA256)
    secret = known_secret(lookup_secret, cred.access_key)
    if unsigned_headers(headers, parsed.signed_headers):
        raise AuthError("AccessDenied.UnsignedHeaders", _MSG_UNSIGNED_HEADERS)
    canonical = canonical_request(
        method, raw_path, canonical_query(query), headers, parsed.signed_headers, sent_payload
    )
    return _check_signature(secret, cred, amz_date, canonical, parsed.signature, sent_payload, presigned=False)


def _check_signature(
    secret: str, cred: _Credential, amz_date: str, canonical: str, provided: str, payload_hash: str, presigned: bool
) -> AuthResult:
    """The end both V4 forms share: sign ``canonical`` with the key of ``cred``'s scope, compare
    with the ``provided`` signature, check the payload hash; the request's AuthResult."""
    key = derive_signing_key(secret, cred.date, cred.region, cred.service)
    signature = _sign(key, string_to_sign(amz_date, cred.scope, canonical))
    if not _same(signature, provided):
        raise AuthError("SignatureDoesNotMatch", _MSG_SIGNATURE)
    content = _check_payload_value(payload_hash, presigned=presigned)
    return AuthResult(
        anonymous=False,
        access_key=cred.access_key,
        region=cred.region,
        amz_date=amz_date,
        scope=cred.scope,
        signature=signature,
        signing_key=key,
        content_sha256=content,
        presigned=presigned,
    )


def _authenticate_presigned(
    method: str,
    raw_path: str,
    query: list[tuple[str, str]],
    headers: Mapping[str, str],
    lookup_secret: Callable[[str], str | None],
    now: datetime,
    region: str,
    service: str = "s3",
) -> AuthResult:
    # Order of checks as MinIO doesPresignedSignatureMatch / parsePreSignV4.
    values = {name: _first(query, name) for name in _PRESIGN_REQUIRED}
    if any(v is None for v in values.values()):
        raise AuthError(
            "AuthorizationQueryParametersError",
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
            "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
        )
    if values[_Q_ALGORITHM] != ALGORITHM:
        raise AuthError("AuthorizationQueryParametersError", 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256".')
    cred = _parse_credential(values[_Q_CREDENTIAL] or "", region, service)
    amz_date = values[_Q_DATE] or ""
    t = _parse_iso8601(amz_date)
    if t is None:
        raise AuthError(
            "AuthorizationQueryParametersError",
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
        )
    expires = _parse_expires(values[_Q_EXPIRES] or "")
    signed = _parse_signed_headers(values[_Q_SIGNED_HEADERS] or "")
    provided = values[_Q_SIGNATURE] or ""
    if not provided:
        raise AuthError("MissingFields", "Missing fields in request.")

    secret = known_secret(lookup_secret, cred.access_key)

    # Headers that change what the request does must be signed (or repeat a
    # signed query parameter), else anyone holding the URL could add them: an
    # x-amz-copy-source turning a PUT into a copy, tags, a lock. MinIO checks
    # only user metadata (checkMetaHeaders); AWS all x-amz-* headers.
    if unsigned_headers(headers, signed, query):
        raise AuthError("AccessDenied.UnsignedHeaders", _MSG_UNSIGNED_HEADERS)

    # A signer slightly ahead of us is fine (MinIO: ErrRequestNotReadyYet past the skew).
    if t > now + MAX_CLOCK_SKEW:
        raise AuthError("AccessDenied", "Request is not valid yet")
    if expires == 0 or now - t > timedelta(seconds=expires):  # a zero lifetime is born expired
        raise AuthError("AccessDenied", "Request has expired")

    # Payload: X-Amz-Content-Sha256 from the query, else the header, else
    # UNSIGNED-PAYLOAD (sigv4-query-string-auth.html; MinIO getContentSha256Cksum).
    sent_payload = _first(query, _Q_CONTENT_SHA256)
    if sent_payload is None:
        sent_payload = headers.get("x-amz-content-sha256")
    payload_hash = sent_payload if sent_payload is not None else UNSIGNED_PAYLOAD

    canonical = canonical_request(
        method, raw_path, canonical_query(query, exclude=(_Q_SIGNATURE,)), headers, signed, payload_hash
    )
    return _check_signature(secret, cred, amz_date, canonical, provided, payload_hash, presigned=True)


def _parse_expires(value: str) -> int:
    """X-Amz-Expires: whole seconds, 0 .. 604800 (MinIO's messages; 0 is simply already expired)."""
    try:
        seconds = parse_int(value)  # Go's strconv.ParseInt: ASCII digits, an optional sign, 64 bits
    except ValueError:
        raise AuthError("AuthorizationQueryParametersError", "X-Amz-Expires should be a number") from None
    if seconds < 0:
        raise AuthError("AuthorizationQueryParametersError", "X-Amz-Expires must be non-negative")
    if seconds > MAX_PRESIGN_EXPIRES:
        raise AuthError(
            "AuthorizationQueryParametersError",
            "X-Amz-Expires must be less than a week (in seconds); that is, "
            "the given X-Amz-Expires must be less than 604800 seconds",
        )
    return seconds


def _header_names(headers: Mapping[str, str]) -> set[str]:
    return {str(k).lower() for k in headers.keys()}

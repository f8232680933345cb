"""Browser form uploads (POST Object): the policy document, its signature, its conditions.

References: AWS "Browser-based uploads using POST" (sigv4-HTTPPOSTConstructPolicy.html,
RESTObjectPOST.html, sigv4-authentication-HTTPPOST.html) and MinIO's implementation
(cmd/postpolicyform.go, cmd/bucket-handlers.go PostPolicyBucketHandler,
cmd/signature-v4.go doesPolicySignatureV4Match, cmd/signature-v2.go
doesPolicySignatureV2Match), whose error codes and messages these are. Where MinIO
is laxer than AWS the rule here is AWS's (each one is named below and listed in
docs/compat.md).

Pure: the API layer reads the multipart form (bounded), hands its fields here as
``lower-case name -> values`` (form field names are case-insensitive, as MinIO
canonicalises them like HTTP headers), and streams the file itself, enforcing the
content-length range the policy returns.

The order of a POST upload, as MinIO's handler does it::

    fields = ...                               # every field before the file part
    access_key = claimed_access_key(fields)    # look the signer up (async, the caller)
    auth = verify_signature(fields, lookup)    # SigV4 or SigV2 over the base64 policy
    ...                                        # authorise s3:PutObject on bucket/key
    policy = parse_policy(policy_field)        # base64 JSON: expiration and conditions
    check_policy(policy, fields, now, v2)      # every condition holds, every field is named
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..common.numbers import parse_int
from .errors import AuthError
from .sigv4 import UNSIGNED_PAYLOAD, AuthResult, _parse_credential, derive_signing_key

__all__ = [
    "Condition",
    "Fields",
    "PostPolicy",
    "canonical_name",
    "check_policy",
    "claimed_access_key",
    "is_anonymous",
    "is_v2",
    "parse_policy",
    "sign_v2",
    "sign_v4",
    "verify_signature",
]

Fields = Mapping[str, Sequence[str]]

EQ = "eq"
STARTS_WITH = "starts-with"
LENGTH_RANGE = "content-length-range"

# Conditions MinIO knows by name, and whether each may use starts-with
# (cmd/postpolicyform.go startsWithConds; AWS: "bucket" and the x-amz-algorithm /
# credential / date fields are exact matches only).
STARTS_WITH_ALLOWED: dict[str, bool] = {
    "$acl": True,
    "$bucket": False,
    "$cache-control": True,
    "$content-type": True,
    "$content-disposition": True,
    "$content-encoding": True,
    "$expires": True,
    "$key": True,
    "$success_action_redirect": True,
    "$redirect": True,
    "$success_action_status": True,
    "$x-amz-algorithm": False,
    "$x-amz-credential": False,
    "$x-amz-date": False,
    "$tagging": False,
}

# Fields a form may carry without a condition naming them (AWS: "except
# x-amz-signature, file, policy, and field names that have an x-ignore- prefix";
# SigV2 forms also AWSAccessKeyId and signature).
_EXEMPT = frozenset({"x-amz-signature", "file", "policy"})
_EXEMPT_V2 = frozenset({"signature", "awsaccesskeyid"})

MSG_FAILED = "Invalid according to Policy: Policy Condition failed"
MSG_EXPIRED = "Invalid according to Policy: Policy expired"
MSG_NO_POLICY = (
    "Bucket POST must contain a field named 'policy'.  If it is specified, please check the order of the fields."
)
_MSG_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check your key and signing method."
)

_INT64_MAX = 2**63 - 1
# RFC 3339 with optional fractional seconds (Go's time.RFC3339Nano, what MinIO parses)
_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})")
_ATOI = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True)
class Condition:
    op: str  # "eq" or "starts-with"
    key: str  # "$key", "$x-amz-meta-color" (lower-case, with the "$")
    value: str


@dataclass(frozen=True)
class PostPolicy:
    expiration: datetime
    conditions: tuple[Condition, ...] = ()
    # the allowed size of the file, inclusive, when the policy has content-length-range
    length_range: tuple[int, int] | None = field(default=None)


def _first(fields: Fields, name: str) -> str:
    values = fields.get(name)
    return values[0] if values else ""


def canonical_name(name: str) -> str:
    """A field name as MinIO prints it (Go's http.CanonicalHeaderKey).

    >>> canonical_name("x-amz-meta-color"), canonical_name("success_action_status"), canonical_name("a b")
    ('X-Amz-Meta-Color', 'Success_action_status', 'a b')
    """
    if any(c in name for c in ' \t\r\n:"(),/;<=>?@[\\]{}') or not name.isascii():
        return name
    return "-".join(p[:1].upper() + p[1:].lower() for p in name.split("-"))


# ---------------------------------------------------------------- who signed


def is_v2(fields: Fields) -> bool:
    """A SigV2 form carries ``signature`` (and AWSAccessKeyId); SigV4 ``x-amz-signature``."""
    return "signature" in fields


def is_anonymous(fields: Fields) -> bool:
    """No signature and no credential: an anonymous upload, which only a bucket policy may allow."""
    return not any(n in fields for n in ("signature", "awsaccesskeyid", "x-amz-signature", "x-amz-credential"))


def claimed_access_key(fields: Fields) -> str | None:
    """The access key the form claims (to look its secret up before verifying).

    >>> claimed_access_key({"x-amz-credential": ["alice/20240101/us-east-1/s3/aws4_request"]})
    'alice'
    >>> claimed_access_key({"signature": ["c2ln"], "awsaccesskeyid": ["bob"]})
    'bob'
    """
    if is_v2(fields):
        return _first(fields, "awsaccesskeyid") or None
    cred = _first(fields, "x-amz-credential").strip()
    parts = cred.split("/")
    return "/".join(parts[:-4]) or None if len(parts) >= 5 else None


def sign_v4(secret: str, date: str, region: str, policy_b64: str) -> str:
    """The SigV4 form signature: hex HMAC-SHA256 of the base64 policy under the day's signing key."""
    key = derive_signing_key(secret, date, region, "s3")
    return hmac.new(key, policy_b64.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_v2(secret: str, policy_b64: str) -> str:
    """The SigV2 form signature: base64 HMAC-SHA1 of the base64 policy."""
    return base64.b64encode(
        hmac.new(secret.encode("utf-8"), policy_b64.encode("utf-8"), hashlib.sha1).digest()
    ).decode()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "surrogateescape"), b.encode("utf-8", "surrogateescape"))


def verify_signature(fields: Fields, lookup_secret: Callable[[str], str | None], region: str = "") -> AuthResult:
    """Check the form's signature over its ``policy`` field; returns who signed.

    SigV4: ``x-amz-credential`` names the key and the signing day and region;
    ``x-amz-signature`` is the HMAC of the base64 policy. SigV2: ``AWSAccessKeyId``
    and ``signature``. ``region`` "" accepts any region in the credential (as the
    header path does). Raises AuthError with MinIO's code.
    """
    policy = _first(fields, "policy")
    if is_v2(fields):
        access_key = _first(fields, "awsaccesskeyid")
        secret = lookup_secret(access_key) if access_key else None
        if secret is None:
            raise AuthError("InvalidAccessKeyId", "The Access Key Id you provided does not exist in our records.")
        if not _same(sign_v2(secret, policy), _first(fields, "signature")):
            raise AuthError("SignatureDoesNotMatch", _MSG_SIGNATURE)
        return AuthResult(anonymous=False, access_key=access_key, content_sha256=UNSIGNED_PAYLOAD)
    cred = _parse_credential(_first(fields, "x-amz-credential"), region)
    secret = lookup_secret(cred.access_key)
    if secret is None:
        raise AuthError("InvalidAccessKeyId", "The Access Key Id you provided does not exist in our records.")
    if not _same(sign_v4(secret, cred.date, cred.region, policy), _first(fields, "x-amz-signature")):
        raise AuthError("SignatureDoesNotMatch", _MSG_SIGNATURE)
    return AuthResult(
        anonymous=False,
        access_key=cred.access_key,
        region=cred.region,
        scope=cred.scope,
        amz_date=_first(fields, "x-amz-date"),
        content_sha256=UNSIGNED_PAYLOAD,
    )


# ---------------------------------------------------------------- the policy document


def _invalid(reason: str) -> AuthError:
    # MinIO ErrPostPolicyConditionInvalidFormat: the code reads oddly, but it is the one clients see
    return AuthError("PostPolicyInvalidKeyName", f"{MSG_FAILED} '({reason})'")


class _Object(dict):  # type: ignore[type-arg]
    """A JSON object that remembers a repeated name (the top level must not repeat one)."""

    repeated: str | None = None


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    out = _Object()
    seen: set[str] = set()
    for k, v in pairs:
        if k.lower() in seen and out.repeated is None:
            out.repeated = k
        seen.add(k.lower())
        out[k] = v  # later wins, as Go's map decoding does for nested objects
    return out


def _expiration(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _invalid("expiration must be a string")
    m = _RFC3339.fullmatch(value)
    if m is None:
        raise _invalid(f'parsing time "{value}" as RFC 3339 failed')
    year, mon, day, hh, mm, ss, frac, zone = m.groups()
    try:
        micro = int((frac or "0").ljust(6, "0")[:6])
        tz = UTC if zone == "Z" else datetime.strptime(zone.replace(":", ""), "%z").tzinfo
        return datetime(int(year), int(mon), int(day), int(hh), int(mm), int(ss), micro, tzinfo=tz)
    except ValueError as e:
        raise _invalid(f'parsing time "{value}": {e}') from None


def _integer(value: Any) -> int:
    """content-length-range bounds: JSON numbers (truncated, as Go's int64 conversion) or decimal strings."""
    if isinstance(value, bool):
        raise _invalid("Invalid number format")
    if isinstance(value, int):
        n = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _invalid("Invalid number format")
        n = int(value)
    elif isinstance(value, str) and _ATOI.fullmatch(value):
        try:
            n = parse_int(value)  # ASCII digits, bounded: never int()'s 4300-digit crash
        except ValueError:
            raise _invalid(f"content-length-range bound out of range: {value[:40]}") from None
    else:
        raise _invalid("Invalid number format")
    # AWS: the bounds are sizes; MinIO treats a negative or zero bound as "no bound",
    # which would make ["content-length-range", 0, 0] allow anything
    if not 0 <= n <= _INT64_MAX:
        raise _invalid(f"content-length-range bound out of range: {value}")
    return n


def _conditions(raw: Any) -> tuple[list[Condition], tuple[int, int] | None]:
    if raw is None:
        return [], None
    if not isinstance(raw, list):
        raise _invalid("conditions must be a list")
    out: list[Condition] = []
    length: tuple[int, int] | None = None
    for c in raw:
        if isinstance(c, dict):
            # {"acl": "public-read"} is ["eq", "$acl", "public-read"]
            for k, v in c.items():
                if not isinstance(v, str):
                    raise _invalid(f"Unknown type of conditional field value {v!r} found in POST policy form")
                out.append(Condition(EQ, "$" + k.lower(), v))
        elif isinstance(c, list):
            if len(c) != 3:
                raise _invalid(f"Malformed conditional fields {c!r} found in POST policy form")
            op = c[0].lower() if isinstance(c[0], str) else ""
            if op in (EQ, STARTS_WITH):
                if not all(isinstance(v, str) for v in c):
                    raise _invalid(f"Unknown type of conditional field value {c!r} found in POST policy form")
                key = c[1].lower()
                if not key.startswith("$"):
                    raise _invalid(f"{MSG_FAILED}: [{op}, {key}, {c[2]}]")
                out.append(Condition(op, key, c[2]))
            elif op == LENGTH_RANGE:
                lo, hi = _integer(c[1]), _integer(c[2])
                # several ranges must all hold (MinIO keeps the last one)
                length = (lo, hi) if length is None else (max(length[0], lo), min(length[1], hi))
            else:
                raise _invalid(f"Unknown type of conditional field value {c!r} found in POST policy form")
        else:
            raise _invalid(f"Unknown field {c!r} found in POST policy form")
    return out, length


def parse_policy(policy_b64: str) -> PostPolicy:
    """Decode and validate the ``policy`` field: base64 of ``{"expiration": ..., "conditions": [...]}``.

    Base64 that does not decode is MalformedPOSTRequest; a document that is not
    the policy grammar (not JSON, unknown or repeated top-level names, a bad
    expiration, a malformed condition) is MinIO's PostPolicyInvalidKeyName (403).

    >>> doc = '{"expiration": "2030-01-01T00:00:00.000Z", "conditions": [{"bucket": "b"},'
    >>> doc += ' ["starts-with", "$key", "up/"], ["content-length-range", 1, "1024"]]}'
    >>> p = parse_policy(base64.b64encode(doc.encode()).decode())
    >>> p.expiration.year, [(c.op, c.key, c.value) for c in p.conditions], p.length_range
    (2030, [('eq', '$bucket', 'b'), ('starts-with', '$key', 'up/')], (1, 1024))
    """
    try:
        # Go's decoder skips line breaks inside base64 (some clients wrap it)
        raw = base64.b64decode(policy_b64.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError) as e:
        raise AuthError(
            "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data."
        ) from e
    try:
        doc = json.loads(raw, object_pairs_hook=_object)
    except (ValueError, RecursionError) as e:  # not JSON, not UTF-8, or nested past the parser's depth
        raise _invalid(str(e)[:200]) from None
    if not isinstance(doc, dict):
        raise _invalid("the policy must be a JSON object")
    if isinstance(doc, _Object) and doc.repeated is not None:
        raise _invalid(f"input policy has multiple {doc.repeated}, please fix your client code")
    known = {k.lower(): v for k, v in doc.items()}  # Go matches struct fields case-insensitively
    for k in doc:
        if k.lower() not in ("expiration", "conditions"):
            raise _invalid(f'json: unknown field "{k}"')
    expiration = _expiration(known.get("expiration", ""))
    conditions, length = _conditions(known.get("conditions"))
    return PostPolicy(expiration, tuple(conditions), length)


def _denied(reason: str) -> AuthError:
    # MinIO ToAPIErrWithErr: the code's description with the reason in parentheses
    return AuthError("AccessDenied", f"Access Denied. ({reason})")


def _holds(op: str, value: str, wanted: str) -> bool:
    return value == wanted if op == EQ else value.startswith(wanted)


def check_policy(policy: PostPolicy, fields: Fields, now: datetime, *, v2: bool = False) -> None:
    """Every condition holds for the form, and every form field is named by a condition.

    ``fields`` holds what the upload will use: ``bucket`` is the bucket of the
    request and ``key`` has ``${filename}`` substituted. Failures are
    AccessDenied with MinIO's messages. Unlike MinIO, a condition on a field
    it does not know (neither in STARTS_WITH_ALLOWED nor x-amz-*) is checked
    too, as AWS does, instead of only excusing the field.
    """
    if not policy.expiration > now:
        raise _denied(MSG_EXPIRED)
    must_name = {k: list(v) for k, v in fields.items() if k not in _EXEMPT and not k.startswith("x-ignore-")}
    for c in policy.conditions:
        name = c.key[1:]
        values = must_name.get(name, [])
        if len(values) >= 2:
            raise _denied(
                f"{MSG_FAILED}: [{c.op}, {c.key}, {c.value}]. FormValues have multiple values: [{', '.join(values)}]"
            )
        known = STARTS_WITH_ALLOWED.get(c.key)
        if known is not None:
            if (c.op == STARTS_WITH and not known) or not _holds(c.op, _first(fields, name), c.value):
                raise _denied(MSG_FAILED)
        elif not _holds(c.op, _first(fields, name), c.value):
            raise _denied(f"{MSG_FAILED}: [{c.op}, {c.key}, {c.value}]")
        must_name.pop(name, None)
    if v2:
        for k in _EXEMPT_V2:
            must_name.pop(k, None)
    if must_name:
        names = ", ".join(canonical_name(k) for k in sorted(must_name))
        raise _denied(
            "Each form field that you specify in a form must appear in the list of "
            f'policy conditions. "{names}" not specified in the policy.'
        )

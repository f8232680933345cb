"""Known divergences: case id -> {target: reason}, applied as strict xfails.

A difference between a target and MinIO (or a broken expectation on a target)
is either fixed, or listed here with its reason. Each entry marks the case's
tests for that target ``xfail(strict=True)``: ``test_expect`` (the case's own
expectations on that target) and ``test_same`` (its observation equals the
reference MinIO's). A case that starts passing fails the run (XPASS strict), so
a fixed divergence must be removed from this table.

Keys are case ids or patterns where ``*`` matches anything (``objects.size[*``;
brackets are literal); targets are names or patterns (``s3gw*`` covers every
s3gw variant). A reason may be restricted to
one of the two tests with a ``Div(reason, tests=("same",))``.

Never skip a case instead of listing it here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Div:
    reason: str
    tests: tuple[str, ...] = ("expect", "same")


# reasons (s3gw vs MinIO), most important first in docs/compat.md
PAGINATION = "page boundaries differ: MinIO sometimes ends a truncated page early (KeyCount < max-keys) around common prefixes; s3gw fills every page. Both return the same keys in the same order"
OBJECT_AND_PREFIX = (
    "s3gw: lists both 'file' and 'file/child'; MinIO keeps 'file/child' readable but hides it from listings"
)
COPY_HEADERS = "s3gw: CopyObject answers carry the checksum header only when the source had a checksum; MinIO computes and sends a CRC64NVME checksum for every copy"
AUTH_ERROR_CODES = "s3gw: malformed Authorization headers answer MissingFields/InvalidRequest (400); MinIO answers AccessDenied/RequestTimeTooSkewed (403)"
DATE_HEADER = "s3gw: accepts a SigV4 request dated by the Date header alone; MinIO answers MalformedDate"
MULTIPART_LIMITS = "deliberate: s3gw lists multipart uploads with AWS semantics (prefix, delimiter, max-uploads, markers); this MinIO lists uploads only for a prefix that is an exact object name and ignores delimiter and max-uploads"
RANGE_ERROR_BODY = "s3gw: the InvalidRange error omits ActualObjectSize/RangeRequested and uses the table message; MinIO's body names the range and the object size"
LIFECYCLE_ABORT_UPLOADS = "deliberate: s3gw applies AbortIncompleteMultipartUpload, so a rule with only that action is valid; MinIO's parser drops the element and refuses the rule as having no action (docs/data-management.md)"
POLICY_STATUS = (
    "deliberate: GetBucketPolicyStatus IsPublic follows AWS (an Allow for everyone not pinned to "
    "addresses); MinIO answers TRUE only when anonymous callers may list and put to the bucket's own "
    "ARN, and in capitals, which boto3 reads as false"
)
LOCK_ERROR_CODES = "s3gw: object-lock validation errors use other codes (MalformedXML/InvalidArgument/InvalidRequest swapped, 409 for InvalidBucketState) than MinIO (InvalidArgument/InvalidRequest/MalformedXML, 400)"
POST_AWS_RULES = 'deliberate: where MinIO checks a POST policy more laxly than AWS, s3gw follows AWS: ["content-length-range", 0, 0] admits only an empty file (MinIO: no limit)'
SVCACCT_EDIT_KEEPS_POLICY = (
    "deliberate: editing a service account (disable, enable, a new description...) without a "
    "new policy keeps its embedded policy; MinIO's update-service-account drops it, so the "
    "key silently gets all its user's permissions"
)
STS_MAX_DURATION = (
    "deliberate: AssumeRole's DurationSeconds is at most 43200 (12 hours, AWS's AssumeRole maximum); "
    "MinIO accepts up to 365 days"
)
POST_ANONYMOUS = "deliberate: a form without signature or credential is an anonymous upload, AccessDenied until a bucket policy allows it; MinIO answers AuthorizationQueryParametersError (400) for the missing credential"

SSE_DEFAULT_COPY_HEADER = (
    "s3gw: a CopyObject encrypted by the destination bucket's default answers "
    "x-amz-server-side-encryption (as AWS, and as PutObject does on both); MinIO's copy answer omits it"
)
SSE_COPY_HEADERS = (
    "deliberate: CopyObject's and UploadPartCopy's answers name the copy's encryption as AWS documents it "
    "(x-amz-server-side-encryption, or the SSE-C algorithm and the key MD5 sent), as PutObject and "
    "UploadPart do on both; MinIO's copy answers name none"
)
SSEC_COPY_SOURCE_KEY_MISSING = (
    "deliberate: a copy (CopyObject, UploadPartCopy) of an SSE-C object without the copy-source key "
    "answers 400 InvalidRequest "
    '("The object was stored using a form of Server Side Encryption..."), as AWS and as a GET '
    "without the key on both; MinIO answers 403 AccessDenied, as for a wrong key"
)

# case id -> {target: Div}; generated from a run, then kept by hand
DIVERGENCES: dict[str, dict[str, Div]] = {
    "encryption.bucket-default": {"s3gw*": Div(SSE_DEFAULT_COPY_HEADER, tests=("same",))},
    "encryption.tls.sse-c.copy": {"s3gw*": Div(SSE_COPY_HEADERS, tests=("same",))},
    "encryption.tls.sse-c.copy-source-key": {"s3gw*": Div(SSEC_COPY_SOURCE_KEY_MISSING, tests=("same",))},
    "encryption.tls.sse-c.part-copy": {"s3gw*": Div(SSE_COPY_HEADERS, tests=("same",))},
    "listing.v1-pages[max1]": {"s3gw*": Div(PAGINATION, tests=("same",))},
    "listing.v1-pages[max3-url]": {"s3gw*": Div(PAGINATION, tests=("same",))},
    "listing.v1-pages[max4-delim]": {"s3gw*": Div(PAGINATION, tests=("same",))},
    "listing.v2-pages[max1]": {"s3gw*": Div(PAGINATION, tests=("same",))},
    "listing.v2-pages[max3-url]": {"s3gw*": Div(PAGINATION, tests=("same",))},
    "listing.v2-pages[max4-delim]": {"s3gw*": Div(PAGINATION, tests=("same",))},
    "listing.object-and-prefix": {"s3gw*": Div(OBJECT_AND_PREFIX, tests=("same",))},
    "copy.source-raw-leading-slash": {"s3gw*": Div(COPY_HEADERS, tests=("same",))},
    "copy.source-raw-url-encoded": {"s3gw*": Div(COPY_HEADERS, tests=("same",))},
    "tagging.object.copy-replace": {"s3gw*": Div(COPY_HEADERS, tests=("same",))},
    "auth.malformed-header": {"s3gw*": Div(AUTH_ERROR_CODES, tests=("same",))},
    "auth.missing-signed-headers": {"s3gw*": Div(AUTH_ERROR_CODES, tests=("same",))},
    "auth.unknown-algorithm": {"s3gw*": Div(AUTH_ERROR_CODES, tests=("same",))},
    "auth.date-header-instead-of-x-amz-date": {"s3gw*": Div(DATE_HEADER, tests=("same",))},
    "multipart.list-uploads": {"s3gw*": Div(MULTIPART_LIMITS, tests=("same",))},
    "xml.error-invalid-range-body": {"s3gw*": Div(RANGE_ERROR_BODY, tests=("same",))},
    "lock.default-retention-days-and-years": {"s3gw*": Div(LOCK_ERROR_CODES, tests=("same",))},
    "policies.status": {"s3gw*": Div(POLICY_STATUS, tests=("same",))},
    "lock.put-mode-without-date": {"s3gw*": Div(LOCK_ERROR_CODES, tests=("same",))},
    "lock.retention-past-date": {"s3gw*": Div(LOCK_ERROR_CODES, tests=("same",))},
    "lock.suspend-versioning": {"s3gw*": Div(LOCK_ERROR_CODES, tests=("same",))},
    "browser.post.range-zero": {"s3gw*": Div(POST_AWS_RULES)},
    "browser.post.anonymous": {"s3gw*": Div(POST_ANONYMOUS)},
    "identity.svcacct-lifecycle": {"s3gw*": Div(SVCACCT_EDIT_KEEPS_POLICY, tests=("same",))},
    "lifecycle.abort-uploads-only": {"s3gw*": Div(LIFECYCLE_ABORT_UPLOADS, tests=("same",))},
    "identity.sts-errors": {"s3gw*": Div(STS_MAX_DURATION, tests=("same",))},
}


# The authorisation matrix (s3compat/cases/authz_matrix.py): computed from the rules by which
# MinIO decides otherwise than AWS (modelled there, each rule with its reason), so that each
# case that differs is listed, strictly, and no other.
from s3compat.cases.authz_matrix import divergences as _authz_divergences  # noqa: E402

DIVERGENCES.update({cid: {"s3gw*": Div(reason, tests=("same",))} for cid, reason in _authz_divergences().items()})


def match(pattern: str, name: str) -> bool:
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), name) is not None


def lookup(case_id: str, target: str, test: str) -> str | None:
    """The reason ``test`` of ``case_id`` on ``target`` is a known divergence, or None."""
    for pattern, per_target in DIVERGENCES.items():
        if match(pattern, case_id):
            for tpat, div in per_target.items():
                if match(tpat, target) and test in div.tests:
                    return div.reason
    return None


def all_reasons() -> list[tuple[str, str, str, tuple[str, ...]]]:
    return [(p, t, d.reason, d.tests) for p, per in DIVERGENCES.items() for t, d in per.items()]

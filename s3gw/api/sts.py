"""AWS STS ``AssumeRole`` on the S3 port, as MinIO serves it: temporary credentials for a user.

A request is STS's when it is ``POST /`` with no query string and a
``application/x-www-form-urlencoded`` body (MinIO's STS router; an S3 request
never looks like that: form uploads are multipart). Everything else on ``POST /``
goes on to S3. The form: ``Action=AssumeRole&Version=2011-06-15``, optional
``DurationSeconds`` (900 to 43200, default 3600) and ``Policy`` (a session
policy, at most 2048 characters once normalised). The request is signed with
SigV4 for service ``sts`` by a user's (or root's) own keys, never by derived
ones (MinIO: temporary credentials and service accounts make no more), and
carries no session token.

The answer is STS's XML (``AssumeRoleResponse``: AccessKeyId, SecretAccessKey,
SessionToken, Expiration); errors are STS's ``ErrorResponse`` with MinIO's codes
and messages. The credentials act for their user (its policies and groups'),
narrowed by the session policy when one was given (core/iam.py); requests made
with them must carry the session token, signed (``check_session_token``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from aiohttp import web

from ..auth import AuthError, authenticate, claimed_access_key, security_token_sent
from ..core import MetaUnavailable
from ..core import policy as P
from ..core.iam import IamError, MalformedPolicy, SessionPolicyTooLarge, TempCredentials
from .app import IAM, new_request_id, read_small_body
from .observe import REQUEST_ID, S3_INFO

log = logging.getLogger(__name__)

API_VERSION = "2011-06-15"
XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"
MAX_BODY = 64 * 1024  # a form of a few fields and a 2 KiB policy (MinIO allows 10 MiB)
MIN_DURATION, MAX_DURATION, DEFAULT_DURATION = 900, 43200, 3600

# MinIO's STS errors (cmd/sts-errors.go): code, status, default message
ERRORS = {
    "AccessDenied": (403, "Generating temporary credentials not allowed for this request."),
    "MissingParameter": (400, "A required parameter for the specified action is not supplied."),
    "InvalidParameterValue": (400, "An invalid or out-of-range value was supplied for the input parameter."),
    "STSNotInitialized": (503, "STS API not initialized, please try again."),
    "InternalError": (500, "We encountered an internal error generating credentials, please try again."),
}


class STSError(Exception):
    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or ERRORS[code][1])
        self.code, self.message = code, message or ERRORS[code][1]


def is_sts_request(request: web.Request) -> bool:
    """MinIO's STS matcher: POST / with a form-encoded body and no query string."""
    ctype = request.headers.get("Content-Type", "")
    return (
        request.method == "POST"
        and request.path == "/"
        and not request.query_string
        and ctype.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded"
    )


def with_sts(
    s3: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The handler for ``POST /``: STS requests here, the rest to S3."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if is_sts_request(request):
            return await assume_role(request)
        return await s3(request)

    return handle


def _xml(body: str) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body


def error_response(e: STSError, request_id: str) -> web.Response:
    status = ERRORS[e.code][0]
    body = (
        f'<ErrorResponse xmlns="{XMLNS}"><Error><Type></Type><Code>{e.code}</Code>'
        f"<Message>{escape(e.message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return web.Response(
        status=status,
        body=_xml(body).encode(),
        content_type="application/xml",
        headers={"x-amz-request-id": request_id},
    )


async def _read_form(request: web.Request) -> bytes:
    return await read_small_body(
        request,
        MAX_BODY,
        STSError("InvalidParameterValue", "http: request body too large"),
        STSError("InvalidParameterValue", "timed out reading the request body"),
    )


def _duration(value: str | None) -> int:
    """DurationSeconds: 900 to 43200 (AWS's AssumeRole range; MinIO allows up to 365 days)."""
    if value is None or value == "":
        return DEFAULT_DURATION
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise STSError("InvalidParameterValue", "invalid token expiry")
    seconds = int(value)
    if not MIN_DURATION <= seconds <= MAX_DURATION:
        raise STSError("InvalidParameterValue", "invalid token expiry")
    return seconds


async def assume_role(request: web.Request) -> web.Response:
    request_id = request.get(REQUEST_ID) or new_request_id()
    info = request.get(S3_INFO)
    if info is None:
        info = {}
        request[S3_INFO] = info
    info.update(operation="AssumeRole", bucket="", key="")
    try:
        body = await _read_form(request)
        creds = await _assume_role(request, body, info)
    except STSError as e:
        info["error"] = e.code
        return error_response(e, request_id)
    except MetaUnavailable:
        info["error"] = "STSNotInitialized"
        return error_response(STSError("STSNotInitialized"), request_id)
    expiration = datetime.fromtimestamp(creds.expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    xml = (
        f'<AssumeRoleResponse xmlns="{XMLNS}"><AssumeRoleResult>'
        "<AssumedRoleUser><Arn></Arn><AssumedRoleId></AssumedRoleId></AssumedRoleUser>"
        f"<Credentials><AccessKeyId>{creds.access_key}</AccessKeyId>"
        f"<SecretAccessKey>{escape(creds.secret_key)}</SecretAccessKey>"
        f"<SessionToken>{creds.session_token}</SessionToken><Expiration>{expiration}</Expiration>"
        "</Credentials></AssumeRoleResult>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></AssumeRoleResponse>"
    )
    return web.Response(
        body=_xml(xml).encode(), content_type="application/xml", headers={"x-amz-request-id": request_id}
    )


async def _assume_role(request: web.Request, body: bytes, info: dict) -> TempCredentials:
    iam = request.app[IAM]
    # authentication first, its failure reported after the form is known to be STS's (MinIO)
    auth_error: STSError | None = None
    principal = None
    authz = request.headers.get("Authorization", "")
    if not authz.startswith("AWS4-HMAC-SHA256"):
        auth_error = STSError("AccessDenied", "Access Denied.")  # SigV4 only (MinIO isRequestSignatureV4)
    else:
        claimed = claimed_access_key(request.headers, request.query)
        principal = await iam.principal(claimed) if claimed else None

        def lookup(key: str) -> str | None:
            return principal.secret_key if principal is not None and key == principal.access_key else None

        try:
            auth = authenticate(
                request.method,
                request.rel_url.raw_path,
                list(request.query.items()),
                request.headers,
                lookup,
                region="",
                service="sts",
                body_sha256=hashlib.sha256(body).hexdigest(),
            )
            info["access_key"] = auth.access_key
            if principal is None or auth.access_key != principal.access_key:
                raise AuthError("InvalidAccessKeyId", "The Access Key Id you provided does not exist in our records.")
            if not principal.enabled:
                raise AuthError("InvalidAccessKeyId", "Your account is disabled; please contact your administrator.")
            if principal.parent is not None or security_token_sent(request.headers, request.query.items()):
                # derived credentials make no more; a session token has no place here (MinIO)
                raise AuthError("AccessDenied", "Access Denied.")
        except AuthError as e:
            auth_error = STSError("AccessDenied", e.message)
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=32))
    except (UnicodeDecodeError, ValueError) as e:
        raise STSError("InvalidParameterValue", str(e)) from None
    version = form.get("Version", "")
    if version != API_VERSION:
        raise STSError("MissingParameter", f"Invalid STS API version {version}, expecting {API_VERSION}")
    action = form.get("Action", "")
    if action != "AssumeRole":
        raise STSError("InvalidParameterValue", f"Unsupported action {action}")
    if auth_error is not None:
        raise auth_error
    assert principal is not None
    policy = form.get("Policy") or None
    if policy is not None:
        try:
            doc = P.load_json(policy, P.MAX_IDENTITY_POLICY)
        except P.PolicyError as e:
            raise STSError("InvalidParameterValue", str(e)) from None
        if isinstance(doc, dict) and not doc.get("Version"):
            raise STSError("InvalidParameterValue", "Version cannot be empty expecting '2012-10-17'")
        policy = doc
    duration = _duration(form.get("DurationSeconds"))
    try:
        return await iam.assume_role(principal, duration, policy)
    except (MalformedPolicy, SessionPolicyTooLarge) as e:
        raise STSError("InvalidParameterValue", e.message) from None
    except IamError as e:
        raise STSError("AccessDenied", e.message) from None

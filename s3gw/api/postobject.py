"""POST Object: browser form uploads (``mc share upload``, boto3 ``generate_presigned_post``).

The request is ``multipart/form-data`` on a bucket: fields (key, policy,
credentials, metadata, ...) then the ``file`` part, which S3 requires last.
This module reads the fields (bounded: MinIO's 1000 parts, 1 MiB a field, and
2 MiB for all of them), verifies the policy signature and the policy's
conditions (s3gw/auth/postpolicy.py), authorises ``s3:PutObject`` on the key
through ``authorize()`` like any request, then streams the file part into the
same core write path as PutObject — never buffered whole, with the policy's
content-length-range enforced while it streams. Fields after the file part are
not read (MinIO ignores them too).

Semantics and messages: MinIO's PostPolicyBucketHandler (cmd/bucket-handlers.go).
"""

from __future__ import annotations

import asyncio
import mimetypes
import posixpath
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import BadHttpMessage, ContentLengthError, LineTooLong
from multidict import CIMultiDict

from ..auth import postpolicy as pp
from ..core import tagging
from ..core.iam import check_session_token
from ..core.service import PutOptions
from . import xml as X
from .app import FORM_PENDING, SETTINGS, Request, authorize, resolve_principal
from .errors import S3Error
from .headers import STORED_HEADERS, checksum_options, write_headers
from .observe import S3_INFO
from .router import Operation
from .tagging import parse_tagset

MAX_PARTS = 1000  # MinIO's maxParts
MAX_FIELD = 1 << 20  # MinIO's maxFormFieldSize, for each field
MAX_FIELDS = 2 << 20  # all fields together (MinIO: 1000 x 1 MiB); s3gw's bound
READ_CHUNK = 256 * 1024

# Fields that ask for what s3gw does not do: refused (NotImplemented), never ignored.
_UNSUPPORTED_PREFIXES = ("x-amz-server-side-encryption", "x-amz-object-lock-", "x-minio-fanout-list")
_MALFORMED = "The body of your POST request is not well-formed multipart/form-data."


def malformed(reason: str = "") -> S3Error:
    """MinIO's MalformedPOSTRequest, with the reason appended in parentheses as MinIO does."""
    return S3Error("MalformedPOSTRequest", f"{_MALFORMED} ({reason})" if reason else "")


class Form:
    """The fields before the file part, and the file part itself (not read yet)."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}  # lower-case name -> values, in order
        self.file: BodyPartReader | None = None
        self.filename = ""


def _read_timeout(http: web.Request) -> float | None:
    settings = http.app.get(SETTINGS)
    return (settings.read_timeout or None) if settings is not None else None


async def _chunk(part: BodyPartReader, timeout: float | None) -> bytes:
    """The next piece of a part, within ``server.read_timeout``; reader failures become S3 errors."""
    try:
        async with asyncio.timeout(timeout):
            return await part.read_chunk(READ_CHUNK)
    except TimeoutError as e:
        raise S3Error("RequestTimeout") from e
    except ContentLengthError as e:  # the client sent less than its Content-Length
        raise S3Error("IncompleteBody") from e
    except (ValueError, BadHttpMessage, AssertionError) as e:
        raise malformed(str(e)[:200]) from e
    except (ConnectionResetError, OSError) as e:
        raise S3Error("IncompleteBody") from e


def _basename(name: str) -> str:
    """Go's filepath.Base, which MinIO's multipart reader applies to a part's filename (RFC 7578 4.2)."""
    stripped = name.rstrip("/")
    if not stripped:
        return "/" if name else ""
    return stripped.rsplit("/", 1)[-1]


async def read_form(http: web.Request) -> Form:
    """Every field up to the ``file`` part, bounded in count and size."""
    if not http.content_length:  # MinIO: r.ContentLength <= 0 (absent or chunked included)
        raise S3Error("EmptyRequestBody")
    try:
        reader = MultipartReader(http.headers, http.content)
    except (ValueError, AssertionError, KeyError) as e:
        raise malformed(str(e)[:200]) from e
    timeout = _read_timeout(http)
    form = Form()
    total = 0
    for _ in range(MAX_PARTS):
        try:
            async with asyncio.timeout(timeout):
                part = await reader.next()
        except TimeoutError as e:
            raise S3Error("RequestTimeout") from e
        except ContentLengthError as e:
            raise S3Error("IncompleteBody") from e
        except (ValueError, BadHttpMessage, LineTooLong, RuntimeError, AssertionError) as e:
            raise malformed(str(e)[:200]) from e
        if part is None:
            return form
        if not isinstance(part, BodyPartReader):
            raise malformed("nested multipart parts are not accepted")
        name = part.name
        if not name:
            continue
        if name == "file":
            form.file = part
            form.filename = _basename(part.filename or "")
            return form
        value = bytearray()
        while not part.at_eof():
            value += await _chunk(part, timeout)
            if len(value) > MAX_FIELD or total + len(value) > MAX_FIELDS:
                raise malformed("multipart: message too large")
        total += len(value) + len(name)
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError as e:
            raise malformed(f"field {name[:64]!r} is not UTF-8") from e
        form.fields.setdefault(name.lower(), []).append(text)
    raise malformed("multipart: message too large")


class FormFile:
    """The file part as the core's Payload: streamed, with content-length-range enforced as it arrives.

    A file over the range's maximum is refused (EntityTooLarge) as soon as the
    byte past it arrives; one under its minimum at the end (EntityTooSmall).
    Either way the core discards what it wrote and commits nothing.
    """

    def __init__(self, part: BodyPartReader, timeout: float | None, length_range: tuple[int, int] | None) -> None:
        self._part = part
        self._timeout = timeout
        self._range = length_range
        self.size = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while not self._part.at_eof():
            data = await _chunk(self._part, self._timeout)
            if not data:
                continue
            self.size += len(data)
            if self._range is not None and self.size > self._range[1]:
                raise S3Error("EntityTooLarge")
            yield data

    async def trailers(self) -> dict[str, str]:
        if self._range is not None and self.size < self._range[0]:
            raise S3Error("EntityTooSmall")
        return {}


def _go_clean(path: str) -> str:
    """Go's path.Clean for a rooted path (MinIO trims a key's leading slash with it)."""
    out: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if out:
                out.pop()
            continue
        out.append(seg)
    return "/" + "/".join(out)


def object_name(key: str) -> str:
    """MinIO's trimLeadingSlash: a leading "/" is cleaned away (a trailing one kept).

    >>> object_name("/photos//a.jpg"), object_name("plain/key"), object_name("/dir/")
    ('photos/a.jpg', 'plain/key', 'dir/')
    """
    if not key.startswith("/"):
        return key
    cleaned = _go_clean(key)
    if key.endswith("/") and len(key) > 1 and cleaned != "/":
        cleaned += "/"
    return cleaned[1:]


def _redirect(value: str) -> tuple[str, str, str, str, str]:
    """success_action_redirect, split; a URL that cannot be parsed is MalformedPOSTRequest."""
    if any(ord(c) < 0x20 or c == "\x7f" for c in value):
        raise S3Error("MalformedPOSTRequest")
    try:
        parts = urlsplit(value)
        _ = parts.port  # a non-numeric port raises here
    except ValueError as e:
        raise S3Error("MalformedPOSTRequest") from e
    return parts.scheme, parts.netloc, parts.path, parts.query, parts.fragment


def _redirect_location(parts: tuple[str, str, str, str, str], bucket: str, key: str, etag: str) -> str:
    """The redirect with bucket, key and etag added to its query (Go's url.Values: sorted by name)."""
    scheme, netloc, path, query, fragment = parts
    pairs = parse_qsl(query, keep_blank_values=True)
    pairs += [("bucket", bucket), ("key", key), ("etag", f'"{etag}"')]
    pairs.sort(key=lambda kv: kv[0])  # stable: values of one name keep their order
    return urlunsplit((scheme, netloc, path, urlencode(pairs), fragment))


def _location(http: web.Request, bucket: str, key: str, domains: tuple[str, ...]) -> str:
    """The object's URL (MinIO getObjectLocation): path style, or virtual-host style when so addressed."""
    host = http.host
    path = posixpath.normpath("/" + bucket + "/" + key) if key else "/" + bucket
    for domain in domains:
        if host.startswith(f"{bucket}.{domain}"):
            path = posixpath.normpath("/" + key) if key else "/"
            break
    return f"{http.scheme}://{host}{quote(path, safe='/$&+,:;=@-._~')}"


_MIME = mimetypes.MimeTypes()  # Python's built-in table only, never the host's /etc/mime.types


def type_by_extension(key: str) -> str:
    """MinIO's default Content-Type for a form upload without one (mimedb.TypeByExtension of the key).

    >>> type_by_extension("photos/cat.PNG"), type_by_extension("notes.txt"), type_by_extension("dir.d/blob")
    ('image/png', 'text/plain', 'application/octet-stream')
    """
    return _MIME.guess_type(key, strict=True)[0] or "application/octet-stream"


def put_options(fields: dict[str, list[str]], key: str) -> PutOptions:
    """What the upload stores, from the form as PutObject takes it from headers (MinIO extractMetadataFromMime)."""
    for name in fields:
        if name.startswith(_UNSUPPORTED_PREFIXES):
            raise S3Error("NotImplemented")
    joined = {name: ",".join(values) for name, values in fields.items()}
    opts = PutOptions()
    # MinIO stores a form upload without Content-Type under the type of its key's extension
    opts.content_type = joined.get("content-type") or type_by_extension(key)
    for name, value in joined.items():
        if name.startswith("x-amz-meta-"):
            opts.user_meta[name] = value
        elif name in STORED_HEADERS:
            opts.headers[name] = value
    opts.storage_class = joined.get("x-amz-storage-class", "")
    opts.content_md5 = joined.get("content-md5")
    if "x-amz-trailer" in fields:
        raise malformed("Trailing checksums not available for POST operations")
    checksum_options(CIMultiDict((k, v) for k, v in joined.items() if k.startswith("x-amz-checksum-")), opts)
    tags = joined.get("tagging")
    if tags:
        # the tagging field is the Tagging XML document (MinIO tags.ParseObjectXML)
        try:
            doc = X.parse(tags.encode())
        except X.XMLError as e:
            raise S3Error("MalformedPOSTRequest") from e
        if not isinstance(doc.get("Tagging"), dict):
            raise S3Error("MalformedPOSTRequest")
        opts.tags = parse_tagset(doc["Tagging"], tagging.MAX_OBJECT_TAGS)
    return opts


async def authorize_form(rq: Request, fields: dict[str, list[str]], op: Operation, tags: bool) -> None:
    """Verify the form's signature, then authorise the upload like any request.

    Authorisation hook for anonymous uploads: a form with no signature and no
    credential is authorised as an anonymous ``PostObject`` (s3:PutObject on
    ``arn:aws:s3:::bucket/key``) through ``authorize()``, which today refuses
    every anonymous request (AccessDenied); once ``authorize()`` consults bucket
    policies, an anonymous form upload is allowed exactly when the bucket's
    policy allows an anonymous s3:PutObject on the key (AWS's rule), with no
    change here.
    """
    http = rq.http
    if pp.is_anonymous(fields):
        auth, principal = FORM_PENDING, None
    else:
        principal, lookup = await resolve_principal(http, rq.settings, pp.claimed_access_key(fields) or "")
        auth = pp.verify_signature(fields, lookup, region="")
        # the form's token field is covered by the signed policy (every field must be named by a condition)
        token = next((v[0] for k, v in fields.items() if k.lower() == "x-amz-security-token" and v), None)
        check_session_token(principal, token, token is not None)
        info: dict[str, Any] | None = http.get(S3_INFO)
        if info is not None:
            info["access_key"] = auth.access_key
    await authorize(http, op, auth, principal)
    if tags:
        # setting tags is PutObjectTagging's power too (AWS requires both for a tagged upload)
        await authorize(http, Operation("PutObjectTagging", op.bucket, op.key), auth, principal)
    rq.auth = auth


async def post_object(rq: Request) -> web.StreamResponse:
    http = rq.http
    if rq.auth is not FORM_PENDING:
        # a signed POST on a bucket that is not a form upload (nor ?delete): MinIO has no such API
        raise S3Error("BadRequest", f"An unsupported API call for method: POST at '{http.path}'")
    form = await read_form(http)
    fields = form.fields
    if form.file is None:
        raise malformed("The file or text content is missing")
    if "key" not in fields:
        raise malformed("The name of the uploaded key is missing")
    filename = form.filename or fields["key"][0]
    if not filename:
        raise malformed("The file or text content is missing")
    bucket = rq.op.bucket
    fields["bucket"] = [bucket]  # the request's bucket, whatever a field said
    if "${filename}" in fields["key"][0]:
        fields["key"] = [fields["key"][0].replace("${filename}", filename)]
    key = object_name(fields["key"][0])
    redirect_field = "success_action_redirect" if "success_action_redirect" in fields else "redirect"
    redirect = _redirect(fields[redirect_field][0]) if fields.get(redirect_field, [""])[0] else None
    info: dict[str, Any] | None = http.get(S3_INFO)
    if info is not None:
        info["key"] = key

    op = Operation("PostObject", bucket, key)
    await authorize_form(rq, fields, op, bool(fields.get("tagging", [""])[0]))

    policy_b64 = fields.get("policy", [""])[0]
    length_range = None
    if policy_b64:
        policy = pp.parse_policy(policy_b64)
        pp.check_policy(policy, fields, datetime.now(UTC), v2=pp.is_v2(fields))
        length_range = policy.length_range
    elif not rq.auth.anonymous:
        # AWS: a signed form must carry its policy (MinIO would take an empty one as no conditions)
        raise S3Error("InvalidArgument", pp.MSG_NO_POLICY)

    opts = put_options(fields, key)
    payload = FormFile(form.file, _read_timeout(http), length_range)
    rec = await rq.core.put_object(bucket, key, payload, opts)

    headers = write_headers(rec)
    location = _location(http, bucket, key, rq.settings.domains)
    headers["Location"] = location
    if redirect is not None:
        headers["Location"] = _redirect_location(redirect, bucket, key, rec.etag)
        for name in [h for h in headers if h.lower().startswith("x-amz-checksum-")]:
            del headers[name]  # MinIO adds the checksum headers only to non-redirect answers
        return web.Response(status=303, headers=headers)
    status = fields.get("success_action_status", [""])[0]
    if status == "201":
        body = (
            X.HEADER
            + "<PostResponse>"
            + X.el("Bucket", bucket)
            + X.el("Key", key)
            + X.el("ETag", f'"{rec.etag}"')
            + X.el("Location", location)
            + "</PostResponse>"
        ).encode()
        return web.Response(status=201, body=body, content_type="application/xml", headers=headers)
    if status == "200":
        return web.Response(status=200, headers=headers)
    return web.Response(status=204, headers=headers)

"""What browsers use: POST Object form uploads (boto3's generate_presigned_post forms,
SigV4 and SigV2, sent as multipart/form-data) and CORS (preflights and the
Access-Control-* headers of the server-wide allow-list, default any origin)."""

from __future__ import annotations

from typing import Any

from ..core import add, call, raw_obs

BOUNDARY = "compatFormBoundary7MA4YWxkTrZu0gW"
CORS = (
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-allow-credentials",
    "access-control-expose-headers",
    "access-control-max-age",
)
# (Vary is compared on preflights only: MinIO adds a second Vary line, Accept-Encoding, to other answers)
POST_HEADERS = ("etag", "location")


def _body(fields: dict[str, str] | list[tuple[str, str]], file: bytes | None) -> bytes:
    out = bytearray()
    for name, value in fields.items() if isinstance(fields, dict) else fields:
        out += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    if file is not None:
        out += (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="f.txt"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + file
            + b"\r\n"
        )
    return bytes(out + f"--{BOUNDARY}--\r\n".encode())


def _post(c, fields: Any, file: bytes | None = b"form body") -> dict:
    r = c.raw.request(
        "POST",
        f"/{c.bucket}",
        headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
        body=_body(fields, file),
        sign=False,
    )
    return raw_obs(r, headers=POST_HEADERS, body=r.status < 300 or r.status == 303)


def _form(
    c,
    key: str,
    *,
    version: str = "s3v4",
    fields: dict[str, str] | None = None,
    conditions: list[Any] | None = None,
    expires: int = 300,
) -> dict[str, str]:
    s3 = c.s3("boto3", signature_version=version)
    return dict(
        s3.generate_presigned_post(c.bucket, key, Fields=fields, Conditions=conditions, ExpiresIn=expires)["fields"]
    )


def _upload(version: str, **kw: Any):
    def fn(c):
        o = {"post": _post(c, _form(c, "up/k", version=version, **kw))}
        o["get"] = call(lambda: c.admin.get_object(Bucket=c.bucket, Key="up/k"), read=True)
        return o

    return fn


add("browser.post.v4", "PostObject", "http", _upload("s3v4"), {"post.status": 204, "get.body": "form body"})
add("browser.post.v2", "PostObject", "http", _upload("s3"), {"post.status": 204, "get.body": "form body"})
add(
    "browser.post.metadata",
    "PostObject",
    "http",
    _upload(
        "s3v4",
        fields={"Content-Type": "text/plain", "x-amz-meta-owner": "alice"},
        conditions=[{"Content-Type": "text/plain"}, {"x-amz-meta-owner": "alice"}],
    ),
    {"post.status": 204, "get.h.content-type": "text/plain", "get.h.x-amz-meta-owner": "alice"},
)
add(
    "browser.post.status-201",
    "PostObject",
    "http",
    _upload("s3v4", fields={"success_action_status": "201"}, conditions=[{"success_action_status": "201"}]),
    {"post.status": 201},
)
add(
    "browser.post.status-200",
    "PostObject",
    "http",
    _upload("s3v4", fields={"success_action_status": "200"}, conditions=[{"success_action_status": "200"}]),
    {"post.status": 200},
)
add(
    "browser.post.redirect",
    "PostObject",
    "http",
    _upload(
        "s3v4",
        fields={"success_action_redirect": "https://app.example/done?x=1"},
        conditions=[["starts-with", "$success_action_redirect", "https://app.example/"]],
    ),
    {"post.status": 303},
)


def _refused(
    change: dict[str, str],
    *,
    file: bytes | None = b"form body",
    expires: int = 300,
    conditions: list[Any] | None = None,
    drop: str = "",
):
    def fn(c):
        form = {**_form(c, "up/k", conditions=conditions, expires=expires), **change}
        form.pop(drop, None)
        o = {"post": _post(c, form, file)}
        o["head"] = call(lambda: c.admin.head_object(Bucket=c.bucket, Key="up/k"))
        return o

    return fn


REFUSED = {
    "wrong-key": ({"key": "elsewhere.txt"}, {}, "AccessDenied"),
    "extra-field": ({"Content-Disposition": "attachment"}, {}, "AccessDenied"),
    "extra-metadata": ({"x-amz-meta-evil": "1"}, {}, "AccessDenied"),
    "expired": ({}, {"expires": -5}, "AccessDenied"),
    "tampered-signature": ({"x-amz-signature": "0" * 64}, {}, "SignatureDoesNotMatch"),
    "unknown-key": ({"x-amz-credential": "NOSUCHKEY/20250101/us-east-1/s3/aws4_request"}, {}, "InvalidAccessKeyId"),
    "too-large": ({}, {"conditions": [["content-length-range", 1, 4]]}, "EntityTooLarge"),
    "too-small": ({}, {"conditions": [["content-length-range", 100, 200]]}, "EntityTooSmall"),
    "no-file": ({}, {"file": None}, "MalformedPOSTRequest"),
    "no-key": ({}, {"drop": "key"}, "MalformedPOSTRequest"),
}
for label, (change, kw, code) in REFUSED.items():
    add(
        f"browser.post.refused[{label}]",
        "PostObject",
        "http",
        _refused(change, **kw),
        {"post.code": code, "head.status": 404},
    )


# deliberate differences (compat-tests/divergences.py): AWS's rule where MinIO is laxer
add(
    "browser.post.range-zero",
    "PostObject",
    "http",
    lambda c: {"post": _post(c, _form(c, "up/k", conditions=[["content-length-range", 0, 0]]), b"x")},
    {"post.status": 204},
    doc="MinIO reads a zero maximum as no limit; AWS admits only an empty file",
)
add(
    "browser.post.anonymous",
    "PostObject",
    "http",
    lambda c: {"post": _post(c, {"key": "up/k"})},
    {"post.code": "AuthorizationQueryParametersError"},
    doc="an unsigned form",
)


# ---------------------------------------------------------------- CORS


def _cors(method: str, path: str, headers: dict[str, str], sign: bool = False):
    def fn(c):
        c.admin.put_object(Bucket=c.bucket, Key="k", Body=b"cors body")
        p = path.format(bucket=c.bucket)
        names = CORS + (("vary",) if "access-control-request-method" in headers else ())
        return {"r": raw_obs(c.raw.request(method, p, headers=headers, sign=sign), headers=names)}

    return fn


PREFLIGHT = {
    "origin": "https://app.example",
    "access-control-request-method": "PUT",
    "access-control-request-headers": "authorization, x-amz-date, content-type",
}
add(
    "browser.cors.preflight.object",
    "OPTIONS",
    "http",
    _cors("OPTIONS", "/{bucket}/k", PREFLIGHT),
    {"r.status": 204, "r.h.access-control-allow-origin": "https://app.example"},
)
add(
    "browser.cors.preflight.bucket",
    "OPTIONS",
    "http",
    _cors("OPTIONS", "/{bucket}", PREFLIGHT),
    {"r.status": 204, "r.h.access-control-allow-methods": "PUT"},
)
add(
    "browser.cors.preflight.bad-method",
    "OPTIONS",
    "http",
    _cors("OPTIONS", "/{bucket}/k", {**PREFLIGHT, "access-control-request-method": "get"}),
    {"r.status": 204},
)
add("browser.cors.options", "OPTIONS", "http", _cors("OPTIONS", "/{bucket}/k", {}), {"r.status": 200})
add(
    "browser.cors.get-signed",
    "GetObject",
    "http",
    _cors("GET", "/{bucket}/k", {"origin": "https://a.example"}, True),
    {"r.status": 200, "r.h.access-control-allow-origin": "https://a.example"},
)
add(
    "browser.cors.get-anonymous",
    "GetObject",
    "http",
    _cors("GET", "/{bucket}/k", {"origin": "https://a.example"}),
    {"r.status": 403, "r.h.access-control-allow-credentials": "true"},
)
add("browser.cors.no-origin", "GetObject", "http", _cors("GET", "/{bucket}/k", {}, True), {"r.status": 200})

_RULES = {"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]}
add(
    "browser.cors.put-bucket-cors",
    "PutBucketCors",
    "boto3-wr",
    lambda c: {"r": call(lambda: c.admin.put_bucket_cors(Bucket=c.bucket, CORSConfiguration=_RULES))},
    {"r.code": "NotImplemented"},
)
add(
    "browser.cors.delete-bucket-cors",
    "DeleteBucketCors",
    "boto3-wr",
    lambda c: {"r": call(lambda: c.admin.delete_bucket_cors(Bucket=c.bucket))},
    {"r.code": "NotImplemented"},
)

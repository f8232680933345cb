"""Objects: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects; odd keys,
sizes, stored headers and metadata, conditional writes, their error paths."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os

from ..core import add, call, case, raw_obs

GET_H = (
    "etag",
    "content-length",
    "content-type",
    "last-modified",
    "x-amz-version-id",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
    "x-amz-storage-class",
)

KEYS = {
    "plain": "plain.txt",
    "space": "with space.txt",
    "plus": "a+b+c",
    "percent": "100%25 %zz",
    "unicode": "unicode-\u043a\u043b\u044e\u0447-\u9375-\U0001f642",
    "nfd-accent": "cafe\u0301",
    "nested": "a/b/c/deep.txt",
    "trailing-slash": "folder/",
    "double-slash": "double//slash",
    "question": "question?mark=1",
    "hash": "hash#tag",
    "ampersand": "amp&eq=x",
    "quotes": "quote'dq\"",
    "tilde-star": "~tilde*star",
    "brackets": "br[a]{c}<d>",
    "backslash": "back\\slash",
    "semicolon-colon": "semi;colon:at@",
    "dot-segment": "dot/./seg",
    "dotdot-segment": "dotdot/../seg",
    "leading-dot": ".hidden",
    "only-dots": "...",
    "tab": "tab\tkey",
    "caret-pipe": "caret^pipe|",
    "key-1024-bytes": "/".join(["k" * 204] * 5),
    "key-1025-bytes": "/".join(["k" * 204] * 5) + "k",
    "segment-255-bytes": "s" * 255 + "/x",
    "one-segment-1024-bytes": "k" * 1024,
    "segment-256-bytes": "s" * 256 + "/x",
    "unicode-1024-bytes": "/".join(["\u00e9" * 100] * 5) + "/" + "e" * 19,  # 5*200 + 5 + 19 bytes
}

# MinIO refuses these names (the reference's answer; AWS would store them)
KEY_ERRORS = {
    "double-slash": "XMinioInvalidObjectName",
    "dot-segment": "XMinioInvalidResourceName",
    "dotdot-segment": "XMinioInvalidResourceName",
    "key-1025-bytes": "KeyTooLongError",
    "one-segment-1024-bytes": "XMinioInvalidObjectName",
    "segment-256-bytes": "XMinioInvalidObjectName",
}


def _key_roundtrip(key: str):
    def fn(c):
        s3 = c.admin
        o = {"put": call(lambda: s3.put_object(Bucket=c.bucket, Key=key, Body=b"key body"), headers=("etag",))}
        o["head"] = call(lambda: s3.head_object(Bucket=c.bucket, Key=key), headers=("etag", "content-length"))
        o["get"] = call(lambda: s3.get_object(Bucket=c.bucket, Key=key), headers=("etag",), read=True)
        lst = s3.list_objects_v2(Bucket=c.bucket)
        o["listed"] = [x["Key"] == key for x in lst.get("Contents", [])]
        lst = s3.list_objects_v2(Bucket=c.bucket, EncodingType="url")
        o["listed-url"] = [x["Key"] for x in lst.get("Contents", [])]
        o["delete"] = call(lambda: s3.delete_object(Bucket=c.bucket, Key=key), headers=())
        o["after"] = call(lambda: s3.head_object(Bucket=c.bucket, Key=key), headers=())
        return o

    return fn


def _key_raw(key: str):
    def fn(c):
        r = c.raw.request("PUT", f"/{c.bucket}/{key}", body=b"raw")
        g = c.raw.request("GET", f"/{c.bucket}/{key}")
        return {
            "put": raw_obs(r, headers=("etag",)),
            "get": {"status": g.status, "body": g.body if g.status == 200 else g.code},
        }

    return fn


for label, key in KEYS.items():
    add(
        f"objects.key[{label}]",
        "PutObject",
        "boto3-wr",
        _key_roundtrip(key),
        {"put.code": KEY_ERRORS[label]} if label in KEY_ERRORS else {"put.status": 200, "get.body": "key body"},
    )
for label in ("space", "plus", "percent", "unicode", "question", "hash", "dotdot-segment", "double-slash", "tab"):
    add(
        f"objects.key-raw[{label}]",
        "PutObject",
        "http",
        _key_raw(KEYS[label]),
        {"put.status": lambda s: s in (200, 400)},
    )


SIZES = {"0B": 0, "1B": 1, "5B": 5, "64KiB": 64 * 1024, "1MiB+7": 1024 * 1024 + 7, "6MiB": 6 * 1024 * 1024}


def _size(n: int, variant: str):
    def fn(c):
        data = os.urandom(16)[:0] + bytes((i * 31 + 7) % 251 for i in range(n))
        s3 = c.s3(variant)
        o = {"put": call(lambda: s3.put_object(Bucket=c.bucket, Key="obj", Body=data))}
        r = s3.get_object(Bucket=c.bucket, Key="obj")
        body = r["Body"].read()
        o["get"] = {
            "status": r["ResponseMetadata"]["HTTPStatusCode"],
            "len": len(body),
            "md5": hashlib.md5(body).hexdigest() == hashlib.md5(data).hexdigest(),
            "etag": r["ETag"],
            "ContentLength": r["ContentLength"],
        }
        o["head"] = call(lambda: s3.head_object(Bucket=c.bucket, Key="obj"))
        return o

    return fn


for label, n in SIZES.items():
    for variant in ("boto3", "boto3-wr"):
        add(
            f"objects.size[{label}].{variant}",
            "PutObject",
            variant,
            _size(n, variant),
            {
                "put.status": 200,
                "get.md5": True,
                "get.len": n,
                "get.etag": '"' + hashlib.md5(bytes((i * 31 + 7) % 251 for i in range(n))).hexdigest() + '"',
            },
        )


STORED = {
    "content-type": {"ContentType": "text/plain; charset=utf-8"},
    "cache-control": {"CacheControl": "max-age=3600, public"},
    "content-disposition": {"ContentDisposition": 'attachment; filename="x.txt"'},
    "content-encoding": {"ContentEncoding": "gzip"},
    "content-language": {"ContentLanguage": "de-DE"},
    "expires": {"Expires": dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)},
    "user-metadata": {"Metadata": {"color": "blue", "Mixed-Case": "Value", "empty": ""}},
    "user-metadata-utf8-value": {"Metadata": {"name": "=?UTF-8?B?w6k=?="}},
    "storage-class-standard": {"StorageClass": "STANDARD"},
    "storage-class-rrs": {"StorageClass": "REDUCED_REDUNDANCY"},
    "storage-class-glacier": {"StorageClass": "GLACIER"},
    "storage-class-bogus": {"StorageClass": "NOPE"},
    "website-redirect": {"WebsiteRedirectLocation": "/other"},
    "metadata-2KiB": {"Metadata": {"big": "v" * 2000}},
    "metadata-9KiB": {"Metadata": {"big": "v" * 9000}},
    "no-content-type": {},
}


def _stored(kw: dict):
    def fn(c):
        s3 = c.admin
        o = {"put": call(lambda: s3.put_object(Bucket=c.bucket, Key="obj", Body=b"stored", **kw), headers=("etag",))}
        o["head"] = call(
            lambda: s3.head_object(Bucket=c.bucket, Key="obj"),
            "Metadata",
            headers=GET_H + ("x-amz-website-redirect-location",),
        )
        o["get"] = call(lambda: s3.get_object(Bucket=c.bucket, Key="obj"), headers=GET_H)
        return o

    return fn


for label, kw in STORED.items():
    exp = {"put.status": 200, "head.status": 200}
    if label in ("storage-class-bogus", "storage-class-glacier"):
        exp = {"put.code": "InvalidStorageClass"}
    if label == "metadata-9KiB":
        exp = {"put.code": "MetadataTooLarge"}
    add(f"objects.stored[{label}]", "PutObject", "boto3-wr", _stored(kw), exp)


@case("objects.overwrite", "PutObject", "boto3-wr", {"get.body": "second"})
def _(c):
    c.put("k", b"first")
    c.put("k", b"second")
    return {
        "get": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k"), headers=("etag", "content-length"), read=True)
    }


ERRORS = {
    "get-missing-key": (
        "GetObject",
        lambda c: c.admin.get_object(Bucket=c.bucket, Key="nope"),
        {"r.code": "NoSuchKey", "r.status": 404},
    ),
    "get-missing-bucket": (
        "GetObject",
        lambda c: c.admin.get_object(Bucket=c.name("-x"), Key="nope"),
        {"r.code": "NoSuchBucket"},
    ),
    "head-missing-key": ("HeadObject", lambda c: c.admin.head_object(Bucket=c.bucket, Key="nope"), {"r.code": "404"}),
    "head-missing-bucket": (
        "HeadObject",
        lambda c: c.admin.head_object(Bucket=c.name("-x"), Key="nope"),
        {"r.status": 404},
    ),
    "delete-missing-key": (
        "DeleteObject",
        lambda c: c.admin.delete_object(Bucket=c.bucket, Key="nope"),
        {"r.status": 204},
    ),
    "delete-missing-bucket": (
        "DeleteObject",
        lambda c: c.admin.delete_object(Bucket=c.name("-x"), Key="nope"),
        {"r.code": "NoSuchBucket"},
    ),
    "put-missing-bucket": (
        "PutObject",
        lambda c: c.admin.put_object(Bucket=c.name("-x"), Key="k", Body=b"x"),
        {"r.code": "NoSuchBucket"},
    ),
    "get-version-null-unversioned": (
        "GetObject",
        lambda c: (c.put("k", b"x"), c.admin.get_object(Bucket=c.bucket, Key="k", VersionId="null"))[1],
        {"r.status": 200},
    ),
    "get-version-bogus": (
        "GetObject",
        lambda c: (c.put("k", b"x"), c.admin.get_object(Bucket=c.bucket, Key="k", VersionId="bogus-version"))[1],
        {"r.status": lambda s: s >= 400},
    ),
    "get-version-uuid-missing": (
        "GetObject",
        lambda c: (
            c.put("k", b"x"),
            c.admin.get_object(Bucket=c.bucket, Key="k", VersionId="9b2cf535-f27d-4a65-a4f4-ea3c4c1e6e42"),
        )[1],
        {"r.status": 404},
    ),
    "head-version-uuid-missing": (
        "HeadObject",
        lambda c: (
            c.put("k", b"x"),
            c.admin.head_object(Bucket=c.bucket, Key="k", VersionId="9b2cf535-f27d-4a65-a4f4-ea3c4c1e6e42"),
        )[1],
        {"r.status": 404},
    ),
    "delete-version-uuid-missing": (
        "DeleteObject",
        lambda c: (
            c.put("k", b"x"),
            c.admin.delete_object(Bucket=c.bucket, Key="k", VersionId="9b2cf535-f27d-4a65-a4f4-ea3c4c1e6e42"),
        )[1],
        {"r.status": 204},
    ),
    "get-prefix-of-key": (
        "GetObject",
        lambda c: (c.put("dir/k", b"x"), c.admin.get_object(Bucket=c.bucket, Key="dir"))[1],
        {"r.code": "NoSuchKey"},
    ),
    "get-dir-with-slash": (
        "GetObject",
        lambda c: (c.put("dir/k", b"x"), c.admin.get_object(Bucket=c.bucket, Key="dir/"))[1],
        {"r.code": "NoSuchKey"},
    ),
    "put-under-existing-object": (
        "PutObject",
        lambda c: (c.put("file", b"x"), c.admin.put_object(Bucket=c.bucket, Key="file/child", Body=b"y"))[1],
        {"r.status": lambda s: s in (200, 400, 409)},
    ),
    "put-md5-wrong": (
        "PutObject",
        lambda c: c.admin.put_object(
            Bucket=c.bucket, Key="k", Body=b"abc", ContentMD5=base64.b64encode(hashlib.md5(b"abd").digest()).decode()
        ),
        {"r.code": "BadDigest"},
    ),
    "put-md5-invalid": (
        "PutObject",
        lambda c: c.admin.put_object(Bucket=c.bucket, Key="k", Body=b"abc", ContentMD5="not-base64!"),
        {"r.code": "InvalidDigest"},
    ),
    "put-md5-short": (
        "PutObject",
        lambda c: c.admin.put_object(
            Bucket=c.bucket, Key="k", Body=b"abc", ContentMD5=base64.b64encode(b"short").decode()
        ),
        {"r.code": "InvalidDigest"},
    ),
    "put-md5-right": (
        "PutObject",
        lambda c: c.admin.put_object(
            Bucket=c.bucket, Key="k", Body=b"abc", ContentMD5=base64.b64encode(hashlib.md5(b"abc").digest()).decode()
        ),
        {"r.status": 200},
    ),
    "put-if-none-match-new": (
        "PutObject",
        lambda c: c.admin.put_object(Bucket=c.bucket, Key="k", Body=b"x", IfNoneMatch="*"),
        {"r.status": 200},
    ),
    "put-if-none-match-existing": (
        "PutObject",
        lambda c: (c.put("k", b"x"), c.admin.put_object(Bucket=c.bucket, Key="k", Body=b"y", IfNoneMatch="*"))[1],
        {"r.code": "PreconditionFailed", "r.status": 412},
    ),
    "put-if-match-right": (
        "PutObject",
        lambda c: c.admin.put_object(Bucket=c.bucket, Key="k", Body=b"y", IfMatch=c.put("k", b"x")["ETag"]),
        {"r.status": 200},
    ),
    "put-if-match-wrong": (
        "PutObject",
        lambda c: (
            c.put("k", b"x"),
            c.admin.put_object(Bucket=c.bucket, Key="k", Body=b"y", IfMatch='"00000000000000000000000000000000"'),
        )[1],
        {"r.code": "PreconditionFailed"},
    ),
    "put-if-match-missing-key": (
        "PutObject",
        lambda c: c.admin.put_object(Bucket=c.bucket, Key="k", Body=b"y", IfMatch='"00000000000000000000000000000000"'),
        {"r.status": lambda s: s in (404, 412)},
    ),
    "put-if-match-star-existing": (
        "PutObject",
        lambda c: (c.put("k", b"x"), c.admin.put_object(Bucket=c.bucket, Key="k", Body=b"y", IfMatch="*"))[1],
        {"r.status": 200},
    ),
}
for label, (op, f, exp) in ERRORS.items():
    add(
        f"objects.{label}",
        op,
        "boto3-wr",
        (lambda f: lambda c: {"r": call(lambda: f(c), headers=("etag", "x-amz-delete-marker", "content-length"))})(f),
        exp,
    )


OVERRIDES = {
    "content-type": {"ResponseContentType": "text/x-override"},
    "content-disposition": {"ResponseContentDisposition": "inline; filename=o.bin"},
    "cache-control": {"ResponseCacheControl": "no-store"},
    "content-language": {"ResponseContentLanguage": "fr"},
    "content-encoding": {"ResponseContentEncoding": "identity"},
    "expires": {"ResponseExpires": dt.datetime(2031, 1, 1, tzinfo=dt.UTC)},
    "all": {"ResponseContentType": "a/b", "ResponseCacheControl": "no-cache", "ResponseContentLanguage": "en"},
}
for label, kw in OVERRIDES.items():
    add(
        f"objects.get.response-override[{label}]",
        "GetObject",
        "boto3-wr",
        (
            lambda kw: (
                lambda c: (
                    c.put("k", b"override", ContentType="text/plain"),
                    {"get": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k", **kw), headers=GET_H, read=True)},
                )[1]
            )
        )(kw),
        {"get.status": 200},
    )


@case(
    "objects.get.response-override-presigned",
    "GetObject",
    "http",
    {"get.status": 200, "get.h.content-type": "x/presigned"},
)
def _(c):
    c.put("k", b"override")
    url = c.raw.presign("GET", f"/{c.bucket}/k", query=[("response-content-type", "x/presigned")])
    return {"get": raw_obs(c.raw.send_url("GET", url), headers=("content-type",))}


@case("objects.head.no-body", "HeadObject", "http", {"head.status": 200, "head.body": ""})
def _(c):
    c.put("k", b"hello head")
    r = c.raw.request("HEAD", f"/{c.bucket}/k")
    return {
        "head": {
            "status": r.status,
            "body": r.body,
            "h": {k: r.headers.get(k) for k in ("content-length", "etag", "accept-ranges")},
        }
    }


@case("objects.head.missing-no-body", "HeadObject", "http", {"head.status": 404, "head.body": ""})
def _(c):
    r = c.raw.request("HEAD", f"/{c.bucket}/nope")
    return {"head": {"status": r.status, "body": r.body}}


@case("objects.get.error-body", "GetObject", "http", {"get.code": "NoSuchKey"})
def _(c):
    import re

    r = c.raw.request("GET", f"/{c.bucket}/no/such key")
    fields = dict(re.findall(rb"<(Code|Key|BucketName|Resource)>([^<]*)</", r.body))
    return {
        "get": {
            "status": r.status,
            "code": r.code,
            "ctype": r.headers.get("content-type"),
            "fields": {k.decode(): v.decode() for k, v in fields.items()},
        }
    }


# ---- DeleteObjects


def _keys(n):
    return [f"d/{i:04d}" for i in range(n)]


def _del(c, quiet: bool, objects: list[dict]):
    return call(
        lambda: c.admin.delete_objects(Bucket=c.bucket, Delete={"Objects": objects, "Quiet": quiet}),
        "Deleted",
        "Errors",
        no_headers=True,
    )


@case("objects.delete-objects.verbose", "DeleteObjects", "boto3-wr", {"r.status": 200})
def _(c):
    for k in _keys(3):
        c.put(k, b"x")
    r = _del(c, False, [{"Key": k} for k in _keys(3)] + [{"Key": "missing"}])
    r["Deleted"] = sorted(r.get("Deleted", []), key=lambda d: d["Key"])
    return {"r": r, "left": c.admin.list_objects_v2(Bucket=c.bucket).get("KeyCount")}


@case("objects.delete-objects.quiet", "DeleteObjects", "boto3-wr", {"r.status": 200, "left": 0})
def _(c):
    for k in _keys(3):
        c.put(k, b"x")
    return {
        "r": _del(c, True, [{"Key": k} for k in _keys(3)]),
        "left": c.admin.list_objects_v2(Bucket=c.bucket).get("KeyCount"),
    }


@case("objects.delete-objects.boto3-default", "DeleteObjects", "boto3", {"r.status": 200, "left": 0})
def _(c):
    for k in _keys(2):
        c.put(k, b"x")
    r = call(
        lambda: c.s3().delete_objects(Bucket=c.bucket, Delete={"Objects": [{"Key": k} for k in _keys(2)]}),
        "Deleted",
        no_headers=True,
    )
    r["Deleted"] = sorted(r.get("Deleted", []), key=lambda d: d["Key"])
    return {"r": r, "left": c.admin.list_objects_v2(Bucket=c.bucket).get("KeyCount")}


@case("objects.delete-objects.empty-list", "DeleteObjects", "boto3-wr", {"r.code": "MalformedXML"})
def _(c):
    return {"r": _del(c, False, [])}


@case("objects.delete-objects.1001-keys", "DeleteObjects", "boto3-wr", {"r.status": 400})
def _(c):
    return {"r": _del(c, True, [{"Key": f"k{i}"} for i in range(1001)])}


@case("objects.delete-objects.1000-keys", "DeleteObjects", "boto3-wr", {"r.status": 200})
def _(c):
    return {"r": _del(c, True, [{"Key": f"k{i}"} for i in range(1000)])}


@case("objects.delete-objects.missing-bucket", "DeleteObjects", "boto3-wr", {"r.code": "NoSuchBucket"}, bucket=None)
def _(c):
    return {"r": call(lambda: c.admin.delete_objects(Bucket=c.name(), Delete={"Objects": [{"Key": "a"}]}))}


@case("objects.delete-objects.odd-keys", "DeleteObjects", "boto3-wr", {"r.status": 200, "left": 0})
def _(c):
    keys = ["a b", "a&b", "<lt>", "\u00e9", "x/y/"]
    for k in keys:
        c.put(k, b"x")
    r = _del(c, False, [{"Key": k} for k in keys])
    r["Deleted"] = sorted(r.get("Deleted", []), key=lambda d: d["Key"])
    return {"r": r, "left": c.admin.list_objects_v2(Bucket=c.bucket).get("KeyCount")}


@case("objects.delete-objects.no-md5", "DeleteObjects", "http", {"r.status": lambda s: s in (200, 400)})
def _(c):
    body = b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a</Key></Object></Delete>'
    return {"r": raw_obs(c.raw.request("POST", f"/{c.bucket}", query=[("delete", "")], body=body), headers=())}


@case("objects.delete-objects.malformed", "DeleteObjects", "http", {"r.code": "MalformedXML"})
def _(c):
    body = b"<Delete><Object><Key>a</Key></Obj"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    return {
        "r": raw_obs(
            c.raw.request("POST", f"/{c.bucket}", query=[("delete", "")], body=body, headers={"content-md5": md5}),
            headers=(),
        )
    }


# ---- a few writes through the default boto3 (flexible checksums, aws-chunked trailer)


@case("objects.put.boto3-default-metadata", "PutObject", "boto3", {"put.status": 200, "head.Metadata": {"k": "v"}})
def _(c):
    s3 = c.s3()
    return {
        "put": call(
            lambda: s3.put_object(Bucket=c.bucket, Key="m", Body=b"meta", Metadata={"k": "v"}, ContentType="text/csv")
        ),
        "head": call(lambda: s3.head_object(Bucket=c.bucket, Key="m"), "Metadata", headers=GET_H),
    }


@case("objects.put.boto3-default-unicode-key", "PutObject", "boto3", {"put.status": 200, "get.body": "u"})
def _(c):
    s3 = c.s3()
    k = "\u65e5\u672c/\u8a9e \u00e9+%.txt"
    return {
        "put": call(lambda: s3.put_object(Bucket=c.bucket, Key=k, Body=b"u")),
        "get": call(lambda: s3.get_object(Bucket=c.bucket, Key=k), headers=("etag",), read=True),
    }


@case("objects.put.boto3-upload-fileobj-small", "PutObject", "boto3", {"head.status": 200})
def _(c):
    import io

    s3 = c.s3()
    s3.upload_fileobj(io.BytesIO(b"z" * 1000), c.bucket, "f")
    return {"head": call(lambda: s3.head_object(Bucket=c.bucket, Key="f"))}

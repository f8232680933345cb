"""The XML on the wire, element by element (order, namespaces, date formats),
for the main listings and for an error, read with raw HTTP."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ..core import add

DROP = {"RequestId", "HostId"}


def tree(body: bytes):
    """[tag, text-or-children] with namespaces kept as {ns} prefixes."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        return f"<unparsable: {e}>"

    def walk(el):
        kids = [walk(k) for k in el if k.tag.split("}")[-1] not in DROP]
        if kids:
            return [el.tag, kids]
        text = el.text or ""
        tag = el.tag.split("}")[-1]
        if tag in ("LastModified", "CreationDate", "Initiated"):
            text = (
                "<iso8601.ms>"
                if re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", text)
                else f"<date {len(text)} chars>"
            )
        elif tag in ("ContinuationToken", "NextContinuationToken") and text:
            text = "<token>"
        elif tag in ("ID",) and text:
            text = "<owner-id>"
        return [el.tag, text]

    return walk(root)


def _raw(method, path_fn, query=(), setup=None, bucket="plain"):
    def fn(c):
        if setup:
            setup(c)
        r = c.raw.request(method, path_fn(c), query=list(query))
        return {
            "status": r.status,
            "content-type": r.headers.get("content-type"),
            "xml": tree(r.body) if r.body else None,
        }

    return fn


def _fill(c):
    for k in ("a/1", "a/2", "b", "c d"):
        c.put(k, b"xml")


CASES = {
    "list-buckets": ("ListBuckets", lambda c: "/", (), None),
    "list-objects-v2": ("ListObjectsV2", lambda c: f"/{c.bucket}", [("list-type", "2")], _fill),
    "list-objects-v2-delim": (
        "ListObjectsV2",
        lambda c: f"/{c.bucket}",
        [("list-type", "2"), ("delimiter", "/"), ("max-keys", "2")],
        _fill,
    ),
    "list-objects-v2-url": (
        "ListObjectsV2",
        lambda c: f"/{c.bucket}",
        [("list-type", "2"), ("encoding-type", "url"), ("start-after", "a/1")],
        _fill,
    ),
    "list-objects-v2-owner": (
        "ListObjectsV2",
        lambda c: f"/{c.bucket}",
        [("list-type", "2"), ("fetch-owner", "true"), ("prefix", "b")],
        _fill,
    ),
    "list-objects-v1": ("ListObjects", lambda c: f"/{c.bucket}", [("delimiter", "/"), ("marker", "a")], _fill),
    "list-objects-v1-truncated": (
        "ListObjects",
        lambda c: f"/{c.bucket}",
        [("delimiter", "/"), ("max-keys", "1")],
        _fill,
    ),
    "list-object-versions": ("ListObjectVersions", lambda c: f"/{c.bucket}", [("versions", "")], _fill),
    "location": ("GetBucketLocation", lambda c: f"/{c.bucket}", [("location", "")], None),
    "versioning-unset": ("GetBucketVersioning", lambda c: f"/{c.bucket}", [("versioning", "")], None),
    "error-no-such-key": ("GetObject", lambda c: f"/{c.bucket}/missing/key", (), None),
    "error-no-such-bucket": ("ListObjectsV2", lambda c: f"/{c.bucket}-nope", [("list-type", "2")], None),
    "error-invalid-range": ("GetObject", lambda c: f"/{c.bucket}/b", (), _fill),
    "list-multipart-uploads-empty": ("ListMultipartUploads", lambda c: f"/{c.bucket}", [("uploads", "")], None),
}
for label, (op, path, query, setup) in CASES.items():
    add(f"xml.{label}", op, "http", _raw("GET", path, query, setup), {"status": lambda s: s in (200, 404)})


def _range_error(c):
    c.put("b", b"xml")
    r = c.raw.request("GET", f"/{c.bucket}/b", headers={"range": "bytes=10-20"})
    return {"status": r.status, "xml": tree(r.body) if r.body else None}


add("xml.error-invalid-range-body", "GetObject", "http", _range_error, {"status": 416})


def _copy_result(c):
    c.put("s", b"xml")
    r = c.raw.request("PUT", f"/{c.bucket}/d", headers={"x-amz-copy-source": f"/{c.bucket}/s"})
    return {"status": r.status, "xml": tree(r.body)}


add("xml.copy-object-result", "CopyObject", "http", _copy_result, {"status": 200})


def _delete_result(c):
    import base64
    import hashlib

    c.put("a", b"x")
    body = b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a</Key></Object><Object><Key>zz</Key></Object></Delete>'
    r = c.raw.request(
        "POST",
        f"/{c.bucket}",
        query=[("delete", "")],
        body=body,
        headers={"content-md5": base64.b64encode(hashlib.md5(body).digest()).decode()},
    )
    return {"status": r.status, "xml": tree(r.body)}


add("xml.delete-objects-result", "DeleteObjects", "http", _delete_result, {"status": 200})

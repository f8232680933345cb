"""Listing: ListObjects V1 and V2, ListObjectVersions on a plain bucket; prefixes,
delimiters, unicode and odd keys in binary order, pagination, encoding, errors."""

from __future__ import annotations

from ..core import add, call, call_list, case

KEYS = [
    "a/b",
    "a/d/e",
    "a/c",
    "a+b",
    "a b",
    "a%b",
    "a.b",
    "a-b",
    "a_b",
    "b/",
    "b/x",
    "b/y/z",
    "c",
    "dir/",
    "dir/file",
    "\u00e9",
    "z",
    "\u00e4/\u00f6",
    "\u65e5\u672c/\u8a9e",
    "~tilde",
    "A",
    "00",
    "0/1",
    "x//y",
    "sp ace/f",
    "\U0001f642/emoji",
    "amp&/x",
    "lt</gt>",
]
# MinIO refuses empty path segments ("x//y"), and an object "a" hides the keys under
# "a/" from listings (objects.object-and-prefix records that), so neither is here.
KEYS = [k for k in KEYS if k != "x//y"]


def fill(name: str, admin) -> None:
    for k in KEYS:
        admin.put_object(Bucket=name, Key=k, Body=k.encode())


def _bucket(c) -> str:
    return c.shared("listing", lambda name: fill(name, c.admin))


V2 = {
    "all": {},
    "prefix-a": {"Prefix": "a"},
    "prefix-a-slash": {"Prefix": "a/"},
    "delim": {"Delimiter": "/"},
    "prefix-a-slash-delim": {"Prefix": "a/", "Delimiter": "/"},
    "prefix-b-slash-delim": {"Prefix": "b/", "Delimiter": "/"},
    "prefix-b-delim": {"Prefix": "b", "Delimiter": "/"},
    "delim-b": {"Delimiter": "b"},
    "delim-multichar": {"Delimiter": "/f"},
    "delim-max2": {"Delimiter": "/", "MaxKeys": 2},
    "delim-max5": {"Delimiter": "/", "MaxKeys": 5},
    "max0": {"MaxKeys": 0},
    "max1": {"MaxKeys": 1},
    "max3": {"MaxKeys": 3},
    "max1000": {"MaxKeys": 1000},
    "max1001": {"MaxKeys": 1001},
    "start-after-a-b": {"StartAfter": "a/b"},
    "start-after-zzz": {"StartAfter": "zzz"},
    "start-after-empty-prefix": {"StartAfter": "b", "Prefix": "a"},
    "start-after-delim": {"StartAfter": "a/", "Delimiter": "/"},
    "prefix-missing": {"Prefix": "nope/"},
    "prefix-unicode": {"Prefix": "\u00e4"},
    "prefix-unicode-delim": {"Prefix": "\u65e5\u672c/", "Delimiter": "/"},
    "prefix-emoji": {"Prefix": "\U0001f642"},
    "prefix-full-key": {"Prefix": "a/d/e"},
    "prefix-space": {"Prefix": "sp ace/"},
    "encoding-url": {"EncodingType": "url"},
    "encoding-url-delim": {"EncodingType": "url", "Delimiter": "/"},
    "encoding-url-prefix": {"EncodingType": "url", "Prefix": "a", "Delimiter": "/"},
    "fetch-owner": {"FetchOwner": True, "Prefix": "a/"},
    "delim-prefix-is-delim": {"Prefix": "/", "Delimiter": "/"},
}
V2_ERRORS = {
    "max-negative": ({"MaxKeys": -1}, "InvalidArgument"),
    "encoding-bogus": ({"EncodingType": "bogus"}, "InvalidArgument"),
    "token-bogus": ({"ContinuationToken": "bogus-token"}, "InvalidArgument"),
}


def _v2(kw):
    def fn(c):
        b = _bucket(c)
        return {"list": call_list(lambda: c.admin.list_objects_v2(Bucket=b, **kw), owner=kw.get("FetchOwner", False))}

    return fn


for label, kw in V2.items():
    add(f"listing.v2[{label}]", "ListObjectsV2", "boto3-wr", _v2(kw), {"list.status": 200}, bucket=None)
for label, (kw, code) in V2_ERRORS.items():
    add(f"listing.v2[{label}]", "ListObjectsV2", "boto3-wr", _v2(kw), {"list.code": code}, bucket=None)

V1 = {
    "all": {},
    "prefix-a": {"Prefix": "a"},
    "delim": {"Delimiter": "/"},
    "prefix-a-slash-delim": {"Prefix": "a/", "Delimiter": "/"},
    "marker-a-b": {"Marker": "a/b"},
    "marker-delim": {"Marker": "a", "Delimiter": "/"},
    "max2-delim": {"MaxKeys": 2, "Delimiter": "/"},
    "max3": {"MaxKeys": 3},
    "max0": {"MaxKeys": 0},
    "encoding-url": {"EncodingType": "url", "Delimiter": "/"},
    "prefix-unicode": {"Prefix": "\u00e4"},
    "marker-past-end": {"Marker": "\U0010ffff"},
}


def _v1(kw):
    def fn(c):
        b = _bucket(c)
        return {"list": call_list(lambda: c.admin.list_objects(Bucket=b, **kw), owner=True)}

    return fn


for label, kw in V1.items():
    add(f"listing.v1[{label}]", "ListObjects", "boto3-wr", _v1(kw), {"list.status": 200}, bucket=None)


def _walk_v2(kw):
    def fn(c):
        b = _bucket(c)
        pages, token = [], None
        for _ in range(60):
            args = dict(kw, **({"ContinuationToken": token} if token else {}))
            r = call_list(lambda: c.admin.list_objects_v2(Bucket=b, **args))
            pages.append(
                {k: r.get(k) for k in ("status", "code", "KeyCount", "IsTruncated", "CommonPrefixes")}
                | {"keys": [x["Key"] for x in r.get("Contents", [])]}
            )
            token = r.get("NextContinuationToken") and c.admin.list_objects_v2(Bucket=b, **args).get(
                "NextContinuationToken"
            )
            if not r.get("IsTruncated"):
                break
        return {"pages": pages, "all": [k for p in pages for k in p["keys"]]}

    return fn


def _walk_v1(kw):
    def fn(c):
        b = _bucket(c)
        pages, marker = [], None
        for _ in range(60):
            args = dict(kw, **({"Marker": marker} if marker else {}))
            r = call_list(lambda: c.admin.list_objects(Bucket=b, **args))
            keys = [x["Key"] for x in r.get("Contents", [])]
            pages.append(
                {k: r.get(k) for k in ("status", "code", "IsTruncated", "NextMarker", "CommonPrefixes")}
                | {"keys": keys}
            )
            if not r.get("IsTruncated"):
                break
            marker = r.get("NextMarker") or (keys[-1] if keys else None)
        return {"pages": pages}

    return fn


def _sorted_keys():
    return sorted(KEYS, key=lambda k: k.encode())


WALKS = {
    "max1": {"MaxKeys": 1},
    "max4": {"MaxKeys": 4},
    "max4-delim": {"MaxKeys": 4, "Delimiter": "/"},
    "max2-prefix-delim": {"MaxKeys": 2, "Prefix": "a", "Delimiter": "/"},
    "max3-url": {"MaxKeys": 3, "EncodingType": "url"},
}
for label, kw in WALKS.items():
    exp = {"all": _sorted_keys()} if label in ("max1", "max4") else {"pages": lambda p: len(p) >= 1}
    add(f"listing.v2-pages[{label}]", "ListObjectsV2", "boto3-wr", _walk_v2(kw), exp, bucket=None)
    add(
        f"listing.v1-pages[{label}]",
        "ListObjects",
        "boto3-wr",
        _walk_v1(kw),
        {"pages": lambda p: len(p) >= 1},
        bucket=None,
    )


@case("listing.v2.binary-order", "ListObjectsV2", "boto3-wr", {"order": _sorted_keys()}, bucket=None)
def _(c):
    b = _bucket(c)
    return {"order": [x["Key"] for x in c.admin.list_objects_v2(Bucket=b).get("Contents", [])]}


@case("listing.v2.paginator", "ListObjectsV2", "boto3", {"keys": _sorted_keys()}, bucket=None)
def _(c):
    b = _bucket(c)
    keys = []
    for page in c.s3().get_paginator("list_objects_v2").paginate(Bucket=b, PaginationConfig={"PageSize": 7}):
        keys += [x["Key"] for x in page.get("Contents", [])]
    return {"keys": keys}


@case("listing.v2.empty-bucket", "ListObjectsV2", "boto3-wr", {"list.KeyCount": 0, "list.IsTruncated": False})
def _(c):
    return {"list": call_list(lambda: c.admin.list_objects_v2(Bucket=c.bucket))}


@case("listing.v1.empty-bucket", "ListObjects", "boto3-wr", {"list.IsTruncated": False})
def _(c):
    return {"list": call_list(lambda: c.admin.list_objects(Bucket=c.bucket))}


VERSIONS = {
    "all": {},
    "prefix": {"Prefix": "a/"},
    "delim": {"Delimiter": "/"},
    "max2": {"MaxKeys": 2},
    "key-marker": {"KeyMarker": "b/"},
}
for label, kw in VERSIONS.items():
    add(
        f"listing.versions-unversioned[{label}]",
        "ListObjectVersions",
        "boto3-wr",
        (lambda kw: lambda c: {"list": call_list(lambda: c.admin.list_object_versions(Bucket=_bucket(c), **kw))})(kw),
        {"list.status": 200},
        bucket=None,
    )


@case("listing.v2.after-delete", "ListObjectsV2", "boto3-wr", {"keys": ["k1", "k3"]})
def _(c):
    for k in ("k1", "k2", "k3"):
        c.put(k, b"x")
    c.admin.delete_object(Bucket=c.bucket, Key="k2")
    return {"keys": [x["Key"] for x in c.admin.list_objects_v2(Bucket=c.bucket).get("Contents", [])]}


@case("listing.v2.many-prefixes-truncated", "ListObjectsV2", "boto3-wr", {"p1.IsTruncated": True})
def _(c):
    for i in range(12):
        c.put(f"p{i:02d}/x", b"")
    p1 = call_list(lambda: c.admin.list_objects_v2(Bucket=c.bucket, Delimiter="/", MaxKeys=5))
    tok = c.admin.list_objects_v2(Bucket=c.bucket, Delimiter="/", MaxKeys=5).get("NextContinuationToken")
    p2 = call_list(lambda: c.admin.list_objects_v2(Bucket=c.bucket, Delimiter="/", MaxKeys=5, ContinuationToken=tok))
    return {"p1": p1, "p2": p2}


@case("listing.v2.folder-marker-objects", "ListObjectsV2", "boto3-wr", {"list.status": 200})
def _(c):
    for k in ("f/", "f/a", "f/sub/", "f/sub/b"):
        c.put(k, b"")
    return {"list": call_list(lambda: c.admin.list_objects_v2(Bucket=c.bucket, Prefix="f/", Delimiter="/"))}


@case("listing.object-and-prefix", "ListObjectsV2", "boto3-wr", {"put-child.status": 200})
def _(c):
    """An object "file" and an object "file/child": MinIO accepts the second PUT."""
    c.put("file", b"x")
    o = {"put-child": call(lambda: c.admin.put_object(Bucket=c.bucket, Key="file/child", Body=b"y"), no_headers=True)}
    o["get-child"] = call(lambda: c.admin.get_object(Bucket=c.bucket, Key="file/child"), no_headers=True, read=True)
    o["list"] = call_list(lambda: c.admin.list_objects_v2(Bucket=c.bucket))
    o["list-delim"] = call_list(lambda: c.admin.list_objects_v2(Bucket=c.bucket, Delimiter="/"))
    return o

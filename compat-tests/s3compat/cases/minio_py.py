"""minio-py: the MinIO SDK's everyday calls and their errors."""

from __future__ import annotations

import io

from ..core import case, minio_err

MiB = 1 << 20


def _stat(st):
    return {
        "etag": st.etag,
        "size": st.size,
        "content_type": st.content_type,
        "version_id": st.version_id,
        "metadata": sorted(k.lower() for k in (st.metadata or {}) if k.lower().startswith("x-amz-meta-")),
    }


def _put(c, key, data, **kw):
    return c.minio.put_object(c.bucket, key, io.BytesIO(data), len(data), **kw)


@case(
    "minio-py.make-bucket",
    "MakeBucket",
    "minio-py",
    {"make.ok": None, "exists.ok": True, "again.code": "BucketAlreadyOwnedByYou"},
    bucket=None,
)
def _(c):
    name = c.name()
    c.track(name)
    return {
        "make": minio_err(lambda: c.minio.make_bucket(name)),
        "exists": minio_err(lambda: c.minio.bucket_exists(name)),
        "again": minio_err(lambda: c.minio.make_bucket(name)),
    }


@case("minio-py.bucket-exists-missing", "HeadBucket", "minio-py", {"r.ok": False}, bucket=None)
def _(c):
    return {"r": minio_err(lambda: c.minio.bucket_exists(c.name()))}


@case("minio-py.list-buckets", "ListBuckets", "minio-py", {"r.ok": True})
def _(c):
    return {"r": minio_err(lambda: c.bucket in [b.name for b in c.minio.list_buckets()])}


@case("minio-py.remove-bucket", "RemoveBucket", "minio-py", {"r.ok": None, "missing.code": "NoSuchBucket"})
def _(c):
    return {
        "r": minio_err(lambda: c.minio.remove_bucket(c.bucket)),
        "missing": minio_err(lambda: c.minio.remove_bucket(c.bucket)),
    }


@case("minio-py.remove-bucket-not-empty", "RemoveBucket", "minio-py", {"r.code": "BucketNotEmpty"})
def _(c):
    c.put("k", b"x")
    return {"r": minio_err(lambda: c.minio.remove_bucket(c.bucket))}


@case("minio-py.put-stat-get", "PutObject", "minio-py", {"get.ok": "minio body", "stat.ok.size": 10})
def _(c):
    return {
        "put": minio_err(
            lambda: _put(c, "k", b"minio body", content_type="text/plain", metadata={"x-amz-meta-a": "1"}).etag
        ),
        "stat": minio_err(lambda: _stat(c.minio.stat_object(c.bucket, "k"))),
        "get": minio_err(lambda: c.minio.get_object(c.bucket, "k").read()),
    }


@case(
    "minio-py.put-multipart",
    "PutObject",
    "minio-py",
    {"stat.ok.size": 11 * MiB, "stat.ok.etag": lambda e: e.endswith("-3")},
)
def _(c):
    data = b"m" * (11 * MiB)
    return {
        "put": minio_err(
            lambda: c.minio.put_object(c.bucket, "big", io.BytesIO(data), len(data), part_size=5 * MiB).etag
        ),
        "stat": minio_err(lambda: _stat(c.minio.stat_object(c.bucket, "big"))),
    }


@case("minio-py.put-stream-unknown-length", "PutObject", "minio-py", {"stat.ok.size": 1000})
def _(c):
    return {
        "put": minio_err(
            lambda: c.minio.put_object(c.bucket, "s", io.BytesIO(b"s" * 1000), -1, part_size=5 * MiB).etag
        ),
        "stat": minio_err(lambda: _stat(c.minio.stat_object(c.bucket, "s"))),
    }


@case("minio-py.fput-fget", "PutObject", "minio-py", {"back": "file body"})
def _(c):
    src = c.file("up.txt", b"file body")
    dst = c.tmp / "down.txt"
    o = {
        "fput": minio_err(lambda: c.minio.fput_object(c.bucket, "f", str(src)).etag),
        "fget": minio_err(lambda: _stat(c.minio.fget_object(c.bucket, "f", str(dst)))),
    }
    o["back"] = dst.read_bytes() if dst.exists() else None
    return o


@case("minio-py.stat-missing", "StatObject", "minio-py", {"r.code": "NoSuchKey"})
def _(c):
    return {"r": minio_err(lambda: c.minio.stat_object(c.bucket, "nope"))}


@case("minio-py.get-missing-bucket", "GetObject", "minio-py", {"r.code": "NoSuchBucket"}, bucket=None)
def _(c):
    return {"r": minio_err(lambda: c.minio.get_object(c.name(), "nope").read())}


def _fill(c):
    for k in ("a/1", "a/2", "a/b/3", "b", "\u00e9/x", "sp ace"):
        c.put(k, b"x")


LISTS = {
    "flat": {},
    "recursive": {"recursive": True},
    "prefix": {"prefix": "a/"},
    "prefix-recursive": {"prefix": "a/", "recursive": True},
    "start-after": {"recursive": True, "start_after": "a/2"},
    "v1": {"recursive": True, "use_api_v1": True},
    "versions": {"recursive": True, "include_version": True},
    "url-encoding-off": {"recursive": True, "use_url_encoding_type": False},
}
for label, kw in LISTS.items():

    def fn(c, kw=kw):
        _fill(c)
        return {
            "r": minio_err(
                lambda: [
                    (o.object_name, o.is_dir, o.size, o.etag, o.version_id, o.is_latest)
                    for o in c.minio.list_objects(c.bucket, **kw)
                ]
            )
        }

    from ..core import add

    add(
        f"minio-py.list-objects[{label}]",
        "ListObjects",
        "minio-py",
        fn,
        {"r.ok": lambda v: isinstance(v, list) and len(v) > 0},
    )


@case("minio-py.remove-object", "RemoveObject", "minio-py", {"r.ok": None, "missing.ok": None})
def _(c):
    c.put("k", b"x")
    return {
        "r": minio_err(lambda: c.minio.remove_object(c.bucket, "k")),
        "missing": minio_err(lambda: c.minio.remove_object(c.bucket, "k")),
    }


@case("minio-py.remove-objects", "DeleteObjects", "minio-py", {"errors.ok": [], "left.ok": []})
def _(c):
    from minio.deleteobjects import DeleteObject

    _fill(c)
    keys = ["a/1", "a/2", "a/b/3", "b", "\u00e9/x", "sp ace", "missing"]
    return {
        "errors": minio_err(
            lambda: [(e.code, e.name) for e in c.minio.remove_objects(c.bucket, [DeleteObject(k) for k in keys])]
        ),
        "left": minio_err(lambda: [o.object_name for o in c.minio.list_objects(c.bucket, recursive=True)]),
    }


@case(
    "minio-py.copy-object",
    "CopyObject",
    "minio-py",
    {"copy.ok": lambda v: bool(v), "stat.ok.metadata": ["x-amz-meta-origin"]},
)
def _(c):
    from minio.commonconfig import CopySource

    c.put("src", b"copy", Metadata={"origin": "1"})
    return {
        "copy": minio_err(lambda: c.minio.copy_object(c.bucket, "dst", CopySource(c.bucket, "src")).etag),
        "stat": minio_err(lambda: _stat(c.minio.stat_object(c.bucket, "dst"))),
    }


@case("minio-py.copy-object-replace", "CopyObject", "minio-py", {"stat.ok.metadata": ["x-amz-meta-new"]})
def _(c):
    from minio.commonconfig import REPLACE, CopySource

    c.put("src", b"copy", Metadata={"origin": "1"})
    return {
        "copy": minio_err(
            lambda: (
                c.minio.copy_object(
                    c.bucket,
                    "dst",
                    CopySource(c.bucket, "src"),
                    metadata={"x-amz-meta-new": "2"},
                    metadata_directive=REPLACE,
                ).etag
            )
        ),
        "stat": minio_err(lambda: _stat(c.minio.stat_object(c.bucket, "dst"))),
    }


@case("minio-py.compose-object", "UploadPartCopy", "minio-py", {"r.ok": lambda v: bool(v)})
def _(c):
    from minio.commonconfig import ComposeSource

    c.put("p1", b"a" * (5 * MiB))
    c.put("p2", b"b" * 10)
    return {
        "r": minio_err(
            lambda: (
                c.minio.compose_object(
                    c.bucket, "composed", [ComposeSource(c.bucket, "p1"), ComposeSource(c.bucket, "p2")]
                ).etag
            )
        ),
        "stat": minio_err(lambda: _stat(c.minio.stat_object(c.bucket, "composed"))),
    }


@case("minio-py.presigned-put", "PutObject", "minio-py", {"r.status": 200, "back": "presigned"})
def _(c):
    url = c.minio.presigned_put_object(c.bucket, "pp")
    r = c.raw.send_url("PUT", url.split(c.t.hostport, 1)[1], body=b"presigned")
    return {
        "r": {"status": r.status},
        "back": minio_err(lambda: c.minio.get_object(c.bucket, "pp").read())["ok" if r.status == 200 else "code"],
    }


@case("minio-py.bucket-location", "GetBucketLocation", "minio-py", {"r.ok": "us-east-1"})
def _(c):
    from minio import Minio

    m = Minio(
        c.t.hostport, access_key=c.t.access_key, secret_key=c.t.secret_key, secure=False
    )  # no region: asks the server
    return {"r": minio_err(lambda: m._get_region(c.bucket))}

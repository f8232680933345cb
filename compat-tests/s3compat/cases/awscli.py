"""The aws CLI (v1): `aws s3` (high-level, multipart over 8 MiB) and `aws s3api`."""

from __future__ import annotations

import re

from ..core import case

MiB = 1 << 20
DATE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
PROGRESS = re.compile(r"^Completed .* remaining( \(calculating\.\.\.\))?$")
# each target runs a case in its own temporary directory, which the CLI prints
# absolute or relative to the working directory ("../pytest-of-root/.../case12/")
CASE_DIR = re.compile(r"\S*/case\d+/")


def out(r, json_=False):
    o = {"rc": r.rc, "code": r.code}
    if json_:
        j = r.json
        if isinstance(j, dict):
            j.pop("ResponseMetadata", None)
        o["json"] = j
    else:
        # progress lines ("Completed 1.0 MiB/9.0 MiB (29.8 MiB/s) ...") depend on timing
        text = r.out.replace("\r", "\n")
        o["out"] = sorted(
            CASE_DIR.sub("<tmp>/", DATE.sub("<date>", ln)).strip()
            for ln in text.splitlines()
            if ln.strip() and not PROGRESS.match(ln.strip())
        )
    return o


@case("aws.s3.mb-rb", "aws s3 mb/rb", "aws-cli", {"mb.rc": 0, "rb.rc": 0, "again.rc": 1}, bucket=None)
def _(c):
    name = c.name()
    c.track(name)
    return {
        "mb": out(c.aws("s3", "mb", f"s3://{name}")),
        "rb": out(c.aws("s3", "rb", f"s3://{name}")),
        "again": out(c.aws("s3", "rb", f"s3://{name}")),
    }


@case("aws.s3.mb-existing", "aws s3 mb/rb", "aws-cli", {"mb.rc": 1})
def _(c):
    r = c.aws("s3", "mb", f"s3://{c.bucket}")
    return {"mb": {"rc": r.rc, "code": "BucketAlreadyOwnedByYou" in r.err}}


@case("aws.s3.rb-not-empty", "aws s3 mb/rb", "aws-cli", {"rb.rc": 1, "force.rc": 0})
def _(c):
    c.put("a/b", b"x")
    return {
        "rb": out(c.aws("s3", "rb", f"s3://{c.bucket}")),
        "force": out(c.aws("s3", "rb", "--force", f"s3://{c.bucket}")),
    }


@case("aws.s3.cp-up-down", "aws s3 cp", "aws-cli", {"up.rc": 0, "down.rc": 0, "back": "aws small"})
def _(c):
    src = c.file("small.txt", b"aws small")
    o = {
        "up": out(c.aws("s3", "cp", str(src), f"s3://{c.bucket}/dir/small.txt")),
        "down": out(c.aws("s3", "cp", f"s3://{c.bucket}/dir/small.txt", str(c.tmp / "back.txt"))),
    }
    o["back"] = (c.tmp / "back.txt").read_bytes() if (c.tmp / "back.txt").exists() else None
    return o


@case(
    "aws.s3.cp-multipart",
    "aws s3 cp",
    "aws-cli",
    {"up.rc": 0, "head.json.ContentLength": 9 * MiB, "head.json.ETag": lambda e: e.endswith('-2"')},
)
def _(c):
    src = c.file("big.bin", b"A" * (9 * MiB))
    return {
        "up": out(c.aws("s3", "cp", str(src), f"s3://{c.bucket}/big.bin")),
        "head": out(c.aws("s3api", "head-object", "--bucket", c.bucket, "--key", "big.bin"), True),
    }


@case("aws.s3.cp-s3-to-s3", "aws s3 cp", "aws-cli", {"cp.rc": 0, "head.rc": 0})
def _(c):
    c.put("src", b"copy me")
    return {
        "cp": out(c.aws("s3", "cp", f"s3://{c.bucket}/src", f"s3://{c.bucket}/dst")),
        "head": out(c.aws("s3api", "head-object", "--bucket", c.bucket, "--key", "dst"), True),
    }


@case("aws.s3.cp-missing", "aws s3 cp", "aws-cli", {"down.rc": 1})
def _(c):
    return {"down": {"rc": c.aws("s3", "cp", f"s3://{c.bucket}/nope", str(c.tmp / "x")).rc}}


@case("aws.s3.ls", "aws s3 ls", "aws-cli", {"flat.rc": 0, "rec.rc": 0})
def _(c):
    for k in ("a/1", "a/b/2", "c", "\u00e9 x"):
        c.put(k, b"xx")
    return {
        "flat": out(c.aws("s3", "ls", f"s3://{c.bucket}/")),
        "rec": out(c.aws("s3", "ls", "--recursive", f"s3://{c.bucket}/")),
        "prefix": out(c.aws("s3", "ls", f"s3://{c.bucket}/a/")),
    }


@case("aws.s3.ls-buckets", "aws s3 ls", "aws-cli", {"rc": 0, "found": True})
def _(c):
    r = c.aws("s3", "ls")
    return {"rc": r.rc, "found": c.bucket in r.out}


@case("aws.s3.ls-missing-bucket", "aws s3 ls", "aws-cli", {"r.rc": 255, "r.code": "NoSuchBucket"}, bucket=None)
def _(c):
    return {"r": out(c.aws("s3", "ls", f"s3://{c.name()}"))}


@case("aws.s3.rm", "aws s3 rm", "aws-cli", {"one.rc": 0, "rec.rc": 0, "left": 0})
def _(c):
    for k in ("a/1", "a/2", "b"):
        c.put(k, b"x")
    o = {
        "one": out(c.aws("s3", "rm", f"s3://{c.bucket}/b")),
        "rec": out(c.aws("s3", "rm", "--recursive", f"s3://{c.bucket}/a/")),
    }
    o["left"] = c.admin.list_objects_v2(Bucket=c.bucket)["KeyCount"]
    return o


@case("aws.s3.sync", "aws s3 sync", "aws-cli", {"up.rc": 0, "again.out": [], "down.rc": 0})
def _(c):
    for n in ("x.txt", "sub/y.txt", "sub/deeper/z.txt"):
        c.file(f"src/{n}", n.encode())
    o = {
        "up": out(c.aws("s3", "sync", str(c.tmp / "src"), f"s3://{c.bucket}/s")),
        "again": out(c.aws("s3", "sync", str(c.tmp / "src"), f"s3://{c.bucket}/s")),
        "down": out(c.aws("s3", "sync", f"s3://{c.bucket}/s", str(c.tmp / "dst"))),
    }
    return o


@case("aws.s3.mv", "aws s3 mv", "aws-cli", {"mv.rc": 0, "src.rc": 255})
def _(c):
    c.put("from", b"x")
    return {
        "mv": out(c.aws("s3", "mv", f"s3://{c.bucket}/from", f"s3://{c.bucket}/to")),
        "src": out(c.aws("s3api", "head-object", "--bucket", c.bucket, "--key", "from"), True),
    }


@case("aws.s3.presign", "aws s3 presign", "aws-cli", {"r.status": 200, "r.body": "presign me"})
def _(c):
    c.put("p", b"presign me")
    url = c.aws("s3", "presign", f"s3://{c.bucket}/p").out.strip()
    r = c.raw.send_url("GET", url.split(c.t.hostport, 1)[1])
    return {"r": {"status": r.status, "body": r.body}}


@case(
    "aws.s3api.put-head-get",
    "aws s3api put/head/get-object",
    "aws-cli",
    {"put.rc": 0, "head.json.ContentLength": 5, "get.rc": 0},
)
def _(c):
    src = c.file("b.txt", b"hello")
    return {
        "put": out(
            c.aws(
                "s3api",
                "put-object",
                "--bucket",
                c.bucket,
                "--key",
                "k",
                "--body",
                str(src),
                "--metadata",
                "a=1",
                "--content-type",
                "text/plain",
            ),
            True,
        ),
        "head": out(c.aws("s3api", "head-object", "--bucket", c.bucket, "--key", "k"), True),
        "get": out(c.aws("s3api", "get-object", "--bucket", c.bucket, "--key", "k", str(c.tmp / "o")), True),
    }


@case("aws.s3api.head-missing", "aws s3api put/head/get-object", "aws-cli", {"r.rc": 255, "r.code": "404"})
def _(c):
    return {"r": out(c.aws("s3api", "head-object", "--bucket", c.bucket, "--key", "nope"), True)}


@case("aws.s3api.get-missing", "aws s3api put/head/get-object", "aws-cli", {"r.rc": 255, "r.code": "NoSuchKey"})
def _(c):
    return {"r": out(c.aws("s3api", "get-object", "--bucket", c.bucket, "--key", "nope", str(c.tmp / "o")), True)}


@case("aws.s3api.list-objects-v2", "aws s3api list-objects-v2", "aws-cli", {"r.rc": 0})
def _(c):
    for k in ("a/1", "a/2", "b"):
        c.put(k, b"x")
    r = out(c.aws("s3api", "list-objects-v2", "--bucket", c.bucket, "--delimiter", "/"), True)
    for it in (r.get("json") or {}).get("Contents", []):
        it.pop("LastModified", None)
    return {"r": r}


@case("aws.s3api.list-objects-v2-paged", "aws s3api list-objects-v2", "aws-cli", {"r.rc": 0})
def _(c):
    for i in range(5):
        c.put(f"k{i}", b"x")
    r = out(
        c.aws("s3api", "list-objects-v2", "--bucket", c.bucket, "--page-size", "2", "--query", "Contents[].Key"), True
    )
    return {"r": r}


@case("aws.s3api.delete-objects", "aws s3api delete-objects", "aws-cli", {"r.rc": 0})
def _(c):
    c.put("a", b"x")
    r = out(
        c.aws("s3api", "delete-objects", "--bucket", c.bucket, "--delete", '{"Objects":[{"Key":"a"},{"Key":"b"}]}'),
        True,
    )
    if r.get("json"):
        r["json"]["Deleted"] = sorted(r["json"].get("Deleted", []), key=lambda d: d["Key"])
    return {"r": r}


@case("aws.s3api.copy-object", "aws s3api copy-object", "aws-cli", {"r.rc": 0})
def _(c):
    c.put("s", b"x")
    r = out(c.aws("s3api", "copy-object", "--bucket", c.bucket, "--key", "d", "--copy-source", f"{c.bucket}/s"), True)
    if r.get("json"):
        r["json"].get("CopyObjectResult", {}).pop("LastModified", None)
    return {"r": r}


@case("aws.s3api.get-bucket-location", "aws s3api get-bucket-location", "aws-cli", {"r.rc": 0})
def _(c):
    return {"r": out(c.aws("s3api", "get-bucket-location", "--bucket", c.bucket), True)}


@case("aws.s3api.head-bucket-missing", "aws s3api head-bucket", "aws-cli", {"r.rc": 255}, bucket=None)
def _(c):
    return {"r": out(c.aws("s3api", "head-bucket", "--bucket", c.name()), True)}


@case("aws.s3api.multipart", "aws s3api create/upload-part/complete", "aws-cli", {"complete.rc": 0})
def _(c):
    import json

    p = c.file("part", b"p" * 1024)
    cr = c.aws("s3api", "create-multipart-upload", "--bucket", c.bucket, "--key", "mp")
    uid = (cr.json or {}).get("UploadId")
    if not uid:
        return {"create": out(cr, True)}
    up = c.aws(
        "s3api",
        "upload-part",
        "--bucket",
        c.bucket,
        "--key",
        "mp",
        "--upload-id",
        uid,
        "--part-number",
        "1",
        "--body",
        str(p),
    )
    parts = {"Parts": [{"PartNumber": 1, "ETag": (up.json or {}).get("ETag")}]}
    done = c.aws(
        "s3api",
        "complete-multipart-upload",
        "--bucket",
        c.bucket,
        "--key",
        "mp",
        "--upload-id",
        uid,
        "--multipart-upload",
        json.dumps(parts),
    )
    return {"upload": out(up, True), "complete": out(done, True)}

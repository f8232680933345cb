"""mc, the MinIO client (`--json`): ls, du, cp (small and multipart), cat, rm, mb,
rb, version, retention, legalhold, tag, stat, mirror."""

from __future__ import annotations

from ..core import case

MiB = 1 << 20
VOLATILE = {"duration", "speed", "transferred", "totalSize", "totalCount", "lastModified", "time"}


def obs(r, sort=True):
    lines = []
    for ln in r.lines:
        if ln.get("status") == "error":
            e = ln.get("error", {})
            cause = (e.get("cause") or {}).get("error") or {}
            lines.append({"status": "error", "code": cause.get("Code") or e.get("message")})
        else:
            lines.append({k: v for k, v in ln.items() if k not in VOLATILE})
    if sort:
        lines.sort(key=lambda d: repr(sorted(d.items())))
    return {"rc": r.rc, "lines": lines}


def fill(c, keys=("a/1", "a/b/2", "c", "\u00e9 x")):
    for k in keys:
        c.put(k, b"mc" + k.encode())


@case("mc.mb", "mc mb", "mc", {"mb.rc": 0, "again.rc": 1}, bucket=None)
def _(c):
    name = c.name()
    c.track(name)
    return {"mb": obs(c.mc("mb", f"t/{name}")), "again": obs(c.mc("mb", f"t/{name}"))}


@case("mc.mb-ignore-existing", "mc mb", "mc", {"mb.rc": 0})
def _(c):
    return {"mb": obs(c.mc("mb", "--ignore-existing", c.alias()))}


@case("mc.mb-with-lock", "mc mb", "mc", {"mb.rc": 0}, bucket=None)
def _(c):
    name = c.name()
    c.track(name)
    return {
        "mb": obs(c.mc("mb", "--with-lock", f"t/{name}")),
        "lock": c.admin.get_object_lock_configuration(Bucket=name).get("ObjectLockConfiguration") if True else None,
    }


@case("mc.rb", "mc rb", "mc", {"rb.rc": 0, "missing.rc": 1})
def _(c):
    return {"rb": obs(c.mc("rb", c.alias())), "missing": obs(c.mc("rb", c.alias()))}


@case("mc.rb-not-empty", "mc rb", "mc", {"rb.rc": 1, "force.rc": 0})
def _(c):
    fill(c)
    return {"rb": obs(c.mc("rb", c.alias())), "force": obs(c.mc("rb", "--force", c.alias()))}


@case("mc.ls", "mc ls", "mc", {"flat.rc": 0})
def _(c):
    fill(c)
    return {"flat": obs(c.mc("ls", c.alias()), sort=False), "prefix": obs(c.mc("ls", c.alias("a/")), sort=False)}


@case("mc.ls-recursive", "mc ls", "mc", {"r.rc": 0})
def _(c):
    fill(c)
    return {"r": obs(c.mc("ls", "--recursive", c.alias()), sort=False)}


@case("mc.ls-versions", "mc ls", "mc", {"r.rc": 0}, bucket="versioned")
def _(c):
    c.put("k", b"one")
    c.put("k", b"two")
    c.admin.delete_object(Bucket=c.bucket, Key="k")
    return {"r": obs(c.mc("ls", "--versions", c.alias()), sort=False)}


@case("mc.ls-missing-bucket", "mc ls", "mc", {"r.rc": 1}, bucket=None)
def _(c):
    return {"r": obs(c.mc("ls", f"t/{c.name()}"))}


@case("mc.ls-buckets", "mc ls", "mc", {"found": True})
def _(c):
    r = c.mc("ls", "t/")
    return {"rc": r.rc, "found": any(ln.get("key") == c.bucket + "/" for ln in r.lines)}


@case("mc.du", "mc du", "mc", {"r.rc": 0})
def _(c):
    fill(c)
    return {"r": obs(c.mc("du", c.alias())), "depth": obs(c.mc("du", "--depth", "2", c.alias()))}


@case("mc.cp-small", "mc cp", "mc", {"up.rc": 0, "down.rc": 0, "back": "small mc"})
def _(c):
    src = c.file("s.txt", b"small mc")
    o = {
        "up": obs(c.mc("cp", str(src), c.alias("s.txt"))),
        "down": obs(c.mc("cp", c.alias("s.txt"), str(c.tmp / "back"))),
    }
    o["back"] = (c.tmp / "back").read_bytes() if (c.tmp / "back").exists() else None
    o["head"] = c.admin.head_object(Bucket=c.bucket, Key="s.txt")["ETag"]
    return o


@case("mc.cp-multipart", "mc cp", "mc", {"up.rc": 0, "etag": lambda e: e.endswith('-2"'), "size": 17 * MiB})
def _(c):
    src = c.file("big.bin", b"B" * (17 * MiB))
    o = {"up": obs(c.mc("cp", str(src), c.alias("big.bin")))}
    try:
        h = c.admin.head_object(Bucket=c.bucket, Key="big.bin")
        o["etag"], o["size"] = h["ETag"], h["ContentLength"]
    except Exception as e:  # noqa: BLE001
        o["etag"] = type(e).__name__
    return o


@case("mc.cp-attr", "mc cp", "mc", {"up.rc": 0, "meta": {"color": "red"}})
def _(c):
    src = c.file("a.txt", b"attr")
    o = {"up": obs(c.mc("cp", "--attr", "Content-Type=text/x-mc;X-Amz-Meta-Color=red", str(src), c.alias("a.txt")))}
    h = c.admin.head_object(Bucket=c.bucket, Key="a.txt")
    o["meta"], o["ctype"] = h.get("Metadata"), h.get("ContentType")
    return o


@case("mc.cp-recursive", "mc cp", "mc", {"r.rc": 0, "keys": ["d/sub/y", "d/x"]})
def _(c):
    c.file("d/x", b"x")
    c.file("d/sub/y", b"y")
    o = {"r": obs(c.mc("cp", "--recursive", str(c.tmp / "d"), c.alias()))}
    o["keys"] = [x["Key"] for x in c.admin.list_objects_v2(Bucket=c.bucket).get("Contents", [])]
    return o


@case("mc.cp-server-side", "mc cp", "mc", {"r.rc": 0, "body": "mcc"})
def _(c):
    fill(c, ("c",))
    o = {"r": obs(c.mc("cp", c.alias("c"), c.alias("copied")))}
    o["body"] = c.admin.get_object(Bucket=c.bucket, Key="copied")["Body"].read()
    return o


@case("mc.cat", "mc cat", "mc", {"rc": 0, "out": "mcc"})
def _(c):
    fill(c, ("c",))
    r = c.mc("cat", c.alias("c"))
    return {"rc": r.rc, "out": r.raw}


@case("mc.cat-missing", "mc cat", "mc", {"r.rc": 1})
def _(c):
    return {"r": obs(c.mc("cat", c.alias("nope")))}


@case("mc.rm", "mc rm", "mc", {"one.rc": 0, "left": ["a/1", "a/b/2", "\u00e9 x"]})
def _(c):
    fill(c)
    o = {"one": obs(c.mc("rm", c.alias("c")))}
    o["left"] = [x["Key"] for x in c.admin.list_objects_v2(Bucket=c.bucket).get("Contents", [])]
    return o


@case("mc.rm-recursive", "mc rm", "mc", {"r.rc": 0, "left": ["c", "\u00e9 x"]})
def _(c):
    fill(c)
    o = {"r": obs(c.mc("rm", "--recursive", "--force", c.alias("a/")))}
    o["left"] = [x["Key"] for x in c.admin.list_objects_v2(Bucket=c.bucket).get("Contents", [])]
    return o


@case("mc.rm-versions", "mc rm", "mc", {"r.rc": 0, "left": []}, bucket="versioned")
def _(c):
    c.put("k", b"1")
    c.put("k", b"2")
    o = {"r": obs(c.mc("rm", "--versions", "--recursive", "--force", c.alias()))}
    vs = c.admin.list_object_versions(Bucket=c.bucket)
    o["left"] = [v["Key"] for v in vs.get("Versions", []) + vs.get("DeleteMarkers", [])]
    return o


@case("mc.rm-missing", "mc rm", "mc", {"r.rc": lambda rc: rc in (0, 1)})
def _(c):
    return {"r": obs(c.mc("rm", c.alias("nope")))}


@case("mc.version", "mc version", "mc", {"enable.rc": 0, "info1.rc": 0, "suspend.rc": 0})
def _(c):
    return {
        "info0": obs(c.mc("version", "info", c.alias())),
        "enable": obs(c.mc("version", "enable", c.alias())),
        "info1": obs(c.mc("version", "info", c.alias())),
        "suspend": obs(c.mc("version", "suspend", c.alias())),
        "info2": obs(c.mc("version", "info", c.alias())),
    }


@case("mc.retention-default", "mc retention", "mc", {"set.rc": 0, "info.rc": 0}, bucket="locked")
def _(c):
    return {
        "set": obs(c.mc("retention", "set", "--default", "GOVERNANCE", "1d", c.alias())),
        "info": obs(c.mc("retention", "info", "--default", c.alias())),
        "clear": obs(c.mc("retention", "clear", "--default", c.alias())),
    }


@case("mc.retention-object", "mc retention", "mc", {"set.rc": 0, "info.rc": 0}, bucket="locked")
def _(c):
    c.put("k", b"x")
    return {
        "set": obs(c.mc("retention", "set", "GOVERNANCE", "1d", c.alias("k"))),
        "info": obs(c.mc("retention", "info", c.alias("k"))),
        "rm": obs(c.mc("rm", "--versions", "--force", "--recursive", c.alias())),
        "clear": obs(c.mc("retention", "clear", "--recursive", c.alias())),
    }


@case("mc.retention-plain-bucket", "mc retention", "mc", {"set.rc": 1})
def _(c):
    c.put("k", b"x")
    return {"set": obs(c.mc("retention", "set", "GOVERNANCE", "1d", c.alias("k")))}


@case("mc.legalhold", "mc legalhold", "mc", {"set.rc": 0, "info.rc": 0, "clear.rc": 0}, bucket="locked")
def _(c):
    c.put("k", b"x")
    return {
        "set": obs(c.mc("legalhold", "set", c.alias("k"))),
        "info": obs(c.mc("legalhold", "info", c.alias("k"))),
        "clear": obs(c.mc("legalhold", "clear", c.alias("k"))),
        "info2": obs(c.mc("legalhold", "info", c.alias("k"))),
    }


@case("mc.tag-object", "mc tag", "mc", {"set.rc": 0, "list.rc": 0, "remove.rc": 0})
def _(c):
    c.put("k", b"x")
    return {
        "set": obs(c.mc("tag", "set", c.alias("k"), "a=1&b=2")),
        "list": obs(c.mc("tag", "list", c.alias("k"))),
        "remove": obs(c.mc("tag", "remove", c.alias("k"))),
        "list2": obs(c.mc("tag", "list", c.alias("k"))),
    }


@case("mc.tag-bucket", "mc tag", "mc", {"set.rc": 0, "list.rc": 0})
def _(c):
    return {
        "set": obs(c.mc("tag", "set", c.alias(), "team=s3")),
        "list": obs(c.mc("tag", "list", c.alias())),
        "remove": obs(c.mc("tag", "remove", c.alias())),
    }


@case("mc.stat-object", "mc stat", "mc", {"r.rc": 0})
def _(c):
    c.put("k", b"stat me", ContentType="text/plain", Metadata={"m": "1"})
    return {"r": obs(c.mc("stat", c.alias("k")))}


@case("mc.stat-bucket", "mc stat", "mc", {"r.rc": lambda rc: rc in (0, 1)})  # this mc fails on MinIO too
def _(c):
    return {"r": obs(c.mc("stat", c.alias()))}


@case("mc.stat-missing", "mc stat", "mc", {"r.rc": 1})
def _(c):
    return {"r": obs(c.mc("stat", c.alias("nope")))}


@case("mc.mirror-up-down", "mc mirror", "mc", {"up.rc": 0, "down.rc": 0, "files": ["m/x", "m/y/z"]})
def _(c):
    c.file("src/m/x", b"x")
    c.file("src/m/y/z", b"z")
    o = {
        "up": obs(c.mc("mirror", str(c.tmp / "src"), c.alias())),
        "again": obs(c.mc("mirror", str(c.tmp / "src"), c.alias())),
        "down": obs(c.mc("mirror", c.alias(), str(c.tmp / "dst"))),
    }
    dst = c.tmp / "dst"
    o["files"] = sorted(str(p.relative_to(dst)) for p in dst.rglob("*") if p.is_file()) if dst.exists() else []
    return o


@case("mc.mirror-remove", "mc mirror", "mc", {"r.rc": 0, "keys": ["keep"]})
def _(c):
    c.file("src/keep", b"k")
    c.put("stale", b"s")
    o = {"r": obs(c.mc("mirror", "--remove", "--overwrite", str(c.tmp / "src"), c.alias()))}
    o["keys"] = [x["Key"] for x in c.admin.list_objects_v2(Bucket=c.bucket).get("Contents", [])]
    return o

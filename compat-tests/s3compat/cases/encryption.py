"""Server-side encryption with a KMS (both targets start with the same built-in master key,
``COMPAT_KMS_SECRET_KEY``: MINIO_KMS_SECRET_KEY / S3GW_KMS_SECRET_KEY): SSE-S3 and SSE-KMS on PUT,
GET, HEAD, multipart and copy, bucket default encryption, and the errors; SSE-C's refusal over
plain HTTP.

The ``encryption.tls.*`` cases run over HTTPS (``tls=True``: each target's HTTPS instance, with a
certificate from the session's CA that every client verifies): SSE-C PUT/GET/HEAD, a wrong or
missing key, multipart with the key on every part, CopyObject and UploadPartCopy from one customer
key to another, Range GETs, SSE-S3 over TLS, and ``mc cp/cat/stat --enc-c``."""

from __future__ import annotations

import base64
import hashlib
import os

from ..core import MISSING, call, case
from ..targets import KMS_KEY_NAME

SSE = ("x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id")
# what a client sees of SSE-C: the algorithm and the key's MD5 echoed back (the ETag of an
# SSE-C object is not the MD5 of its body on either server, and differs between them)
SSEC = (
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key-md5",
    "content-length",
    "content-range",
    "x-amz-mp-parts-count",
)
RULE = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


@case(
    "encryption.sse-s3.put-get-head",
    "PutObject",
    "boto3-wr",
    {"put.h.x-amz-server-side-encryption": "AES256", "get.h.x-amz-server-side-encryption": "AES256", "same": True},
)
def _(c):
    body = b"secret data" * 100
    put = call(
        lambda: c.admin.put_object(Bucket=c.bucket, Key="k", Body=body, ServerSideEncryption="AES256"), headers=SSE
    )
    put["etag-is-md5"] = c.admin.head_object(Bucket=c.bucket, Key="k")["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    get = call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k"), headers=SSE, read=True)
    return {
        "put": put,
        "get": get,
        "same": get.get("body") == body,
        "head": call(lambda: c.admin.head_object(Bucket=c.bucket, Key="k"), "ContentLength", headers=SSE),
        "range": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k", Range="bytes=5-20"), headers=SSE, read=True),
    }


@case("encryption.sse-kms.key-named", "PutObject", "boto3-wr", {"put.h.x-amz-server-side-encryption": "aws:kms"})
def _(c):
    put = call(
        lambda: c.admin.put_object(
            Bucket=c.bucket, Key="k", Body=b"x" * 1000, ServerSideEncryption="aws:kms", SSEKMSKeyId=KMS_KEY_NAME
        ),
        headers=SSE,
    )
    return {
        "put": put,
        "get": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k"), headers=SSE, read=True),
        "unknown-key": call(
            lambda: c.admin.put_object(
                Bucket=c.bucket, Key="u", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="no-such-key"
            )
        ),
    }


@case("encryption.sse-s3.multipart", "CompleteMultipartUpload", "boto3-wr")
def _(c):
    parts = [os.urandom(5 << 20), b"tail" * 1000]
    up = c.admin.create_multipart_upload(Bucket=c.bucket, Key="mp", ServerSideEncryption="AES256")
    done = []
    for i, p in enumerate(parts, 1):
        r = c.admin.upload_part(Bucket=c.bucket, Key="mp", UploadId=up["UploadId"], PartNumber=i, Body=p)
        done.append({"PartNumber": i, "ETag": r["ETag"]})
    c.admin.complete_multipart_upload(
        Bucket=c.bucket, Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": done}
    )
    whole = b"".join(parts)
    lo = len(parts[0]) - 3
    got = c.admin.get_object(Bucket=c.bucket, Key="mp", Range=f"bytes={lo}-{lo + 9}")
    return {
        "create": {"sse": up.get("ServerSideEncryption")},
        "head": call(lambda: c.admin.head_object(Bucket=c.bucket, Key="mp"), "ContentLength", headers=SSE),
        "range-ok": got["Body"].read() == whole[lo : lo + 10],
        "part2": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="mp", PartNumber=2), headers=SSE, read=True),
    }


@case(
    "encryption.bucket-default",
    "PutBucketEncryption",
    "boto3-wr",
    {"get.status": 200, "object.h.x-amz-server-side-encryption": "AES256", "after.status": 404},
)
def _(c):
    put = call(
        lambda: c.admin.put_bucket_encryption(Bucket=c.bucket, ServerSideEncryptionConfiguration=RULE), headers=()
    )
    get = call(
        lambda: c.admin.get_bucket_encryption(Bucket=c.bucket), "ServerSideEncryptionConfiguration", no_headers=True
    )
    obj = call(lambda: c.admin.put_object(Bucket=c.bucket, Key="k", Body=b"x"), headers=SSE)
    copy = call(
        lambda: c.admin.copy_object(Bucket=c.bucket, Key="c", CopySource={"Bucket": c.bucket, "Key": "k"}), headers=SSE
    )
    delete = call(lambda: c.admin.delete_bucket_encryption(Bucket=c.bucket), headers=())
    return {
        "put": put,
        "get": get,
        "object": obj,
        "copy": copy,
        "delete": delete,
        "after": call(lambda: c.admin.get_bucket_encryption(Bucket=c.bucket)),
        "plain": call(lambda: c.admin.put_object(Bucket=c.bucket, Key="p", Body=b"x"), headers=SSE),
    }


@case(
    "encryption.sse-c.plain-http",
    "PutObject",
    "boto3-wr",
    {"put.status": 400, "put.code": "InvalidRequest"},
)
def _(c):
    key = os.urandom(32)
    return {
        "put": call(
            lambda: c.admin.put_object(
                Bucket=c.bucket, Key="k", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=key
            )
        ),
        "stored": call(lambda: c.admin.head_object(Bucket=c.bucket, Key="k")),
    }


@case("encryption.bad-algorithm", "PutObject", "boto3-wr", {"put.status": 400})
def _(c):
    return {"put": call(lambda: c.admin.put_object(Bucket=c.bucket, Key="k", Body=b"x", ServerSideEncryption="AES128"))}


# ---------------------------------------------------------------- over TLS


def ssec(key: bytes, copy_source: bool = False) -> dict:
    """boto3's SSE-C parameters (it sends the key base64 and its MD5)."""
    pre = "CopySource" if copy_source else ""
    return {f"{pre}SSECustomerAlgorithm": "AES256", f"{pre}SSECustomerKey": key}


def same_body(o: dict, want: bytes) -> dict:
    """The observation with its (random) body replaced by whether it is ``want``."""
    if "body" in o:
        o["body"] = o["body"] == want
    return o


def KEY(n: int) -> bytes:
    """A fixed customer key per number: the key MD5s the servers echo are then the same on both."""
    return hashlib.sha256(f"compat-ssec-key-{n}".encode()).digest()


@case(
    "encryption.tls.sse-c.put-get-head",
    "PutObject",
    "boto3-wr",
    {
        "put.status": 200,
        "put.h.x-amz-server-side-encryption-customer-algorithm": "AES256",
        "get.status": 200,
        "head.status": 200,
        "same": True,
        "etag-is-md5": False,
    },
    tls=True,
)
def _(c):
    body = b"customer secret " * 1000
    put = call(lambda: c.admin.put_object(Bucket=c.bucket, Key="k", Body=body, **ssec(KEY(1))), headers=SSEC)
    get = call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k", **ssec(KEY(1))), headers=SSEC, read=True)
    head = call(lambda: c.admin.head_object(Bucket=c.bucket, Key="k", **ssec(KEY(1))), "ContentLength", headers=SSEC)
    etag = c.admin.head_object(Bucket=c.bucket, Key="k", **ssec(KEY(1)))["ETag"]
    return {
        "put": put,
        "get": {k: v for k, v in get.items() if k != "body"},
        "head": head,
        "same": get.get("body") == body,
        "etag-is-md5": etag == f'"{hashlib.md5(body).hexdigest()}"',
        "listed-size": c.admin.list_objects_v2(Bucket=c.bucket)["Contents"][0]["Size"],
    }


@case(
    "encryption.tls.sse-c.wrong-key",
    "GetObject",
    "boto3-wr",
    {"get.status": 403, "head.status": 403},
    tls=True,
)
def _(c):
    c.setup(lambda: c.admin.put_object(Bucket=c.bucket, Key="k", Body=b"x" * 5000, **ssec(KEY(1))))
    return {
        "get": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k", **ssec(KEY(2))), read=True),
        "head": call(lambda: c.admin.head_object(Bucket=c.bucket, Key="k", **ssec(KEY(2)))),
        "range": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k", Range="bytes=0-9", **ssec(KEY(2)))),
        # the key's MD5 sent does not match the key
        "bad-md5": call(
            lambda: c.admin.get_object(
                Bucket=c.bucket,
                Key="k",
                SSECustomerAlgorithm="AES256",
                SSECustomerKey=base64.b64encode(KEY(1)).decode(),  # sent as is when the MD5 is given
                SSECustomerKeyMD5=base64.b64encode(hashlib.md5(KEY(2)).digest()).decode(),
            )
        ),
        # a key of the wrong length
        "short-key": call(
            lambda: c.admin.put_object(
                Bucket=c.bucket, Key="s", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=KEY(1)[:16]
            )
        ),
        "bad-algorithm": call(
            lambda: c.admin.put_object(
                Bucket=c.bucket, Key="a", Body=b"x", SSECustomerAlgorithm="AES128", SSECustomerKey=KEY(1)
            )
        ),
    }


@case(
    "encryption.tls.sse-c.missing-key",
    "GetObject",
    "boto3-wr",
    {"get.status": 400, "head.status": 400},
    tls=True,
)
def _(c):
    c.setup(lambda: c.admin.put_object(Bucket=c.bucket, Key="k", Body=b"x" * 5000, **ssec(KEY(1))))
    c.setup(lambda: c.admin.put_object(Bucket=c.bucket, Key="plain", Body=b"plain"))
    return {
        "get": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k"), read=True),
        "head": call(lambda: c.admin.head_object(Bucket=c.bucket, Key="k")),
        # a key for an object that was not stored with one
        "plain-with-key": call(
            lambda: c.admin.get_object(Bucket=c.bucket, Key="plain", **ssec(KEY(1))), headers=SSEC, read=True
        ),
    }


@case(
    "encryption.tls.sse-c.multipart",
    "CompleteMultipartUpload",
    "boto3-wr",
    {
        "complete.status": 200,
        "complete.h.x-amz-server-side-encryption-customer-algorithm": MISSING,  # no key on Complete: AWS sends none
        "whole-ok": True,
        "range-ok": True,
        "part2.status": 206,
        "part2.body": True,
        "nokey.code": "InvalidRequest",
        "other-key.status": 403,
    },
    tls=True,
)
def _(c):
    parts = [os.urandom(5 << 20), os.urandom(100_000)]
    k = ssec(KEY(3))
    up = c.setup(lambda: c.admin.create_multipart_upload(Bucket=c.bucket, Key="mp", **k))
    uid = up["UploadId"]
    done = []
    for i, p in enumerate(parts, 1):
        r = c.setup(lambda: c.admin.upload_part(Bucket=c.bucket, Key="mp", UploadId=uid, PartNumber=i, Body=p, **k))
        done.append({"PartNumber": i, "ETag": r["ETag"]})
    # a part without the key, and a part with another key: refused
    nokey = call(lambda: c.admin.upload_part(Bucket=c.bucket, Key="mp", UploadId=uid, PartNumber=3, Body=b"x"))
    other = call(
        lambda: c.admin.upload_part(Bucket=c.bucket, Key="mp", UploadId=uid, PartNumber=3, Body=b"x", **ssec(KEY(4)))
    )
    complete = call(
        lambda: c.admin.complete_multipart_upload(
            Bucket=c.bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": done}
        ),
        headers=SSEC,
    )
    whole = b"".join(parts)
    lo = len(parts[0]) - 3
    return {
        "create": {"algorithm": up.get("SSECustomerAlgorithm"), "md5": up.get("SSECustomerKeyMD5")},
        "nokey": nokey,
        "other-key": other,
        "complete": complete,
        "head": call(lambda: c.admin.head_object(Bucket=c.bucket, Key="mp", **k), "ContentLength", headers=SSEC),
        "whole-ok": c.admin.get_object(Bucket=c.bucket, Key="mp", **k)["Body"].read() == whole,
        "range-ok": c.admin.get_object(Bucket=c.bucket, Key="mp", Range=f"bytes={lo}-{lo + 9}", **k)["Body"].read()
        == whole[lo : lo + 10],
        "part2": same_body(
            call(lambda: c.admin.get_object(Bucket=c.bucket, Key="mp", PartNumber=2, **k), headers=SSEC, read=True),
            parts[1],
        ),
        "nokey-get": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="mp")),
    }


@case(
    "encryption.tls.sse-c.copy",
    "CopyObject",
    "boto3-wr",
    {"copy.status": 200, "new-key.status": 200, "new-key-ok": True, "old-key.status": 403},
    tls=True,
)
def _(c):
    body = os.urandom(200_000)
    c.setup(lambda: c.admin.put_object(Bucket=c.bucket, Key="src", Body=body, **ssec(KEY(1))))
    src = {"Bucket": c.bucket, "Key": "src"}
    copy = call(
        lambda: c.admin.copy_object(
            Bucket=c.bucket, Key="dst", CopySource=src, **ssec(KEY(1), copy_source=True), **ssec(KEY(2))
        ),
        headers=SSEC,
    )
    got = call(lambda: c.admin.get_object(Bucket=c.bucket, Key="dst", **ssec(KEY(2))), headers=SSEC, read=True)
    return {
        "copy": copy,
        "new-key": {k: v for k, v in got.items() if k != "body"},
        "new-key-ok": got.get("body") == body,
        "old-key": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="dst", **ssec(KEY(1)))),
        # SSE-C -> SSE-S3, then readable without a key
        "to-sse-s3": call(
            lambda: c.admin.copy_object(
                Bucket=c.bucket, Key="d4", CopySource=src, ServerSideEncryption="AES256", **ssec(KEY(1), True)
            ),
            headers=SSEC,
        ),
        "sse-s3-ok": c.admin.get_object(Bucket=c.bucket, Key="d4")["Body"].read() == body,
    }


@case(
    "encryption.tls.sse-c.copy-source-key",
    "CopyObject",
    "boto3-wr",
    {
        "wrong-source-key.status": 403,
        "wrong-source-key.code": "AccessDenied",
        "no-source-key.status": lambda s: s >= 400,
        "part-no-source-key.status": lambda s: s >= 400,
    },
    tls=True,
)
def _(c):
    c.setup(lambda: c.admin.put_object(Bucket=c.bucket, Key="src", Body=b"x" * 5000, **ssec(KEY(1))))
    src = {"Bucket": c.bucket, "Key": "src"}
    uid = c.setup(lambda: c.admin.create_multipart_upload(Bucket=c.bucket, Key="mp", **ssec(KEY(2))))["UploadId"]
    return {
        "no-source-key": call(
            lambda: c.admin.copy_object(Bucket=c.bucket, Key="d2", CopySource=src, **ssec(KEY(2))), headers=SSEC
        ),
        "wrong-source-key": call(
            lambda: c.admin.copy_object(
                Bucket=c.bucket, Key="d3", CopySource=src, **ssec(KEY(3), copy_source=True), **ssec(KEY(2))
            ),
            headers=SSEC,
        ),
        "stored": call(lambda: c.admin.head_object(Bucket=c.bucket, Key="d2", **ssec(KEY(2)))),
        # the same in UploadPartCopy
        "part-no-source-key": call(
            lambda: c.admin.upload_part_copy(
                Bucket=c.bucket, Key="mp", UploadId=uid, PartNumber=1, CopySource=src, **ssec(KEY(2))
            )
        ),
    }


@case(
    "encryption.tls.sse-c.part-copy",
    "UploadPartCopy",
    "boto3-wr",
    {
        "part1.status": 200,
        "part2.status": 200,
        "complete.status": 200,
        "whole-ok": True,
        "part2-ok": True,
        "wrong-source-key.status": 403,
        "no-dest-key.status": lambda s: s >= 400,
        "old-key.status": 403,
    },
    tls=True,
)
def _(c):
    """UploadPartCopy from an SSE-C object (its key as the copy-source key) into an upload under
    another customer key: two ranges of the source, across 64 KiB packages; a wrong or missing
    source key and a missing destination key are refused (a missing source key: the case
    encryption.tls.sse-c.copy-source-key)."""
    body = os.urandom((5 << 20) + 150_000)
    c.setup(lambda: c.admin.put_object(Bucket=c.bucket, Key="src", Body=body, **ssec(KEY(6))))
    src = {"Bucket": c.bucket, "Key": "src"}
    k = ssec(KEY(7))
    uid = c.setup(lambda: c.admin.create_multipart_upload(Bucket=c.bucket, Key="mp", **k))["UploadId"]
    half = 5 << 20

    def part(n: int, rng: str, **keys) -> dict:
        return call(
            lambda: c.admin.upload_part_copy(
                Bucket=c.bucket, Key="mp", UploadId=uid, PartNumber=n, CopySource=src, CopySourceRange=rng, **keys
            ),
            headers=SSEC,
        )

    src_key = ssec(KEY(6), copy_source=True)
    wrong = part(3, "bytes=0-99", **ssec(KEY(8), copy_source=True), **k)
    no_dst = part(3, "bytes=0-99", **src_key)
    p1 = part(1, f"bytes=0-{half - 1}", **src_key, **k)
    p2 = part(2, f"bytes={half - 70_000}-{len(body) - 1}", **src_key, **k)
    listed = c.admin.list_parts(Bucket=c.bucket, Key="mp", UploadId=uid).get("Parts", [])
    done = [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in listed]
    complete = call(
        lambda: c.admin.complete_multipart_upload(
            Bucket=c.bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": done}
        ),
        headers=SSEC,  # not the ETag: an encrypted multipart object's differs between the servers
    )
    want = body[:half] + body[half - 70_000 :]
    got = c.admin.get_object(Bucket=c.bucket, Key="mp", **k)["Body"].read() if complete.get("status") == 200 else b""
    part2 = c.admin.get_object(Bucket=c.bucket, Key="mp", PartNumber=2, **k)["Body"].read() if got else b""
    return {
        "part1": p1,
        "part2": p2,
        "wrong-source-key": wrong,
        "no-dest-key": no_dst,
        "complete": complete,
        "whole-ok": got == want,
        "part2-ok": part2 == body[half - 70_000 :],
        "old-key": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="mp", **ssec(KEY(6)))),
    }


@case(
    "encryption.tls.sse-c.range",
    "GetObject",
    "boto3-wr",
    {"first.status": 206, "across.status": 206, "suffix.status": 206, "beyond.status": 416},
    tls=True,
)
def _(c):
    body = os.urandom(300_000)  # several 64 KiB packages on either server
    k = ssec(KEY(5))
    c.setup(lambda: c.admin.put_object(Bucket=c.bucket, Key="k", Body=body, **k))

    def rng(spec: str) -> dict:
        o = call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k", Range=spec, **k), headers=SSEC, read=True)
        lo, _, hi = spec.removeprefix("bytes=").partition("-")
        return same_body(o, body[-int(hi) :] if lo == "" else body[int(lo) : (int(hi) + 1 if hi else None)])

    return {
        "first": rng("bytes=0-0"),
        "across": rng("bytes=65530-131080"),
        "suffix": rng("bytes=-100"),
        "open": rng("bytes=299990-"),
        "beyond": rng("bytes=300000-300010"),
    }


@case(
    "encryption.tls.sse-s3",
    "PutObject",
    "boto3-wr",
    {"put.h.x-amz-server-side-encryption": "AES256", "get.h.x-amz-server-side-encryption": "AES256", "same": True},
    tls=True,
)
def _(c):
    body = os.urandom(100_000)
    put = call(
        lambda: c.admin.put_object(Bucket=c.bucket, Key="k", Body=body, ServerSideEncryption="AES256"), headers=SSE
    )
    get = call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k"), headers=SSEC, read=True)
    return {
        "put": put,
        "get": {k: v for k, v in get.items() if k != "body"},
        "same": get.get("body") == body,
        "head": call(lambda: c.admin.head_object(Bucket=c.bucket, Key="k"), "ContentLength", headers=SSEC),
        "range": same_body(
            call(
                lambda: c.admin.get_object(Bucket=c.bucket, Key="k", Range="bytes=70000-70009"),
                headers=SSEC,
                read=True,
            ),
            body[70000:70010],
        ),
        # an SSE-C key sent for an SSE-S3 object
        "with-customer-key": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="k", **ssec(KEY(1)))),
    }


def _mc_obs(r) -> dict:
    errors = r.errors
    return {"rc": r.rc, "errors": errors} if errors or r.rc else {"rc": 0}


@case(
    "encryption.tls.mc-enc-c",
    "mc cp --enc-c",
    "mc",
    {"cp.rc": 0, "cat.rc": 0, "cat-ok": True, "nokey.rc": 1},
    tls=True,
)
def _(c):
    key = base64.b64encode(KEY(6)).decode().rstrip("=")  # mc takes RawBase64 (or hex)
    enc = ["--enc-c", f"t/{c.bucket}/={key}"]
    body = os.urandom(1 << 20)
    src = c.file("f.bin", body)
    cp = c.mc("cp", *enc, str(src), c.alias("f.bin"))
    out = c.tmp / "back.bin"
    back = c.mc("cp", *enc, c.alias("f.bin"), str(out))
    stat = c.mc("stat", *enc, c.alias("f.bin"))
    st = next((ln for ln in stat.lines if ln.get("status") == "success"), {})
    return {
        "cp": _mc_obs(cp),
        "cat": _mc_obs(back),
        "cat-ok": out.exists() and out.read_bytes() == body,
        "stat": {
            "rc": stat.rc,
            "size": st.get("size"),
            "sse": (st.get("metadata") or {}).get("X-Amz-Server-Side-Encryption-Customer-Algorithm"),
        },
        "nokey": _mc_obs(c.mc("cp", c.alias("f.bin"), str(c.tmp / "nokey.bin"))),
        # the object as boto3 sees it with the same key
        "boto3": c.admin.get_object(Bucket=c.bucket, Key="f.bin", **ssec(KEY(6)))["Body"].read() == body,
    }


@case(
    "encryption.tls.minio-py-ssec",
    "PutObject",
    "minio-py",
    {"get.ok": True, "stat.ok.size": 70000, "wrong.code": "AccessDenied"},
    tls=True,
)
def _(c):
    import io

    from minio.sse import SseCustomerKey

    from ..core import minio_err

    body = os.urandom(70_000)
    key = SseCustomerKey(KEY(7))

    def get(k):
        r = c.minio.get_object(c.bucket, "k", ssec=k)
        try:
            return r.read() == body
        finally:
            r.close()
            r.release_conn()

    def stat(k):
        st = c.minio.stat_object(c.bucket, "k", ssec=k)
        return {"size": st.size, "algorithm": st.metadata.get("x-amz-server-side-encryption-customer-algorithm")}

    return {
        "put": minio_err(lambda: c.minio.put_object(c.bucket, "k", io.BytesIO(body), len(body), sse=key) and None),
        "get": minio_err(lambda: get(key)),
        "stat": minio_err(lambda: stat(key)),
        "wrong": minio_err(lambda: get(SseCustomerKey(KEY(8)))),
        "missing": minio_err(lambda: get(None)),
    }


@case(
    "encryption.tls.aws-cli-sse-c",
    "aws s3 cp --sse-c",
    "aws-cli",
    {"up.rc": 0, "down.rc": 0, "down-ok": True, "head.rc": 0, "nokey.rc": 1},
    tls=True,
)
def _(c):
    body = os.urandom(9 << 20)  # over the CLI's 8 MiB threshold: a multipart upload, the key on every part
    src = c.file("f.bin", body)
    keyfile = c.file("key.bin", KEY(9))
    k = ["--sse-c", "AES256", "--sse-c-key", f"fileb://{keyfile}"]
    up = c.aws("s3", "cp", str(src), f"s3://{c.bucket}/f.bin", *k)
    dst = c.tmp / "back.bin"
    down = c.aws("s3", "cp", f"s3://{c.bucket}/f.bin", str(dst), *k)
    head = c.aws(
        "s3api",
        "head-object",
        "--bucket",
        c.bucket,
        "--key",
        "f.bin",
        "--sse-customer-algorithm",
        "AES256",
        "--sse-customer-key",
        f"fileb://{keyfile}",
    )
    j = head.json or {}
    nokey = c.aws("s3", "cp", f"s3://{c.bucket}/f.bin", str(c.tmp / "nokey.bin"))
    return {
        "up": {"rc": up.rc, "code": up.code},
        "down": {"rc": down.rc, "code": down.code},
        "down-ok": dst.exists() and dst.read_bytes() == body,
        "head": {
            "rc": head.rc,
            "size": j.get("ContentLength"),
            "algorithm": j.get("SSECustomerAlgorithm"),
            "md5": j.get("SSECustomerKeyMD5"),
        },
        "nokey": {"rc": nokey.rc, "code": nokey.code},
    }

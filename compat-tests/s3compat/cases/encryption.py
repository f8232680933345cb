"""Server-side encryption with a KMS (both targets start with the same built-in master key,
``COMPAT_KMS_SECRET_KEY``: MINIO_KMS_SECRET_KEY / S3GW_KMS_SECRET_KEY): SSE-S3 and SSE-KMS on PUT,
GET, HEAD, multipart and copy, bucket default encryption, and the errors. SSE-C needs TLS, which
the targets do not serve: its refusal over plain HTTP is the case here (tests/functional/
test_encryption.py covers SSE-C over HTTPS)."""

from __future__ import annotations

import hashlib
import os

from ..core import call, case
from ..targets import KMS_KEY_NAME

SSE = ("x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id")
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

"""Buckets: create, head, delete, location, versioning, policy, and the configurations s3gw keeps none of."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..core import policy as P
from . import xml as X
from .app import IAM, Handler, Request
from .errors import S3Error
from .headers import kms_arn, kms_key_id
from .xml import xml_response


async def create_bucket(rq: Request) -> web.StreamResponse:
    # The LocationConstraint is checked for form only: like MinIO with no
    # region configured, any region is accepted.
    await rq.read_document("CreateBucketConfiguration", optional=True)
    lock = (rq.header("x-amz-bucket-object-lock-enabled") or "").lower() == "true"
    await rq.core.create_bucket(rq.op.bucket, object_lock=lock)
    _forget_bucket_policy(rq)
    return web.Response(status=200, headers={"Location": "/" + rq.op.bucket})


async def head_bucket(rq: Request) -> web.StreamResponse:
    await rq.core.bucket(rq.op.bucket)
    return web.Response(status=200)


async def get_bucket_location(rq: Request) -> web.StreamResponse:
    await rq.core.bucket(rq.op.bucket)
    region = "" if rq.settings.region == "us-east-1" else rq.settings.region
    body = (X.HEADER + f'<LocationConstraint xmlns="{X.NS}">{X.text(region)}</LocationConstraint>').encode()
    return xml_response(body)


async def delete_bucket(rq: Request) -> web.StreamResponse:
    await rq.core.delete_bucket(rq.op.bucket)  # its policy goes with it (meta: same transaction)
    _forget_bucket_policy(rq)
    return web.Response(status=204)


def _forget_bucket_policy(rq: Request) -> None:
    """A bucket deleted or created here: no cached policy of an older bucket of that name applies."""
    iam = rq.http.app.get(IAM)
    if iam is not None:
        iam.forget_bucket(rq.op.bucket)


def not_configured(code: str) -> Handler:
    """GET of a bucket configuration s3gw keeps none of: the S3 "does not exist" answer."""

    async def handler(rq: Request) -> web.StreamResponse:
        await rq.core.bucket(rq.op.bucket)
        raise S3Error(code)

    return handler


# ---------------------------------------------------------------- versioning
async def put_bucket_versioning(rq: Request) -> web.StreamResponse:
    conf = await rq.document("VersioningConfiguration")
    status = conf.get("Status")
    if status not in ("Enabled", "Suspended"):
        raise S3Error("IllegalVersioningConfigurationException" if status else "MalformedXML")
    await rq.core.set_versioning(rq.op.bucket, status)
    return web.Response(status=200)


async def get_bucket_versioning(rq: Request) -> web.StreamResponse:
    brec = await rq.core.bucket(rq.op.bucket)
    # a bucket that was never versioned answers with an empty configuration
    return xml_response(
        X.document("VersioningConfiguration", X.el("Status", brec.versioning) if brec.versioning else None)
    )


# ---------------------------------------------------------------- bucket policy
def _iam(rq: Request) -> Any:
    iam = rq.http.app.get(IAM)
    if iam is None:  # an app built without users keeps no policies
        raise S3Error("NotImplemented")
    return iam


async def put_bucket_policy(rq: Request) -> web.StreamResponse:
    """A JSON policy document (core/policy.py grammar), 20 KiB at most; 204 as S3 and MinIO answer."""
    iam = _iam(rq)
    await rq.core.bucket(rq.op.bucket)
    length = rq.http.content_length
    decoded = rq.header("x-amz-decoded-content-length")
    if decoded is not None and decoded.isascii() and decoded.isdigit() and len(decoded) < 20:
        length = int(decoded)  # aws-chunked: the document's own length
    if not length:
        raise S3Error("MissingContentLength")
    if length > P.MAX_BUCKET_POLICY:
        raise S3Error("PolicyTooLarge")
    body = await rq.read_body(limit=P.MAX_BUCKET_POLICY)
    try:
        await iam.put_bucket_policy(rq.op.bucket, body)
    except P.PolicyError as e:
        raise S3Error("MalformedPolicy", str(e)) from None
    return web.Response(status=204)


async def get_bucket_policy(rq: Request) -> web.StreamResponse:
    iam = _iam(rq)
    await rq.core.bucket(rq.op.bucket)
    text = await iam.bucket_policy_text(rq.op.bucket)
    if text is None:
        raise S3Error("NoSuchBucketPolicy")
    return web.Response(status=200, body=text.encode(), content_type="application/json")


async def delete_bucket_policy(rq: Request) -> web.StreamResponse:
    iam = _iam(rq)
    await rq.core.bucket(rq.op.bucket)
    await iam.delete_bucket_policy(rq.op.bucket)
    return web.Response(status=204)


async def get_bucket_policy_status(rq: Request) -> web.StreamResponse:
    """IsPublic as AWS defines it (core/policy.py ``is_public``): the policy lets anyone in."""
    iam = _iam(rq)
    await rq.core.bucket(rq.op.bucket)
    policy = await iam.bucket_policy(rq.op.bucket)
    public = policy is not None and P.is_public(policy)
    return xml_response(X.document("PolicyStatus", X.el("IsPublic", "true" if public else "false")))


# ---------------------------------------------------------------- default encryption
async def put_bucket_encryption(rq: Request) -> web.StreamResponse:
    """PutBucketEncryption: one rule, SSE-S3 (AES256) or SSE-KMS (aws:kms, optionally a key id), as MinIO takes it."""
    conf = await rq.document("ServerSideEncryptionConfiguration")
    rules = X.as_list(conf.get("Rule"))
    if len(rules) != 1 or not isinstance(rules[0], dict):
        raise S3Error("MalformedXML")
    default = rules[0].get("ApplyServerSideEncryptionByDefault")
    if not isinstance(default, dict):
        raise S3Error("MalformedXML")
    alg = default.get("SSEAlgorithm")
    key_id = default.get("KMSMasterKeyID") or ""
    if alg not in ("AES256", "aws:kms") or not isinstance(key_id, str) or (key_id and alg != "aws:kms"):
        raise S3Error("MalformedXML")
    await rq.core.set_bucket_encryption(rq.op.bucket, alg, kms_key_id(key_id))
    return web.Response(status=200)


async def get_bucket_encryption(rq: Request) -> web.StreamResponse:
    sse = await rq.core.bucket_encryption(rq.op.bucket)
    key_id = sse.get("key_id")
    return xml_response(
        X.document(
            "ServerSideEncryptionConfiguration",
            X.el(
                "Rule",
                X.el(
                    "ApplyServerSideEncryptionByDefault",
                    X.el("SSEAlgorithm", sse["alg"]),
                    X.el("KMSMasterKeyID", kms_arn(key_id)) if key_id else None,
                ),
            ),
        )
    )


async def delete_bucket_encryption(rq: Request) -> web.StreamResponse:
    await rq.core.delete_bucket_encryption(rq.op.bucket)
    return web.Response(status=204)

"""The owner s3gw shows, and the canned ACL answers (ACLs are not kept: everything is private to its owner)."""

from __future__ import annotations

from aiohttp import web

from . import xml as X
from .app import Request
from .errors import S3Error
from .xml import xml_response

# MinIO's single owner (SDKs and mc show these in listings)
OWNER_ID = "02d6176db174dc93cb1b899f7c6078f08654445fe8cf1b6ce98d8855f66bdbf4"
OWNER_NAME = "minio"


def owner() -> str:
    return X.el("Owner", X.el("ID", OWNER_ID), X.el("DisplayName", OWNER_NAME))


def initiator() -> str:
    return X.el("Initiator", X.el("ID", OWNER_ID), X.el("DisplayName", OWNER_NAME))


def _acl_xml() -> bytes:
    grantee = X.raw(
        '<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">'
        + X.el("ID", OWNER_ID)
        + X.el("DisplayName", OWNER_NAME)
        + "</Grantee>"
    )
    grant = X.el("Grant", grantee, X.el("Permission", "FULL_CONTROL"))
    return X.document("AccessControlPolicy", owner(), X.el("AccessControlList", grant))


async def get_acl(rq: Request) -> web.StreamResponse:
    """ACLs are not kept: every bucket and object is private to its owner (MinIO answers the same grant)."""
    if rq.op.key:
        await rq.core.get_record(rq.op.bucket, rq.op.key, rq.op.version_id)
    else:
        await rq.core.bucket(rq.op.bucket)
    return xml_response(_acl_xml())


async def put_acl(rq: Request) -> web.StreamResponse:
    """Only the canned "private" ACL can be set (MinIO's rule); anything else is NotImplemented."""
    if rq.op.key:
        await rq.core.get_record(rq.op.bucket, rq.op.key, rq.op.version_id)
    else:
        await rq.core.bucket(rq.op.bucket)
    body = await rq.read_body()
    if (rq.header("x-amz-acl") or "private") != "private" or (body.strip() and b"FULL_CONTROL" not in body):
        raise S3Error("NotImplemented")
    return web.Response(status=200)

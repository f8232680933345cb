"""MinIO's bucket-target admin API (madmin SetRemoteTarget / ListRemoteTargets /
RemoveRemoteTarget), for ``mc replicate add`` and ``mc admin bucket remote``: the same
remote targets as ``s3gw admin replicate add`` (core/replication.py).

    PUT    /minio/admin/v3/set-remote-target?bucket=     body: madmin.BucketTarget, sealed
           with the caller's secret -> the target's ARN as a JSON string (admin:SetBucketTarget)
    GET    /minio/admin/v3/list-remote-targets?bucket=&type=  [BucketTarget] without secrets
                                                                         (admin:GetBucketTarget)
    DELETE /minio/admin/v3/remove-remote-target?bucket=&arn=   204      (admin:SetBucketTarget)

Updating a target (``?update=true``: mc's ``replicate update`` / ``remote edit``) is not
built: remove it and add it again.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from ..core.iam import Principal
from ..core.replication import Target
from .admin import BAD_JSON, AdminError
from .app import CORE
from .madmin import ROUTES, _open
from .observe import AUDIT_INFO

log = logging.getLogger(__name__)


def bucket_target(t: Target) -> dict[str, Any]:
    """A target as madmin.BucketTarget, without its secret."""
    secure = t.endpoint.startswith("https://")
    return {
        "sourcebucket": t.bucket,
        "endpoint": t.endpoint.split("://", 1)[1],
        "credentials": {"accessKey": t.access_key, "secretKey": "", "expiration": "0001-01-01T00:00:00Z"},
        "targetbucket": t.target_bucket,
        "secure": secure,
        "arn": t.arn,
        "type": "replication",
        "region": t.region,
        "replicationSync": False,
        "disableProxy": False,
        "totalDowntime": 0,
        "lastOnline": "0001-01-01T00:00:00Z",
        "isOnline": True,
        "latency": {"curr": 0, "avg": 0, "max": 0},
    }


def _bucket(request: web.Request) -> str:
    bucket = request.query.get("bucket", "")
    if not bucket:
        raise AdminError("XMinioAdminInvalidArgument", "bucket is required")
    request[AUDIT_INFO].update(target=bucket)
    return bucket


@ROUTES.route("PUT", "/set-remote-target", "admin:SetBucketTarget")
async def set_remote_target(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    bucket = _bucket(request)
    if request.query.get("update") == "true":
        raise AdminError("NotImplemented", "updating a remote target is not supported: remove it and add it again", 501)
    try:
        doc = json.loads(await _open(principal.secret_key, body))
    except (ValueError, RecursionError):
        raise AdminError(*BAD_JSON) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("credentials") or {}, dict):
        raise AdminError(*BAD_JSON)
    if doc.get("type", "replication") != "replication":
        raise AdminError("XMinioAdminRemoteArnTypeInvalid", "The bucket remote ARN type is not valid")
    creds = doc.get("credentials") or {}
    fields = (doc.get("endpoint"), doc.get("targetbucket"), creds.get("accessKey"), creds.get("secretKey"))
    if not all(isinstance(f, str) for f in fields) or not isinstance(doc.get("region", ""), str):
        raise AdminError(*BAD_JSON)
    endpoint, target_bucket, access_key, secret = (str(f) for f in fields)
    scheme = "https" if doc.get("secure") else "http"
    t = await request.app[CORE].add_replication_target(
        bucket, f"{scheme}://{endpoint}", target_bucket, access_key, secret, str(doc.get("region", ""))
    )
    log.warning("replication target %s added to %s by %s (madmin)", t.arn, bucket, principal.access_key)
    return web.json_response(t.arn)


@ROUTES.route("GET", "/list-remote-targets", "admin:GetBucketTarget")
async def list_remote_targets(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    bucket = request.query.get("bucket") or None
    kind = request.query.get("type", "")
    core = request.app[CORE]
    if bucket is not None:
        await core.bucket(bucket)  # NoSuchBucket
    targets = [] if kind not in ("", "replication") else await core.replication_targets(bucket)
    return web.json_response([bucket_target(t) for t in targets])


@ROUTES.route("DELETE", "/remove-remote-target", "admin:SetBucketTarget")
async def remove_remote_target(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    bucket = _bucket(request)
    arn = request.query.get("arn", "")
    await request.app[CORE].remove_replication_target(bucket, arn)
    log.warning("replication target %s of %s removed by %s (madmin)", arn, bucket, principal.access_key)
    return web.Response(status=204)

"""Every admin surface of the KMS, through the one admin path (``admin.py``):

MinIO's KMS API that ``mc admin kms key status|list`` speaks (madmin-go's ``kms-commands.go``,
MinIO's ``cmd/kms-handlers.go``)::

    GET  /minio/kms/v1/status                  {"name", "default-key-id", "endpoints", "state"}  (kms:Status)
    GET  /minio/kms/v1/key/status?key-id=      {"key-id", "encryption-error", "decryption-error"} (kms:KeyStatus)
    GET  /minio/kms/v1/key/list?pattern=       [{"name", "createdAt", "createdBy"}]              (kms:ListKeys)

MinIO's older admin paths (``/minio/admin/v3/kms/status``, ``/kms/key/status``: admin:KMSKeyStatus),
and s3gw's own (``s3gw admin kms status|rotate``)::

    GET  /minio/admin/s3gw/v1/kms/status?key=  a key's versions, their age, objects each protects (admin:KMSKeyStatus)
    POST /minio/admin/s3gw/v1/kms/rotate?key=  a new version, current from now on                 (admin:KMSCreateKey)

With no KMS configured every one answers MinIO's 501 NotImplemented "... KMS is not configured"
(after authenticating and authorising the caller, as MinIO does).
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from ..core.iam import Principal
from . import madmin, s3gw_admin
from .admin import KEYS, KMS_ROUTES, AdminError
from .observe import AUDIT_INFO

#: a key id named in a query: bounded, printable
MAX_KEY_ID = 2048


def _key_arg(request: web.Request, name: str) -> str | None:
    key = request.query.get(name, "")
    if len(key) > MAX_KEY_ID or not key.isprintable():
        raise AdminError("XMinioAdminInvalidArgument", f"{name}: not a key id")
    request[AUDIT_INFO].update(target=key or "(default key)")
    return key or None


# --------------------------------------------------------------------------- MinIO's KMS API


@KMS_ROUTES.route("GET", "/status", "kms:Status")
async def kms_status(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    return web.json_response(request.app[KEYS].describe())


@KMS_ROUTES.route("GET", "/key/status", "kms:KeyStatus")
async def kms_key_status(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    """MinIO's KMSKeyStatusHandler: make a data key with the key and open it again; what failed is
    in the answer (200), as MinIO reports it."""
    return web.json_response(await request.app[KEYS].check(_key_arg(request, "key-id")))


@KMS_ROUTES.route("GET", "/key/list", "kms:ListKeys")
async def kms_key_list(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    """The keys whose status can be asked (built-in: every master key; AWS KMS: the default key)."""
    keys = request.app[KEYS]
    pattern = request.query.get("pattern", "").rstrip("*")
    out = []
    for name in keys.key_names():
        if name.startswith(pattern):
            st = await keys.status(name)
            created = st["versions"][0]["created"] if st["versions"] else None
            when = datetime.fromtimestamp(created or 0, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            out.append({"name": name, "createdAt": when, "createdBy": ""})
    return web.json_response(out)


# --------------------------------------------------------------------------- MinIO's older admin paths


@madmin.ROUTES.route("POST", "/kms/status", "admin:KMSKeyStatus")
async def admin_kms_status(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    return web.json_response(request.app[KEYS].describe())


@madmin.ROUTES.route("GET", "/kms/key/status", "admin:KMSKeyStatus")
async def admin_kms_key_status(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    return web.json_response(await request.app[KEYS].check(_key_arg(request, "key-id")))


@madmin.ROUTES.route("POST", "/kms/key/create", "admin:KMSCreateKey")
async def admin_kms_key_create(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    request.app[KEYS].key_id(None)  # 501 when no KMS is configured
    raise AdminError("NotImplemented", "kms: creating keys is not supported: add a master key to the key file", 501)


# --------------------------------------------------------------------------- s3gw admin kms


@s3gw_admin.ROUTES.route("GET", "/kms/status", "admin:KMSKeyStatus")
async def s3gw_kms_status(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    return web.json_response(await request.app[KEYS].status(_key_arg(request, "key")))


@s3gw_admin.ROUTES.route("POST", "/kms/rotate", "admin:KMSCreateKey")
async def s3gw_kms_rotate(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    return web.json_response(await request.app[KEYS].rotate(_key_arg(request, "key")))

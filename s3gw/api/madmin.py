"""The subset of MinIO's admin API (``/minio/admin/v3``) that ``mc`` uses for
the runbooks' commands: ``mc admin info``, ``mc ping``, ``mc admin heal``,
``mc admin user ...``, ``mc admin policy ...``.

Wire formats follow madmin-go (the client library inside mc) and MinIO's
``cmd/admin-handlers*.go``: JSON documents, MinIO's JSON error document,
and the bodies madmin encrypts (add-user, list-users, policy attach/detach)
sealed with the caller's secret key (``madmin_crypto``). Argon2id is slow on
purpose, so sealing and opening run in a thread.

Permissions are MinIO's admin actions (``admin:CreateUser``, ...): root, and
users whose policies allow them (``consoleAdmin`` allows ``admin:*``). Each
route names its action in ``ROUTES``; ``admin.add_routes`` serves the table
through the one admin authentication and error path (``admin.py``). Heal
sequences (``mc admin heal -r``) run in the core (``core/repair.py``); this
module only renders their typed results as madmin's JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..common.version import VERSION as PACKAGE_VERSION
from ..core.iam import DISABLED, ENABLED, Principal
from ..core.repair import HealItem
from . import madmin_crypto
from .admin import BAD_JSON, AdminError, Routes
from .app import CORE, IAM, OPS, REPAIR, SETTINGS
from .observe import AUDIT_INFO

PREFIX = "/minio/admin/v3"
VERSION = f"s3gw-{PACKAGE_VERSION}"  # what mc admin info shows as the server version

ROUTES = Routes(PREFIX)


def _rfc3339(ts: float | None) -> str:
    if not ts:
        return "0001-01-01T00:00:00Z"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def _seal(password: str, data: bytes) -> bytes:
    return await asyncio.to_thread(madmin_crypto.encrypt_data, password, data)


async def _open(password: str, data: bytes) -> bytes:
    try:
        return await asyncio.to_thread(madmin_crypto.decrypt_data, password, data)
    except madmin_crypto.DecryptError:
        raise AdminError(*BAD_JSON) from None


# --------------------------------------------------------------------------- info


def _drive(d: Any, index: int, endpoint: str) -> dict[str, Any]:
    return {
        "endpoint": endpoint,
        "path": d.id,
        "state": "ok" if d.online else "offline",
        "uuid": d.id,
        "totalspace": d.total,
        "usedspace": d.used,
        "availspace": d.free,
        "major": 0,
        "minor": 0,
        "used_inodes": 0,
        "pool_index": 0,
        "set_index": 0,
        "disk_index": index,
    }


@ROUTES.route("GET", "/info", "admin:ServerInfo")
async def server_info(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    ops, settings = request.app[OPS], request.app[SETTINGS]
    st = await ops.probe.get()
    usage = await ops.usage.get()
    host = request.host
    scheme = request.scheme
    uptime = int(time.time() - ops.started)
    node_of: dict[str, list[tuple[int, Any]]] = {}
    for i, d in enumerate(st.drives):
        node_of.setdefault(d.node, []).append((i, d))
    servers = []
    embedded = ops.embedded
    network = {
        host: "online",
        **{_hostport(n["url"]): "online" if n["online"] else "offline" for n in st.nodes if not embedded},
    }
    gateway: dict[str, Any] = {
        "state": "online",
        "endpoint": host,
        "scheme": scheme,
        "uptime": uptime,
        "version": VERSION,
        "commitID": "s3gw",
        "network": network,
        "edition": "s3gw",
        "mem_stats": _mem(),
        "num_cpu": os.cpu_count() or 1,
        "runtime_version": f"python {platform.python_version()}",
        "drives": [_drive(d, i, host) for i, d in node_of.get("local", [])] if embedded else [],
        "poolNumber": 1,
        "poolNumbers": [1],
    }
    servers.append(gateway)
    if not embedded:
        for n in st.nodes:
            ep = _hostport(n["url"])
            servers.append(
                {
                    "state": "online" if n["online"] else "offline",
                    "endpoint": ep,
                    "scheme": n["url"].split("://", 1)[0],
                    "uptime": uptime if n["online"] else 0,
                    "version": VERSION,
                    "commitID": "s3gw-node",
                    "network": {ep: "online" if n["online"] else "offline"},
                    "edition": "s3gw-node",
                    "mem_stats": {"Alloc": 0, "TotalAlloc": 0, "Mallocs": 0, "Frees": 0, "HeapAlloc": 0},
                    "drives": [_drive(d, i, ep) for i, d in node_of.get(n["id"], [])],
                    "poolNumber": 1,
                    "poolNumbers": [1],
                }
            )
    online = st.drives_online
    doc = {
        "mode": "online",
        "region": settings.region,
        "deploymentID": ops.deployment_id,
        "buckets": {"count": len(usage)},
        "objects": {"count": sum(u["objects"] for u in usage.values())},
        "versions": {"count": sum(u["versions"] for u in usage.values())},
        "deletemarkers": {"count": sum(u["delete_markers"] for u in usage.values())},
        "usage": {"size": sum(u["bytes"] for u in usage.values())},
        "services": {},
        "sqsARN": request.app[CORE].notification_targets(),  # bucket-notification targets (mc event add)
        "backend": {
            "backendType": "Erasure",
            "onlineDisks": online,
            "offlineDisks": len(st.drives) - online,
            "standardSCParity": st.m,
            "rrSCParity": st.m,
            "totalSets": [1],
            "totalDrivesPerSet": [len(st.drives)],
        },
        "servers": servers,
        "pools": {
            "0": {
                "0": {
                    "id": 0,
                    "rawUsage": sum(d.used for d in st.drives),
                    "rawCapacity": sum(d.total for d in st.drives),
                    "usage": sum(u["bytes"] for u in usage.values()),
                    "objectsCount": sum(u["objects"] for u in usage.values()),
                    "versionsCount": sum(u["versions"] for u in usage.values()),
                    "deleteMarkersCount": sum(u["delete_markers"] for u in usage.values()),
                    "healDisks": 0,
                }
            }
        },
    }
    return web.json_response(doc)


def _hostport(url: str) -> str:
    return url.split("://", 1)[-1].rstrip("/")


def _mem() -> dict[str, int]:
    try:
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    except Exception:
        rss = 0
    return {"Alloc": rss, "TotalAlloc": rss, "Mallocs": 0, "Frees": 0, "HeapAlloc": rss}


# --------------------------------------------------------------------------- users


@ROUTES.route("PUT", "/add-user", "admin:CreateUser", self_service=True)
async def add_user(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    """MinIO's AddUser: create a user or set an existing one's secret and status.

    A caller without ``admin:CreateUser`` gets here only for itself
    (self-service), and may then change its own secret and nothing else:
    asking for a policy or another status is AccessDenied (MinIO ignores the
    policy field altogether and lets a user disable itself). s3gw's add-user
    also takes a policy list (``s3gw admin user add --policy``): attaching
    policies needs ``admin:AttachUserOrGroupPolicy`` too, so ``admin:CreateUser``
    alone cannot mint an administrator.
    """
    access_key = request.query.get("accessKey", "")
    request[AUDIT_INFO].update(action="admin:CreateUser", target=access_key)
    iam = request.app[IAM]
    if access_key == iam.root.access_key:
        raise AdminError("XMinioAdminInvalidArgument", "Invalid arguments specified.")
    doc = await _open(principal.secret_key, body)
    try:
        req = json.loads(doc)
        status = req.get("status") or ENABLED
        secret = req.get("secretKey") or None
        policy = req.get("policy")
    except (ValueError, AttributeError, RecursionError):  # RecursionError: nesting past the stack
        raise AdminError(*BAD_JSON) from None
    policies = [p for p in policy.split(",") if p] if isinstance(policy, str) and policy else None
    if policy is not None and not isinstance(policy, str):
        raise AdminError(*BAD_JSON)
    if not await iam.allowed(principal, "admin:CreateUser"):
        # self-service: the caller is enabled (it signed this request), so "enabled" changes nothing
        if policies is not None or status != ENABLED:
            raise AdminError("AccessDenied", "Access Denied.", 403)
    elif policies is not None and not await iam.allowed(principal, "admin:AttachUserOrGroupPolicy"):
        raise AdminError("AccessDenied", "Access Denied.", 403)
    await iam.add_user(access_key, secret, status=status, policies=policies)
    return web.Response(status=200)


@ROUTES.route("GET", "/list-users", "admin:ListUsers")
async def list_users(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    users = await request.app[IAM].list_users()
    doc = {
        u.access_key: {"policyName": ",".join(u.policies), "status": u.status, "updatedAt": _rfc3339(u.updated)}
        for u in users
    }
    for v in doc.values():
        if not v["policyName"]:
            del v["policyName"]
    return web.Response(
        body=await _seal(principal.secret_key, json.dumps(doc).encode()), content_type="application/octet-stream"
    )


@ROUTES.route("GET", "/user-info", "admin:GetUser", self_service=True)
async def user_info(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    u = await request.app[IAM].get_user(request.query.get("accessKey", ""))
    doc: dict[str, Any] = {"status": u.status, "updatedAt": _rfc3339(u.updated), "userAuthInfo": {"type": "builtin"}}
    if u.policies:
        doc["policyName"] = ",".join(u.policies)
    if u.groups:
        doc["memberOf"] = u.groups
    return web.json_response(doc)


def _status_action(request: web.Request) -> str:
    return "admin:EnableUser" if request.query.get("status", "") == ENABLED else "admin:DisableUser"


@ROUTES.route("PUT", "/set-user-status", _status_action)
async def set_user_status(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    status = request.query.get("status", "")
    access_key = request.query.get("accessKey", "")
    request[AUDIT_INFO].update(target=access_key, detail=status)
    if status not in (ENABLED, DISABLED):
        raise AdminError("XMinioAdminInvalidArgument", "Invalid arguments specified.")
    if access_key == request.app[IAM].root.access_key:
        raise AdminError("InvalidRequest", "Invalid Request")
    await request.app[IAM].set_status(access_key, status)
    return web.Response(status=200)


@ROUTES.route("DELETE", "/remove-user", "admin:DeleteUser")
async def remove_user(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    access_key = request.query.get("accessKey", "")
    request[AUDIT_INFO].update(target=access_key)
    await request.app[IAM].remove_user(access_key)
    return web.Response(status=200)


# --------------------------------------------------------------------------- policies


@ROUTES.route("GET", "/list-canned-policies", "admin:ListUserPolicies")
async def list_canned_policies(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    return web.json_response(await request.app[IAM].list_policies())


@ROUTES.route("GET", "/info-canned-policy", "admin:GetPolicy")
async def info_canned_policy(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    name = request.query.get("name", "")
    doc = await request.app[IAM].get_policy(name)
    if request.query.get("v") == "2":
        return web.json_response({"PolicyName": name, "Policy": doc})
    return web.json_response(doc)


@ROUTES.route("PUT", "/add-canned-policy", "admin:CreatePolicy")
async def add_canned_policy(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    name = request.query.get("name", "")
    request[AUDIT_INFO].update(target=name)
    if not body:
        raise AdminError("XMinioAdminInvalidArgument", "policy input cannot be empty")
    await request.app[IAM].put_policy(name, body)
    return web.Response(status=200)


@ROUTES.route("DELETE", "/remove-canned-policy", "admin:DeletePolicy")
async def remove_canned_policy(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    name = request.query.get("name", "")
    request[AUDIT_INFO].update(target=name)
    await request.app[IAM].remove_policy(name)
    return web.Response(status=200)


@ROUTES.route("PUT", "/set-user-or-group-policy", "admin:AttachUserOrGroupPolicy")
async def set_user_policy(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    user = request.query.get("userOrGroup", "")
    names = [p for p in request.query.get("policyName", "").split(",") if p]
    request[AUDIT_INFO].update(target=user, detail=",".join(names))
    if request.query.get("isGroup") == "true":
        await request.app[IAM].set_group_policies(user, names)
    else:
        await request.app[IAM].set_policies(user, names)
    return web.Response(status=200)


def _policy_assoc(attach: bool) -> Any:
    async def handler(request: web.Request, principal: Principal, body: bytes) -> web.Response:
        try:
            req = json.loads(await _open(principal.secret_key, body))
            policies = req.get("policies") or []
            if not isinstance(policies, list):  # madmin's PolicyAssociationReq: Policies []string
                raise ValueError("policies is not a list")
            names = [str(p) for p in policies]
            user = str(req.get("user") or "")
            group = str(req.get("group") or "")
        except (ValueError, AttributeError, RecursionError):
            raise AdminError(*BAD_JSON) from None
        request[AUDIT_INFO].update(target=user or group, detail=("attach " if attach else "detach ") + ",".join(names))
        if not names or bool(user) == bool(group):  # one of user or group (madmin's IsValid)
            raise AdminError("XMinioAdminInvalidArgument", "Invalid arguments specified.")
        iam = request.app[IAM]
        if group:
            changed = await (iam.attach_group(group, names) if attach else iam.detach_group(group, names))
        else:
            changed = await (iam.attach(user, names) if attach else iam.detach(user, names))
        resp = {("policiesAttached" if attach else "policiesDetached"): changed, "updatedAt": _rfc3339(time.time())}
        return web.Response(
            body=await _seal(principal.secret_key, json.dumps(resp).encode()), content_type="application/octet-stream"
        )

    handler.__name__ = "policy_attach" if attach else "policy_detach"
    return handler


ROUTES.route("POST", "/idp/builtin/policy/attach", "admin:AttachUserOrGroupPolicy")(_policy_assoc(True))
ROUTES.route("POST", "/idp/builtin/policy/detach", "admin:AttachUserOrGroupPolicy")(_policy_assoc(False))


# --------------------------------------------------------------------------- heal


def _heal_item(item: HealItem) -> dict[str, Any]:
    """madmin's HealResultItem for one version (the drives' states come from the core)."""
    before = [{"uuid": "", "endpoint": d.endpoint, "state": d.before} for d in item.drives]
    after = [{"uuid": "", "endpoint": d.endpoint, "state": d.after} for d in item.drives]
    return {
        "resultId": item.result_id,
        "type": "object",
        "bucket": item.bucket,
        "object": item.key,
        "versionId": "" if item.version_id == "null" else item.version_id,
        "detail": item.detail,
        "parityBlocks": item.parity_blocks,
        "dataBlocks": item.data_blocks,
        "diskCount": len(item.drives),
        "setCount": 1,
        "before": {"drives": before},
        "after": {"drives": after},
        "objectSize": item.size,
    }


@ROUTES.route("POST", "/heal/{path:.*}", "admin:Heal")
async def heal(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    """MinIO's HealHandler: start a sequence (``mc admin heal -r``), poll it by
    ``clientToken``, or stop it (``forceStop``); the walk runs in the core."""
    path = request.match_info.get("path", "")
    bucket, _, prefix = path.partition("/")
    repair = request.app[REPAIR]
    token = request.query.get("clientToken")
    key = f"{bucket}/{prefix}"
    if token:
        seq = repair.heal_sequence(token)
        if seq is None:
            raise AdminError("XMinioHealNoSuchProcess", "No such heal process is running on the server", 400)
        items = seq.take_items()
        status = seq.status if seq.status != "running" or items else "running"
        return web.json_response(
            {
                "summary": status,
                "detail": seq.detail,
                "startTime": _rfc3339(seq.started),
                "settings": seq.client_settings,
                "items": [_heal_item(i) for i in items],
            }
        )
    running = repair.running_sequences(bucket, prefix)
    if request.query.get("forceStop") == "true":
        for s in running:
            s.stop()
        return web.json_response(
            {
                "clientToken": running[0].token if running else "",
                "clientAddress": request.remote or "",
                "startTime": _rfc3339(time.time()),
            }
        )
    if running and request.query.get("forceStart") != "true":
        raise AdminError("XMinioHealAlreadyRunning", f"Heal is already running on {key}", 400)
    for s in running:
        s.stop()
    if bucket and not await request.app[CORE].bucket_exists(bucket):
        raise AdminError("NoSuchBucket", "The specified bucket does not exist", 404)
    try:
        settings = json.loads(body) if body else {}
    except (ValueError, RecursionError):
        raise AdminError(*BAD_JSON) from None
    if not isinstance(settings, dict):  # madmin's HealOpts is an object
        raise AdminError(*BAD_JSON)
    request[AUDIT_INFO].update(target=key, detail=json.dumps(settings))
    seq = repair.start_sequence(
        bucket,
        prefix,
        deep=settings.get("scanMode") == 2,
        dry_run=bool(settings.get("dryRun")),
        client_settings=settings,
    )
    return web.json_response(
        {"clientToken": seq.token, "clientAddress": request.remote or "", "startTime": _rfc3339(seq.started)}
    )


@ROUTES.route("POST", "/background-heal/status", "admin:Heal")
async def background_heal_status(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    st = await request.app[OPS].probe.get()
    repair = request.app.get(REPAIR)
    last = repair.last_scan.scanned if repair is not None and repair.last_scan else 0
    disks = [
        {**_drive(d, i, d.node), "endpoint": d.node, "state": "ok" if d.online else "offline"}
        for i, d in enumerate(st.drives)
    ]
    doc = {
        "offline_nodes": [n["url"] for n in st.nodes if not n["online"]],
        "ScannedItemsCount": last,
        "HealDisks": [],
        "sets": [
            {
                "id": "0",
                "pool_index": 0,
                "set_index": 0,
                "heal_status": "",
                "heal_priority": "",
                "total_objects": 0,
                "disks": disks,
            }
        ],
        "mrf": {},
        "sc_parity": {"STANDARD": st.m, "REDUCED_REDUNDANCY": st.m},
    }
    return web.json_response(doc)

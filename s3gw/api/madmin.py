"""The subset of MinIO's admin API (``/minio/admin/v3``) that ``mc`` uses for
the runbooks' commands: ``mc admin info``, ``mc ping``, ``mc admin heal``,
``mc admin user ...``, ``mc admin policy ...``.

Wire formats follow madmin-go (the client library inside mc) and MinIO's
``cmd/admin-handlers*.go``: JSON documents, MinIO's JSON error document,
and the bodies madmin encrypts (add-user, list-users, policy attach/detach)
sealed with the caller's secret key (``madmin_crypto``). Argon2id is slow on
purpose, so sealing and opening run in a thread.

Permissions are MinIO's admin actions (``admin:CreateUser``, ...): root, and
users whose policies allow them (``consoleAdmin`` allows ``admin:*``).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from ..common.version import VERSION as PACKAGE_VERSION
from ..core import MetaUnavailable
from ..core.iam import DISABLED, ENABLED, IamError, Principal
from ..core.ops import walk_versions
from ..core.repair import Repair
from . import madmin_crypto
from .admin import REPAIR
from .app import CORE, IAM, OPS, SETTINGS, TELEMETRY
from .observe import AUDIT_INFO
from .ops import ADMIN_V1, AdminError, admin_auth, admin_error_response, read_body

PREFIX = "/minio/admin/v3"
HEALS = web.AppKey("madmin_heals", dict)
DEPLOYMENT_ID = web.AppKey("deployment_id", str)
VERSION = f"s3gw-{PACKAGE_VERSION}"     # what mc admin info shows as the server version

_STATUS = {"XMinioAdminNoSuchUser": 404, "XMinioAdminNoSuchPolicy": 404}


def _rfc3339(ts: float | None) -> str:
    if not ts:
        return "0001-01-01T00:00:00Z"
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def _seal(password: str, data: bytes) -> bytes:
    return await asyncio.to_thread(madmin_crypto.encrypt_data, password, data)


async def _open(password: str, data: bytes) -> bytes:
    try:
        return await asyncio.to_thread(madmin_crypto.decrypt_data, password, data)
    except madmin_crypto.DecryptError:
        raise AdminError("XMinioAdminConfigBadJSON", "JSON configuration provided is of incorrect format") from None


def route(action: str, *, self_service: bool = False):
    """An admin handler ``(request, principal, body)`` for callers allowed ``action``;
    ``self_service``: also for a user acting on itself (``?accessKey=`` is the
    verified caller's own key), as MinIO lets a user read its own info and
    change its own secret (``admin_auth``)."""

    def wrap(fn: Any) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                body = await read_body(request) if request.method in ("PUT", "POST") else b""
                target = request.query.get("accessKey", "") if self_service else ""
                principal = await admin_auth(request, action, body, target, self_service=self_service)
                return await fn(request, principal, body)
            except AdminError as e:
                return admin_error_response(request, e)
            except IamError as e:
                return admin_error_response(request, AdminError(e.code, e.message or e.code,
                                                                _STATUS.get(e.code, 400)))
            except MetaUnavailable as e:
                return admin_error_response(request, AdminError("XMinioServerNotInitialized",
                                                                f"metadata store unavailable: {e}", 503))

        handler.__name__ = fn.__name__
        return handler

    return wrap


# --------------------------------------------------------------------------- info


def _drive(d: Any, index: int, endpoint: str) -> dict[str, Any]:
    return {"endpoint": endpoint, "path": d.id, "state": "ok" if d.online else "offline", "uuid": d.id,
            "totalspace": d.total, "usedspace": d.used, "availspace": d.free, "major": 0, "minor": 0,
            "used_inodes": 0, "pool_index": 0, "set_index": 0, "disk_index": index}


@route("admin:ServerInfo")
async def server_info(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    core, ops, settings = request.app[CORE], request.app[OPS], request.app[SETTINGS]
    st = await ops.probe.get()
    usage = await ops.usage.get()
    host = request.host
    scheme = request.scheme
    uptime = int(time.time() - ops.started)
    node_of: dict[str, list[tuple[int, Any]]] = {}
    for i, d in enumerate(st.drives):
        node_of.setdefault(d.node, []).append((i, d))
    servers = []
    embedded = core.storage.cluster is None
    network = {host: "online", **{_hostport(n["url"]): "online" if n["online"] else "offline"
                                  for n in st.nodes if not embedded}}
    gateway: dict[str, Any] = {
        "state": "online", "endpoint": host, "scheme": scheme, "uptime": uptime, "version": VERSION,
        "commitID": "s3gw", "network": network, "edition": "s3gw", "mem_stats": _mem(),
        "num_cpu": os.cpu_count() or 1, "runtime_version": f"python {platform.python_version()}",
        "drives": [_drive(d, i, host) for i, d in node_of.get("local", [])] if embedded else [],
        "poolNumber": 1, "poolNumbers": [1],
    }
    servers.append(gateway)
    if not embedded:
        for n in st.nodes:
            ep = _hostport(n["url"])
            servers.append({
                "state": "online" if n["online"] else "offline", "endpoint": ep,
                "scheme": n["url"].split("://", 1)[0], "uptime": uptime if n["online"] else 0,
                "version": VERSION, "commitID": "s3gw-node", "network": {ep: "online" if n["online"] else "offline"},
                "edition": "s3gw-node", "mem_stats": {"Alloc": 0, "TotalAlloc": 0, "Mallocs": 0, "Frees": 0,
                                                      "HeapAlloc": 0},
                "drives": [_drive(d, i, ep) for i, d in node_of.get(n["id"], [])],
                "poolNumber": 1, "poolNumbers": [1],
            })
    online = st.drives_online
    doc = {
        "mode": "online", "region": settings.region, "deploymentID": request.app[DEPLOYMENT_ID],
        "buckets": {"count": len(usage)}, "objects": {"count": sum(u["objects"] for u in usage.values())},
        "versions": {"count": sum(u["versions"] for u in usage.values())},
        "deletemarkers": {"count": sum(u["delete_markers"] for u in usage.values())},
        "usage": {"size": sum(u["bytes"] for u in usage.values())},
        "services": {},
        "backend": {"backendType": "Erasure", "onlineDisks": online, "offlineDisks": len(st.drives) - online,
                    "standardSCParity": st.m, "rrSCParity": st.m, "totalSets": [1],
                    "totalDrivesPerSet": [len(st.drives)]},
        "servers": servers,
        "pools": {"0": {"0": {"id": 0, "rawUsage": sum(d.used for d in st.drives),
                              "rawCapacity": sum(d.total for d in st.drives),
                              "usage": sum(u["bytes"] for u in usage.values()),
                              "objectsCount": sum(u["objects"] for u in usage.values()),
                              "versionsCount": sum(u["versions"] for u in usage.values()),
                              "deleteMarkersCount": sum(u["delete_markers"] for u in usage.values()),
                              "healDisks": 0}}},
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


@route("admin:CreateUser", self_service=True)
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
    except (ValueError, AttributeError, RecursionError):   # RecursionError: nesting past the stack
        raise AdminError("XMinioAdminConfigBadJSON", "JSON configuration provided is of incorrect format") from None
    policies = [p for p in policy.split(",") if p] if isinstance(policy, str) and policy else None
    if policy is not None and not isinstance(policy, str):
        raise AdminError("XMinioAdminConfigBadJSON", "JSON configuration provided is of incorrect format")
    if not await iam.allowed(principal, "admin:CreateUser"):
        # self-service: the caller is enabled (it signed this request), so "enabled" changes nothing
        if policies is not None or status != ENABLED:
            raise AdminError("AccessDenied", "Access Denied.", 403)
    elif policies is not None and not await iam.allowed(principal, "admin:AttachUserOrGroupPolicy"):
        raise AdminError("AccessDenied", "Access Denied.", 403)
    await iam.add_user(access_key, secret, status=status, policies=policies)
    return web.Response(status=200)


@route("admin:ListUsers")
async def list_users(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    users = await request.app[IAM].list_users()
    doc = {u.access_key: {"policyName": ",".join(u.policies), "status": u.status, "updatedAt": _rfc3339(u.updated)}
           for u in users}
    for v in doc.values():
        if not v["policyName"]:
            del v["policyName"]
    return web.Response(body=await _seal(principal.secret_key, json.dumps(doc).encode()),
                        content_type="application/octet-stream")


@route("admin:GetUser", self_service=True)
async def user_info(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    u = await request.app[IAM].get_user(request.query.get("accessKey", ""))
    doc: dict[str, Any] = {"status": u.status, "updatedAt": _rfc3339(u.updated),
                           "userAuthInfo": {"type": "builtin"}}
    if u.policies:
        doc["policyName"] = ",".join(u.policies)
    return web.json_response(doc)


async def set_user_status(request: web.Request) -> web.StreamResponse:
    status = request.query.get("status", "")
    action = "admin:EnableUser" if status == ENABLED else "admin:DisableUser"

    @route(action)
    async def inner(request: web.Request, principal: Principal, body: bytes) -> web.Response:
        access_key = request.query.get("accessKey", "")
        request[AUDIT_INFO].update(target=access_key, detail=status)
        if status not in (ENABLED, DISABLED):
            raise AdminError("XMinioAdminInvalidArgument", "Invalid arguments specified.")
        if access_key == request.app[IAM].root.access_key:
            raise AdminError("InvalidRequest", "Invalid Request")
        await request.app[IAM].set_status(access_key, status)
        return web.Response(status=200)

    return await inner(request)


@route("admin:DeleteUser")
async def remove_user(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    access_key = request.query.get("accessKey", "")
    request[AUDIT_INFO].update(target=access_key)
    await request.app[IAM].remove_user(access_key)
    return web.Response(status=200)


# --------------------------------------------------------------------------- policies


@route("admin:ListUserPolicies")
async def list_canned_policies(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    return web.json_response(await request.app[IAM].list_policies())


@route("admin:GetPolicy")
async def info_canned_policy(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    name = request.query.get("name", "")
    doc = await request.app[IAM].get_policy(name)
    if request.query.get("v") == "2":
        return web.json_response({"PolicyName": name, "Policy": doc})
    return web.json_response(doc)


@route("admin:CreatePolicy")
async def add_canned_policy(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    name = request.query.get("name", "")
    request[AUDIT_INFO].update(target=name)
    if not body:
        raise AdminError("XMinioAdminInvalidArgument", "policy input cannot be empty")
    await request.app[IAM].put_policy(name, body)
    return web.Response(status=200)


@route("admin:DeletePolicy")
async def remove_canned_policy(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    name = request.query.get("name", "")
    request[AUDIT_INFO].update(target=name)
    await request.app[IAM].remove_policy(name)
    return web.Response(status=200)


@route("admin:AttachUserOrGroupPolicy")
async def set_user_policy(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    user = request.query.get("userOrGroup", "")
    names = [p for p in request.query.get("policyName", "").split(",") if p]
    request[AUDIT_INFO].update(target=user, detail=",".join(names))
    if request.query.get("isGroup") == "true":
        raise AdminError("XMinioAdminInvalidArgument", "s3gw has no groups")
    await request.app[IAM].set_policies(user, names)
    return web.Response(status=200)


def _policy_assoc(attach: bool) -> Any:
    @route("admin:AttachUserOrGroupPolicy")
    async def handler(request: web.Request, principal: Principal, body: bytes) -> web.Response:
        try:
            req = json.loads(await _open(principal.secret_key, body))
            names = [str(p) for p in req.get("policies") or []]
            user = str(req.get("user") or "")
        except (ValueError, AttributeError, RecursionError):
            raise AdminError("XMinioAdminConfigBadJSON", "JSON configuration provided is of incorrect format") \
                from None
        request[AUDIT_INFO].update(target=user, detail=("attach " if attach else "detach ") + ",".join(names))
        if req.get("group"):
            raise AdminError("XMinioAdminInvalidArgument", "s3gw has no groups")
        if not names or not user:
            raise AdminError("XMinioAdminInvalidArgument", "Invalid arguments specified.")
        iam = request.app[IAM]
        changed = await (iam.attach(user, names) if attach else iam.detach(user, names))
        resp = {("policiesAttached" if attach else "policiesDetached"): changed,
                "updatedAt": _rfc3339(time.time())}
        return web.Response(body=await _seal(principal.secret_key, json.dumps(resp).encode()),
                            content_type="application/octet-stream")

    handler.__name__ = "policy_attach" if attach else "policy_detach"
    return handler


# --------------------------------------------------------------------------- heal


@dataclass
class HealSequence:
    """One ``mc admin heal -r`` run: walked in a task, items collected until polled."""

    token: str
    bucket: str
    prefix: str
    settings: dict[str, Any]
    started: float = field(default_factory=time.time)
    items: list[dict[str, Any]] = field(default_factory=list)
    status: str = "running"          # running / finished / stopped
    detail: str = ""
    count: int = 0
    task: asyncio.Task | None = None
    done_at: float | None = None


def _drives(placement: list[str], k: int, m: int, states_before: list[str], states_after: list[str]
            ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    before = [{"uuid": "", "endpoint": d, "state": s} for d, s in zip(placement, states_before)]
    after = [{"uuid": "", "endpoint": d, "state": s} for d, s in zip(placement, states_after)]
    return before, after


async def _run_heal(app: web.Application, seq: HealSequence) -> None:
    repair: Repair = app[REPAIR]
    tel = app[TELEMETRY]
    storage = app[CORE].storage
    deep = seq.settings.get("scanMode") == 2
    dry_run = bool(seq.settings.get("dryRun"))
    k, m = storage.k, storage.m
    parity = max(1, m)
    n = k + parity
    try:
        async for rec in walk_versions(app[CORE].meta, seq.bucket or None, seq.prefix):
            if seq.status != "running":
                return
            try:
                outcome, rebuilt, detail = await repair.heal_version(rec, deep=deep, dry_run=dry_run)
            except Exception as e:
                outcome, rebuilt, detail = "failed", 0, f"{type(e).__name__}: {e}"
            placement = []
            lay = rec.layout or {}
            segs = [p.get("layout") or {} for p in lay["parts"]] if "parts" in lay else ([lay] if lay else [])
            if segs and segs[0].get("placement"):
                placement = list(segs[0]["placement"])
            placement = (placement + [f"drive{i + 1}" for i in range(n)])[:n]
            offline = [i for i, d in enumerate(placement) if segs and not storage.drive_online(d)]
            before = ["ok"] * n
            after = ["ok"] * n
            for i in offline:
                before[i] = after[i] = "offline"
            healthy = [i for i in range(n) if before[i] == "ok"]
            if outcome == "healed":
                for i in healthy[:rebuilt or 1]:
                    before[i] = "missing"
                tel.healed_admin += 1
            elif outcome == "bad":
                for i in healthy[:1]:
                    before[i] = after[i] = "missing"
            elif outcome in ("unrecoverable", "failed"):
                for i in healthy[:parity + 1]:
                    before[i] = after[i] = "missing" if outcome == "unrecoverable" else "corrupt"
                tel.heal_errors_admin += 1
            b, a = _drives(placement, k, parity, before, after)
            seq.count += 1
            seq.items.append({
                "resultId": seq.count, "type": "object", "bucket": rec.bucket, "object": rec.key,
                "versionId": "" if rec.version_id == "null" else rec.version_id,
                "detail": detail or outcome, "parityBlocks": parity, "dataBlocks": k, "diskCount": n,
                "setCount": 1, "before": {"drives": b}, "after": {"drives": a},
                "objectSize": rec.size,
            })
            if seq.count % 100 == 0:
                await asyncio.sleep(0)
        seq.status = "finished"
    except asyncio.CancelledError:
        seq.status, seq.detail = "stopped", "heal sequence stopped"
        raise
    except Exception as e:
        seq.status, seq.detail = "stopped", f"{type(e).__name__}: {e}"
    finally:
        seq.done_at = time.time()


@route("admin:Heal")
async def heal(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    path = request.match_info.get("path", "")
    bucket, _, prefix = path.partition("/")
    heals: dict[str, HealSequence] = request.app[HEALS]
    _expire(heals)
    token = request.query.get("clientToken")
    key = f"{bucket}/{prefix}"
    if token:
        seq = heals.get(token)
        if seq is None:
            raise AdminError("XMinioHealNoSuchProcess", "No such heal process is running on the server", 400)
        items, seq.items = seq.items, []
        status = seq.status if seq.status != "running" or items else "running"
        return web.json_response({"summary": status, "detail": seq.detail, "startTime": _rfc3339(seq.started),
                                  "settings": seq.settings, "items": items})
    running = [s for s in heals.values() if f"{s.bucket}/{s.prefix}" == key and s.status == "running"]
    if request.query.get("forceStop") == "true":
        for s in running:
            if s.task is not None:
                s.task.cancel()
        return web.json_response({"clientToken": running[0].token if running else "",
                                  "clientAddress": request.remote or "", "startTime": _rfc3339(time.time())})
    if running and request.query.get("forceStart") != "true":
        raise AdminError("XMinioHealAlreadyRunning", f"Heal is already running on {key}", 400)
    for s in running:
        if s.task is not None:
            s.task.cancel()
    if bucket and await request.app[CORE].meta.get_bucket(bucket) is None:
        raise AdminError("NoSuchBucket", "The specified bucket does not exist", 404)
    try:
        settings = json.loads(body) if body else {}
    except (ValueError, RecursionError):
        raise AdminError("XMinioAdminConfigBadJSON", "JSON configuration provided is of incorrect format") from None
    request[AUDIT_INFO].update(target=key, detail=json.dumps(settings))
    seq = HealSequence(secrets.token_hex(16), bucket, prefix, settings)
    seq.task = asyncio.create_task(_run_heal(request.app, seq))
    heals[seq.token] = seq
    return web.json_response({"clientToken": seq.token, "clientAddress": request.remote or "",
                              "startTime": _rfc3339(seq.started)})


def _expire(heals: dict[str, HealSequence]) -> None:
    now = time.time()
    for t in [t for t, s in heals.items() if s.done_at and now - s.done_at > 600]:
        del heals[t]


@route("admin:Heal")
async def background_heal_status(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    st = await request.app[OPS].probe.get()
    repair = request.app.get(REPAIR)
    last = repair.last_scan.scanned if repair is not None and repair.last_scan else 0
    disks = [{**_drive(d, i, d.node), "endpoint": d.node, "state": "ok" if d.online else "offline"}
             for i, d in enumerate(st.drives)]
    doc = {
        "offline_nodes": [n["url"] for n in st.nodes if not n["online"]],
        "ScannedItemsCount": last, "HealDisks": [],
        "sets": [{"id": "0", "pool_index": 0, "set_index": 0, "heal_status": "", "heal_priority": "",
                  "total_objects": 0, "disks": disks}],
        "mrf": {}, "sc_parity": {"STANDARD": st.m, "REDUCED_REDUNDANCY": st.m},
    }
    return web.json_response(doc)


# --------------------------------------------------------------------------- routes


def add_routes(app: web.Application) -> None:
    """Register before the S3 catch-all route."""
    app[HEALS] = {}
    app[DEPLOYMENT_ID] = str(uuid.uuid4())
    r = app.router
    r.add_route("GET", f"{PREFIX}/info", server_info)
    r.add_route("POST", f"{PREFIX}/heal/{{path:.*}}", heal)
    r.add_route("POST", f"{PREFIX}/background-heal/status", background_heal_status)
    r.add_route("PUT", f"{PREFIX}/add-user", add_user)
    r.add_route("GET", f"{PREFIX}/list-users", list_users)
    r.add_route("GET", f"{PREFIX}/user-info", user_info)
    r.add_route("PUT", f"{PREFIX}/set-user-status", set_user_status)
    r.add_route("DELETE", f"{PREFIX}/remove-user", remove_user)
    r.add_route("GET", f"{PREFIX}/list-canned-policies", list_canned_policies)
    r.add_route("GET", f"{PREFIX}/info-canned-policy", info_canned_policy)
    r.add_route("PUT", f"{PREFIX}/add-canned-policy", add_canned_policy)
    r.add_route("DELETE", f"{PREFIX}/remove-canned-policy", remove_canned_policy)
    r.add_route("PUT", f"{PREFIX}/set-user-or-group-policy", set_user_policy)
    r.add_route("POST", f"{PREFIX}/idp/builtin/policy/attach", _policy_assoc(True))
    r.add_route("POST", f"{PREFIX}/idp/builtin/policy/detach", _policy_assoc(False))
    # any other admin call, any method (known paths included): MinIO's answer for an admin API it does not
    # have, not an S3 answer about a bucket named "minio" (an unsigned one never gets here: ops.admin_gate)
    r.add_route("*", "/minio/admin/{tail:.*}", unknown_admin_api)


_API_VERSION = re.compile(r"^/minio.*/(v\d+)/.*")


async def unknown_admin_api(request: web.Request) -> web.Response:
    """MinIO's errorResponseHandler for /minio/admin paths: 426 XMinioAdminVersionMismatch, the
    message naming the API version the path asks for. Only after the caller's signature is verified
    (MinIO answers anyone; s3gw tells an unsigned caller nothing but AccessDenied)."""
    try:
        await admin_auth(request, None, None, request.path)
    except AdminError as e:
        return admin_error_response(request, e)
    m = _API_VERSION.match(request.path)
    version = m.group(1) if m else "unknown"
    if request.path.startswith(ADMIN_V1 + "/") or version == "v3":
        mode = "mode-server-xl" if request.app[CORE].storage.cluster is None else "mode-server-distributed-xl"
        desc = f"This 'admin' API is not supported by server in '{mode}'"
    elif version in ("v1", "v2"):
        desc = (f"Server expects client requests with 'admin' API version 'v3', found '{version}', "
                "please upgrade the client to latest releases")
    else:
        desc = (f"Unexpected client 'admin' API version found '{version}', expected 'v3', "
                "please downgrade the client to older releases")
    return admin_error_response(request, AdminError("XMinioAdminVersionMismatch", desc, 426))

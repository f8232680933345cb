"""MinIO's admin API for identities beyond users (``/minio/admin/v3``, madmin-go's wire
formats): service accounts / access keys (``mc admin user svcacct``, ``mc admin
accesskey``), temporary credentials' info, groups (``mc admin group``) and who
holds which policy (``mc admin policy entities``).

The routes join madmin's one table (``madmin.ROUTES``), so they pass the one
admin path (``admin.py``). What a user may do to its own things follows MinIO:

* creating a service account for itself needs only that no policy denies
  ``admin:CreateServiceAccount`` (MinIO's ``DenyOnly``); for another user, the action;
* listing its own service accounts needs nothing more (a Deny still refuses);
  another's, ``admin:ListServiceAccounts``; reading one of its own likewise;
* removing one of its own needs no Deny of ``admin:RemoveServiceAccount``; for a
  key that is not its own, a caller without the action is told it does not exist
  (MinIO: "to mitigate brute force attacks");
* editing (secret, status, policy, expiry) needs ``admin:UpdateServiceAccount``
  always (MinIO blocks self-edits "pending a re-design").

A derived credential (a service account, temporary credentials) acts for its
parent: "its own" service accounts are its parent's.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from typing import Any

from aiohttp import web

from ..core.iam import ENABLED, CredentialInfo, NoSuchServiceAccount, NoSuchUser, Principal
from .admin import BAD_JSON, OPENED, AdminError, require
from .app import IAM
from .madmin import ROUTES, _open, _rfc3339, _seal
from .observe import AUDIT_INFO

#: madmin's "no expiry" (Go's time.Unix(0, 0)): mc shows it as none
TIME_SENTINEL = "1970-01-01T00:00:00Z"
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(value: Any) -> float | None:
    """A Go ``time.Time`` as JSON (RFC 3339, nanoseconds allowed) -> epoch seconds; None for
    null, Go's zero time or the sentinel (no expiry).

    >>> round(parse_time("2030-01-02T03:04:05.123456789Z") - parse_time("2030-01-02T03:04:05+00:00"), 6)
    0.123456
    >>> parse_time(None), parse_time("0001-01-01T00:00:00Z"), parse_time("1970-01-01T00:00:00Z")
    (None, None, None)
    """
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise AdminError(*BAD_JSON)
    try:
        t = datetime.fromisoformat(_FRACTION.sub(r"\1", value).replace("Z", "+00:00"))
    except ValueError:
        raise AdminError(*BAD_JSON) from None
    if t.tzinfo is None or t.year <= 1970:
        return None
    return t.timestamp()


def _expiry(ts: float) -> str:
    return _rfc3339(ts) if ts else TIME_SENTINEL


def _status(st: str) -> str:
    """Service accounts' status as MinIO shows it (auth.AccountOn / AccountOff)."""
    return "on" if st == ENABLED else "off"


async def _document(request: web.Request, principal: Principal, body: bytes) -> dict[str, Any]:
    """The sealed JSON object of a madmin request, opened once (an ``owner`` check may have)."""
    raw = request.get(OPENED)
    if raw is None:
        raw = await _open(principal.secret_key, body)
        request[OPENED] = raw
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        raise AdminError(*BAD_JSON) from None
    if not isinstance(doc, dict):
        raise AdminError(*BAD_JSON)
    return doc


def _str(doc: dict[str, Any], name: str) -> str:
    v = doc.get(name)
    if v is None:
        return ""
    if not isinstance(v, str):
        raise AdminError(*BAD_JSON)
    return v


def _policy_field(doc: dict[str, Any], name: str) -> Any:
    """madmin's json.RawMessage policy: absent or null is None; anything else is a document."""
    v = doc.get(name)
    return None if v is None else v


def _self(principal: Principal) -> str:
    """Whose things "its own" are: a derived credential's parent, else the caller."""
    return principal.acting.access_key


def _bad_argument(e: Exception) -> AdminError:
    return AdminError("XMinioAdminInvalidArgument", str(e) or "Invalid arguments specified.")


def _root_keys_are_roots(request: web.Request, principal: Principal, parent: str) -> None:
    """Root's service accounts carry root's powers: only root (or its own keys) makes, edits or
    removes them, whatever admin actions another caller holds (MinIO lets admin:CreateServiceAccount
    or admin:UpdateServiceAccount reach them: a way to root's powers)."""
    if parent == request.app[IAM].root.access_key and not principal.acting.root:
        raise AdminError("AccessDenied", "Access Denied.", 403)


# --------------------------------------------------------------------------- service accounts


async def _create_for_self(request: web.Request, principal: Principal, body: bytes) -> bool:
    doc = await _document(request, principal, body)
    target = _str(doc, "targetUser")
    return target in ("", principal.access_key, _self(principal))


@ROUTES.route("PUT", "/add-service-account", "admin:CreateServiceAccount", owner=_create_for_self)
async def add_service_account(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    """MinIO's AddServiceAccount: a new access key for the caller (or ``targetUser``), with an
    optional embedded policy, name, description and expiry; the answer carries the secret, sealed."""
    doc = await _document(request, principal, body)
    target = _str(doc, "targetUser")
    if target in ("", principal.access_key, _self(principal)):
        target = _self(principal)
    iam = request.app[IAM]
    _root_keys_are_roots(request, principal, target)
    access, secret = _str(doc, "accessKey"), _str(doc, "secretKey")
    if access != access.strip():
        raise AdminError(
            "XMinioInvalidResource", "Policy, user or group names are not allowed to begin or end with space characters"
        )
    request[AUDIT_INFO].update(target=target, detail=access)
    key, secret, expires = await iam.add_service_account(
        target,
        access_key=access,
        secret=secret,
        policy=_policy_field(doc, "policy"),
        name=_str(doc, "name"),
        description=_str(doc, "description") or _str(doc, "comment"),
        expires=parse_time(doc.get("expiration")),
    )
    resp = {"credentials": {"accessKey": key, "secretKey": secret, "expiration": _expiry(expires)}}
    return web.Response(
        body=await _seal(principal.secret_key, json.dumps(resp).encode()), content_type="application/octet-stream"
    )


@ROUTES.route("POST", "/update-service-account", "admin:UpdateServiceAccount")
async def update_service_account(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    access = request.query.get("accessKey", "")
    if not access:
        raise AdminError("InvalidRequest", "Invalid Request")
    request[AUDIT_INFO].update(target=access)
    iam = request.app[IAM]
    sa = await iam.service_account(access)  # MinIO: not found before the body is read
    _root_keys_are_roots(request, principal, sa.parent)
    doc = await _document(request, principal, body)
    expires = doc.get("newExpiration")
    await iam.update_service_account(
        access,
        secret=_str(doc, "newSecretKey"),
        status=_str(doc, "newStatus"),
        name=_str(doc, "newName"),
        description=_str(doc, "newDescription"),
        expires=None if expires is None else (parse_time(expires) or 0.0),
        policy=_policy_field(doc, "newPolicy"),
    )
    return web.Response(status=204)


def _account_row(c: CredentialInfo) -> dict[str, Any]:
    row: dict[str, Any] = {
        "parentUser": c.parent,
        "accountStatus": _status(c.status),
        "impliedPolicy": c.policy is None,
        "accessKey": c.access_key,
        "expiration": _expiry(c.expires),
    }
    if c.name:
        row["name"] = c.name
    if c.description:
        row["description"] = c.description
    return row


async def _own_key(request: web.Request, principal: Principal, body: bytes) -> bool:
    """Is ``?accessKey=`` one of the caller's service accounts?"""
    try:
        sa = await request.app[IAM].service_account(request.query.get("accessKey", ""))
    except NoSuchServiceAccount:
        return False
    return sa.parent == _self(principal)


@ROUTES.route("GET", "/info-service-account", "admin:ListServiceAccounts", owner=_own_key)
async def info_service_account(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    access = request.query.get("accessKey", "")
    if not access:
        raise AdminError("InvalidRequest", "Invalid Request")
    iam = request.app[IAM]
    sa = await iam.service_account(access)
    policy = json.loads(sa.policy) if sa.policy is not None else await iam.combined_policy(sa.parent)
    doc: dict[str, Any] = {
        "parentUser": sa.parent,
        "accountStatus": _status(sa.status),
        "impliedPolicy": sa.policy is None,
        "policy": json.dumps(policy, indent=1),
    }
    if sa.name:
        doc["name"] = sa.name
    if sa.description:
        doc["description"] = sa.description
    if sa.expires:
        doc["expiration"] = _rfc3339(sa.expires)
    return web.Response(
        body=await _seal(principal.secret_key, json.dumps(doc).encode()), content_type="application/octet-stream"
    )


async def _listing_own(request: web.Request, principal: Principal, body: bytes) -> bool:
    return request.query.get("user", "") in ("", principal.access_key, _self(principal))


@ROUTES.route("GET", "/list-service-accounts", "admin:ListServiceAccounts", owner=_listing_own)
async def list_service_accounts(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    user = request.query.get("user", "")
    target = _self(principal) if user in ("", principal.access_key) else user
    accounts = await request.app[IAM].list_service_accounts(target)
    doc = {"accounts": [_account_row(a) for a in accounts] or None}
    return web.Response(
        body=await _seal(principal.secret_key, json.dumps(doc).encode()), content_type="application/octet-stream"
    )


async def _removing_own(request: web.Request, principal: Principal, body: bytes) -> bool:
    """Own (or unknown: the handler says so) keys need no permission; another's, without the
    action, is answered as if it did not exist (MinIO)."""
    iam = request.app[IAM]
    try:
        sa = await iam.service_account(request.query.get("accessKey", ""))
    except NoSuchServiceAccount:
        return True
    if sa.parent == _self(principal):
        return True
    if not await iam.allowed(principal, "admin:RemoveServiceAccount"):
        raise NoSuchServiceAccount("The specified service account is not found")
    return False


@ROUTES.route("DELETE", "/delete-service-account", "admin:RemoveServiceAccount", owner=_removing_own)
async def delete_service_account(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    access = request.query.get("accessKey", "")
    if not access:
        raise AdminError("XMinioAdminInvalidArgument", "Invalid arguments specified.")
    request[AUDIT_INFO].update(target=access)
    iam = request.app[IAM]
    sa = await iam.service_account(access)
    _root_keys_are_roots(request, principal, sa.parent)
    await iam.remove_service_account(access)
    return web.Response(status=204)


_LIST_TYPES = {
    "users-only": (False, False),
    "sts-only": (True, False),
    "svcacc-only": (False, True),
    "all": (True, True),
}


async def _bulk_own(request: web.Request, principal: Principal, body: bytes) -> bool:
    users = request.query.getall("users", [])
    if request.query.get("all") == "true":
        if users:
            raise AdminError("InvalidRequest", "Invalid Request")
        await require(request, principal, "admin:ListUsers")
        return False
    return not users or (len(users) == 1 and users[0] in (principal.access_key, _self(principal)))


@ROUTES.route("GET", "/list-access-keys-bulk", "admin:ListServiceAccounts", owner=_bulk_own)
async def list_access_keys_bulk(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    """MinIO's ListAccessKeysBulk (``mc admin accesskey ls``): per user, its service accounts
    and/or temporary credentials (access key and expiry)."""
    kinds = _LIST_TYPES.get(request.query.get("listType", ""))
    if kinds is None:
        raise AdminError("InvalidRequest", "invalid list type")
    sts, svc = kinds
    iam = request.app[IAM]
    users = request.query.getall("users", [])
    if request.query.get("all") == "true":
        names = [u.access_key for u in await iam.list_users()] + [iam.root.access_key]
    elif not users:
        names = [_self(principal)]
    else:
        names = []
        for u in users:
            if u == iam.root.access_key or await _is_user(request, u):
                names.append(u)
    out: dict[str, Any] = {}
    for user in names:
        entry: dict[str, Any] = {}
        if sts:
            keys = await iam.list_temporary_accounts(user)
            entry["stsKeys"] = [{"accessKey": k.access_key, "expiration": _expiry(k.expires)} for k in keys] or None
            if not svc and not keys:
                continue
        if svc:
            keys = await iam.list_service_accounts(user)
            entry["serviceAccounts"] = [
                {"accessKey": k.access_key, "expiration": _expiry(k.expires)} for k in keys
            ] or None
            if not sts and not keys:
                continue
        out[user] = entry
    return web.Response(
        body=await _seal(principal.secret_key, json.dumps(out).encode()), content_type="application/octet-stream"
    )


async def _is_user(request: web.Request, name: str) -> bool:
    try:
        await request.app[IAM].get_user(name)
    except NoSuchUser:  # skipped, as MinIO does
        return False
    return True


@ROUTES.route("GET", "/temporary-account-info", "admin:ListTemporaryAccounts")
async def temporary_account_info(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    """MinIO's TemporaryAccountInfo (``mc admin accesskey info`` on an STS key)."""
    access = request.query.get("accessKey", "")
    if not access:
        raise AdminError("InvalidRequest", "Invalid Request")
    iam = request.app[IAM]
    acc = await iam.temporary_account(access)
    policy = json.loads(acc.policy) if acc.policy is not None else await iam.combined_policy(acc.parent)
    doc = {
        "parentUser": acc.parent,
        "accountStatus": _status(acc.status),
        "impliedPolicy": acc.policy is None,
        "policy": json.dumps(policy, indent=1),
        "expiration": _expiry(acc.expires),
    }
    return web.Response(
        body=await _seal(principal.secret_key, json.dumps(doc).encode()), content_type="application/octet-stream"
    )


# --------------------------------------------------------------------------- groups


def _group_action(request: web.Request) -> str:
    return "admin:EnableGroup" if request.query.get("status", "") == ENABLED else "admin:DisableGroup"


@ROUTES.route("PUT", "/update-group-members", "admin:AddUserToGroup")
async def update_group_members(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    """MinIO's UpdateGroupMembers (``mc admin group add|remove``): a plain JSON body (madmin's
    GroupAddRemove); adding creates the group; removing no members removes the (empty) group.
    Both need ``admin:AddUserToGroup``, as in MinIO."""
    try:
        doc = json.loads(body)
        group, members, remove = doc["group"], doc.get("members") or [], doc.get("isRemove", False)
        if (
            not isinstance(group, str)
            or not isinstance(members, list)
            or not isinstance(remove, bool)
            or not all(isinstance(m, str) for m in members)
        ):
            raise ValueError("madmin's GroupAddRemove")
    except (ValueError, KeyError, TypeError, RecursionError):
        raise AdminError("InvalidRequest", "Invalid Request") from None
    request[AUDIT_INFO].update(target=group, detail=("remove " if remove else "add ") + ",".join(members))
    iam = request.app[IAM]
    if remove:
        await iam.remove_from_group(group, members)
    else:
        await iam.add_to_group(group, members)
    return web.Response(status=200)


@ROUTES.route("GET", "/group", "admin:GetGroup")
async def group_info(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    g = await request.app[IAM].group(request.query.get("group", ""))
    # a disabled group's policies are not shown (MinIO: they do not apply)
    policy = ",".join(g.policies) if g.status == ENABLED else ""
    return web.json_response(
        {"name": g.name, "status": g.status, "members": g.members, "policy": policy, "updatedAt": _rfc3339(g.updated)}
    )


@ROUTES.route("GET", "/groups", "admin:ListGroups")
async def list_groups(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    return web.json_response(await request.app[IAM].list_groups())


@ROUTES.route("PUT", "/set-group-status", _group_action)
async def set_group_status(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    group, status = request.query.get("group", ""), request.query.get("status", "")
    request[AUDIT_INFO].update(target=group, detail=status)
    await request.app[IAM].set_group_status(group, status)
    return web.Response(status=200)


@ROUTES.route("GET", "/idp/builtin/policy-entities", "admin:ListUserPolicies")
async def policy_entities(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    """MinIO's ListPolicyMappingEntities (``mc admin policy entities``): which users and groups hold
    which policies, for the users, groups and policies asked (none: every policy's holders).
    Needs ``admin:ListGroups``, ``admin:ListUsers`` and ``admin:ListUserPolicies`` (MinIO)."""
    for action in ("admin:ListGroups", "admin:ListUsers"):
        await require(request, principal, action)
    q_users, q_groups = request.query.getall("user", []), request.query.getall("group", [])
    q_policies = request.query.getall("policy", [])
    users, groups = await request.app[IAM].policy_entities()
    group_policies = {g.name: sorted(g.policies) for g in groups if g.policies}
    out: dict[str, Any] = {"timestamp": _rfc3339(time.time())}
    if q_users:
        rows = []
        for u in users:
            if u.access_key not in q_users:
                continue
            row: dict[str, Any] = {"user": u.access_key, "policies": sorted(u.policies) or None}
            member_of = [{"group": g, "policies": group_policies[g]} for g in sorted(u.groups) if g in group_policies]
            if member_of:
                row["memberOfMappings"] = member_of
            rows.append(row)
        out["userMappings"] = rows or None
    if q_groups:
        out["groupMappings"] = [
            {"group": g, "policies": p} for g, p in sorted(group_policies.items()) if g in q_groups
        ] or None
    if q_policies or not (q_users or q_groups):
        holders: dict[str, tuple[list[str], list[str]]] = {}
        for u in users:
            for p in u.policies:
                holders.setdefault(p, ([], []))[0].append(u.access_key)
        for g in groups:
            for p in g.policies:
                holders.setdefault(p, ([], []))[1].append(g.name)
        out["policyMappings"] = [
            {"policy": p, "users": sorted(us) or None, "groups": sorted(gs) or None}
            for p, (us, gs) in sorted(holders.items())
            if not q_policies or p in q_policies
        ] or None
    return web.Response(
        body=await _seal(principal.secret_key, json.dumps(out).encode()), content_type="application/octet-stream"
    )


__all__ = ["TIME_SENTINEL", "parse_time"]

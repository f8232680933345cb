"""The one admin path (s3gw/api/admin.py): every admin route is registered through
it, and whatever a handler raises becomes MinIO's JSON error document.

The error cases run a real aiohttp server on 127.0.0.1 with a small route table,
real IAM over an SQLite store, and requests signed by tests/sigv4_client.py.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, make_mocked_request

from s3gw.api import admin, madmin, s3gw_admin
from s3gw.api.app import IAM, SETTINGS, Settings
from s3gw.core import MetaUnavailable
from s3gw.core.iam import Iam, NoSuchUser, Principal
from s3gw.meta.sqlite import SqliteMeta
from s3gw.server import ServerConfig, build_app
from tests.sigv4_client import amz_now, sign

ROOT, SECRET = "admin-test-root", "admin-test-secret-0123456789"
ACTION = re.compile(r"^(admin|kms):[A-Z][A-Za-z]+$")  # MinIO checks kms: actions on its KMS calls


def test_every_admin_route_goes_through_the_one_path(tmp_path) -> None:
    """Each route under /minio/admin/ is a table route served by ``admin._serve`` (or the
    catch-all), names an IAM admin action, and the gate runs before any of them."""
    app = build_app(ServerConfig(data_dir=str(tmp_path)))
    assert admin.gate in app.middlewares
    seen = []
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if not path.startswith(admin.ADMIN_PREFIX):
            continue
        if route.handler is admin.unknown_admin_api:
            seen.append("catch-all")
            continue
        r = route.handler.admin_route
        assert (r.method, re.sub(r":[^}]*}", "}", r.path)) == (route.method, path)  # canonical: no regex
        seen.append((r.method, r.path))
        if callable(r.action):  # set-user-status: the action depends on the status asked
            for status in ("enabled", "disabled", "x"):
                assert ACTION.match(r.action(make_mocked_request(r.method, f"{r.path}?status={status}")))
        else:
            assert ACTION.match(r.action), r
    assert seen[-1] == "catch-all" and seen.count("catch-all") == 1
    tables = [(r.method, r.path) for t in (madmin.ROUTES, s3gw_admin.ROUTES) for r in t]
    assert sorted(seen[:-1]) == sorted(tables) and len(set(tables)) == len(tables)


def test_a_table_lives_under_the_admin_prefix() -> None:
    with pytest.raises(ValueError):
        admin.Routes("/metrics")


# --------------------------------------------------------------------------- errors, on a live server


ROUTES = admin.Routes("/minio/admin/test")


@ROUTES.route("GET", "/ok", "admin:ServerInfo")
async def ok(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    return web.json_response({"caller": principal.access_key})


@ROUTES.route("GET", "/bug", "admin:ServerInfo")
async def bug(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    raise RuntimeError("a bug")


@ROUTES.route("GET", "/no-user", "admin:GetUser")
async def no_user(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    raise NoSuchUser("The specified user does not exist")


@ROUTES.route("GET", "/outage", "admin:ServerInfo")
async def outage(request: web.Request, principal: Principal, body: bytes) -> web.Response:
    raise MetaUnavailable("database gone")


@ROUTES.route("GET", "/late-bug", "admin:ServerInfo")
async def late_bug(request: web.Request, principal: Principal, body: bytes) -> web.StreamResponse:
    resp = await admin.stream(request, {"Content-Type": "application/x-ndjson"})
    await resp.write(b'{"line": 1}\n')
    raise RuntimeError("a bug after the answer started")


@pytest.fixture
async def server(tmp_path) -> AsyncIterator[TestServer]:
    meta = SqliteMeta(str(tmp_path / "meta.db"))
    await meta.open()
    app = web.Application(middlewares=[admin.gate])
    app[SETTINGS] = Settings(credentials={ROOT: SECRET})
    app[IAM] = Iam(meta, ROOT, SECRET)
    admin.add_routes(app, ROUTES)
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    yield srv
    await srv.close()
    await meta.close()


async def call(srv: TestServer, path: str, signed: bool = True) -> tuple[int, str, bytes]:
    host = f"127.0.0.1:{srv.port}"
    headers = {"host": host}
    if signed:
        headers = sign("GET", path, [], headers, hashlib.sha256(b"").hexdigest(), ROOT, SECRET, amz_now())[0]
    async with aiohttp.ClientSession() as s:
        async with s.get(f"http://{host}{path}", headers=headers) as r:
            return r.status, r.headers.get("Content-Type", ""), await r.read()


async def test_errors_are_minio_json_documents(server: TestServer) -> None:
    assert (await call(server, "/minio/admin/test/ok"))[0] == 200
    for path, status, code in [
        ("/minio/admin/test/bug", 500, "InternalError"),  # anything unexpected: logged
        ("/minio/admin/test/no-user", 404, "XMinioAdminNoSuchUser"),  # IAM errors keep MinIO's code
        ("/minio/admin/test/outage", 503, "XMinioServerNotInitialized"),
        ("/minio/admin/v2/nothing-here", 426, "XMinioAdminVersionMismatch"),
    ]:
        got, ctype, body = await call(server, path)
        assert (got, ctype.split(";")[0]) == (status, "application/json"), body
        doc = json.loads(body)
        assert (
            doc["Code"] == code
            and doc["Resource"] == path
            and set(doc) == {"Code", "Message", "Resource", "RequestId", "HostId"}
        )
    got, _, body = await call(server, "/minio/admin/test/ok", signed=False)
    assert got == 403 and json.loads(body)["Code"] == "AccessDenied"


async def test_an_error_after_the_answer_started_cuts_it(server: TestServer) -> None:
    with pytest.raises(aiohttp.ClientPayloadError):
        await call(server, "/minio/admin/test/late-bug")

"""The node daemon over real HTTP: hostile numbers in the query are 400s, never 500s."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web

from nodes.protocol import AUTH_HEADER, sign_request
from nodes.server import NodeServer

SECRET = b"unit-test-cluster-secret"


@pytest.fixture
async def node(tmp_path):
    server = NodeServer.from_dirs("n1", [str(tmp_path / "d1")], SECRET, fsync=False)
    runner = web.AppRunner(server.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    async with aiohttp.ClientSession() as session:
        yield session, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def call(node, method: str, path: str) -> tuple[int, dict]:
    session, url = node
    header, _ = sign_request(SECRET, method, path)
    async with session.request(method, url + path, headers={AUTH_HEADER: header}, data=b"") as r:
        return r.status, await r.json(content_type=None)


@pytest.mark.parametrize("value", ["²", "١٢", "9" * 5000, "abc", "-1"])
async def test_hostile_query_numbers(node, value: str) -> None:
    v = quote(value)
    for method, path in (("PUT", f"/v1/drives/d1/shards/x.0?block_size={v}"),
                         ("GET", f"/v1/drives/d1/shards/x.0?first={v}&count=1"),
                         ("GET", f"/v1/drives/d1/shards/x.0?first=0&count={v}")):
        status, body = await call(node, method, path)
        assert (status, body.get("code")) == (400, "BadRequest"), (method, path[:80], status, body)


async def test_hostile_timestamp_is_401_not_500(node) -> None:
    session, url = node
    for ts in ("²", "9" * 5000):
        async with session.get(url + "/v1/health", headers={AUTH_HEADER: f"{ts}:{'0' * 64}"}) as r:
            assert r.status == 401


async def test_idle_and_half_headed_connections_are_closed(tmp_path) -> None:
    import asyncio

    from nodes.server import node_runner
    from tests.waiting import async_wait_until

    server = NodeServer.from_dirs("n1", [str(tmp_path / "d1")], SECRET, fsync=False)
    runner = node_runner(server, idle_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        for first in (b"", b"GET /v1/health HTTP/1.1\r\nHost: x\r\n"):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(first)

            async def closed() -> bool:
                try:
                    return await asyncio.wait_for(reader.read(100), 1) == b""
                except TimeoutError:
                    return False

            await async_wait_until(closed, f"the node to close a connection that sent {first!r}")
            writer.close()
    finally:
        await runner.cleanup()

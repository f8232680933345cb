"""``app.read_small_body``, the body reader of the admin API and STS: bounded by Content-Length
and by what is read (a chunked body has no length), each piece within server.read_timeout.
A real aiohttp server on 127.0.0.1, a route that answers what the reader did."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from s3gw.api.app import SETTINGS, Settings, read_small_body

LIMIT = 10


class TooLarge(Exception):
    pass


class TimedOut(Exception):
    pass


async def echo(request: web.Request) -> web.Response:
    try:
        body = await read_small_body(request, LIMIT, TooLarge(), TimedOut())
    except TooLarge:
        return web.Response(status=413, text="too large")
    except TimedOut:
        return web.Response(status=408, text="timed out")
    return web.Response(body=body)


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app[SETTINGS] = Settings(credentials={}, read_timeout=0.2)
    app.router.add_put("/", echo)
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    yield srv
    await srv.close()


async def put(srv: TestServer, data: object) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as s:
        async with s.put(f"http://127.0.0.1:{srv.port}/", data=data) as r:
            return r.status, await r.read()


async def test_a_body_up_to_the_limit_is_read_whole(server: TestServer) -> None:
    assert await put(server, b"0123456789") == (200, b"0123456789")
    assert await put(server, b"") == (200, b"")


async def test_a_larger_body_is_refused_by_its_length_or_as_read(server: TestServer) -> None:
    assert await put(server, b"0123456789a") == (413, b"too large")

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: found too large reading
        for piece in (b"012345", b"6789", b"a"):
            yield piece

    assert await put(server, chunked()) == (413, b"too large")


async def test_a_stalled_body_times_out(server: TestServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n01")  # 2 of 5 bytes, then nothing
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(4096), 60)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408") and answer.endswith(b"timed out"), answer

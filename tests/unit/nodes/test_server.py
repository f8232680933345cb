"""The node daemon over real HTTP: hostile numbers in the query are 400s, never 500s."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web

from nodes import bitrot
from nodes.protocol import AUTH_HEADER, BODY_MACS, PROOF_HEADER, BodyMac, check_proof, end_record, sign_request
from nodes.server import NodeServer
from tests.waiting import async_wait_until

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
        yield session, f"http://127.0.0.1:{port}", server
    await runner.cleanup()


async def call(node, method: str, path: str, data: bytes | None = None, header: str | None = None) -> tuple[int, dict]:
    session, url, _ = node
    if header is None:
        header, _ = sign_request(SECRET, method, path, body=BODY_MACS[0] if method == "PUT" else "none")
    async with session.request(method, url + path, headers={AUTH_HEADER: header}, data=data) as r:
        return r.status, await r.json(content_type=None)


def upload_body(sig: str, blocks: list[bytes], algo: str = BODY_MACS[0]) -> bytes:
    fn = bitrot.algorithm("sha256").fn
    frames = b"".join(fn(b) + b for b in blocks)
    mac = BodyMac(SECRET, sig, algo)
    mac.update(frames)
    return frames + end_record(len(frames), mac.digest(len(frames)))


@pytest.mark.parametrize("value", ["²", "١٢", "9" * 5000, "abc", "-1"])
async def test_hostile_query_numbers(node, value: str) -> None:
    v = quote(value)
    for method, path in (
        ("PUT", f"/v1/drives/d1/shards/x.0?block_size={v}"),
        ("GET", f"/v1/drives/d1/shards/x.0?first={v}&count=1"),
        ("GET", f"/v1/drives/d1/shards/x.0?first=0&count={v}"),
    ):
        status, body = await call(node, method, path)
        assert (status, body.get("code")) == (400, "BadRequest"), (method, path[:80], status, body)


async def test_hostile_timestamp_is_401_not_500(node) -> None:
    session, url, _ = node
    for ts in ("²", "9" * 5000):
        async with session.get(url + "/v1/health", headers={AUTH_HEADER: f"{ts}:{'0' * 32}:none:{'0' * 64}"}) as r:
            assert r.status == 401


async def test_a_replayed_request_is_refused(node) -> None:
    _, _, server = node
    path = "/v1/drives/d1/shards/gone.0"
    header, sig = sign_request(SECRET, "DELETE", path)
    assert await call(node, "DELETE", path, header=header) == (200, {"deleted": False})
    status, doc = await call(node, "DELETE", path, header=header)  # the same request, captured and sent again
    assert (status, doc["code"]) == (403, "Forbidden") and "replayed" in doc["message"]
    # a fresh signature of the same request is fine
    assert (await call(node, "DELETE", path))[0] == 200


async def test_an_upload_altered_in_transit_is_refused_and_nothing_is_committed(node) -> None:
    _, _, server = node
    path = "/v1/drives/d1/shards/up.0?block_size=4&hash=sha256"
    header, sig = sign_request(SECRET, "PUT", path, body=BODY_MACS[0])
    body = upload_body(sig, [b"abcd", b"ef"])
    # a man in the middle swaps a block and fixes its bitrot hash: the hashes check out, the MAC does not
    fn = bitrot.algorithm("sha256").fn
    forged = body.replace(fn(b"abcd") + b"abcd", fn(b"abce") + b"abce")
    assert forged != body
    status, doc = await call(node, "PUT", path, forged, header=header)
    assert (status, doc["code"]) == (403, "Forbidden"), doc
    assert list(server.drives["d1"].list_shards()) == [] and os.listdir(server.drives["d1"].tmp_dir) == []
    # the body of another request, or an upload signed as having no body, are refused as well
    other_header, _ = sign_request(SECRET, "PUT", path, body=BODY_MACS[0])
    assert (await call(node, "PUT", path, body, header=other_header))[0] == 403
    none_header, _ = sign_request(SECRET, "PUT", path)
    assert (await call(node, "PUT", path, body, header=none_header))[0] == 400
    assert list(server.drives["d1"].list_shards()) == []
    # the genuine upload commits
    header, sig = sign_request(SECRET, "PUT", path, body=BODY_MACS[0])
    status, doc = await call(node, "PUT", path, upload_body(sig, [b"abcd", b"ef"]), header=header)
    assert status == 200 and doc["blocks"] == 2


async def test_a_body_on_a_bodiless_request_is_refused(node) -> None:
    session, url, _ = node
    header, sig = sign_request(SECRET, "GET", "/v1/health")
    async with session.get(url + "/v1/health", headers={AUTH_HEADER: header}, data=b"smuggled") as r:
        assert r.status == 400 and check_proof(SECRET, sig, r.headers.get(PROOF_HEADER))


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


async def test_an_upload_dropped_while_its_temp_file_is_made_leaves_none(tmp_path) -> None:
    """A node frozen (SIGSTOP) while an upload arrives: by the time it resumes the gateway has
    given the upload up, and the handler is cancelled while the drive's thread is still making
    the temp file. The file must go once made, not wait for the sweeper's hour."""
    server = NodeServer.from_dirs("n1", [str(tmp_path / "d1")], SECRET, fsync=False)
    store = server.drives["d1"]
    entered, release = threading.Event(), threading.Event()
    create = store.create

    def slow_create(*args):
        entered.set()
        release.wait(60)
        return create(*args)

    store.create = slow_create
    runner = web.AppRunner(server.app(), handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        path = "/v1/drives/d1/shards/dropped.0?block_size=4&hash=sha256"
        header, sig = sign_request(SECRET, "PUT", path, body=BODY_MACS[0])
        async with aiohttp.ClientSession() as session:
            put = asyncio.ensure_future(
                session.put(
                    f"http://127.0.0.1:{port}{path}", headers={AUTH_HEADER: header}, data=upload_body(sig, [b"abcd"])
                )
            )
            await asyncio.get_running_loop().run_in_executor(None, entered.wait, 60)
            put.cancel()  # the client gives up: its connection closes
            with contextlib.suppress(asyncio.CancelledError):
                await put
        await asyncio.sleep(0)
        release.set()

        async def removed() -> bool:
            return not os.listdir(store.tmp_dir)

        await async_wait_until(removed, "the dropped upload's temp file removed")
        assert list(store.list_shards()) == []
    finally:
        release.set()
        await runner.cleanup()

"""The storage-node daemon: the shard stores of this node's drives over HTTP.

It knows nothing of S3: shards are opaque named files of hashed blocks (see
``nodes.shardstore``). The protocol (authentication, the upload stream) is in
``nodes.protocol``. Routes, all under ``/v1`` and all authenticated::

    GET    /v1/health                              node id, each drive's health and capacity
    GET    /v1/drives/<d>/capacity                 total / free / used bytes
    PUT    /v1/drives/<d>/shards/<name>?block_size=&hash=
                                                   streamed frames + end record -> ShardStat
    GET    /v1/drives/<d>/shards/<name>?first=&count=[&block_size=&hash=]
                                                   raw frames of a block range (headers give
                                                   the geometry; the caller verifies hashes)
    GET    /v1/drives/<d>/shards/<name>            the shard file itself, HTTP Range honoured
    GET    /v1/drives/<d>/shards/<name>/stat       ShardStat
    POST   /v1/drives/<d>/shards/<name>/scrub      {"bad": [block indices failing their hash]}
    DELETE /v1/drives/<d>/shards/<name>            {"deleted": bool}
    GET    /v1/drives/<d>/list?fan=<xx>[&prefix=]  committed shard names of one fan directory

Request paths never reach the file system as such: ``<d>`` is looked up in the
node's own table of drives and ``<name>`` must pass ``validate_name`` (no
``/``, no ``..``, no leading dot), so nothing outside the drives is reachable.

Errors are JSON ``{"code": ..., "message": ...}`` with the status from
``nodes.protocol.STATUS_BY_CODE``; a full drive answers 507 ``DiskFull``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from . import bitrot
from .errors import InvalidShardName, NodeError, ShardNotFound, UnsupportedHash
from .metrics import CONTENT_TYPE, PUBLIC_PATHS, NodeMetrics, allowed, metrics_access
from .protocol import (
    API,
    AUTH_HEADER,
    BODY_NONE,
    PROOF_HEADER,
    STATUS_BY_CODE,
    AuthFailure,
    BodyMac,
    FrameSplitter,
    ReplayGuard,
    Signed,
    StreamError,
    frame_lengths,
    is_digits,
    proof,
    verify_request,
)
from .shardstore import ShardStore, made_writer, validate_name, verify_frames
from .tls import ReloadingTLS

log = logging.getLogger(__name__)


def loop_time() -> float:
    return asyncio.get_running_loop().time()


READ_CHUNK = 1 << 20
FLUSH_BYTES = 4 << 20
MAX_READ_BLOCKS = 4096


#: the request's verified node-auth fields (nodes.protocol.Signed), for the handlers
SIGNED = web.RequestKey("signed", Signed) if hasattr(web, "RequestKey") else "signed"


class _BadRequest(Exception):
    code = "BadRequest"


class NodeServer:
    """One node: ``drives`` maps a drive name (``d1``, ``d2``, ...) to its store."""

    def __init__(
        self,
        node_id: str,
        drives: dict[str, ShardStore],
        secret: bytes,
        *,
        threads_per_drive: int = 4,
        tmp_max_age: float = 3600.0,
        sweep_interval: float = 60.0,
    ) -> None:
        self.node_id = node_id
        self.drives = drives
        self.secret = secret
        self.tmp_max_age = tmp_max_age
        self.sweep_interval = sweep_interval
        self._pools = {
            name: ThreadPoolExecutor(threads_per_drive, thread_name_prefix=f"node-{name}") for name in drives
        }
        self.replays = ReplayGuard()  # nonces seen within the skew window
        self.metrics = NodeMetrics(node_id)  # GET /metrics (nodes/metrics.py)
        self.metrics_mode, self.metrics_token = metrics_access()

    @classmethod
    def from_dirs(
        cls, node_id: str, dirs: list[str], secret: bytes, *, fsync: bool = True, reserve_bytes: int = 0, **kw: Any
    ) -> NodeServer:
        """Drives ``d1..dN`` on ``dirs`` (formatted when new). The drive id in each
        marker is ``<node_id>/dN``, so a disk moved to another slot or node is
        refused instead of being served as the wrong drive."""
        drives = {}
        for i, d in enumerate(dirs, 1):
            name = f"d{i}"
            store = ShardStore(d, drive_id=f"{node_id}/{name}", create=True, fsync=fsync, reserve_bytes=reserve_bytes)
            store.cleanup_tmp(kw.get("tmp_max_age", 3600.0))
            drives[name] = store
        return cls(node_id, drives, secret, **kw)

    # -- plumbing -------------------------------------------------------------

    async def _run(self, drive: str, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pools[drive], fn, *args)

    def _store(self, request: web.Request) -> tuple[str, ShardStore]:
        name = request.match_info["drive"]
        store = self.drives.get(name)
        if store is None:
            raise _NotFound("DriveNotFound", f"no drive {name!r} on node {self.node_id}")
        return name, store

    @staticmethod
    def _int(request: web.Request, key: str, default: int | None = None) -> int:
        raw = request.query.get(key)
        if raw is None:
            if default is None:
                raise _BadRequest(f"missing {key}")
            return default
        if not is_digits(raw, 12):
            raise _BadRequest(f"bad {key}")
        return int(raw)

    @web.middleware
    async def _auth(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS:  # metrics (own token) and liveness: never the cluster secret
            return await handler(request)
        started = loop_time()
        resp = await self._auth_inner(request, handler)
        route = request.match_info.route.resource
        op = f"{request.method} {route.canonical if route is not None else '?'}"
        sent = resp.content_length or 0 if not resp.prepared else max(0, (resp.body_length or 0))
        self.metrics.observe(
            op.replace(f"{API}/drives/{{drive}}", ""),
            resp.status,
            loop_time() - started,
            request.content_length or 0,
            sent,
        )
        return resp

    async def _auth_inner(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            signed = verify_request(self.secret, request.method, request.raw_path, request.headers.get(AUTH_HEADER))
            self.replays.check(signed)
        except AuthFailure as e:
            log.warning("refused %s %s from %s: %s", request.method, request.path, request.remote, e)
            code = {401: "Unauthorized", 403: "Forbidden"}.get(e.status, "DriveError")
            return _error(code, str(e), e.status)
        sig = signed.sig
        resp: web.StreamResponse
        # The signature says how the body is authenticated: only a shard upload has
        # one (MACed in its end record); any other request must come without.
        upload = request.method == "PUT"
        if upload == (signed.body == BODY_NONE) or (not upload and request.can_read_body):
            resp = _error("BadRequest", "the body does not match the signed body mode", 400)
            resp.headers[PROOF_HEADER] = proof(self.secret, sig)
            return resp
        request[SIGNED] = signed
        try:
            resp = await handler(request)
        except web.HTTPException as e:
            resp = _error("BadRequest" if e.status < 500 else "NodeError", e.reason, e.status)
        except StreamError as e:
            resp = _error("ShardIncomplete", str(e), 400)
        except (NodeError, _BadRequest, _NotFound, _Forged) as e:
            resp = _error(e.code, str(e), STATUS_BY_CODE.get(e.code, 500))
        except ValueError as e:
            resp = _error("BadRequest", str(e), 400)
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as e:
            log.exception("node error on %s %s", request.method, request.path)
            resp = _error("NodeError", str(e), 500)
        if not resp.prepared:
            resp.headers[PROOF_HEADER] = proof(self.secret, sig)
        return resp

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth], client_max_size=1 << 20)
        r = app.router
        r.add_get(f"{API}/health", self.health)
        r.add_get(f"{API}/drives/{{drive}}/capacity", self.capacity)
        r.add_get(f"{API}/drives/{{drive}}/list", self.list_fan)
        r.add_put(f"{API}/drives/{{drive}}/shards/{{name}}", self.put_shard)
        r.add_get(f"{API}/drives/{{drive}}/shards/{{name}}", self.get_shard)
        r.add_get(f"{API}/drives/{{drive}}/shards/{{name}}/stat", self.stat_shard)
        r.add_post(f"{API}/drives/{{drive}}/shards/{{name}}/scrub", self.scrub_shard)
        r.add_delete(f"{API}/drives/{{drive}}/shards/{{name}}", self.delete_shard)
        r.add_get("/metrics", self.prometheus)
        r.add_route("GET", "/minio/health/live", self.live)
        r.add_route("HEAD", "/minio/health/live", self.live)
        app.on_startup.append(self._start_sweeper)
        app.on_cleanup.append(self._cleanup)
        return app

    async def _start_sweeper(self, app: web.Application) -> None:
        self._sweeper = asyncio.create_task(self._sweep())

    async def _sweep(self) -> None:
        """Temp files left by a crash or a dropped upload go after ``tmp_max_age``."""
        while True:
            await asyncio.sleep(self.sweep_interval)
            for name, store in self.drives.items():
                with contextlib.suppress(Exception):
                    n = await self._run(name, store.cleanup_tmp, self.tmp_max_age)
                    if n:
                        log.info("removed %d stale temp files from %s", n, name)

    async def _cleanup(self, app: web.Application) -> None:
        self._sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._sweeper
        for pool in self._pools.values():
            pool.shutdown(wait=False)

    # -- handlers -------------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        async def one(name: str, store: ShardStore) -> dict[str, Any]:
            h = await self._run(name, store.health)
            return {"name": name, **h}

        drives = await asyncio.gather(*(one(n, s) for n, s in self.drives.items()))
        return web.json_response({"node_id": self.node_id, "ok": all(d["ok"] for d in drives), "drives": drives})

    async def live(self, request: web.Request) -> web.Response:
        """Liveness without the cluster secret (``mc ping`` probes every server ``mc admin info`` lists)."""
        return web.Response(status=200)

    async def prometheus(self, request: web.Request) -> web.Response:
        if not allowed(request.headers.get("Authorization"), self.metrics_mode, self.metrics_token):
            return _error("AccessDenied", "metrics need Authorization: Bearer $S3GW_METRICS_TOKEN", 403)

        async def one(name: str, store: ShardStore) -> dict[str, Any]:
            h = await self._run(name, store.health)
            return {"name": name, **h}

        self.metrics.drives = list(await asyncio.gather(*(one(n, s) for n, s in self.drives.items())))
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def capacity(self, request: web.Request) -> web.Response:
        name, store = self._store(request)
        return web.json_response((await self._run(name, store.capacity)).to_dict())

    async def list_fan(self, request: web.Request) -> web.Response:
        name, store = self._store(request)
        fan = request.query.get("fan", "")
        names = await self._run(name, store.list_fan, fan, request.query.get("prefix", ""))
        return web.json_response({"names": names})

    async def put_shard(self, request: web.Request) -> web.Response:
        drive, store = self._store(request)
        shard = validate_name(request.match_info["name"])
        block_size = self._int(request, "block_size")
        algo = request.query.get("hash", bitrot.DEFAULT_ALGO)
        signed = request[SIGNED]
        try:
            mac = BodyMac(self.secret, signed.sig, signed.body)
        except ValueError as e:
            raise _BadRequest(str(e)) from None
        writer = await made_writer(self._run(drive, store.create, shard, block_size, algo))
        header = writer.header
        splitter = FrameSplitter(block_size, header.hash_len)

        def write(entries: list[tuple[bytes, int]]) -> None:
            # Verify every frame on the way in: bitrot in transit is refused here,
            # not found months later by a reader. The body MAC runs here too (in
            # order: each batch is awaited before the next), off the event loop.
            for entry in entries:
                lengths = frame_lengths(entry, block_size)
                if any(b is None for b in verify_frames(header, entry[0], lengths)):
                    raise _Corrupt(f"{shard}: a frame failed its hash in transit")
                mac.update(entry[0])
                writer.write(entry[0])

        try:
            pending: list[tuple[bytes, int]] = []
            size = 0
            async for chunk in request.content.iter_chunked(READ_CHUNK):
                got = splitter.feed(chunk)
                pending += got
                size += sum(len(e[0]) for e in got)
                if size >= FLUSH_BYTES:
                    await self._run(drive, write, pending)
                    pending, size = [], 0
            pending += splitter.finish()
            await self._run(drive, write, pending)
            if not hmac.compare_digest(mac.digest(splitter.frame_bytes), splitter.end_mac):
                raise _Forged(f"{shard}: the upload's body MAC does not match (altered in transit?)")
            stat = await self._run(drive, writer.commit)
        except asyncio.CancelledError:
            # the connection dropped: nothing is left behind (the abort queues
            # behind any write still running in the drive's pool; not awaited)
            try:
                self._pools[drive].submit(writer.abort)
            except RuntimeError:
                writer.abort()
            raise
        except BaseException:
            # a bad or truncated stream, a full disk: the temp file is gone
            # before the error is answered
            await self._run(drive, writer.abort)
            raise
        return web.json_response(stat.to_dict())

    async def get_shard(self, request: web.Request) -> web.StreamResponse:
        drive, store = self._store(request)
        shard = validate_name(request.match_info["name"])
        if "first" not in request.query:
            path = store.path(shard)
            if not await self._run(drive, os.path.isfile, path):
                raise ShardNotFound(shard)
            return web.FileResponse(path, headers={"Content-Type": "application/octet-stream"})
        first = self._int(request, "first")
        count = self._int(request, "count")
        if count > MAX_READ_BLOCKS:
            raise _BadRequest("count too large")
        bs = request.query.get("block_size")
        frames = await self._run(
            drive,
            lambda: store.read_frames(
                shard,
                first,
                count,
                block_size=int(bs) if bs and is_digits(bs, 12) else None,
                hash_algo=request.query.get("hash"),
            ),
        )
        hdr = frames.header
        return web.Response(
            body=frames.data,
            content_type="application/octet-stream",
            headers={
                "x-s3gw-hash": hdr.hash_algo,
                "x-s3gw-hash-len": str(hdr.hash_len),
                "x-s3gw-block-size": str(hdr.block_size),
                "x-s3gw-lengths": ",".join(map(str, frames.lengths)),
            },
        )

    async def stat_shard(self, request: web.Request) -> web.Response:
        drive, store = self._store(request)
        st = await self._run(drive, store.stat, validate_name(request.match_info["name"]))
        return web.json_response(st.to_dict())

    async def scrub_shard(self, request: web.Request) -> web.Response:
        drive, store = self._store(request)
        bad = await self._run(drive, store.scrub, validate_name(request.match_info["name"]))
        return web.json_response({"bad": bad})

    async def delete_shard(self, request: web.Request) -> web.Response:
        drive, store = self._store(request)
        deleted = await self._run(drive, store.delete, validate_name(request.match_info["name"]))
        return web.json_response({"deleted": deleted})


class _NotFound(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class _Corrupt(NodeError):
    code = "ChecksumMismatch"


class _Forged(Exception):
    code = "Forbidden"


def _error(code: str, message: str, status: int) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


# -- process -------------------------------------------------------------------


#: a connection with no request in progress (or an unfinished request head) is closed after this long
IDLE_TIMEOUT = 30.0


def node_runner(server: NodeServer, idle_timeout: float = IDLE_TIMEOUT) -> web.AppRunner:
    """The node's HTTP runner. aiohttp's keep-alive timer runs from a connection's
    opening and from the end of each request, and closes it while no request is
    in progress: an idle socket, or one trickling a request head, is cut off after
    ``idle_timeout`` (a slow client cannot hold node sockets open)."""
    return web.AppRunner(
        server.app(), access_log=None, handler_cancellation=True, keepalive_timeout=idle_timeout or 3630.0
    )


async def run_node(
    node_id: str,
    dirs: list[str],
    secret: bytes,
    host: str,
    port: int,
    *,
    fsync: bool = True,
    reserve_bytes: int = 0,
    tmp_max_age: float = 3600.0,
    idle_timeout: float = IDLE_TIMEOUT,
    tls: ReloadingTLS | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM (HTTPS with ``tls``: its certificate is reloaded on SIGHUP and
    when its files change, nodes/tls.py)."""
    server = NodeServer.from_dirs(
        node_id, dirs, secret, fsync=fsync, reserve_bytes=reserve_bytes, tmp_max_age=tmp_max_age
    )
    runner = node_runner(server, idle_timeout)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True, ssl_context=tls.context if tls else None)
    await site.start()
    print(
        json.dumps(
            {
                "node": node_id,
                "address": f"{host}:{port}",
                "tls": tls is not None,
                "drives": {n: s.root for n, s in server.drives.items()},
            }
        ),
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    # SIGHUP: reload the certificate (without TLS there is nothing to reload; the node goes on)
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGHUP, tls.reload if tls else lambda: log.info("SIGHUP: no TLS to reload"))
    watcher = asyncio.create_task(tls.watch()) if tls is not None else None
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await runner.cleanup()


__all__ = ["NodeServer", "run_node", "InvalidShardName", "UnsupportedHash"]

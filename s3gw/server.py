"""Composition root: build the metadata store, the storage and the core, and serve them.

This module (with ``cli``) is the only place that knows every layer; the layers
themselves import one way only (DESIGN.md, tests/unit/test_layers.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

from .api.app import CORE, SETTINGS, Settings, make_handler
from .api import handlers, multipart, subresources
from .core.service import Core
from .meta.sqlite import SqliteMeta
from .storage import Storage

log = logging.getLogger("s3gw")

DEFAULT_USER = "minioadmin"
DEFAULT_PASSWORD = "minioadmin"


@dataclass
class ServerConfig:
    data_dir: str
    host: str = "127.0.0.1"
    port: int = 8080
    access_key: str = DEFAULT_USER
    secret_key: str = DEFAULT_PASSWORD
    region: str = "us-east-1"
    domains: tuple[str, ...] = ()
    drives: int = 9
    data_shards: int = 6
    parity_shards: int = 3
    block_size: int = 1 << 20
    extra_credentials: dict[str, str] = field(default_factory=dict)


def root_credentials(env: dict[str, str] | None = None) -> tuple[str, str]:
    """Root keys from S3GW_ROOT_USER/PASSWORD, else MINIO_ROOT_USER/PASSWORD, else the defaults."""
    env = dict(os.environ) if env is None else env
    user = env.get("S3GW_ROOT_USER") or env.get("MINIO_ROOT_USER") or DEFAULT_USER
    password = env.get("S3GW_ROOT_PASSWORD") or env.get("MINIO_ROOT_PASSWORD") or DEFAULT_PASSWORD
    return user, password


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class UnsafeListen(RuntimeError):
    pass


def check_listen_safety(cfg: ServerConfig) -> None:
    """Never serve a non-loopback address with the well-known default credentials."""
    default = cfg.access_key == DEFAULT_USER or cfg.secret_key == DEFAULT_PASSWORD
    if default and not is_loopback(cfg.host):
        raise UnsafeListen(
            f"refusing to listen on {cfg.host} with the default credentials: "
            "set S3GW_ROOT_USER and S3GW_ROOT_PASSWORD (or MINIO_ROOT_USER / MINIO_ROOT_PASSWORD)"
        )


def build_app(cfg: ServerConfig) -> web.Application:
    app = web.Application(client_max_size=1024**2)
    app[SETTINGS] = Settings(
        credentials={cfg.access_key: cfg.secret_key, **cfg.extra_credentials},
        region=cfg.region,
        domains=cfg.domains,
    )

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        meta = SqliteMeta(os.path.join(cfg.data_dir, "meta", "s3gw.db"))
        await meta.open()
        storage = Storage.local(cfg.data_dir, drives=cfg.drives, data_shards=cfg.data_shards,
                                parity_shards=cfg.parity_shards, block_size=cfg.block_size)
        core = Core(meta, storage)
        app[CORE] = core
        gc = asyncio.create_task(core.gc_worker())
        try:
            yield
        finally:
            gc.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gc
            await storage.close()
            await meta.close()

    app.cleanup_ctx.append(lifecycle)
    handler = make_handler({**handlers.HANDLERS, **subresources.HANDLERS, **multipart.HANDLERS})
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


def banner(cfg: ServerConfig) -> str:
    url = f"http://{cfg.host}:{cfg.port}"
    return "\n".join([
        f"s3gw: S3 API on {url}  (erasure coding {cfg.data_shards}+{cfg.parity_shards} over {cfg.drives} drives in {cfg.data_dir})",
        f"  root user: {cfg.access_key}",
        "  aws:   AWS_ACCESS_KEY_ID=<user> AWS_SECRET_ACCESS_KEY=<password> "
        f"aws --endpoint-url {url} s3 ls",
        f"  mc:    mc alias set s3gw {url} <user> <password> && mc ls s3gw",
    ])


async def serve(cfg: ServerConfig, ready: asyncio.Event | None = None) -> None:
    check_listen_safety(cfg)
    app = build_app(cfg)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, cfg.host, cfg.port, reuse_address=True)
    await site.start()
    print(banner(cfg), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()

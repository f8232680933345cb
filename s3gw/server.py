"""Composition root: build the metadata store, the storage and the core, and serve them.

This module (with ``cli``) is the only place that knows every layer; the layers
themselves import one way only (DESIGN.md, tests/unit/test_layers.py). What it
builds is described by a ``ServerConfig``, which ``s3gw/config.py`` makes from
the configuration schema: this module imports the config, never the reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import ssl
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from aiohttp import web

from nodes.tls import ReloadingTLS

try:  # optional (pyproject's dependencies install it where it builds): server.event_loop
    import uvloop
except ImportError:  # pragma: no cover - depends on the environment
    uvloop = None  # type: ignore[assignment]

from .api import (
    admin,
    cors,
    handlers,
    health,
    kms_admin,  # noqa: F401  (its routes join the admin tables: mc admin kms, s3gw admin kms)
    madmin,
    madmin_iam,  # noqa: F401  (its routes join madmin.ROUTES: service accounts, groups)
    madmin_ops,  # noqa: F401  (its routes join madmin.ROUTES: trace, config, data usage)
    madmin_targets,  # noqa: F401  (its routes join madmin.ROUTES: bucket targets, mc replicate add)
    metrics,
    s3gw_admin,
    sts,
    trace,
)
from .api.admin import KEYS
from .api.app import CORE, IAM, LIFECYCLE, OPS, REPAIR, RUNTIME, SETTINGS, TELEMETRY, TRACER, Settings, make_handler
from .api.guard import GuardedRunner, Limits, RequestCap, request_limit_middleware
from .api.observe import Telemetry, access_log, audit_log, setup_log
from .cache import Cache, CachedMeta, MemoryCache, NullCache
from .cache.shared import Generations
from .common.version import VERSION
from .config import DatabaseSettings, ServerConfig
from .core.expiry import LifecycleWorker
from .core.iam import Iam
from .core.keys import KeyAdmin
from .core.notify import Events
from .core.ops import Operations
from .core.repair import Repair
from .core.replicate import Replicator
from .core.runtime_config import RuntimeConfig
from .core.service import Core
from .credentials import DEFAULT_PASSWORD, DEFAULT_USER
from .kms.factory import build_kms
from .meta.base import MetaStore
from .meta.sqlite import SqliteMeta
from .notify import TargetSpec, make_target
from .remote_s3 import RemoteS3
from .storage import Storage

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class UnsafeListen(RuntimeError):
    pass


class TLSSetupError(RuntimeError):
    """The HTTPS certificate or key does not load at start."""


def load_tls(cfg: ServerConfig) -> ReloadingTLS | None:
    """The gateway's reloading HTTPS context (nodes/tls.py), or None without ``security.tls``."""
    if not cfg.tls_cert:
        return None
    try:
        return ReloadingTLS(cfg.tls_cert, cfg.tls_key, interval=cfg.tls_reload_interval, name="gateway TLS")
    except (OSError, ValueError) as e:  # ssl.SSLError is an OSError
        raise TLSSetupError(f"security.tls: {cfg.tls_cert} / {cfg.tls_key} do not load: {e}") from None


def check_listen_safety(cfg: ServerConfig) -> None:
    """Never serve a non-loopback address with the well-known default credentials."""
    default = cfg.access_key == DEFAULT_USER or cfg.secret_key == DEFAULT_PASSWORD
    if default and not is_loopback(cfg.host):
        raise UnsafeListen(
            f"refusing to listen on {cfg.host} with the default credentials: "
            "set S3GW_ROOT_USER and S3GW_ROOT_PASSWORD (or MINIO_ROOT_USER / MINIO_ROOT_PASSWORD)"
        )


def build_app(cfg: ServerConfig, *, generations: Generations | None = None, services: bool = True) -> web.Application:
    """The gateway's application. ``generations``: the worker processes' shared cache
    generations (workers.py); ``services``: run the gateway's background services (GC,
    heal, scanner, orphan reaper, the usage fold) in this process: one worker of several does."""
    request_cap = RequestCap(cfg.max_requests)  # api requests_max: changeable at run time
    tracer = trace.TraceHub(
        trace.trace_dir(cfg.data_dir, cfg.host, cfg.port)
    )  # mc admin trace, across worker processes
    telemetry = Telemetry(server=f"{cfg.host}:{cfg.port}", tracer=tracer)
    # admin.gate: an unsigned request under /minio/admin/ is refused before any handler runs
    app = web.Application(
        client_max_size=1024**2, middlewares=[telemetry.middleware(), request_limit_middleware(request_cap), admin.gate]
    )
    app[TELEMETRY] = telemetry
    app[TRACER] = tracer

    async def end_traces(app: web.Application) -> None:
        tracer.shutdown()  # live trace streams end, so they do not hold the shutdown

    app.on_shutdown.append(end_traces)
    app[SETTINGS] = Settings(
        credentials={cfg.access_key: cfg.secret_key, **cfg.extra_credentials},
        region=cfg.region,
        domains=cfg.domains,
        trusted_proxies=tuple(ipaddress.ip_network(n, strict=False) for n in cfg.trusted_proxies),
        read_timeout=cfg.http_read_timeout,
        write_timeout=cfg.http_write_timeout,
        metrics_auth=cfg.metrics_auth,
        metrics_token=cfg.metrics_token,
        metrics_token_max_lifetime=cfg.metrics_token_max_lifetime,
    )

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        meta = make_meta(cfg, generations)
        await meta.open()
        storage = make_storage(cfg)
        storage.maintain = services  # wiped drives formatted, temp files swept: once per gateway
        await storage.start()
        core = Core(meta, storage)
        # uploads in progress refresh their write intents well within the orphan grace
        core.intent_refresh = max(0.5, min(60.0, cfg.orphan_grace / 4))
        core.gc_grace = cfg.gc_grace
        core.settle_time = cfg.database.timeout  # how long a write of unknown outcome waits to find out
        core.kms = kms = await build_kms(cfg.kms, meta)  # SSE-S3/SSE-KMS (docs/encryption.md), or none
        app[CORE] = core
        repair = Repair(
            meta,
            storage,
            heal_interval=cfg.heal_interval,
            scan_interval=cfg.scan_interval,
            scan_pace=cfg.scan_pace,
            deep_every=cfg.deep_scan_every,
            orphan_grace=cfg.orphan_grace,
        )
        app[REPAIR] = repair
        core.lifecycle_day = cfg.lifecycle_day
        expiry = LifecycleWorker(
            core,
            interval=cfg.lifecycle_interval,
            day=cfg.lifecycle_day,
            stale_uploads_expiry=cfg.stale_uploads_expiry,
            stale_uploads_interval=cfg.stale_uploads_interval,
        )
        app[LIFECYCLE] = expiry
        iam = Iam(meta, cfg.access_key, cfg.secret_key, cfg.extra_credentials, generations=generations)
        if cfg.old_root is not None:
            moved = await iam.reseal(*cfg.old_root)
            log.warning("re-sealed %d user secrets under the new root credentials", moved)
        unreadable = await iam.unreadable_users()
        if unreadable:
            log.error(
                "%d users were sealed under other root credentials (%s...): start once with "
                "S3GW_ROOT_USER_OLD / S3GW_ROOT_PASSWORD_OLD",
                len(unreadable),
                unreadable[0],
            )
        app[IAM] = iam
        core.secrets = iam.box  # seals the secrets of replication targets
        remote = RemoteS3()
        core.replicator = Replicator(core, remote)  # bucket replication (core/replicate.py)
        core.replicator.lag_warning = cfg.replication_lag_warning
        app[OPS] = Operations(meta, storage, usage_interval=cfg.usage_interval)
        app[KEYS] = KeyAdmin(kms, core.kms_stats)  # the same KMS (and metrics) for mc admin kms / s3gw admin kms
        app[KEYS].count_objects = core.count_key_versions  # objects per key version (status)
        core.events = make_events(cfg, meta)
        core.events.deployment_id = app[OPS].deployment_id
        # the intent keeper refreshes this process's own writes; run-time configuration and
        # trace streams are per process: every worker runs them
        tasks = [asyncio.create_task(core.intent_keeper())]
        if services:
            tasks += [
                asyncio.create_task(core.gc_worker()),
                asyncio.create_task(app[OPS].usage.fold_forever()),
                asyncio.create_task(expiry.run_forever()),
            ] + [asyncio.create_task(w()) for w in repair.workers()]
            tasks.append(asyncio.create_task(app[KEYS].rotation_worker()))  # key_rotation_period
            if core.events.targets:  # the outbox sender (bucket notifications)
                tasks.append(asyncio.create_task(core.events.run()))
            tasks.append(asyncio.create_task(core.replicator.run()))  # bucket replication's queue
        runtime = RuntimeConfig(
            meta,
            {
                ("api", "requests_max"): cfg.max_requests,
                ("api", "cors_allow_origin"): tuple(cfg.cors_allow_origins),
                ("api", "stale_uploads_expiry"): cfg.stale_uploads_expiry,
                ("api", "stale_uploads_cleanup_interval"): cfg.stale_uploads_interval,
                ("heal", "interval"): cfg.heal_interval,
                ("scanner", "cycle"): cfg.scan_interval,
                ("scanner", "pace"): cfg.scan_pace,
                ("scanner", "deep_every"): cfg.deep_scan_every,
                ("site", "region"): cfg.region,
                ("storage_class", "standard"): f"EC:{cfg.parity_shards}",
            },
        )
        runtime.on("api", "requests_max", lambda v: setattr(request_cap, "value", v))
        runtime.on("api", "cors_allow_origin", lambda v: setattr(app[cors.ORIGINS], "patterns", v))
        runtime.on("api", "stale_uploads_expiry", lambda v: setattr(expiry, "stale_uploads_expiry", v))
        runtime.on("api", "stale_uploads_cleanup_interval", lambda v: setattr(expiry, "stale_uploads_interval", v))
        runtime.on("heal", "interval", lambda v: setattr(repair, "heal_interval", v))
        runtime.on("scanner", "cycle", lambda v: setattr(repair, "scan_interval", v))
        runtime.on("scanner", "pace", lambda v: setattr(repair, "scan_pace", v))
        runtime.on("scanner", "deep_every", lambda v: setattr(repair, "deep_every", v))
        app[RUNTIME] = runtime
        tasks.append(asyncio.create_task(runtime.follow()))  # what other gateways change, within a second
        await tracer.start()
        try:
            yield
        finally:
            await tracer.stop()
            tasks += repair.stop_sequences()  # mc admin heal sequences still walking
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            await core.events.close()
            await remote.close()
            await storage.close()
            await meta.close()

    app.cleanup_ctx.append(lifecycle)
    handler = make_handler(handlers.HANDLERS)
    cors.install(app, cfg.cors_allow_origins)  # OPTIONS and Access-Control-* on every route, as MinIO
    # health, metrics and admin routes first: the S3 route below takes everything
    health.add_routes(app)  # /health/*, /minio/health/*: unauthenticated probes
    metrics.add_routes(app)  # Prometheus endpoints, /debug/db-stats: the metrics authentication
    admin.add_routes(app, madmin.ROUTES, s3gw_admin.ROUTES)  # /minio/admin/*: one admin authentication
    app.router.add_route("POST", "/", sts.with_sts(handler))  # STS AssumeRole (a form POST /), else S3
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


def make_events(cfg: ServerConfig, meta: MetaStore) -> Events:
    """Bucket notifications: the targets the configuration names, and the outbox sender's settings."""
    targets = {}
    for kind, tid, settings in cfg.notify_targets:
        target = make_target(TargetSpec(kind, tid, dict(settings)))
        targets[target.target_id] = target
    return Events(
        meta,
        targets,
        region=cfg.region,
        endpoint=f"http://{cfg.host}:{cfg.port}",
        concurrency=cfg.notify_concurrency,
        max_attempts=cfg.notify_max_attempts,
        retry_base=cfg.notify_retry_interval,
        retry_max=cfg.notify_retry_max,
        send_timeout=cfg.notify_timeout,
    )


def make_storage(cfg: ServerConfig) -> Storage:
    """Local drives under the data directory (embedded), or the storage nodes."""
    if cfg.nodes:
        if not cfg.node_secret:
            raise ValueError("a cluster needs the cluster secret (--secret-file)")
        return Storage.cluster_form(
            cfg.nodes,
            cfg.node_secret,
            ca_file=cfg.node_ca_file or None,
            data_shards=cfg.data_shards,
            parity_shards=cfg.parity_shards,
            block_size=cfg.block_size,
            probe_interval=cfg.node_probe_interval,
            read_timeout=cfg.node_read_timeout,
            stall_timeout=cfg.node_stall_timeout,
        )
    return Storage.local(
        cfg.data_dir,
        drives=cfg.drives,
        data_shards=cfg.data_shards,
        parity_shards=cfg.parity_shards,
        block_size=cfg.block_size,
        probe_interval=cfg.node_probe_interval,
        tmp_grace=cfg.tmp_grace,
    )


def make_store(cfg: ServerConfig) -> MetaStore:
    """The metadata backend alone (no cache): what ``s3gw meta migrate`` opens."""
    db = cfg.database
    if db.driver == "postgres":
        from .meta.postgres import PostgresMeta  # asyncpg: only needed for PostgreSQL

        return PostgresMeta(
            host=db.host,
            port=db.port,
            database=db.name,
            user=db.user,
            password=db.password,
            ssl=postgres_ssl(db),
            max_connections=db.max_connections,
            min_connections=db.min_connections,
            max_idle_lifetime=db.max_idle_lifetime,
            timeout=db.timeout,
            connect_timeout=db.connect_timeout,
            startup_wait=db.startup_wait,
            auto_migrate=db.auto_migrate,
        )
    default = os.path.join(cfg.data_dir, "meta", "s3gw.db")
    path = db.path or default
    if os.path.abspath(path) == os.path.abspath(default):
        # the embedded default's DATA/meta: private to this user (tightened when it exists)
        meta_dir = os.path.dirname(default)
        os.makedirs(meta_dir, mode=0o700, exist_ok=True)
        if os.stat(meta_dir).st_mode & 0o077:
            os.chmod(meta_dir, 0o700)
    return SqliteMeta(path, auto_migrate=db.auto_migrate)


def postgres_ssl(db: DatabaseSettings) -> str | ssl.SSLContext | None:
    """What asyncpg's ``ssl`` takes for ``database.sslmode``: for verify-ca and verify-full a context
    verifying the server against ``database.ca_file`` (else the system's CAs; asyncpg alone would look
    only in ~/.postgresql/root.crt), with the host name checked for verify-full; a context makes TLS
    mandatory. The other modes as libpq names them (prefer: asyncpg's default)."""
    if db.sslmode in ("verify-ca", "verify-full"):
        ctx = ssl.create_default_context(cafile=db.ca_file or None)
        ctx.check_hostname = db.sslmode == "verify-full"
        return ctx
    return None if db.sslmode == "prefer" else db.sslmode


def make_cache(cfg: ServerConfig, generations: Generations | None = None) -> Cache:
    """Redis when configured; else in-process where it is safe (one SQLite gateway: one process, or
    worker processes sharing ``generations``); else none."""
    c = cfg.cache
    if c.redis_endpoints:
        from .cache.rediscache import RedisCache  # redis-py: only needed with Redis

        return RedisCache(
            list(c.redis_endpoints),
            password=c.redis_password,
            username=c.redis_username,
            db=c.redis_db,
            pool_size=c.redis_pool_size,
            timeout=c.redis_timeout,
            ttl=c.redis_ttl,
            tls=c.redis_tls,
            ca_file=c.redis_ca_file or None,
            prefix=c.redis_prefix,
        )
    if cfg.workers > 1 and generations is None:
        return NullCache()  # worker processes that could not see each other's writes
    alone = cfg.database.driver == "sqlite"  # PostgreSQL: other gateways may write
    if c.memory == "true" or (c.memory == "auto" and alone):
        return MemoryCache(c.memory_max_bytes, generations if cfg.workers > 1 else None)
    return NullCache()


def make_meta(cfg: ServerConfig, generations: Generations | None = None) -> MetaStore:
    """The metadata store the core uses: the backend, behind the cache when there is one."""
    store, cache = make_store(cfg), make_cache(cfg, generations)
    return store if isinstance(cache, NullCache) else CachedMeta(store, cache)


def describe_meta(cfg: ServerConfig) -> str:
    db = cfg.database
    where = (
        f"postgres {db.user}@{db.host}:{db.port}/{db.name}"
        if db.driver == "postgres"
        else f"sqlite {db.path or os.path.join(cfg.data_dir, 'meta', 's3gw.db')}"
    )
    shared = Generations.create(1) if cfg.workers > 1 else None  # (only to describe it)
    return f"metadata: {where}, cache: {make_cache(cfg, shared).describe()}"


def _logs_line(cfg: ServerConfig) -> str:
    """Where the per-request JSON logs go, and how to turn them on when they are off.

    >>> from .config import ServerConfig
    >>> _logs_line(ServerConfig("DATA"))
    'access and audit logs off (--access-log stderr|FILE, --audit-log stderr|FILE)'
    >>> _logs_line(ServerConfig("DATA", access_log="/var/log/s3gw.json", audit_log="stderr"))
    'access log to /var/log/s3gw.json, audit log to stderr'
    """
    if cfg.access_log == "off" and cfg.audit_log == "off":
        return "access and audit logs off (--access-log stderr|FILE, --audit-log stderr|FILE)"
    return ", ".join(
        f"{name} log " + ("off" if dest == "off" else f"to {dest}")
        for name, dest in (("access", cfg.access_log), ("audit", cfg.audit_log))
    )


def banner(cfg: ServerConfig) -> str:
    url = f"https://{cfg.host}:{cfg.tls_port}" if cfg.encryption_in_transit else f"http://{cfg.host}:{cfg.port}"
    return "\n".join(
        [
            f"s3gw {VERSION}: S3 API on {url}  (erasure coding {cfg.data_shards}+{cfg.parity_shards} over "
            + (
                f"{len(cfg.nodes)} storage nodes, metadata in {cfg.data_dir})"
                if cfg.nodes
                else f"{cfg.drives} drives in {cfg.data_dir})"
            ),
            f"  {describe_meta(cfg)}" + (f", {cfg.workers} worker processes" if cfg.workers > 1 else ""),
            *(
                ["  encryption in transit: HTTPS only, every hop TLS"]
                if cfg.encryption_in_transit
                else [f"  TLS on https://{cfg.host}:{cfg.tls_port}"]
                if cfg.tls_cert
                else []
            ),
            f"  {cfg.kms.describe()}",
            f"  root user: {cfg.access_key}",
            f"  logs: {_logs_line(cfg)}",
            f"  aws:   AWS_ACCESS_KEY_ID=<user> AWS_SECRET_ACCESS_KEY=<password> aws --endpoint-url {url} s3 ls",
            f"  mc:    mc alias set s3gw {url} <user> <password> && mc ls s3gw",
        ]
    )


def run(event_loop: str, coro: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run`` on the event loop ``event_loop`` names (server.event_loop: auto, asyncio or
    uvloop): uvloop, when installed and not turned off, reads and writes sockets in C with fewer
    copies and wake-ups than asyncio's selector loop (docs/benchmarks.md)."""
    factory = None
    if event_loop in ("auto", "uvloop"):
        if uvloop is not None:
            factory = uvloop.new_event_loop
        elif event_loop == "uvloop":
            raise RuntimeError("server.event_loop: uvloop is not installed (pip install uvloop)")
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)


def raise_fd_limit(max_connections: int) -> None:
    """Let the process hold its connection cap plus files, database and node sockets
    (MinIO raises its open-file limit the same way); never above the hard limit."""
    try:
        import resource
    except ImportError:  # not on this platform
        return
    want = max_connections + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        if new < want:
            log.warning(
                "open-file limit %d is below server.max_connections + 1024 (%d): connections past it "
                "fail to be accepted",
                new,
                want,
            )


async def serve(
    cfg: ServerConfig,
    ready: asyncio.Event | None = None,
    *,
    reuse_port: bool = False,
    quiet: bool = False,
    generations: Generations | None = None,
    services: bool = True,
) -> None:
    """Serve until SIGINT/SIGTERM. ``reuse_port``: one of several worker processes on one port
    (``generations``, ``services``: see ``build_app``)."""
    check_listen_safety(cfg)
    setup_log(access_log, cfg.access_log)
    setup_log(audit_log, cfg.audit_log)
    app = build_app(cfg, generations=generations, services=services)
    # Request bodies are object data, never to be decompressed on the way in
    # (Content-Encoding: gzip is stored and returned as sent); headers up to
    # 64 KiB reach the S3 checks (MetadataTooLarge) instead of a bare 400.
    # Slow clients are bounded by GuardedRunner (api/guard.py): header-read and idle
    # timeouts, and the connection cap; the request cap is a middleware (build_app).
    limits = Limits(
        read_header_timeout=cfg.read_header_timeout,
        idle_timeout=cfg.idle_timeout,
        max_connections=cfg.max_connections,
        max_requests=cfg.max_requests,
    )
    raise_fd_limit(cfg.max_connections)
    runner = GuardedRunner(
        app,
        limits=limits,
        access_log=None,
        handler_cancellation=True,
        auto_decompress=False,
        max_field_size=65536,
        max_line_size=65536,
    )
    # the certificate first: a pair that does not load stops the start before anything listens
    tls = load_tls(cfg)
    await runner.setup()
    if not cfg.encryption_in_transit:  # encryption in transit: HTTPS only, the plain port stays closed
        site = web.TCPSite(runner, cfg.host, cfg.port, reuse_address=True, reuse_port=reuse_port or None)
        await site.start()
    if tls is not None:
        await web.TCPSite(
            runner, cfg.host, cfg.tls_port, ssl_context=tls.context, reuse_address=True, reuse_port=reuse_port or None
        ).start()
    if not quiet:
        print(banner(cfg), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    # SIGHUP: reload the certificate now (the files are also watched); without TLS: nothing to do
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGHUP, tls.reload if tls else lambda: log.info("SIGHUP: no TLS to reload"))
    if tls is not None:
        # a SIGHUP that came while this process started (ignored until now: a worker of
        # --workers N) is not lost: files changed since they were loaded are loaded now
        tls.check()
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

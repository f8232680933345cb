"""``s3gw serve --workers N``: N gateway processes on one port, one per core.

Python runs one thread of S3 work per process, so a gateway uses more cores by
running more processes. Each worker is a whole gateway (its own event loop,
metadata pool, cache client, storage) bound to the same port with
``SO_REUSEPORT``: the kernel spreads incoming connections over them. They
share the metadata store (and Redis), like gateways on different machines, so
what holds for scaled-out gateways holds here; and, being one gateway, two more
things:

* the in-process metadata cache of the embedded default (SQLite): each worker
  keeps its own, made correct together by generations in shared memory that
  every worker's invalidations move on (``s3gw/cache/shared.py``): a write
  answered by one worker is seen by the next request on any worker;
* the background services (GC, heal, scanner, orphan reaper, lifecycle, the
  notification sender, key rotation; in the embedded form the formatting of
  wiped drives and the temp file sweep) run once per gateway, in worker 0
  (restarted with it); every worker refreshes the write intents of its own
  uploads.

``auto`` (one worker per core) is the default of ``s3gw serve``; ``--workers 1``
runs the gateway in the one process.

The supervisor (this process) applies migrations once before starting the
workers, forwards SIGTERM/SIGINT (and SIGHUP: reload the TLS certificate) to them, and restarts a worker that dies
(at most once a second per worker).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import sys
import time
from multiprocessing.process import BaseProcess

from .api.observe import ACCESS_LOGGER
from .cache.shared import Generations
from .config import ServerConfig
from .server import banner, check_listen_safety, load_tls, make_store, run, serve

log = logging.getLogger(__name__)


def _worker_main(cfg: ServerConfig, index: int, log_level: int, generations: Generations) -> None:
    logging.basicConfig(level=log_level, format=f"%(asctime)s %(levelname)s [w{index}] %(name)s %(message)s")
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.WARNING)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides; SIGTERM stops the loop (serve)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until serve() installs its certificate reload
    try:
        run(cfg.event_loop, serve(cfg, reuse_port=True, quiet=True, generations=generations, services=index == 0))
    except KeyboardInterrupt:
        pass


async def prepare(cfg: ServerConfig) -> list[int]:
    """Open the metadata store once: migrations are applied (or refused) before any worker starts."""
    store = make_store(cfg)
    await store.open()
    try:
        return list(getattr(store, "applied", []))
    finally:
        await store.close()


def run_workers(cfg: ServerConfig) -> int:
    check_listen_safety(cfg)
    load_tls(cfg)  # a certificate that does not load stops the start here, not in a loop of worker restarts
    applied = asyncio.run(prepare(cfg))
    if applied:
        log.info("applied migrations %s", applied)
    ctx = multiprocessing.get_context("spawn")
    level = logging.getLogger().getEffectiveLevel()
    procs: dict[int, BaseProcess] = {}
    started: dict[int, float] = {}
    generations = Generations.create()

    def start(i: int) -> None:
        p = ctx.Process(
            target=_worker_main, args=(cfg, i, level, generations.for_worker(i)), name=f"s3gw-worker-{i}", daemon=False
        )
        p.start()
        procs[i], started[i] = p, time.monotonic()

    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    def on_hup(signum: int, _frame: object) -> None:  # reload the certificate: every worker serves HTTPS itself
        for p in procs.values():
            if p.is_alive() and p.pid is not None:
                os.kill(p.pid, signal.SIGHUP)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_hup)
    for i in range(cfg.workers):
        start(i)
    print(banner(cfg), flush=True)
    try:
        while not stopping:
            time.sleep(0.2)
            for i, p in list(procs.items()):
                if not p.is_alive() and not stopping:
                    log.error("worker %d exited with %s: restarting", i, p.exitcode)
                    if time.monotonic() - started[i] < 1.0:
                        time.sleep(1.0)
                    start(i)
    finally:
        for p in procs.values():
            if p.is_alive():
                p.terminate()  # SIGTERM: each worker drains and closes its pools
        deadline = time.monotonic() + 15
        for p in procs.values():
            p.join(max(0.1, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: s3gw serve --workers N")

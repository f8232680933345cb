"""Failpoints for the crash and outage tests: ``S3GW_FAILPOINT=<name>`` arms one.

Each is named where it fires (``grep -rn failpoint s3gw``):

* ``shards-durable`` (storage): SIGKILL the gateway after a write's shards are
  durable on the drives, before the metadata commit (orphan shards);
* ``commit-reply-lost`` (PostgreSQL): a transaction that makes a version
  visible commits, then its connection is dropped as if the answer to COMMIT
  was lost on the way (the outcome is unknown to the gateway).
  ``S3GW_FAILPOINT_DELAY=<seconds>`` waits that long first (after logging
  "failpoint commit-reply-lost"), so a test can stop the database meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal

log = logging.getLogger(__name__)


def armed(name: str) -> bool:
    return os.environ.get("S3GW_FAILPOINT") == name


def kill(name: str) -> None:
    """SIGKILL this process here when ``name`` is armed."""
    if armed(name):
        log.error("failpoint %s: killing the process", name)
        os.kill(os.getpid(), signal.SIGKILL)


async def pause(name: str) -> None:
    """Log that ``name`` fires, then wait ``S3GW_FAILPOINT_DELAY`` seconds (0 by default)."""
    log.error("failpoint %s", name)
    delay = float(os.environ.get("S3GW_FAILPOINT_DELAY", "0") or 0)
    if delay > 0:
        await asyncio.sleep(delay)

"""Scaled-out gateways: several ``s3gw serve --config`` processes on one PostgreSQL (and Redis).

Every gateway is a real process with its own port, pool and cache client; they
share the database, the Redis server and (embedded drives) one data directory,
exactly as gateways on several machines share PostgreSQL, Redis and the
storage nodes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
import yaml
from botocore.config import Config

from tests.conftest import ACCESS_KEY, SECRET_KEY, free_port, wait_port
from tests.services import PgServer, RedisServer, stop_process


@dataclass
class Gateway:
    port: int
    proc: subprocess.Popen
    log: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def s3(self, **config: Any):
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(retries={"total_max_attempts": 1}, max_pool_connections=32, **config),
        )

    def stop(self) -> None:
        stop_process(self.proc, 15)

    def logs(self) -> str:
        with open(self.log, errors="replace") as f:
            return f.read()


@dataclass
class Deployment:
    """One database (and optionally Redis) and the gateways started on it."""

    root: str
    pg: PgServer
    redis: RedisServer | None = None
    database: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    gateways: list[Gateway] = field(default_factory=list)

    @property
    def data(self) -> str:
        return os.path.join(self.root, "data")

    def config(self, port: int, **overrides: Any) -> str:
        pwfile = os.path.join(self.root, "db-password")
        with open(pwfile, "w") as f:
            f.write(self.pg.password + "\n")
        doc: dict[str, Any] = {
            "server": {"host": "127.0.0.1", "port": port, "data": self.data},
            "database": {
                "host": self.pg.host,
                "port": self.pg.port,
                "name": self.database,
                "user": self.pg.user,
                "password_file": pwfile,
                "timeout": "3s",
                "connect_timeout": "1s",
                "max_connections": 8,
                "max_idle": 1,
                "startup_wait": "10s",
            },
        }
        if self.redis is not None:
            rpw = os.path.join(self.root, "redis-password")
            with open(rpw, "w") as f:
                f.write(self.redis.password)
            doc["cache"] = {
                "redis": {
                    "endpoints": [self.redis.endpoint],
                    "password_file": rpw,
                    "prefix": f"{self.database}:",
                    "timeout": "250ms",
                    "pool_size": 16,
                }
            }
        for path, value in {**self.extra, **overrides}.items():
            node = doc
            *parents, last = path.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[last] = value
        path = os.path.join(self.root, f"config-{port}.yaml")
        with open(path, "w") as f:
            yaml.safe_dump(doc, f)
        return path

    def start(
        self, *extra_args: str, port: int | None = None, env: dict[str, str] | None = None, **overrides: Any
    ) -> Gateway:
        port = port or free_port()
        cfg = self.config(port, **overrides)
        log = os.path.join(self.root, f"gateway-{port}.log")
        full_env = {**os.environ, "S3GW_ROOT_USER": ACCESS_KEY, "S3GW_ROOT_PASSWORD": SECRET_KEY, **(env or {})}
        proc = subprocess.Popen(
            [sys.executable, "-m", "s3gw.cli", "serve", "--config", cfg, *extra_args],
            env=full_env,
            stdout=open(log, "ab"),
            stderr=subprocess.STDOUT,
        )
        try:
            wait_port(port, proc, timeout=60)
        except Exception:
            print(open(log).read())
            raise
        gw = Gateway(port, proc, log)
        self.gateways.append(gw)
        return gw

    def stop(self) -> None:
        for gw in self.gateways:
            gw.stop()


def _deployment(tmp_path, pg: PgServer, redis: RedisServer | None) -> Iterator[Deployment]:
    root = tempfile.mkdtemp(prefix="s3gw-scale-", dir=str(tmp_path))
    dep = Deployment(root=root, pg=pg, redis=redis, database=pg.new_database("gw"))
    yield dep
    dep.stop()


@pytest.fixture
def deployment(tmp_path, postgres, redis_server) -> Iterator[Deployment]:
    """PostgreSQL + Redis (the production shape)."""
    yield from _deployment(tmp_path, postgres, redis_server)


@pytest.fixture
def pg_only(tmp_path, postgres) -> Iterator[Deployment]:
    """PostgreSQL, no cache."""
    yield from _deployment(tmp_path, postgres, None)

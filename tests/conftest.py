"""Shared test helpers: free ports and a real s3gw server process on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

# Servers the tests start run in one process unless a test asks for workers (``--workers 2``
# wins over this): what a test reads back from a server (admin info, metrics counters,
# logs) is then the whole gateway's. ``s3gw serve``'s own default is one worker per core
# (tests/unit/test_config.py; several workers: tests/functional/test_workers.py).
os.environ.setdefault("S3GW_SERVER_WORKERS", "1")

# real PostgreSQL and Redis servers (session-wide and per-test), see tests/services.py
from tests.services import (  # noqa: F401  (shared by the test modules)  # noqa: F401
    PgServer,
    RedisServer,
    free_port,
    postgres,
    private_postgres,
    private_redis,
    redis_server,
    stop_process,
    wait_port,
)

ACCESS_KEY = "s3gw-test-user"
SECRET_KEY = "s3gw-test-secret-key-0123456789"


@dataclass
class Server:
    url: str
    port: int
    data: str
    proc: subprocess.Popen
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY

    def stop(self) -> None:
        stop_process(self.proc)


def start_server(data: str, *extra: str, env: dict[str, str] | None = None, port: int | None = None) -> Server:
    port = port or free_port()
    full_env = {**os.environ, "S3GW_ROOT_USER": ACCESS_KEY, "S3GW_ROOT_PASSWORD": SECRET_KEY, **(env or {})}
    log = open(os.path.join(data, f"server-{port}.log"), "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "s3gw.cli", "serve", "--data", data, "--address", f"127.0.0.1:{port}", *extra],
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    _STARTED.append(proc)
    wait_port(port, proc)
    return Server(f"http://127.0.0.1:{port}", port, data, proc)


#: every server process a test started: a test that fails before stopping its server
#: must not leave it running (and listening) after the session
_STARTED: list[subprocess.Popen] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for proc in _STARTED:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def mc_bin() -> str:
    """The pinned mc (scripts/go-tools.sh builds it once); missing is a failure, not a skip."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cp = subprocess.run(
        [os.path.join(root, "scripts", "go-tools.sh"), "mc"], capture_output=True, text=True, timeout=1800
    )
    path = next((line.split()[1] for line in cp.stdout.splitlines() if line.startswith("mc ")), "")
    if cp.returncode != 0 or not os.access(path, os.X_OK):
        pytest.fail(
            f"mc is needed and scripts/go-tools.sh mc could not provide it: {cp.stderr.strip()[-500:]}", pytrace=False
        )
    return path


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = str(tmp_path_factory.mktemp("s3gw-data"))
    # the access log on (it is off by default): tests/functional/test_malformed.py waits for its lines
    srv = start_server(data, "--access-log", "stderr")
    yield srv
    srv.stop()


# --------------------------------------------------------------------------- stages
# `make unit` runs tests/unit (marked `unit`) without the tests that need a real
# PostgreSQL or Redis server (marked `services` here, from the fixtures they use);
# `make integration` runs those and everything that starts processes (functional,
# cluster, scale-out, ops): `-m "not unit or services"`.
SERVICE_FIXTURES = {"postgres", "private_postgres", "redis_server", "private_redis"}


UNIT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unit") + os.sep


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "services: needs a real PostgreSQL or Redis server (tests/services.py)")
    config.addinivalue_line("markers", "unit: a test under tests/unit")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if str(item.path).startswith(UNIT_DIR):
            item.add_marker(pytest.mark.unit)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())) or {"postgres", "redis"} & {
            v for v in params.values() if isinstance(v, str)
        }:
            item.add_marker(pytest.mark.services)

"""Real processes on loopback: storage nodes (``s3gw node``) and gateways
(``s3gw serve --nodes``), started, killed with SIGKILL, wiped and restarted.

``ClusterProcs`` is also what ``bench/cluster_bench.py`` uses.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.conftest import ACCESS_KEY, SECRET_KEY, free_port, wait_port
from tests.waiting import DEFAULT, wait_until

SECRET = "cluster-secret-for-tests-0123456789abcdef"


@dataclass
class NodeProc:
    index: int
    port: int
    data: str
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def node_id(self) -> str:
        return f"127.0.0.1:{self.port}"

    def shard_files(self) -> list[str]:
        out = []
        for dirpath, _, files in os.walk(os.path.join(self.data, "shards")):
            out += [os.path.join(dirpath, f) for f in files]
        return sorted(out)

    def tmp_files(self) -> list[str]:
        """Shard files being written (or left behind); the node's own drive probes are not counted."""
        tmp = os.path.join(self.data, "tmp")
        return sorted(f for f in os.listdir(tmp) if not f.startswith(".probe")) if os.path.isdir(tmp) else []


@dataclass
class ClusterProcs:
    root: str
    n: int = 9
    secret_file: str = ""
    nodes: list[NodeProc] = field(default_factory=list)
    gateway: subprocess.Popen | None = None
    gw_port: int = 0
    gw_data: str = ""
    env: dict[str, str] = field(default_factory=dict)
    node_args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        os.makedirs(self.root, exist_ok=True)
        self.secret_file = os.path.join(self.root, "secret")
        with open(self.secret_file, "w") as f:
            f.write(SECRET + "\n")
        self.nodes = [NodeProc(i, free_port(), os.path.join(self.root, f"node{i}")) for i in range(self.n)]
        self.gw_data = os.path.join(self.root, "gateway")
        os.makedirs(self.gw_data, exist_ok=True)
        self.env = {**os.environ, "S3GW_ROOT_USER": ACCESS_KEY, "S3GW_ROOT_PASSWORD": SECRET_KEY}

    # -- nodes ------------------------------------------------------------------
    def start_node(self, i: int, secret_file: str | None = None, wait: bool = True) -> NodeProc:
        node = self.nodes[i]
        log = open(os.path.join(self.root, f"node{i}.log"), "ab")
        node.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "s3gw.cli",
                "node",
                "--data",
                node.data,
                "--address",
                f"127.0.0.1:{node.port}",
                "--secret-file",
                secret_file or self.secret_file,
                *self.node_args,
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if wait:
            wait_port(node.port, node.proc)
        return node

    def start_nodes(self) -> None:
        for i in range(self.n):
            self.start_node(i, wait=False)
        for node in self.nodes:
            wait_port(node.port, node.proc)

    def kill_node(self, i: int) -> None:
        """SIGKILL: no goodbye, no cleanup."""
        p = self.nodes[i].proc
        if p is not None and p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()

    def wipe_node(self, i: int) -> None:
        self.kill_node(i)
        shutil.rmtree(self.nodes[i].data)

    # -- gateway ------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gw_port}"

    def start_gateway(
        self, *extra: str, env: dict[str, str] | None = None, port: int | None = None, nodes: list[str] | None = None
    ) -> subprocess.Popen:
        self.gw_port = port or self.gw_port or free_port()
        urls = nodes or [n.url for n in self.nodes]
        log = open(os.path.join(self.root, "gateway.log"), "ab")
        self.gateway = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "s3gw.cli",
                "serve",
                "--data",
                self.gw_data,
                "--address",
                f"127.0.0.1:{self.gw_port}",
                "--nodes",
                ",".join(urls),
                "--secret-file",
                self.secret_file,
                "--probe-interval",
                "0.5",
                *extra,
            ],
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_port(self.gw_port, self.gateway)
        return self.gateway

    def kill_gateway(self) -> None:
        if self.gateway is not None and self.gateway.poll() is None:
            os.kill(self.gateway.pid, signal.SIGKILL)
            self.gateway.wait()

    def stop_gateway(self) -> None:
        if self.gateway is not None and self.gateway.poll() is None:
            self.gateway.terminate()
            try:
                self.gateway.wait(10)
            except subprocess.TimeoutExpired:
                self.kill_gateway()

    def admin(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "s3gw.cli", "admin", *args, "--endpoint", self.url],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=600,
        )

    def info(self) -> dict:
        return json.loads(self.admin("info", "--json").stdout)

    def health(self, path: str = "/minio/health/cluster") -> tuple[int, dict[str, str]]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as r:
                return r.status, dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers)

    def wait_online(self, count: int, timeout: float = DEFAULT) -> None:
        """Until the gateway sees exactly ``count`` nodes online."""
        wait_until(
            lambda: sum(n["online"] for n in self.info()["nodes"]),
            f"the gateway to see {count} nodes online",
            timeout,
            until=lambda online: online == count,
        )

    def stop(self) -> None:
        self.stop_gateway()
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.terminate()
        for node in self.nodes:
            if node.proc is not None:
                try:
                    node.proc.wait(10)
                except subprocess.TimeoutExpired:
                    node.proc.kill()
                    node.proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterProcs]:
    c = ClusterProcs(str(tmp_path_factory.mktemp("cluster")))
    c.start_nodes()
    c.start_gateway("--heal-interval", "0.5", "--orphan-grace", "3")
    try:
        yield c
    finally:
        c.stop()

"""ops/update.py rolling-restart against a production-shaped deployment: nine
storage nodes and two gateways sharing PostgreSQL, every process under a restart
loop (what systemd's Restart=always or a Kubernetes pod gives). The script
restarts each node and each gateway in turn through the restart commands an
operator would give it, while its canary writes and reads - and must see no
failed request."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import yaml

from tests.conftest import ACCESS_KEY, SECRET_KEY, free_port, wait_port
from tests.ops.conftest import Ops
from tests.services import PgServer
from tests.waiting import wait_until

SECRET = "rolling-restart-cluster-secret-0123456789"

# one restart loop per process: the child's pid in ROOT/<port>.pid, restarted when it exits
LOOP = """#!/bin/bash
root=$1; port=$2; shift 2
while [ ! -e "$root/stop" ]; do
  "$@" >> "$root/$port.log" 2>&1 &
  echo $! > "$root/$port.pid"
  wait $!
  sleep 0.1
done
"""


@dataclass
class Supervised:
    root: str
    pg: PgServer
    node_ports: list[int] = field(default_factory=list)
    gw_ports: list[int] = field(default_factory=list)
    loops: list[subprocess.Popen] = field(default_factory=list)

    def spawn(self, port: int, *cmd: str) -> None:
        env = {**os.environ, "S3GW_ROOT_USER": ACCESS_KEY, "S3GW_ROOT_PASSWORD": SECRET_KEY}
        self.loops.append(
            subprocess.Popen(
                ["bash", os.path.join(self.root, "loop.sh"), self.root, str(port), *cmd],
                env=env,
                start_new_session=True,
            )
        )

    def start(self) -> None:
        with open(os.path.join(self.root, "loop.sh"), "w") as f:
            f.write(LOOP)
        secret = os.path.join(self.root, "secret")
        with open(secret, "w") as f:
            f.write(SECRET)
        self.node_ports = [free_port() for _ in range(9)]
        for p in self.node_ports:
            self.spawn(
                p,
                sys.executable,
                "-m",
                "s3gw.cli",
                "node",
                "--data",
                os.path.join(self.root, f"node{p}"),
                "--address",
                f"127.0.0.1:{p}",
                "--secret-file",
                secret,
                "--no-fsync",
            )
        pw = os.path.join(self.root, "db-password")
        with open(pw, "w") as f:
            f.write(self.pg.password)
        database = self.pg.new_database("ops")
        self.gw_ports = [free_port() for _ in range(2)]
        for p in self.gw_ports:
            cfg = {
                "server": {"host": "127.0.0.1", "port": p},
                "database": {
                    "host": self.pg.host,
                    "port": self.pg.port,
                    "name": database,
                    "user": self.pg.user,
                    "password_file": pw,
                    "max_connections": 8,
                    "max_idle": 1,
                },
                "storage": {"nodes": [f"http://127.0.0.1:{n}" for n in self.node_ports], "secret_file": secret},
            }
            path = os.path.join(self.root, f"config-{p}.yaml")
            with open(path, "w") as f:
                yaml.safe_dump(cfg, f)
            self.spawn(
                p,
                sys.executable,
                "-m",
                "s3gw.cli",
                "serve",
                "--config",
                path,
                "--probe-interval",
                "0.5",
                "--heal-interval",
                "0.5",
            )
        for p in self.node_ports + self.gw_ports:
            wait_port(p)

    def stop(self) -> None:
        open(os.path.join(self.root, "stop"), "w").close()
        for loop in self.loops:
            try:
                os.killpg(loop.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for loop in self.loops:
            try:
                loop.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(loop.pid, signal.SIGKILL)
                loop.wait()


@pytest.fixture(scope="module")
def supervised(tmp_path_factory: pytest.TempPathFactory, postgres: PgServer) -> Iterator[Supervised]:
    d = Supervised(str(tmp_path_factory.mktemp("ops-rolling")), postgres)
    try:
        d.start()
        yield d
    finally:
        d.stop()


def wait_whole(ops: Ops, whole: bool = True) -> None:
    """Until ``scale.py verify`` finds the cluster whole (all nine nodes online, nothing healing),
    or, with ``whole=False``, until it finds it not whole."""
    wait_until(
        lambda: ops.run("scale.py", "verify", "--expect-nodes", "9", "--wait", "1"),
        "the cluster to be " + ("whole" if whole else "seen degraded"),
        until=lambda r: (r.code == 0) == whole,
    )


def test_rolling_restart_keeps_the_store_available(supervised: Supervised, tmp_path, mc_bin: str) -> None:
    gw0, gw1 = (f"http://127.0.0.1:{p}" for p in supervised.gw_ports)
    ops = Ops(gw0, str(tmp_path / "state"), mc_bin)
    wait_whole(ops)
    pid = lambda p: open(os.path.join(supervised.root, f"{p}.pid")).read()  # noqa: E731
    pids_before = {p: pid(p) for p in supervised.node_ports + supervised.gw_ports}
    kill = f"kill $(cat {supervised.root}/{{port}}.pid)"
    # the default --heal-backlog 0: before the next node goes, the heals of what was written while
    # this one was down are done (the heal worker retries after 5 s, so a node takes ~6 s here: three
    # nodes - the loop is the same for nine - keep the test short)
    restarted = [0, 4, 8]
    r = ops.expect(
        0,
        "update.py",
        "rolling-restart",
        "--gateways",
        gw1,
        "--restart-node-cmd",
        kill,
        "--restart-gateway-cmd",
        kill,
        "--canary-interval",
        "0.2",
        "--drain",
        "0.5",
        "--node-indexes",
        ",".join(map(str, restarted)),
        timeout=600,
    )
    assert r.out.count("] node ") == 3 and r.out.count("] gateway ") == 2, r
    assert "none failed" in r.out
    changed = {p for p in pids_before if pid(p) != pids_before[p]}
    assert changed == {supervised.node_ports[i] for i in restarted} | set(supervised.gw_ports), (
        "exactly the chosen nodes and every gateway were restarted"
    )
    ops.expect(0, "health-check.py", "--gateways", gw1, "--warn-pct", "99.5", "--crit-pct", "99.9")


def test_rolling_restart_refuses_a_degraded_cluster(supervised: Supervised, tmp_path, mc_bin: str) -> None:
    gw0, gw1 = (f"http://127.0.0.1:{p}" for p in supervised.gw_ports)
    ops = Ops(gw0, str(tmp_path / "state"), mc_bin)
    wait_whole(ops)
    # a node down (its loop stopped for the test): nothing may be restarted on top of it
    port = supervised.node_ports[0]
    loop = next(lp for lp in supervised.loops if str(port) in lp.args)
    os.killpg(loop.pid, signal.SIGSTOP)
    os.kill(int(open(os.path.join(supervised.root, f"{port}.pid")).read()), signal.SIGKILL)
    try:
        wait_whole(ops, whole=False)  # the gateway has seen the node go
        r = ops.expect(
            2,
            "update.py",
            "rolling-restart",
            "--gateways",
            gw1,
            "--restart-node-cmd",
            "false",
            "--restart-gateway-cmd",
            "false",
        )
        assert "not whole" in r.out and "nodes offline" in r.out
    finally:
        os.killpg(loop.pid, signal.SIGCONT)
    wait_whole(ops)

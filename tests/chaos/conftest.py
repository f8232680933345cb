"""The system under chaos: nine ``s3gw node`` processes, gateways on one PostgreSQL, all real
processes on loopback, each of which the fault schedule may kill, freeze, fill or restart.

Nodes come from ``tests/cluster/conftest.py`` (``ClusterProcs``), the PostgreSQL server from
``tests/services.py`` (a private one: it is restarted under the gateways), the gateway
configuration from ``tests/scaleout/conftest.py`` (``Deployment``), with ``storage.nodes``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

from tests.cluster.conftest import ClusterProcs
from tests.conftest import ACCESS_KEY, SECRET_KEY, free_port
from tests.scaleout.conftest import Deployment, Gateway
from tests.services import PgServer, start_postgres
from tests.waiting import wait_until

#: background work of the gateways under test: heal passes every half second, the orphan
#: reaper's grace (a write intent older than this whose data no version references is removed)
HEAL_INTERVAL = 0.5
ORPHAN_GRACE = 20.0
# replaced versions' shards are kept this long for reads in progress on any gateway (docs/cluster.md);
# short here so the run ends with the GC queue drained
GC_GRACE = 30.0
#: how long a gateway waits for a node before it reads parity / fails that shard
NODE_READ_TIMEOUT = 3.0
NODE_STALL_TIMEOUT = 5.0
#: the fixed header at the start of every shard file (nodes/shardstore.py)
SHARD_HEADER = 256
#: more than any disk: a node started with it refuses every new shard (DiskFull)
FULL_DISK_RESERVE_MB = 1 << 40


class ChaosCluster:
    """PostgreSQL + 9 nodes + ``gateways`` gateways, with the faults as methods. Every fault is logged
    with its time (``events``) for the report."""

    def __init__(self, root: str, gateways: int = 2) -> None:
        self.root = root
        self.pg: PgServer = start_postgres()
        self.nodes = ClusterProcs(os.path.join(root, "cluster"))
        self.dep = Deployment(root=root, pg=self.pg, database=self.pg.new_database("chaos"))
        self.ports = [free_port() for _ in range(gateways)]
        self.gateways: list[Gateway | None] = [None] * gateways
        self.events: list[tuple[float, str]] = []
        #: monotonic times each node was SIGKILLed (temp files it was writing are left for its sweeper)
        self.node_kills: dict[int, list[float]] = {}
        self.frozen: set[int] = set()
        #: monotonic times each node was SIGCONTed after a SIGSTOP
        self.node_thaws: dict[int, list[float]] = {}
        self.env = {**os.environ, "S3GW_ROOT_USER": ACCESS_KEY, "S3GW_ROOT_PASSWORD": SECRET_KEY}

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self.nodes.start_nodes()
        for g in range(len(self.gateways)):
            self.start_gateway(g)
        self.wait_online(self.nodes.n)

    def close(self) -> None:
        for i in list(self.frozen):
            self.thaw_node(i)
        self.dep.stop()
        self.nodes.stop()
        self.pg.destroy()
        shutil.rmtree(os.path.dirname(self.pg.datadir), ignore_errors=True)

    def log(self, what: str) -> None:
        self.events.append((time.monotonic(), what))

    # -- gateways ----------------------------------------------------------------------
    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.ports]

    def start_gateway(self, g: int) -> None:
        gw_data = os.path.join(self.root, f"gateway{g}")
        os.makedirs(gw_data, exist_ok=True)
        self.gateways[g] = self.dep.start(
            port=self.ports[g],
            **{
                "server.data": gw_data,
                "storage.nodes": [n.url for n in self.nodes.nodes],
                "storage.secret_file": self.nodes.secret_file,
                "storage.node_probe_interval": "0.5s",
                "storage.node_read_timeout": f"{NODE_READ_TIMEOUT}s",
                "storage.node_stall_timeout": f"{NODE_STALL_TIMEOUT}s",
                "repair.heal_interval": f"{HEAL_INTERVAL}s",
                "repair.orphan_grace": f"{ORPHAN_GRACE}s",
                "repair.gc_grace": f"{GC_GRACE}s",
                "database.timeout": "10s",
                "database.startup_wait": "60s",
                "log.access": "off",
                "log.audit": "off",
            },
        )

    def kill_gateway(self, g: int) -> float:
        gw = self.gateways[g]
        assert gw is not None
        # the time is taken before the signal: a read the kill cuts ends before the wait returns,
        # and it must still count as cut by the kill, not as a read cut short by the gateway
        t = time.monotonic()
        os.kill(gw.proc.pid, signal.SIGKILL)
        gw.proc.wait()
        self.log(f"SIGKILL gateway {g}")
        return t

    # -- nodes -------------------------------------------------------------------------
    def kill_node(self, i: int) -> None:
        self.nodes.kill_node(i)
        self.node_kills.setdefault(i, []).append(time.monotonic())
        self.log(f"SIGKILL node {i}")

    def start_node(self, i: int, reserve_mb: int = 0) -> None:
        self.nodes.node_args = ("--reserve-mb", str(reserve_mb)) if reserve_mb else ()
        try:
            self.nodes.start_node(i)
        finally:
            self.nodes.node_args = ()
        self.log(f"start node {i}" + (f" with --reserve-mb {reserve_mb}" if reserve_mb else ""))

    def freeze_node(self, i: int) -> None:
        proc = self.nodes.nodes[i].proc
        assert proc is not None
        os.kill(proc.pid, signal.SIGSTOP)
        self.frozen.add(i)
        self.log(f"SIGSTOP node {i}")

    def thaw_node(self, i: int) -> None:
        proc = self.nodes.nodes[i].proc
        assert proc is not None
        os.kill(proc.pid, signal.SIGCONT)
        self.frozen.discard(i)
        self.node_thaws.setdefault(i, []).append(time.monotonic())
        self.log(f"SIGCONT node {i}")

    # -- PostgreSQL ----------------------------------------------------------------------
    def stop_postgres(self, mode: str) -> None:
        self.pg.stop(mode)
        self.log(f"PostgreSQL stop -m {mode}")

    def start_postgres(self) -> None:
        self.pg.start()
        self.log("PostgreSQL start")

    def psql(self, sql: str) -> list[str]:
        return [line for line in self.pg.psql(sql, self.dep.database).splitlines() if line]

    # -- observing -----------------------------------------------------------------------
    def admin(self, *args: str, gateway: int = 0) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "s3gw.cli", "admin", *args, "--endpoint", self.urls[gateway]],
            check=False,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=1800,
        )

    def admin_json(self, *args: str, gateway: int = 0) -> dict[str, Any]:
        out = self.admin(*args, "--json", gateway=gateway)
        try:
            return json.loads(out.stdout)
        except ValueError:
            raise AssertionError(
                f"s3gw admin {' '.join(args)} --json: exit {out.returncode}: {out.stdout[-500:]} {out.stderr[-1000:]}"
            ) from None

    def info(self, gateway: int = 0) -> dict[str, Any]:
        return self.admin_json("info", gateway=gateway)

    def online(self, gateway: int) -> int:
        return sum(n["online"] for n in self.info(gateway)["nodes"])

    def wait_online(self, count: int) -> None:
        """Until every gateway sees exactly ``count`` nodes online."""
        for g in range(len(self.gateways)):
            wait_until(
                lambda g=g: self.online(g),
                f"gateway {g} to see {count} nodes online",
                until=lambda n: n == count,
                ignore=(AssertionError,),
                interval=0.5,
            )

    def wait_serving(self) -> None:
        """Until every gateway answers the admin API with its metadata store reachable."""
        for g in range(len(self.gateways)):
            wait_until(
                lambda g=g: "error" not in self.info(g)["healing"],
                f"gateway {g} to reach PostgreSQL",
                ignore=(AssertionError,),
                interval=0.5,
            )

    def shard_files(self) -> dict[str, list[str]]:
        """data id -> the paths of its shard files, on every node."""
        out: dict[str, list[str]] = {}
        for node in self.nodes.nodes:
            for path in node.shard_files():
                out.setdefault(os.path.basename(path).rsplit(".", 1)[0], []).append(path)
        return out

    def layouts(self, where: str = "") -> list[tuple[str, str, str, dict[str, Any]]]:
        """(bucket, key, version id, layout) of every stored version with shards (``where``: more SQL)."""
        rows = self.psql(
            "SELECT json_build_array(bucket, convert_from(key, 'UTF8'), version_id, layout)"
            f" FROM versions WHERE layout IS NOT NULL {where}"
        )
        return [(b, k, v, json.loads(lay)) for b, k, v, lay in map(json.loads, rows)]

    def referenced_data_ids(self) -> set[str]:
        """Every data id a stored layout references: versions, and the parts of uploads in progress."""
        ids = {d for *_, lay in self.layouts() for d in data_ids(lay)}
        for row in self.psql("SELECT layout FROM parts"):
            ids |= set(data_ids(json.loads(row)))
        return ids

    def healed_data_ids(self, candidates: set[str]) -> set[str]:
        """Those of ``candidates`` a gateway's heal worked on (its log: "verify <id>.<n>: ..." when a
        heal or the scanner found a shard bad, "heal of <id>.<n> failed")."""
        found: set[str] = set()
        for log in sorted({g.log for g in self.dep.gateways}):
            with open(log, errors="replace") as f:
                for line in f:
                    if " verify " in line or " heal of " in line:
                        word = line.split(" verify " if " verify " in line else " heal of ", 1)[1].split(".", 1)[0]
                        if word in candidates:
                            found.add(word)
        return found

    def write_intents(self) -> set[str]:
        return set(self.psql("SELECT data_id FROM write_intents"))


def data_ids(layout: dict[str, Any]) -> list[str]:
    """The shard sets of one layout (one, or one per part)."""
    if "parts" in layout:
        return [p["layout"]["data_id"] for p in layout["parts"] if p.get("layout")]
    return [layout["data_id"]] if "data_id" in layout else []


def missing_shards(layout: dict[str, Any]) -> list[tuple[int | None, list[int]]]:
    """(part number or None, shard indices the write recorded as missing) of a layout."""
    if "parts" in layout:
        return [
            (p.get("number"), p["layout"].get("missing", []))
            for p in layout["parts"]
            if p.get("layout") and p["layout"].get("missing")
        ]
    return [(None, layout["missing"])] if layout.get("missing") else []

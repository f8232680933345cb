"""The runbooks against the cluster form: nine `s3gw node` processes (three more
waiting for the scale-out test) and a gateway. Nodes are killed, filled, added
and wiped, and each script must see it: exit 0 while healthy, non-zero while not.

The tests run in file order on one cluster; each leaves it whole again, except
the data-loss test, which destroys objects on purpose (the scale-out test after it
does not mind).
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator

import pytest

from tests.cluster.conftest import ClusterProcs
from tests.ops.conftest import LENIENT, Ops

BUCKET = "ops-cluster"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterProcs]:
    c = ClusterProcs(str(tmp_path_factory.mktemp("ops-cluster")), n=12)
    for i in range(9):
        c.start_node(i, wait=False)
    for node in c.nodes[:9]:
        from tests.conftest import wait_port

        wait_port(node.port, node.proc)
    c.start_gateway("--heal-interval", "0.5", nodes=[n.url for n in c.nodes[:9]])
    c.wait_online(9)
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def ops(cluster: ClusterProcs, tmp_path, mc_bin: str) -> Ops:
    return Ops(cluster.url, str(tmp_path / "state"), mc_bin)


def restart_nodes(c: ClusterProcs, indexes, count: int) -> None:
    for i in indexes:
        c.start_node(i)
    c.wait_online(count)


def test_healthy_cluster(cluster: ClusterProcs, ops: Ops) -> None:
    r = ops.expect(0, "health-check.py", *LENIENT)
    assert "9 storage node(s) online" in r.out
    ops.expect(0, "incident-response.py", "pod-crash")
    ops.expect(0, "scale.py", "verify", "--expect-nodes", "9")
    ops.expect(0, "runbooks/emergency.py")


def test_one_node_down_is_degraded_not_down(cluster: ClusterProcs, ops: Ops) -> None:
    cluster.kill_node(0)
    cluster.wait_online(8)
    try:
        r = ops.expect(1, "health-check.py", *LENIENT)
        assert "1 of 9 storage nodes offline" in r.out and cluster.nodes[0].url in r.out
        r = ops.expect(1, "incident-response.py", "pod-crash")
        assert "restart the node" in r.out
        r = ops.expect(1, "runbooks/emergency.py")
        assert "P2" in r.out
    finally:
        restart_nodes(cluster, [0], 9)
    ops.expect(0, "health-check.py", *LENIENT, "--no-canary")


def test_three_nodes_down_is_degraded_four_is_critical(cluster: ClusterProcs, ops: Ops) -> None:
    """Three of nine down (m = 3): writes still taken (parity raised for new objects), at the
    edge; a fourth down: neither write nor read quorum, critical."""
    for i in (1, 2, 3):
        cluster.kill_node(i)
    cluster.wait_online(6)
    try:
        r = ops.expect(1, "health-check.py", *LENIENT)
        assert "at the edge of write quorum: 6 drives online, 6 needed" in r.out
        assert "write quorum LOST" not in r.out and "write quorum lost" not in r.out
        r = ops.expect(1, "runbooks/emergency.py")
        assert "P2: 3 node(s) down, quorum held" in r.out
        cluster.kill_node(4)
        cluster.wait_online(5)
        r = ops.expect(2, "health-check.py", *LENIENT)
        assert "read quorum lost" in r.out
        r = ops.expect(2, "runbooks/emergency.py")
        assert "P1" in r.out and "incident response: pod-crash" in r.out
    finally:
        restart_nodes(cluster, (1, 2, 3, 4), 9)


def test_network_partitioned_node(cluster: ClusterProcs, ops: Ops) -> None:
    """SIGSTOP: the node's socket still accepts, nothing answers - a partition as the gateway sees it."""
    proc = cluster.nodes[4].proc
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        cluster.wait_online(8)
        r = ops.run("incident-response.py", "network-issue", "--slow-ms", "5000")
        assert r.code in (1, 2), r
        assert cluster.nodes[4].url in r.out and "unreachable from the gateway" in r.out
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    cluster.wait_online(9)
    ops.expect(0, "incident-response.py", "network-issue", "--slow-ms", "5000")


def test_storage_full(cluster: ClusterProcs, ops: Ops) -> None:
    """Three nodes whose --reserve-mb is larger than the disk: no space for their shards,
    six drives left for writes that need seven."""
    full = (6, 7, 8)
    for i in full:
        cluster.kill_node(i)
    cluster.node_args = ("--reserve-mb", str(1 << 30))
    try:
        restart_nodes(cluster, full, 9)
        r = ops.expect(2, "incident-response.py", "storage-full", *LENIENT)
        assert "3 of 9 drives have no space for new shards" in r.out and "-- what to do" in r.out
        r = ops.expect(2, "capacity-monitor.py", *LENIENT, "--no-buckets")
        assert "no space left" in r.out
        ops.expect(2, "health-check.py", *LENIENT)
    finally:
        for i in full:
            cluster.kill_node(i)
        cluster.node_args = ()
        restart_nodes(cluster, full, 9)
    ops.expect(0, "incident-response.py", "storage-full", *LENIENT)


def test_data_loss_is_found(cluster: ClusterProcs, ops: Ops) -> None:
    """Four of nine nodes wiped: every object has lost four shards, one more than the parity."""
    s3 = ops.run("perf-check.py", "--bucket", BUCKET, "--objects", "1", "--size", "4KiB")  # creates the bucket
    assert s3.code in (0, 1), s3
    from tests.cluster.test_cluster import _Endpoint
    from tests.functional.conftest import s3_client

    client = s3_client(_Endpoint(cluster.url))
    for i in range(4):
        client.put_object(Bucket=BUCKET, Key=f"precious-{i}", Body=os.urandom(300 << 10))
    ops.expect(0, "incident-response.py", "data-loss", "--bucket", BUCKET)
    for i in range(4):
        cluster.kill_node(i)
        shutil.rmtree(cluster.nodes[i].data)
    restart_nodes(cluster, range(4), 9)
    r = ops.expect(2, "incident-response.py", "data-loss", "--bucket", BUCKET)
    assert "unrecoverable 4" in r.out and "precious-" in r.out


def test_scale_out_to_twelve_nodes(cluster: ClusterProcs, ops: Ops) -> None:
    for i in range(9, 12):
        cluster.start_node(i)
    # the new nodes run, but the gateway does not know them yet
    r = ops.expect(2, "scale.py", "verify", "--expect-nodes", "12", "--wait", "1")
    assert "expected 12 nodes" in r.out
    cluster.stop_gateway()
    cluster.start_gateway("--heal-interval", "0.5", nodes=[n.url for n in cluster.nodes])
    r = ops.expect(0, "scale.py", "verify", "--expect-nodes", "12")
    assert "12/12 nodes online" in r.out
    if "placement not checked" not in r.out:
        assert "spread over all 12 nodes" in r.out or "placed on" in r.out

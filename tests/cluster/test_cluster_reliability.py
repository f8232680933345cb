"""Reliability of the cluster form (docs/reliability.md), with nine node processes and a
gateway: a GET in progress survives overwrites and deletes, every degraded write is
healed on its own (multipart parts too), write intents settle after a quorum failure,
and a node that stays full has its shards rebuilt on another node.

The tests run in file order on one cluster; each leaves every node up.
"""

from __future__ import annotations

import json
import os

import pytest
from botocore.exceptions import ClientError

from tests.cluster.conftest import ClusterProcs, NodeProc
from tests.cluster.test_cluster import _Endpoint
from tests.conftest import free_port
from tests.functional.conftest import multipart_put, s3_client
from tests.reliability_helpers import MiB, churned_reads, sizes_by_data_id
from tests.waiting import wait_until

BUCKET = "rel"
BASE = ("--heal-interval", "0.5", "--orphan-grace", "3", "--gc-grace", "0")


def restart_gateway(c: ClusterProcs, *extra: str, nodes: list[str] | None = None) -> None:
    c.stop_gateway()
    c.start_gateway(*BASE, *extra, nodes=nodes)
    c.wait_online(sum(1 for n in c.nodes if n.proc is not None and n.proc.poll() is None))


@pytest.fixture(scope="module")
def s3(cluster: ClusterProcs):
    restart_gateway(cluster)
    s3 = s3_client(_Endpoint(cluster.url))
    s3.create_bucket(Bucket=BUCKET)
    return s3


def deep_check(c: ClusterProcs, bucket: str = BUCKET) -> dict:
    """A deep dry-run heal of one bucket: every block of every shard verified, nothing changed."""
    return json.loads(c.admin("heal", bucket, "--deep", "--dry-run", "--json", check=False).stdout)


def settled(c: ClusterProcs) -> bool:
    h = c.info()["healing"]
    return h["heal_queued"] == 0


def counts(c: ClusterProcs) -> list[int]:
    return [len(n.shard_files()) for n in c.nodes]


# ----------------------------------------------------------------- 1: reads never cut short


@pytest.mark.parametrize("grace", ["3600", "0"], ids=["gc-grace", "in-process"])
def test_get_is_never_cut_short_by_overwrites_and_deletes(cluster: ClusterProcs, s3, grace: str) -> None:
    restart_gateway(cluster, "--gc-grace", grace)
    problems = churned_reads(cluster.url, s3, BUCKET)
    restart_gateway(cluster)
    assert problems == []


# ----------------------------------------------------------------- 2: degraded multipart healed


def test_multipart_written_with_a_node_down_is_healed_when_it_returns(cluster: ClusterProcs, s3) -> None:
    s3.delete_object(Bucket=BUCKET, Key="big")
    wait_until(lambda: counts(cluster), "the shards of the deleted object to go", until=lambda c: sum(c) == 0)
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(MiB + 3)]
    cluster.kill_node(3)
    # at once, before the gateway has noticed (parts written with a shard missing), then after
    # (parts written on the eight nodes up); either way each part needs heal once the node is back
    multipart_put(s3, BUCKET, "mp-before", parts)
    cluster.wait_online(8)
    multipart_put(s3, BUCKET, "mp-after", parts)
    assert counts(cluster)[3] == 0
    cluster.start_node(3)
    cluster.wait_online(9)
    wait_until(lambda: counts(cluster), "every part to be healed onto all nine nodes", until=lambda c: c == [6] * 9)
    wait_until(lambda: settled(cluster), "the heal queue to drain")
    report = deep_check(cluster)
    assert report["would_heal"] == 0 and report["healthy"] == 2, report["problems"]
    for key in ("mp-before", "mp-after"):
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"".join(parts)


# ----------------------------------------------------------------- 5: intents after a quorum failure


def full(c: ClusterProcs, idx: list[int], reserve: bool) -> None:
    """Restart these nodes with (or without) a free-space reserve larger than the disk: every
    new shard refused with DiskFull while they stay up and healthy."""
    for i in idx:
        c.kill_node(i)
    c.node_args = ("--reserve-mb", str(1 << 40)) if reserve else ()
    try:
        for i in idx:
            c.start_node(i)
    finally:
        c.node_args = ()
    c.wait_online(len(c.nodes))


def test_write_intents_settle_after_a_quorum_failure(cluster: ClusterProcs, s3) -> None:
    restart_gateway(cluster, "--orphan-grace", "3600")  # only the writes themselves may clear them
    try:
        multipart_put(s3, BUCKET, "intents/mp", [os.urandom(5 * MiB), b"end"])
        s3.put_object(Bucket=BUCKET, Key="intents/plain", Body=os.urandom(2 * MiB))
        full(cluster, [1, 2, 3], reserve=True)
        with pytest.raises(ClientError) as e:  # 6 of 9 shards: below the quorum of 7
            s3.put_object(Bucket=BUCKET, Key="intents/refused", Body=os.urandom(2 * MiB))
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        wait_until(
            lambda: cluster.info()["healing"]["write_intents"], "the write intents to settle", until=lambda n: n == 0
        )
        with pytest.raises(ClientError):
            s3.head_object(Bucket=BUCKET, Key="intents/refused")
    finally:
        full(cluster, [1, 2, 3], reserve=False)
        restart_gateway(cluster)


# ----------------------------------------------------------------- also (a): raised parity healed back to 6+3


def shard_sizes(c: ClusterProcs) -> dict[str, list[int]]:
    """Data id -> the sizes of its shard files, on every node."""
    return sizes_by_data_id(f for n in c.nodes for f in n.shard_files())


def about(shard: int, n: int, k: int) -> bool:
    """A shard of a k-th of n bytes (with its block hashes and header)."""
    return abs(shard - n / k) < 0.02 * n / k + 1024


def test_writes_with_three_nodes_down_are_re_encoded_6_3_when_they_return(cluster: ClusterProcs, s3) -> None:
    """Three nodes down: a PUT and a two-part upload are written 3+6 onto the six nodes up
    (each shard a third of its object or part). Once the nodes are back, heal re-encodes them
    as 6+3 on all nine within seconds: nine shards of each, a sixth each, the 3+6 shards
    collected, the disk usage 1.5 times the data again, and the bytes read back the same."""
    before = set(shard_sizes(cluster))
    down = [2, 5, 8]
    for i in down:
        cluster.kill_node(i)
    cluster.wait_online(6)
    big, parts = os.urandom(4 * MiB + 1), [os.urandom(5 * MiB + 3), os.urandom(300_001)]
    s3.put_object(Bucket=BUCKET, Key="raised/big", Body=big)
    multipart_put(s3, BUCKET, "raised/mp", parts)
    sizes = [len(big), *map(len, parts)]
    written = {d: v for d, v in shard_sizes(cluster).items() if d not in before}
    assert len(written) == 3
    for per in written.values():  # six shards, on the six nodes up, a third each
        assert len(per) == 6 and any(about(per[0], n, 3) for n in sizes), per
    for i in down:
        cluster.start_node(i)
    cluster.wait_online(9)
    new = wait_until(
        lambda: {d: v for d, v in shard_sizes(cluster).items() if d not in before},
        "heal to re-encode the 3+6 shard sets as 6+3 on all nine nodes, the old shards collected",
        timeout=240,
        until=lambda per: len(per) == 3 and not set(per) & set(written) and all(len(v) == 9 for v in per.values()),
    )
    for per in new.values():  # a sixth each
        assert len(set(per)) == 1 and any(about(per[0], n, 6) for n in sizes), per
    assert sum(map(sum, new.values())) < 1.52 * sum(sizes)
    wait_until(lambda: settled(cluster), "the heal queue to drain")
    assert deep_check(cluster)["would_heal"] == 0
    assert s3.get_object(Bucket=BUCKET, Key="raised/big")["Body"].read() == big
    assert s3.get_object(Bucket=BUCKET, Key="raised/mp")["Body"].read() == b"".join(parts)
    for key in ("raised/big", "raised/mp"):
        s3.delete_object(Bucket=BUCKET, Key=key)


# ----------------------------------------------------------------- also (b): a node that stays full


def test_a_full_node_has_its_shards_rebuilt_on_another(cluster: ClusterProcs, s3) -> None:
    """Ten nodes, one of them full: the objects placed on it miss that shard, and heal
    rebuilds it on the one node that holds none of the object's shards yet."""
    spare = NodeProc(len(cluster.nodes), free_port(), os.path.join(cluster.root, f"node{len(cluster.nodes)}"))
    cluster.nodes.append(spare)
    cluster.start_node(spare.index)
    restart_gateway(cluster, nodes=[n.url for n in cluster.nodes])
    s3.create_bucket(Bucket="full")
    full(cluster, [6], reserve=True)
    held = len(cluster.nodes[6].shard_files())
    data = {f"o{i}": os.urandom(MiB + i) for i in range(10)}
    for k, v in data.items():
        s3.put_object(Bucket="full", Key=k, Body=v)
    wait_until(lambda: settled(cluster), "the heal queue to drain")
    report = deep_check(cluster, "full")
    assert report["would_heal"] == 0 and report["healthy"] == len(data), report["problems"]
    assert len(cluster.nodes[6].shard_files()) == held  # nothing landed on the full node
    assert sum(len(n.shard_files()) for n in cluster.nodes) >= 9 * len(data)
    for k, v in data.items():
        assert s3.get_object(Bucket="full", Key=k)["Body"].read() == v
    full(cluster, [6], reserve=False)

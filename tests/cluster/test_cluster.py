"""Nine storage-node processes and a gateway on loopback, through node deaths
(SIGKILL), corruption, a wiped node, and heals.

The tests run in file order on one cluster (module scope): each starts from
the state the previous one leaves (all nine nodes up, every shard good), and
says so. The data set is 200 objects of mixed sizes, 0 B to 40 MiB.
"""

from __future__ import annotations

import hashlib
import os
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from tests.cluster.conftest import ClusterProcs
from tests.conftest import ACCESS_KEY, SECRET_KEY
from tests.functional.conftest import multipart_put, s3_client
from tests.waiting import wait_until

BUCKET = "cluster"
INLINE = 128 * 1024
MiB = 1 << 20


class _Endpoint:
    def __init__(self, url: str) -> None:
        self.url, self.access_key, self.secret_key = url, ACCESS_KEY, SECRET_KEY


def client(c: ClusterProcs):
    return s3_client(_Endpoint(c.url))


def sizes() -> list[int]:
    """200 sizes: the edges (empty, inline limit, stripe and block boundaries,
    40 MiB), then log-uniform between 1 B and 6 MiB."""
    edges = [0, 1, 4095, INLINE, INLINE + 1, MiB - 1, MiB, MiB + 1, 6 * MiB + 7, 40 * MiB]
    rng = random.Random(2024)
    return edges + [int(2 ** rng.uniform(0, 22.6)) for _ in range(200 - len(edges))]


def body(i: int, size: int) -> bytes:
    return random.Random(i).randbytes(size)


OBJECTS: dict[str, tuple[int, str]] = {}  # key -> (size, sha256)
MULTIPART_PARTS: dict[str, int] = {}  # key -> parts, for the multipart objects among OBJECTS


def put_all(s3, items: dict[str, bytes]) -> None:
    def one(kv):
        s3.put_object(Bucket=BUCKET, Key=kv[0], Body=kv[1])

    with ThreadPoolExecutor(4) as ex:
        list(ex.map(one, items.items()))


def check_all(c: ClusterProcs) -> None:
    """Every object reads back byte-exact (and the listing has them all)."""
    s3 = client(c)

    def one(key: str) -> tuple[str, bool]:
        size, digest = OBJECTS[key]
        got = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        return key, len(got) == size and hashlib.sha256(got).hexdigest() == digest

    with ThreadPoolExecutor(4) as ex:
        bad = [k for k, ok in ex.map(one, sorted(OBJECTS)) if not ok]
    assert bad == []
    listed = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        listed |= {o["Key"] for o in page.get("Contents", [])}
    assert listed == set(OBJECTS)


def sharded() -> int:
    """Shard sets: objects stored as shards (larger than the inline limit), one per part for
    a multipart object."""
    return sum(MULTIPART_PARTS.get(k, 1) for k, (size, _) in OBJECTS.items() if size > INLINE)


def sharded_objects() -> int:
    """Objects stored as shards (what a heal counts)."""
    return sum(1 for size, _ in OBJECTS.values() if size > INLINE)


def upload(s3, key: str, parts: list[bytes]) -> None:
    multipart_put(s3, BUCKET, key, parts)
    data = b"".join(parts)
    OBJECTS[key] = (len(data), hashlib.sha256(data).hexdigest())
    MULTIPART_PARTS[key] = len(parts)


def heal_settled(c: ClusterProcs) -> bool:
    h = c.info()["healing"]
    return h["heal_queued"] == 0


def deep_check(c: ClusterProcs) -> dict:
    """A deep dry-run heal: every shard's every block verified, nothing changed."""
    out = c.admin("heal", BUCKET, "--deep", "--dry-run", "--json", check=False)
    import json

    return json.loads(out.stdout)


def restart(c: ClusterProcs, idx: list[int]) -> None:
    for i in idx:
        c.start_node(i)
    c.wait_online(c.n)


def test_200_objects_round_trip(cluster: ClusterProcs) -> None:
    s3 = client(cluster)
    s3.create_bucket(Bucket=BUCKET)
    items = {}
    for i, size in enumerate(sizes()):
        data = body(i, size)
        key = f"obj/{i:03d}-{size}"
        items[key] = data
        OBJECTS[key] = (size, hashlib.sha256(data).hexdigest())
    assert max(s for s, _ in OBJECTS.values()) == 40 * MiB and min(s for s, _ in OBJECTS.values()) == 0
    put_all(s3, items)
    del items
    check_all(cluster)
    # every sharded object has one shard on each of the nine nodes
    assert [len(n.shard_files()) for n in cluster.nodes] == [sharded()] * 9
    assert all(n.tmp_files() == [] for n in cluster.nodes)


@pytest.mark.parametrize("victims", [(0, 4, 8), (1, 2, 3)])
def test_any_three_nodes_killed_every_object_reads(cluster: ClusterProcs, victims: tuple[int, ...]) -> None:
    for i in victims:
        cluster.kill_node(i)
    # at once, before the gateway's prober has noticed: reads fall back to parity
    check_all(cluster)
    cluster.wait_online(6)
    assert cluster.health()[0] == 200  # writes are still taken, with parity raised
    assert cluster.health("/minio/health/cluster/read")[0] == 200
    check_all(cluster)
    restart(cluster, list(victims))
    assert cluster.health()[0] == 200
    # degraded reads queued heals; nothing was lost, so they settle with nothing to do
    wait_until(lambda: heal_settled(cluster), "the heal queue to drain")


def test_writes_with_up_to_three_down_then_refused_with_four(cluster: ClusterProcs) -> None:
    """Up to m = 3 nodes down, writes are taken (MinIO's putObject): a new object gets parity
    raised by the number of nodes down, on the same nine drives, the shards of the nodes down
    written as missing; a fourth node down refuses every write with 503 SlowDownWrite. Once the
    nodes are back, heal re-encodes what was written with raised parity as 6+3 on all nine
    nodes, and the objects written with three down survive the loss of three *other* nodes
    (tests/cluster/test_cluster_reliability.py watches the shards of a re-encode change)."""
    # the shards replaced by the re-encode go at once (no GC grace), so the shard files can be counted
    restart_gateway(cluster, "--gc-grace", "0")
    try:
        _up_to_three_down(cluster)
    finally:
        restart_gateway(cluster)


def restart_gateway(c: ClusterProcs, *extra: str) -> None:
    """The gateway again with the fixture's options (and ``extra``)."""
    c.stop_gateway()
    c.start_gateway("--heal-interval", "0.5", "--orphan-grace", "3", *extra)
    c.wait_online(sum(1 for n in c.nodes if n.proc is not None and n.proc.poll() is None))


def _up_to_three_down(cluster: ClusterProcs) -> None:
    s3 = client(cluster)
    cluster.kill_node(5)
    cluster.kill_node(6)
    new = {f"two-down/{i}": body(1000 + i, size) for i, size in enumerate([0, 100, 300_000, 3 * MiB + 5, 9 * MiB])}
    put_all(s3, new)  # right away: shards to dead nodes fail, quorum 7 of 9 holds
    for k, v in new.items():
        OBJECTS[k] = (len(v), hashlib.sha256(v).hexdigest())
    cluster.wait_online(7)
    more = {f"two-down/late-{i}": body(2000 + i, size) for i, size in enumerate([5 * MiB, 200_000])}
    put_all(s3, more)  # known down: parity raised (4+5), their shards written as missing
    for k, v in more.items():
        OBJECTS[k] = (len(v), hashlib.sha256(v).hexdigest())
    check_all(cluster)
    status, headers = cluster.health()
    assert status == 200 and headers["x-minio-write-quorum"] == "6"

    cluster.kill_node(7)
    cluster.wait_online(6)
    status, headers = cluster.health()
    assert status == 200 and headers["x-minio-write-quorum"] == "6"
    three = {"three-down/big": body(3000, 4 * MiB + 1), "three-down/small": b"x" * 10, "obj/000-0": body(3001, 2 * MiB)}
    put_all(s3, three)  # 3+6: six shards on the six nodes up, survives three more lost
    for k, v in three.items():
        OBJECTS[k] = (len(v), hashlib.sha256(v).hexdigest())
    upload(s3, "three-down/mp", [body(3002, 5 * MiB + 3), body(3003, 300_001)])
    check_all(cluster)
    # the nodes down hold nothing of what was written without them: the four shard sets written
    # with three down (big, 000-0, two parts), and five more written with two down
    assert [len(cluster.nodes[i].shard_files()) for i in (5, 6, 7)] == [sharded() - 9] * 2 + [sharded() - 4]

    cluster.kill_node(8)
    cluster.wait_online(5)
    status, headers = cluster.health()
    assert status == 503 and headers["x-minio-write-quorum"] == "6"
    for key, size in [("refused/big", 4 * MiB), ("refused/small", 10), ("three-down/big", 2 * MiB)]:
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=BUCKET, Key=key, Body=os.urandom(size))
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert e.value.response["Error"]["Code"] == "SlowDownWrite"
    for key in ("refused/big", "refused/small"):
        with pytest.raises(ClientError) as e:
            s3.head_object(Bucket=BUCKET, Key=key)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    restart(cluster, [5, 6, 7, 8])
    check_all(cluster)  # nothing visible, and the refused overwrite left the object it would have replaced
    # the writes that missed shards were queued; the heal worker re-encodes them now the nodes are back
    wait_until(lambda: heal_settled(cluster), "the heal queue to drain")
    # (a dry-run heal counts a version still in raised parity as one it would heal)
    report = deep_check(cluster)
    assert report["would_heal"] == 0 and report["healthy"] == len(OBJECTS), report["problems"]
    # one shard of every shard set on each node: the 3+6 and 4+5 sets replaced are collected
    wait_until(
        lambda: [len(n.shard_files()) for n in cluster.nodes],
        "the shard sets replaced by the re-encode to be collected",
        until=lambda c: c == [sharded()] * 9,
    )

    for i in (0, 1, 2):  # three *other* nodes lost: everything still reads
        cluster.kill_node(i)
    cluster.wait_online(6)
    check_all(cluster)
    restart(cluster, [0, 1, 2])
    wait_until(lambda: heal_settled(cluster), "the heal queue to drain")


def corrupt(path: str) -> bytes:
    """Flip bytes inside the blocks of a shard file (past its 256-byte header)."""
    raw = bytearray(open(path, "rb").read())
    for off in range(256 + 40, len(raw), 65536):
        raw[off] ^= 0x5A
    with open(path, "wb") as f:
        f.write(raw)
    return bytes(raw)


def test_corruption_on_three_nodes_reads_stay_correct_and_deep_heal_repairs(cluster: ClusterProcs) -> None:
    victims = [cluster.nodes[i] for i in (2, 5, 7)]
    corrupted = {p: corrupt(p) for n in victims for p in n.shard_files()}
    assert len(corrupted) == 3 * sharded()
    before = deep_check(cluster)
    assert before["would_heal"] == sharded_objects()  # the deep scan sees every corrupt shard
    check_all(cluster)  # reads verify every block and serve around them
    out = cluster.admin("heal", BUCKET, "--deep")
    assert "unrecoverable 0" in out.stdout and "failed 0" in out.stdout, out.stdout
    after = deep_check(cluster)
    assert after["would_heal"] == 0 and after["healthy"] == len(OBJECTS), after["problems"]
    # each corrupt file was rewritten (by the deep heal, or by the heal queue after the reads)
    assert all(open(p, "rb").read() != raw for p, raw in corrupted.items())
    check_all(cluster)


def test_wiped_node_is_rebuilt_and_objects_survive_three_more_losses(cluster: ClusterProcs) -> None:
    wiped = cluster.nodes[4]
    cluster.wipe_node(4)
    cluster.start_node(4)
    cluster.wait_online(9)
    assert wiped.shard_files() == []
    out = cluster.admin("heal")
    assert f"healed {sharded_objects()} ({sharded()} shards)" in out.stdout, out.stdout
    assert len(wiped.shard_files()) == sharded()
    for i in (0, 1, 8):
        cluster.kill_node(i)
    check_all(cluster)  # the rebuilt shards on node 4 are needed for this
    restart(cluster, [0, 1, 8])
    info = cluster.info()
    assert all(d["state"] == "online" for d in info["drives"]) and len(info["drives"]) == 9

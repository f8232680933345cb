"""Crashes and refusals with real processes: a gateway killed mid-PUT, orphan
shards, the cluster secret, a node with a full drive. One cluster of nine
nodes for the module; each test leaves every node up with the right secret.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from nodes import bitrot
from nodes.protocol import AUTH_HEADER, BODY_MACS, BodyMac, end_record, sign_request
from tests.cluster.conftest import SECRET, ClusterProcs
from tests.cluster.test_cluster import _Endpoint
from tests.conftest import ACCESS_KEY, SECRET_KEY
from tests.functional.conftest import s3_client
from tests.functional.test_durability import SlowPut, writing_shards
from tests.waiting import wait_until

BUCKET = "faults"


@pytest.fixture(scope="module")
def s3(cluster: ClusterProcs):
    s3 = s3_client(_Endpoint(cluster.url))
    s3.create_bucket(Bucket=BUCKET)
    return s3


def all_shards(c: ClusterProcs) -> set[str]:
    return {os.path.basename(p) for n in c.nodes for p in n.shard_files()}


def node_call(
    url: str, method: str, path: str, secret: bytes | None, body: bytes | None = None, header: str | None = None
) -> tuple[int, dict]:
    req = urllib.request.Request(url + path, method=method, data=body)
    if secret is not None:
        req.add_header(
            AUTH_HEADER, sign_request(secret, method, path, body=BODY_MACS[0] if method == "PUT" else "none")[0]
        )
    elif header is not None:
        req.add_header(AUTH_HEADER, header)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_gateway_killed_mid_put_leaves_nothing_visible(cluster: ClusterProcs, s3) -> None:
    s3.put_object(Bucket=BUCKET, Key="obj", Body=b"old" * 100_000)
    before = all_shards(cluster)

    put = SlowPut(cluster.gw_port, BUCKET, "obj", ACCESS_KEY, SECRET_KEY)
    wait_until(lambda: writing_shards([n.data for n in cluster.nodes]), "the PUT's shards in progress on every node")
    cluster.kill_gateway()
    put.close()
    cluster.start_gateway("--heal-interval", "0.5", "--orphan-grace", "3")
    assert s3.get_object(Bucket=BUCKET, Key="obj")["Body"].read() == b"old" * 100_000
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])] == ["obj"]
    # the nodes dropped the half-written shards when the connection died; the
    # write intent is reaped after the grace period
    wait_until(lambda: all(n.tmp_files() == [] for n in cluster.nodes), "temp files to go")
    wait_until(lambda: cluster.info()["healing"]["write_intents"] == 0, "write intent to be reaped")
    assert all_shards(cluster) == before


def test_orphan_shards_of_an_uncommitted_put_are_removed(cluster: ClusterProcs, s3) -> None:
    before = all_shards(cluster)
    cluster.stop_gateway()
    # this gateway SIGKILLs itself once the shards are durable, before the metadata commit
    gw = cluster.start_gateway(env={"S3GW_FAILPOINT": "shards-durable"})
    with pytest.raises(Exception):
        s3.put_object(Bucket=BUCKET, Key="orphan", Body=os.urandom(3 << 20))
    gw.wait(60)
    orphans = all_shards(cluster) - before
    assert len(orphans) == 9 and len({o.split(".")[0] for o in orphans}) == 1
    # first a gateway whose reaper waits an hour: the write intent survived the crash, the
    # object is invisible, the shards are still there (nothing races the reaper here)
    cluster.start_gateway("--heal-interval", "0.5", "--orphan-grace", "3600")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=BUCKET, Key="orphan")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert cluster.info()["healing"]["write_intents"] == 1
    assert all_shards(cluster) - before == orphans
    # then one whose grace is past: its reaper removes the orphan shard set and the intent
    cluster.stop_gateway()
    cluster.start_gateway("--heal-interval", "0.5", "--orphan-grace", "3")
    wait_until(lambda: all_shards(cluster) == before, "the orphan shards to be removed")
    info = wait_until(
        lambda: cluster.info()["healing"],
        "the write intent to be reaped",
        until=lambda h: h["write_intents"] == 0 and h["orphans_removed"] == 1,
    )
    assert info["orphans_removed"] == 1


def test_node_refuses_requests_without_the_secret(cluster: ClusterProcs, s3) -> None:
    node = cluster.nodes[0]
    if not node.shard_files():  # (when run on its own) something for the node to hold
        s3.put_object(Bucket=BUCKET, Key="for-node-0", Body=os.urandom(3 << 20))
    shards = node.shard_files()
    name = os.path.basename(shards[0])
    good = SECRET.encode()
    assert node_call(node.url, "GET", "/v1/health", good)[0] == 200
    assert node_call(node.url, "GET", "/v1/health", None)[0] == 401
    assert node_call(node.url, "GET", "/v1/health", None, header="garbage")[0] == 401
    assert node_call(node.url, "GET", "/v1/health", b"not-the-cluster-secret!!")[0] == 403
    stale = sign_request(good, "GET", "/v1/health", time.time() - 3600)[0]
    assert node_call(node.url, "GET", "/v1/health", None, header=stale)[0] == 403
    path = f"/v1/drives/d1/shards/{name}"
    assert node_call(node.url, "DELETE", path, None)[0] == 401
    assert node_call(node.url, "DELETE", path, b"x" * 24)[0] == 403
    put = "/v1/drives/d1/shards/intruder.0?block_size=16&hash=sha256"
    assert node_call(node.url, "PUT", put, b"x" * 24, body=end_record(0, bytes(32)))[0] == 403
    # a captured request cannot be sent again (the node remembers its nonce)...
    captured = sign_request(good, "GET", f"/v1/drives/d1/shards/{name}/stat")[0]
    assert node_call(node.url, "GET", f"/v1/drives/d1/shards/{name}/stat", None, header=captured)[0] == 200
    assert node_call(node.url, "GET", f"/v1/drives/d1/shards/{name}/stat", None, header=captured)[0] == 403
    # ...and a captured upload's body cannot be altered, even with the blocks' hashes fixed up
    header, sig = sign_request(good, "PUT", put, body=BODY_MACS[0])
    fn = bitrot.algorithm("sha256").fn
    frames = fn(b"a" * 16) + b"a" * 16
    mac = BodyMac(good, sig, BODY_MACS[0])
    mac.update(frames)
    sealed = end_record(len(frames), mac.digest(len(frames)))
    forged = fn(b"b" * 16) + b"b" * 16 + sealed
    assert node_call(node.url, "PUT", put, None, body=forged, header=header)[0] == 403
    assert node.shard_files() == shards  # nothing was touched
    # paths never leave the drives
    for bad in (
        "/v1/drives/d1/shards/..%2Fdrive.json",
        "/v1/drives/d1/shards/.hidden",
        "/v1/drives/..%2F..%2Fetc/shards/passwd",
        "/v1/drives/d1/shards/a%2F..%2F..%2Fx",
    ):
        status, _ = node_call(node.url, "GET", bad, good)
        assert status in (400, 404), bad
    status, doc = node_call(node.url, "GET", "/v1/drives/d1/list?fan=..", good)
    assert status == 200 and doc == {"names": []}


def test_node_without_the_secret_is_refused_by_the_gateway(cluster: ClusterProcs, s3) -> None:
    wrong = os.path.join(cluster.root, "wrong-secret")
    with open(wrong, "w") as f:
        f.write("some-other-secret-0123456789")
    cluster.kill_node(3)
    impostor = cluster.nodes[3]
    held = impostor.shard_files()
    cluster.start_node(3, secret_file=wrong)  # same address and data, wrong secret
    cluster.wait_online(8)
    node = next(n for n in cluster.info()["nodes"] if n["url"] == impostor.url)
    assert not node["online"] and "refused" in node["error"]
    s3.put_object(Bucket=BUCKET, Key="while-refused", Body=os.urandom(2 << 20))
    assert impostor.shard_files() == held  # it got nothing
    cluster.kill_node(3)
    cluster.start_node(3)
    cluster.wait_online(9)
    # the write that missed the refused node is healed once it is back
    wait_until(lambda: len(impostor.shard_files()) == len(held) + 1, "heal onto the node")


def test_full_drive_is_a_failed_shard(cluster: ClusterProcs, s3) -> None:
    full = cluster.nodes[6]
    cluster.kill_node(6)
    cluster.node_args = ("--reserve-mb", str(1 << 40))  # more than the disk: every new shard refused
    try:
        cluster.start_node(6)
    finally:
        cluster.node_args = ()
    cluster.wait_online(9)
    status, doc = node_call(
        full.url,
        "PUT",
        "/v1/drives/d1/shards/x.0?block_size=16&hash=sha256",
        SECRET.encode(),
        body=end_record(0, bytes(32)),
    )
    assert status == 507 and doc["code"] == "DiskFull"
    held = full.shard_files()
    data = os.urandom(3 << 20)
    s3.put_object(Bucket=BUCKET, Key="disk-full", Body=data)  # 8 of 9 shards: quorum holds
    assert s3.get_object(Bucket=BUCKET, Key="disk-full")["Body"].read() == data
    assert full.shard_files() == held
    cluster.kill_node(6)
    cluster.start_node(6)
    cluster.wait_online(9)
    wait_until(lambda: len(full.shard_files()) == len(held) + 1, "heal onto the freed drive")


def test_a_hung_node_is_timed_out_not_waited_on(cluster: ClusterProcs, s3) -> None:
    """SIGSTOP: the node accepts connections (the kernel does) but never answers."""
    cluster.stop_gateway()
    cluster.start_gateway("--read-timeout", "2", "--stall-timeout", "2", "--heal-interval", "0.5")
    hung = cluster.nodes[2]
    data = os.urandom(6 << 20)
    s3.put_object(Bucket=BUCKET, Key="before-hang", Body=data)
    os.kill(hung.proc.pid, signal.SIGSTOP)
    try:
        t = time.monotonic()
        assert s3.get_object(Bucket=BUCKET, Key="before-hang")["Body"].read() == data
        s3.put_object(Bucket=BUCKET, Key="during-hang", Body=data)
        assert s3.get_object(Bucket=BUCKET, Key="during-hang")["Body"].read() == data
        # each call waits at most the 2 s timeouts for the hung node, never the 30 s defaults
        # (the bound is far above what the work needs, far below what waiting would cost)
        assert time.monotonic() - t < 45
        cluster.wait_online(8)  # the prober's timeout marks it down
    finally:
        os.kill(hung.proc.pid, signal.SIGCONT)
    cluster.wait_online(9)
    cluster.stop_gateway()
    cluster.start_gateway("--heal-interval", "0.5", "--orphan-grace", "3")

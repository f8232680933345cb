"""Operations on the cluster form (real node processes): node daemons' own
metrics and liveness, ``mc admin info`` / ``mc ping`` listing the nodes, and
health and metrics following nodes going down (docs/operations.md)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.cluster.conftest import ClusterProcs
from tests.conftest import ACCESS_KEY, SECRET_KEY
from tests.functional.drivers import metric_samples
from tests.waiting import wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKEN = "cluster-metrics-token-0123456789"


@pytest.fixture(scope="module")
def ops_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterProcs]:
    c = ClusterProcs(str(tmp_path_factory.mktemp("ops-cluster")))
    c.env["S3GW_METRICS_TOKEN"] = TOKEN
    c.start_nodes()
    c.start_gateway("--heal-interval", "0.5", "--usage-interval", "0")
    try:
        yield c
    finally:
        c.stop()


def get(url: str, token: str | None = TOKEN) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def samples(body: bytes) -> dict[str, float]:
    return metric_samples(body.decode())


def mc(c: ClusterProcs, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cp = subprocess.run(
        [os.path.join(ROOT, "scripts", "go-tools.sh"), "mc"], capture_output=True, text=True, timeout=1800
    )
    binary = next((x.split()[1] for x in cp.stdout.splitlines() if x.startswith("mc ")), "")
    if not binary:
        pytest.fail(f"mc is needed and scripts/go-tools.sh mc could not provide it: {cp.stderr[-300:]}", pytrace=False)
    env = {**os.environ, "MC_HOST_s3gw": c.url.replace("://", f"://{ACCESS_KEY}:{SECRET_KEY}@")}
    r = subprocess.run(
        [binary, "--no-color", "--config-dir", os.path.join(c.root, "mc"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check:
        assert r.returncode == 0, f"mc {' '.join(args)}: {r.stdout}\n{r.stderr}"
    return r


def test_node_metrics_and_liveness(ops_cluster: ClusterProcs) -> None:
    node = ops_cluster.nodes[0]
    assert get(node.url + "/minio/health/live", token=None)[0] == 200  # no cluster secret needed
    assert get(node.url + "/v1/health", token=None)[0] == 401  # the protocol still needs it
    assert get(node.url + "/metrics", token=None)[0] == 403
    assert get(node.url + "/metrics", token="wrong")[0] == 403
    status, headers, body = get(node.url + "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    s = samples(body)
    nid = node.node_id
    assert s[f's3gw_node_drive_up{{drive="d1",node="{nid}"}}'] == 1
    assert s[f's3gw_node_drive_total_bytes{{drive="d1",node="{nid}"}}'] > 0
    assert f's3gw_node_drive_free_bytes{{drive="d1",node="{nid}"}}' in s
    # the gateway's probes and writes are node requests: counted by operation
    assert any(k.startswith("s3gw_node_requests_total{") and v > 0 for k, v in s.items())
    assert any(k.startswith("s3gw_node_request_seconds_bucket{") for k in s)


def test_mc_sees_the_nodes(ops_cluster: ClusterProcs) -> None:
    ops_cluster.wait_online(9)
    info = json.loads(mc(ops_cluster, "admin", "info", "--json", "s3gw").stdout)["info"]
    endpoints = {s["endpoint"] for s in info["servers"]}
    assert {f"127.0.0.1:{n.port}" for n in ops_cluster.nodes} <= endpoints and len(endpoints) == 10, endpoints
    assert info["backend"]["onlineDisks"] == 9 and info["backend"]["standardSCParity"] == 3
    assert "errors=0" in mc(ops_cluster, "ping", "--count", "1", "s3gw").stdout
    # the gateway and every node answer /minio/health/live; mc gives each a short timeout, which a
    # node busy on a loaded machine can miss once: what matters is that all ten answer
    wait_until(
        lambda: mc(ops_cluster, "ping", "--distributed", "--count", "1", "s3gw").stdout,
        "all ten endpoints to answer mc ping",
        until=lambda out: out.count("errors=0") == 10,
    )
    assert "9 drives online" in mc(ops_cluster, "admin", "info", "s3gw").stdout


def test_health_and_metrics_follow_nodes(ops_cluster: ClusterProcs) -> None:
    c = ops_cluster
    gw = c.url
    assert get(gw + "/minio/health/cluster", None)[0] == 200
    # the gateway holds no drives: taking it down loses nothing
    assert get(gw + "/minio/health/cluster?maintenance=true", None)[0] == 200
    cluster = samples(get(gw + "/minio/v2/metrics/cluster")[2])
    server = f"127.0.0.1:{c.gw_port}"
    assert cluster[f'minio_cluster_nodes_online_total{{server="{server}"}}'] == 9
    try:
        for i in (0, 1, 2):  # 6 of 9 left: reads (k=6) and writes (parity raised for new objects) yes
            c.kill_node(i)
        c.wait_online(6)
        assert get(gw + "/minio/health/cluster", None)[0] == 200
        assert get(gw + "/minio/health/cluster?maintenance=true", None)[0] == 200
        assert get(gw + "/minio/health/cluster/read", None)[0] == 200
        status, _, body = get(gw + "/health/ready", None)
        assert status == 200 and json.loads(body)["write_quorum"] is True
        m = wait_until(
            lambda: samples(get(gw + "/metrics")[2]),
            "the metrics to see 3 nodes down",
            until=lambda s: s.get("s3gw_nodes_offline") == 3,
        )
        assert m["s3gw_write_quorum_ok"] == 1 and m["s3gw_read_quorum_ok"] == 1
        down = c.nodes[0].node_id
        assert m[f's3gw_node_up{{node="{down}"}}'] == 0
        assert m["s3gw_drives_offline"] == 3 and m["s3gw_drives_online"] == 6
        cl = samples(get(gw + "/minio/v2/metrics/cluster")[2])
        assert cl[f'minio_cluster_nodes_offline_total{{server="{server}"}}'] == 3
        assert cl[f'minio_cluster_drive_offline_total{{server="{server}"}}'] == 3
        assert cl[f'minio_cluster_health_status{{server="{server}"}}'] == 1
        assert "3 drives offline" in mc(c, "admin", "info", "s3gw").stdout
        c.kill_node(3)  # 5 of 9: more than parity down -> no write quorum, no read quorum, not ready
        c.wait_online(5)
        assert get(gw + "/minio/health/cluster", None)[0] == 503
        assert get(gw + "/minio/health/cluster?maintenance=true", None)[0] == 412
        assert get(gw + "/minio/health/cluster/read", None)[0] == 503
        status, _, body = get(gw + "/health/ready", None)
        assert status == 503 and json.loads(body)["read_quorum"] is False and json.loads(body)["write_quorum"] is False
        m = wait_until(
            lambda: samples(get(gw + "/metrics")[2]),
            "the metrics to see 4 nodes down",
            until=lambda s: s.get("s3gw_nodes_offline") == 4,
        )
        assert m["s3gw_write_quorum_ok"] == 0 and m["s3gw_read_quorum_ok"] == 0
        cl = samples(get(gw + "/minio/v2/metrics/cluster")[2])
        assert cl[f'minio_cluster_health_status{{server="{server}"}}'] == 0
        assert get(gw + "/minio/health/ready", None)[0] == 503
        assert get(gw + "/health/live", None)[0] == 200
    finally:
        for i in (0, 1, 2, 3):
            c.start_node(i)
        c.wait_online(9)
    assert get(gw + "/health/ready", None)[0] == 200
    assert get(gw + "/minio/health/cluster", None)[0] == 200
    assert re.search(r"errors=0", mc(c, "ping", "--count", "1", "s3gw").stdout)

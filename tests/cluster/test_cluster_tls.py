"""TLS between the gateway and a storage node, with real processes: ``s3gw node
--tls-cert/--tls-key``, ``s3gw serve --nodes https://... --node-ca-file``.
The certificates come from a throwaway CA (the ``trustme`` test extra)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import trustme
from botocore.exceptions import ClientError

from tests.cluster.conftest import ClusterProcs
from tests.cluster.test_cluster import _Endpoint
from tests.functional.conftest import s3_client
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ClusterProcs, str]]:
    """One node with nine drives (6+3 fits on it), serving HTTPS."""
    root = str(tmp_path_factory.mktemp("tls-cluster"))
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    paths = {name: os.path.join(root, f"{name}.pem") for name in ("ca", "cert", "key")}
    ca.cert_pem.write_to_path(paths["ca"])
    cert.private_key_pem.write_to_path(paths["key"])
    with open(paths["cert"], "wb") as f:
        for blob in cert.cert_chain_pems:
            f.write(blob.bytes())
    c = ClusterProcs(root, n=1)
    extra = [a for i in range(2, 10) for a in ("--data", os.path.join(root, f"node0-d{i}"))]
    c.node_args = (*extra, "--tls-cert", paths["cert"], "--tls-key", paths["key"])
    c.start_nodes()
    try:
        yield c, paths["ca"]
    finally:
        c.stop()


def test_objects_go_over_tls(tls_cluster: tuple[ClusterProcs, str]) -> None:
    c, ca = tls_cluster
    https = [c.nodes[0].url.replace("http://", "https://")]
    c.start_gateway("--node-ca-file", ca, nodes=https)
    c.wait_online(1)
    s3 = s3_client(_Endpoint(c.url))
    s3.create_bucket(Bucket="tls")
    data = os.urandom(3 << 20)
    s3.put_object(Bucket="tls", Key="k", Body=data)
    assert s3.get_object(Bucket="tls", Key="k")["Body"].read() == data
    assert len(c.nodes[0].shard_files()) == 1  # (the first drive's share of the 9 shards)
    c.stop_gateway()


def test_a_node_the_gateway_cannot_verify_is_refused(tls_cluster: tuple[ClusterProcs, str]) -> None:
    c, _ = tls_cluster
    https = [c.nodes[0].url.replace("http://", "https://")]
    c.start_gateway(nodes=https)  # no --node-ca-file: the system's CAs do not know it
    try:
        node = wait_until(
            lambda: c.info()["nodes"][0],
            "the gateway to report on the node",
            until=lambda n: n["error"] and n["error"] != "not probed yet",
        )
        assert not node["online"] and "certificate" in node["error"].lower(), node
        with pytest.raises(ClientError):
            s3_client(_Endpoint(c.url)).put_object(Bucket="tls", Key="refused", Body=b"x" * 100_000)
    finally:
        c.stop_gateway()
    # and plain HTTP does not reach an HTTPS node
    c.start_gateway(nodes=[c.nodes[0].url])
    try:
        node = wait_until(
            lambda: c.info()["nodes"][0],
            "the gateway to report on the node",
            until=lambda n: n["error"] and n["error"] != "not probed yet",
        )
        assert not node["online"]
    finally:
        c.stop_gateway()

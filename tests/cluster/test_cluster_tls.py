"""TLS between the gateway and a storage node, with real processes: ``s3gw node
--tls-cert/--tls-key``, ``s3gw serve --nodes https://... --node-ca-file``.
The certificates come from throwaway CAs (the ``trustme`` test extra, tests/tlscerts.py):
a node the gateway cannot verify (no CA file, or another CA's certificate) is refused,
and a node's renewed certificate is served to new connections without a restart."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.cluster.conftest import ClusterProcs
from tests.cluster.test_cluster import _Endpoint
from tests.functional.conftest import s3_client
from tests.tlscerts import SecretVolume, issue, presented
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ClusterProcs, str]]:
    """One node with nine drives (6+3 fits on it), serving HTTPS."""
    root = str(tmp_path_factory.mktemp("tls-cluster"))
    paths = issue().write(root)
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


def refusal(c: ClusterProcs) -> dict:
    """The gateway's verdict on its one node, once it has probed it."""
    return wait_until(
        lambda: c.info()["nodes"][0],
        "the gateway to report on the node",
        until=lambda n: n["error"] and n["error"] != "not probed yet",
    )


def refused_for_its_certificate(c: ClusterProcs) -> None:
    """The gateway reports the node offline for its certificate, and a write through it fails."""
    node = refusal(c)
    assert not node["online"] and "certificate" in node["error"].lower(), node
    with pytest.raises(ClientError):
        s3_client(_Endpoint(c.url)).put_object(Bucket="tls", Key="refused", Body=b"x" * 100_000)


def test_a_node_the_gateway_cannot_verify_is_refused(tls_cluster: tuple[ClusterProcs, str]) -> None:
    c, _ = tls_cluster
    https = [c.nodes[0].url.replace("http://", "https://")]
    c.start_gateway(nodes=https)  # no --node-ca-file: the system's CAs do not know it
    try:
        refused_for_its_certificate(c)
    finally:
        c.stop_gateway()
    # and plain HTTP does not reach an HTTPS node
    c.start_gateway(nodes=[c.nodes[0].url])
    try:
        node = refusal(c)
        assert not node["online"]
    finally:
        c.stop_gateway()


def test_a_node_with_another_cas_certificate_is_refused(tls_cluster: tuple[ClusterProcs, str], tmp_path) -> None:
    """The gateway trusts exactly its CA file: a node certificate from any other CA is refused."""
    c, _ = tls_cluster
    other = issue().write(str(tmp_path))["ca"]
    c.start_gateway("--node-ca-file", other, nodes=[c.nodes[0].url.replace("http://", "https://")])
    try:
        refused_for_its_certificate(c)
    finally:
        c.stop_gateway()


def test_a_nodes_renewed_certificate_is_served_without_restart(tmp_path) -> None:
    """cert-manager renews the node's certificate (the Secret volume's link swapped): new connections see
    the new one, the gateway trusting the CA keeps storing; SIGHUP reloads at once."""
    first = issue()
    vol = SecretVolume(str(tmp_path / "tls"), first)
    c = ClusterProcs(str(tmp_path / "cluster"), n=1)
    extra = [a for i in range(2, 10) for a in ("--data", os.path.join(c.root, f"node0-d{i}"))]
    c.node_args = (*extra, "--tls-cert", vol.cert, "--tls-key", vol.key, "--tls-reload-interval", "0.2")
    c.start_nodes()
    try:
        port = c.nodes[0].port
        assert presented(port) == first.fingerprint
        c.start_gateway("--node-ca-file", str(tmp_path / "tls" / "ca.crt"), nodes=[f"https://127.0.0.1:{port}"])
        c.wait_online(1)
        s3 = s3_client(_Endpoint(c.url))
        s3.create_bucket(Bucket="renew")
        s3.put_object(Bucket="renew", Key="before", Body=b"b" * 300_000)
        second = issue(first.ca)  # a renewal: same CA, new certificate and key
        vol.update(second)
        wait_until(lambda: presented(port), "the node's renewed certificate", until=lambda fp: fp == second.fingerprint)
        s3.put_object(Bucket="renew", Key="after", Body=b"a" * 300_000)
        assert s3.get_object(Bucket="renew", Key="before")["Body"].read() == b"b" * 300_000
        # a third certificate rewritten in place, and SIGHUP (the watcher may see it first): served, the node
        # still running
        third = issue(first.ca)
        third.write(str(tmp_path / "tls" / "..gen2"))
        os.kill(c.nodes[0].proc.pid, signal.SIGHUP)
        wait_until(
            lambda: presented(port), "the certificate reloaded on SIGHUP", until=lambda fp: fp == third.fingerprint
        )
        assert c.nodes[0].proc.poll() is None
        assert s3.get_object(Bucket="renew", Key="after")["Body"].read() == b"a" * 300_000
    finally:
        c.stop()

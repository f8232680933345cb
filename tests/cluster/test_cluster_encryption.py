"""Encryption at rest in the cluster form (docs/encryption.md): a gateway with the built-in KMS
(``S3GW_KMS_SECRET_KEY``) in front of storage-node processes. Objects stored with SSE-S3
(erasure-coded, multipart, inline) and SSE-C (over the gateway's HTTPS) leave no plaintext in any
file of any node's drives, nor in the gateway's metadata; a plain object's marker is found there,
so the search would see one."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from tests.cluster.conftest import ClusterProcs
from tests.cluster.test_cluster import client
from tests.conftest import ACCESS_KEY, SECRET_KEY, free_port, wait_port
from tests.tlscerts import issue

MASTER = "cluster-key:" + base64.b64encode(b"c" * 32).decode()
MiB = 1 << 20


@pytest.fixture(scope="module")
def sse_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ClusterProcs, str, str]]:
    """Three nodes with three drives each (6+3 spreads over them); the gateway serves HTTP and
    HTTPS: (cluster, https url, CA file)."""
    root = str(tmp_path_factory.mktemp("sse-cluster"))
    tls = issue().write(os.path.join(root, "tls"))
    c = ClusterProcs(root, n=3)
    tls_port = free_port()
    try:
        for node in c.nodes:  # each node's other two drives
            c.node_args = tuple(a for d in (2, 3) for a in ("--data", f"{node.data}-d{d}"))
            c.start_node(node.index, wait=False)
        for node in c.nodes:
            wait_port(node.port, node.proc)
        c.start_gateway(
            env={
                "S3GW_KMS_SECRET_KEY": MASTER,
                "S3GW_SECURITY_TLS_CERT_FILE": tls["cert"],
                "S3GW_SECURITY_TLS_KEY_FILE": tls["key"],
                "S3GW_SERVER_TLS_PORT": str(tls_port),
            }
        )
        wait_port(tls_port, c.gateway)
        c.wait_online(3)
        yield c, f"https://127.0.0.1:{tls_port}", tls["ca"]
    finally:
        c.stop()


def drives(c: ClusterProcs) -> list[str]:
    """Every node's data directories (first drive and the others)."""
    return sorted(
        os.path.join(c.root, d) for d in os.listdir(c.root) if d.startswith("node") and not d.endswith(".log")
    )


def files_holding(dirs: list[str], marker: bytes) -> list[str]:
    """Every file under ``dirs`` (shards, temporary files, the metadata database and its WAL) that holds
    ``marker``."""
    found = []
    for top in dirs:
        for root, _, files in os.walk(top):
            for name in files:
                path = os.path.join(root, name)
                with open(path, "rb") as f:
                    if marker in f.read():
                        found.append(path)
    return found


def _marker() -> bytes:
    return f"CLUSTER-PLAINTEXT-{uuid.uuid4().hex}".encode()


def _body(marker: bytes, size: int) -> bytes:
    return (marker * (size // len(marker) + 1))[:size]


def test_encrypted_objects_leave_no_plaintext_on_the_nodes(sse_cluster: tuple[ClusterProcs, str, str]) -> None:
    c, https, ca = sse_cluster
    s3 = client(c)
    bucket = f"sse-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    plain, plain_small, small, coded, multi, ssec = (_marker() for _ in range(6))
    bodies = {
        "plain": (plain, _body(plain, 2 * MiB)),
        "plain-small": (plain_small, _body(plain_small, 10_000)),
        "small": (small, _body(small, 10_000)),  # inline in the gateway's metadata row
        "coded": (coded, _body(coded, 2 * MiB)),  # erasure-coded over the nodes
        "multi": (multi, _body(multi, 6 * MiB + 123)),
        "ssec": (ssec, _body(ssec, 2 * MiB)),
    }
    for key in ("plain", "plain-small"):
        s3.put_object(Bucket=bucket, Key=key, Body=bodies[key][1])
    for key in ("small", "coded"):
        put = s3.put_object(Bucket=bucket, Key=key, Body=bodies[key][1], ServerSideEncryption="AES256")
        assert put["ServerSideEncryption"] == "AES256"
    data = bodies["multi"][1]
    up = s3.create_multipart_upload(Bucket=bucket, Key="multi", ServerSideEncryption="AES256")["UploadId"]
    parts = []
    for n, (lo, hi) in enumerate([(0, 5 * MiB), (5 * MiB, len(data))], start=1):
        etag = s3.upload_part(Bucket=bucket, Key="multi", UploadId=up, PartNumber=n, Body=data[lo:hi])["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    s3.complete_multipart_upload(Bucket=bucket, Key="multi", UploadId=up, MultipartUpload={"Parts": parts})
    s3s = boto3.client(
        "s3",
        endpoint_url=https,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        verify=ca,
        config=Config(retries={"max_attempts": 1}),
    )
    key = os.urandom(32)
    sse_c = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    s3s.put_object(Bucket=bucket, Key="ssec", Body=bodies["ssec"][1], **sse_c)

    # every object reads back
    for name in ("plain", "plain-small", "small", "coded", "multi"):
        assert s3.get_object(Bucket=bucket, Key=name)["Body"].read() == bodies[name][1], name
    assert s3s.get_object(Bucket=bucket, Key="ssec", **sse_c)["Body"].read() == bodies["ssec"][1]

    # the plain objects' markers are on the drives and in the gateway's metadata (the search works) ...
    assert files_holding(drives(c), plain), "the plain object's marker was not found on the drives"
    assert files_holding([c.gw_data], plain_small), "the plain inline object's marker was not found"
    # ... and no encrypted object's is anywhere: drives, the gateway's metadata, the logs
    for name in ("small", "coded", "multi", "ssec"):
        assert files_holding([c.root], bodies[name][0]) == [], f"plaintext of {name!r} stored"

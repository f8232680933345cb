"""Reliability of the cluster form, with nine node processes and a gateway: a GET in
progress survives overwrites and deletes.

The tests run in file order on one cluster; each leaves every node up.
"""

from __future__ import annotations

import os

import pytest

from tests.cluster.conftest import ClusterProcs
from tests.cluster.test_cluster import _Endpoint
from tests.functional.conftest import s3_client
from tests.reliability_helpers import MiB, Churn, read_under_churn

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


# ----------------------------------------------------------------- 1: reads never cut short

@pytest.mark.parametrize("grace", ["3600", "0"], ids=["gc-grace", "in-process"])
def test_get_is_never_cut_short_by_overwrites_and_deletes(cluster: ClusterProcs, s3, grace: str) -> None:
    restart_gateway(cluster, "--gc-grace", grace)
    original = os.urandom(20 * MiB)
    churn = Churn(lambda body: s3.put_object(Bucket=BUCKET, Key="big", Body=body),
                  lambda: s3.delete_object(Bucket=BUCKET, Key="big"))
    problems = read_under_churn(cluster.url, BUCKET, "big", original, churn,
                                put_original=lambda: s3.put_object(Bucket=BUCKET, Key="big", Body=original))
    restart_gateway(cluster)
    assert problems == []

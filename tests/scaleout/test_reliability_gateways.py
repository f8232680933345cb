"""A GET in progress on one gateway is not cut short by overwrites and deletes made through
another (issue 14, defect 1): the replaced version's shards wait out the GC grace, whichever
gateway runs the GC (docs/cluster.md, Orphans and garbage)."""

from __future__ import annotations

import os

from tests.reliability_helpers import Churn, MiB, read_under_churn


def test_get_on_one_gateway_survives_overwrites_through_another(pg_only) -> None:
    a = pg_only.start()
    b = pg_only.start()
    sa, sb = a.s3(), b.s3()
    sa.create_bucket(Bucket="reads")
    original = os.urandom(20 * MiB)
    churn = Churn(
        lambda body: sb.put_object(Bucket="reads", Key="big", Body=body),
        lambda: sb.delete_object(Bucket="reads", Key="big"),
    )
    problems = read_under_churn(
        a.url,
        "reads",
        "big",
        original,
        churn,
        put_original=lambda: sb.put_object(Bucket="reads", Key="big", Body=original),
    )
    assert problems == []

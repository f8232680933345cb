"""A GET in progress on one gateway is not cut short by overwrites and deletes made through
another (issue 14, defect 1): the replaced version's shards wait out the GC grace, whichever
gateway runs the GC (docs/cluster.md, Orphans and garbage)."""

from __future__ import annotations

from tests.reliability_helpers import churned_reads


def test_get_on_one_gateway_survives_overwrites_through_another(pg_only) -> None:
    a = pg_only.start()
    b = pg_only.start()
    sa, sb = a.s3(), b.s3()
    sa.create_bucket(Bucket="reads")
    problems = churned_reads(a.url, sb, "reads")
    assert problems == []

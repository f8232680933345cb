"""Lifecycle with two gateways on one PostgreSQL: both run the worker, each bucket's rules are
applied once (the lease and the delete transaction's check), nothing is expired twice."""

from __future__ import annotations

import re
import urllib.request
import uuid

from tests.scaleout.conftest import Deployment, Gateway
from tests.waiting import wait_until

FAST = {
    "lifecycle.day_seconds": "2s",
    "lifecycle.interval": "300ms",
    "metrics.auth": "public",
}


def expired_objects(gw: Gateway) -> int:
    text = urllib.request.urlopen(f"{gw.url}/metrics", timeout=30).read().decode()
    m = re.search(r'^s3gw_lifecycle_expired_total\{kind="objects"\} ([0-9.e+]+)$', text, re.M)
    return int(float(m.group(1))) if m else 0


def test_two_gateways_expire_each_object_once(pg_only: Deployment) -> None:
    a, b = pg_only.start(**FAST), pg_only.start(**FAST)
    s3 = a.s3()
    bucket = f"ilm-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    n = 40
    for i in range(n):
        s3.put_object(Bucket=bucket, Key=f"logs/{i:03d}", Body=b"x")
    s3.put_object(Bucket=bucket, Key="keep", Body=b"x")
    b.s3().put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [{"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 1}}]
        },
    )

    def markers() -> list[str]:
        out, kw = [], {}
        while True:
            r = s3.list_object_versions(Bucket=bucket, **kw)
            out += [m["Key"] for m in r.get("DeleteMarkers", [])]
            if not r.get("IsTruncated"):
                return out
            kw = {"KeyMarker": r["NextKeyMarker"], "VersionIdMarker": r["NextVersionIdMarker"]}

    wait_until(markers, "every logs/ object to get its delete marker", until=lambda m: len(m) >= n, timeout=120)
    # exactly one marker per object: no gateway expired what the other had expired
    got = markers()
    assert sorted(got) == [f"logs/{i:03d}" for i in range(n)]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])] == ["keep"]
    wait_until(
        lambda: expired_objects(a) + expired_objects(b), "the metrics to count every expiry", until=lambda t: t == n
    )
    # and says so in its log (one line per bucket, rule and pass)
    assert any(f"lifecycle: {bucket} rule logs expired" in gw.logs() for gw in (a, b))

"""Lifecycle rules (core/lifecycle.py): parsing as MinIO validates, filters, and the day arithmetic."""

from __future__ import annotations

import pytest

from s3gw.api import xml as X
from s3gw.core import errors as E
from s3gw.core import lifecycle as L


def parse(xml: str) -> L.Lifecycle:
    doc = X.parse(f"<LifecycleConfiguration>{xml}</LifecycleConfiguration>".encode())
    return L.parse(doc["LifecycleConfiguration"] or {})


def test_a_full_rule() -> None:
    (r,) = parse(
        "<Rule><ID>x</ID><Status>Enabled</Status><Filter><And><Prefix>p/</Prefix>"
        "<Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value>2</Value></Tag>"
        "<ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>100</ObjectSizeLessThan></And></Filter>"
        "<Expiration><Days>3</Days></Expiration>"
        "<NoncurrentVersionExpiration><NoncurrentDays>2</NoncurrentDays><NewerNoncurrentVersions>4</NewerNoncurrentVersions>"
        "</NoncurrentVersionExpiration>"
        "</Rule>"
    ).rules
    assert (r.prefix, r.tags, r.size_gt, r.size_lt) == ("p/", [("a", "1"), ("b", "2")], 10, 100)
    assert (r.expiration_days, r.noncurrent_days, r.newer_noncurrent_versions, r.abort_days) == (3, 2, 4, None)
    # every tag must match, sizes are strict bounds
    assert r.matches("p/k", {"a": "1", "b": "2", "c": "3"}, 50)
    assert not r.matches("p/k", {"a": "1"}, 50)
    assert not r.matches("p/k", {"a": "1", "b": "2"}, 10)
    assert not r.matches("q/k", {"a": "1", "b": "2"}, 50)
    assert L.Lifecycle.from_json(L.Lifecycle([r]).to_json()).rules == [r]


def test_minio_names_a_rule_without_id_and_reads_the_old_max_noncurrent_versions() -> None:
    (r,) = parse(
        "<Rule><Status>Enabled</Status><Filter/><NoncurrentVersionExpiration>"
        "<MaxNoncurrentVersions>3</MaxNoncurrentVersions></NoncurrentVersionExpiration></Rule>"
    ).rules
    assert len(r.id) == 36 and r.newer_noncurrent_versions == 3 and r.noncurrent_days is None


@pytest.mark.parametrize(
    "rule,error,message",
    [
        ("<Status>Enabled</Status><Filter/><Expiration><Days>-1</Days></Expiration>", L.LifecycleError, L.INVALID_DAYS),
        ("<Status>Enabled</Status><Filter/><Expiration><Days>1.5</Days></Expiration>", E.MalformedXML, None),
        (
            "<Status>Enabled</Status><Filter><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan>"
            "<ObjectSizeLessThan>9</ObjectSizeLessThan></Filter><Expiration><Days>1</Days></Expiration>",
            L.LifecycleError,
            L.INVALID_FILTER,
        ),
        (
            "<Status>Enabled</Status><Filter><Tag><Key></Key><Value>v</Value></Tag></Filter><Expiration><Days>1</Days></Expiration>",
            L.LifecycleError,
            L.INVALID_TAG_KEY,
        ),
        (
            "<Status>Enabled</Status><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>"
            "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>",
            L.LifecycleError,
            L.ABORT_WITH_TAGS,
        ),
        (
            "<Status>Enabled</Status><Filter/><Expiration><Date>2030-01-01</Date></Expiration>",
            L.LifecycleError,
            L.INVALID_DATE,
        ),
        (
            "<Status>Enabled</Status><Filter/><Expiration><Date>2030-01-01T00:00:00+02:00</Date></Expiration>",
            L.LifecycleError,
            L.DATE_NOT_MIDNIGHT,
        ),
    ],
)
def test_refused(rule: str, error: type[Exception], message: str | None) -> None:
    with pytest.raises(error) as e:
        parse(f"<Rule>{rule}</Rule>")
    if message is not None:
        assert e.value.message == message


def test_expiry_falls_on_the_midnight_after_the_days() -> None:
    day = 86400.0
    t = 10 * day + 3600  # 01:00 on day 10
    assert L.expiry_time(t, 1) == 12 * day
    # the cutoff an indexed query uses agrees with expiry_time on both sides of it
    for now in (12 * day - 1, 12 * day + 0.5, 12 * day + day / 2):
        cut = L.due_before(now, 1)
        for ts in (cut - 1, cut - 0.001, cut, cut + 1):
            assert (ts < cut) == (L.expiry_time(ts, 1) < now), (now, ts)


def test_predicted_expiry_is_the_earliest_matching_rule() -> None:
    lc = parse(
        "<Rule><ID>week</ID><Status>Enabled</Status><Filter><Prefix>a</Prefix></Filter><Expiration><Days>7</Days></Expiration></Rule>"
        "<Rule><ID>date</ID><Status>Enabled</Status><Filter/><Expiration><Date>1970-01-03T00:00:00Z</Date></Expiration></Rule>"
        "<Rule><ID>off</ID><Status>Disabled</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule>"
    )
    assert L.predict_expiry(lc, "ab", {}, 1, 0.0) == ("date", 2 * 86400.0)
    assert L.predict_expiry(lc, "ab", {}, 1, 0.0, day=1.0) == ("week", 8.0)

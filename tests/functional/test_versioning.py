"""Versioning, object lock and tagging with boto3 and minio-py, refusal paths included."""

from __future__ import annotations

import datetime as dt
import io
import uuid

import pytest
from botocore.exceptions import ClientError
from minio import Minio
from minio.commonconfig import ENABLED, Tags
from minio.versioningconfig import VersioningConfig


def err(e: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


def test_versioning_lifecycle(s3, bucket: str) -> None:
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    assert v1 != v2
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"one"
    assert s3.head_object(Bucket=bucket, Key="k", VersionId=v1)["VersionId"] == v1
    d = s3.delete_object(Bucket=bucket, Key="k")
    assert d["DeleteMarker"] is True
    marker = d["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k")
    assert err(e) == (404, "NoSuchKey")
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="k", VersionId=marker)
    assert err(e)[0] == 405
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    vs = s3.list_object_versions(Bucket=bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in vs["Versions"]] == [(v2, False), (v1, False)]
    assert [(m["VersionId"], m["IsLatest"]) for m in vs["DeleteMarkers"]] == [(marker, True)]
    # removing the marker brings v2 back; deleting v1 removes it for good
    s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    s3.delete_object(Bucket=bucket, Key="k", VersionId=v1)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", VersionId=v1)
    assert err(e) == (404, "NoSuchVersion")
    # copy from a version
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k", "VersionId": v2})
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"two"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", VersionId="not-a-version-id")
    assert err(e) == (400, "InvalidArgument")


def test_suspended_null_version(s3, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"versioned")["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"null-1")
    s3.put_object(Bucket=bucket, Key="k", Body=b"null-2")  # overwrites the null version
    vs = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [v["VersionId"] for v in vs] == ["null", v1]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"null-2"
    s3.delete_object(Bucket=bucket, Key="k")  # a null delete marker replaces the null version
    vs = s3.list_object_versions(Bucket=bucket)
    assert [m["VersionId"] for m in vs["DeleteMarkers"]] == ["null"]
    assert [v["VersionId"] for v in vs["Versions"]] == [v1]


def test_version_listing_pagination(s3, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    expected = []
    for key in ("a", "b/c", "b/d", "e"):
        for i in range(3):
            expected.append((key, s3.put_object(Bucket=bucket, Key=key, Body=str(i).encode())["VersionId"]))
    s3.delete_object(Bucket=bucket, Key="e")
    want = []
    for key in ("a", "b/c", "b/d", "e"):
        mine = [v for k, v in expected if k == key][::-1]
        want += [(key, v) for v in mine]
    for page in (1, 2, 5):
        seen, km, vm = [], "", ""
        while True:
            kw = {"MaxKeys": page}
            if km:
                kw["KeyMarker"] = km
            if vm:
                kw["VersionIdMarker"] = vm
            r = s3.list_object_versions(Bucket=bucket, **kw)
            items = r.get("Versions", []) + r.get("DeleteMarkers", [])
            items.sort(key=lambda v: (v["Key"], -v["LastModified"].timestamp()))
            seen += [(v["Key"], v["VersionId"]) for v in r.get("Versions", [])]
            if not r["IsTruncated"]:
                break
            km, vm = r["NextKeyMarker"], r.get("NextVersionIdMarker", "")
        assert sorted(seen) == sorted(want) and len(seen) == len(want)
    r = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["b/"]


def lock_bucket(s3) -> str:
    name = f"lock-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def test_object_lock(s3) -> None:
    b = lock_bucket(s3)
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    assert err(e) == (409, "InvalidBucketState")
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    v = s3.put_object(Bucket=b, Key="gov", Body=b"g", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until)[
        "VersionId"
    ]
    head = s3.head_object(Bucket=b, Key="gov")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert abs((head["ObjectLockRetainUntilDate"] - until).total_seconds()) < 1
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=b, Key="gov", VersionId=v)
    assert err(e) == (400, "InvalidRequest")
    # a delete marker is always allowed
    assert s3.delete_object(Bucket=b, Key="gov")["DeleteMarker"] is True
    # shortening GOVERNANCE needs the bypass; then the version can go
    with pytest.raises(ClientError):
        s3.put_object_retention(
            Bucket=b,
            Key="gov",
            VersionId=v,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until - dt.timedelta(hours=1)},
        )
    s3.delete_object(Bucket=b, Key="gov", VersionId=v, BypassGovernanceRetention=True)
    # COMPLIANCE: no bypass, only extension
    c = s3.put_object(Bucket=b, Key="comp", Body=b"c", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)[
        "VersionId"
    ]
    with pytest.raises(ClientError):
        s3.delete_object(Bucket=b, Key="comp", VersionId=c, BypassGovernanceRetention=True)
    with pytest.raises(ClientError):
        s3.put_object_retention(
            Bucket=b, Key="comp", VersionId=c, Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until}
        )
    s3.put_object_retention(
        Bucket=b,
        Key="comp",
        VersionId=c,
        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until + dt.timedelta(days=1)},
    )
    ret = s3.get_object_retention(Bucket=b, Key="comp", VersionId=c)["Retention"]
    assert ret["Mode"] == "COMPLIANCE"
    # legal hold blocks deletion whatever the retention
    h = s3.put_object(Bucket=b, Key="hold", Body=b"h", ObjectLockLegalHoldStatus="ON")["VersionId"]
    assert s3.get_object_legal_hold(Bucket=b, Key="hold")["LegalHold"]["Status"] == "ON"
    with pytest.raises(ClientError):
        s3.delete_object(Bucket=b, Key="hold", VersionId=h, BypassGovernanceRetention=True)
    s3.put_object_legal_hold(Bucket=b, Key="hold", VersionId=h, LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=b, Key="hold", VersionId=h)
    # DeleteObjects reports the locked one as an error
    r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "comp", "VersionId": c}]})
    assert r["Errors"][0]["Code"] == "InvalidRequest"


def test_default_retention(s3) -> None:
    b = lock_bucket(s3)
    s3.put_object_lock_configuration(
        Bucket=b,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 2}},
        },
    )
    conf = s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"]
    assert conf["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 2}
    v = s3.put_object(Bucket=b, Key="d", Body=b"x")["VersionId"]
    ret = s3.get_object_retention(Bucket=b, Key="d", VersionId=v)["Retention"]
    assert ret["Mode"] == "GOVERNANCE"
    assert dt.timedelta(days=1.9) < ret["RetainUntilDate"] - dt.datetime.now(dt.UTC) < dt.timedelta(days=2.1)


def test_lock_refusals_on_plain_bucket(s3, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.get_object_lock_configuration(Bucket=bucket)
    assert err(e) == (404, "ObjectLockConfigurationNotFoundError")
    with pytest.raises(ClientError) as e:
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert err(e) == (409, "InvalidBucketState")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="x", Body=b"x", ObjectLockLegalHoldStatus="ON")
    assert err(e)[0] == 400


def test_object_tagging(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="a=1&b=two%20words")
    assert s3.head_object(Bucket=bucket, Key="t")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "2"
    tags = s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {"a": "1", "b": "two words"}
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "c", "Value": "3"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "c", "Value": "3"}]
    s3.copy_object(Bucket=bucket, Key="t2", CopySource={"Bucket": bucket, "Key": "t"})
    assert s3.get_object_tagging(Bucket=bucket, Key="t2")["TagSet"] == [{"Key": "c", "Value": "3"}]
    s3.copy_object(
        Bucket=bucket, Key="t3", CopySource={"Bucket": bucket, "Key": "t"}, TaggingDirective="REPLACE", Tagging="z=26"
    )
    assert s3.get_object_tagging(Bucket=bucket, Key="t3")["TagSet"] == [{"Key": "z", "Value": "26"}]
    s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(11)]
    for tagset, code in (
        (too_many, "BadRequest"),
        ([{"Key": "k" * 129, "Value": "v"}], "InvalidTag"),
        ([{"Key": "k", "Value": "v" * 257}], "InvalidTag"),
        ([{"Key": "é", "Value": "v"}], "InvalidTag"),
        ([{"Key": "d", "Value": "1"}, {"Key": "d", "Value": "2"}], "InvalidTag"),
    ):
        with pytest.raises(ClientError) as e:
            s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": tagset})
        assert err(e) == (400, code)


def test_bucket_tagging(s3, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert err(e) == (404, "NoSuchTagSet")
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "storage"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "storage"}]
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_tagging(Bucket=bucket)


def test_minio_py_versioning_and_tags(server, bucket: str) -> None:
    m = Minio(f"127.0.0.1:{server.port}", access_key=server.access_key, secret_key=server.secret_key, secure=False)
    m.set_bucket_versioning(bucket, VersioningConfig(ENABLED))
    assert m.get_bucket_versioning(bucket).status == ENABLED
    r1 = m.put_object(bucket, "k", io.BytesIO(b"1"), 1)
    r2 = m.put_object(bucket, "k", io.BytesIO(b"22"), 2)
    versions = [o.version_id for o in m.list_objects(bucket, include_version=True)]
    assert versions == [r2.version_id, r1.version_id]
    tags = Tags.new_object_tags()
    tags["env"] = "test"
    m.set_object_tags(bucket, "k", tags)
    assert dict(m.get_object_tags(bucket, "k")) == {"env": "test"}

"""Bucket operations through boto3 against a live server."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def status(exc: pytest.ExceptionInfo[ClientError]) -> int:
    return exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_create_head_list_delete(s3) -> None:
    name = f"bkt-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert name in names
    created = next(b for b in s3.list_buckets()["Buckets"] if b["Name"] == name)["CreationDate"]
    assert created.year >= 2024
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert status(e) == 404
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_location_and_configuration_body(s3) -> None:
    name = f"bkt-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    s3.delete_bucket(Bucket=name)


def test_existing_bucket_is_already_owned(s3, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=bucket)
    assert code(e) == "BucketAlreadyOwnedByYou" and status(e) == 409


@pytest.mark.parametrize(
    "name", ["ab", "a" * 64, "UPPER", "-start", "end-", "has_underscore", "a..b", "192.168.1.1", "a.-b", "a-.b"]
)
def test_invalid_bucket_names(server, name: str) -> None:
    # botocore validates some names itself; send them raw with a signed request
    from tests.functional.rawhttp import signed_request

    r = signed_request(server, "PUT", f"/{name}")
    assert r.status == 400
    assert b"<Code>InvalidBucketName</Code>" in r.body


def test_delete_non_empty_and_missing(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="x", Body=b"1")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=bucket)
    assert code(e) == "BucketNotEmpty" and status(e) == 409
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=f"missing-{uuid.uuid4().hex[:8]}")
    assert code(e) == "NoSuchBucket"


def test_operations_on_missing_bucket(s3) -> None:
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    for call in (
        lambda: s3.put_object(Bucket=missing, Key="k", Body=b"x"),
        lambda: s3.list_objects_v2(Bucket=missing),
        lambda: s3.get_object(Bucket=missing, Key="k"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == "NoSuchBucket"

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from tests.conftest import Server


def s3_client(server: Server, retries: dict[str, object] | None = None, **config: object):
    """A boto3 S3 client of ``server``; ``retries`` default: one retry (``max_attempts`` 1)."""
    return boto3.client(
        "s3",
        endpoint_url=server.url,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
        config=Config(retries=retries or {"max_attempts": 1}, **config),
    )


def multipart_put(s3, bucket: str, key: str, parts: list[bytes]) -> None:
    """Store ``parts`` as one multipart object (an upload, its parts in order, completed)."""
    up = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etags = [
        s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=i, Body=p)["ETag"]
        for i, p in enumerate(parts, 1)
    ]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": i, "ETag": e} for i, e in enumerate(etags, 1)]},
    )


@pytest.fixture(scope="session")
def s3(server: Server):
    return s3_client(server)


@pytest.fixture
def bucket(s3) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    # empty it (every version) and remove it
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=name):
        for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
    s3.delete_bucket(Bucket=name)

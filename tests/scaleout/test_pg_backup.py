"""Metadata backup and restore on PostgreSQL: ``s3gw admin backup`` has the
gateway run ``pg_dump -Fc`` with its own connection settings, ``s3gw admin
restore --database-url`` runs ``pg_restore`` into another database, and a
gateway started on that database (same drives) serves the same objects and
users (docs/operations.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
from botocore.config import Config

from tests.conftest import ACCESS_KEY, SECRET_KEY
from tests.scaleout.conftest import Deployment

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def admin(url: str, *args: str) -> dict:
    env = {**os.environ, "S3GW_ROOT_USER": ACCESS_KEY, "S3GW_ROOT_PASSWORD": SECRET_KEY}
    cp = subprocess.run(
        [sys.executable, "-m", "s3gw.cli", "admin", *args, "--endpoint", url, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert cp.returncode == 0, f"{args}: {cp.stdout}\n{cp.stderr}"
    return json.loads(cp.stdout)


def test_pg_dump_backup_restores_a_working_store(pg_only: Deployment, tmp_path) -> None:
    dep = pg_only
    a = dep.start()
    s3 = a.s3()
    s3.create_bucket(Bucket="pgbackup")
    bodies = {"small.txt": b"small", "big.bin": os.urandom(300_000)}
    for k, v in bodies.items():
        s3.put_object(Bucket="pgbackup", Key=k, Body=v)
    admin(a.url, "user", "add", "pg-user", "pg-user-secret-1", "--policy", "readonly")
    out = tmp_path / "meta.dump"
    doc = admin(a.url, "backup", "--output", str(out))
    assert doc["format"] == "pg_dump" and out.read_bytes()[:5] == b"PGDMP"
    s3.put_object(Bucket="pgbackup", Key="later.txt", Body=b"after the backup")
    a.stop()

    db2 = dep.pg.new_database("restored")
    assert admin(a.url, "restore", str(out), "--database-url", dep.pg.dsn(db2))["format"] == "pg_dump"
    b = dep.start(**{"database.name": db2})
    s3b = b.s3()
    assert sorted(o["Key"] for o in s3b.list_objects_v2(Bucket="pgbackup")["Contents"]) == sorted(bodies)
    for k, v in bodies.items():
        assert s3b.get_object(Bucket="pgbackup", Key=k)["Body"].read() == v
    user = boto3.client(
        "s3",
        endpoint_url=b.url,
        aws_access_key_id="pg-user",
        aws_secret_access_key="pg-user-secret-1",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )
    assert user.get_object(Bucket="pgbackup", Key="small.txt")["Body"].read() == b"small"
    s3b.put_object(Bucket="pgbackup", Key="new.txt", Body=b"writable")

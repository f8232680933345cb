"""Bucket replication against real processes: two gateways on 127.0.0.1 (different data
directories and ports), the second one the remote target of the first.

What a user sees: remote targets added, listed (never with their secret) and removed by
``s3gw admin replicate``; PutBucketReplication / Get / Delete with MinIO's validation
errors; a rule naming a target by the ARN ``add`` printed or by ``arn:aws:s3:::BUCKET``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCESS_KEY, SECRET_KEY, Server, start_server
from tests.functional.conftest import s3_client
from tests.functional.rawhttp import signed_request

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(str(tmp_path_factory.mktemp("s3gw-remote")))
    yield srv
    srv.stop()


def admin(gw: Server, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "S3GW_ROOT_USER": ACCESS_KEY, "S3GW_ROOT_PASSWORD": SECRET_KEY}
    cp = subprocess.run(
        [sys.executable, "-m", "s3gw.cli", "admin", *args, "--endpoint", gw.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin,
        cwd=ROOT,
    )
    if check:
        assert cp.returncode == 0, f"s3gw admin {' '.join(args)}: {cp.returncode}\n{cp.stdout}\n{cp.stderr}"
    return cp


def new_bucket(s3, versioned: bool = True) -> str:
    name = f"repl-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def add_target(server: Server, remote: Server, src: str, dst: str, tmp_path: Path) -> str:
    secret = tmp_path / f"secret-{uuid.uuid4().hex[:6]}"
    secret.write_text(remote.secret_key + "\n")
    cp = admin(
        server, "replicate", "add", src, f"{remote.url}/{dst}", "--access-key", remote.access_key,
        "--secret-key-file", str(secret),
    )  # fmt: skip
    arn = cp.stdout.strip()
    assert arn.startswith("arn:minio:replication::") and arn.endswith(":" + dst), cp.stdout
    return arn


def rule(arn: str, **extra: object) -> dict:
    r: dict = {
        "ID": "r1",
        "Status": "Enabled",
        "Priority": 1,
        "Filter": {"Prefix": ""},
        "DeleteMarkerReplication": {"Status": "Enabled"},
        "Destination": {"Bucket": arn},
    }
    r.update(extra)
    return r


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    e = exc.value.response
    return e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Code"], e["Error"].get("Message", "")


def test_targets_add_ls_rm_never_show_the_secret(server: Server, s3, remote: Server, tmp_path: Path) -> None:
    src = new_bucket(s3)
    arn = add_target(server, remote, src, "far-bucket", tmp_path)
    ls = admin(server, "replicate", "ls", src).stdout
    assert arn in ls and f"{remote.url}/far-bucket" in ls
    js = admin(server, "replicate", "ls", "--json").stdout
    assert arn in js and remote.secret_key not in js and remote.secret_key not in ls
    log = Path(server.data, f"server-{server.port}.log").read_text(errors="replace")
    assert remote.secret_key not in log
    admin(server, "replicate", "rm", src, arn)
    assert arn not in admin(server, "replicate", "ls", src).stdout
    cp = admin(server, "replicate", "rm", src, arn, check=False)
    assert cp.returncode == 1 and "XMinioAdminRemoteTargetNotFoundError" in cp.stderr


def test_target_needs_a_versioned_bucket_and_a_url_with_a_bucket(
    server: Server, s3, remote: Server, tmp_path: Path
) -> None:
    plain = new_bucket(s3, versioned=False)
    secret = tmp_path / "secret"
    secret.write_text(remote.secret_key)
    cp = admin(
        server, "replicate", "add", plain, f"{remote.url}/x", "--access-key", "a", "--secret-key-file", str(secret),
        check=False,
    )  # fmt: skip
    assert cp.returncode == 1 and "Versioning must be 'Enabled' on the bucket to add a replication target" in cp.stderr
    cp = admin(
        server, "replicate", "add", plain, remote.url, "--access-key", "a", "--secret-key-file", str(secret),
        check=False,
    )  # fmt: skip
    assert cp.returncode == 2 and "BUCKET" in cp.stderr


def test_configuration_round_trip(server: Server, s3, remote: Server, tmp_path: Path) -> None:
    src = new_bucket(s3)
    arn = add_target(server, remote, src, "dst-one", tmp_path)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_replication(Bucket=src)
    assert error(exc)[:2] == (404, "ReplicationConfigurationNotFoundError")
    cfg = {
        "Role": "",
        "Rules": [
            rule(arn, ExistingObjectReplication={"Status": "Enabled"}),
            rule(
                arn,
                ID="tagged",
                Priority=2,
                Filter={"And": {"Prefix": "docs/", "Tags": [{"Key": "k", "Value": "v"}]}},
                DeleteMarkerReplication={"Status": "Disabled"},
            ),
        ],
    }
    s3.put_bucket_replication(Bucket=src, ReplicationConfiguration=cfg)
    got = s3.get_bucket_replication(Bucket=src)["ReplicationConfiguration"]
    r1, r2 = got["Rules"]
    assert r1["ID"] == "r1" and r1["Status"] == "Enabled" and r1["Priority"] == 1
    assert r1["Destination"]["Bucket"] == arn
    assert r1["DeleteMarkerReplication"] == {"Status": "Enabled"}
    assert r1["ExistingObjectReplication"] == {"Status": "Enabled"}
    assert r1["Filter"] == {"Prefix": ""}
    assert r2["Filter"] == {"And": {"Prefix": "docs/", "Tags": [{"Key": "k", "Value": "v"}]}}
    assert r1["DeleteReplication"] == {"Status": "Disabled"} if "DeleteReplication" in r1 else True
    # MinIO's DeleteReplication extension (boto3 does not know it): raw XML
    doc = (
        f"<ReplicationConfiguration><Rule><Status>Enabled</Status><Priority>3</Priority>"
        f"<DeleteMarkerReplication><Status>Enabled</Status></DeleteMarkerReplication>"
        f"<DeleteReplication><Status>Enabled</Status></DeleteReplication>"
        f"<Prefix>legacy/</Prefix><Destination><Bucket>{arn}</Bucket><StorageClass>STANDARD</StorageClass>"
        f"</Destination></Rule></ReplicationConfiguration>"
    ).encode()
    assert signed_request(server, "PUT", f"/{src}?replication", doc).status == 200
    body = signed_request(server, "GET", f"/{src}?replication").body
    assert b"<DeleteReplication><Status>Enabled</Status></DeleteReplication>" in body, body
    assert b"<Filter><Prefix>legacy/</Prefix></Filter>" in body and b"<StorageClass>STANDARD</StorageClass>" in body
    # a target a rule uses cannot be removed
    cp = admin(server, "replicate", "rm", src, arn, check=False)
    assert cp.returncode == 1 and "XMinioAdminRemoteRemoveDisallowed" in cp.stderr
    s3.delete_bucket_replication(Bucket=src)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_replication(Bucket=src)
    assert error(exc)[:2] == (404, "ReplicationConfigurationNotFoundError")
    admin(server, "replicate", "rm", src, arn)


def test_aws_destination_arn_names_the_target_by_its_bucket(server: Server, s3, remote: Server, tmp_path: Path) -> None:
    src = new_bucket(s3)
    add_target(server, remote, src, "aws-style", tmp_path)
    cfg = {"Role": "arn:aws:iam::123456789012:role/replication", "Rules": [rule("arn:aws:s3:::aws-style")]}
    s3.put_bucket_replication(Bucket=src, ReplicationConfiguration=cfg)
    got = s3.get_bucket_replication(Bucket=src)["ReplicationConfiguration"]
    assert got["Role"] == cfg["Role"] and got["Rules"][0]["Destination"]["Bucket"] == "arn:aws:s3:::aws-style"
    with pytest.raises(ClientError) as exc:  # no target with that bucket
        s3.put_bucket_replication(
            Bucket=src, ReplicationConfiguration={**cfg, "Rules": [rule("arn:aws:s3:::elsewhere")]}
        )
    assert error(exc)[:2] == (404, "XMinioAdminRemoteTargetNotFoundError")


def test_validation_errors_as_minio_gives_them(server: Server, s3, remote: Server, tmp_path: Path) -> None:
    plain = new_bucket(s3, versioned=False)
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_replication(Bucket=plain, ReplicationConfiguration={"Role": "", "Rules": [rule("x")]})
    assert error(exc) == (
        400,
        "InvalidRequest",
        "Versioning must be 'Enabled' on the bucket to apply a replication configuration",
    )
    src = new_bucket(s3)
    arn = add_target(server, remote, src, "dst-v", tmp_path)
    cases = [
        ([rule(arn, Status="On")], 400, "MalformedXML", "Status must be set to either Enabled or Disabled"),
        ([rule(arn), rule(arn, ID="r2")], 400, "MalformedXML", "Replication configuration has duplicate priority"),
        ([rule(arn, ID="x" * 256)], 400, "MalformedXML", "ID must be less than 255 characters"),
        (
            [rule(arn, Filter={"Tag": {"Key": "k", "Value": "v"}})],
            400,
            "MalformedXML",
            "Delete marker replication is not supported if any Tag filter is specified",
        ),
        (
            [rule("arn:minio:replication::nope:dst-v")],
            404,
            "XMinioAdminRemoteTargetNotFoundError",
            "The remote target does not exist",
        ),
        ([rule("arn:minio:sqs::1:dst-v")], 400, "MalformedXML", "invalid destination"),
        ([rule("arn:minio:replication:short")], 400, "XMinioAdminBucketRemoteArnInvalid", ""),
        ([rule("not-an-arn")], 400, "MalformedXML", "invalid destination 'not-an-arn'"),
        ([], 400, "MalformedXML", ""),
    ]
    for rules, status, code, message in cases:
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_replication(Bucket=src, ReplicationConfiguration={"Role": "", "Rules": rules})
        got = error(exc)
        assert got[:2] == (status, code), (rules, got)
        assert message in got[2], (rules, got)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_replication(Bucket=src)  # nothing was stored
    assert error(exc)[1] == "ReplicationConfigurationNotFoundError"


def test_malformed_and_oversized_documents(server: Server) -> None:
    s3 = s3_client(server)
    src = new_bucket(s3)
    for body in (b"<ReplicationConfiguration><Rule>", b"not xml", b"<Other/>"):
        r = signed_request(server, "PUT", f"/{src}?replication", body)
        assert r.status == 400 and b"<Code>MalformedXML</Code>" in r.body, (body, r)
    # more than 1000 rules, more elements than a document may have, more bytes than MinIO reads
    for n in (1001, 20000, 60000):
        rules = b"<Rule><Status>Enabled</Status></Rule>" * n
        r = signed_request(
            server, "PUT", f"/{src}?replication", b"<ReplicationConfiguration>" + rules + b"</ReplicationConfiguration>"
        )
        assert r.status == 400 and b"<Code>" in r.body, (n, r.status, r.body[:300])

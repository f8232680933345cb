"""Bucket replication against real processes: two gateways on 127.0.0.1 (different data
directories and ports), the second one the remote target of the first.

What a user sees: remote targets added, listed (never with their secret) and removed by
``s3gw admin replicate``; PutBucketReplication / Get / Delete with MinIO's validation
errors; a rule naming a target by the ARN ``add`` printed or by ``arn:aws:s3:::BUCKET``.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCESS_KEY, SECRET_KEY, Server, free_port, start_server
from tests.functional.conftest import s3_client
from tests.functional.drivers import admin
from tests.functional.rawhttp import signed_request
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # its metrics public: the replication series are read by the tests
    srv = start_server(str(tmp_path_factory.mktemp("s3gw-remote")), env={"MINIO_PROMETHEUS_AUTH_TYPE": "public"})
    yield srv
    srv.stop()


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


# --------------------------------------------------------------------------- the copies
def replicate(server: Server, s3, remote: Server, rs3, tmp_path: Path, *, deletes: bool = False) -> tuple[str, str]:
    """A versioned source bucket replicating everything to a versioned bucket of ``remote``."""
    src, dst = new_bucket(s3), new_bucket(rs3)
    arn = add_target(server, remote, src, dst, tmp_path)
    doc = (
        "<ReplicationConfiguration><Rule><ID>all</ID><Status>Enabled</Status><Priority>1</Priority>"
        "<DeleteMarkerReplication><Status>Enabled</Status></DeleteMarkerReplication>"
        f"<DeleteReplication><Status>{'Enabled' if deletes else 'Disabled'}</Status></DeleteReplication>"
        "<ExistingObjectReplication><Status>Enabled</Status></ExistingObjectReplication>"
        f"<Filter><Prefix></Prefix></Filter><Destination><Bucket>{arn}</Bucket></Destination></Rule>"
        "</ReplicationConfiguration>"
    ).encode()
    r = signed_request(server, "PUT", f"/{src}?replication", doc)
    assert r.status == 200, r
    return src, dst


def versions(s3, bucket: str) -> list[tuple[str, str, bool]]:
    """(key, version id, is a delete marker), newest first per key."""
    out = s3.list_object_versions(Bucket=bucket)
    vs = [(v["Key"], v["VersionId"], False, v["LastModified"]) for v in out.get("Versions", [])]
    vs += [(m["Key"], m["VersionId"], True, m["LastModified"]) for m in out.get("DeleteMarkers", [])]
    return sorted((k, vid, dm) for k, vid, dm, _ in vs)


def status(s3, bucket: str, key: str, vid: str) -> str:
    return s3.head_object(Bucket=bucket, Key=key, VersionId=vid).get("ReplicationStatus", "")


def test_put_overwrite_tags_metadata_and_delete_marker_replicate(
    server: Server, s3, remote: Server, tmp_path: Path
) -> None:
    rs3 = s3_client(remote)
    src, dst = replicate(server, s3, remote, rs3, tmp_path)
    v1 = s3.put_object(
        Bucket=src, Key="docs/a.txt", Body=b"one", ContentType="text/plain", Metadata={"color": "blue"},
        Tagging="k=v&x=y", ChecksumAlgorithm="CRC32",
    )["VersionId"]  # fmt: skip
    assert status(s3, src, "docs/a.txt", v1) in ("PENDING", "COMPLETED")
    v2 = s3.put_object(Bucket=src, Key="docs/a.txt", Body=b"two, longer")["VersionId"]
    wait_until(lambda: status(s3, src, "docs/a.txt", v2) == "COMPLETED", "the overwrite replicated")
    wait_until(lambda: status(s3, src, "docs/a.txt", v1) == "COMPLETED", "the first version replicated")
    got = rs3.get_object(Bucket=dst, Key="docs/a.txt", VersionId=v1)
    assert got["Body"].read() == b"one" and got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"color": "blue"} and got["ReplicationStatus"] == "REPLICA"
    assert got["ETag"] == s3.head_object(Bucket=src, Key="docs/a.txt", VersionId=v1)["ETag"]
    tags = rs3.get_object_tagging(Bucket=dst, Key="docs/a.txt", VersionId=v1)["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("k", "v"), ("x", "y")]
    head = rs3.head_object(Bucket=dst, Key="docs/a.txt", VersionId=v1, ChecksumMode="ENABLED")
    assert head.get("ChecksumCRC32") == s3.head_object(
        Bucket=src, Key="docs/a.txt", VersionId=v1, ChecksumMode="ENABLED"
    ).get("ChecksumCRC32")
    src_head = s3.head_object(Bucket=src, Key="docs/a.txt", VersionId=v2)
    dst_head = rs3.head_object(Bucket=dst, Key="docs/a.txt")  # the latest there is v2 too
    assert dst_head["VersionId"] == v2 and dst_head["LastModified"] == src_head["LastModified"]
    # a tag change made afterwards reaches the target too
    s3.put_object_tagging(
        Bucket=src, Key="docs/a.txt", VersionId=v1, Tagging={"TagSet": [{"Key": "new", "Value": "1"}]}
    )

    def target_tags() -> list[dict[str, str]]:
        return rs3.get_object_tagging(Bucket=dst, Key="docs/a.txt", VersionId=v1)["TagSet"]

    wait_until(lambda: target_tags() == [{"Key": "new", "Value": "1"}], "the tag change replicated")
    s3.delete_object_tagging(Bucket=src, Key="docs/a.txt", VersionId=v1)
    wait_until(lambda: target_tags() == [], "the tag removal replicated")
    # a delete marker, with its version id
    marker = s3.delete_object(Bucket=src, Key="docs/a.txt")["VersionId"]
    wait_until(lambda: ("docs/a.txt", marker, True) in versions(rs3, dst), "the delete marker replicated")
    assert versions(rs3, dst) == versions(s3, src)
    # the replicas are not replicated back or again (no loop): the target's queue stays empty
    assert admin(remote, "replicate", "status", "--json").stdout.strip().startswith("{")


def test_multipart_object_replicates_in_parts_with_the_same_etag(
    server: Server, s3, remote: Server, tmp_path: Path
) -> None:
    rs3 = s3_client(remote)
    src, dst = replicate(server, s3, remote, rs3, tmp_path)
    up = s3.create_multipart_upload(Bucket=src, Key="big.bin", ContentType="application/x-test")
    parts = []
    blobs = [os.urandom(5 * 1024 * 1024), os.urandom(5 * 1024 * 1024), os.urandom(1234)]
    for n, blob in enumerate(blobs, 1):
        etag = s3.upload_part(Bucket=src, Key="big.bin", UploadId=up["UploadId"], PartNumber=n, Body=blob)["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    vid = s3.complete_multipart_upload(
        Bucket=src, Key="big.bin", UploadId=up["UploadId"], MultipartUpload={"Parts": parts}
    )["VersionId"]
    wait_until(lambda: status(s3, src, "big.bin", vid) == "COMPLETED", "the multipart object replicated")
    got = rs3.get_object(Bucket=dst, Key="big.bin", VersionId=vid)
    assert got["Body"].read() == b"".join(blobs)
    assert got["ETag"] == s3.head_object(Bucket=src, Key="big.bin")["ETag"] and got["ETag"].endswith('-3"')
    assert got["ContentType"] == "application/x-test"


def test_version_deletes_replicate_when_the_rule_says_so(server: Server, s3, remote: Server, tmp_path: Path) -> None:
    rs3 = s3_client(remote)
    src, dst = replicate(server, s3, remote, rs3, tmp_path, deletes=True)
    v1 = s3.put_object(Bucket=src, Key="k", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket=src, Key="k", Body=b"2")["VersionId"]
    wait_until(lambda: status(s3, src, "k", v2) == "COMPLETED", "both versions replicated")
    s3.delete_object(Bucket=src, Key="k", VersionId=v1)
    wait_until(lambda: [v for _, v, _ in versions(rs3, dst)] == [v2], "the version deletion replicated")


def test_target_down_then_back_loses_nothing(server: Server, s3, tmp_path: Path) -> None:
    data = tmp_path / "down-target"
    data.mkdir()
    target = start_server(str(data))
    try:
        rs3 = s3_client(target)
        src, dst = replicate(server, s3, target, rs3, tmp_path)
        target.stop()
        vids = [s3.put_object(Bucket=src, Key=f"k{i}", Body=f"body {i}".encode())["VersionId"] for i in range(20)]
        marker = s3.delete_object(Bucket=src, Key="k0")["VersionId"]
        st = json.loads(admin(server, "replicate", "status", "--json").stdout)
        wait_until(
            lambda: json.loads(admin(server, "replicate", "status", "--json").stdout)["failures"] > 0,
            "copies to the stopped target fail",
        )
        assert st["pending"] >= 1
        assert all(status(s3, src, f"k{i}", v) == "PENDING" for i, v in enumerate(vids))
        target = start_server(str(data), port=target.port)
        rs3 = s3_client(target)
        wait_until(
            lambda: all(status(s3, src, f"k{i}", v) == "COMPLETED" for i, v in enumerate(vids)),
            "every version replicated once the target is back",
            timeout=240,
        )
        wait_until(lambda: ("k0", marker, True) in versions(rs3, dst), "the delete marker replicated")
        assert versions(rs3, dst) == versions(s3, src)
        for i, v in enumerate(vids):
            assert rs3.get_object(Bucket=dst, Key=f"k{i}", VersionId=v)["Body"].read() == f"body {i}".encode()
        wait_until(
            lambda: json.loads(admin(server, "replicate", "status", "--json").stdout)["pending"] == 0,
            "the queue drained",
        )
    finally:
        target.stop()


def test_two_way_replication_converges_without_loops(server: Server, s3, remote: Server, tmp_path: Path) -> None:
    rs3 = s3_client(remote)
    a, b = new_bucket(s3), new_bucket(rs3)
    arn_ab = add_target(server, remote, a, b, tmp_path)
    arn_ba = add_target(remote, server, b, a, tmp_path)
    for gw, bucket, arn in ((server, a, arn_ab), (remote, b, arn_ba)):
        client = s3_client(gw)
        client.put_bucket_replication(Bucket=bucket, ReplicationConfiguration={"Role": "", "Rules": [rule(arn)]})
    va = s3.put_object(Bucket=a, Key="from-a", Body=b"A")["VersionId"]
    vb = rs3.put_object(Bucket=b, Key="from-b", Body=b"B")["VersionId"]
    wait_until(lambda: status(s3, a, "from-a", va) == "COMPLETED", "a -> b")
    wait_until(lambda: status(rs3, b, "from-b", vb) == "COMPLETED", "b -> a")
    s3.put_object(Bucket=a, Key="from-b", Body=b"A again")  # an overwrite on the other side
    rs3.put_object_tagging(Bucket=b, Key="from-a", VersionId=va, Tagging={"TagSet": [{"Key": "t", "Value": "b"}]})
    wait_until(
        lambda: s3.get_object_tagging(Bucket=a, Key="from-a", VersionId=va)["TagSet"] == [{"Key": "t", "Value": "b"}],
        "a tag change replicated back to the source",
    )
    wait_until(lambda: versions(rs3, b) == versions(s3, a), "both sides hold the same versions")
    assert rs3.get_object(Bucket=b, Key="from-b")["Body"].read() == b"A again"
    assert status(s3, a, "from-b", vb) == "REPLICA" and status(rs3, b, "from-a", va) == "REPLICA"
    # nothing is queued again: both queues drain and stay empty, no extra versions appear
    for gw in (server, remote):
        wait_until(
            lambda gw=gw: json.loads(admin(gw, "replicate", "status", "--json").stdout)["pending"] == 0,
            "the queue drained",
        )
    assert len(versions(s3, a)) == 3 and versions(rs3, b) == versions(s3, a)
    with urllib.request.urlopen(remote.url + "/metrics", timeout=30) as r:
        text = r.read().decode()
    for series in (
        "s3gw_replication_pending 0.0",
        "s3gw_replication_pending_bytes 0.0",
        "s3gw_replication_oldest_pending_seconds 0.0",
        "s3gw_replication_failed 0.0",
    ):
        assert series in text, series
    replicated = [ln for ln in text.splitlines() if ln.startswith("s3gw_replication_replicated_total ")]
    assert replicated and float(replicated[0].split()[1]) >= 1, replicated


def test_resync_queues_existing_objects(server: Server, s3, remote: Server, tmp_path: Path) -> None:
    rs3 = s3_client(remote)
    src = new_bucket(s3)
    vids = [s3.put_object(Bucket=src, Key=f"old{i}", Body=b"x" * i)["VersionId"] for i in range(5)]
    dst = new_bucket(rs3)
    arn = add_target(server, remote, src, dst, tmp_path)
    s3.put_bucket_replication(
        Bucket=src,
        ReplicationConfiguration={
            "Role": "",
            "Rules": [rule(arn, ExistingObjectReplication={"Status": "Enabled"})],
        },
    )
    assert versions(rs3, dst) == []  # existing objects wait for a resync
    out = admin(server, "replicate", "resync", src).stdout
    assert "5 versions queued" in out
    wait_until(lambda: versions(rs3, dst) == versions(s3, src), "the existing objects replicated")
    for i, v in enumerate(vids):
        assert rs3.get_object(Bucket=dst, Key=f"old{i}", VersionId=v)["Body"].read() == b"x" * i


def test_replica_writes_need_replicate_permission_and_a_valid_version(server: Server, s3) -> None:
    bucket = new_bucket(s3)
    vid = str(uuid.uuid4())
    hdrs = {"x-minio-source-replication-request": "true", "x-minio-source-mtime": "2024-01-02T03:04:05.123456789Z"}
    r = signed_request(server, "PUT", f"/{bucket}/k?versionId=not-a-uuid", b"x", hdrs)
    assert r.status == 400 and b"InvalidArgument" in r.body
    r = signed_request(server, "PUT", f"/{bucket}/k?versionId={vid}", b"x", hdrs)
    assert r.status == 200, r
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["VersionId"] == vid and head["ReplicationStatus"] == "REPLICA"
    assert head["LastModified"].year == 2024
    r = signed_request(server, "PUT", f"/{bucket}/k?versionId={vid}", b"x", hdrs)  # sent again: one version
    assert r.status == 200 and len(versions(s3, bucket)) == 1
    # the same copy sent several times at once (two workers): every answer 200, one version
    vid2 = str(uuid.uuid4())
    body = os.urandom(300_000)
    with ThreadPoolExecutor(6) as pool:
        answers = list(
            pool.map(lambda _: signed_request(server, "PUT", f"/{bucket}/race?versionId={vid2}", body, hdrs), range(6))
        )
    assert [a.status for a in answers] == [200] * 6, [(a.status, a.body[:200]) for a in answers]
    assert [v for k, v, _ in versions(s3, bucket) if k == "race"] == [vid2]
    assert s3.get_object(Bucket=bucket, Key="race")["Body"].read() == body
    # a replicated delete marker, sent several times at once: one marker with the source's id
    mvid = str(uuid.uuid4())
    mhdrs = {**hdrs, "x-minio-source-deletemarker": "true"}
    with ThreadPoolExecutor(6) as pool:
        answers = list(
            pool.map(
                lambda _: signed_request(server, "DELETE", f"/{bucket}/race?versionId={mvid}", b"", mhdrs), range(6)
            )
        )
    assert [a.status for a in answers] == [204] * 6, [(a.status, a.body[:200]) for a in answers]
    assert [(v, dm) for k, v, dm in versions(s3, bucket) if k == "race"] == sorted([(vid2, False), (mvid, True)])


# --------------------------------------------------------------------------- s3gw -> MinIO
@pytest.fixture(scope="module")
def minio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The pinned MinIO (scripts/go-tools.sh builds it once), on 127.0.0.1, four drive folders."""
    cp = subprocess.run([str(ROOT / "scripts" / "go-tools.sh"), "minio"], capture_output=True, text=True, timeout=1800)
    binary = next((ln.split()[1] for ln in cp.stdout.splitlines() if ln.startswith("minio ")), "")
    if cp.returncode != 0 or not os.access(binary, os.X_OK):
        pytest.fail(f"minio is needed and scripts/go-tools.sh minio could not provide it: {cp.stderr[-300:]}")
    root = tmp_path_factory.mktemp("minio")
    for i in range(1, 5):
        (root / f"d{i}").mkdir()
    port, console = free_port(), free_port()
    env = {
        **os.environ,
        "MINIO_CI_CD": "1",
        "MINIO_UPDATE": "off",
        "MINIO_BROWSER": "off",
        "MINIO_ROOT_USER": ACCESS_KEY,
        "MINIO_ROOT_PASSWORD": SECRET_KEY,
    }
    with open(root / "minio.log", "ab") as log:
        proc = subprocess.Popen(
            [binary, "server", "--quiet", "--address", f"127.0.0.1:{port}", "--console-address",
             f"127.0.0.1:{console}", f"{root}/d{{1...4}}"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    srv = Server(f"http://127.0.0.1:{port}", port, str(root), proc)
    wait_until(lambda: s3_client(srv).list_buckets() is not None, "MinIO up", ignore=(Exception,))
    yield srv
    srv.stop()


def test_replication_to_minio(server: Server, s3, minio: Server, tmp_path: Path) -> None:
    ms3 = s3_client(minio)
    src, dst = replicate(server, s3, minio, ms3, tmp_path)
    v1 = s3.put_object(
        Bucket=src, Key="m/a.txt", Body=b"to minio", ContentType="text/plain", Metadata={"k": "v"}, Tagging="t=1"
    )["VersionId"]
    up = s3.create_multipart_upload(Bucket=src, Key="m/big.bin")
    blobs = [os.urandom(5 * 1024 * 1024), os.urandom(4321)]
    parts = [
        {"PartNumber": n, "ETag": s3.upload_part(Bucket=src, Key="m/big.bin", UploadId=up["UploadId"], PartNumber=n,
                                                  Body=b)["ETag"]}
        for n, b in enumerate(blobs, 1)
    ]  # fmt: skip
    vbig = s3.complete_multipart_upload(
        Bucket=src, Key="m/big.bin", UploadId=up["UploadId"], MultipartUpload={"Parts": parts}
    )["VersionId"]
    wait_until(lambda: status(s3, src, "m/a.txt", v1) == "COMPLETED", "the object replicated to MinIO")
    wait_until(lambda: status(s3, src, "m/big.bin", vbig) == "COMPLETED", "the multipart object replicated to MinIO")
    got = ms3.get_object(Bucket=dst, Key="m/a.txt", VersionId=v1)
    assert got["Body"].read() == b"to minio" and got["Metadata"] == {"k": "v"}
    assert got["ReplicationStatus"] == "REPLICA" and got["ContentType"] == "text/plain"
    assert ms3.get_object_tagging(Bucket=dst, Key="m/a.txt", VersionId=v1)["TagSet"] == [{"Key": "t", "Value": "1"}]
    big = ms3.get_object(Bucket=dst, Key="m/big.bin", VersionId=vbig)
    assert big["Body"].read() == b"".join(blobs)
    assert big["ETag"] == s3.head_object(Bucket=src, Key="m/big.bin")["ETag"]
    marker = s3.delete_object(Bucket=src, Key="m/a.txt")["VersionId"]
    wait_until(lambda: ("m/a.txt", marker, True) in versions(ms3, dst), "the delete marker replicated to MinIO")
    assert versions(ms3, dst) == versions(s3, src)


def test_replication_requests_need_the_replicate_actions(server: Server, s3, tmp_path: Path) -> None:
    bucket = new_bucket(s3)
    user = f"writer-{uuid.uuid4().hex[:6]}"
    admin(server, "user", "add", user, "writer-secret-123")
    for name, actions in (("put-only", ["s3:PutObject", "s3:DeleteObject"]), ("replicator", ["s3:ReplicateObject"])):
        policy = tmp_path / f"{name}.json"
        doc = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": [f"arn:aws:s3:::{bucket}/*"]}],
        }
        policy.write_text(json.dumps(doc))
        admin(server, "policy", "create", f"{name}-{user}", str(policy))
    admin(server, "policy", "attach", f"put-only-{user}", "--user", user)
    hdrs = {"x-minio-source-replication-request": "true"}
    vid = str(uuid.uuid4())
    kw = {"access": user, "secret": "writer-secret-123"}
    assert signed_request(server, "PUT", f"/{bucket}/plain", b"x", **kw).status == 200
    r = signed_request(server, "PUT", f"/{bucket}/replica?versionId={vid}", b"x", hdrs, **kw)
    assert r.status == 403 and b"AccessDenied" in r.body, r
    r = signed_request(server, "DELETE", f"/{bucket}/plain", b"", hdrs, **kw)
    assert r.status == 403 and b"AccessDenied" in r.body, r
    admin(server, "policy", "attach", f"replicator-{user}", "--user", user)
    r = signed_request(server, "PUT", f"/{bucket}/replica?versionId={vid}", b"x", hdrs, **kw)
    assert r.status == 200, r
    assert s3.head_object(Bucket=bucket, Key="replica")["ReplicationStatus"] == "REPLICA"


def ready(gw: Server) -> dict:
    with urllib.request.urlopen(gw.url + "/health/ready", timeout=30) as r:
        return json.loads(r.read())


def test_source_killed_with_work_queued_loses_nothing(tmp_path: Path) -> None:
    """A source gateway killed (SIGKILL) while its copies wait for a stopped target: after a
    restart the queue is still there, and once the target is back every version arrives once."""
    sdata, tdata = tmp_path / "src", tmp_path / "dst"
    sdata.mkdir()
    tdata.mkdir()
    lag = ("--replication-lag-warning", "1s")  # /health/ready warns once a copy waits longer
    source, target = start_server(str(sdata), *lag), start_server(str(tdata))
    try:
        s3, rs3 = s3_client(source), s3_client(target)
        src, dst = replicate(source, s3, target, rs3, tmp_path)
        target.stop()
        vids = [s3.put_object(Bucket=src, Key=f"k{i}", Body=os.urandom(1000 + i))["VersionId"] for i in range(10)]
        warning = wait_until(lambda: ready(source)["warnings"], "the lag warning on /health/ready")
        assert "replication lag" in warning[0] and "10 copies pending" in warning[0], warning
        source.proc.kill()
        source.proc.wait()
        source = start_server(str(sdata), *lag, port=source.port)
        s3 = s3_client(source)
        wait_until(lambda: s3.list_buckets() is not None, "the source back", ignore=(Exception,))
        assert json.loads(admin(source, "replicate", "status", "--json").stdout)["pending"] == 10
        text = admin(source, "replicate", "status").stdout
        assert text.startswith("pending 10 (") and "failed 0" in text, text
        target = start_server(str(tdata), port=target.port)
        rs3 = s3_client(target)
        wait_until(
            lambda: all(status(s3, src, f"k{i}", v) == "COMPLETED" for i, v in enumerate(vids)),
            "every version replicated after the restart",
            timeout=240,
        )
        assert versions(rs3, dst) == versions(s3, src)  # each version once, with its id
        wait_until(lambda: ready(source)["warnings"] == [], "the lag warning gone once the queue drained")
        for i, v in enumerate(vids):
            body = s3.get_object(Bucket=src, Key=f"k{i}", VersionId=v)["Body"].read()
            assert rs3.get_object(Bucket=dst, Key=f"k{i}", VersionId=v)["Body"].read() == body
    finally:
        source.stop()
        target.stop()


# --------------------------------------------------------------------------- mc replicate add
def test_mc_replicate_add_ls_and_rm(mc_bin: str, server: Server, s3, remote: Server, tmp_path: Path) -> None:
    def mc(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        cp = subprocess.run(
            [mc_bin, "--config-dir", str(tmp_path / "mc"), "--no-color", *args],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if check:
            assert cp.returncode == 0, f"mc {' '.join(args)}: {cp.returncode}\n{cp.stdout}\n{cp.stderr}"
        return cp

    mc("alias", "set", "src", server.url, ACCESS_KEY, SECRET_KEY)
    rs3 = s3_client(remote)
    src, dst = new_bucket(s3), new_bucket(rs3)
    host = remote.url.split("://", 1)[1]
    mc(
        "replicate", "add", f"src/{src}", "--remote-bucket",
        f"http://{remote.access_key}:{remote.secret_key}@{host}/{dst}", "--priority", "1",
    )  # fmt: skip
    rules = s3.get_bucket_replication(Bucket=src)["ReplicationConfiguration"]["Rules"]
    arn = rules[0]["Destination"]["Bucket"]
    assert arn.startswith("arn:minio:replication:") and arn.endswith(":" + dst)
    listed = mc("replicate", "ls", f"src/{src}").stdout
    assert dst in listed or arn in listed, listed
    remotes = mc("--json", "admin", "bucket", "remote", "ls", f"src/{src}", check=False).stdout
    assert remote.secret_key not in remotes
    vid = s3.put_object(Bucket=src, Key="via-mc", Body=b"mc")["VersionId"]
    wait_until(lambda: status(s3, src, "via-mc", vid) == "COMPLETED", "the object replicated")
    assert rs3.get_object(Bucket=dst, Key="via-mc", VersionId=vid)["Body"].read() == b"mc"
    mc("replicate", "rm", "--all", "--force", f"src/{src}")
    with pytest.raises(ClientError):
        s3.get_bucket_replication(Bucket=src)


def test_keys_with_spaces_plus_and_unicode_replicate(server: Server, s3, remote: Server, tmp_path: Path) -> None:
    rs3 = s3_client(remote)
    src, dst = replicate(server, s3, remote, rs3, tmp_path)
    keys = ["dir/sp ace+plus.txt", "ünï/cödé ✓", "a%2Fb?c=d&e", "~tilde/(x)!*'"]
    vids = {k: s3.put_object(Bucket=src, Key=k, Body=k.encode(), Metadata={"n": "1"})["VersionId"] for k in keys}
    for k, v in vids.items():
        wait_until(lambda k=k, v=v: status(s3, src, k, v) == "COMPLETED", f"{k!r} replicated")
        assert rs3.get_object(Bucket=dst, Key=k, VersionId=v)["Body"].read() == k.encode()
    marker = s3.delete_object(Bucket=src, Key=keys[1])["VersionId"]
    wait_until(lambda: (keys[1], marker, True) in versions(rs3, dst), "the marker of a unicode key replicated")


def test_lock_retention_and_legal_hold_replicate(server: Server, s3, remote: Server, tmp_path: Path) -> None:
    rs3 = s3_client(remote)
    src, dst = f"lock-{uuid.uuid4().hex[:10]}", f"lock-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=src, ObjectLockEnabledForBucket=True)
    rs3.create_bucket(Bucket=dst, ObjectLockEnabledForBucket=True)
    arn = add_target(server, remote, src, dst, tmp_path)
    s3.put_bucket_replication(Bucket=src, ReplicationConfiguration={"Role": "", "Rules": [rule(arn)]})
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    vid = s3.put_object(
        Bucket=src, Key="locked", Body=b"keep", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until,
        ObjectLockLegalHoldStatus="ON",
    )["VersionId"]  # fmt: skip
    wait_until(lambda: status(s3, src, "locked", vid) == "COMPLETED", "the locked version replicated")
    head = rs3.head_object(Bucket=dst, Key="locked", VersionId=vid)
    assert head["ObjectLockMode"] == "GOVERNANCE" and head["ObjectLockRetainUntilDate"] == until
    assert head["ObjectLockLegalHoldStatus"] == "ON"
    # later changes: the hold released, the retention extended
    later = until + timedelta(days=1)
    s3.put_object_legal_hold(Bucket=src, Key="locked", VersionId=vid, LegalHold={"Status": "OFF"})
    s3.put_object_retention(
        Bucket=src, Key="locked", VersionId=vid, Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later}
    )

    def target_lock() -> tuple[str, object]:
        h = rs3.head_object(Bucket=dst, Key="locked", VersionId=vid)
        return h.get("ObjectLockLegalHoldStatus", ""), h.get("ObjectLockRetainUntilDate")

    wait_until(lambda: target_lock() == ("OFF", later), "the hold and retention changes replicated")

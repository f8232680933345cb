"""Operations against a real gateway process (docs/operations.md): health codes,
metrics that move, users and policies (created with ``s3gw admin`` and with the
real ``mc``), maintenance mode, the object manifest, and metadata backup/restore.

The gateway here is its own (module-scoped): maintenance mode and users are
deployment-wide, and must not leak into the shared functional server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCESS_KEY, Server, start_server
from tests.functional.drivers import ROOT, Mc, admin, api, metric_samples
from tests.functional.drivers import s3 as client
from tests.functional.rawhttp import signed_request
from tests.waiting import wait_until

TOKEN = "metrics-token-for-tests-0123456789"


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = str(tmp_path_factory.mktemp("ops-gw"))
    # the JSON logs are off by default: test_access_and_audit_logs reads them
    srv = start_server(
        data,
        "--heal-interval",
        "0.2",
        "--usage-interval",
        "0",
        "--access-log",
        "stderr",
        "--audit-log",
        "stderr",
        env={"S3GW_METRICS_TOKEN": TOKEN, "S3GW_METRICS_AUTH": "bearer"},
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def mc(mc_bin: str, gw: Server, tmp_path_factory: pytest.TempPathFactory) -> Mc:
    return Mc(mc_bin, str(tmp_path_factory.mktemp("mc")), gw)


def http(
    gw: Server, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(gw.url + path, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def scrape(gw: Server, path: str = "/metrics") -> dict[str, float]:
    status, _, body = http(gw, path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200, body
    return metric_samples(body.decode())


def families(samples: dict[str, float]) -> set[str]:
    return {re.sub(r"\{.*", "", k) for k in samples}


def new_bucket(s3) -> str:
    name = f"ops-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


def code_of(e: ClientError) -> str:
    return e.response["Error"]["Code"]


# --------------------------------------------------------------------------- health


def test_health_endpoints(gw: Server) -> None:
    status, headers, body = http(gw, "/health/live")
    assert status == 200 and json.loads(body)["status"] == "live" and headers["x-s3gw-maintenance"] == "off"
    status, headers, body = http(gw, "/health/ready")
    doc = json.loads(body)
    assert status == 200 and doc["status"] == "ready" and doc["metadata"] == "ok" and doc["maintenance"] is False
    assert doc["read_quorum"] and doc["write_quorum"] and doc["drives"] == {"online": 9, "total": 9}
    for path in ("/minio/health/live", "/minio/health/ready", "/minio/health/cluster", "/minio/health/cluster/read"):
        for method in ("GET", "HEAD"):
            status, headers, body = http(gw, path, method)
            assert status == 200 and body == b"", (path, method, status)
    _, headers, _ = http(gw, "/minio/health/cluster")
    assert headers["x-minio-write-quorum"] == "6" and headers["x-minio-storage-class-defaults"] == "false"
    _, headers, _ = http(gw, "/minio/health/cluster/read")
    assert headers["x-minio-read-quorum"] == "6"
    # every drive of the embedded form is on this node: taking it down loses quorum (MinIO's answer: 412)
    assert http(gw, "/minio/health/cluster?maintenance=true")[0] == 412
    assert http(gw, "/minio/health/cluster/read?maintenance=true")[0] == 412


def test_mc_ping_ready_info(gw: Server, mc: Mc) -> None:
    assert "9 drives online, 0 drives offline, EC:3" in mc("admin", "info", "s3gw").stdout
    assert "errors=0" in mc("ping", "--count", "1", "s3gw").stdout
    assert "is ready" in mc("ready", "s3gw").stdout
    info = json.loads(mc("admin", "info", "--json", "s3gw").stdout)
    assert info["info"]["backend"]["onlineDisks"] == 9 and info["info"]["servers"][0]["state"] == "online"


# --------------------------------------------------------------------------- metrics


def test_metrics_need_a_token(gw: Server, mc: Mc) -> None:
    assert http(gw, "/metrics")[0] == 403
    assert http(gw, "/metrics", headers={"Authorization": "Bearer wrong"})[0] == 403
    assert http(gw, "/debug/db-stats")[0] == 403
    assert http(gw, "/minio/v2/metrics/cluster", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200
    # the token `mc admin prometheus generate` makes (HS512 JWT signed with the alias's secret key)
    out = mc("admin", "prometheus", "generate", "s3gw").stdout
    jwt = re.search(r"bearer_token:\s*(\S+)", out).group(1)
    for path in ("/metrics", "/minio/v2/metrics/cluster", "/minio/v2/metrics/bucket", "/minio/v2/metrics/node"):
        assert http(gw, path, headers={"Authorization": f"Bearer {jwt}"})[0] == 200, path
    # a JWT signed with another key is refused
    head, claims, _ = jwt.split(".")
    forged = (
        base64.urlsafe_b64encode(hmac.new(b"not-the-secret", f"{head}.{claims}".encode(), hashlib.sha512).digest())
        .rstrip(b"=")
        .decode()
    )
    assert http(gw, "/metrics", headers={"Authorization": f"Bearer {head}.{claims}.{forged}"})[0] == 403


def test_metric_families_move(gw: Server) -> None:
    s3 = client(gw)
    bucket = new_bucket(s3)
    before = scrape(gw)
    body = os.urandom(200_000)
    s3.put_object(Bucket=bucket, Key="a.bin", Body=body)
    assert s3.get_object(Bucket=bucket, Key="a.bin")["Body"].read() == body
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="missing")
    after = scrape(gw)

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    assert delta('http_requests_total{method="PUT",status="200"}') >= 1
    assert delta('http_requests_total{method="HEAD",status="404"}') >= 1
    assert delta('http_request_duration_seconds_count{method="GET"}') >= 1
    assert delta('s3gw_s3_requests_total{operation="PutObject"}') == 1
    assert delta('s3gw_s3_requests_total{operation="GetObject"}') == 1
    assert delta('s3gw_s3_errors_total{code="NoSuchKey",operation="HeadObject"}') == 1
    assert delta('s3gw_s3_received_bytes_total{operation="PutObject"}') >= len(body)
    assert delta('s3gw_s3_sent_bytes_total{operation="GetObject"}') == len(body)
    assert after[f's3gw_bucket_objects{{bucket="{bucket}"}}'] == 1
    assert after[f's3gw_bucket_usage_bytes{{bucket="{bucket}"}}'] == len(body)
    assert after["s3gw_drives_online"] == 9 and after["s3gw_nodes_online"] == 1
    assert after["s3gw_maintenance_mode"] == 0 and after["s3gw_write_quorum_ok"] == 1
    assert sum(v for k, v in after.items() if k.startswith("storage_total_bytes{")) > 0
    assert sum(v for k, v in after.items() if k.startswith("storage_used_bytes{")) > 0
    assert {
        "s3gw_drive_up",
        "s3gw_node_up",
        "s3gw_heal_queue_depth",
        "s3gw_gc_queue_depth",
        "s3gw_healed_objects_total",
        "s3gw_meta_calls_total",
        "s3gw_meta_call_seconds_bucket",
        "s3gw_meta_pool_size",
        "s3gw_s3_requests_inflight",
        "storage_free_bytes",
        "http_request_duration_seconds_bucket",
    } <= families(after)

    # every series the Grafana dashboard (ops/grafana) queries exists
    dashboard = json.load(open(os.path.join(ROOT, "ops", "grafana", "s3gw-dashboard.json")))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = {m for e in exprs for m in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", e)}
    assert used and used <= families(after), used - families(after)

    cluster = scrape(gw, "/minio/v2/metrics/cluster")
    assert {
        "minio_cluster_capacity_raw_total_bytes",
        "minio_cluster_capacity_raw_free_bytes",
        "minio_cluster_capacity_usable_total_bytes",
        "minio_cluster_capacity_usable_free_bytes",
        "minio_cluster_drive_online_total",
        "minio_cluster_drive_offline_total",
        "minio_cluster_nodes_online_total",
        "minio_cluster_nodes_offline_total",
        "minio_s3_requests_total",
        "minio_s3_requests_errors_total",
        "minio_s3_traffic_received_bytes",
        "minio_s3_traffic_sent_bytes",
        "minio_heal_objects_heal_total",
    } <= families(cluster)
    server = f"127.0.0.1:{gw.port}"
    assert cluster[f'minio_cluster_drive_online_total{{server="{server}"}}'] == 9
    assert cluster[f'minio_s3_requests_total{{api="putobject",server="{server}"}}'] >= 1
    assert cluster[f'minio_s3_requests_errors_total{{api="headobject",server="{server}"}}'] >= 1
    buckets = scrape(gw, "/minio/v2/metrics/bucket")
    assert buckets[f'minio_bucket_usage_object_total{{bucket="{bucket}"}}'] == 1
    assert buckets[f'minio_bucket_usage_total_bytes{{bucket="{bucket}"}}'] == len(body)
    s3.put_object(Bucket=bucket, Key="b.txt", Body=b"xy")
    buckets = scrape(gw, "/minio/v2/metrics/bucket")
    assert buckets[f'minio_bucket_usage_object_total{{bucket="{bucket}"}}'] == 2


def test_heal_metrics_move(gw: Server) -> None:
    """A shard removed behind the gateway's back: the degraded read queues the
    object, the heal worker rebuilds it, and the healed counter moves."""
    s3 = client(gw)
    bucket = new_bucket(s3)
    body = os.urandom(300_000)  # past the inline limit: erasure-coded shards
    s3.put_object(Bucket=bucket, Key="heal.bin", Body=body)
    before = scrape(gw)['s3gw_healed_objects_total{source="worker"}']
    shards = sorted(p for d in range(1, 10) for p in _files(os.path.join(gw.data, f"drive{d}", "shards")))
    data_ids = {os.path.basename(p).split(".")[0] for p in shards}
    newest = max(data_ids, key=lambda i: max(os.path.getmtime(p) for p in shards if i in p))
    # a data shard (index < k): a healthy read never looks at parity, so only a missing
    # data shard makes the read degraded (shard files are named DATA_ID.INDEX)
    victim = next(p for p in shards if os.path.basename(p) == f"{newest}.0")
    os.unlink(victim)
    assert s3.get_object(Bucket=bucket, Key="heal.bin")["Body"].read() == body
    wait_until(
        lambda: scrape(gw)['s3gw_healed_objects_total{source="worker"}'],
        "the heal worker to heal the object",
        until=lambda healed: healed > before,
    )
    assert os.path.exists(victim)
    assert scrape(gw)["s3gw_heal_queue_depth"] == 0


def _files(root: str) -> list[str]:
    out = []
    for dirpath, _, files in os.walk(root):
        out += [os.path.join(dirpath, f) for f in files]
    return out


def test_db_stats(gw: Server) -> None:
    status, _, body = http(gw, "/debug/db-stats", headers={"Authorization": f"Bearer {TOKEN}"})
    doc = json.loads(body)
    assert status == 200 and doc["backend"] == "sqlite" and doc["pool_size"] == 1
    assert doc["calls"] > 0 and {"in_use", "waiting", "waits", "latency_ms", "wait_ms", "ping_ms"} <= set(doc)
    assert doc["latency_ms"]["p99"] >= doc["latency_ms"]["p50"] >= 0


# --------------------------------------------------------------------------- users and policies


def test_users_with_s3gw_admin(gw: Server) -> None:
    root = client(gw)
    bucket = new_bucket(root)
    root.put_object(Bucket=bucket, Key="doc.txt", Body=b"hello")
    admin(gw, "user", "add", "alice-ops", "alice-secret-123", "--policy", "readonly")
    users = json.loads(admin(gw, "user", "list", "--json").stdout)["users"]
    assert {"access_key": "alice-ops", "status": "enabled", "policies": ["readonly"]}.items() <= next(
        u for u in users if u["access_key"] == "alice-ops"
    ).items()
    alice = client(gw, "alice-ops", "alice-secret-123")
    assert alice.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"hello"
    for call in (
        lambda: alice.put_object(Bucket=bucket, Key="x", Body=b"x"),
        lambda: alice.list_objects_v2(Bucket=bucket),  # MinIO's readonly cannot list
        lambda: alice.delete_object(Bucket=bucket, Key="doc.txt"),
        lambda: alice.create_bucket(Bucket=f"ops-alice-{uuid.uuid4().hex[:6]}"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert code_of(e.value) == "AccessDenied"
    # a wrong secret for a real user is a signature mismatch, not a way in
    with pytest.raises(ClientError) as e:
        client(gw, "alice-ops", "not-her-secret").get_object(Bucket=bucket, Key="doc.txt")
    assert code_of(e.value) == "SignatureDoesNotMatch"

    admin(gw, "policy", "attach", "readwrite", "--user", "alice-ops")
    alice.put_object(Bucket=bucket, Key="by-alice.txt", Body=b"a")
    assert [o["Key"] for o in alice.list_objects_v2(Bucket=bucket)["Contents"]] == ["by-alice.txt", "doc.txt"]

    admin(gw, "user", "disable", "alice-ops")
    with pytest.raises(ClientError) as e:
        alice.get_object(Bucket=bucket, Key="doc.txt")
    assert code_of(e.value) == "InvalidAccessKeyId"
    assert "disabled" in e.value.response["Error"]["Message"]
    assert json.loads(admin(gw, "user", "info", "alice-ops", "--json").stdout)["status"] == "disabled"
    api(gw).set_status("alice-ops", "enabled")
    assert alice.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"hello"
    admin(gw, "user", "remove", "alice-ops")
    with pytest.raises(ClientError) as e:
        alice.get_object(Bucket=bucket, Key="doc.txt")
    assert code_of(e.value) == "InvalidAccessKeyId"
    cp = admin(gw, "user", "info", "alice-ops", check=False)
    assert cp.returncode == 1 and "XMinioAdminNoSuchUser" in cp.stderr


def test_writeonly_and_stored_policy(gw: Server, tmp_path) -> None:
    root = client(gw)
    bucket = new_bucket(root)
    root.put_object(Bucket=bucket, Key="public/a.txt", Body=b"a")
    root.put_object(Bucket=bucket, Key="private/b.txt", Body=b"b")
    admin(gw, "user", "add", "wo-ops", "--policy", "writeonly", stdin="wo-secret-1234\n")  # secret on stdin
    wo = client(gw, "wo-ops", "wo-secret-1234")
    wo.put_object(Bucket=bucket, Key="dropbox/1.txt", Body=b"1")
    # multipart is s3:PutObject too
    up = wo.create_multipart_upload(Bucket=bucket, Key="dropbox/big")
    etag = wo.upload_part(Bucket=bucket, Key="dropbox/big", UploadId=up["UploadId"], PartNumber=1, Body=b"p" * 10)[
        "ETag"
    ]
    wo.complete_multipart_upload(
        Bucket=bucket,
        Key="dropbox/big",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]},
    )
    with pytest.raises(ClientError) as e:
        wo.get_object(Bucket=bucket, Key="dropbox/1.txt")
    assert code_of(e.value) == "AccessDenied"

    policy = tmp_path / "public-ro.json"
    policy.write_text(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"arn:aws:s3:::{bucket}/public/*"]},
                    {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [f"arn:aws:s3:::{bucket}"]},
                ],
            }
        )
    )
    admin(gw, "policy", "create", "public-ro", str(policy))
    assert "public-ro" in json.loads(admin(gw, "policy", "list", "--json").stdout)["policies"]
    api(gw).add_user("pub-ops", "pub-secret-1234", ["public-ro"])
    pub = client(gw, "pub-ops", "pub-secret-1234")
    assert pub.get_object(Bucket=bucket, Key="public/a.txt")["Body"].read() == b"a"
    assert len(pub.list_objects_v2(Bucket=bucket)["Contents"]) >= 2
    with pytest.raises(ClientError) as e:
        pub.get_object(Bucket=bucket, Key="private/b.txt")
    assert code_of(e.value) == "AccessDenied"
    # CopyObject needs read on the source as well as write on the destination
    api(gw).attach("pub-ops", ["writeonly"])
    pub.copy_object(Bucket=bucket, Key="copied.txt", CopySource={"Bucket": bucket, "Key": "public/a.txt"})
    with pytest.raises(ClientError) as e:
        pub.copy_object(Bucket=bucket, Key="copied2.txt", CopySource={"Bucket": bucket, "Key": "private/b.txt"})
    assert code_of(e.value) == "AccessDenied"
    # a policy with a Condition s3gw cannot evaluate is refused, with MinIO's words (tests/functional/
    # test_bucket_policy.py has the conditions that are enforced)
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:*",
                        "Resource": "*",
                        "Condition": {"IpAddress": {"aws:SourceIpp": "10.0.0.0/8"}},
                    }
                ]
            }
        )
    )
    cp = admin(gw, "policy", "create", "cond", str(bad), check=False)
    assert cp.returncode == 1 and "invalid condition key 'aws:SourceIpp'" in cp.stderr


def test_users_with_mc(gw: Server, mc: Mc, tmp_path) -> None:
    """The runbooks' own commands: mc admin user add / policy attach / disable / enable / list."""
    root = client(gw)
    bucket = new_bucket(root)
    root.put_object(Bucket=bucket, Key="seed.txt", Body=b"seed")
    mc("admin", "user", "add", "s3gw", "carol-ops", "carol-secret-123")
    mc("admin", "policy", "attach", "s3gw", "writeonly", "--user", "carol-ops")
    listed = mc("admin", "user", "list", "--json", "s3gw").stdout
    carol_row = next(json.loads(line) for line in listed.splitlines() if '"carol-ops"' in line)
    assert carol_row["userStatus"] == "enabled" and carol_row["policyName"] == "writeonly"
    mc("alias", "set", "carol", gw.url, "carol-ops", "carol-secret-123")
    src = tmp_path / "up.txt"
    src.write_bytes(b"from carol")
    mc("cp", str(src), f"carol/{bucket}/up.txt")
    assert root.get_object(Bucket=bucket, Key="up.txt")["Body"].read() == b"from carol"
    cp = mc("cat", f"carol/{bucket}/seed.txt", check=False)
    assert cp.returncode != 0 and "Insufficient permissions" in cp.stderr  # mc's words for AccessDenied
    carol = client(gw, "carol-ops", "carol-secret-123")
    with pytest.raises(ClientError) as e:
        carol.get_object(Bucket=bucket, Key="seed.txt")
    assert code_of(e.value) == "AccessDenied"

    mc("admin", "user", "disable", "s3gw", "carol-ops")
    with pytest.raises(ClientError) as e:
        carol.put_object(Bucket=bucket, Key="x.txt", Body=b"x")
    assert code_of(e.value) == "InvalidAccessKeyId"
    assert "disabled" in mc("admin", "user", "info", "s3gw", "carol-ops").stdout
    mc("admin", "user", "enable", "s3gw", "carol-ops")
    carol.put_object(Bucket=bucket, Key="x.txt", Body=b"x")
    # a user cannot administer
    cp = mc("admin", "user", "add", "carol", "eve-ops", "eve-secret-123", check=False)
    assert cp.returncode != 0 and "Access Denied" in cp.stderr
    # the same users, seen through s3gw admin
    users = json.loads(admin(gw, "user", "list", "--json").stdout)["users"]
    assert any(u["access_key"] == "carol-ops" and u["policies"] == ["writeonly"] for u in users)
    mc("admin", "policy", "detach", "s3gw", "writeonly", "--user", "carol-ops")
    with pytest.raises(ClientError) as e:
        carol.put_object(Bucket=bucket, Key="y.txt", Body=b"y")
    assert code_of(e.value) == "AccessDenied"
    mc("admin", "user", "remove", "s3gw", "carol-ops")
    # admin calls s3gw does not have answer MinIO's JSON error, not an S3 answer about a bucket "minio"
    cp = mc("admin", "tier", "ls", "s3gw", check=False)
    assert cp.returncode != 0 and "This 'admin' API is not supported by server" in cp.stderr, cp.stderr


def test_mc_admin_heal(gw: Server, mc: Mc) -> None:
    s3 = client(gw)
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="small.txt", Body=b"s")
    s3.put_object(Bucket=bucket, Key="big.bin", Body=os.urandom(200_000))
    assert "No active healing" in mc("admin", "heal", "s3gw").stdout
    out = mc("admin", "heal", "-r", "--force", "--json", f"s3gw/{bucket}").stdout
    docs = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert {d["name"] for d in docs if d.get("type") == "object"} == {f"{bucket}/small.txt", f"{bucket}/big.bin"}
    assert docs[-1]["type"] == "summary" and docs[-1]["objects_scanned"] == 2


def test_madmin_heal_options_must_be_an_object(gw: Server) -> None:
    """madmin's HealOpts is a JSON object: anything else is refused before a sequence starts
    (a list used to start one that stopped at once with a Python error as its detail)."""
    for body in (b"[]", b'"deep"', b"{"):
        r = signed_request(gw, "POST", "/minio/admin/v3/heal/", body=body)
        assert r.status == 400 and json.loads(r.body)["Code"] == "XMinioAdminConfigBadJSON", r.body
    r = signed_request(gw, "POST", "/minio/admin/v3/heal/", body=b'{"recursive": true}')
    assert r.status == 200 and json.loads(r.body)["clientToken"]


# --------------------------------------------------------------------------- maintenance


def test_maintenance_mode(gw: Server, mc: Mc) -> None:
    s3 = client(gw)
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="before.txt", Body=b"before")
    admin(gw, "maintenance", "on", "--reason", "test window")
    try:
        st = json.loads(admin(gw, "maintenance", "status", "--json").stdout)
        assert st["enabled"] is True and st["reason"] == "test window" and st["by"] == ACCESS_KEY
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=bucket, Key="during.txt", Body=b"x")
        err = e.value.response
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 503 and err["Error"]["Code"] == "ServiceUnavailable"
        assert "maintenance mode" in err["Error"]["Message"]
        assert err["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "30"
        for call in (
            lambda: s3.delete_object(Bucket=bucket, Key="before.txt"),
            lambda: s3.create_bucket(Bucket=f"ops-m-{uuid.uuid4().hex[:6]}"),
        ):
            with pytest.raises(ClientError) as e:
                call()
            assert code_of(e.value) == "ServiceUnavailable"
        # reads are served
        assert s3.get_object(Bucket=bucket, Key="before.txt")["Body"].read() == b"before"
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["before.txt"]
        # health reports it, readiness stays (reads must keep being routed here)
        status, headers, body = http(gw, "/health/ready")
        assert status == 200 and json.loads(body)["maintenance"] is True and headers["x-s3gw-maintenance"] == "on"
        assert http(gw, "/minio/health/cluster")[0] == 412
        assert http(gw, "/minio/health/cluster/read")[0] == 200
        assert scrape(gw)["s3gw_maintenance_mode"] == 1
        # mc ready polls until healthy: read its first report, then stop it
        proc = subprocess.Popen(
            [mc.binary, "--config-dir", mc.config_dir, "ready", "--json", "s3gw"], stdout=subprocess.PIPE, text=True
        )
        try:
            first = json.loads(proc.stdout.readline())
        finally:
            proc.kill()
            proc.wait()
        assert first["maintenanceMode"] is True and first["healthy"] is False
    finally:
        admin(gw, "maintenance", "off")
    s3.put_object(Bucket=bucket, Key="after.txt", Body=b"after")
    assert http(gw, "/minio/health/cluster")[0] == 200
    assert json.loads(admin(gw, "maintenance", "status", "--json").stdout)["enabled"] is False


# --------------------------------------------------------------------------- manifest, backup, restore, logs


def test_export_manifest(gw: Server, tmp_path) -> None:
    s3 = client(gw)
    bucket = new_bucket(s3)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    small = s3.put_object(Bucket=bucket, Key="small.txt", Body=b"tiny")
    big_body = os.urandom(300_000)
    big = s3.put_object(Bucket=bucket, Key="dir/big.bin", Body=big_body)
    up = s3.create_multipart_upload(Bucket=bucket, Key="multi.bin")
    parts = []
    for n in (1, 2):
        r = s3.upload_part(
            Bucket=bucket,
            Key="multi.bin",
            UploadId=up["UploadId"],
            PartNumber=n,
            Body=os.urandom(5 * 1024 * 1024 if n == 1 else 1000),
        )
        parts.append({"ETag": r["ETag"], "PartNumber": n})
    s3.complete_multipart_upload(
        Bucket=bucket, Key="multi.bin", UploadId=up["UploadId"], MultipartUpload={"Parts": parts}
    )
    dm = s3.delete_object(Bucket=bucket, Key="small.txt")
    out = tmp_path / "manifest.jsonl"
    doc = json.loads(admin(gw, "export-manifest", "--bucket", bucket, "--output", str(out), "--json").stdout)
    assert doc["versions"] == 4 and doc["objects"] == 2 and doc["lines"] == 4
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    by = {(x["key"], x["version_id"]): x for x in lines}
    assert set(by) == {
        ("small.txt", small["VersionId"]),
        ("small.txt", dm["VersionId"]),
        ("dir/big.bin", big["VersionId"]),
        ("multi.bin", s3.head_object(Bucket=bucket, Key="multi.bin")["VersionId"]),
    }
    s = by[("small.txt", small["VersionId"])]
    assert s["storage"] == "inline" and s["size"] == 4 and s["etag"] == hashlib.md5(b"tiny").hexdigest()
    assert s["is_latest"] is False and s["placement"] == []
    assert by[("small.txt", dm["VersionId"])]["delete_marker"] is True
    b = by[("dir/big.bin", big["VersionId"])]
    assert b["storage"] == "erasure" and b["size"] == len(big_body) and b["etag"] == hashlib.md5(big_body).hexdigest()
    (shard_set,) = b["placement"]
    assert shard_set["k"] == 6 and shard_set["m"] == 3 and len(shard_set["shards"]) == 9
    assert len(set(shard_set["shards"])) == 9 and shard_set["data_id"]
    m = next(x for x in lines if x["key"] == "multi.bin")
    assert m["storage"] == "multipart" and [p["part"] for p in m["placement"]] == [1, 2]
    assert m["etag"].endswith("-2") and m["size"] == 5 * 1024 * 1024 + 1000
    # to stdout, everything
    everything = admin(gw, "export-manifest").stdout.splitlines()
    assert len(everything) >= 4 and all(json.loads(x)["bucket"] for x in everything)


def test_backup_and_restore(gw: Server, tmp_path) -> None:
    s3 = client(gw)
    bucket = new_bucket(s3)
    bodies = {"a.txt": b"alpha", "big/b.bin": os.urandom(400_000), "c/d/e.txt": b"echo"}
    for k, v in bodies.items():
        s3.put_object(Bucket=bucket, Key=k, Body=v)
    api(gw).add_user("restored-user", "restored-secret-1", ["readonly"])
    backup = tmp_path / "meta.backup"
    doc = json.loads(admin(gw, "backup", "--output", str(backup), "--json").stdout)
    assert doc["format"] == "sqlite" and doc["bytes"] == backup.stat().st_size > 0
    s3.put_object(Bucket=bucket, Key="after-backup.txt", Body=b"lost")  # not in the backup

    # a new data directory: the drives as they are (the shards survive), the metadata from the backup
    new = tmp_path / "restored"
    for d in range(1, 10):
        shutil.copytree(os.path.join(gw.data, f"drive{d}"), new / f"drive{d}")
    doc = json.loads(admin(gw, "restore", str(backup), "--data", str(new), "--json").stdout)
    assert doc["output"] == str(new / "meta" / "s3gw.db")
    cp = admin(gw, "restore", str(backup), "--data", str(new), check=False)
    assert cp.returncode == 2 and "--force" in cp.stderr
    srv = start_server(str(new))
    try:
        s3b = client(srv)
        keys = [o["Key"] for o in s3b.list_objects_v2(Bucket=bucket)["Contents"]]
        assert keys == sorted(bodies)
        for k, v in bodies.items():
            assert s3b.get_object(Bucket=bucket, Key=k)["Body"].read() == v
        # users came back too, keys working
        ro = client(srv, "restored-user", "restored-secret-1")
        assert ro.get_object(Bucket=bucket, Key="a.txt")["Body"].read() == b"alpha"
        s3b.put_object(Bucket=bucket, Key="new.txt", Body=b"writable")
    finally:
        srv.stop()
    bad = tmp_path / "not-a-backup"
    bad.write_bytes(b"hello")
    cp = admin(gw, "restore", str(bad), "--data", str(tmp_path / "x"), check=False)
    assert cp.returncode == 2


def test_access_and_audit_logs(gw: Server) -> None:
    s3 = client(gw)
    bucket = new_bucket(s3)
    rid = s3.put_object(Bucket=bucket, Key="logged.txt", Body=b"12345")["ResponseMetadata"]["RequestId"]
    s3.get_object(Bucket=bucket, Key="logged.txt")["Body"].read()
    api(gw).add_user("audited-ops", "audited-secret-1")
    log = os.path.join(gw.data, f"server-{gw.port}.log")

    def logged():
        lines = [json.loads(x) for x in open(log, encoding="utf-8", errors="replace") if x.startswith("{")]
        access = [x for x in lines if "method" in x and x.get("request_id") == rid]
        audit = [x for x in lines if "action" in x and x.get("request_id") == rid]
        created = [x for x in lines if x.get("action") == "admin:CreateUser" and x.get("target") == "audited-ops"]
        return lines, access, audit, created

    lines, access, audit, created = wait_until(
        logged, "the access and audit lines of the PUT and the CreateUser", until=lambda got: all(got[1:])
    )
    (a,) = access
    assert a["operation"] == "PutObject" and a["bucket"] == bucket and a["key"] == "logged.txt"
    assert a["status"] == 200 and a["bytes_in"] == 5 and a["access_key"] == ACCESS_KEY and a["duration_ms"] >= 0
    (au,) = audit
    assert au["action"] == "PutObject" and au["status"] == 200 and au["key"] == "logged.txt"
    gets = [x for x in lines if x.get("operation") == "GetObject" and x.get("key") == "logged.txt"]
    assert gets and gets[-1]["bytes_out"] == 5
    assert not any(x.get("action") == "GetObject" for x in lines)  # reads are not audited
    assert created and created[-1]["status"] == 200 and created[-1]["access_key"] == ACCESS_KEY
    assert not any("audited-secret-1" in json.dumps(x) for x in lines)  # secrets never logged

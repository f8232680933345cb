"""Bucket notifications against real processes: a gateway configured with a webhook target
(a small aiohttp receiver this module starts on 127.0.0.1), a Redis target (the tests'
real Redis) and a PostgreSQL target (the tests' real PostgreSQL).

What a user sees: the configuration round trip and MinIO's validation errors; the event
records of PUT, copy, multipart and delete arriving at the receiver; prefix/suffix filters;
nothing lost while the receiver is down; ``mc event add|ls|rm``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aiohttp import web
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import ACCESS_KEY, SECRET_KEY, PgServer, RedisServer, Server, free_port, start_server
from tests.waiting import wait_until

TOKEN = "notify-test-token"
WEBHOOK_ARN = "arn:minio:sqs::1:webhook"
REDIS_ARN = "arn:minio:sqs::R:redis"
PG_ARN = "arn:minio:sqs::P:postgresql"


class Receiver:
    """A webhook endpoint: records every event POSTed to /events, in a thread of its own;
    ``stop()`` closes its port (the target is down), ``start()`` opens it again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.events: list[dict[str, Any]] = []
        self.auth: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.auth.append(request.headers.get("Authorization", ""))
        self.events.append(await request.json())
        return web.Response(status=200)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/events", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self) -> None:
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(30)

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def of(self, bucket: str) -> list[dict[str, Any]]:
        """The records received for ``bucket``, in arrival order."""
        return [r for e in list(self.events) for r in e["Records"] if r["s3"]["bucket"]["name"] == bucket]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.close()


@pytest.fixture(scope="module")
def pg_db(postgres: PgServer) -> str:
    return postgres.new_database("notify")


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory,
    receiver: Receiver,
    redis_server: RedisServer,
    postgres: PgServer,
    pg_db: str,
) -> Iterator[Server]:
    env = {
        "MINIO_NOTIFY_WEBHOOK_ENABLE_1": "on",
        "MINIO_NOTIFY_WEBHOOK_ENDPOINT_1": f"http://127.0.0.1:{receiver.port}/events",
        "MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_1": TOKEN,
        "S3GW_NOTIFY_REDIS_ENABLE_R": "on",
        "S3GW_NOTIFY_REDIS_ADDRESS_R": redis_server.endpoint,
        "S3GW_NOTIFY_REDIS_KEY_R": "bucketevents",
        "S3GW_NOTIFY_REDIS_FORMAT_R": "access",
        "S3GW_NOTIFY_REDIS_PASSWORD_R": redis_server.password,
        "MINIO_NOTIFY_POSTGRES_ENABLE_P": "on",
        "MINIO_NOTIFY_POSTGRES_CONNECTION_STRING_P": postgres.dsn(pg_db),
        "MINIO_NOTIFY_POSTGRES_TABLE_P": "bucketevents",
        "MINIO_NOTIFY_POSTGRES_FORMAT_P": "access",
        # retries come quickly here (the default backoff starts at 1 s and doubles to 5 min)
        "S3GW_NOTIFY_RETRY_INTERVAL": "0.2",
        "S3GW_NOTIFY_RETRY_MAX": "1",
        "MINIO_PROMETHEUS_AUTH_TYPE": "public",  # the outbox metrics, read by the tests
    }
    srv = start_server(str(tmp_path_factory.mktemp("notify")), env=env)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def s3(gw: Server) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=gw.url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"ev-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def queue(arn: str, events: list[str], prefix: str | None = None, suffix: str | None = None, id_: str = "q1") -> dict:
    q: dict[str, Any] = {"Id": id_, "QueueArn": arn, "Events": events}
    rules = [{"Name": n, "Value": v} for n, v in (("prefix", prefix), ("suffix", suffix)) if v is not None]
    if rules:
        q["Filter"] = {"Key": {"FilterRules": rules}}
    return q


def configure(s3: Any, bucket: str, *queues: dict) -> None:
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": list(queues)}
    )


def error_of(call: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as ei:
        call()
    e = ei.value.response
    return e["Error"]["Code"], e["Error"].get("Message", ""), e["ResponseMetadata"]["HTTPStatusCode"]


# --------------------------------------------------------------------------- configuration


def test_an_empty_configuration_is_answered_and_round_trips(s3: Any, bucket: str) -> None:
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert not got.get("QueueConfigurations")
    configure(
        s3,
        bucket,
        queue(WEBHOOK_ARN, ["s3:ObjectCreated:*"], prefix="photos/", suffix=".jpg", id_="one"),
        queue(REDIS_ARN, ["s3:ObjectRemoved:Delete", "s3:ObjectCreated:Put"], id_="two"),
    )
    got = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert [q["Id"] for q in got] == ["one", "two"]
    # the ARN comes back with the server's region, as MinIO writes it
    assert got[0]["QueueArn"] == "arn:minio:sqs:us-east-1:1:webhook"
    assert got[0]["Events"] == ["s3:ObjectCreated:*"]
    assert got[0]["Filter"]["Key"]["FilterRules"] == [
        {"Name": "prefix", "Value": "photos/"},
        {"Name": "suffix", "Value": ".jpg"},
    ]
    assert got[1]["Events"] == ["s3:ObjectRemoved:Delete", "s3:ObjectCreated:Put"]
    # no queue configuration removes it
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    assert not s3.get_bucket_notification_configuration(Bucket=bucket).get("QueueConfigurations")


def test_validation_errors_are_minios(s3: Any, bucket: str) -> None:
    put = s3.put_bucket_notification_configuration
    # a target nobody configured
    code, msg, status = error_of(
        lambda: configure(s3, bucket, queue("arn:minio:sqs::nope:webhook", ["s3:ObjectCreated:*"]))
    )
    assert (code, status) == ("InvalidArgument", 400)
    assert msg.startswith("A specified destination ARN does not exist or is not well-formed")
    # not an ARN at all
    code, msg, _ = error_of(lambda: configure(s3, bucket, queue("arn:aws:sqs:us-east-1:1:q", ["s3:ObjectCreated:*"])))
    assert code == "InvalidArgument" and "destination ARN" in msg
    # another region
    code, msg, _ = error_of(
        lambda: configure(s3, bucket, queue("arn:minio:sqs:eu-west-1:1:webhook", ["s3:ObjectCreated:*"]))
    )
    assert code == "InvalidArgument" and "different region" in msg
    # an event that does not exist
    code, msg, _ = error_of(lambda: configure(s3, bucket, queue(WEBHOOK_ARN, ["s3:ObjectCreated:Everything"])))
    assert (code, msg) == ("InvalidArgument", "A specified event is not supported for notifications.")
    # one event twice in a rule
    code, msg, _ = error_of(
        lambda: configure(s3, bucket, queue(WEBHOOK_ARN, ["s3:ObjectCreated:Put", "s3:ObjectCreated:Put"]))
    )
    assert code == "InvalidArgument" and "Configurations overlap" in msg
    # the same rule twice
    q = queue(WEBHOOK_ARN, ["s3:ObjectCreated:Put"], prefix="a/")
    code, msg, _ = error_of(lambda: configure(s3, bucket, q, q))
    assert code == "InvalidArgument" and "overlapping prefixes" in msg
    # two prefixes in one filter; a filter rule that is neither prefix nor suffix
    two = {
        **q,
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "a"}, {"Name": "prefix", "Value": "b"}]}},
    }
    assert error_of(lambda: configure(s3, bucket, two))[:2] == (
        "InvalidArgument",
        "Cannot specify more than one prefix rule in a filter.",
    )
    odd = {**q, "Filter": {"Key": {"FilterRules": [{"Name": "middle", "Value": "a"}]}}}
    assert error_of(lambda: configure(s3, bucket, odd))[:2] == (
        "InvalidArgument",
        "filter rule name must be either prefix or suffix",
    )
    # topics and cloud functions: MinIO supports neither
    code, _, status = error_of(
        lambda: put(
            Bucket=bucket,
            NotificationConfiguration={
                "TopicConfigurations": [{"TopicArn": "arn:minio:sns::1:webhook", "Events": ["s3:ObjectCreated:*"]}]
            },
        )
    )
    assert (code, status) == ("UnsupportedNotification", 400)
    # nothing was stored by any of them
    assert not s3.get_bucket_notification_configuration(Bucket=bucket).get("QueueConfigurations")
    # no such bucket
    assert error_of(lambda: s3.get_bucket_notification_configuration(Bucket=f"{bucket}-none"))[0] == "NoSuchBucket"
    assert (
        error_of(lambda: configure(s3, f"{bucket}-none", queue(WEBHOOK_ARN, ["s3:ObjectCreated:*"])))[0]
        == "NoSuchBucket"
    )


# --------------------------------------------------------------------------- delivery


def wait_records(receiver: Receiver, bucket: str, n: int, what: str) -> list[dict[str, Any]]:
    return wait_until(lambda: (lambda rs: rs if len(rs) >= n else None)(receiver.of(bucket)), what)


def test_webhook_receives_put_copy_multipart_and_delete(s3: Any, bucket: str, receiver: Receiver) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    configure(s3, bucket, queue(WEBHOOK_ARN, ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]))
    put = s3.put_object(Bucket=bucket, Key="dir/a b.txt", Body=b"hello", ContentType="text/plain")
    s3.copy_object(Bucket=bucket, Key="copy.txt", CopySource={"Bucket": bucket, "Key": "dir/a b.txt"})
    up = s3.create_multipart_upload(Bucket=bucket, Key="big.bin")
    part = s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=up["UploadId"], PartNumber=1, Body=b"x" * 1000)
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="big.bin",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    marker = s3.delete_object(Bucket=bucket, Key="copy.txt")
    s3.delete_object(Bucket=bucket, Key="big.bin", VersionId=s3.head_object(Bucket=bucket, Key="big.bin")["VersionId"])
    records = wait_records(receiver, bucket, 5, "five events at the webhook")
    by_name = {r["eventName"]: r for r in records}
    assert set(by_name) == {
        "s3:ObjectCreated:Put",
        "s3:ObjectCreated:Copy",
        "s3:ObjectCreated:CompleteMultipartUpload",
        "s3:ObjectRemoved:DeleteMarkerCreated",
        "s3:ObjectRemoved:Delete",
    }
    r = by_name["s3:ObjectCreated:Put"]
    assert r["eventVersion"] == "2.0" and r["eventSource"] == "minio:s3" and r["awsRegion"] == "us-east-1"
    assert r["s3"]["bucket"] == {
        "name": bucket,
        "ownerIdentity": {"principalId": ACCESS_KEY},
        "arn": f"arn:aws:s3:::{bucket}",
    }
    obj = r["s3"]["object"]
    assert obj["key"] == "dir%2Fa+b.txt"  # URL-encoded, as MinIO's url.QueryEscape
    assert urllib.parse.unquote_plus(obj["key"]) == "dir/a b.txt"
    assert obj["size"] == 5 and obj["eTag"] == put["ETag"].strip('"') and obj["contentType"] == "text/plain"
    assert obj["versionId"] == put["VersionId"] and obj["sequencer"]
    assert r["userIdentity"] == {"principalId": ACCESS_KEY}
    assert r["requestParameters"]["sourceIPAddress"] == "127.0.0.1"
    assert r["responseElements"]["x-amz-request-id"]
    assert by_name["s3:ObjectCreated:CompleteMultipartUpload"]["s3"]["object"]["size"] == 1000
    assert by_name["s3:ObjectRemoved:DeleteMarkerCreated"]["s3"]["object"]["versionId"] == marker["VersionId"]
    assert by_name["s3:ObjectRemoved:Delete"]["s3"]["object"]["key"] == "big.bin"
    # the webhook log entry's own fields, and the token as a bearer token
    entry = next(e for e in receiver.events if e["Records"][0]["s3"]["bucket"]["name"] == bucket)
    assert entry["Key"].startswith(bucket + "/") and entry["EventName"] == entry["Records"][0]["eventName"]
    assert f"Bearer {TOKEN}" in receiver.auth


def test_delete_objects_sends_one_event_per_key(s3: Any, bucket: str, receiver: Receiver) -> None:
    configure(s3, bucket, queue(WEBHOOK_ARN, ["s3:ObjectRemoved:*"]))
    for k in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"1")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in ("a", "b", "c")]})
    records = wait_records(receiver, bucket, 3, "three removal events")
    assert sorted(r["s3"]["object"]["key"] for r in records) == ["a", "b", "c"]
    assert {r["eventName"] for r in records} == {"s3:ObjectRemoved:Delete"}  # unversioned: no markers


def metric(gw: Server, name: str) -> float:
    with urllib.request.urlopen(gw.url + "/metrics", timeout=30) as r:
        text = r.read().decode()
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_prefix_and_suffix_filters(gw: Server, s3: Any, bucket: str, receiver: Receiver) -> None:
    configure(s3, bucket, queue(WEBHOOK_ARN, ["s3:ObjectCreated:Put"], prefix="images/", suffix=".jpg"))
    for key in ("images/a.png", "docs/b.jpg", "images/c.jpg", "x.jpg"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"1")
    s3.delete_object(Bucket=bucket, Key="images/c.jpg")  # a removal: not configured
    records = wait_records(receiver, bucket, 1, "the matching key's event")
    # the others were never queued (matching happens in the write's transaction): once the
    # outbox is empty, nothing more can come
    wait_until(lambda: metric(gw, "s3gw_notify_events_pending") == 0, "an empty outbox")
    assert [r["s3"]["object"]["key"] for r in receiver.of(bucket)] == ["images%2Fc.jpg"]
    assert records[0]["eventName"] == "s3:ObjectCreated:Put"


def test_nothing_is_lost_while_the_receiver_is_down(gw: Server, s3: Any, bucket: str, receiver: Receiver) -> None:
    configure(s3, bucket, queue(WEBHOOK_ARN, ["s3:ObjectCreated:*"]))
    failures = metric(gw, "s3gw_notify_send_failures_total")
    receiver.stop()
    try:
        keys = [f"k{i}" for i in range(6)]
        for k in keys:
            s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
        # the sender tries, fails, and keeps the events for later
        wait_until(lambda: metric(gw, "s3gw_notify_send_failures_total") > failures, "failed deliveries")
        assert metric(gw, "s3gw_notify_events_pending") >= 1
    finally:
        receiver.start()
    records = wait_records(receiver, bucket, len(keys), "every event once the receiver is back")
    assert sorted({r["s3"]["object"]["key"] for r in records}) == keys
    wait_until(lambda: metric(gw, "s3gw_notify_events_pending") == 0, "an empty outbox")
    assert metric(gw, "s3gw_notify_events_dead") == 0


def test_redis_target_gets_access_format_records(s3: Any, bucket: str, redis_server: RedisServer) -> None:
    configure(s3, bucket, queue(REDIS_ARN, ["s3:ObjectCreated:*"]))
    s3.put_object(Bucket=bucket, Key="to-redis", Body=b"abc")

    def found() -> dict | None:
        for raw in redis_server.command("LRANGE", "bucketevents", "0", "-1").decode().splitlines():
            if bucket not in raw or not raw.startswith("["):
                continue
            entry = json.loads(raw)[0]
            return entry
        return None

    entry = wait_until(found, "the event in the Redis list")
    rec = entry["Event"][0]
    assert rec["eventName"] == "s3:ObjectCreated:Put" and rec["s3"]["object"]["key"] == "to-redis"
    assert rec["s3"]["object"]["size"] == 3 and entry["EventTime"] == rec["eventTime"]


def test_postgres_target_gets_access_format_rows(s3: Any, bucket: str, postgres: PgServer, pg_db: str) -> None:
    configure(s3, bucket, queue(PG_ARN, ["s3:ObjectCreated:*"]))
    s3.put_object(Bucket=bucket, Key="to-pg", Body=b"abcd")

    def rows() -> str | None:
        try:
            out = postgres.psql(
                f"SELECT event_data FROM bucketevents WHERE event_data->'Records'->0->'s3'->'bucket'->>'name' = '{bucket}'",
                pg_db,
            )
        except subprocess.CalledProcessError:  # the table is created on the first delivery
            return None
        return out.strip() or None

    data = json.loads(wait_until(rows, "the event row in PostgreSQL").splitlines()[0])
    rec = data["Records"][0]
    assert rec["eventName"] == "s3:ObjectCreated:Put" and rec["s3"]["object"]["key"] == "to-pg"


# --------------------------------------------------------------------------- mc


def test_mc_event_add_ls_rm(gw: Server, mc_bin: str, bucket: str, receiver: Receiver, tmp_path: Any) -> None:
    def mc(*args: str) -> subprocess.CompletedProcess:
        cp = subprocess.run(
            [mc_bin, "--config-dir", str(tmp_path), "--no-color", *args], capture_output=True, text=True, timeout=60
        )
        assert cp.returncode == 0, f"mc {' '.join(args)}: {cp.stdout}\n{cp.stderr}"
        return cp

    mc("alias", "set", "gw", gw.url, ACCESS_KEY, SECRET_KEY)
    mc("event", "add", f"gw/{bucket}", WEBHOOK_ARN, "--event", "put,delete", "--prefix", "in/", "--suffix", ".txt")
    listed = mc("event", "ls", f"gw/{bucket}").stdout
    assert "arn:minio:sqs:us-east-1:1:webhook" in listed and "in/" in listed and ".txt" in listed
    mc("cp", "--quiet", __file__, f"gw/{bucket}/in/file.txt")
    records = wait_records(receiver, bucket, 1, "the event of mc cp")
    assert records[0]["eventName"] == "s3:ObjectCreated:Put"
    # an ARN nobody configured is refused
    cp = subprocess.run(
        [
            mc_bin,
            "--config-dir",
            str(tmp_path),
            "--no-color",
            "event",
            "add",
            f"gw/{bucket}",
            "arn:minio:sqs::9:webhook",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cp.returncode != 0 and "ARN" in cp.stdout + cp.stderr
    mc("event", "rm", f"gw/{bucket}", "--force")
    assert "arn:minio:sqs" not in mc("event", "ls", f"gw/{bucket}").stdout
    # mc admin info's notification targets (ServerInfo's sqsARN)
    info = json.loads(mc("--json", "admin", "info", "gw").stdout)
    arns = info.get("info", info).get("sqsARN", [])
    assert "arn:minio:sqs:us-east-1:1:webhook" in arns and "arn:minio:sqs:us-east-1:R:redis" in arns


def test_queued_events_survive_a_gateway_crash(tmp_path: Any) -> None:
    """Events queued while the target is down are in the metadata store, not in the gateway:
    a gateway killed (SIGKILL) before delivering them delivers them after its restart."""
    rcv = Receiver()  # not listening yet: the target is down
    env = {
        "MINIO_NOTIFY_WEBHOOK_ENABLE": "on",  # MinIO's default target, id "_"
        "MINIO_NOTIFY_WEBHOOK_ENDPOINT": f"http://127.0.0.1:{rcv.port}/events",
        "S3GW_NOTIFY_RETRY_INTERVAL": "0.2",
        "S3GW_NOTIFY_RETRY_MAX": "1",
        "MINIO_PROMETHEUS_AUTH_TYPE": "public",
    }
    data = str(tmp_path)
    srv = start_server(data, env=env)
    try:
        client = boto3.client(
            "s3",
            endpoint_url=srv.url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}),
        )
        client.create_bucket(Bucket="crash")
        configure(client, "crash", queue("arn:minio:sqs::_:webhook", ["s3:ObjectCreated:*"]))
        for i in range(3):
            client.put_object(Bucket="crash", Key=f"k{i}", Body=b"x")
        wait_until(lambda: metric(srv, "s3gw_notify_send_failures_total") > 0, "failed deliveries")
        srv.proc.kill()
        srv.proc.wait()
        rcv.start()
        srv = start_server(data, env=env)
        records = wait_records(rcv, "crash", 3, "the events queued before the crash")
        assert sorted({r["s3"]["object"]["key"] for r in records}) == ["k0", "k1", "k2"]
    finally:
        srv.stop()
        rcv.close()

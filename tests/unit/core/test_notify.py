"""Bucket notifications (s3gw/core/notify.py): MinIO's configuration rules, the event record's
shape, and the outbox sender over a real SQLite store (retries, backoff, dead letters)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from s3gw.core import errors as E
from s3gw.core.notify import (
    REQUEST,
    Events,
    EventSource,
    NotifyConfig,
    UnsupportedNotification,
    event_log,
    parse_config,
)
from s3gw.meta.model import BucketRecord, VersionRecord
from s3gw.meta.sqlite import SqliteMeta
from tests.waiting import async_wait_until

KNOWN = {"1:webhook", "_:redis"}


def q(
    arn: str = "arn:minio:sqs::1:webhook", events: Any = "s3:ObjectCreated:*", rules: Any = None, id_: str = ""
) -> dict:
    d: dict[str, Any] = {"Id": id_, "Queue": arn, "Event": events}
    if rules is not None:
        d["Filter"] = {"S3Key": {"FilterRule": rules}}
    return d


def parse(*queues: dict, **extra: Any) -> NotifyConfig:
    return parse_config({"QueueConfiguration": list(queues), **extra}, "us-east-1", KNOWN)


def test_rules_match_events_and_keys() -> None:
    cfg = parse(
        q(
            events=["s3:ObjectCreated:*"],
            rules=[{"Name": "prefix", "Value": "img/"}, {"Name": "suffix", "Value": ".jpg"}],
        ),
        q("arn:minio:sqs:us-east-1:_:redis", events="s3:ObjectRemoved:Delete"),
    )
    assert cfg.targets("s3:ObjectCreated:Copy", "img/a.jpg") == {"1:webhook"}
    assert cfg.targets("s3:ObjectCreated:Put", "img/a.png") == set()
    assert cfg.targets("s3:ObjectRemoved:Delete", "x") == {"_:redis"}
    assert cfg.targets("s3:ObjectRemoved:DeleteMarkerCreated", "x") == set()
    assert NotifyConfig.from_json(cfg.to_json()) == cfg  # what the store keeps


@pytest.mark.parametrize(
    ("doc", "error", "message"),
    [
        ({"QueueConfiguration": [q("arn:minio:sqs::9:webhook")]}, E.InvalidArgument, "destination ARN does not exist"),
        ({"QueueConfiguration": [q("arn:minio:sqs::1")]}, E.InvalidArgument, "destination ARN"),
        ({"QueueConfiguration": [q("arn:minio:sqs:eu-west-1:1:webhook")]}, E.InvalidArgument, "different region"),
        ({"QueueConfiguration": [q(events="s3:Nothing")]}, E.InvalidArgument, "event is not supported"),
        ({"QueueConfiguration": [q(events=None)]}, E.MalformedXML, ""),
        ({"QueueConfiguration": [q(events=["s3:ObjectCreated:Put"] * 2)]}, E.InvalidArgument, "Configurations overlap"),
        ({"QueueConfiguration": [q(), q()]}, E.InvalidArgument, "overlapping prefixes"),
        (
            {"QueueConfiguration": [q(rules=[{"Name": "suffix", "Value": "a"}, {"Name": "suffix", "Value": "b"}])]},
            E.InvalidArgument,
            "more than one suffix",
        ),
        ({"QueueConfiguration": [q(rules={"Name": "Prefix", "Value": "a"})]}, E.InvalidArgument, "prefix or suffix"),
        ({"QueueConfiguration": [q(rules={"Name": "prefix", "Value": "a/../b"})]}, E.InvalidArgument, "1024 bytes"),
        ({"TopicConfiguration": {"Topic": "arn:minio:sns::1:webhook"}}, UnsupportedNotification, ""),
        ({"QueueConfiguration": "text"}, E.MalformedXML, ""),
    ],
)
def test_invalid_configurations_are_refused_as_minio_does(doc: dict, error: type, message: str) -> None:
    with pytest.raises(error) as ei:
        parse_config(doc, "us-east-1", KNOWN)
    assert message in str(ei.value)


def test_an_empty_document_is_no_configuration() -> None:
    assert parse_config({}, "us-east-1", KNOWN).rules == []


def test_the_event_record_has_minios_shape() -> None:
    rec = VersionRecord(bucket="b", key="a dir/ü+x", version_id="v1", size=3, etag="abc", mtime=1.0)
    src = EventSource("CopyObject", "ak", "10.0.0.1", "10.0.0.1", "5555", "curl", "req1")
    entry = event_log(rec, "s3:ObjectCreated:Copy", src, region="r1", deployment_id="d", endpoint="e", now=2.5)
    assert entry["EventName"] == "s3:ObjectCreated:Copy" and entry["Key"] == "b/a dir/ü+x"
    r = entry["Records"][0]
    assert (r["eventVersion"], r["eventSource"], r["awsRegion"]) == ("2.0", "minio:s3", "r1")
    assert r["eventTime"] == "1970-01-01T00:00:02.500Z"
    assert r["s3"]["object"]["key"] == "a+dir%2F%C3%BC%2Bx"
    assert r["s3"]["object"]["versionId"] == "v1" and r["s3"]["object"]["eTag"] == "abc"
    assert r["s3"]["bucket"]["arn"] == "arn:aws:s3:::b"
    assert r["requestParameters"]["sourceIPAddress"] == "10.0.0.1" and r["source"]["port"] == "5555"
    gone = event_log(
        VersionRecord(bucket="b", key="k"),
        "s3:ObjectRemoved:Delete",
        src,
        region="",
        deployment_id="",
        endpoint="",
        now=1,
    )
    assert "size" not in gone["Records"][0]["s3"]["object"]  # removals carry no size, ETag, or null version


def received(hook: Flaky, n: int) -> Any:
    async def pred() -> bool:
        return len(hook.got) == n

    return pred


class Flaky:
    """An external endpoint that refuses the first ``fail`` events it is sent."""

    def __init__(self, target_id: str, fail: int) -> None:
        self.target_id, self.fail = target_id, fail
        self.got: list[dict[str, Any]] = []

    async def send(self, entry: dict[str, Any]) -> None:
        if self.fail > 0:
            self.fail -= 1
            raise ConnectionRefusedError("endpoint down")
        self.got.append(entry)

    async def close(self) -> None:
        pass


@pytest.fixture
async def meta(tmp_path):
    m = SqliteMeta(str(tmp_path / "meta.db"))
    await m.open()
    await m.create_bucket(BucketRecord("b", 1.0))
    yield m
    await m.close()


async def _write(meta: SqliteMeta, events: Events, key: str) -> None:
    token = REQUEST.set(EventSource("PutObject", principal="ak"))
    try:
        rec = VersionRecord(bucket="b", key=key, mtime=time.time(), size=1, etag="e")
        rec.event = events.note()
        await meta.put_version(rec)
    finally:
        REQUEST.reset(token)


async def test_the_sender_retries_with_backoff_then_delivers(meta: SqliteMeta) -> None:
    hook = Flaky("1:webhook", fail=3)
    events = Events(meta, {"1:webhook": hook}, retry_base=0.01, retry_max=0.05, max_attempts=10, poll=0.02)
    await events.set_config("b", {"QueueConfiguration": q()})
    await _write(meta, events, "k1")
    task = asyncio.create_task(events.run())
    try:
        await async_wait_until(received(hook, 1), "the event after three refusals", timeout=30)

        # the target has it; the sender counts the delivery when the outbox row is done
        async def settled() -> bool:
            st = await events.status()
            return bool(st["pending"] == 0 and st["delivered"] == 1)

        await async_wait_until(settled, "the delivery recorded", timeout=30)
    finally:
        task.cancel()
    assert hook.got[0]["Records"][0]["eventName"] == "s3:ObjectCreated:Put"
    assert hook.got[0]["Records"][0]["userIdentity"] == {"principalId": "ak"}
    st = await events.status()
    assert (st["pending"], st["dead"], st["delivered"], st["failures"]) == (0, 0, 1, 3)


async def test_after_max_attempts_an_event_is_dead_and_counted(meta: SqliteMeta) -> None:
    hook = Flaky("1:webhook", fail=1000)
    events = Events(meta, {"1:webhook": hook}, retry_base=0.01, retry_max=0.02, max_attempts=3, poll=0.02)
    await events.set_config("b", {"QueueConfiguration": q()})
    await _write(meta, events, "k1")
    task = asyncio.create_task(events.run())
    try:

        async def dead() -> bool:
            return (await events.status())["dead"] == 1

        await async_wait_until(dead, "a dead event", timeout=30)
    finally:
        task.cancel()
    assert hook.fail == 1000 - 3 and not hook.got
    # the operator brings it back (s3gw's admin path): delivered once the target works
    hook.fail = 0
    assert await meta.retry_dead_outbox() == 1
    task = asyncio.create_task(events.run())
    try:
        await async_wait_until(received(hook, 1), "the revived event", timeout=30)
    finally:
        task.cancel()


async def test_a_target_no_longer_configured_is_left_out(meta: SqliteMeta) -> None:
    events = Events(meta, {"1:webhook": Flaky("1:webhook", 0)})
    await events.set_config("b", {"QueueConfiguration": q()})
    fewer = Events(meta, {"_:redis": Flaky("_:redis", 0)})
    assert (await fewer.get_config("b"))[0] == []
    assert json.loads((await meta.get_bucket_notification("b")) or "{}")["queues"]  # still stored

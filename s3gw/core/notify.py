"""Bucket notifications: the configuration (MinIO's rules), the event records, and the sender.

docs/data-management.md "Bucket notifications" has the whole picture. In short:

* ``parse_config`` validates a PutBucketNotificationConfiguration document (as the API
  parsed it) the way MinIO does (internal/event/config.go): queue configurations only
  (Topic / CloudFunction are ``UnsupportedNotification``), each with its events, an
  optional prefix/suffix filter and the ARN of a target the operator configured
  (``arn:minio:sqs:REGION:ID:TYPE``; an unknown one is InvalidArgument).
* Every write that makes or removes a version carries a hook (``Events.note``) that the
  metadata store runs inside the write's own transaction when the bucket has a
  configuration: it matches the rules and returns the outbox rows, so an event is queued
  exactly when its change commits (meta/outbox.py).
* ``Notifier`` delivers the outbox: due rows, bounded concurrency, retries with
  exponential backoff, and after ``max_attempts`` the row stays as dead (counted).
  Delivery is at least once: a gateway that dies between sending and deleting a row
  sends it again once its lease runs out.

The request that caused a change (operation, caller, source address) reaches the hook
through ``REQUEST``, a context variable the API sets once a request is authorised.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime
import functools
import json
import logging
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..meta.base import BucketMissing, MetaStore, OutboxItem
from ..meta.model import EventNote, VersionRecord
from . import errors as E

log = logging.getLogger(__name__)

# -- event names (MinIO's internal/event/name.go) ------------------------------------------
CREATED = (
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectCreated:PutRetention",
    "s3:ObjectCreated:PutLegalHold",
    "s3:ObjectCreated:PutTagging",
    "s3:ObjectCreated:DeleteTagging",
)
REMOVED = (
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRemoved:DeleteAllVersions",
    "s3:ObjectRemoved:NoOP",
)
ACCESSED = (
    "s3:ObjectAccessed:Get",
    "s3:ObjectAccessed:Head",
    "s3:ObjectAccessed:GetRetention",
    "s3:ObjectAccessed:GetLegalHold",
    "s3:ObjectAccessed:Attributes",
)
#: every name a configuration may use -> the concrete events it stands for
NAMES: dict[str, tuple[str, ...]] = {
    "s3:ObjectCreated:*": CREATED,
    "s3:ObjectRemoved:*": REMOVED,
    "s3:ObjectAccessed:*": ACCESSED,
    **{n: (n,) for n in CREATED + REMOVED + ACCESSED},
    # accepted as MinIO accepts them; s3gw emits none of these (no restore, transition, replication, scanner)
    **{
        n: (n,)
        for n in (
            "s3:BucketCreated",
            "s3:BucketRemoved",
            "s3:ObjectRestore:Post",
            "s3:ObjectRestore:Completed",
            "s3:ObjectTransition:Failed",
            "s3:ObjectTransition:Complete",
            "s3:ObjectReplication:Failed",
            "s3:ObjectReplication:Complete",
            "s3:ObjectReplication:MissedThreshold",
            "s3:ObjectReplication:ReplicatedAfterThreshold",
            "s3:ObjectReplication:NotTracked",
            "s3:Scanner:ManyVersions",
            "s3:Scanner:LargeVersions",
            "s3:Scanner:BigPrefix",
            "s3:LifecycleExpiration:Delete",
            "s3:LifecycleExpiration:DeleteMarkerCreated",
            "s3:LifecycleDelMarkerExpiration:Delete",
            "s3:ObjectRestore:*",
            "s3:ObjectTransition:*",
            "s3:Replication:*",
            "s3:LifecycleExpiration:*",
            "s3:Scanner:*",
        )
    },
}

#: the ObjectCreated event of each write operation (the AWS operation the request routed to)
CREATED_BY = {
    "PutObject": "s3:ObjectCreated:Put",
    "PostObject": "s3:ObjectCreated:Post",
    "CopyObject": "s3:ObjectCreated:Copy",
    "CompleteMultipartUpload": "s3:ObjectCreated:CompleteMultipartUpload",
}

# MinIO's messages (cmd/api-errors.go, the notification rows)
MSG_EVENT = "A specified event is not supported for notifications."
MSG_ARN = "A specified destination ARN does not exist or is not well-formed. Verify the destination ARN."
MSG_REGION = (
    "A specified destination is in a different region than the bucket. "
    "You must use a destination that resides in the same region as the bucket."
)
MSG_OVERLAP_FILTER = (
    "An object key name filtering rule defined with overlapping prefixes, overlapping suffixes, "
    "or overlapping combinations of prefixes and suffixes for the same event types."
)
MSG_FILTER_NAME = "filter rule name must be either prefix or suffix"
MSG_FILTER_PREFIX = "Cannot specify more than one prefix rule in a filter."
MSG_FILTER_SUFFIX = "Cannot specify more than one suffix rule in a filter."
MSG_FILTER_VALUE = "Size of filter rule value cannot exceed 1024 bytes in UTF-8 representation"
MSG_OVERLAP_CONFIGS = "Configurations overlap. Configurations on the same bucket cannot share a common event type."

MAX_RULES = 100  # queue configurations in one document (a bound on what a client sends)
ARN_PREFIX = "arn:minio:sqs:"


class UnsupportedNotification(E.CoreError):
    code = "UnsupportedNotification"


def target_arn(target_id: str, kind: str, region: str = "") -> str:
    """The ARN of a configured target, as MinIO writes it.

    >>> target_arn("1", "webhook"), target_arn("_", "redis", "us-east-1")
    ('arn:minio:sqs::1:webhook', 'arn:minio:sqs:us-east-1:_:redis')
    """
    return f"{ARN_PREFIX}{region}:{target_id}:{kind}"


def parse_arn(arn: str) -> tuple[str, str]:
    """(region, "ID:TYPE") of a queue ARN; InvalidArgument when it is not one (MinIO's parseARN).

    >>> parse_arn("arn:minio:sqs::1:webhook"), parse_arn("arn:minio:sqs:us-east-1:_:redis")
    (('', '1:webhook'), ('us-east-1', '_:redis'))
    """
    parts = arn.split(":")
    if len(arn) < 16 or not arn.startswith(ARN_PREFIX) or len(parts) != 6 or not parts[4] or not parts[5]:
        raise E.InvalidArgument(MSG_ARN)
    return parts[3], f"{parts[4]}:{parts[5]}"


def _filter_value(value: str) -> str:
    if any(seg in (".", "..") for seg in value.split("/")) or len(value.encode()) > 1024 or "\\" in value:
        raise E.InvalidArgument(MSG_FILTER_VALUE)
    return value


@dataclass(frozen=True)
class Rule:
    """One queue configuration."""

    id: str
    target: str  # "ID:TYPE"
    events: tuple[str, ...]  # as written
    prefix: str = ""
    suffix: str = ""
    has_prefix: bool = False  # a FilterRule named prefix was given (kept for the round trip)
    has_suffix: bool = False

    def matches(self, event: str, key: str) -> bool:
        return (
            any(event in NAMES.get(n, ()) for n in self.events)
            and key.startswith(self.prefix)
            and key.endswith(self.suffix)
        )

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "target": self.target, "events": list(self.events)}
        if self.has_prefix:
            d["prefix"] = self.prefix
        if self.has_suffix:
            d["suffix"] = self.suffix
        return d

    @staticmethod
    def from_json(d: dict[str, Any]) -> Rule:
        return Rule(
            id=str(d.get("id", "")),
            target=str(d["target"]),
            events=tuple(d["events"]),
            prefix=str(d.get("prefix", "")),
            suffix=str(d.get("suffix", "")),
            has_prefix="prefix" in d,
            has_suffix="suffix" in d,
        )


@dataclass
class NotifyConfig:
    rules: list[Rule] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({"queues": [r.to_json() for r in self.rules]}, separators=(",", ":"))

    @staticmethod
    def from_json(text: str) -> NotifyConfig:
        return NotifyConfig([Rule.from_json(q) for q in json.loads(text).get("queues", [])])

    def targets(self, event: str, key: str) -> set[str]:
        """The targets ("ID:TYPE") an event on ``key`` goes to."""
        return {r.target for r in self.rules if r.matches(event, key)}


@functools.lru_cache(maxsize=256)
def _cached(text: str) -> NotifyConfig:
    return NotifyConfig.from_json(text)


def _items(v: Any) -> list[Any]:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _text(v: Any) -> str:
    if v is None or isinstance(v, dict):  # <Id/> parses as {} (an empty element)
        return ""
    return str(v)


def parse_config(doc: dict[str, Any], region: str, known: Iterable[str]) -> NotifyConfig:
    """Validate a NotificationConfiguration (its children, as api/xml.py parses them) the way
    MinIO does, in MinIO's order: each queue (events present and known and not repeated,
    filter names and values, the ARN's form), then repeated queues, then Topic/CloudFunction
    (unsupported), then each ARN's region and target. ``known``: the configured targets
    ("ID:TYPE"). An empty document removes the configuration (an empty rule list)."""
    if not isinstance(doc, dict):
        raise E.MalformedXML()
    queues = _items(doc.get("QueueConfiguration"))
    if len(queues) > MAX_RULES:
        raise E.MalformedXML()
    parsed: list[tuple[Rule, str]] = []
    for q in queues:
        if not isinstance(q, dict):
            raise E.MalformedXML()
        events = [_text(e) for e in _items(q.get("Event"))]
        if not events:
            raise E.MalformedXML()  # MinIO: "missing event name(s)", not an event error
        prefix: str | None = None
        suffix: str | None = None
        flt = q.get("Filter")
        key_filter = flt.get("S3Key") if isinstance(flt, dict) else None
        for fr in _items(key_filter.get("FilterRule") if isinstance(key_filter, dict) else None):
            if not isinstance(fr, dict):
                raise E.MalformedXML()
            name, value = _text(fr.get("Name")), _text(fr.get("Value"))
            if name not in ("prefix", "suffix"):
                raise E.InvalidArgument(MSG_FILTER_NAME)
            _filter_value(value)
            if name == "prefix":
                if prefix is not None:
                    raise E.InvalidArgument(MSG_FILTER_PREFIX)
                prefix = value
            else:
                if suffix is not None:
                    raise E.InvalidArgument(MSG_FILTER_SUFFIX)
                suffix = value
        for e in events:
            if e not in NAMES:
                raise E.InvalidArgument(MSG_EVENT)
        if len(set(events)) != len(events):
            raise E.InvalidArgument(MSG_OVERLAP_CONFIGS)
        arn_region, target = parse_arn(_text(q.get("Queue")))
        rule = Rule(
            id=_text(q.get("Id")),
            target=target,
            events=tuple(events),
            prefix=prefix or "",
            suffix=suffix or "",
            has_prefix=prefix is not None,
            has_suffix=suffix is not None,
        )
        parsed.append((rule, arn_region))
    for i, (a, _) in enumerate(parsed):
        if any(a == b for b, _ in parsed[i + 1 :]):
            raise E.InvalidArgument(MSG_OVERLAP_FILTER)
    if doc.get("TopicConfiguration") is not None or doc.get("CloudFunctionConfiguration") is not None:
        raise UnsupportedNotification()
    targets = set(known)
    for rule, arn_region in parsed:
        if arn_region and region and arn_region != region:
            raise E.InvalidArgument(MSG_REGION)
        if rule.target not in targets:
            raise E.InvalidArgument(MSG_ARN)
    return NotifyConfig([r for r, _ in parsed])


# -- the request behind a change ------------------------------------------------------------
@dataclass(frozen=True)
class EventSource:
    """Who and what caused a change: the event record's userIdentity, requestParameters, source."""

    operation: str  # the AWS operation (PutObject, CopyObject, DeleteObjects, ...)
    principal: str = ""  # the caller's access key ("" anonymous)
    source_ip: str = ""
    host: str = ""
    port: str = ""
    user_agent: str = ""
    request_id: str = ""


#: the request being served (set by the API once it is authorised; None outside a request)
REQUEST: contextvars.ContextVar[EventSource | None] = contextvars.ContextVar("s3gw_event_source", default=None)


def event_name(operation: str, what: str) -> str:
    """The event a change is.

    >>> event_name("CopyObject", "created"), event_name("DeleteObjects", "marker")
    ('s3:ObjectCreated:Copy', 's3:ObjectRemoved:DeleteMarkerCreated')
    """
    if what == "created":
        return CREATED_BY.get(operation, "s3:ObjectCreated:Put")
    return "s3:ObjectRemoved:DeleteMarkerCreated" if what == "marker" else "s3:ObjectRemoved:Delete"


def _iso(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def event_log(
    rec: VersionRecord, name: str, src: EventSource, *, region: str, deployment_id: str, endpoint: str, now: float
) -> dict[str, Any]:
    """MinIO's event log entry: ``EventName``, ``Key`` (bucket/key) and one record in the AWS
    shape (``Records[0]``; the object key URL-encoded as MinIO's url.QueryEscape does)."""
    obj: dict[str, Any] = {"key": urllib.parse.quote_plus(rec.key, safe="")}
    if name.startswith("s3:ObjectCreated:"):
        obj["size"] = rec.size
        obj["eTag"] = rec.etag
        ct = rec.info.content_type or "binary/octet-stream"
        obj["contentType"] = ct
        obj["userMetadata"] = {"content-type": ct, **{f"X-Amz-Meta-{k}": v for k, v in rec.info.user_meta.items()}}
    if rec.version_id and rec.version_id != "null":
        obj["versionId"] = rec.version_id
    obj["sequencer"] = f"{int(now * 1e9):X}"
    record = {
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "awsRegion": region,
        "eventTime": _iso(now),
        "eventName": name,
        "userIdentity": {"principalId": src.principal},
        "requestParameters": {"principalId": src.principal, "region": region, "sourceIPAddress": src.source_ip},
        "responseElements": {
            "x-amz-id-2": deployment_id,
            "x-amz-request-id": src.request_id,
            "x-minio-deployment-id": deployment_id,
            "x-minio-origin-endpoint": endpoint,
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "Config",
            "bucket": {
                "name": rec.bucket,
                "ownerIdentity": {"principalId": src.principal},
                "arn": f"arn:aws:s3:::{rec.bucket}",
            },
            "object": obj,
        },
        "source": {"host": src.host, "port": src.port, "userAgent": src.user_agent},
    }
    return {"EventName": name, "Key": f"{rec.bucket}/{rec.key}", "Records": [record]}


# -- targets and the sender -------------------------------------------------------------------
class Target(Protocol):
    """A destination the operator configured (s3gw/notify builds them): send one event log
    entry (``event_log``'s shape) or raise."""

    target_id: str  # "ID:TYPE"

    async def send(self, entry: dict[str, Any]) -> None: ...

    async def close(self) -> None: ...


@dataclass
class SenderStats:
    delivered: int = 0  # events delivered by this gateway
    failures: int = 0  # delivery attempts that failed
    dead: int = 0  # events this gateway gave up on


class Events:
    """The configured targets, the hook writes carry, and the outbox sender."""

    def __init__(
        self,
        meta: MetaStore,
        targets: dict[str, Target],
        *,
        region: str = "",
        endpoint: str = "",
        concurrency: int = 4,
        max_attempts: int = 10,
        retry_base: float = 1.0,
        retry_max: float = 60.0,
        send_timeout: float = 10.0,
        lease: float = 60.0,
        poll: float = 0.5,
    ) -> None:
        self.meta = meta
        self.targets = targets
        self.region = region
        self.endpoint = endpoint
        self.deployment_id = ""
        self.concurrency = max(1, concurrency)
        self.max_attempts = max(1, max_attempts)
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.send_timeout = send_timeout
        self.lease = max(lease, send_timeout * 2)
        self.poll = poll
        self.stats = SenderStats()
        self._wakeup = asyncio.Event()

    # -- configuration
    def arns(self) -> list[str]:
        """The configured targets' ARNs, as ServerInfo lists them (``sqsARN``)."""
        return [target_arn(*t.split(":", 1), self.region) for t in sorted(self.targets)]

    async def set_config(self, bucket: str, doc: dict[str, Any]) -> None:
        cfg = parse_config(doc, self.region, self.targets)
        try:
            await self.meta.put_bucket_notification(bucket, cfg.to_json() if cfg.rules else None)
        except BucketMissing as e:
            raise E.NoSuchBucket(bucket=bucket) from e

    async def get_config(self, bucket: str) -> tuple[list[Rule], str]:
        """The bucket's rules (those naming a target no longer configured are left out, as MinIO
        does) and the region their ARNs are written with."""
        text = await self.meta.get_bucket_notification(bucket)
        rules = NotifyConfig.from_json(text).rules if text else []
        return [r for r in rules if r.target in self.targets], self.region

    # -- the hook
    def note(self) -> EventNote | None:
        """The hook a write carries into its transaction (None when no target is configured:
        then no write looks for a configuration at all)."""
        if not self.targets:
            return None
        src = REQUEST.get() or EventSource(operation="")

        def note(config: str, rec: VersionRecord, what: str) -> list[tuple[str, str]]:
            try:
                name = event_name(src.operation, what)
                targets = sorted(_cached(config).targets(name, rec.key) & set(self.targets))
                if not targets:
                    return []
                entry = event_log(
                    rec,
                    name,
                    src,
                    region=self.region,
                    deployment_id=self.deployment_id,
                    endpoint=self.endpoint,
                    now=time.time(),
                )
                payload = json.dumps(entry, separators=(",", ":"))
                return [(t, payload) for t in targets]
            except Exception:  # never fail a write over its notification
                log.exception("bucket notification of %s/%s not queued", rec.bucket, rec.key)
                return []

        return note

    def wake(self) -> None:
        self._wakeup.set()

    # -- the sender
    async def run(self) -> None:
        """Deliver the outbox until cancelled (one per gateway; several gateways share the work).

        Up to ``concurrency`` deliveries are in flight; a slot that frees is filled at once, so
        a slow or hung target holds only the slots of its own events (each bounded by
        ``send_timeout``), never a whole batch."""
        inflight: set[asyncio.Task[None]] = set()
        try:
            while True:
                items: list[OutboxItem] = []
                free = self.concurrency - len(inflight)
                if free > 0:
                    try:
                        items = await self.meta.take_outbox(free, time.time(), self.lease)
                    except Exception as e:
                        log.warning("notification outbox unavailable: %s", e)
                for item in items:
                    task = asyncio.create_task(self.deliver(item))
                    inflight.add(task)
                    task.add_done_callback(inflight.discard)
                if len(items) == free and free > 0:
                    continue  # more may be due: fill the slots first
                self._wakeup.clear()
                woken = asyncio.create_task(self._wakeup.wait())
                try:
                    await asyncio.wait({woken, *inflight}, timeout=self.poll, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    woken.cancel()
        finally:
            for task in list(inflight):
                task.cancel()

    async def deliver(self, item: OutboxItem) -> None:
        target = self.targets.get(item.target)
        error = ""
        if target is None:
            error = f"target {item.target} is not configured"
        else:
            try:
                await asyncio.wait_for(target.send(json.loads(item.payload)), self.send_timeout)
            except Exception as e:  # any failure of the target: retried
                error = f"{type(e).__name__}: {e}"[:500] or type(e).__name__
        try:
            if not error:
                await self.meta.finish_outbox(item.id, "done")
                self.stats.delivered += 1
                return
            self.stats.failures += 1
            attempts = item.attempts + 1
            if attempts >= self.max_attempts or target is None:
                log.error("notification %d to %s dead after %d attempts: %s", item.id, item.target, attempts, error)
                self.stats.dead += 1
                await self.meta.finish_outbox(item.id, "dead", error)
            else:
                delay = min(self.retry_max, self.retry_base * 2 ** (attempts - 1))
                log.warning("notification %d to %s failed (%s); retry in %.1fs", item.id, item.target, error, delay)
                await self.meta.finish_outbox(item.id, "retry", error, time.time() + delay)
        except Exception as e:  # the lease runs out and the event is sent again: at least once
            log.warning("notification %d outcome not recorded: %s", item.id, e)

    async def status(self) -> dict[str, Any]:
        st = await self.meta.outbox_stats()
        oldest = st.get("oldest_pending", 0.0)
        return {
            "pending": int(st.get("pending", 0)),
            "dead": int(st.get("dead", 0)),
            "oldest_pending_seconds": max(0.0, time.time() - oldest) if oldest else 0.0,
            "delivered": self.stats.delivered,
            "failures": self.stats.failures,
            "targets": self.arns(),
        }

    async def close(self) -> None:
        for t in self.targets.values():
            try:
                await t.close()
            except Exception as e:
                log.warning("closing notification target %s: %s", t.target_id, e)

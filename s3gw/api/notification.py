"""Bucket notification configurations (core/notify.py has the rules and their checks)."""

from __future__ import annotations

from aiohttp import web

from ..core.notify import Rule, target_arn
from . import xml as X
from .app import Request
from .xml import xml_response

#: a configuration document's size bound (MinIO reads at most Content-Length; 100 queues fit well)
MAX_DOCUMENT_ELEMENTS = 5000


def rule_xml(rule: Rule, region: str) -> str:
    rules = []
    if rule.has_prefix:
        rules.append(X.el("FilterRule", X.el("Name", "prefix"), X.el("Value", rule.prefix)))
    if rule.has_suffix:
        rules.append(X.el("FilterRule", X.el("Name", "suffix"), X.el("Value", rule.suffix)))
    target_id, kind = rule.target.split(":", 1)
    return X.el(
        "QueueConfiguration",
        X.el("Id", rule.id),
        X.el("Filter", X.el("S3Key", *rules) if rules else None),
        *(X.el("Event", e) for e in rule.events),
        X.el("Queue", target_arn(target_id, kind, region)),
    )


async def put_bucket_notification(rq: Request) -> web.StreamResponse:
    doc = await rq.read_document("NotificationConfiguration", max_elements=MAX_DOCUMENT_ELEMENTS)
    assert doc is not None
    await rq.core.set_bucket_notification(rq.op.bucket, doc)
    return web.Response(status=200)


async def get_bucket_notification(rq: Request) -> web.StreamResponse:
    rules, region = await rq.core.bucket_notification(rq.op.bucket)
    return xml_response(X.document("NotificationConfiguration", *(rule_xml(r, region) for r in rules)))

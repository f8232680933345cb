"""Object lock: the bucket's lock configuration, retention, legal hold, and the governance bypass."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from ..common.records import Retention
from ..core import lock
from ..core.errors import GovernanceLocked
from . import xml as X
from .app import Decision, Request
from .authz import BYPASS_GOVERNANCE, REPLICATION_REQUEST
from .errors import S3Error
from .xml import xml_response


def _bypass_asked(rq: Request) -> bool:
    return (rq.header(BYPASS_GOVERNANCE) or "").strip().lower() == "true"


def bypass_governance(rq: Request, decision: Decision | None = None) -> bool:
    """x-amz-bypass-governance-retention: true, from a caller allowed s3:BypassGovernanceRetention
    (``authorize`` decided; without the permission the header is not honoured)."""
    return _bypass_asked(rq) and (decision or rq.decision).honours(BYPASS_GOVERNANCE)


@contextmanager
def governance_denied(rq: Request, decision: Decision | None = None) -> Iterator[None]:
    """A GOVERNANCE lock that held only because the caller asked for a bypass it may not use
    is AccessDenied, as AWS and MinIO answer it (without the header: MinIO's ObjectLocked)."""
    try:
        yield
    except GovernanceLocked:
        if _bypass_asked(rq) and not bypass_governance(rq, decision):
            raise S3Error("AccessDenied") from None
        raise


# ---------------------------------------------------------------- bucket configuration
async def put_lock_config(rq: Request) -> web.StreamResponse:
    conf = await rq.document("ObjectLockConfiguration", require_integrity=True)
    enabled = conf.get("ObjectLockEnabled") == "Enabled"
    rule = None
    if conf.get("Rule") is not None:
        dr = (conf["Rule"] or {}).get("DefaultRetention") if isinstance(conf["Rule"], dict) else None
        if not isinstance(dr, dict):
            raise S3Error("MalformedXML")
        rule = lock.parse_rule(dr.get("Mode"), dr.get("Days"), dr.get("Years"))
    await rq.core.set_lock_config(rq.op.bucket, enabled, rule)
    return web.Response(status=200)


async def get_lock_config(rq: Request) -> web.StreamResponse:
    rule = await rq.core.lock_config(rq.op.bucket)
    rule_xml = None
    if rule:
        period = X.el("Days", rule["days"]) if "days" in rule else X.el("Years", rule["years"])
        rule_xml = X.el("Rule", X.el("DefaultRetention", X.el("Mode", rule["mode"]), period))
    return xml_response(X.document("ObjectLockConfiguration", X.el("ObjectLockEnabled", "Enabled"), rule_xml))


# ---------------------------------------------------------------- retention and legal hold
async def put_retention(rq: Request) -> web.StreamResponse:
    conf = await rq.document("Retention", require_integrity=True)
    mode, until = conf.get("Mode"), conf.get("RetainUntilDate")
    new = None
    if mode or until:
        if mode not in lock.MODES or not until:
            raise S3Error("MalformedXML")
        new = Retention(mode, lock.parse_date(until))
        if new.until <= time.time():
            raise S3Error("InvalidRequest", "the retain until date must be in the future")
    with governance_denied(rq):
        await rq.core.set_retention(
            rq.op.bucket, rq.op.key, rq.op.version_id, new, bypass_governance(rq), replica=_replica(rq)
        )
    return web.Response(status=200)


async def get_retention(rq: Request) -> web.StreamResponse:
    rec = await rq.core.get_record(rq.op.bucket, rq.op.key, rq.op.version_id)
    ret = rec.info.retention
    if not ret:
        raise S3Error("NoSuchObjectLockConfiguration")
    return xml_response(X.document("Retention", X.el("Mode", ret.mode), X.el("RetainUntilDate", lock.iso(ret.until))))


async def put_legal_hold(rq: Request) -> web.StreamResponse:
    conf = await rq.document("LegalHold", require_integrity=True)
    status = conf.get("Status")
    if status not in ("ON", "OFF"):
        raise S3Error("MalformedXML")
    await rq.core.set_legal_hold(rq.op.bucket, rq.op.key, rq.op.version_id, status, replica=_replica(rq))
    return web.Response(status=200)


async def get_legal_hold(rq: Request) -> web.StreamResponse:
    brec = await rq.core.bucket(rq.op.bucket)
    rec = await rq.core.get_record(rq.op.bucket, rq.op.key, rq.op.version_id)
    if not brec.object_lock or not rec.info.legal_hold:
        raise S3Error("NoSuchObjectLockConfiguration")
    return xml_response(X.document("LegalHold", X.el("Status", rec.info.legal_hold)))


def _replica(rq: Request) -> bool:
    """Another site's replication request: its change is not replicated again (no loops)."""
    return (rq.header(REPLICATION_REQUEST) or "").strip().lower() == "true"

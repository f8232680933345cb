"""Object lock: retention and legal hold rules, as pure functions (MinIO cmd/bucket-object-lock.go).

A version's lock state lives in its info (``ObjectInfo``): ``retention`` (a
``Retention``: mode GOVERNANCE or COMPLIANCE, until epoch seconds) and
``legal_hold`` ("ON" / "OFF"). Checks run inside the
metadata transaction (as ``check`` callbacks), so no race can delete a locked
version.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from ..common.numbers import parse_int
from ..common.records import ObjectInfo, Retention
from .errors import GovernanceLocked, InvalidArgument, InvalidRequest, MalformedXML, ObjectLocked

MODES = ("GOVERNANCE", "COMPLIANCE")
# the longest default retention AWS (and MinIO) accept
MAX_DAYS = 36500
MAX_YEARS = 100


def parse_date(value: str) -> float:
    """ISO 8601 retain-until date -> epoch seconds (InvalidRequest on garbage, as MinIO)."""
    if not isinstance(value, str) or not value.isascii() or len(value) > 64:
        raise InvalidRequest("Date must be provided in ISO 8601 format")
    try:
        d = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as e:
        raise InvalidRequest("Date must be provided in ISO 8601 format") from e
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.UTC)
    return d.timestamp()


def iso(ts: float) -> str:
    """Retain-until as S3 writes it: 2030-01-02T03:04:05.000Z."""
    ms = int(round(ts * 1000))
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def retention(mode: str | None, until: str | None, now: float | None = None) -> Retention | None:
    """Retention from x-amz-object-lock-mode / -retain-until-date (both or neither)."""
    if not mode and not until:
        return None
    if not mode or not until:
        raise InvalidArgument("x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied")
    if mode not in MODES:
        raise InvalidArgument("Unknown wormMode directive.")
    ts = parse_date(until)
    if ts <= (now if now is not None else time.time()):
        raise InvalidRequest("the retain until date must be in the future")
    return Retention(mode, ts)


def default_retention(config: dict[str, Any], now: float) -> Retention | None:
    """The bucket's default rule applied to a new version."""
    rule = config.get("lock_rule")
    if not rule:
        return None
    days = rule.get("days") or 0
    years = rule.get("years") or 0
    return Retention(rule["mode"], now + days * 86400 + years * 365 * 86400)


def parse_rule(mode: Any, days: Any, years: Any) -> dict[str, Any]:
    """A bucket's default retention from its XML (Days or Years: ASCII digits, within AWS's maximum).

    >>> parse_rule("GOVERNANCE", "30", None)
    {'mode': 'GOVERNANCE', 'days': 30}
    >>> parse_rule("COMPLIANCE", None, "101")
    Traceback (most recent call last):
    ...
    s3gw.core.errors.MalformedXML: Default retention period too large for 'Years' 101
    """
    if mode not in MODES:
        raise MalformedXML()
    if (days is None) == (years is None):
        raise MalformedXML()
    unit, limit = ("Days", MAX_DAYS) if days is not None else ("Years", MAX_YEARS)
    text = days if days is not None else years
    try:
        n = parse_int(text)
    except ValueError as e:
        raise MalformedXML() from e
    if n <= 0:
        raise InvalidArgument("Default retention period must be a positive integer value for 'Days'")
    if n > limit:
        raise MalformedXML(f"Default retention period too large for '{unit}' {n}")
    return {"mode": mode, "days": n} if days is not None else {"mode": mode, "years": n}


def is_locked(info: ObjectInfo, now: float) -> bool:
    ret = info.retention
    return info.legal_hold == "ON" or bool(ret and ret.until > now)


def check_delete(info: ObjectInfo, bypass_governance: bool, now: float) -> None:
    """May this version be removed for good? (Adding a delete marker is always allowed.)"""
    if info.legal_hold == "ON":
        raise ObjectLocked()
    ret = info.retention
    if ret and ret.until > now:
        if ret.mode == "COMPLIANCE":
            raise ObjectLocked()
        if not bypass_governance:
            raise GovernanceLocked()


def check_retention_change(
    current: Retention | None, new: Retention | None, bypass_governance: bool, now: float
) -> None:
    """PutObjectRetention: COMPLIANCE can only be extended; GOVERNANCE needs the bypass to shorten or change."""
    if not current or current.until <= now:
        return
    extends = new is not None and new.mode == current.mode and new.until >= current.until
    if extends:
        return
    if current.mode == "COMPLIANCE":
        raise ObjectLocked()
    if not bypass_governance:
        raise GovernanceLocked()

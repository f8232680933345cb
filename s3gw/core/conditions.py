"""Conditional request headers, evaluated in MinIO's order.

GET/HEAD (MinIO ``checkPreconditions``): If-Modified-Since (304), then
If-Unmodified-Since (412), then If-Match (412), then If-None-Match (304).
The first one that fails decides. Dates have one-second resolution: an object
counts as modified since T only when its mtime is after T + 1 s, because
Last-Modified drops the sub-second part.

CopyObject source (``x-amz-copy-source-if-*``): the same four, each failing with
412 PreconditionFailed.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from .errors import NoSuchKey, NotModified, PreconditionFailed


@dataclass(frozen=True)
class Conditions:
    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: str | None = None
    if_unmodified_since: str | None = None

    def __bool__(self) -> bool:
        return any((self.if_match, self.if_none_match, self.if_modified_since, self.if_unmodified_since))


def parse_http_date(value: str | None) -> float | None:
    """Seconds since the epoch for an RFC 7231 date, or None when absent/invalid (ignored, like MinIO)."""
    if not value:
        return None
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if dt is None or dt.tzinfo is None:
        return None
    return dt.timestamp()


def etag_matches(etag: str, header: str) -> bool:
    """Compare an ETag with an If-Match / If-None-Match value, as MinIO does.

    Surrounding quotes are ignored; the value is one ETag (MinIO neither splits
    lists nor treats "*" as a wildcard on reads; only conditional *writes* give
    "*" its meaning, see ``check_write``).
    """
    return header.strip().strip('"') == etag.strip('"')


def _modified_since(mtime: float, since: float) -> bool:
    return mtime > since + 1


def check_read(cond: Conditions, etag: str, mtime: float, headers: dict[str, str]) -> None:
    """Raise NotModified/PreconditionFailed (carrying ``headers``) when GET/HEAD must not proceed."""
    ims = parse_http_date(cond.if_modified_since)
    if ims is not None and not _modified_since(mtime, ims):
        raise NotModified(**headers)
    ius = parse_http_date(cond.if_unmodified_since)
    if ius is not None and _modified_since(mtime, ius):
        raise PreconditionFailed(**headers)
    if cond.if_match and not etag_matches(etag, cond.if_match):
        raise PreconditionFailed(**headers)
    if cond.if_none_match and etag_matches(etag, cond.if_none_match):
        raise NotModified(**headers)


def check_copy_source(cond: Conditions, etag: str, mtime: float) -> None:
    """Raise PreconditionFailed when a copy source's x-amz-copy-source-if-* conditions fail."""
    ims = parse_http_date(cond.if_modified_since)
    if ims is not None and not _modified_since(mtime, ims):
        raise PreconditionFailed()
    ius = parse_http_date(cond.if_unmodified_since)
    if ius is not None and _modified_since(mtime, ius):
        raise PreconditionFailed()
    if cond.if_match and not etag_matches(etag, cond.if_match):
        raise PreconditionFailed()
    if cond.if_none_match and etag_matches(etag, cond.if_none_match):
        raise PreconditionFailed()


def check_write(if_match: str | None, if_none_match: str | None, current_etag: str | None) -> None:
    """Conditional PUT (If-None-Match: * / If-Match: etag) against the current object.

    ``current_etag`` is None when the key has no live object (absent or a delete
    marker). If-None-Match: * fails when an object exists; If-Match fails when
    none exists or its ETag differs.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
    """
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            if current_etag is not None:
                raise PreconditionFailed()
        elif current_etag is not None and etag_matches(current_etag, if_none_match):
            raise PreconditionFailed()
    if if_match is not None:
        if current_etag is None:
            raise NoSuchKey()
        if if_match.strip() != "*" and not etag_matches(current_etag, if_match):
            raise PreconditionFailed()

"""Conditional request headers, evaluated in MinIO's order.

GET/HEAD (MinIO ``checkPreconditions``, as the pinned release behaves):
If-None-Match (304), then If-Modified-Since (304), then If-Match (412), then
If-Unmodified-Since (412) only when no If-Match was sent (a true If-Match wins
over it, RFC 9110 13.2.2). The first one that fails decides. "*" matches any
ETag. Dates have one-second resolution: an object counts as modified since T
only when its mtime is after T + 1 s, because Last-Modified drops the
sub-second part; only the IMF-fixdate form is understood (MinIO parses
``http.TimeFormat``), other forms are ignored.

CopyObject source (``x-amz-copy-source-if-*``): the same four, each failing with
412 PreconditionFailed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..meta.model import VersionRecord
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
    """Seconds since the epoch for an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), else None (ignored, like MinIO)."""
    if not value or not value.isascii() or len(value) > 64:  # strptime's %d would take any script's digits
        return None
    try:
        d = dt.datetime.strptime(value.strip(), "%a, %d %b %Y %H:%M:%S GMT")
    except ValueError:
        return None
    return d.replace(tzinfo=dt.UTC).timestamp()


def etag_matches(etag: str, header: str) -> bool:
    """Compare an ETag with an If-Match / If-None-Match value, as MinIO does.

    Surrounding quotes are ignored; the value is one ETag or "*", which
    matches any existing object.
    """
    value = header.strip()
    return value == "*" or value.strip('"') == etag.strip('"')


def _modified_since(mtime: float, since: float) -> bool:
    return mtime > since + 1


def check_read(cond: Conditions, etag: str, mtime: float, record: VersionRecord | None = None) -> None:
    """Raise NotModified/PreconditionFailed (about ``record``, the version read) when GET/HEAD must not proceed."""
    if cond.if_none_match and etag_matches(etag, cond.if_none_match):
        raise NotModified(record=record)
    ims = parse_http_date(cond.if_modified_since)
    if ims is not None and not _modified_since(mtime, ims):
        raise NotModified(record=record)
    if cond.if_match:
        if not etag_matches(etag, cond.if_match):
            raise PreconditionFailed(record=record)
        return  # a true If-Match overrides If-Unmodified-Since
    ius = parse_http_date(cond.if_unmodified_since)
    if ius is not None and _modified_since(mtime, ius):
        raise PreconditionFailed(record=record)


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
        if not etag_matches(current_etag, if_match):
            raise PreconditionFailed()

"""Rows to records and back: the one place that knows the column order of each table.

Both backends read rows by position (a ``sqlite3`` tuple, an ``asyncpg.Record``)
and bind parameters in the same order, so the mapping is written once here.
Keys are stored as UTF-8 bytes (``BLOB`` / ``bytea``) and come back as ``str``;
JSON columns hold text; the version info and layouts they hold are typed records
(``s3gw/common/records.py``), converted here and in the queues' few lines.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from ..common.records import ObjectInfo, ObjectLayout, ShardSet
from .model import BucketRecord, GroupRecord, PartRecord, UploadRecord, UserRecord, VersionRecord


class Row(Protocol):
    """A result row read by position: a ``sqlite3`` tuple or an ``asyncpg.Record``."""

    def __getitem__(self, i: int, /) -> Any: ...


VERSION_COLS = "bucket, key, version_id, seq, is_latest, delete_marker, size, etag, mtime, info, layout, inline_data"
BUCKET_COLS = "name, created, versioning, object_lock, config"
UPLOAD_COLS = "upload_id, bucket, key, initiated, info"
PART_COLS = "upload_id, part_number, size, etag, mtime, info, layout"
USER_COLS = "access_key, secret_enc, key_id, status, policies, created, updated, kind, parent, expires, info"
GROUP_COLS = "name, status, policies, created, updated"


def compact_json(v: Any) -> str:
    """JSON without spaces (version info and layouts: one per row, many rows).

    >>> compact_json({"a": [1, 2]})
    '{"a":[1,2]}'
    """
    return json.dumps(v, separators=(",", ":"))


def version_from_row(row: Row) -> VersionRecord:
    """A ``versions`` row selected as ``VERSION_COLS``."""
    return VersionRecord(
        bucket=row[0],
        key=bytes(row[1]).decode(),
        version_id=row[2],
        seq=row[3],
        is_latest=bool(row[4]),
        delete_marker=bool(row[5]),
        size=row[6],
        etag=row[7],
        mtime=row[8],
        info=ObjectInfo.from_json(json.loads(row[9])),
        layout=ObjectLayout.from_json(json.loads(row[10])) if row[10] else None,
        inline=bytes(row[11]) if row[11] is not None else None,
    )


def version_params(r: VersionRecord) -> tuple[Any, ...]:
    """A version as the parameters of an INSERT of ``VERSION_COLS``."""
    return (
        r.bucket,
        r.key.encode(),
        r.version_id,
        r.seq,
        int(r.is_latest),
        int(r.delete_marker),
        r.size,
        r.etag,
        r.mtime,
        compact_json(r.info.to_json()),
        compact_json(r.layout.to_json()) if r.layout is not None else None,
        r.inline,
    )


def bucket_from_row(row: Row | None) -> BucketRecord | None:
    """A ``buckets`` row selected as ``BUCKET_COLS`` (None stays None)."""
    if row is None:
        return None
    return BucketRecord(row[0], row[1], row[2], bool(row[3]), json.loads(row[4]))


def upload_from_row(row: Row) -> UploadRecord:
    """An ``uploads`` row selected as ``UPLOAD_COLS``."""
    return UploadRecord(row[0], row[1], bytes(row[2]).decode(), row[3], ObjectInfo.from_json(json.loads(row[4])))


def upload_params(rec: UploadRecord) -> tuple[Any, ...]:
    return (rec.upload_id, rec.bucket, rec.key.encode(), rec.initiated, json.dumps(rec.info.to_json()))


def part_from_row(row: Row) -> PartRecord:
    """A ``parts`` row selected as ``PART_COLS``."""
    return PartRecord(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        ShardSet.from_json(json.loads(row[6])),
        ObjectInfo.from_json(json.loads(row[5])),
    )


def part_params(part: PartRecord) -> tuple[Any, ...]:
    return (
        part.upload_id,
        part.part_number,
        part.size,
        part.etag,
        part.mtime,
        json.dumps(part.info.to_json()),
        json.dumps(part.layout.to_json()),
    )


def shard_set_json(s: ShardSet) -> str:
    """A shard set as the GC queue holds it (``json.dumps``' spacing, as it always has)."""
    return json.dumps(s.to_json())


def shard_set_from_json(text: str) -> ShardSet:
    return ShardSet.from_json(json.loads(text))


def user_from_row(row: Row) -> UserRecord:
    """An ``iam_users`` row selected as ``USER_COLS`` (policies are stored comma-separated)."""
    return UserRecord(
        row[0],
        bytes(row[1]),
        row[2],
        row[3],
        [p for p in row[4].split(",") if p],
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
        json.loads(row[10]),
    )


def user_params(rec: UserRecord) -> tuple[Any, ...]:
    """A credential as the parameters of an INSERT of ``USER_COLS``."""
    return (
        rec.access_key,
        rec.secret_enc,
        rec.key_id,
        rec.status,
        ",".join(rec.policies),
        rec.created,
        rec.updated,
        rec.kind,
        rec.parent,
        rec.expires,
        compact_json(rec.info),
    )


def group_from_row(row: Row, members: list[str]) -> GroupRecord:
    """An ``iam_groups`` row selected as ``GROUP_COLS``, with its members."""
    return GroupRecord(row[0], row[1], [p for p in row[2].split(",") if p], members, row[3], row[4])

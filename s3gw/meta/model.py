"""Records the metadata store keeps: buckets and object versions.

Keys travel as ``str`` above this layer and are stored as UTF-8 bytes, so every
backend orders them the way S3 lists them: by their UTF-8 bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..common.records import ObjectInfo, ObjectLayout, ShardSet

NULL_VERSION = "null"

#: note(bucket notification config (JSON text), the version concerned, what happened) -> the
#: outbox rows (target ARN, event JSON) to insert. Given by the core with a write; run inside the
#: write transaction, after the change, only when the bucket has a notification configuration.
#: ``what``: "created" (a new version), "removed" (a version deleted), "marker" (a delete marker).
EventNote = Callable[[str, "VersionRecord", str], list[tuple[str, str]]]

#: replicate(the version concerned, what happened) -> the replication queue rows (target ARN,
#: operation) to insert. Given by the core with a write when the bucket has a replication
#: configuration; run inside the write transaction. ``what``: "put" (a new version), "marker"
#: (a delete marker), "delete" (a version deleted). See core/replication.py.
ReplicaNote = Callable[["VersionRecord", str], list[tuple[str, str]]]


@dataclass
class BucketRecord:
    name: str
    created: float
    versioning: str = ""  # "", "Enabled" or "Suspended"
    object_lock: bool = False
    config: dict[str, Any] = field(default_factory=dict)  # lock config, tags, ...


@dataclass
class VersionRecord:
    bucket: str
    key: str
    version_id: str = NULL_VERSION
    mtime: float = 0.0
    size: int = 0
    etag: str = ""
    delete_marker: bool = False
    is_latest: bool = True
    seq: int = 0
    # content-type, user metadata, stored response headers, checksum, tags,
    # retention, legal hold (JSON in the row: s3gw/common/records.py)
    info: ObjectInfo = field(default_factory=ObjectInfo)
    layout: ObjectLayout | None = None  # where the data is (None: inline or delete marker)
    inline: bytes | None = None  # small objects live in the row itself
    # not stored: the bucket-notification hook of the write that carries this record (EventNote)
    event: EventNote | None = field(default=None, compare=False, repr=False)
    # not stored: the bucket-replication hook of the write that carries this record (ReplicaNote)
    replicate: ReplicaNote | None = field(default=None, compare=False, repr=False)

    def layouts(self) -> list[ShardSet]:
        """Every shard set this version references (none when inline or a delete marker)."""
        return self.layout.layouts() if self.layout is not None else []


@dataclass
class ListPage:
    """One page of a listing: entries, common prefixes and where to go on."""

    entries: list[VersionRecord]
    prefixes: list[str]
    truncated: bool
    next_marker: str = ""  # last key or prefix returned (V1 NextMarker / V2 token)
    next_version_marker: str = ""  # ListObjectVersions only


@dataclass
class UploadRecord:
    """A multipart upload in progress."""

    upload_id: str
    bucket: str
    key: str
    initiated: float
    info: ObjectInfo = field(default_factory=ObjectInfo)  # what CreateMultipartUpload was told to store


@dataclass
class PartRecord:
    upload_id: str
    part_number: int
    size: int
    etag: str
    mtime: float
    layout: ShardSet
    info: ObjectInfo = field(default_factory=ObjectInfo)  # the part's checksum


@dataclass
class UploadPage:
    uploads: list[UploadRecord]
    prefixes: list[str]
    truncated: bool
    next_key_marker: str = ""
    next_upload_id_marker: str = ""


@dataclass
class UserRecord:
    """A credential that signs requests: a (non-root) user, a service account or
    temporary credentials (``kind``); its secret sealed by the core (never plain text here)."""

    access_key: str
    secret_enc: bytes
    key_id: str  # which root-derived key sealed the secret
    status: str = "enabled"  # "enabled" / "disabled"
    policies: list[str] = field(default_factory=list)
    created: float = 0.0
    updated: float = 0.0
    kind: str = "user"  # "user", "svcacct" (service account / access key), "sts" (temporary)
    parent: str | None = None  # svcacct / sts: the user (or root's key) it acts for
    expires: float = 0.0  # seconds since the epoch; 0: never
    info: dict[str, Any] = field(default_factory=dict)  # name, description, policy, token (sha256)


@dataclass
class GroupRecord:
    """A group of users: its status, the policies attached to it, its members (access keys)."""

    name: str
    status: str = "enabled"
    policies: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    created: float = 0.0
    updated: float = 0.0

"""Operations: maintenance mode, usage figures, the state behind health and
metrics, the object manifest and metadata backups (docs/operations.md).

Nothing here knows HTTP; the API layer turns these into endpoints.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ..common.records import ShardSet
from ..meta.base import MetaStore
from ..meta.model import VersionRecord
from ..storage import Storage

log = logging.getLogger(__name__)

MAINTENANCE_SETTING = "maintenance"


# --------------------------------------------------------------------------- maintenance mode


@dataclass
class MaintenanceState:
    enabled: bool = False
    since: float | None = None
    reason: str = ""
    by: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "since": self.since, "reason": self.reason, "by": self.by}


class Maintenance:
    """Deployment-wide maintenance mode, kept in the metadata store (``settings``)
    so every gateway on the store follows it; each gateway re-reads it at most
    every ``refresh`` seconds. When the store cannot be read the last known
    state holds (requests that need the store fail on their own)."""

    def __init__(self, meta: MetaStore, refresh: float = 1.0) -> None:
        self.meta = meta
        self.refresh = refresh
        self._state: MaintenanceState | None = None
        self._checked = 0.0
        self._lock = asyncio.Lock()

    async def current(self) -> MaintenanceState:
        if self._state is not None and time.monotonic() - self._checked < self.refresh:
            return self._state
        async with self._lock:
            if self._state is not None and time.monotonic() - self._checked < self.refresh:
                return self._state
            try:
                row = await self.meta.get_setting(MAINTENANCE_SETTING)
                self._state = _parse_maintenance(row)
            except Exception as e:  # store away: keep what we knew
                log.warning("cannot read maintenance mode: %s", e)
                if self._state is None:
                    self._state = MaintenanceState()
            self._checked = time.monotonic()
            return self._state

    def known(self) -> MaintenanceState:
        """The last state read, without asking the store (for health answers)."""
        return self._state or MaintenanceState()

    async def set(self, enabled: bool, *, by: str = "", reason: str = "") -> MaintenanceState:
        if enabled:
            st = MaintenanceState(True, time.time(), reason, by)
            await self.meta.set_setting(MAINTENANCE_SETTING, json.dumps(st.to_dict()))
        else:
            st = MaintenanceState()
            await self.meta.set_setting(MAINTENANCE_SETTING, None)
        self._state, self._checked = st, time.monotonic()
        return st


def _parse_maintenance(row: tuple[str, float] | None) -> MaintenanceState:
    if row is None:
        return MaintenanceState()
    try:
        d = json.loads(row[0])
        return MaintenanceState(bool(d.get("enabled")), d.get("since"), str(d.get("reason", "")), str(d.get("by", "")))
    except (ValueError, AttributeError):
        return MaintenanceState(True, row[1], "", "")


# --------------------------------------------------------------------------- usage


class Usage:
    """Per-bucket usage (objects, bytes, versions, delete markers): exact, from the counters
    every write keeps in the metadata store (0008_usage.sql), so a query costs in buckets,
    not objects; an answer is reused for ``interval`` seconds. ``fold_forever`` folds the
    writes' pending deltas into the counters now and then (any gateway may; they never
    count a delta twice)."""

    def __init__(self, meta: MetaStore, interval: float = 1.0) -> None:
        self.meta = meta
        self.interval = interval
        self.value: dict[str, dict[str, int]] = {}
        self.at = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> dict[str, dict[str, int]]:
        if self.at and time.monotonic() - self.at < self.interval:
            return self.value
        async with self._lock:
            if self.at and time.monotonic() - self.at < self.interval:
                return self.value
            try:
                self.value = await self.meta.usage()
            except Exception as e:
                log.warning("usage query failed: %s", e)
            self.at = time.monotonic()
            return self.value

    def invalidate(self) -> None:
        self.at = 0.0

    async def fold_forever(self, interval: float = 10.0) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                while await self.meta.fold_usage(10000) == 10000:  # noqa: ASYNC110 - a yield between batches
                    await asyncio.sleep(0)
            except Exception as e:  # noqa: BLE001 - an outage: the deltas wait
                log.debug("usage fold: %s", e)


# --------------------------------------------------------------------------- storage state


@dataclass
class DriveState:
    id: str
    node: str
    online: bool
    total: int = 0
    free: int = 0
    used: int = 0
    error: str | None = None


@dataclass
class StorageState:
    k: int
    m: int
    write_quorum: int
    write_ok: bool
    read_ok: bool
    drives: list[DriveState] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)  # {"id", "url", "online"}

    @property
    def drives_online(self) -> int:
        return sum(d.online for d in self.drives)

    @property
    def nodes_online(self) -> int:
        return sum(bool(n["online"]) for n in self.nodes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "m": self.m,
            "write_quorum": self.write_quorum,
            "write_ok": self.write_ok,
            "read_ok": self.read_ok,
            "nodes": self.nodes,
            "drives": [d.__dict__ for d in self.drives],
        }


def quick_storage_state(storage: Storage) -> StorageState:
    """Quorum and node/drive counts from what the storage already knows (no I/O):
    cheap enough for every health probe."""
    st = StorageState(
        storage.k, storage.m, storage.write_drives, storage.write_quorum_possible(), storage.read_quorum_possible()
    )
    st.drives = [DriveState(d.id, d.node_id, storage.drive_online(d.id)) for d in storage.drives]
    st.nodes = _nodes(storage)
    return st


def _nodes(storage: Storage) -> list[dict[str, Any]]:
    if storage.cluster is not None:
        return [
            {
                "id": n["node_id"] or n["url"],
                "url": n["url"],
                "online": bool(n["online"]),
                "drives": n.get("drives", []),
                "error": n.get("error"),
            }
            for n in storage.cluster.info()
        ]
    return [
        {"id": "local", "url": "(embedded)", "online": True, "drives": [d.id for d in storage.drives], "error": None}
    ]


class StorageProbe:
    """Drive health and capacity (each drive's own probe), cached for ``ttl``
    seconds so that scrapes in quick succession do not re-probe every drive."""

    def __init__(self, storage: Storage, ttl: float = 5.0) -> None:
        self.storage = storage
        self.ttl = ttl
        self._value: StorageState | None = None
        self._at = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> StorageState:
        async with self._lock:
            if self._value is not None and time.monotonic() - self._at < self.ttl:
                return self._value
            s = self.storage
            st = quick_storage_state(s)
            try:
                health = {h["id"]: h for h in await s.drive_health()}
            except Exception as e:
                log.warning("drive health failed: %s", e)
                health = {}
            for d in st.drives:
                h = health.get(d.id, {})
                d.online = d.online and bool(h.get("ok", False))
                d.total, d.free, d.used = int(h.get("total") or 0), int(h.get("free") or 0), int(h.get("used") or 0)
                d.error = h.get("error")
            self._value, self._at = st, time.monotonic()
            return st


class Operations:
    """The operational state of one gateway: maintenance mode, usage and drive
    probes (each with its own cache), and what health, metrics and the admin
    APIs ask of the metadata store and the storage (the API layer asks here,
    never the store or the storage themselves)."""

    def __init__(
        self,
        meta: MetaStore,
        storage: Storage,
        *,
        usage_interval: float = 1.0,
        maintenance_refresh: float = 1.0,
        probe_ttl: float = 5.0,
    ) -> None:
        self.meta = meta
        self.storage = storage
        self.maintenance = Maintenance(meta, maintenance_refresh)
        self.usage = Usage(meta, usage_interval)
        self.probe = StorageProbe(storage, probe_ttl)
        self.started = time.time()
        self.deployment_id = str(uuid.uuid4())  # what madmin's info calls the deployment (per process)

    # -- storage ------------------------------------------------------------------

    @property
    def embedded(self) -> bool:
        """This gateway holds every drive itself (the embedded form), rather than storage nodes."""
        return self.storage.cluster is None

    def storage_state(self) -> StorageState:
        """Quorum and node/drive counts, without I/O (``quick_storage_state``)."""
        return quick_storage_state(self.storage)

    def quorum_without_this_gateway(self, need: int) -> bool:
        """Would ``need`` drives still be online with this gateway's own drives gone?
        MinIO counts the drives online minus the ones local to the node asked. A
        cluster-form gateway holds no drives; an embedded one holds all of them."""
        if self.embedded:
            return False
        return len(self.storage.online_drives()) >= need

    # -- metadata store -------------------------------------------------------------

    async def ping(self) -> None:
        """Raises when the metadata store does not answer."""
        await self.meta.ping()

    def pool_stats(self) -> dict[str, Any]:
        """The metadata store's connection pool (size, in use, waits, calls, errors)."""
        return self.meta.pool_stats()

    def query_histogram(self) -> tuple[list[tuple[str, int]], int, float] | None:
        """The metadata store's call latency histogram, when the backend keeps one."""
        stats = getattr(self.meta, "stats", None)
        return stats.histogram_snapshot() if stats is not None else None

    async def queue_stats(self) -> dict[str, Any]:
        """Heal and GC queue depths, write intents (``MetaStore.maintenance_stats``)."""
        return await self.meta.maintenance_stats()

    def versions(self, bucket: str | None = None, prefix: str = "") -> AsyncIterator[VersionRecord]:
        """Every version of every bucket (or one bucket under a prefix), in listing order."""
        return walk_versions(self.meta, bucket, prefix)

    async def backup(self, dest: str) -> None:
        """A consistent copy of the metadata store in ``dest`` (``backup_metadata``)."""
        await backup_metadata(self.meta, dest)


# --------------------------------------------------------------------------- manifest


def manifest_entry(rec: VersionRecord) -> dict[str, Any]:
    """One manifest line: the version and where its shards are.

    >>> manifest_entry(VersionRecord(bucket="b", key="k", size=3, etag="e", inline=b"abc"))["storage"]
    'inline'
    """
    layout = rec.layout
    placement: list[dict[str, Any]] = []
    if layout is not None and layout.parts is not None:
        storage = "multipart"
        for i, p in enumerate(layout.parts, 1):
            placement.append({"part": i, "size": p.size, **_shard_set(p.shards)})
    elif layout is not None and layout.shards is not None:
        storage = "erasure"
        placement.append({"part": None, "size": rec.size, **_shard_set(layout.shards)})
    else:
        storage = "delete-marker" if rec.delete_marker else "inline"
    return {
        "bucket": rec.bucket,
        "key": rec.key,
        "version_id": rec.version_id,
        "is_latest": rec.is_latest,
        "delete_marker": rec.delete_marker,
        "size": rec.size,
        "etag": rec.etag,
        "mtime": rec.mtime,
        "storage": storage,
        "placement": placement,
    }


def _shard_set(lay: ShardSet) -> dict[str, Any]:
    out: dict[str, Any] = {"data_id": lay.data_id, "k": lay.k, "m": lay.m, "ec": lay.ec, "block_size": lay.block_size}
    out["shards"] = list(lay.placement)  # shard i lives on drive shards[i]
    if lay.missing:
        out["missing"] = list(lay.missing)
    return out


async def walk_versions(
    meta: MetaStore, bucket: str | None = None, prefix: str = "", page: int = 1000
) -> AsyncIterator[VersionRecord]:
    """Every version of every bucket (or one bucket under a prefix), in listing order."""
    buckets = [bucket] if bucket else [b.name for b in await meta.list_buckets()]
    for b in buckets:
        key_marker = version_marker = ""
        while True:
            p = await meta.list_versions(b, prefix, "", key_marker, version_marker, page)
            for rec in p.entries:
                yield rec
            if not p.truncated:
                break
            key_marker, version_marker = p.next_marker, p.next_version_marker


# --------------------------------------------------------------------------- backups


async def backup_metadata(meta: MetaStore, dest: str) -> None:
    """A consistent copy of the metadata store in ``dest``: SQLite's online
    backup API, or ``pg_dump --format=custom`` (each backend's ``backup``)."""
    backup = getattr(meta, "backup", None)
    if backup is None:
        raise NotImplementedError(f"{type(meta).__name__} has no backup")
    await backup(dest)
    if not await asyncio.to_thread(os.path.exists, dest):
        raise RuntimeError("the backup produced no file")


__all__ = [
    "DriveState",
    "Maintenance",
    "MaintenanceState",
    "Operations",
    "StorageProbe",
    "StorageState",
    "Usage",
    "backup_metadata",
    "manifest_entry",
    "quick_storage_state",
    "walk_versions",
]

"""The MetaStore contract: the same assertions for every backend, SQLite and PostgreSQL.

Every test here runs once per backend (``store`` is parametrised); PostgreSQL
is a real server (tests/services.py), each test in a fresh database.
"""

from __future__ import annotations

import asyncio

import pytest

from s3gw.common.records import Checksum, ObjectInfo, ObjectLayout, Part, ShardSet
from s3gw.meta import migrate
from s3gw.meta.base import (
    BucketExists,
    BucketMissing,
    BucketNotEmptyError,
    MetaStore,
    SchemaTooNew,
    SchemaTooOld,
    UploadMissing,
    common_prefix,
    successor,
)
from s3gw.meta.model import NULL_VERSION, BucketRecord, PartRecord, UploadRecord, VersionRecord
from s3gw.meta.postgres import PostgresMeta
from s3gw.meta.sqlite import SqliteMeta


class Backend:
    """One backend and one database; ``open()`` gives another store on it (another gateway)."""

    def __init__(self, name: str, request: pytest.FixtureRequest, tmp_path) -> None:
        self.name = name
        self.opened: list[MetaStore] = []
        if name == "sqlite":
            self.path = str(tmp_path / "meta.db")
        else:
            self.pg = request.getfixturevalue("postgres")
            self.dsn = self.pg.dsn(self.pg.new_database())

    def make(self, **kw) -> MetaStore:
        if self.name == "sqlite":
            return SqliteMeta(self.path, **kw)
        return PostgresMeta(self.dsn, **kw)

    async def open(self, **kw) -> MetaStore:
        s = self.make(**kw)
        await s.open()
        self.opened.append(s)
        return s

    async def close(self) -> None:
        for s in self.opened:
            await s.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request, tmp_path) -> Backend:
    b = Backend(request.param, request, tmp_path)
    yield b
    await b.close()


@pytest.fixture
async def store(backend: Backend) -> MetaStore:
    return await backend.open()


async def put(store: MetaStore, bucket: str, key: str, vid: str = "v", **kw) -> VersionRecord:
    return await store.put_version(VersionRecord(bucket=bucket, key=key, version_id=vid, mtime=1.0, **kw))


def shards(data_id: str, *placement: str, size: int = 0) -> ShardSet:
    """A shard set as the store keeps it (the store never reads its geometry: k drives, no parity)."""
    drives = placement or ("n1",)
    return ShardSet(data_id, size, len(drives), 0, "stripe", 1, 1, 1, "blake3", drives)


def single(data_id: str, *placement: str, size: int = 0) -> ObjectLayout:
    return ObjectLayout.single(shards(data_id, *placement, size=size))


async def test_buckets(store: MetaStore) -> None:
    await store.create_bucket(BucketRecord("b1", 1.0))
    with pytest.raises(BucketExists):
        await store.create_bucket(BucketRecord("b1", 2.0))
    await store.create_bucket(BucketRecord("a0", 1.0))
    assert [b.name for b in await store.list_buckets()] == ["a0", "b1"]
    await put(store, "b1", "k")
    with pytest.raises(BucketNotEmptyError):
        await store.delete_bucket("b1")
    await store.delete_bucket("a0")
    assert await store.get_bucket("a0") is None


KEYS = ["a", "a/b", "a/c/d", "a/c/e", "ab", "b", "é", "z/", "\U0001f600", "a\x7f", "a/c0"]


async def test_listing_is_binary_ordered_and_paginates(store: MetaStore) -> None:
    await store.create_bucket(BucketRecord("b", 1.0))
    for k in KEYS:
        await put(store, "b", k)
    expected = sorted(KEYS, key=str.encode)
    for page in (1, 2, 3, 100):
        got, marker = [], ""
        while True:
            p = await store.list_objects("b", "", "", marker, page)
            got += [e.key for e in p.entries]
            if not p.truncated:
                break
            marker = p.next_marker
        assert got == expected


async def test_delimiter_pages_never_repeat_prefixes(store: MetaStore) -> None:
    await store.create_bucket(BucketRecord("b", 1.0))
    for k in KEYS:
        await put(store, "b", k)
    for page in (1, 2, 5):
        keys, prefixes, marker = [], [], ""
        while True:
            p = await store.list_objects("b", "", "/", marker, page)
            keys += [e.key for e in p.entries]
            prefixes += p.prefixes
            if not p.truncated:
                break
            marker = p.next_marker
        assert prefixes == ["a/", "z/"]
        assert keys == sorted([k for k in KEYS if "/" not in k], key=str.encode)
    p = await store.list_objects("b", "a/", "/", "", 10)
    assert [e.key for e in p.entries] == ["a/b", "a/c0"] and p.prefixes == ["a/c/"]


async def test_versions_and_delete_markers(store: MetaStore) -> None:
    await store.create_bucket(BucketRecord("b", 1.0, versioning="Enabled"))
    for v in ("v1", "v2", "v3"):
        await put(store, "b", "k", v)
    latest = await store.get_version("b", "k")
    assert latest.version_id == "v3" and latest.is_latest
    removed, marker = await store.delete_object(
        "b", "k", None, VersionRecord(bucket="b", key="k", version_id="dm", mtime=2.0, delete_marker=True)
    )
    assert removed is None and marker.version_id == "dm"
    assert (await store.list_objects("b", "", "", "", 10)).entries == []
    page = await store.list_versions("b", "", "", "", "", 10)
    assert [(e.version_id, e.is_latest, e.delete_marker) for e in page.entries] == [
        ("dm", True, True),
        ("v3", False, False),
        ("v2", False, False),
        ("v1", False, False),
    ]
    # paginate versions one at a time: no skips, no repeats
    seen, km, vm = [], "", ""
    while True:
        p = await store.list_versions("b", "", "", km, vm, 1)
        seen += [e.version_id for e in p.entries]
        if not p.truncated:
            break
        km, vm = p.next_marker, p.next_version_marker
    assert seen == ["dm", "v3", "v2", "v1"]
    # removing the marker makes v3 the latest again
    await store.delete_object("b", "k", "dm", VersionRecord(bucket="b", key="k"))
    assert (await store.get_version("b", "k")).version_id == "v3"


async def test_unversioned_overwrite_queues_gc(store: MetaStore) -> None:
    await store.create_bucket(BucketRecord("b", 1.0))
    await put(store, "b", "k", layout=single("one"))
    await put(store, "b", "k", layout=single("two"))
    assert (await store.get_version("b", "k")).layout == single("two")
    gc = await store.take_gc(10)
    assert [lay for _, lay in gc] == [shards("one")]
    await store.done_gc([i for i, _ in gc])
    assert await store.take_gc(10) == []


def test_successor_and_common_prefix() -> None:
    assert successor(b"a/") == b"a0"
    assert successor(b"\xff\xff") is None
    assert common_prefix(b"a/b/c", b"a/", b"/") == b"a/b/"
    assert common_prefix(b"a/b", b"a/", b"") is None


# --------------------------------------------------------------------------- schema and migrations


async def test_migrations_apply_once_and_refuse_a_newer_schema(backend: Backend) -> None:
    first = await backend.open()
    newest = migrate.latest_version()
    assert await first.schema_version() == newest
    assert first.applied == [n for n, _ in migrate.migrations("sqlite")]
    again = await backend.open()
    assert again.applied == [] and await again.schema_version() == newest
    # a later s3gw migrated this database: an older one must not touch it
    if backend.name == "sqlite":
        await first._run(lambda: first._conn().execute("INSERT INTO schema_version VALUES (?)", (newest + 1,)))
    else:
        await first._read(lambda c: c.execute("INSERT INTO schema_version VALUES ($1)", newest + 1))
    with pytest.raises(SchemaTooNew):
        await backend.make().open()


async def test_without_auto_migrate_an_old_schema_is_refused(backend: Backend) -> None:
    with pytest.raises(SchemaTooOld):
        await backend.make(auto_migrate=False).open()
    await backend.open()  # `s3gw meta migrate` does this
    s = await backend.open(auto_migrate=False)
    assert await s.schema_version() == migrate.latest_version()


def test_both_dialects_get_the_same_migrations() -> None:
    sq, pg = migrate.migrations("sqlite"), migrate.migrations("postgres")
    numbers = [n for n, _ in sq]
    # numbered from 1, increasing, each once; a number handed to a branch still being merged may be
    # missing for a while (the integrated tree has them all)
    assert numbers == [n for n, _ in pg] == sorted(set(numbers)) and numbers[0] == 1
    for (_, a), (_, b) in zip(sq, pg):
        assert "{{" not in a and "{{" not in b
        assert len(migrate.split_statements(a)) == len(migrate.split_statements(b))


# --------------------------------------------------------------------------- buckets and versions


async def test_bucket_updates(store: MetaStore) -> None:
    with pytest.raises(BucketMissing):
        await store.update_bucket("nope", versioning="Enabled")
    with pytest.raises(BucketMissing):
        await store.delete_bucket("nope")
    await store.create_bucket(BucketRecord("b", 5.0))
    await store.update_bucket("b", versioning="Enabled", object_lock=True, config={"lock": {"mode": "GOVERNANCE"}})
    b = await store.get_bucket("b")
    assert (b.name, b.created, b.versioning, b.object_lock, b.config) == (
        "b",
        5.0,
        "Enabled",
        True,
        {"lock": {"mode": "GOVERNANCE"}},
    )
    with pytest.raises(BucketMissing):
        await put(store, "nope", "k")


async def test_bucket_names_list_in_byte_order(store: MetaStore) -> None:
    # a linguistic collation would put "a-b" / "a.b" next to "ab"; S3 lists bytes
    names = ["ab", "a-b", "a.b", "a0", "b", "a"]
    for n in names:
        await store.create_bucket(BucketRecord(n, 1.0))
    assert [b.name for b in await store.list_buckets()] == sorted(names, key=str.encode)


async def test_record_fields_round_trip(store: MetaStore) -> None:
    await store.create_bucket(BucketRecord("b", 1.0))
    info = ObjectInfo(
        content_type="text/plain", user_meta={"x-amz-meta-é": "ü"}, checksum=Checksum("CRC32", "AAAAAA==")
    )
    rec = await put(store, "b", "dir/ключ", size=5, etag="e" * 32, info=info, inline=b"\x00\xffabc")
    got = await store.get_version("b", "dir/ключ")
    assert (got.key, got.version_id, got.size, got.etag, got.info, got.inline, got.layout, got.seq) == (
        "dir/ключ",
        NULL_VERSION,
        5,
        "e" * 32,
        info,
        b"\x00\xffabc",
        None,
        rec.seq,
    )
    assert got.mtime == 1.0 and got.is_latest and not got.delete_marker
    lay = single("d1", "n1", "n2", size=9)
    await put(store, "b", "big", size=9, layout=lay)
    assert (await store.get_version("b", "big")).layout == lay
    assert await store.update_info("b", "big", NULL_VERSION, ObjectInfo(tags={"a": "b"})) is True
    assert (await store.get_version("b", "big")).info == ObjectInfo(tags={"a": "b"})
    assert await store.update_info("b", "gone", NULL_VERSION, ObjectInfo()) is False


async def test_suspended_versioning_replaces_the_null_version(store: MetaStore) -> None:
    await store.create_bucket(BucketRecord("b", 1.0, versioning="Enabled"))
    await put(store, "b", "k", "v1", layout=single("v1"))
    await store.update_bucket("b", versioning="Suspended")
    await put(store, "b", "k", "ignored", layout=single("n1"))
    await put(store, "b", "k", "ignored", layout=single("n2"))
    page = await store.list_versions("b", "", "", "", "", 10)
    assert [(e.version_id, e.is_latest) for e in page.entries] == [(NULL_VERSION, True), ("v1", False)]
    assert [lay for _, lay in await store.take_gc(10)] == [shards("n1")]
    removed, marker = await store.delete_object(
        "b", "k", None, VersionRecord(bucket="b", key="k", version_id="m", delete_marker=True)
    )
    assert removed.layout == single("n2") and marker.version_id == NULL_VERSION
    latest = await store.get_version("b", "k")
    assert latest.delete_marker and latest.version_id == NULL_VERSION
    # deleting the marker by id brings v1 back
    await store.delete_object("b", "k", NULL_VERSION, VersionRecord(bucket="b", key="k"))
    assert (await store.get_version("b", "k")).version_id == "v1"


async def test_delete_checks_run_inside_the_transaction(store: MetaStore) -> None:
    await store.create_bucket(BucketRecord("b", 1.0, versioning="Enabled"))
    await put(store, "b", "k", "v1", info=ObjectInfo(legal_hold="ON"))

    class Locked(Exception):
        pass

    def check(victim: VersionRecord) -> None:
        if victim.info.legal_hold:
            raise Locked(victim.version_id)

    with pytest.raises(Locked):
        await store.delete_object("b", "k", "v1", VersionRecord(bucket="b", key="k"), check)
    assert (await store.get_version("b", "k", "v1")) is not None
    assert await store.delete_object("b", "k", "nope", VersionRecord(bucket="b", key="k"), check) == (None, None)
    await store.update_info("b", "k", "v1", ObjectInfo())
    removed, _ = await store.delete_object("b", "k", "v1", VersionRecord(bucket="b", key="k"), check)
    assert removed.version_id == "v1" and await store.get_version("b", "k") is None


async def test_update_layout_is_compare_and_swap(store: MetaStore) -> None:
    await store.create_bucket(BucketRecord("b", 1.0))
    await put(store, "b", "k", layout=single("a", "n1"))
    assert await store.update_layout("b", "k", NULL_VERSION, single("zz"), single("b")) is False
    assert await store.update_layout("b", "k", NULL_VERSION, single("a", "n1"), single("a", "n2")) is True
    assert (await store.get_version("b", "k")).layout == single("a", "n2")
    assert await store.update_layout("b", "gone", NULL_VERSION, single("a"), single("b")) is False
    # a re-encode: the old shard set is queued for GC with the swap, and only when it happens
    old = single("a", "n2")
    assert await store.update_layout("b", "k", NULL_VERSION, single("zz"), single("c"), [old.shards]) is False
    assert await store.take_gc(10) == []
    assert await store.update_layout("b", "k", NULL_VERSION, old, single("c"), [old.shards]) is True
    assert [s for _, s in await store.take_gc(10)] == [old.shards]


# --------------------------------------------------------------------------- listing and pagination


async def test_prefix_marker_and_version_pagination(store: MetaStore) -> None:
    await store.create_bucket(BucketRecord("b", 1.0, versioning="Enabled"))
    keys = [f"p/{i:03d}" for i in range(25)] + ["p/sub/x", "p/sub/y", "q"]
    for k in keys:
        for v in ("1", "2"):
            await put(store, "b", k, f"{k}-{v}")
    page = await store.list_objects("b", "p/", "", "p/010", 5)
    assert [e.key for e in page.entries] == [f"p/{i:03d}" for i in range(11, 16)]
    assert page.truncated and page.next_marker == "p/015"
    page = await store.list_objects("b", "p/", "/", "p/020", 100)
    assert [e.key for e in page.entries] == [f"p/{i:03d}" for i in range(21, 25)] and page.prefixes == ["p/sub/"]
    # versions under a prefix with a delimiter, two at a time, never repeating
    seen, km, vm = [], "", ""
    while True:
        p = await store.list_versions("b", "p/0", "/", km, vm, 3)
        seen += [(e.key, e.version_id) for e in p.entries]
        if not p.truncated:
            break
        km, vm = p.next_marker, p.next_version_marker
    assert seen == [(f"p/{i:03d}", f"p/{i:03d}-{v}") for i in range(25) for v in ("2", "1")]
    # an empty page and a marker past the end
    assert (await store.list_objects("b", "zzz", "", "", 10)).entries == []
    end = await store.list_objects("b", "", "", "r", 10)
    assert end.entries == [] and not end.truncated


async def test_listing_skips_delete_markers_and_old_versions(store: MetaStore) -> None:
    await store.create_bucket(BucketRecord("b", 1.0, versioning="Enabled"))
    for i in range(10):
        await put(store, "b", f"k{i}", "v1")
        await put(store, "b", f"k{i}", "v2")
    for i in range(0, 10, 2):
        await store.delete_object(
            "b", f"k{i}", None, VersionRecord(bucket="b", key=f"k{i}", version_id=f"dm{i}", delete_marker=True)
        )
    got, marker = [], ""
    while True:
        p = await store.list_objects("b", "", "", marker, 2)
        got += [(e.key, e.version_id) for e in p.entries]
        if not p.truncated:
            break
        marker = p.next_marker
    assert got == [(f"k{i}", "v2") for i in range(1, 10, 2)]


async def test_the_listing_query_is_an_index_range_scan(store: MetaStore) -> None:
    """No full scan and no sort: a page costs its length, whatever the bucket holds."""
    await store.create_bucket(BucketRecord("b", 1.0))
    for i in range(50):
        await put(store, "b", f"k{i:03d}")
    if isinstance(store, SqliteMeta):
        q = (
            "EXPLAIN QUERY PLAN SELECT key FROM versions WHERE bucket = ? AND is_latest = 1 AND delete_marker = 0"
            " AND key >= ? AND key < ? ORDER BY key LIMIT ?"
        )
        rows = await store._run(lambda: store._conn().execute(q, ("b", b"k", b"l", 10)).fetchall())
        plan = " ".join(str(r[-1]) for r in rows)
        assert "versions_live" in plan and "TEMP B-TREE" not in plan, plan
    else:

        async def explain(c):
            await c.execute("SET enable_seqscan = off")  # small table: ask what the index path looks like
            return await c.fetch(
                "EXPLAIN SELECT key FROM versions WHERE bucket = $1 AND is_latest = 1 AND delete_marker = 0"
                " AND key >= $2 AND key < $3 ORDER BY key LIMIT $4",
                "b",
                b"k",
                b"l",
                10,
            )

        plan = " ".join(r[0] for r in await store._read(explain))
        assert "versions_live" in plan and "Sort" not in plan, plan


# --------------------------------------------------------------------------- multipart


async def test_multipart_state(store: MetaStore) -> None:
    await store.create_bucket(BucketRecord("b", 1.0))
    with pytest.raises(BucketMissing):
        await store.create_upload(UploadRecord("u0", "nope", "k", 1.0))
    await store.create_upload(UploadRecord("u1", "b", "k", 1.0, ObjectInfo(content_type="a/b")))
    assert (await store.get_upload("b", "k", "u1")).info == ObjectInfo(content_type="a/b")
    assert await store.get_upload("b", "other", "u1") is None
    for n in (3, 1, 2):
        await store.put_part(
            PartRecord("u1", n, 10, f"e{n}", 1.0, shards(f"p{n}"), ObjectInfo(checksum=Checksum("CRC32", str(n))))
        )
    await store.put_part(PartRecord("u1", 2, 11, "e2b", 2.0, shards("p2b")))  # replaced: p2 to GC
    parts = await store.list_parts("u1")
    assert [(p.part_number, p.etag, p.layout.data_id) for p in parts] == [
        (1, "e1", "p1"),
        (2, "e2b", "p2b"),
        (3, "e3", "p3"),
    ]
    assert parts[0].info == ObjectInfo(checksum=Checksum("CRC32", "1"))
    assert [p.part_number for p in await store.list_parts("u1", after=1, limit=1)] == [2]
    assert [lay for _, lay in await store.take_gc(10)] == [shards("p2")]
    rec = VersionRecord(
        bucket="b",
        key="k",
        version_id="v",
        mtime=3.0,
        size=20,
        layout=ObjectLayout.multipart([Part(1, 10, "e1", shards("p1")), Part(2, 11, "e2b", shards("p2b"))]),
    )
    out = await store.complete_upload("u1", rec, keep=[1, 2])
    assert out.is_latest and (await store.get_version("b", "k")).layout == rec.layout
    assert await store.get_upload("b", "k", "u1") is None and await store.list_parts("u1") == []
    assert [lay for _, lay in await store.take_gc(10)][-1] == shards("p3")  # the part left out
    with pytest.raises(UploadMissing):
        await store.complete_upload("u1", rec, keep=[1])
    with pytest.raises(UploadMissing):
        await store.put_part(PartRecord("u1", 4, 1, "e", 1.0, shards("late")))
    # abort: every part goes to GC
    await store.create_upload(UploadRecord("u2", "b", "k2", 1.0))
    await store.put_part(PartRecord("u2", 1, 1, "e", 1.0, shards("a1")))
    await store.abort_upload("b", "k2", "u2")
    assert shards("a1") in [lay for _, lay in await store.take_gc(100)]
    with pytest.raises(UploadMissing):
        await store.abort_upload("b", "k2", "u2")
    # an overwritten multipart object queues every part's shards
    await put(store, "b", "k", layout=single("single"))
    gc = [lay for _, lay in await store.take_gc(100)]
    assert shards("p1") in gc and shards("p2b") in gc


async def test_list_uploads_pages(store: MetaStore) -> None:
    await store.create_bucket(BucketRecord("b", 1.0))
    ups = [
        ("a/1", "u1", 1.0),
        ("a/1", "u0", 2.0),
        ("a/2", "u2", 1.0),
        ("b", "u3", 1.0),
        ("b", "u4", 1.0),
        ("c/x", "u5", 1.0),
    ]
    for key, uid, t in ups:
        await store.create_upload(UploadRecord(uid, "b", key, t))
    expected = [("a/1", "u1"), ("a/1", "u0"), ("a/2", "u2"), ("b", "u3"), ("b", "u4"), ("c/x", "u5")]
    for size in (1, 2, 4, 100):
        got, km, um = [], "", ""
        while True:
            p = await store.list_uploads("b", "", "", km, um, size)
            got += [(u.key, u.upload_id) for u in p.uploads]
            if not p.truncated:
                break
            km, um = p.next_key_marker, p.next_upload_id_marker
        assert got == expected, size
    p = await store.list_uploads("b", "", "/", "", "", 10)
    assert [(u.key, u.upload_id) for u in p.uploads] == [("b", "u3"), ("b", "u4")] and p.prefixes == ["a/", "c/"]


# --------------------------------------------------------------------------- queues


async def test_gc_queue_defer_and_order(store: MetaStore) -> None:
    await store.enqueue_gc([shards(f"d{i}") for i in range(5)])
    items = await store.take_gc(3)
    assert [lay.data_id for _, lay in items] == ["d0", "d1", "d2"]
    await store.defer_gc([items[0][0]], until=9e9)
    await store.done_gc([items[1][0]])
    assert [lay.data_id for _, lay in await store.take_gc(10)] == ["d2", "d3", "d4"]
    assert (await store.maintenance_stats())["gc_queued"] == 4


async def test_heal_queue_and_write_intents(store: MetaStore) -> None:
    await store.enqueue_heal("b", "k", "v1", "read missed shard 3")
    await store.enqueue_heal("b", "k", "v1", "again")  # one row per version
    await store.enqueue_heal("b", "k2", "v1", "x")
    items = await store.take_heal(10)
    assert [(i.key, i.reason, i.attempts) for i in items] == [("k", "read missed shard 3", 0), ("k2", "x", 0)]
    await store.finish_heal(items[0].id, "retry", "drive down", retry_at=9e9)
    await store.finish_heal(items[1].id, "failed", "lost")
    assert await store.take_heal(10) == []
    stats = await store.maintenance_stats()
    assert (stats["heal_queued"], stats["heal_failed"]) == (1, 1)
    await store.clear_heal("b", "k", "v1")
    assert (await store.maintenance_stats())["heal_queued"] == 0

    await store.begin_write("d1", ["n1", "n2"])
    await store.begin_write("d1", ["n1", "n2"])  # idempotent
    await store.begin_write("d2", ["n3"])
    stale = await store.stale_writes(9e9, 10)
    assert [(w.data_id, w.placement) for w in stale] == [("d1", ["n1", "n2"]), ("d2", ["n3"])]
    assert await store.stale_writes(0, 10) == []
    await store.end_write(["d1"])
    assert [w.data_id for w in await store.stale_writes(9e9, 10)] == ["d2"]
    await store.create_bucket(BucketRecord("b", 1.0))
    assert not await store.data_referenced("d2" * 16)
    await put(store, "b", "k", layout=single("d2" * 16))
    assert await store.data_referenced("d2" * 16)


# --------------------------------------------------------------------------- concurrency (two stores = two gateways)


async def test_conditional_create_has_exactly_one_winner(backend: Backend) -> None:
    a, b = await backend.open(), await backend.open()
    await a.create_bucket(BucketRecord("b", 1.0, versioning="Enabled"))

    class Exists(Exception):
        pass

    def if_none_match(latest: VersionRecord | None, _replaced: VersionRecord | None) -> None:
        if latest is not None and not latest.delete_marker:
            raise Exists()

    async def attempt(store: MetaStore, round_: int, i: int) -> bool:
        try:
            await store.put_version(
                VersionRecord(bucket="b", key="k", version_id=f"v{round_}-{i}", mtime=1.0), if_none_match
            )
            return True
        except Exists:
            return False

    for round_ in range(3):
        # the key is absent, then (round 1, 2) hidden behind a delete marker: a create again
        results = await asyncio.gather(*(attempt(s, round_, i) for i, s in enumerate([a, b] * 8)))
        assert sum(results) == 1
        await a.delete_object(
            "b", "k", None, VersionRecord(bucket="b", key="k", version_id=f"dm{round_}", delete_marker=True)
        )


async def test_concurrent_writes_keep_exactly_one_latest(backend: Backend) -> None:
    a, b = await backend.open(), await backend.open()
    await a.create_bucket(BucketRecord("b", 1.0, versioning="Enabled"))
    await put(a, "b", "k", "v0")

    async def writer(store: MetaStore, n: int) -> None:
        for i in range(6):
            await put(store, "b", "k", f"w{n}-{i}")

    async def deleter(store: MetaStore, n: int) -> None:
        for i in range(6):
            await store.delete_object(
                "b", "k", None, VersionRecord(bucket="b", key="k", version_id=f"dm{n}-{i}", delete_marker=True)
            )
            latest = await store.get_version("b", "k")
            if latest is not None:  # remove whatever is latest now, by id (it may be gone already)
                await store.delete_object("b", "k", latest.version_id, VersionRecord(bucket="b", key="k"))

    await asyncio.gather(writer(a, 0), writer(b, 1), deleter(a, 0), deleter(b, 1))
    page = await a.list_versions("b", "", "", "", "", 1000)
    assert sum(e.is_latest for e in page.entries) == 1
    assert page.entries[0].is_latest
    seqs = [e.seq for e in page.entries]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs)


async def test_unversioned_overwrites_race_to_one_null_version(backend: Backend) -> None:
    a, b = await backend.open(), await backend.open()
    await a.create_bucket(BucketRecord("b", 1.0))
    await asyncio.gather(*(put(s, "b", "k", layout=single(f"d{i}")) for i, s in enumerate([a, b] * 6)))
    page = await a.list_versions("b", "", "", "", "", 100)
    assert [(e.version_id, e.is_latest) for e in page.entries] == [(NULL_VERSION, True)]
    winner = page.entries[0].layout.shards.data_id
    gc = [lay.data_id for _, lay in await a.take_gc(100)]
    assert sorted(gc + [winner]) == sorted(f"d{i}" for i in range(12))  # every loser's shards to GC, once


async def test_two_completes_of_one_upload_have_one_winner(backend: Backend) -> None:
    a, b = await backend.open(), await backend.open()
    await a.create_bucket(BucketRecord("b", 1.0))
    await a.create_upload(UploadRecord("u", "b", "k", 1.0))
    await a.put_part(PartRecord("u", 1, 1, "e", 1.0, shards("p1")))

    async def complete(store: MetaStore, vid: str) -> str:
        rec = VersionRecord(
            bucket="b", key="k", version_id=vid, layout=ObjectLayout.multipart([Part(1, 1, "e", shards("p1"))])
        )
        try:
            await store.complete_upload("u", rec, [1])
            return "won"
        except UploadMissing:
            return "lost"

    assert sorted(await asyncio.gather(complete(a, "x"), complete(b, "y"), complete(a, "z"))) == ["lost", "lost", "won"]


async def test_delete_bucket_races_a_write(backend: Backend) -> None:
    a, b = await backend.open(), await backend.open()
    for i in range(4):
        await a.create_bucket(BucketRecord(f"b{i}", 1.0))

    async def delete(name: str) -> str:
        try:
            await a.delete_bucket(name)
            return "deleted"
        except BucketNotEmptyError:
            return "not-empty"

    async def write(name: str) -> str:
        try:
            await put(b, name, "k")
            return "written"
        except BucketMissing:
            return "missing"

    for i in range(4):
        outcome = sorted(await asyncio.gather(delete(f"b{i}"), write(f"b{i}")))
        assert outcome in (["deleted", "missing"], ["not-empty", "written"])
        exists = await a.get_bucket(f"b{i}") is not None
        assert exists == (outcome == ["not-empty", "written"])


# --------------------------------------------------------------------------- the listing walk against a model


def model_list(
    keys: list[str], prefix: str, delimiter: str, marker: str, max_keys: int
) -> tuple[list[str], list[str], bool]:
    """ListObjects by brute force: keys after the marker, rolled up, first ``max_keys`` entries."""
    pb, db, mb = prefix.encode(), delimiter.encode(), marker.encode()
    out: list[tuple[str, str]] = []
    for k in sorted(set(keys), key=str.encode):
        kb = k.encode()
        if not kb.startswith(pb) or kb <= mb:
            continue
        cp = common_prefix(kb, pb, db)
        if cp is not None:
            if cp == mb or (out and out[-1] == ("p", cp.decode())):
                continue
            out.append(("p", cp.decode()))
        else:
            out.append(("k", k))
    page = out[:max_keys]
    return [v for t, v in page if t == "k"], [v for t, v in page if t == "p"], len(out) > max_keys


async def test_listing_matches_a_brute_force_model(store: MetaStore) -> None:
    import random

    rnd = random.Random(5)
    await store.create_bucket(BucketRecord("b", 1.0))
    alphabet = ["a", "b", "/", "é", "-", "z"]
    keys = sorted({"".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 6))) for _ in range(300)})
    for k in keys:
        await put(store, "b", k)
    # big directories too: the roll-up must skip them in one seek, whatever their size
    for d in ("big/", "a/big/"):
        for i in range(150):
            keys.append(f"{d}{i:04d}")
            await put(store, "b", f"{d}{i:04d}")
    for _ in range(150):
        prefix = rnd.choice(["", "", "a", "a/", "b", "big/", "é"])
        delimiter = rnd.choice(["", "/", "/", "b", "é", "a/"])
        marker = rnd.choice(["", "", rnd.choice(keys), "a/", "b/", "big/0100"])
        max_keys = rnd.choice([1, 2, 3, 7, 50, 1000])
        page = await store.list_objects("b", prefix, delimiter, marker, max_keys)
        want = model_list(keys, prefix, delimiter, marker, max_keys)
        got = ([e.key for e in page.entries], page.prefixes, page.truncated)
        assert got == want, (prefix, delimiter, marker, max_keys)


async def test_bucket_policies(backend: Backend) -> None:
    """One policy per bucket (0005_bucket_policies.sql), seen by every gateway, gone with its bucket."""
    store = await backend.open()
    other = await backend.open()  # another gateway on the same database
    assert await store.get_bucket_policy("b") is None
    with pytest.raises(BucketMissing):
        await store.put_bucket_policy("b", '{"Version":"2012-10-17"}')
    await store.create_bucket(BucketRecord("b", 1.0))
    await store.put_bucket_policy("b", '{"v":1}')
    assert await other.get_bucket_policy("b") == '{"v":1}'
    await store.put_bucket_policy("b", '{"v":2}')  # replaced, not added
    assert await other.get_bucket_policy("b") == '{"v":2}'
    assert await store.delete_bucket_policy("b") is True
    assert await store.delete_bucket_policy("b") is False
    assert await other.get_bucket_policy("b") is None
    # a bucket's policy goes with it: a new bucket of the same name starts without one
    await store.put_bucket_policy("b", '{"v":3}')
    await store.delete_bucket("b")
    assert await store.get_bucket_policy("b") is None
    await store.create_bucket(BucketRecord("b", 2.0))
    assert await other.get_bucket_policy("b") is None


# --------------------------------------------------------------------------- bucket notifications (0010)


def _note(config: str, rec: VersionRecord, what: str) -> list[tuple[str, str]]:
    """A hook as the core gives it: one outbox row per change, naming what happened."""
    return [("1:webhook", f"{what}:{rec.key}:{rec.version_id}:{config}")]


async def test_outbox_rows_are_written_by_the_change_itself(store: MetaStore) -> None:
    await store.create_bucket(BucketRecord("nb", 1.0, versioning="Enabled"))
    # no configuration: the hook is not even asked
    await store.put_version(VersionRecord(bucket="nb", key="a", version_id="v0", mtime=1.0, event=_note))
    assert await store.take_outbox(10, 1e12, 60) == []
    await store.put_bucket_notification("nb", "cfg")
    assert await store.get_bucket_notification("nb") == "cfg"
    await store.put_version(VersionRecord(bucket="nb", key="a", version_id="v1", mtime=2.0, event=_note))
    # a write whose check fails queues nothing (the same transaction rolls back)

    def refuse(latest: VersionRecord | None, replaced: VersionRecord | None) -> None:
        raise RuntimeError("precondition")

    with pytest.raises(RuntimeError):
        await store.put_version(VersionRecord(bucket="nb", key="a", version_id="v2", mtime=3.0, event=_note), refuse)
    marker = VersionRecord(bucket="nb", key="a", version_id="m1", mtime=4.0, delete_marker=True, event=_note)
    await store.delete_object("nb", "a", None, marker)
    gone = VersionRecord(bucket="nb", key="a", version_id="unused", mtime=5.0, delete_marker=True, event=_note)
    await store.delete_object("nb", "a", "v1", gone)
    items = await store.take_outbox(10, 1e12, 60)
    assert [i.payload for i in items] == ["created:a:v1:cfg", "marker:a:m1:cfg", "removed:a:v1:cfg"]
    assert {i.target for i in items} == {"1:webhook"} and all(i.attempts == 0 for i in items)
    # leased: not handed out again until the lease runs out
    assert await store.take_outbox(10, 1e12, 60) == []
    first, second, third = items
    await store.finish_outbox(first.id, "done")
    await store.finish_outbox(second.id, "retry", "refused", retry_at=0.0)
    await store.finish_outbox(third.id, "dead", "gone for good")
    again = await store.take_outbox(10, 2e12, 60)
    assert [(i.id, i.attempts) for i in again] == [(second.id, 1)]
    stats = await store.outbox_stats()
    assert stats["pending"] == 1 and stats["dead"] == 1 and stats["oldest_pending"] > 0
    assert await store.retry_dead_outbox() == 1
    assert (await store.outbox_stats())["dead"] == 0
    # removing the configuration (and the bucket) forgets it
    await store.put_bucket_notification("nb", None)
    assert await store.get_bucket_notification("nb") is None
    with pytest.raises(BucketMissing):
        await store.put_bucket_notification("no-such-bucket", "cfg")


# --------------------------------------------------------------------------- bucket replication (0011)


def _replicate(rec: VersionRecord, what: str) -> list[tuple[str, str]]:
    """A hook as the core gives it: one queue row per change, to one target."""
    return [("arn:minio:replication::t:dst", what)]


async def test_replication_targets(store: MetaStore) -> None:
    with pytest.raises(BucketMissing):
        await store.put_replication_target("arn:1", "nowhere", "{}")
    await store.create_bucket(BucketRecord("rt", 1.0, versioning="Enabled"))
    await store.put_replication_target("arn:1", "rt", '{"endpoint": "http://a"}')
    await store.put_replication_target("arn:2", "rt", '{"endpoint": "http://b"}')
    assert [r[0] for r in await store.list_replication_targets("rt")] == ["arn:1", "arn:2"]
    assert await store.list_replication_targets("other") == []
    assert await store.delete_replication_target("arn:1") is True
    assert await store.delete_replication_target("arn:1") is False
    assert [r[:2] for r in await store.list_replication_targets()] == [("arn:2", "rt")]
    await store.delete_bucket("rt")  # its targets go with it (a new bucket of that name has none)
    assert await store.list_replication_targets() == []


async def test_replication_rows_are_written_by_the_change_itself(store: MetaStore) -> None:
    await store.create_bucket(BucketRecord("rb", 1.0, versioning="Enabled"))
    await store.put_version(
        VersionRecord(bucket="rb", key="a", version_id="v1", mtime=1.0, size=5, replicate=_replicate)
    )
    stored = await store.get_version("rb", "a", "v1")
    assert stored is not None and stored.info.replication_status == "PENDING"

    def refuse(latest: VersionRecord | None, replaced: VersionRecord | None) -> None:
        raise RuntimeError("precondition")

    with pytest.raises(RuntimeError):  # a write that does not commit queues nothing
        await store.put_version(
            VersionRecord(bucket="rb", key="a", version_id="v2", mtime=2.0, replicate=_replicate), refuse
        )
    marker = VersionRecord(bucket="rb", key="a", version_id="m1", mtime=3.0, delete_marker=True, replicate=_replicate)
    await store.delete_object("rb", "a", None, marker)
    await store.put_version(
        VersionRecord(bucket="rb", key="b", version_id="w1", mtime=4.0, size=7, replicate=_replicate)
    )
    assert await store.update_info("rb", "b", "w1", lambda cur: cur.info, _replicate)
    gone = VersionRecord(bucket="rb", key="b", version_id="unused", mtime=5.0, delete_marker=True, replicate=_replicate)
    await store.delete_object("rb", "b", "w1", gone)
    stats = await store.replication_stats()
    assert stats["pending"] == 5 and stats["pending_bytes"] == 5 + 7 and stats["oldest_pending"] > 0
    # first in line per key and target: a's put, b's put; their successors wait for them
    first = await store.take_replication(10, 1e12, 60)
    assert [(i.key, i.version_id, i.op) for i in first] == [("a", "v1", "put"), ("b", "w1", "put")]
    assert await store.take_replication(10, 1e12, 60) == []  # leased, and the rest wait in line
    await store.renew_replication([first[0].id], 3e12)
    a_put, b_put = first
    assert await store.finish_replication(a_put, "done") is True  # nothing else of v1 left
    await store.finish_replication(b_put, "retry", "refused", retry_at=0.0)
    nxt = await store.take_replication(10, 2e12, 60)
    assert [(i.key, i.version_id, i.op, i.attempts) for i in nxt] == [("a", "m1", "marker", 0), ("b", "w1", "put", 1)]
    marker_row, b_again = nxt
    await store.finish_replication(marker_row, "dead", "gone for good")
    assert await store.finish_replication(b_again, "done") is False  # w1's tags row is still to go
    rest = await store.take_replication(10, 3e12, 60)
    assert [(i.key, i.op) for i in rest] == [("b", "tags")]
    await store.finish_replication(rest[0], "done")
    assert [(i.key, i.op) for i in await store.take_replication(10, 4e12, 60)] == [("b", "delete")]
    stats = await store.replication_stats()
    assert stats["dead"] == 1 and stats["targets"]["arn:minio:replication::t:dst"]["dead"] == 1
    assert await store.retry_dead_replication() == 1
    assert await store.queue_replication([("rb", "c", "x1", "arn:x", "put", 3)]) == 1
    assert (await store.replication_stats())["targets"]["arn:x"]["pending"] == 1

"""The MetaStore contract: the same assertions for every backend (SQLite here; PostgreSQL joins later)."""

from __future__ import annotations

import pytest

from s3gw.meta.base import BucketExists, BucketNotEmptyError, MetaStore, common_prefix, successor
from s3gw.meta.model import BucketRecord, VersionRecord
from s3gw.meta.sqlite import SqliteMeta


@pytest.fixture(params=["sqlite"])
async def store(request, tmp_path) -> MetaStore:
    s = SqliteMeta(str(tmp_path / "meta.db"))
    await s.open()
    yield s
    await s.close()


async def put(store: MetaStore, bucket: str, key: str, vid: str = "v", **kw) -> VersionRecord:
    return await store.put_version(VersionRecord(bucket=bucket, key=key, version_id=vid, mtime=1.0, **kw))


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
    removed, marker = await store.delete_object("b", "k", None, VersionRecord(bucket="b", key="k", version_id="dm",
                                                                               mtime=2.0, delete_marker=True))
    assert removed is None and marker.version_id == "dm"
    assert (await store.list_objects("b", "", "", "", 10)).entries == []
    page = await store.list_versions("b", "", "", "", "", 10)
    assert [(e.version_id, e.is_latest, e.delete_marker) for e in page.entries] == [
        ("dm", True, True), ("v3", False, False), ("v2", False, False), ("v1", False, False)]
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
    await put(store, "b", "k", layout={"data_id": "one"})
    await put(store, "b", "k", layout={"data_id": "two"})
    assert (await store.get_version("b", "k")).layout == {"data_id": "two"}
    gc = await store.take_gc(10)
    assert [lay for _, lay in gc] == [{"data_id": "one"}]
    await store.done_gc([i for i, _ in gc])
    assert await store.take_gc(10) == []


def test_successor_and_common_prefix() -> None:
    assert successor(b"a/") == b"a0"
    assert successor(b"\xff\xff") is None
    assert common_prefix(b"a/b/c", b"a/", b"/") == b"a/b/"
    assert common_prefix(b"a/b", b"a/", b"") is None

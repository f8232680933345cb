"""The lifecycle worker's queries and leases (meta/lifecycle.py), the same on SQLite and PostgreSQL."""

from __future__ import annotations

from s3gw.meta.base import MetaStore
from s3gw.meta.lifecycle import FIRST
from s3gw.meta.model import BucketRecord, UploadRecord, VersionRecord
from tests.unit.meta.test_store_contract import Backend, backend, store  # noqa: F401  (fixtures)


async def bucket(store: MetaStore, name: str = "b", versioning: str = "Enabled") -> str:
    await store.create_bucket(BucketRecord(name=name, created=0.0, versioning=versioning))
    return name


async def put(store: MetaStore, key: str, vid: str, mtime: float, **kw) -> VersionRecord:
    return await store.put_version(VersionRecord(bucket="b", key=key, version_id=vid, mtime=mtime, **kw))


async def test_current_versions_by_age_and_prefix(store: MetaStore) -> None:
    await bucket(store)
    await put(store, "logs/a", "1", 10.0)
    await put(store, "logs/b", "2", 5.0)
    await put(store, "other", "3", 1.0)
    await put(store, "logs/c", "4", 50.0)
    got = await store.lifecycle_current("b", "logs/", 20.0, FIRST, 10)
    assert [(r.key, r.mtime) for r in got] == [("logs/b", 5.0), ("logs/a", 10.0)]
    # resumed after the last row of a batch
    page = await store.lifecycle_current("b", "", 100.0, FIRST, 2)
    rest = await store.lifecycle_current(
        "b", "", 100.0, (page[-1].mtime, page[-1].key.encode(), page[-1].version_id), 2
    )
    assert [r.key for r in page + rest] == ["other", "logs/b", "logs/a", "logs/c"]
    assert page[0].inline is None  # no inline bytes read


async def test_delete_markers_only_when_asked(store: MetaStore) -> None:
    await bucket(store)
    await put(store, "k", "1", 1.0)
    await put(store, "k", "2", 2.0, delete_marker=True)
    assert await store.lifecycle_current("b", "", 10.0, FIRST, 10) == []
    (m,) = await store.lifecycle_current("b", "", 10.0, FIRST, 10, markers=True)
    assert m.delete_marker and m.version_id == "2"


async def test_noncurrent_versions_with_successor_time_and_newer_count(store: MetaStore) -> None:
    await bucket(store)
    for i, t in enumerate((1.0, 2.0, 3.0, 4.0)):
        await put(store, "k", f"v{i}", t)
    rows = await store.lifecycle_noncurrent("b", "", 100.0, FIRST, 10)
    # v0 became noncurrent when v1 was written (2.0), and 2 noncurrent versions (v1, v2) are newer
    assert [(r.version_id, since, newer) for r, since, newer in rows] == [
        ("v0", 2.0, 2),
        ("v1", 3.0, 1),
        ("v2", 4.0, 0),
    ]
    assert [r.version_id for r, _, _ in await store.lifecycle_noncurrent("b", "", 2.5, FIRST, 10)] == ["v0", "v1"]
    assert await store.lifecycle_noncurrent("b", "x", 100.0, FIRST, 10) == []


async def test_uploads_by_age(store: MetaStore) -> None:
    await bucket(store)
    await bucket(store, "c")
    for uid, b, key, t in (
        ("u1", "b", "up/a", 1.0),
        ("u2", "b", "keep", 2.0),
        ("u3", "c", "up/x", 3.0),
        ("u4", "b", "up/z", 9.0),
    ):
        await store.create_upload(UploadRecord(upload_id=uid, bucket=b, key=key, initiated=t))
    assert [u.upload_id for u in await store.lifecycle_uploads("b", "up/", 5.0, (-1.0, ""), 10)] == ["u1"]
    assert [u.upload_id for u in await store.lifecycle_uploads(None, "", 5.0, (-1.0, ""), 10)] == ["u1", "u2", "u3"]
    assert [u.upload_id for u in await store.lifecycle_uploads(None, "", 5.0, (2.0, "u2"), 10)] == ["u3"]


async def test_delete_with_expect_changes_nothing_when_the_key_moved_on(store: MetaStore) -> None:
    await bucket(store)
    await put(store, "k", "1", 1.0)
    marker = VersionRecord(bucket="b", key="k", version_id="m", mtime=2.0, delete_marker=True)
    assert await store.delete_object("b", "k", None, marker, expect=lambda newest: newest[0].version_id == "2") == (
        None,
        None,
    )
    assert (await store.get_version("b", "k")).version_id == "1"
    _, created = await store.delete_object("b", "k", None, marker, expect=lambda newest: newest[0].version_id == "1")
    assert created is not None and (await store.get_version("b", "k")).delete_marker


async def test_one_lease_holder_at_a_time(backend: Backend) -> None:
    a, b = await backend.open(), await backend.open()  # two gateways
    assert await a.take_lease("bucket", "A", 60.0, 100.0)
    assert not await b.take_lease("bucket", "B", 60.0, 101.0)
    assert await a.take_lease("bucket", "A", 60.0, 150.0)  # renewed: until 210
    assert not await b.take_lease("bucket", "B", 60.0, 200.0)
    assert await b.take_lease("bucket", "B", 60.0, 211.0)  # A died: expired, taken over
    await a.release_lease("bucket", "A", 212.0, finished=True)  # not A's any more: no effect
    assert not await a.take_lease("bucket", "A", 60.0, 213.0)
    await b.release_lease("bucket", "B", 214.0, finished=True)
    assert (await a.lease_passes())["bucket"] == 214.0
    assert await a.take_lease("bucket", "A", 60.0, 215.0)

"""The MetaStore's users, policies, settings, usage and pool statistics
(0004_users.sql): the same assertions on SQLite and PostgreSQL."""

from __future__ import annotations

from s3gw.meta.base import MetaStore
from s3gw.meta.model import BucketRecord, UserRecord, VersionRecord

from tests.unit.meta.test_store_contract import backend, put, store  # noqa: F401 (fixtures)


async def test_users(store: MetaStore) -> None:
    assert await store.get_user("alice") is None
    rec = UserRecord("alice", b"\x01sealed\x00bytes", "k1", "enabled", ["readonly"], 1.0, 1.0)
    assert await store.put_user(rec) is True
    got = await store.get_user("alice")
    assert got == rec
    rec2 = UserRecord("alice", b"\x01other", "k2", "disabled", ["readwrite", "writeonly"], 5.0, 2.0)
    assert await store.put_user(rec2) is False
    got = await store.get_user("alice")
    assert got.secret_enc == b"\x01other" and got.key_id == "k2" and got.status == "disabled"
    assert got.policies == ["readwrite", "writeonly"] and got.created == 1.0 and got.updated == 2.0
    await store.put_user(UserRecord("Bob", b"x", "k1", created=3.0, updated=3.0))
    await store.put_user(UserRecord("bob", b"y", "k1", created=3.0, updated=3.0))
    assert [u.access_key for u in await store.list_users()] == ["Bob", "alice", "bob"]   # byte order
    assert await store.update_user("alice", status="enabled", policies=[], updated=4.0) is True
    got = await store.get_user("alice")
    assert got.status == "enabled" and got.policies == [] and got.updated == 4.0
    assert await store.update_user("nobody", status="enabled") is False
    assert await store.delete_user("alice") is True
    assert await store.delete_user("alice") is False
    assert await store.get_user("alice") is None


async def test_policies_and_settings(store: MetaStore) -> None:
    assert await store.get_policy("p") is None
    await store.put_policy("p", '{"Statement": []}')
    await store.put_policy("p", '{"Statement": [1]}')
    await store.put_policy("a", "{}")
    assert await store.get_policy("p") == '{"Statement": [1]}'
    assert await store.list_policies() == {"a": "{}", "p": '{"Statement": [1]}'}
    assert await store.delete_policy("p") is True and await store.delete_policy("p") is False
    assert await store.get_setting("maintenance") is None
    await store.set_setting("maintenance", '{"enabled": true}')
    value, updated = await store.get_setting("maintenance")
    assert value == '{"enabled": true}' and updated > 0
    await store.set_setting("maintenance", "x")
    assert (await store.get_setting("maintenance"))[0] == "x"
    await store.set_setting("maintenance", None)
    assert await store.get_setting("maintenance") is None


async def test_usage_and_pool_stats(store: MetaStore) -> None:
    await store.create_bucket(BucketRecord("empty", 1.0))
    await store.create_bucket(BucketRecord("b", 1.0, versioning="Enabled"))
    await put(store, "b", "k1", "v1", size=10)
    await put(store, "b", "k1", "v2", size=20)
    await put(store, "b", "k2", "v3", size=5)
    await store.put_version(VersionRecord(bucket="b", key="k2", version_id="dm", mtime=2.0, delete_marker=True))
    u = await store.usage()
    assert u["empty"] == {"versions": 0, "objects": 0, "bytes": 0, "delete_markers": 0}
    assert u["b"] == {"versions": 4, "objects": 1, "bytes": 20, "delete_markers": 1}
    stats = store.pool_stats()
    assert stats["calls"] > 0 and stats["in_use"] == 0 and stats["waiting"] == 0
    assert stats["latency_ms"]["p50"] >= 0 and stats["pool_size"] >= 1

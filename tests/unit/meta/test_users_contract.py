"""The MetaStore's users, policies, settings, usage and pool statistics
(0004_users.sql): the same assertions on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

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
    assert [u.access_key for u in await store.list_users()] == ["Bob", "alice", "bob"]  # byte order
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


async def test_credentials_of_a_user(store: MetaStore) -> None:
    """Service accounts and temporary credentials share the users' table (one access-key
    namespace), hang under a user, and go with it."""
    from s3gw.meta.base import UserMissing

    await store.put_user(UserRecord("alice", b"s", "k1", created=1.0, updated=1.0))
    sa = UserRecord(
        "SVC1",
        b"x",
        "k1",
        "enabled",
        [],
        2.0,
        2.0,
        kind="svcacct",
        parent="alice",
        info={"name": "ci", "policy": '{"Statement":[]}'},
    )
    assert await store.add_credential(sa) is True
    assert await store.add_credential(sa) is False  # the key is taken
    taken = UserRecord("alice", b"x", "k1", kind="svcacct", parent="alice")
    assert await store.add_credential(taken) is False  # users' keys too
    with pytest.raises(UserMissing):
        await store.add_credential(UserRecord("SVC2", b"x", "k1", kind="svcacct", parent="nobody"))
    with pytest.raises(UserMissing):  # a credential is nobody's parent
        await store.add_credential(UserRecord("SVC3", b"x", "k1", kind="svcacct", parent="SVC1"))
    # root's service accounts: root is the configuration's, not a stored user
    assert await store.add_credential(
        UserRecord("SVCR", b"x", "k1", kind="svcacct", parent="root"), stored_parent=False
    )
    sts = UserRecord("STS1", b"y", "k1", kind="sts", parent="alice", expires=100.0, info={"token": "ab"})
    assert await store.add_credential(sts)
    assert await store.add_credential(UserRecord("STS2", b"y", "k1", kind="sts", parent="alice", expires=300.0))
    assert await store.get_user("SVC1") == sa
    assert [u.access_key for u in await store.list_users()] == ["alice"]  # users only
    assert [u.access_key for u in await store.list_users("svcacct")] == ["SVC1", "SVCR"]
    assert [u.access_key for u in await store.list_credentials("alice", "svcacct")] == ["SVC1"]
    assert [u.access_key for u in await store.list_credentials("alice", "sts")] == ["STS1", "STS2"]
    assert await store.update_user("SVC1", status="disabled", expires=50.0, info={"name": "x"}, updated=3.0)
    got = await store.get_user("SVC1")
    assert got.status == "disabled" and got.expires == 50.0 and got.info == {"name": "x"} and got.kind == "svcacct"
    assert await store.purge_expired("sts", 200.0) == 1  # STS1 only: svcaccts stay
    assert [u.access_key for u in await store.list_credentials("alice", "sts")] == ["STS2"]
    assert await store.get_user("SVC1") is not None
    assert await store.delete_user("alice") is True  # and everything it owned
    assert await store.get_user("SVC1") is None and await store.get_user("STS2") is None
    assert await store.get_user("SVCR") is not None


async def test_groups(store: MetaStore) -> None:
    from s3gw.meta.base import GroupMissing, GroupNotEmpty, UserMissing

    for name in ("alice", "bob"):
        await store.put_user(UserRecord(name, b"s", "k1", created=1.0, updated=1.0))
    await store.add_credential(UserRecord("SVC1", b"x", "k1", kind="svcacct", parent="alice"))
    assert await store.get_group("devs") is None
    with pytest.raises(UserMissing):
        await store.add_members("devs", ["alice", "carol"], 1.0)
    assert await store.get_group("devs") is None  # nothing of a refused change
    with pytest.raises(UserMissing):
        await store.add_members("devs", ["SVC1"], 1.0)  # only users are members
    await store.add_members("devs", ["bob", "alice", "bob"], 1.0)
    g = await store.get_group("devs")
    assert (g.name, g.status, g.policies, g.members, g.created) == ("devs", "enabled", [], ["alice", "bob"], 1.0)
    await store.add_members("ops", ["alice"], 2.0)
    assert await store.list_groups() == ["devs", "ops"]
    assert [x.name for x in await store.groups_of("alice")] == ["devs", "ops"]
    assert await store.update_group("devs", 3.0, status="disabled", policies=["readonly", "p1"]) is True
    assert await store.update_group("nope", 3.0, status="disabled") is False
    g = (await store.groups_of("bob"))[0]
    assert (g.status, g.policies, g.updated) == ("disabled", ["readonly", "p1"], 3.0)
    with pytest.raises(GroupNotEmpty):
        await store.remove_members("devs", [], 4.0)
    with pytest.raises(GroupMissing):
        await store.remove_members("nope", ["bob"], 4.0)
    await store.remove_members("devs", ["bob"], 4.0)
    assert (await store.get_group("devs")).members == ["alice"]
    await store.delete_user("alice")  # leaves every group
    assert (await store.get_group("devs")).members == [] and await store.groups_of("alice") == []
    await store.remove_members("devs", [], 5.0)
    assert await store.get_group("devs") is None and await store.list_groups() == ["ops"]


async def test_runtime_config(store: MetaStore) -> None:
    assert await store.get_config() == {}
    rid = await store.set_config(
        {("api", "requests_max"): "100", ("heal", "interval"): "2s"}, "api requests_max=100", 1.0
    )
    assert rid and await store.get_config() == {("api", "requests_max"): "100", ("heal", "interval"): "2s"}
    assert await store.set_config({("api", "requests_max"): "200", ("heal", "interval"): None}, None, 2.0) == ""
    assert await store.get_config() == {("api", "requests_max"): "200"}
    rid2 = await store.set_config({("scanner", "cycle"): "1m"}, "scanner cycle=1m", 3.0)
    hist = await store.config_history(10)
    assert [(h[0], h[2]) for h in hist] == [(rid2, "scanner cycle=1m"), (rid, "api requests_max=100")]
    assert await store.get_config_history(rid) == (1.0, "api requests_max=100")
    assert await store.get_config_history("nope") is None
    assert await store.clear_config_history(rid) == 1 and await store.clear_config_history(rid) == 0
    assert await store.clear_config_history(None) == 1 and await store.config_history(10) == []


async def _truth(store: MetaStore, bucket: str) -> dict[str, int]:
    """Usage counted from the versions themselves (what the counters must always equal)."""
    page = await store.list_versions(bucket, "", "", "", "", 100000)
    latest = [v for v in page.entries if v.is_latest and not v.delete_marker]
    return {
        "objects": len(latest),
        "bytes": sum(v.size for v in latest),
        "versions": len(page.entries),
        "delete_markers": sum(1 for v in page.entries if v.delete_marker),
    }


async def test_usage_counters_follow_every_write(store: MetaStore) -> None:
    """Random puts, overwrites, delete markers and version deletes under every versioning
    state: the counters (with and without folding) equal a count of the versions."""
    import random

    from s3gw.meta.model import NULL_VERSION

    rnd = random.Random(7)
    await store.create_bucket(BucketRecord("u", 1.0))
    n = 0
    for step in range(300):
        if step % 60 == 0:
            await store.update_bucket("u", versioning=rnd.choice(["", "Enabled", "Suspended"]))
        key = f"k{rnd.randrange(8)}"
        r = rnd.random()
        n += 1
        if r < 0.5:
            await put(store, "u", key, f"v{n}", size=rnd.randrange(1000))
        elif r < 0.75:
            marker = VersionRecord(bucket="u", key=key, version_id=f"dm{n}", mtime=2.0, delete_marker=True)
            await store.delete_object("u", key, None, marker)
        else:
            page = await store.list_versions("u", key, "", "", "", 1000)
            vids = [v.version_id for v in page.entries if v.key == key] or [NULL_VERSION]
            marker = VersionRecord(bucket="u", key=key, version_id=f"dm{n}", mtime=2.0, delete_marker=True)
            await store.delete_object("u", key, rnd.choice(vids), marker)
        if step % 97 == 0:
            await store.fold_usage()
        if step % 25 == 0:
            assert (await store.usage())["u"] == await _truth(store, "u"), step
    assert (await store.usage())["u"] == await _truth(store, "u")
    assert 0 < await store.fold_usage(limit=5) <= 5  # in slices too
    await store.fold_usage()
    assert await store.fold_usage() == 0
    assert (await store.usage())["u"] == await _truth(store, "u")
    # an emptied, deleted and re-made bucket starts from nothing
    for v in (await store.list_versions("u", "", "", "", "", 100000)).entries:
        await store.delete_object("u", v.key, v.version_id, VersionRecord(bucket="u", key=v.key))
    await store.delete_bucket("u")
    await store.create_bucket(BucketRecord("u", 3.0))
    assert (await store.usage())["u"] == {"objects": 0, "bytes": 0, "versions": 0, "delete_markers": 0}
